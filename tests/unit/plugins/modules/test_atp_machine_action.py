# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_machine_action, run in-process against the emulator serving what Microsoft's pages document: the package link
in quotes (get-package-sas-uri.md), Windows-only actions (OsPlatformNotSupported), actions that end Failed, TimeOut or
Cancelled, a repeat answered with the pending action, the plain 400 of a repeated collection.

Default data (tests/emulator/data.py): ws-finance-01/02 and ws-it-01 are online Windows machines; srv-web-01 is
Linux, mac-design-01 macOS; kiosk-01 ends its new actions Failed, srv-file-01 TimeOut, ws-eng-03 Cancelled;
ws-reimaged.contoso.com is two machines.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.defender.atp.plugins.modules import atp_machine_action

FINANCE_01 = '958229471430993e9cde904f77fed63aeff7ceb4'
REIMAGED = ('744a2d6bfb65292193245b09362096e4079af052', 'fc82a70282c83b4ea21f5b989cd41871b6c42418')


def run(run_module, conn, check_mode=False, diff=False, **args):
    merged = dict(conn, comment='IR-19: unit test')
    merged.update(args)
    return run_module(atp_machine_action.main, merged, check_mode=check_mode, diff=diff)


def by_input(result):
    return dict((m['input'], m) for m in result['machines'])


def posts(emulator, suffix):
    return [e for e in emulator.requests_log() if e['method'] == 'POST' and e['path'].endswith(suffix)]


def api_call(emulator, method, path, body=None):
    status, payload, _headers = emulator.call(method, path, body, headers={'Authorization': 'Bearer ' + emulator.token()})
    return status, payload


@pytest.fixture
def fast(fresh_emulator):
    fresh_emulator.set_config(pending_seconds=0.2, inprogress_seconds=0.2)
    return fresh_emulator


def collect(run_module, conn, dest, machines=('ws-finance-01.contoso.com',), **extra):
    return run(run_module, conn, machines=list(machines), action='collect_investigation_package', wait=True,
               wait_timeout=20, poll_interval=0.3, dest=str(dest), allow_partial=True, **extra)


# -- the investigation package ----------------------------------------------------------------------------------------

def test_the_package_is_downloaded_from_the_documented_quoted_link(run_module, conn, fast, tmp_path):
    result = collect(run_module, conn, tmp_path)
    entry = result['machines'][0]
    assert entry['error'] is None, entry['error']
    assert entry['package_path'] == str(tmp_path / ('ws-finance-01.contoso.com-%s.zip' % entry['action']['id']))
    assert stat.S_IMODE(os.stat(entry['package_path']).st_mode) == 0o600
    downloads = [e for e in fast.requests_log() if e['path'].startswith('/packages/')]
    assert [e['status'] for e in downloads] == [200]  # the storage refuses a request carrying a token (400)


def test_a_link_to_another_host_is_refused_naming_it(run_module, conn, fast, tmp_path):
    port = fast.info['url'].rsplit(':', 1)[1]
    fast.set_config(package_link_host='localhost:%s' % port, package_link_quoted=False)
    result = collect(run_module, conn, tmp_path)
    entry = result['machines'][0]
    assert "'localhost:%s'" % port in entry['error'] and 'sig=' not in entry['error']
    assert entry['package_path'] is None and not result.get('failed') and result['summary']['failed'] == 1
    assert [e for e in fast.requests_log() if e['path'].startswith('/packages/')] == []
    assert os.listdir(str(tmp_path)) == []


def test_a_redirect_to_another_host_is_not_followed(run_module, conn, fast, tmp_path):
    port = fast.info['url'].rsplit(':', 1)[1]
    fast.set_config(package_redirect_host='localhost:%s' % port)
    entry = collect(run_module, conn, tmp_path)['machines'][0]
    assert "'localhost:%s'" % port in entry['error'] and 'redirect' in entry['error']
    assert [e['status'] for e in fast.requests_log() if e['path'].startswith('/packages/')] == [302]
    assert os.listdir(str(tmp_path)) == []


def test_a_package_over_the_size_cap_is_refused(run_module, conn, fast, tmp_path):
    fast.set_config(package_bytes=3 * 1024 * 1024)
    entry = collect(run_module, conn, tmp_path, max_package_mb=1)['machines'][0]
    assert 'larger than' in entry['error'] and '1 MiB' in entry['error'] and entry['package_path'] is None
    assert os.listdir(str(tmp_path)) == []
    entry = collect(run_module, conn, tmp_path, max_package_mb=4)['machines'][0]
    assert entry['error'] is None and os.path.getsize(entry['package_path']) >= 3 * 1024 * 1024


def test_bad_download_limits_are_refused_naming_the_option(run_module, conn, fresh_emulator, tmp_path):
    for option, value in (('max_package_mb', 0), ('download_timeout', 0)):
        result = collect(run_module, conn, tmp_path, **{option: value})
        assert result['failed'] and option in result['msg']
    assert [e for e in fresh_emulator.requests_log() if e['path'].startswith('/api/')] == []


# -- OS platforms -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('action, extra', [('av_scan', {}),
                                           ('stop_and_quarantine_file', {'sha1': '87662bc3d60e4200ceaf7aae249d1c343f4b83c9'})])
@pytest.mark.parametrize('check_mode', [True, False])
def test_windows_only_actions_are_not_sent_to_other_platforms(run_module, conn, fresh_emulator, action, extra, check_mode):
    machines = ['ws-finance-01.contoso.com', 'srv-web-01.contoso.com', 'mac-design-01.contoso.com']
    result = run(run_module, conn, check_mode=check_mode, machines=machines, action=action, allow_partial=True, **extra)
    entries = by_input(result)
    assert entries['ws-finance-01.contoso.com']['changed'] and entries['ws-finance-01.contoso.com']['error'] is None
    for name, platform in (('srv-web-01.contoso.com', 'Linux'), ('mac-design-01.contoso.com', 'macOS')):
        assert not entries[name]['changed'] and entries[name]['state'] is None
        assert 'osPlatform is %s' % platform in entries[name]['error'] and 'Windows' in entries[name]['error']
    assert result['summary'] == dict(total=3, changed=1, unchanged=0, failed=2, pending=1)
    sent = [e['path'].split('/')[3] for e in fresh_emulator.requests_log() if e['method'] == 'POST'
            and e['path'].startswith('/api/')]
    assert sent == ([] if check_mode else [FINANCE_01])


def test_max_machines_does_not_count_machines_that_get_no_request(run_module, conn, fresh_emulator):
    result = run(run_module, conn, check_mode=True, machines=['ws-finance-01.contoso.com', 'srv-web-01.contoso.com'],
                 action='av_scan', max_machines=1, allow_partial=True)
    assert 'Refusing' not in result['msg'] and result['summary']['changed'] == 1


def test_an_unknown_platform_is_sent_and_the_refusal_is_that_machines_error(run_module, conn, fresh_emulator):
    _status, found = api_call(fresh_emulator, 'GET', '/api/machines?$top=10000')
    wanted = ('ws-finance-01.contoso.com', 'ws-finance-02.contoso.com')
    machines = [dict(m) for m in found['value'] if m['computerDnsName'] in wanted]
    machines[1]['osPlatform'] = None  # unknown: the module cannot know the service refuses it
    fresh_emulator.set_data(machines=machines)
    result = run(run_module, conn, machines=[m['computerDnsName'] for m in machines], action='av_scan',
                 allow_partial=True)
    entries = by_input(result)
    assert entries['ws-finance-01.contoso.com']['error'] is None and entries['ws-finance-01.contoso.com']['changed']
    assert 'OsPlatformNotSupported' in entries['ws-finance-02.contoso.com']['error']
    assert len(posts(fresh_emulator, '/runAntiVirusScan')) == 2


# -- unsuccessful outcomes --------------------------------------------------------------------------------------------

def test_failed_timed_out_and_cancelled_actions_are_errors_never_success(run_module, conn, fast):
    names = ['ws-finance-01.contoso.com', 'kiosk-01.contoso.com', 'srv-file-01.contoso.com', 'ws-eng-03.contoso.com']
    result = run(run_module, conn, machines=names, action='av_scan', wait=True, wait_timeout=20, poll_interval=0.3)
    assert result['failed']
    entries = by_input(result)
    assert entries['ws-finance-01.contoso.com']['state'] == 'Succeeded' and entries['ws-finance-01.contoso.com']['error'] is None
    for name, status in (('kiosk-01.contoso.com', 'Failed'), ('srv-file-01.contoso.com', 'TimeOut'),
                         ('ws-eng-03.contoso.com', 'Cancelled')):
        assert entries[name]['state'] == status and 'ended with status %s' % status in entries[name]['error']
    assert result['summary'] == dict(total=4, changed=1, unchanged=0, failed=3, pending=0)
    for name in ('kiosk-01.contoso.com', 'srv-file-01.contoso.com', 'ws-eng-03.contoso.com'):
        assert name in result['msg']


def test_a_failed_collection_downloads_nothing(run_module, conn, fast, tmp_path):
    entry = collect(run_module, conn, tmp_path, machines=['kiosk-01.contoso.com'])['machines'][0]
    assert 'ended with status Failed' in entry['error'] and entry['package_path'] is None
    assert [e for e in fast.requests_log() if 'GetPackageUri' in e['path']] == []


# -- repeats ---------------------------------------------------------------------------------------------------------

def hide_actions_once(emulator):
    """The next read of machine actions answers an empty list (a stale read: another tool's action is not seen yet)."""
    emulator.add_fault(path=r'^/api/machineactions$', method='GET', status=200, body={'value': []}, times=1)


def test_a_repeat_answered_with_the_pending_action_is_followed_not_new(run_module, conn, fresh_emulator):
    fresh_emulator.set_config(pending_seconds=60)
    status, existing = api_call(fresh_emulator, 'POST', '/api/machines/%s/runAntiVirusScan' % FINANCE_01,
                                {'Comment': 'another tool', 'ScanType': 'Quick'})
    assert status == 201
    hide_actions_once(fresh_emulator)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'], action='av_scan')
    entry = result['machines'][0]
    assert entry['action']['id'] == existing['id'] and entry['error'] is None
    assert entry['changed'] is False and result['changed'] is False and result['summary']['unchanged'] == 1
    assert entry['state'] == 'Pending' and result['summary']['pending'] == 1


def test_a_repeated_collection_answered_with_a_plain_400_takes_the_running_one(run_module, conn, fresh_emulator):
    fresh_emulator.set_config(pending_seconds=60)
    status, existing = api_call(fresh_emulator, 'POST', '/api/machines/%s/collectInvestigationPackage' % FINANCE_01,
                                {'Comment': 'another tool'})
    assert status == 201
    hide_actions_once(fresh_emulator)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'], action='collect_investigation_package')
    entry = result['machines'][0]
    assert not result.get('failed') and entry['error'] is None, entry['error']
    assert entry['action']['id'] == existing['id'] and entry['changed'] is False
    assert len(posts(fresh_emulator, '/collectInvestigationPackage')) == 2  # ours (refused) and the other tool's


# -- diff ---------------------------------------------------------------------------------------------------------------

def test_diff_has_one_entry_per_machine_even_when_two_share_a_name(run_module, conn, fresh_emulator):
    result = run(run_module, conn, check_mode=True, diff=True, machines=list(REIMAGED), action='av_scan')
    assert sorted(result['diff']['before']) == sorted(REIMAGED) and sorted(result['diff']['after']) == sorted(REIMAGED)
    assert set(result['diff']['after'].values()) == {'Pending'}
