# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A 403 for one object (a user's device groups, DisallowedOperation, DisabledFeature) fails that object alone.

For each place that sends one request per object - machine actions, alert updates, machine tags, indicator imports
and deletes - a per-object 403 leaves the other objects to be sent, and a bulk request refused that way falls back
to one request per object, so the allowed ones are done and the forbidden one is named. A 401, or a 403 naming a
missing permission, still stops the requests not yet sent (they would be refused too).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading

import pytest
import requests

from ansible_collections.defender.atp.plugins.module_utils import _alerts as alert_updates
from ansible_collections.defender.atp.plugins.module_utils import _indicators as indicators
from ansible_collections.defender.atp.plugins.module_utils._http.messages import describe_http_error
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError
from ansible_collections.defender.atp.plugins.module_utils._machines.sender import ActionSender, Job
from ansible_collections.defender.atp.plugins.module_utils._machines.tags import BULK_PATH, TagOrchestrator, TagSpec
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import Entry, Resolution


def api_error(status, code=None, message=None, what='the request'):
    """The AtpApiError the HTTP client raises for this answer (HttpClient._error)."""
    response = requests.models.Response()
    response.status_code = status
    response._content = (json.dumps({'error': {'code': code, 'message': message, 'target': 't'}}) if code else '').encode()
    text, details = describe_http_error(what, response)
    return AtpApiError(text, **details)


def device_group(what='machine m2'):
    return api_error(403, 'Forbidden', 'User u@contoso.com is not allowed to do this: %s is in a device group the '
                                       'user has no access to.' % what)


PER_OBJECT = {
    'device-group': device_group,
    'DisallowedOperation': lambda what='x': api_error(403, 'DisallowedOperation', 'Not allowed for this device group.'),
    'DisabledFeature': lambda what='x': api_error(403, 'DisabledFeature', 'Tenant feature is not enabled.'),
    'bare-403': lambda what='x': api_error(403),
}


def missing_role():
    return api_error(403, 'Forbidden', 'Missing application roles. API required roles: Machine.Isolate, application '
                                       'roles: Machine.Read.All')


# -- machine actions (machine_actions.ActionSender) ------------------------------------------------------------------

class ActionClient(object):
    """``post`` answers per machine: an exception to raise, else a new Pending action."""

    def __init__(self, refuse):
        self.refuse = refuse
        self.posts = []
        self.lock = threading.Lock()

    def post(self, path, body=None, **kwargs):
        machine_id = path.split('/')[3]
        with self.lock:
            self.posts.append(machine_id)
        if machine_id in self.refuse:
            raise self.refuse[machine_id]
        return {'id': 'action-' + machine_id, 'type': 'Isolate', 'status': 'Pending'}


def send(client, machine_ids):
    jobs = [Job(m, '/api/machines/%s/isolate' % m, {'Comment': 'c'}, 'Isolate') for m in machine_ids]
    return ActionSender(client, lambda machine_id: [], None, workers=1).send_all(jobs)


@pytest.mark.parametrize('kind', sorted(PER_OBJECT))
def test_machine_action_on_three_machines_one_forbidden_the_other_two_are_sent(kind):
    client = ActionClient({'m2': PER_OBJECT[kind]()})
    outcomes = send(client, ['m1', 'm2', 'm3'])
    assert client.posts == ['m1', 'm2', 'm3']
    assert outcomes['m1'].action['id'] == 'action-m1' and outcomes['m3'].action['id'] == 'action-m3'
    assert outcomes['m1'].error is None and outcomes['m3'].error is None
    assert 'HTTP 403' in outcomes['m2'].error and not outcomes['m2'].error.startswith('not sent')


@pytest.mark.parametrize('error', [missing_role, lambda: api_error(401, 'Unauthorized', 'expired')], ids=['403', '401'])
def test_machine_action_a_missing_permission_or_401_still_stops_the_rest(error):
    client = ActionClient({'m1': error()})
    outcomes = send(client, ['m1', 'm2', 'm3'])
    assert client.posts == ['m1']
    assert all(outcomes[m].error.startswith('not sent: an earlier request of this task was refused') for m in ('m2', 'm3'))


# -- alert updates (alert_updates.AlertUpdater) -------------------------------------------------------------------------

class AlertClient(object):
    def __init__(self, refuse):
        self.refuse = refuse  # alert id or 'batch' -> error
        self.sent = []

    def json(self, method, path, json_body=None, **kwargs):
        alert_id = path.rsplit('/', 1)[1]
        self.sent.append(('PATCH', alert_id))
        if alert_id in self.refuse:
            raise self.refuse[alert_id]
        return dict(json_body, id=alert_id)

    def request(self, method, path, json_body=None, **kwargs):
        assert path == alert_updates.BATCH_UPDATE_PATH
        self.sent.append(('batch', tuple(json_body['alertIds'])))
        if 'batch' in self.refuse:
            raise self.refuse['batch']


@pytest.mark.parametrize('kind', sorted(PER_OBJECT))
def test_alert_batch_refused_for_one_alert_falls_back_to_each_and_names_it(kind):
    client = AlertClient({'batch': PER_OBJECT[kind]('alert a2'), 'a2': PER_OBJECT[kind]('alert a2')})
    updater = alert_updates.AlertUpdater(client)
    updater.batch(['a1', 'a2', 'a3'], {'status': 'Resolved'})
    assert client.sent == [('batch', ('a1', 'a2', 'a3')), ('PATCH', 'a1'), ('PATCH', 'a2'), ('PATCH', 'a3')]
    assert updater.outcomes['a1'][1:] == (None, True) and updater.outcomes['a3'][1:] == (None, True)
    assert 'HTTP 403' in updater.outcomes['a2'][1] and updater.outcomes['a2'][2] is False
    assert updater.stopped is None


def test_alert_patch_refused_for_one_alert_the_next_is_still_sent():
    client = AlertClient({'a1': device_group('alert a1')})
    updater = alert_updates.AlertUpdater(client)
    updater.patch('a1', {'status': 'Resolved'})
    updater.patch('a2', {'status': 'New'})
    assert client.sent == [('PATCH', 'a1'), ('PATCH', 'a2')]
    assert 'HTTP 403' in updater.outcomes['a1'][1] and updater.outcomes['a2'][1:] == (None, True)


def test_alert_batch_missing_permission_stops_the_rest():
    client = AlertClient({'batch': missing_role()})
    updater = alert_updates.AlertUpdater(client)
    updater.batch(['a1', 'a2'], {'status': 'Resolved'})
    updater.patch('a3', {'status': 'New'})
    assert client.sent == [('batch', ('a1', 'a2'))]
    assert updater.outcomes['a3'][1].startswith('not sent: an earlier update was refused')


class AlertReadClient(object):
    """Refuses the ``id eq`` filter (400), so the alerts are read one by one; ``refuse``: alert id -> error."""

    def __init__(self, refuse):
        self.refuse = refuse

    def list_all(self, path, params=None, **kwargs):
        raise api_error(400, 'ODataError', 'The query specified in the URI is not valid.')

    def get(self, path, **kwargs):
        alert_id = path.rsplit('/', 1)[1]
        if alert_id in self.refuse:
            raise self.refuse[alert_id]
        return {'id': alert_id}


def test_alerts_read_one_by_one_a_forbidden_one_is_left_out_not_fatal():
    found = alert_updates.read_alerts(AlertReadClient({'a2': device_group('alert a2')}), ['a1', 'a2', 'a3'])
    assert sorted(found) == ['a1', 'a3']  # a2 is then reported as not visible to these credentials


def test_alerts_read_one_by_one_a_missing_permission_still_fails_the_task():
    with pytest.raises(AtpApiError) as caught:
        alert_updates.read_alerts(AlertReadClient({'a1': missing_role()}), ['a1', 'a2'])
    assert caught.value.status == 403


# -- machine tags (machine_tags.TagOrchestrator) -----------------------------------------------------------------------

def tagged_machine(n, tags=()):
    return {'id': ('%x' % n) * 40, 'computerDnsName': 'm%d.contoso.com' % n, 'machineTags': list(tags)}


class TagDirectory(object):
    def __init__(self, machines):
        self.machines = machines

    def resolve(self, entries):
        by_name = dict((m['computerDnsName'], m) for m in self.machines)
        return [Resolution(e, machine=by_name[e.input], matched_by='name') for e in entries]


class TagClient(object):
    def __init__(self, refuse):
        self.refuse = refuse  # BULK_PATH or a machine id -> error
        self.posts = []

    def post(self, path, body=None, **kwargs):
        key = path if path == BULK_PATH else path.split('/')[3]
        self.posts.append(key)
        if key in self.refuse:
            raise self.refuse[key]
        if path == BULK_PATH:
            return None
        return {'id': key, 'machineTags': [body['Value']]}


def run_tags(client, machines, tags=('IR-1',)):
    report = TagOrchestrator(TagSpec(list(tags)), client, directory=TagDirectory(machines)).run(
        [Entry(m['computerDnsName']) for m in machines])
    return report, dict((m['computer_dns_name'], m) for m in report.result['machines'])


@pytest.mark.parametrize('kind', sorted(PER_OBJECT))
def test_tags_bulk_refused_for_one_machine_falls_back_to_each_and_names_it(kind):
    machines = [tagged_machine(1), tagged_machine(2), tagged_machine(3)]
    bad = machines[1]['id']
    client = TagClient({BULK_PATH: PER_OBJECT[kind](), bad: PER_OBJECT[kind]()})
    report, by_name = run_tags(client, machines)
    assert client.posts == [BULK_PATH] + [m['id'] for m in machines]
    assert by_name['m1.contoso.com']['changed'] and by_name['m1.contoso.com']['tags_after'] == ['IR-1']
    assert by_name['m3.contoso.com']['changed'] and by_name['m3.contoso.com']['error'] is None
    assert 'HTTP 403' in by_name['m2.contoso.com']['error'] and not by_name['m2.contoso.com']['changed']
    assert report.failed and report.result['summary']['changed'] == 2


def test_tags_one_machine_refused_the_next_tag_is_still_sent():
    # Different tags for each machine: one request each; the first one's 403 does not stop the second.
    machines = [tagged_machine(1, ['b']), tagged_machine(2, ['a'])]
    client = TagClient({machines[0]['id']: device_group()})
    _report, by_name = run_tags(client, machines, tags=('a', 'b'))
    assert client.posts == [machines[0]['id'], machines[1]['id']]
    assert by_name['m2.contoso.com']['changed'] and 'HTTP 403' in by_name['m1.contoso.com']['error']


def test_tags_missing_permission_still_stops_the_rest():
    machines = [tagged_machine(1), tagged_machine(2)]
    client = TagClient({BULK_PATH: missing_role()})
    _report, by_name = run_tags(client, machines, tags=('a', 'b'))
    assert client.posts == [BULK_PATH]
    assert all(by_name[m['computerDnsName']]['error'] for m in machines)


# -- indicators (indicators.import_indicators, indicators.delete_indicators) ------------------------------------------

class IndicatorClient(object):
    def __init__(self, refuse):
        self.refuse = refuse  # 'batch', an indicator id, or an indicator value -> error
        self.sent = []

    def request(self, method, path, json_body=None, **kwargs):
        key = 'batch' if path == indicators.BATCH_DELETE_PATH else path.rsplit('/', 1)[1]
        self.sent.append(key)
        if key in self.refuse:
            raise self.refuse[key]

    def post(self, path, body=None, **kwargs):
        values = [b['indicatorValue'] for b in body['Indicators']]
        self.sent.append(tuple(values))
        for value in values:
            if value in self.refuse:
                raise self.refuse[value]
        return {'value': [{'id': 'id-' + v, 'indicator': v, 'isFailed': False} for v in values]}


@pytest.mark.parametrize('kind', sorted(PER_OBJECT))
def test_batch_delete_refused_for_one_indicator_falls_back_to_each_and_names_it(kind):
    client = IndicatorClient({'batch': PER_OBJECT[kind](), '1002': PER_OBJECT[kind]()})
    errors, calls = indicators.delete_indicators(client, ['1001', '1002', '1003'])
    assert client.sent == ['batch', '1001', '1002', '1003'] and calls == 4
    assert list(errors) == ['1002'] and 'HTTP 403' in errors['1002']


def test_batch_delete_missing_permission_stops_the_rest(monkeypatch):
    monkeypatch.setattr(indicators, 'DELETE_BATCH', 1)
    client = IndicatorClient({'batch': missing_role()})
    errors, _calls = indicators.delete_indicators(client, ['1001', '1002'])
    assert client.sent == ['batch'] and sorted(errors) == ['1001', '1002']


def test_one_by_one_deletes_stop_at_a_401():
    client = IndicatorClient({'batch': api_error(404, 'ResourceNotFound', 'Indicator 1001 was not found'),
                              '1001': api_error(401, 'Unauthorized', 'expired')})
    errors, _calls = indicators.delete_indicators(client, ['1001', '1002', '1003'])
    assert client.sent == ['batch', '1001']
    assert sorted(errors) == ['1001', '1002', '1003'] and errors['1002'].startswith('not sent')


def test_import_chunk_refused_per_object_the_next_chunks_are_still_sent(monkeypatch):
    monkeypatch.setattr(indicators, 'IMPORT_BATCH', 1)
    client = IndicatorClient({'b.example.com': PER_OBJECT['bare-403']()})
    bodies = [{'indicatorValue': v} for v in ('a.example.com', 'b.example.com', 'c.example.com')]
    results, calls = indicators.import_indicators(client, bodies)
    assert calls == 3 and client.sent == [('a.example.com',), ('b.example.com',), ('c.example.com',)]
    assert results[0] == ('id-a.example.com', None) and results[2] == ('id-c.example.com', None)
    assert 'HTTP 403' in results[1][1]


def test_import_missing_permission_still_stops_the_rest(monkeypatch):
    monkeypatch.setattr(indicators, 'IMPORT_BATCH', 1)
    client = IndicatorClient({'a.example.com': missing_role()})
    results, calls = indicators.import_indicators(client, [{'indicatorValue': 'a.example.com'},
                                                           {'indicatorValue': 'b.example.com'}])
    assert calls == 1 and results[1][1].startswith('not sent')
