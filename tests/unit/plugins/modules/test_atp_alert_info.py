# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_alert_info run in-process against the emulator (real HTTPS, real paging, real OData filtering)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.defender.atp.plugins.modules import atp_alert_info
from ansible_collections.defender.atp.plugins.module_utils._time import parse_instant

UTC = datetime.timezone.utc


def api_calls(emulator, path='/api/alerts'):
    return [e for e in emulator.requests_log() if e['path'].startswith(path)]


@pytest.fixture
def everything(run_module, conn):
    """Every alert of the default tenant, read without a filter."""
    result = run_module(atp_alert_info.main, conn)
    assert not result.get('failed'), result.get('msg')
    return result['alerts']


def test_list_everything(run_module, emulator, conn, everything):
    result = run_module(atp_alert_info.main, conn)
    assert result['changed'] is False
    assert result['count'] == len(result['alerts']) == len(everything) > 10
    assert result['truncated'] is False
    assert 'filter' not in result
    assert result['auth_method'] == 'client_secret'
    assert result['http_stats']['token_requests'] == 1
    assert len(set(a['id'] for a in result['alerts'])) == result['count']
    # Evidence only comes with expand_evidence.
    assert all(not a.get('evidence') for a in result['alerts'])
    assert all('$expand' not in e['query'] and '$filter' not in e['query'] for e in api_calls(emulator))


def test_status_and_severity_lists(run_module, emulator, conn, everything):
    result = run_module(atp_alert_info.main, dict(conn, status=['New', 'InProgress'], severity=['High', 'Medium']))
    expected = [a['id'] for a in everything if a['status'] in ('New', 'InProgress') and a['severity'] in ('High', 'Medium')]
    assert expected, 'the default data should hold such alerts'
    assert sorted(a['id'] for a in result['alerts']) == sorted(expected)
    assert result['filter'] == "(status eq 'New' or status eq 'InProgress') and (severity eq 'High' or severity eq 'Medium')"
    assert api_calls(emulator)[-1]['query']['$filter'] == result['filter']


def test_machine_id(run_module, emulator, conn, everything):
    machine = everything[0]['machineId']
    result = run_module(atp_alert_info.main, dict(conn, machine_id=machine))
    assert not result.get('failed'), result.get('msg')
    assert sorted(a['id'] for a in result['alerts']) == sorted(a['id'] for a in everything if a['machineId'] == machine)
    # The machine's own endpoint (get-machine-related-alerts.md), no machineId filter (not filterable, get-alerts.md).
    calls = api_calls(emulator, '/api/')
    assert calls[-1]['path'] == '/api/machines/%s/alerts' % machine and '$filter' not in calls[-1]['query']
    assert 'filter' not in result


def test_machine_id_with_other_criteria_applied_by_the_module(run_module, emulator, conn, everything):
    counts = {}
    for alert in everything:
        counts[alert['machineId']] = counts.get(alert['machineId'], 0) + 1
    machine = max(counts, key=counts.get)
    mine = [a for a in everything if a['machineId'] == machine]
    status = [mine[0]['status']]
    result = run_module(atp_alert_info.main, dict(conn, machine_id=machine, status=status, since='3650d',
                                                  filter="category ne 'nosuchcategory'", limit=1))
    assert not result.get('failed'), result.get('msg')
    expected = [a['id'] for a in mine if a['status'] in status]
    assert result['count'] == 1 and result['alerts'][0]['id'] in expected
    assert result['truncated'] is (len(expected) > 1)
    assert result['filter'] == "category ne 'nosuchcategory'"
    assert api_calls(emulator, '/api/')[-1]['query']['$filter'] == result['filter']


def test_machine_id_unknown_to_the_api(run_module, conn, monkeypatch):
    from ansible.module_utils import basic
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message, **kwargs: warnings.append(message))
    result = run_module(atp_alert_info.main, dict(conn, machine_id='0' * 40))
    assert not result.get('failed'), result.get('msg')
    assert result['alerts'] == [] and result['count'] == 0
    assert warnings == ['the API knows no machine with the id %s (404); no alerts are returned.' % ('0' * 40)]


@pytest.mark.parametrize('since', ['7d', '72h', 'P3D', '2w'])
def test_since_span(run_module, conn, everything, since):
    spans = {'7d': 7 * 86400, '72h': 72 * 3600, 'P3D': 3 * 86400, '2w': 14 * 86400}
    before = datetime.datetime.now(UTC)
    result = run_module(atp_alert_info.main, dict(conn, since=since))
    assert not result.get('failed'), result.get('msg')
    floor = before - datetime.timedelta(seconds=spans[since])
    returned = set(a['id'] for a in result['alerts'])
    for alert in everything:
        updated = parse_instant(alert['lastUpdateTime'])
        # Alerts clearly inside or outside the window (a minute of slack for the time the test takes).
        if updated > floor + datetime.timedelta(minutes=1):
            assert alert['id'] in returned
        elif updated < floor - datetime.timedelta(minutes=1):
            assert alert['id'] not in returned
    assert result['filter'].startswith('lastUpdateTime ge ')


def test_since_iso_time(run_module, conn, everything):
    times = sorted(parse_instant(a['lastUpdateTime']) for a in everything)
    middle = times[len(times) // 2].replace(microsecond=0)
    result = run_module(atp_alert_info.main, dict(conn, since=middle.strftime('%Y-%m-%dT%H:%M:%SZ')))
    assert sorted(a['id'] for a in result['alerts']) == sorted(
        a['id'] for a in everything if parse_instant(a['lastUpdateTime']) >= middle)
    assert 0 < result['count'] < len(everything)


def test_raw_filter_is_anded_and_its_or_stays_inside(run_module, conn, everything):
    categories = sorted(set(a['category'] for a in everything))[:2]
    raw = ' or '.join("category eq '%s'" % c for c in categories)
    result = run_module(atp_alert_info.main, dict(conn, severity=['High'], filter=raw))
    expected = [a['id'] for a in everything if a['category'] in categories and a['severity'] == 'High']
    assert sorted(a['id'] for a in result['alerts']) == sorted(expected)
    assert result['filter'] == "severity eq 'High' and (%s)" % raw


def test_limit_and_truncated(run_module, conn, everything):
    result = run_module(atp_alert_info.main, dict(conn, limit=5))
    assert result['count'] == 5 and result['truncated'] is True
    result = run_module(atp_alert_info.main, dict(conn, limit=len(everything)))
    assert result['count'] == len(everything) and result['truncated'] is False


def test_expand_evidence(run_module, emulator, conn):
    result = run_module(atp_alert_info.main, dict(conn, expand_evidence=True))
    assert any(a.get('evidence') for a in result['alerts'])
    assert api_calls(emulator)[-1]['query']['$expand'] == 'evidence'


def test_alert_by_id_has_evidence(run_module, conn, everything):
    with_evidence = [a for a in run_module(atp_alert_info.main, dict(conn, expand_evidence=True))['alerts'] if a.get('evidence')]
    wanted = with_evidence[0]
    result = run_module(atp_alert_info.main, dict(conn, alert_id=wanted['id']))
    assert result['count'] == 1 and result['truncated'] is False
    assert result['alerts'][0]['id'] == wanted['id']
    assert result['alerts'][0]['evidence'] == wanted['evidence']


def test_unknown_alert_id_is_an_empty_list(run_module, conn):
    result = run_module(atp_alert_info.main, dict(conn, alert_id='da000000000000000000_0'))
    assert not result.get('failed')
    assert result['alerts'] == [] and result['count'] == 0


def test_check_mode_runs_normally(run_module, conn, everything):
    result = run_module(atp_alert_info.main, dict(conn, severity=['High']), check_mode=True)
    assert result['changed'] is False
    assert result['count'] == len([a for a in everything if a['severity'] == 'High'])


def generate_alerts(emulator, count):
    # seed 7: with the default seed the emulator's generated alerts repeat a few ids of its base data.
    emulator.set_data(generate={'alerts': count, 'seed': 7})


def test_paging_past_10000(run_module, emulator, conn, everything):
    generate_alerts(emulator, 15000)
    try:
        emulator.reset()  # only the request log
        result = run_module(atp_alert_info.main, conn)
        assert result['count'] == len(everything) + 15000 and result['truncated'] is False
        assert len(set(a['id'] for a in result['alerts'])) == result['count']
        pages = [(e['query']['$top'], e['query'].get('$skip')) for e in api_calls(emulator)]
        assert pages == [('10000', None), ('10000', '10000')]

        emulator.reset()
        result = run_module(atp_alert_info.main, dict(conn, limit=12000))
        assert result['count'] == 12000 and result['truncated'] is True
        pages = [e['query'] for e in api_calls(emulator)]
        # One more than the limit is asked for, to tell whether more exist.
        assert [(p['$top'], p.get('$skip')) for p in pages] == [('10000', None), ('2001', '10000')]
    finally:
        emulator.reset(all=True)


def test_throttled_page_is_retried_after_retry_after(run_module, emulator, conn):
    emulator.add_fault(path='^/api/alerts$', status=429, retry_after='1', times=1,
                       body={'error': {'code': 'TooManyRequests', 'message': 'API calls quota exceeded! maximum allowed 100 per 00:01:00.'}})
    result = run_module(atp_alert_info.main, conn)
    assert not result.get('failed'), result.get('msg')
    assert result['http_stats']['throttled'] == 1 and result['http_stats']['waited_seconds'] >= 1
    assert [e['status'] for e in api_calls(emulator)] == [429, 200]


# -- bad input: a clear message, and not a single request ----------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    (dict(status=['Open']), 'value of status must be one or more of: Unknown, New, InProgress, Resolved'),
    (dict(severity=['Critical']), 'value of severity must be one or more of: UnSpecified, Informational, Low, Medium, High'),
    (dict(since='yesterday'), "since 'yesterday' is not understood; use a span such as 30m, 24h, 7d"),
    (dict(since='2026-02-30'), 'not a valid time'),
    (dict(since='2026-02-30T00:00:00Z'), 'is not a valid time'),
    (dict(since='P1M'), 'years or months'),
    (dict(filter="title eq 'unclosed"), 'has an unclosed string literal'),
    (dict(filter="(status eq 'New'"), 'has unbalanced parentheses'),
    (dict(limit=0), 'limit must be 1 or more'),
    (dict(machine_id='  '), 'machine_id is empty'),
    (dict(alert_id='x', status=['New']), 'parameters are mutually exclusive: alert_id|status'),
    (dict(alert_id='x', since='1d'), 'mutually exclusive'),
])
def test_bad_input_fails_before_any_request(run_module, emulator, conn, args, fragment):
    result = run_module(atp_alert_info.main, dict(conn, **args))
    assert result['failed']
    assert fragment in result['msg']
    assert emulator.requests_log() == []


def test_a_filter_the_api_rejects_passes_its_message_on(run_module, conn):
    result = run_module(atp_alert_info.main, dict(conn, filter='nosuchfield eq 1'))
    assert result['failed']
    assert result['msg'].startswith('The API rejected the alert filter [nosuchfield eq 1]')
    assert "Could not find a property named 'nosuchfield'" in result['msg']
    assert result['status'] == 400 and result['code'] == 'ODataError'


def test_alert_read_all_is_enough(run_module, emu, conn, everything):
    # The read-only application has Machine.Read.All and Alert.Read.All, nothing else.
    limited = dict(conn, client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret'])
    result = run_module(atp_alert_info.main, limited)
    assert not result.get('failed'), result.get('msg')
    assert result['count'] == len(everything)


def test_delegated_user(run_module, emu, conn, everything):
    user = dict(conn, client_id=emu['public_client_id'], username=emu['username'], password=emu['password'])
    del user['client_secret']
    result = run_module(atp_alert_info.main, dict(user, severity=['High']))
    assert not result.get('failed'), result.get('msg')
    assert result['auth_method'] == 'password'
    assert result['count'] == len([a for a in everything if a['severity'] == 'High'])


def test_a_token_without_alert_permission_is_refused_with_the_role_to_grant(run_module, emulator, conn):
    token = emulator.mint_token(roles=['Machine.Read.All'])
    result = run_module(atp_alert_info.main, dict(access_token=token, api_url=conn['api_url'], ca_path=conn['ca_path']))
    assert result['failed'] and result['status'] == 403
    assert 'Alert.Read.All' in result['msg'] and result['auth_method'] == 'access_token'


def test_since_in_the_future_warns(run_module, conn, monkeypatch):
    from ansible.module_utils import basic
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message, **kwargs: warnings.append(message))
    result = run_module(atp_alert_info.main, dict(conn, since='2099-01-01'))
    assert not result.get('failed') and result['count'] == 0
    assert warnings == ['since 2099-01-01 is in the future (2099-01-01 00:00:00 UTC); no alert can have been updated after it.']
    warnings[:] = []
    run_module(atp_alert_info.main, dict(conn, since='1h'))
    assert warnings == []
