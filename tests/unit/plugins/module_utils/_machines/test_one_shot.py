# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot actions, app restriction and tags without HTTP: option checks, per-machine decisions, request bodies,
the package download (names, mode, atomicity, no token to the storage host) and the tag writes (bulk, fallback)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import types

import pytest

from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import CONFLICT, NOOP, SEND
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._machines.tags import (
    BULK_PATH, TagOrchestrator, TagSpec, validate_tags)
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import Entry, Resolution
from ansible_collections.defender.atp.plugins.module_utils._machines.one_shot import (
    OneShotSpec, package_file_name, validate_action_options)
from ansible_collections.defender.atp.plugins.module_utils._machines.restriction import RestrictionSpec

SHA1 = '87662bc3d60e4200ceaf7aae249d1c343f4b83c9'
MID = 'a' * 40


def params(**kw):
    base = dict(action='av_scan', sha1=None, scan_type=None, dest=None, wait=False)
    base.update(kw)
    return base


def act(kind, status, minute=1, action_id=None, sha1=None):
    info = {'fileIdentifier': sha1, 'fileIdentifierType': 'Sha1'} if sha1 else None
    return {'id': action_id or '%s-%d' % (kind, minute), 'type': kind, 'status': status, 'machineId': MID,
            'creationDateTimeUtc': '2026-01-05T08:%02d:00Z' % minute, 'relatedFileInfo': info}


# -- options --------------------------------------------------------------------------------------

@pytest.mark.parametrize('options, fragment', [
    (dict(action='stop_and_quarantine_file'), 'sha1 is required'),
    (dict(action='stop_and_quarantine_file', sha1='abc'), 'sha1 must be 40 hexadecimal'),
    (dict(action='stop_and_quarantine_file', sha1=SHA1 + '0'), 'sha1 must be 40 hexadecimal'),
    (dict(action='stop_and_quarantine_file', sha1='g' * 40), 'sha1 must be 40 hexadecimal'),
    (dict(action='av_scan', sha1=SHA1), 'sha1 is only used with action=stop_and_quarantine_file'),
    (dict(action='collect_investigation_package', scan_type='Full'), 'scan_type is only used with action=av_scan'),
    (dict(action='av_scan', dest='/tmp'), 'dest is only used with'),
    (dict(action='collect_investigation_package', dest='/tmp'), 'dest needs wait: true'),
    (dict(action='collect_investigation_package', dest='/nonexistent/x', wait=True), 'dest must be an existing directory'),
    (dict(action='reboot'), 'action must be one of'),
])
def test_bad_action_options_are_refused_naming_the_option(options, fragment):
    with pytest.raises(AtpOptionError) as caught:
        validate_action_options(params(**options))
    assert fragment in caught.value.message


def test_dest_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / 'file'
    target.write_text('x')
    with pytest.raises(AtpOptionError) as caught:
        validate_action_options(params(action='collect_investigation_package', dest=str(target), wait=True))
    assert 'dest must be an existing directory' in caught.value.message


def test_good_action_options_pass(tmp_path):
    validate_action_options(params(action='stop_and_quarantine_file', sha1=SHA1.upper()))
    validate_action_options(params(action='av_scan', scan_type='Full'))
    validate_action_options(params(action='collect_investigation_package', dest=str(tmp_path), wait=True))


# -- one-shot decisions ---------------------------------------------------------------------------

def test_a_running_action_of_the_same_type_means_no_new_request():
    spec = OneShotSpec('av_scan', 'IR-1')
    running = act('RunAntiVirusScan', 'InProgress', 2)
    decision = spec.decide({'id': MID}, [act('RunAntiVirusScan', 'Succeeded', 1), running])
    assert decision.op == NOOP
    assert decision.updates['action'] is running and decision.updates['track'] == running['id']


def test_finished_actions_do_not_count():
    spec = OneShotSpec('av_scan', 'IR-1')
    assert spec.decide({'id': MID}, [act('RunAntiVirusScan', 'Succeeded', 1), act('RunAntiVirusScan', 'Failed', 2),
                                     act('RunAntiVirusScan', 'Cancelled', 3)]).op == SEND
    assert spec.decide({'id': MID}, []).op == SEND


def test_quarantine_counts_only_a_running_action_on_the_same_file():
    spec = OneShotSpec('stop_and_quarantine_file', 'IR-1', sha1=SHA1.upper())
    other = act('StopAndQuarantineFile', 'Pending', 1, sha1='b' * 40)
    assert spec.decide({'id': MID}, [other]).op == SEND
    assert spec.decide({'id': MID}, [act('StopAndQuarantineFile', 'Pending', 1)]).op == SEND  # names no file
    same = act('StopAndQuarantineFile', 'Pending', 2, sha1=SHA1)
    assert spec.decide({'id': MID}, [other, same]).op == NOOP


def test_request_bodies_are_the_documented_ones():
    result = types.SimpleNamespace(machine={'id': MID})
    assert OneShotSpec('av_scan', 'c').request(result) == (
        '/api/machines/%s/runAntiVirusScan' % MID, {'Comment': 'c', 'ScanType': 'Quick'}, 'RunAntiVirusScan')
    assert OneShotSpec('av_scan', 'c', scan_type='Full').request(result)[1]['ScanType'] == 'Full'
    assert OneShotSpec('collect_investigation_package', 'c').request(result) == (
        '/api/machines/%s/collectInvestigationPackage' % MID, {'Comment': 'c'}, 'CollectInvestigationPackage')
    assert OneShotSpec('stop_and_quarantine_file', 'c', sha1=SHA1.upper()).request(result) == (
        '/api/machines/%s/StopAndQuarantineFile' % MID, {'Comment': 'c', 'Sha1': SHA1}, 'StopAndQuarantineFile')


@pytest.mark.parametrize('platform', ['Linux', 'macOS', 'iOS', 'Android', 'Ubuntu', 'CentOS', 'RedHatEnterpriseLinux', 'mac OS'])
@pytest.mark.parametrize('action', ['av_scan', 'stop_and_quarantine_file'])
def test_windows_only_actions_are_not_planned_for_a_known_other_platform(platform, action):
    spec = OneShotSpec(action, 'IR-1', sha1=SHA1 if action == 'stop_and_quarantine_file' else None)
    decision = spec.decide({'id': MID, 'osPlatform': platform}, [])
    assert decision.op == 'error' and 'osPlatform is %s' % platform in decision.reason
    assert 'Windows only' in decision.reason and '.md' in decision.reason


@pytest.mark.parametrize('platform', [None, '', 'Other', 'Unknown', 'Windows10', 'Windows11', 'WindowsServer2022',
                                      'SomethingNew'])
def test_windows_or_unknown_platforms_get_the_request(platform):
    assert OneShotSpec('av_scan', 'IR-1').decide({'id': MID, 'osPlatform': platform}, []).op == SEND


def test_the_collection_and_a_running_action_are_not_limited_by_platform():
    linux = {'id': MID, 'osPlatform': 'Linux'}
    assert OneShotSpec('collect_investigation_package', 'IR-1').decide(linux, []).op == SEND
    assert OneShotSpec('av_scan', 'IR-1').decide(linux, [act('RunAntiVirusScan', 'Pending', 1)]).op == NOOP


def test_restriction_is_not_planned_for_a_known_other_platform():
    mac = {'osPlatform': 'macOS'}
    refused = RestrictionSpec('restricted', 'c').decide(mac, [])
    assert refused.op == 'error' and 'restrict-code-execution.md' in refused.reason
    assert refused.updates['state'] == 'unrestricted'
    assert RestrictionSpec('unrestricted', 'c').decide(mac, []).op == NOOP  # already unrestricted: nothing to send
    assert RestrictionSpec('restricted', 'c').decide({'osPlatform': None}, []).op == SEND
    assert RestrictionSpec('restricted', 'c', force=True).decide(
        mac, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == 'error'


# -- package file names and download --------------------------------------------------------------

ACTION_ID = 'b89eb834-4578-496c-8be0-03f004061435'


@pytest.mark.parametrize('dns_name, expected', [
    ('ws-042.contoso.com', 'ws-042.contoso.com-%s.zip' % ACTION_ID),
    ('../../etc/cron.d/x', '%s-%s.zip' % (MID, ACTION_ID)),
    ('ws/042', '%s-%s.zip' % (MID, ACTION_ID)),
    ('..', '%s-%s.zip' % (MID, ACTION_ID)),
    ('.hidden', '%s-%s.zip' % (MID, ACTION_ID)),
    ('a..b', '%s-%s.zip' % (MID, ACTION_ID)),
    (None, '%s-%s.zip' % (MID, ACTION_ID)),
])
def test_package_file_names_never_take_a_path_from_the_api(dns_name, expected):
    assert package_file_name({'id': MID, 'computerDnsName': dns_name}, ACTION_ID) == expected


def test_an_unusable_action_id_or_machine_is_an_error():
    with pytest.raises(AtpError):
        package_file_name({'id': MID, 'computerDnsName': 'ws'}, '../x')
    with pytest.raises(AtpError):
        package_file_name({'id': '../x', 'computerDnsName': '/etc'}, ACTION_ID)


# -- app restriction --------------------------------------------------------------------------------

def test_restriction_state_comes_from_the_newest_restrict_or_unrestrict_action():
    spec = RestrictionSpec('restricted', 'c')
    assert spec.decide({}, []).op == SEND
    done = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1)])
    assert done.op == NOOP and done.updates['state'] == 'restricted'
    lifted = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1), act('UnrestrictCodeExecution', 'Succeeded', 2)])
    assert lifted.op == SEND and lifted.updates['state'] == 'unrestricted'
    failed = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1), act('UnrestrictCodeExecution', 'Failed', 2)])
    assert failed.op == NOOP and failed.updates['state'] == 'restricted'
    running = spec.decide({}, [act('RestrictCodeExecution', 'Pending', 3)])
    assert running.op == NOOP and running.updates['track'] == 'RestrictCodeExecution-3'
    opposite = spec.decide({}, [act('UnrestrictCodeExecution', 'InProgress', 3)])
    assert opposite.op == CONFLICT and 'opposite direction' in opposite.reason
    # Other action types never count.
    assert spec.decide({}, [act('Isolate', 'Succeeded', 4)]).op == SEND


def test_restriction_force_sends_to_a_settled_machine_but_adopts_one_under_way():
    spec = RestrictionSpec('restricted', 'c', force=True)
    assert spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == SEND
    assert spec.decide({}, [act('RestrictCodeExecution', 'Pending', 1)]).op == NOOP
    assert spec.reconsider({}, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == NOOP
    result = types.SimpleNamespace(machine={'id': MID})
    assert RestrictionSpec('unrestricted', 'c').request(result) == (
        '/api/machines/%s/unrestrictCodeExecution' % MID, {'Comment': 'c'}, 'UnrestrictCodeExecution')


# -- tags ---------------------------------------------------------------------------------------------

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


class ActionDirectory(TagDirectory):
    def machine_actions(self, machine_ids, action_types):
        return dict((i, []) for i in machine_ids)


class ScanClient(object):
    def __init__(self):
        self.posts = []
        self.settings = types.SimpleNamespace(max_retry_wait=300, max_retries=2, timeout=10)

    def post(self, path, body=None, **kwargs):
        self.posts.append(path)
        return {'id': 'new-%d' % len(self.posts), 'type': 'RunAntiVirusScan', 'status': 'Pending',
                'machineId': path.split('/')[3], 'scope': body['ScanType'], 'creationDateTimeUtc': '2026-01-05T09:00:00Z'}


def test_complete_runs_after_the_writes_and_never_in_check_mode():
    from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import Orchestrator

    calls = []

    class Recording(OneShotSpec):
        def complete(self, client, results):
            calls.append(([r.machine_id for r in results], list(client.posts)))

    entries = [Entry('m1.contoso.com'), Entry('ghost.contoso.com')]
    for check_mode in (True, False):
        client = ScanClient()
        report = Orchestrator(Recording('av_scan', 'c'), client, directory=ActionDirectory([tag_machine(1)]),
                              check_mode=check_mode).run(entries)
    assert calls == [([tag_machine(1)['id']], ['/api/machines/%s/runAntiVirusScan' % tag_machine(1)['id']])]
    first = report.result['machines'][0]
    assert first['action']['type'] == 'RunAntiVirusScan' and first['state'] == 'Pending' and first['changed']


def test_an_unknown_final_status_is_warned_about_never_taken_for_done():
    spec = OneShotSpec('av_scan', 'c')
    decision = spec.after_wait(None, [], {'id': 'x', 'type': 'RunAntiVirusScan', 'status': 'PartiallySucceeded'})
    assert 'error' not in decision.updates and 'does not know (PartiallySucceeded)' in decision.warnings[0]
    for status in ('Failed', 'TimeOut', 'Cancelled', 'Canceled'):
        done = spec.after_wait(None, [], {'id': 'x', 'type': 'RunAntiVirusScan', 'status': status})
        assert 'ended with status' in done.updates['error']
    assert spec.after_wait(None, [], {'id': 'x', 'status': None}).warnings  # a null status too
