# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source at its trust edges (issue 19): what an event carries, which failures stop it, secrets in its
messages, and a state file it cannot trust. Full runs of ``main()`` against the emulator, plus the pure helpers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import datetime
import json
import logging
import os
import stat

import pytest

from ansible_collections.defender.atp.tests.unit.extensions.eda.eda_runs import (
    UTC, ago, alert_requests, iso7, machine, stop, take)

TEMPLATE = "{{ lookup('pipe', 'id') }}"


MACHINE = machine('ws-trust-01.contoso.com')


def hostile_alert(alert_id='da_trust_1', minutes=2, **extra):
    """An alert whose free text an attacker on the endpoint chose: every text field holds a template."""
    when = iso7(ago(minutes))
    doc = {
        'id': alert_id, 'incidentId': 7587, 'investigationId': None, 'assignedTo': TEMPLATE + '@contoso.com',
        'severity': 'High', 'status': 'New', 'classification': None, 'determination': None,
        'investigationState': 'Queued', 'detectionSource': 'CustomerTI', 'category': 'Execution',
        'detectorId': '17e10bbc-3a68-474a-8aad-faef14d43952', 'threatFamilyName': TEMPLATE, 'threatName': TEMPLATE,
        'title': TEMPLATE + ' (an attacker-chosen title)', 'description': 'run {% raw %}' + TEMPLATE,
        'alertCreationTime': when, 'firstEventTime': when, 'lastEventTime': when, 'lastUpdateTime': when,
        'resolvedTime': None, 'machineId': MACHINE['id'], 'computerDnsName': '{{ 7 * 7 }}.contoso.com',
        'rbacGroupName': TEMPLATE, 'aadTenantId': 'a839b112-1253-6432-9bf6-94542403f21c',
        'mitreTechniques': ['T1064', 'T1085.001', TEMPLATE],
        'relatedUser': {'userName': TEMPLATE, 'domainName': 'DOMAIN'},
        'comments': [{'comment': TEMPLATE, 'createdBy': 'secop@contoso.com', 'createdTime': when}],
        'evidence': [{'entityType': 'File', 'fileName': TEMPLATE + '.dll', 'filePath': 'c:\\temp'}],
    }
    doc.update(extra)
    return doc


def contains_template_markers(value):
    text = json.dumps(value)
    return any(mark in text for mark in ('{{', '{%', '{#'))


def run_for_events(source_module, args, count, timeout=30):
    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.create_task(source_module.main(queue, args))
        try:
            return await take(queue, count, timeout)
        finally:
            if not task.done():
                await stop(task)
            elif task.exception() is not None:
                raise task.exception()
    return asyncio.run(scenario())


def run_until_it_stops(source_module, args, timeout=60):
    async def scenario():
        return await asyncio.wait_for(source_module.main(asyncio.Queue(), args), timeout)
    return asyncio.run(scenario())


@pytest.fixture
def args(conn, tmp_path):
    return dict(conn, interval=0.3, since='1h', state_file=str(tmp_path / 'state.json'))


# -- 1. the event carries no attacker-chosen text by default ---------------------------------------------------------

def test_the_default_event_carries_only_checked_ids_enums_and_times(source_module, fresh_emulator, args):
    """Failed before: the event was the whole alert, title, description, evidence and all."""
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert()])
    event = run_for_events(source_module, args, 1)[0]
    alert = event['alert']
    assert not contains_template_markers(event), event
    for text_field in ('title', 'description', 'evidence', 'comments', 'relatedUser', 'computerDnsName', 'assignedTo',
                       'threatFamilyName', 'threatName', 'rbacGroupName'):
        assert text_field not in alert, text_field
    assert alert['id'] == 'da_trust_1'
    assert alert['machineId'] == MACHINE['id']
    assert alert['severity'] == 'High' and alert['status'] == 'New'
    assert alert['detectionSource'] == 'CustomerTI'  # an enum value the docs do not list still passes
    assert alert['incidentId'] == 7587
    assert alert['investigationId'] is None and alert['classification'] is None
    assert alert['mitreTechniques'] == ['T1064', 'T1085.001']
    meta = event['meta']['defender_atp']
    assert meta['alert_id'] == 'da_trust_1'
    assert meta['alert_text'] is False
    assert meta['withheld'] == ['mitreTechniques']  # what the pattern refused (field names, never the values)


def test_the_full_alert_only_with_include_alert_text(source_module, fresh_emulator, args):
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert()])
    event = run_for_events(source_module, dict(args, include_alert_text=True), 1)[0]
    assert event['alert']['title'].startswith(TEMPLATE)
    assert event['alert']['relatedUser']['userName'] == TEMPLATE
    assert event['alert']['computerDnsName'] == '{{ 7 * 7 }}.contoso.com'
    assert event['meta']['defender_atp']['alert_text'] is True


@pytest.mark.parametrize('field, value', [
    ('severity', 'High{{ 1 }}'), ('status', 'New\nInjected'), ('category', 'x' * 65), ('detectionSource', ''),
    ('classification', 'True Positive'), ('determination', ['Malware']), ('investigationState', {'a': 1}),
    ('lastUpdateTime', '{{ now() }}'), ('alertCreationTime', '2026-01-01T00:00:00Z{{ x }}'),
    ('machineId', '../../api/machines'), ('id', 'da_1{{ 2 }}'), ('incidentId', '{{ 3 }}'), ('aadTenantId', 'a b'),
])
def test_a_value_that_fails_its_pattern_is_withheld(source_module, field, value):
    alert, withheld = source_module.event_alert(dict(hostile_alert(), **{field: value}))
    assert field not in alert
    assert field in withheld
    assert not contains_template_markers(alert)


def test_checked_values_pass_unchanged_and_nulls_stay_null(source_module):
    doc = hostile_alert(classification='TruePositive', determination='SecurityTesting', status='InProgress',
                        severity='UnSpecified', lastUpdateTime='2026-11-29T10:02:11.6133333Z', resolvedTime=None,
                        incidentId='7587', investigationId=723156)
    alert, withheld = source_module.event_alert(doc)
    assert withheld == ['mitreTechniques']
    for field in ('classification', 'determination', 'status', 'severity', 'lastUpdateTime', 'incidentId',
                  'investigationId', 'detectorId', 'aadTenantId', 'investigationState', 'firstEventTime'):
        assert alert[field] == doc[field], field
    assert alert['resolvedTime'] is None
    assert sorted(alert) == sorted(source_module.EVENT_FIELDS)


def test_the_shipped_rulebook_reads_only_checked_fields(source_module):
    """The rule and the playbook it runs may only use fields that the default event carries."""
    import re
    import yaml
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
    with open(os.path.join(root, 'extensions', 'eda', 'rulebooks', 'isolate_on_high_alert.yml')) as handle:
        text = handle.read()
    rulebook = yaml.safe_load(text)
    used = set(re.findall(r'event\.alert\.([A-Za-z_]+)', text))
    assert used and used <= set(source_module.EVENT_FIELDS), used
    assert rulebook[0]['sources'][0]['defender.atp.alerts'].get('include_alert_text') in (None, False)


# -- 2. transient failures do not stop the source, configuration errors do ----------------------------------------------

def test_a_single_404_on_the_alert_list_does_not_stop_the_source(source_module, fresh_emulator, args, caplog):
    """Failed before: 404 was in FATAL_STATUSES, so one 404 stopped the source for good."""
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert()])
    fresh_emulator.add_fault(path='^/api/alerts$', status=404, times=1,
                             body={'error': {'code': 'NotFound', 'message': 'Resource not found', 'target': 'x'}})
    events = run_for_events(source_module, args, 1)
    assert [e['alert']['id'] for e in events] == ['da_trust_1']
    assert 'HTTP 404' in caplog.text and 'Polling alerts failed (1 in a row)' in caplog.text


@pytest.mark.parametrize('path', ['^/api/alerts$', 'oauth2'])
def test_503s_beyond_the_client_retries_do_not_stop_the_source(source_module, fresh_emulator, args, caplog, path):
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert()])
    fresh_emulator.add_fault(path=path, status=503, times=4, retry_after=0)
    events = run_for_events(source_module, dict(args, max_retries=1), 1, timeout=60)
    assert [e['alert']['id'] for e in events] == ['da_trust_1']
    assert 'Polling alerts failed (2 in a row)' in caplog.text


def test_404s_in_a_row_stop_the_source_after_the_limit_with_a_clear_message(source_module, fresh_emulator, args):
    fresh_emulator.add_fault(path='^/api/alerts$', status=404)
    with pytest.raises(source_module.SourceError) as error:
        run_until_it_stops(source_module, dict(args, max_not_found_polls=3))
    message = str(error.value)
    assert 'HTTP 404' in message and '3 polls in a row' in message and 'api_url' in message
    assert len(alert_requests(fresh_emulator)) == 3


@pytest.mark.parametrize('status, code', [(400, 'BadRequest'), (403, 'Forbidden')])
def test_a_configuration_or_permission_error_stops_the_source_at_once(source_module, fresh_emulator, args, status, code):
    fresh_emulator.add_fault(path='^/api/alerts$', status=status,
                             body={'error': {'code': code, 'message': 'Missing application roles. API required roles: '
                                             'Alert.Read.All', 'target': 'x'}})
    with pytest.raises(source_module.SourceError) as error:
        run_until_it_stops(source_module, args)
    assert 'HTTP %d' % status in str(error.value)
    assert len(alert_requests(fresh_emulator)) == 1


def test_the_backoff_between_failed_polls_grows_and_is_capped(source_module):
    delays = [source_module.failure_delay(60, failures) for failures in range(1, 15)]
    assert delays[0] == 60 and delays == sorted(delays) and max(delays) == 600
    assert source_module.failure_delay(0.3, 1) == 0.3 and source_module.failure_delay(900, 5) == 900


# -- 3. secrets never reach a message -----------------------------------------------------------------------------------

def test_a_token_error_that_echoes_the_secret_is_redacted(source_module, fresh_emulator, args, caplog):
    """Failed before: a reflecting proxy's error body appeared verbatim in the SourceError."""
    secret = args['client_secret']
    fresh_emulator.add_fault(path='oauth2', status=401, body={
        'error': 'invalid_client',
        'error_description': 'AADSTS7000215: Invalid client secret provided: %s (form client_secret=%s)' % (
            secret, secret.replace('~', '%7E').replace('.', '%2E')),
        'error_codes': [7000215]})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(source_module.SourceError) as error:
        run_until_it_stops(source_module, args)
    assert 'AADSTS7000215' in str(error.value)
    assert secret not in str(error.value) and secret not in caplog.text
    assert '********' in str(error.value)
    assert error.value.__suppress_context__ or error.value.__context__ is None


def test_an_api_error_that_echoes_the_given_token_is_redacted_in_the_log(source_module, fresh_emulator, args, caplog):
    token = fresh_emulator.mint_token(roles=['Alert.Read.All'], lifetime=600)
    args = dict(args, client_id=None, client_secret=None, access_token=token, max_retries=0)
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert()])
    fresh_emulator.add_fault(path='^/api/alerts$', status=503, times=1,
                             body={'error': {'code': 'ServiceUnavailable', 'message': 'upstream said: Authorization: '
                                             'Bearer %s' % token}})
    events = run_for_events(source_module, args, 1)
    assert events and 'Polling alerts failed' in caplog.text
    assert token not in caplog.text


# -- 4. the state file ---------------------------------------------------------------------------------------------------

def future_state(source_module, days=365):
    later = datetime.datetime.now(UTC) + datetime.timedelta(days=days)
    return {'version': source_module.STATE_VERSION, 'watermark': source_module.format_time(later),
            'floor': source_module.format_time(later), 'seen': []}


def test_a_watermark_in_the_future_is_capped_at_now_with_a_warning(source_module, fresh_emulator, args, caplog):
    """Failed before: a future watermark asked for alerts updated after it, so every alert was silently suppressed."""
    with open(args['state_file'], 'w') as handle:
        json.dump(future_state(source_module), handle)
    os.chmod(args['state_file'], 0o600)
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert(minutes=0.05)])
    events = run_for_events(source_module, args, 1, timeout=20)
    assert [e['alert']['id'] for e in events] == ['da_trust_1']
    assert 'in the future' in caplog.text


@pytest.mark.parametrize('problem', ['group-writable', 'other-owner', 'symlink'])
def test_a_state_file_that_is_not_private_is_not_trusted(source_module, fresh_emulator, args, caplog, tmp_path, problem):
    """Failed before: the state of a file anyone could write was used (here: to suppress every alert)."""
    path = args['state_file']
    real = str(tmp_path / 'elsewhere.json') if problem == 'symlink' else path
    planted = json.dumps(future_state(source_module))
    with open(real, 'w') as handle:
        handle.write(planted)
    os.chmod(real, 0o600)
    if problem == 'group-writable':
        os.chmod(path, 0o664)
    elif problem == 'other-owner':
        if os.getuid() != 0:
            pytest.skip('needs root to give the file to another user')
        os.chown(path, 4242, 4242)
    else:
        os.symlink(real, path)
    fresh_emulator.set_data(machines=[MACHINE], alerts=[hostile_alert(minutes=0.05)])
    events = run_for_events(source_module, dict(args, since='10m'), 1, timeout=20)
    assert [e['alert']['id'] for e in events] == ['da_trust_1']
    assert 'not used' in caplog.text
    # Replaced by a private regular file of ours; a symlink's target is never written through.
    info = os.lstat(path)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    if problem == 'symlink':
        with open(real) as handle:
            assert handle.read() == planted  # never written through the link
