# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot actions without HTTP: option checks, per-machine decisions, request bodies, package file names, and
what runs after the writes (app restriction: test_desired_state.py; tags: test_tags.py; the download: _http/test_download.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import types

import pytest

from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import NOOP, SEND
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import Entry
from ansible_collections.defender.atp.plugins.module_utils._machines.one_shot import (
    OneShotSpec, package_file_name, validate_action_options)
from ansible_collections.defender.atp.tests.unit.plugins.module_utils._machines.test_tags import TagDirectory, tag_machine

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


class ActionDirectory(TagDirectory):  # machines as the tag tests have them
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
