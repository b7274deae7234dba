# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tags without HTTP: option checks, the case-insensitive comparison, and the writes (bulk, one machine, the
fallback to one request each, what the server holds afterwards)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import types

import pytest

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import NOOP, SEND
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import Entry, Resolution
from ansible_collections.defender.atp.plugins.module_utils._machines.tags import (
    BULK_PATH, TagOrchestrator, TagSpec, validate_tags)


@pytest.mark.parametrize('tags, fragment', [
    ([], 'tags is empty'),
    (['ok', ''], 'tags item 2 is empty'),
    (['x' * 201], 'tags item 1 is 201 characters long'),
])
def test_bad_tags_are_refused(tags, fragment):
    with pytest.raises(AtpOptionError) as caught:
        validate_tags(tags)
    assert fragment in caught.value.message


def test_tags_compare_case_insensitively():
    assert validate_tags(['IR-1', 'ir-1', 'x' * 200]) == ['IR-1', 'x' * 200]
    present = TagSpec(['IR-1', 'contained'])
    decision = present.decide({'machineTags': ['ir-1']}, [])
    assert decision.op == SEND and decision.fields['changes'] == [('Add', 'contained')]
    assert present.decide({'machineTags': ['IR-1', 'CONTAINED']}, []).op == NOOP
    absent = TagSpec(['ir-1'], 'absent')
    assert absent.decide({'machineTags': ['IR-1', 'other']}, []).fields['changes'] == [('Remove', 'IR-1')]
    assert absent.decide({'machineTags': None}, []).op == NOOP


def tag_machine(n, tags=()):
    return {'id': ('%x' % n) * 40, 'computerDnsName': 'm%d.contoso.com' % n, 'machineTags': list(tags)}


class TagDirectory(object):
    def __init__(self, machines, server=None):
        self.machines = dict((m['computerDnsName'], m) for m in machines)
        self.server = server
        self.reads = []

    def resolve(self, entries):
        return [Resolution(e, machine=self.machines[e.input], matched_by='name') if e.input in self.machines
                else Resolution(e, error='no machine is named %s' % e.input) for e in entries]

    def machines_by_ids(self, ids):
        self.reads.append(list(ids))
        return dict((i.lower(), {'id': i, 'machineTags': list(self.server.tags[i])}) for i in ids if i in self.server.tags)


class TagClient(object):
    """A server holding each machine's tags, comparing them by exact spelling; the bulk call answers nothing (its
    answer's shape is not documented), a machine's call answers the machine."""

    def __init__(self, machines=(), refuse_bulk=None, refuse_machine=None):
        self.posts = []
        self.refuse_bulk = refuse_bulk
        self.refuse_machine = refuse_machine or {}
        self.tags = dict((m['id'], list(m['machineTags'])) for m in machines)
        self.settings = types.SimpleNamespace(max_retry_wait=300, max_retries=2, timeout=10)

    def _apply(self, machine_id, body):
        tags = self.tags.setdefault(machine_id, [])
        if body['Action'] == 'Add' and body['Value'] not in tags:
            tags.append(body['Value'])
        elif body['Action'] == 'Remove':
            tags[:] = [t for t in tags if t != body['Value']]

    def post(self, path, body=None, **kwargs):
        self.posts.append((path, body))
        if path == BULK_PATH:
            if self.refuse_bulk:
                # A 403 here is the application's missing permission (a per-object 403: test_per_object_errors.py).
                raise AtpApiError('refused', status=self.refuse_bulk,
                                  missing_permissions=['Machine.ReadWrite.All'] if self.refuse_bulk == 403 else None)
            for machine_id in body['MachineIds']:
                self._apply(machine_id, body)
            return None
        machine_id = path.split('/')[3]
        if machine_id in self.refuse_machine:
            raise AtpApiError('machine %s refused' % machine_id, status=self.refuse_machine[machine_id])
        self._apply(machine_id, body)
        return {'id': machine_id, 'machineTags': list(self.tags[machine_id])}


def run_tags(spec, machines, client, check_mode=False, max_machines=25):
    for machine in machines:
        client.tags.setdefault(machine['id'], list(machine['machineTags']))
    orchestrator = TagOrchestrator(spec, client, directory=TagDirectory(machines, client), check_mode=check_mode,
                                   max_machines=max_machines, diff=True)
    report = orchestrator.run([Entry(m['computerDnsName']) for m in machines] + [Entry('ghost.contoso.com')])
    return report, dict((m['input'], m) for m in report.result['machines'])


def test_a_tag_many_machines_need_is_one_bulk_call():
    machines = [tag_machine(1), tag_machine(2, ['ir-1']), tag_machine(3), tag_machine(4)]
    client = TagClient()
    report, by_name = run_tags(TagSpec(['IR-1']), machines, client)
    assert client.posts == [(BULK_PATH, {'Value': 'IR-1', 'Action': 'Add',
                                         'MachineIds': [tag_machine(n)['id'] for n in (1, 3, 4)]})]
    assert by_name['m1.contoso.com']['tags_after'] == ['IR-1'] and by_name['m1.contoso.com']['changed']
    assert by_name['m2.contoso.com']['tags_before'] == ['ir-1'] and not by_name['m2.contoso.com']['changed']
    assert report.result['summary'] == dict(total=5, changed=3, unchanged=1, failed=1, pending=0)
    assert report.result['diff']['after'][tag_machine(3)['id']] == ['IR-1']


def test_a_tag_one_machine_needs_uses_its_own_request_and_the_answer():
    client = TagClient()
    client.tags[tag_machine(1)['id']] = ['from-api']  # the server knows a tag the read did not show yet
    _report, by_name = run_tags(TagSpec(['IR-1']), [tag_machine(1), tag_machine(2, ['IR-1'])], client)
    assert client.posts == [('/api/machines/%s/tags' % tag_machine(1)['id'], {'Value': 'IR-1', 'Action': 'Add'})]
    assert by_name['m1.contoso.com']['tags_after'] == ['from-api', 'IR-1']


def test_removal_sends_each_machines_own_spelling_and_reports_the_server():
    machines = [tag_machine(1, ['IR-1', 'x']), tag_machine(2, ['ir-1']), tag_machine(3, ['ir-1']), tag_machine(4)]
    client = TagClient()
    report, by_name = run_tags(TagSpec(['IR-1'], 'absent'), machines, client)
    assert sorted((path, body['Value']) for path, body in client.posts) == sorted([
        ('/api/machines/%s/tags' % tag_machine(1)['id'], 'IR-1'), (BULK_PATH, 'ir-1')])
    assert [b['MachineIds'] for p, b in client.posts if p == BULK_PATH] == [[tag_machine(2)['id'], tag_machine(3)['id']]]
    for n in (1, 2, 3):
        assert by_name['m%d.contoso.com' % n]['tags_after'] == client.tags[tag_machine(n)['id']]
        assert not any(t.lower() == 'ir-1' for t in client.tags[tag_machine(n)['id']])
    assert report.result['summary'] == dict(total=5, changed=3, unchanged=1, failed=1, pending=0)


def test_a_machine_holding_two_spellings_loses_both():
    client = TagClient()
    _report, by_name = run_tags(TagSpec(['ir-1'], 'absent'), [tag_machine(1, ['IR-1', 'Ir-1', 'y'])], client)
    assert [body['Value'] for _p, body in client.posts] == ['IR-1', 'Ir-1']
    assert by_name['m1.contoso.com']['tags_after'] == ['y'] and by_name['m1.contoso.com']['error'] is None


class IgnoringClient(TagClient):
    """Accepts every write and changes nothing."""

    def _apply(self, machine_id, body):
        pass


def test_a_change_the_answer_does_not_show_is_an_error_not_success():
    report, by_name = run_tags(TagSpec(['IR-1'], 'absent'), [tag_machine(1, ['IR-1'])], IgnoringClient())
    entry = by_name['m1.contoso.com']
    assert "still holds tag 'IR-1'" in entry['error'] and entry['tags_after'] == ['IR-1'] and report.failed


def test_a_change_a_read_back_does_not_show_yet_is_a_warning():
    client = IgnoringClient()
    report, by_name = run_tags(TagSpec(['IR-1']), [tag_machine(1), tag_machine(2)], client)
    for n in (1, 2):
        entry = by_name['m%d.contoso.com' % n]
        assert entry['error'] is None and entry['tags_after'] == []
        assert "does not hold tag 'IR-1'" in entry['warnings'][0] and 'read again' in entry['warnings'][0]


def test_tags_after_is_null_when_the_server_cannot_be_read_back():
    class Unreadable(TagDirectory):
        def machines_by_ids(self, ids):
            raise AtpError('HTTP 503')

    client = TagClient()
    machines = [tag_machine(1), tag_machine(2)]
    for machine in machines:
        client.tags[machine['id']] = []
    orchestrator = TagOrchestrator(TagSpec(['IR-1']), client, directory=Unreadable(machines, client))
    report = orchestrator.run([Entry(m['computerDnsName']) for m in machines])
    for entry in report.result['machines']:
        assert entry['tags_after'] is None and entry['changed'] and 'could not be read back' in entry['warnings'][0]


def test_check_mode_predicts_tags_without_writing():
    client = TagClient()
    report, by_name = run_tags(TagSpec(['a', 'b']), [tag_machine(1, ['A'])], client, check_mode=True)
    assert client.posts == [] and report.result['changed']
    assert by_name['m1.contoso.com']['tags_after'] == ['A', 'b']


def test_a_refused_bulk_call_falls_back_to_each_machine_and_names_the_bad_one():
    bad = tag_machine(2)['id']
    client = TagClient(refuse_bulk=400, refuse_machine={bad: 404})
    report, by_name = run_tags(TagSpec(['IR-1']), [tag_machine(1), tag_machine(2), tag_machine(3)], client)
    assert [path for path, _body in client.posts].count(BULK_PATH) == 1 and len(client.posts) == 4
    assert by_name['m2.contoso.com']['error'] == 'machine %s refused' % bad and not by_name['m2.contoso.com']['changed']
    assert by_name['m1.contoso.com']['changed'] and by_name['m3.contoso.com']['changed']
    assert report.failed


def test_a_permission_error_stops_the_writes_not_yet_sent():
    client = TagClient(refuse_bulk=403)
    report, by_name = run_tags(TagSpec(['a', 'b']), [tag_machine(1), tag_machine(2)], client)
    assert len(client.posts) == 1
    assert all(by_name['m%d.contoso.com' % n]['error'] for n in (1, 2))
    assert not report.result['changed']


def test_max_machines_counts_only_machines_whose_tags_change():
    client = TagClient()
    report, _by_name = run_tags(TagSpec(['IR-1']), [tag_machine(1), tag_machine(2), tag_machine(3, ['IR-1'])], client,
                                max_machines=1)
    assert report.failed and 'Refusing to act: 2 machines' in report.msg and client.posts == []
