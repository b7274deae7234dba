# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_machine_isolate, run in-process against the emulator (real HTTPS, real request log).

Default data used here (tests/emulator/data.py): ws-finance-01/02 and ws-it-01 have no isolation history;
ws-finance-03 and srv-web-02 are isolated (Full); desktop-test is isolated (Selective); ws-hr-01 was
isolated then released; laptop-travel-07 (Inactive) has a Pending isolate; ws-eng-05 only has
Failed/Cancelled/TimeOut isolates; ws-reimaged.contoso.com is two machines; ws-offline-01 is Inactive
(offline: its actions stay Pending); WS-Sales-01.Contoso.com is stored in mixed case.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading
import time
import types

import pytest

from ansible_collections.defender.atp.plugins.module_utils._machines.desired_state import IsolationSpec
from ansible_collections.defender.atp.plugins.modules import atp_machine_isolate

ISOLATE_PATH = r'^/api/machines/[0-9a-f]{40}/isolate$'


def run(run_module, conn, check_mode=False, diff=False, **args):
    merged = dict(conn)
    merged.setdefault('comment', 'IR-1: unit test')
    merged.update(args)
    return run_module(atp_machine_isolate.main, merged, check_mode=check_mode, diff=diff)


def writes(emulator, kind=None):
    """POSTs to /api/machines/{id}/(isolate|unisolate) in the request log."""
    found = []
    for entry in emulator.requests_log():
        if entry['method'] != 'POST' or not entry['path'].startswith('/api/machines/'):
            continue
        action = entry['path'].rsplit('/', 1)[-1]
        if kind is None or action == kind:
            found.append(entry)
    return found


def requests_of(emulator, path_prefix):
    return [e for e in emulator.requests_log() if e['path'].startswith(path_prefix)]


def machine_state(emulator, name_or_id):
    return emulator.machine_state(name_or_id)


def by_input(result):
    return dict((m['input'], m) for m in result['machines'])


def held_at_the_server(emulator, fault_id):
    """Return once our request has reached the emulator and is held there by the delay fault ``fault_id``: the other
    tool then acts while our request is certainly in flight (an event, not a guess at timing)."""
    def applied():
        return any(rule['id'] == fault_id and rule['applied'] for rule in emulator._control('GET', 'faults'))
    emulator.wait_for(applied, timeout=20, interval=0.02)


@pytest.fixture
def fast_actions(fresh_emulator):
    fresh_emulator.set_config(pending_seconds=0.2, inprogress_seconds=0.2)
    return fresh_emulator


# -- the basics ----------------------------------------------------------------------------------------------------------

def test_isolate_two_machines_then_run_again(run_module, conn, fresh_emulator):
    first = run(run_module, conn, machines=['ws-finance-01.contoso.com', 'WS-FINANCE-02.contoso.com'])
    assert first['changed'] is True and not first.get('failed')
    assert first['summary'] == dict(total=2, changed=2, unchanged=0, failed=0, pending=2)
    for entry in first['machines']:
        assert entry['previous_state'] == 'unisolated' and entry['state'] == 'isolating' and entry['changed']
        assert entry['action']['type'] == 'Isolate' and entry['action']['status'] == 'Pending'
        assert entry['action']['scope'] == 'Full' and entry['isolation_type'] == 'Full' and entry['error'] is None
    assert len(writes(fresh_emulator, 'isolate')) == 2
    assert first['http_stats']['token_requests'] == 1 and first['auth_method'] == 'client_secret'
    # Resolution and state reading cost one request each for the whole list.
    assert len(requests_of(fresh_emulator, '/api/machines?')) + len(
        [e for e in fresh_emulator.requests_log() if e['path'] == '/api/machines']) == 1
    assert len([e for e in fresh_emulator.requests_log() if e['path'] == '/api/machineactions']) == 1

    fresh_emulator.reset()  # the log only
    second = run(run_module, conn, machines=['ws-finance-01.contoso.com', 'WS-FINANCE-02.contoso.com'])
    assert second['changed'] is False and not second.get('failed')
    assert second['summary'] == dict(total=2, changed=0, unchanged=2, failed=0, pending=2)
    assert [m['state'] for m in second['machines']] == ['isolating', 'isolating']
    assert [m['action']['id'] for m in second['machines']] == [m['action']['id'] for m in first['machines']]
    assert writes(fresh_emulator) == []


def test_the_comment_and_isolation_type_reach_the_api(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-it-01.contoso.com'], isolation_type='Selective', comment="IR-7 'quoted'")
    entry = result['machines'][0]
    assert entry['action']['scope'] == 'Selective' and entry['isolation_type'] == 'Selective'
    assert entry['action']['requestor_comment'] == "IR-7 'quoted'"
    state = machine_state(fresh_emulator, 'ws-it-01.contoso.com')
    assert [(a['type'], a['scope'], a['requestorComment']) for a in state['actions']] == [('Isolate', 'Selective', "IR-7 'quoted'")]


def test_unisolate(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-finance-03.contoso.com', 'ws-hr-01.contoso.com', 'ws-it-01'],
                 state='unisolated')
    entries = by_input(result)
    assert entries['ws-finance-03.contoso.com']['previous_state'] == 'isolated'
    assert entries['ws-finance-03.contoso.com']['state'] == 'unisolating' and entries['ws-finance-03.contoso.com']['changed']
    assert entries['ws-finance-03.contoso.com']['action']['type'] == 'Unisolate'
    assert entries['ws-finance-03.contoso.com']['isolation_type'] is None
    assert not entries['ws-hr-01.contoso.com']['changed'] and entries['ws-hr-01.contoso.com']['state'] == 'unisolated'
    assert not entries['ws-it-01']['changed'] and entries['ws-it-01']['state'] == 'unisolated'
    assert [w['path'].split('/')[3] for w in writes(fresh_emulator, 'unisolate')] == [entries['ws-finance-03.contoso.com']['machine_id']]
    assert writes(fresh_emulator, 'isolate') == []


def test_failed_history_is_not_isolated(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-eng-05.contoso.com'])
    entry = result['machines'][0]
    assert entry['previous_state'] == 'unisolated' and entry['changed']


# -- check mode and diff ---------------------------------------------------------------------------------------------------

def test_check_mode_predicts_the_real_run_without_writing(run_module, conn, fresh_emulator):
    machines = ['ws-finance-01.contoso.com', 'ws-finance-03.contoso.com', 'laptop-travel-07.contoso.com', 'nope.contoso.com']
    predicted = run(run_module, conn, check_mode=True, diff=True, machines=machines, allow_partial=True)
    assert writes(fresh_emulator) == []
    assert all(e['method'] == 'GET' for e in fresh_emulator.requests_log() if e['path'].startswith('/api/'))
    real = run(run_module, conn, diff=True, machines=machines, allow_partial=True)
    keys = ('input', 'machine_id', 'previous_state', 'state', 'changed', 'isolation_type')
    assert [dict((k, m[k]) for k in keys) for m in predicted['machines']] == \
        [dict((k, m[k]) for k in keys) for m in real['machines']]
    assert predicted['changed'] is True and real['changed'] is True
    assert predicted['summary'] == real['summary']
    assert predicted['diff'] == real['diff']
    assert predicted['msg'].startswith('would send isolate request for 1 machine,')
    assert [m['error'] is not None for m in predicted['machines']] == [False, False, False, True]


def test_diff_shows_before_and_after_per_machine(run_module, conn, fresh_emulator):
    result = run(run_module, conn, diff=True, machines=['ws-finance-01.contoso.com', '7b1f4967d9728e5aa3c06a9e617a22a4a5a17378'])
    # Keyed by machine id: two machines may share a DNS name.
    assert result['diff'] == {
        'before': {'958229471430993e9cde904f77fed63aeff7ceb4': 'unisolated',
                   '7b1f4967d9728e5aa3c06a9e617a22a4a5a17378': 'isolated'},
        'after': {'958229471430993e9cde904f77fed63aeff7ceb4': 'isolating',
                  '7b1f4967d9728e5aa3c06a9e617a22a4a5a17378': 'isolated'},
    }
    assert 'diff' not in run(run_module, conn, machines=['ws-finance-01.contoso.com'])


def test_two_machines_sharing_a_name_have_one_diff_entry_each(run_module, conn, fresh_emulator):
    both = ['744a2d6bfb65292193245b09362096e4079af052', 'fc82a70282c83b4ea21f5b989cd41871b6c42418']
    result = run(run_module, conn, check_mode=True, diff=True, machines=both)
    assert result['diff'] == {'before': dict((i, 'unisolated') for i in both),
                              'after': dict((i, 'isolating') for i in both)}


# -- idempotence edge cases --------------------------------------------------------------------------------------------------

def test_pending_action_in_the_desired_direction_counts_as_done(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['laptop-travel-07.contoso.com'])
    entry = result['machines'][0]
    assert result['changed'] is False and entry['state'] == 'isolating' and entry['previous_state'] == 'isolating'
    assert entry['action']['status'] == 'Pending' and result['summary']['pending'] == 1
    assert any('Inactive' in w for w in entry['warnings'])
    assert writes(fresh_emulator) == []


def test_pending_action_in_the_opposite_direction_is_an_error_for_that_machine(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['laptop-travel-07.contoso.com', 'ws-finance-03.contoso.com'], state='unisolated')
    assert result['failed'] is True and result['changed'] is True
    entries = by_input(result)
    error = entries['laptop-travel-07.contoso.com']['error']
    assert 'opposite direction' in error and 'Isolate action' in error and 'Pending' in error
    assert entries['ws-finance-03.contoso.com']['changed'] and entries['ws-finance-03.contoso.com']['error'] is None
    assert 'laptop-travel-07.contoso.com' in result['msg']
    assert len(writes(fresh_emulator)) == 1


def test_an_isolation_of_another_type_is_left_alone_with_a_warning(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['desktop-test'], isolation_type='Full')
    entry = result['machines'][0]
    assert result['changed'] is False and entry['state'] == 'isolated' and entry['isolation_type'] == 'Selective'
    assert any('Selective' in w and 'Full' in w for w in entry['warnings'])
    assert writes(fresh_emulator) == []


def test_active_request_already_exists_is_read_again_and_not_a_failure(run_module, conn, fresh_emulator):
    """Another tool isolates the machine between our read and our request: the API answers 400."""
    target = fresh_emulator.machine_state('ws-finance-01.contoso.com')['machine']['id']
    fault = fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', delay=2.0, times=1)
    token = fresh_emulator.token()

    def other_tool():
        held_at_the_server(fresh_emulator, fault)
        fresh_emulator.call('POST', '/api/machines/%s/isolate' % target, {'Comment': 'SOAR', 'IsolationType': 'Full'},
                            {'Authorization': 'Bearer ' + token})

    thread = threading.Thread(target=other_tool)
    thread.start()
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    thread.join()
    entry = result['machines'][0]
    assert not result.get('failed') and entry['error'] is None
    assert entry['changed'] is False and entry['state'] == 'isolating'
    assert entry['action']['requestor_comment'] == 'SOAR'
    assert any('ActiveRequestAlreadyExists' in w for w in entry['warnings'])
    statuses = [w['status'] for w in writes(fresh_emulator, 'isolate')]
    assert sorted(statuses) == [201, 400]
    assert len(fresh_emulator.machine_state(target)['actions']) == 1


def test_active_request_already_exists_in_the_other_direction_is_a_conflict(run_module, conn, fresh_emulator):
    target = fresh_emulator.machine_state('ws-finance-03.contoso.com')['machine']['id']
    # Our release is held for 5 s once it reached the server: room for the other tool's call on a loaded machine.
    fault = fresh_emulator.add_fault(path=r'/unisolate$', method='POST', delay=5.0, times=1)
    token = fresh_emulator.token()

    def other_tool():
        held_at_the_server(fresh_emulator, fault)
        # Someone releases and immediately re-isolates: an Isolate is pending when our release arrives.
        fresh_emulator.call('POST', '/api/machines/%s/isolate' % target, {'Comment': 'SOAR', 'IsolationType': 'Full'},
                            {'Authorization': 'Bearer ' + token})

    thread = threading.Thread(target=other_tool)
    thread.start()
    result = run(run_module, conn, machines=['ws-finance-03.contoso.com'], state='unisolated', allow_partial=True)
    thread.join()
    entry = result['machines'][0]
    # Our release arrived while the SOAR's isolate was pending: the API said 400, the re-read shows why.
    assert 'opposite direction' in entry['error'] and 'SOAR' not in entry['error']
    assert entry['state'] == 'isolating' and not entry['changed']
    assert result['summary']['failed'] == 1 and not result.get('failed')  # allow_partial
    assert sorted(w['status'] for w in writes(fresh_emulator)) == [201, 400]


def test_force_isolates_a_machine_the_history_says_is_isolated_once(run_module, conn, fresh_emulator):
    """Issue 12 section 5: isolation can end outside the API, so force sends anyway; once per run, and a second forced
    run adopts the action still under way instead of sending again."""
    name = 'ws-finance-03.contoso.com'
    machine_id = fresh_emulator.machine_state(name)['machine']['id']
    first = run(run_module, conn, machines=[name, machine_id.upper(), 'WS-FINANCE-03'], force=True)
    entry = first['machines'][0]
    assert first['changed'] is True and entry['changed'] and entry['previous_state'] == 'isolated'
    assert entry['state'] == 'isolating' and entry['action']['status'] == 'Pending'
    assert entry['state_source']['type'] == 'Isolate' and entry['state_source']['status'] == 'Succeeded'
    assert entry['state_source']['age_days'] >= 0 and entry['state_source']['id'] != entry['action']['id']
    assert len(writes(fresh_emulator, 'isolate')) == 1
    second = run(run_module, conn, machines=[name], force=True)
    assert second['changed'] is False and second['machines'][0]['action']['id'] == entry['action']['id']
    assert second['machines'][0]['state_source']['id'] == entry['action']['id']
    assert len(writes(fresh_emulator, 'isolate')) == 1


def test_an_old_state_source_is_a_warning(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-finance-03.contoso.com', 'ws-it-01.contoso.com'], state_max_age_days=0.0001)
    entries = by_input(result)
    old = entries['ws-finance-03.contoso.com']
    assert not old['changed'] and any('state_max_age_days' in w and 'force: true' in w for w in old['warnings'])
    assert entries['ws-it-01.contoso.com']['state_source'] is None  # no history: nothing to be old
    assert run(run_module, conn, machines=['ws-1'], state_max_age_days=0)['msg'].startswith('state_max_age_days must be')


# -- resolution ------------------------------------------------------------------------------------------------------------------

def test_ambiguous_name_fails_that_entry_with_candidates(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-reimaged.contoso.com', 'ws-finance-01.contoso.com'])
    assert result['failed'] is True and result['changed'] is True
    entry = by_input(result)['ws-reimaged.contoso.com']
    assert entry['machine_id'] is None and entry['state'] is None and not entry['changed']
    assert len(entry['candidates']) == 2
    assert [c['health_status'] for c in entry['candidates']] == ['Active', 'Inactive']  # newest lastSeen first
    assert all(c['last_seen'] and c['machine_id'] in entry['error'] for c in entry['candidates'])
    assert 'ws-reimaged.contoso.com' in result['msg'] and '1 failed' in result['msg']
    assert len(writes(fresh_emulator)) == 1  # the other machine was still isolated


@pytest.mark.parametrize('allow_partial', [False, True])
def test_unknown_machine_with_allow_partial(run_module, conn, fresh_emulator, allow_partial):
    result = run(run_module, conn, machines=['ghost.contoso.com', 'ws-finance-02.contoso.com'], allow_partial=allow_partial)
    assert bool(result.get('failed')) is not allow_partial
    assert result['summary'] == dict(total=2, changed=1, unchanged=0, failed=1, pending=1)
    assert 'ghost.contoso.com (no machine is named ghost.contoso.com' in result['msg']
    assert by_input(result)['ghost.contoso.com']['error'].startswith('no machine is named')
    assert len(writes(fresh_emulator)) == 1


def test_names_ids_short_names_case_and_duplicates(run_module, conn, fresh_emulator):
    finance = fresh_emulator.machine_state('ws-finance-01.contoso.com')['machine']['id']
    result = run(run_module, conn, machines=[
        'ws-finance-01.contoso.com', finance.upper(), 'WS-FINANCE-01', 'ws-sales-01.contoso.com', 'ws-sales-01.contoso.com'])
    assert len(result['machines']) == 2
    first, sales = result['machines']
    assert first['inputs'] == ['ws-finance-01.contoso.com', finance.upper(), 'WS-FINANCE-01'] and first['machine_id'] == finance
    assert sales['computer_dns_name'] == 'WS-Sales-01.Contoso.com' and sales['matched_by'] == 'name'
    assert len(writes(fresh_emulator)) == 2


def test_hostile_names_are_refused_before_any_request(run_module, conn, fresh_emulator):
    """No machine name holds quotes or OData syntax: such entries are input errors (the escaping that keeps them from
    widening a lookup is tested in _machines/test_directory.py and the property tests)."""
    hostile = ["x' or computerDnsName ne 'x", "ws-finance-01.contoso.com' or '1' eq '1", "') or true or ('"]
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'] + hostile, allow_partial=True)
    assert result['failed'] is True
    assert 'item 2' in result['msg'] and 'item 3' in result['msg'] and 'item 4' in result['msg']
    assert 'not a machine id or computer DNS name' in result['msg']
    assert fresh_emulator.requests_log() == []


# -- guards ----------------------------------------------------------------------------------------------------------------------

def test_max_machines_refuses_before_any_write(run_module, conn, fresh_emulator):
    machines = ['ws-finance-01.contoso.com', 'ws-finance-02.contoso.com', 'ws-it-01.contoso.com']
    result = run(run_module, conn, machines=machines, max_machines=2)
    assert result['failed'] is True and result['changed'] is False
    assert 'max_machines (2)' in result['msg'] and '3 machines' in result['msg']
    assert writes(fresh_emulator) == []
    assert [m['state'] for m in result['machines']] == ['unisolated'] * 3
    # Check mode refuses the same way.
    assert run(run_module, conn, check_mode=True, machines=machines, max_machines=2)['failed'] is True


def test_max_machines_counts_only_machines_to_act_on(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-finance-03.contoso.com', 'srv-web-02.contoso.com', 'ws-it-01.contoso.com'],
                 max_machines=1)
    assert not result.get('failed') and result['summary']['changed'] == 1 and result['summary']['unchanged'] == 2


@pytest.mark.parametrize('args, message', [
    (dict(machines=[]), 'machines is empty'),
    (dict(machines=['ws-1', '  ']), "item 2 ('  ': empty)"),
    (dict(machines=['ws-1'], comment='  '), 'comment must not be empty'),
    (dict(machines=['ws-1'], max_machines=0), 'max_machines must be 1 or more'),
    (dict(machines=['ws-1'], poll_interval=0), 'poll_interval must be more than 0'),
])
def test_invalid_options_fail_before_any_request(run_module, conn, fresh_emulator, args, message):
    result = run(run_module, conn, **args)
    assert result['failed'] is True and message in result['msg']
    assert fresh_emulator.requests_log() == []


# -- waiting ---------------------------------------------------------------------------------------------------------------------

def test_wait_until_succeeded(run_module, conn, fast_actions):
    started = time.time()
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com', 'ws-it-01.contoso.com'], wait=True,
                 poll_interval=0.2, wait_timeout=30)
    assert time.time() - started < 10
    assert result['changed'] is True and result['summary']['pending'] == 0
    for entry in result['machines']:
        assert entry['state'] == 'isolated' and entry['action']['status'] == 'Succeeded' and entry['previous_state'] == 'unisolated'
    polls = [e for e in fast_actions.requests_log() if e['path'] == '/api/machineactions']
    assert 2 <= len(polls) <= 10  # one batched read per round for both machines


def test_wait_reports_an_offline_machine_as_pending(run_module, conn, fast_actions):
    started = time.time()
    result = run(run_module, conn, machines=['ws-offline-01.contoso.com', 'ws-finance-01.contoso.com'], wait=True,
                 poll_interval=0.3, wait_timeout=2)
    assert 1.9 <= time.time() - started < 8
    assert not result.get('failed')
    entries = by_input(result)
    offline = entries['ws-offline-01.contoso.com']
    assert offline['state'] == 'isolating' and offline['action']['status'] == 'Pending' and offline['error'] is None
    assert any('Inactive' in w for w in offline['warnings'])
    assert entries['ws-finance-01.contoso.com']['state'] == 'isolated'
    assert result['summary'] == dict(total=2, changed=2, unchanged=0, failed=0, pending=1)
    assert '1 still pending' in result['msg']


def test_wait_includes_actions_already_under_way(run_module, conn, fast_actions):
    first = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    second = run(run_module, conn, machines=['ws-finance-01.contoso.com'], wait=True, poll_interval=0.2, wait_timeout=20)
    assert second['changed'] is False and second['machines'][0]['state'] == 'isolated'
    assert second['machines'][0]['action']['id'] == first['machines'][0]['action']['id']


def test_a_cancelled_action_while_waiting_fails_that_machine(run_module, conn, fresh_emulator):
    fresh_emulator.set_config(pending_seconds=30, inprogress_seconds=30)
    target = fresh_emulator.machine_state('ws-finance-01.contoso.com')['machine']['id']
    token = fresh_emulator.token()

    def cancel_soon():
        def pending():
            actions = fresh_emulator.machine_state(target)['actions']
            return actions[-1]['id'] if actions else None
        action_id = fresh_emulator.wait_for(pending, timeout=10)
        fresh_emulator.call('POST', '/api/machineactions/%s/cancel' % action_id, {'Comment': 'wrong machine'},
                            {'Authorization': 'Bearer ' + token})

    thread = threading.Thread(target=cancel_soon)
    thread.start()
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'], wait=True, poll_interval=0.2, wait_timeout=10)
    thread.join()
    entry = result['machines'][0]
    assert result['failed'] is True and 'Cancelled' in entry['error'] and entry['state'] == 'unisolated'
    assert result['summary']['failed'] == 1


# -- failures on the way -------------------------------------------------------------------------------------------------------------

def test_503_on_isolate_is_read_again_and_sent_once_more(run_module, conn, fresh_emulator):
    fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', status=503, times=1)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    entry = result['machines'][0]
    assert not result.get('failed') and entry['changed'] and entry['action']['status'] == 'Pending'
    assert [w['status'] for w in writes(fresh_emulator, 'isolate')] == [503, 201]
    assert len(fresh_emulator.machine_state('ws-finance-01.contoso.com')['actions']) == 1
    assert any('sent again' in w for w in entry['warnings'])


def test_dropped_connection_before_the_server_acted(run_module, conn, fresh_emulator):
    fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', drop=True, times=1)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    assert not result.get('failed') and result['machines'][0]['changed']
    assert len(writes(fresh_emulator, 'isolate')) == 2
    assert len(fresh_emulator.machine_state('ws-finance-01.contoso.com')['actions']) == 1


def test_timeout_after_the_server_acted_is_not_sent_again(run_module, conn, fresh_emulator):
    """The emulator applies a delayed request after the client gave up: the closest it gets to 'applied, then dropped'."""
    # The client's timeout must be long enough for every other request on a loaded 2-core machine (0.3 s was not), and
    # the delay under twice the timeout: after a timeout the actions are read again for as long as the client waited.
    fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', delay=1.8, times=1)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'], timeout=1.2)
    entry = result['machines'][0]
    assert not result.get('failed') and entry['changed'] and entry['error'] is None
    assert any('found applied' in w for w in entry['warnings'])
    assert len(writes(fresh_emulator, 'isolate')) == 1
    assert len(fresh_emulator.machine_state('ws-finance-01.contoso.com')['actions']) == 1


def test_404_on_a_just_resolved_machine_is_retried_once(run_module, conn, fresh_emulator):
    body = {'error': {'code': 'ResourceNotFound', 'message': 'Machine was not found', 'target': 'x'}}
    fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', status=404, body=body, times=1)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    assert not result.get('failed') and result['machines'][0]['changed']
    assert [w['status'] for w in writes(fresh_emulator, 'isolate')] == [404, 201]


def test_429_storm_is_survived(run_module, conn, fresh_emulator):
    fresh_emulator.add_fault(path=ISOLATE_PATH, method='POST', status=429, retry_after=1, times=6)
    machines = ['ws-finance-01.contoso.com', 'ws-finance-02.contoso.com', 'ws-it-01.contoso.com', 'ws-it-02.contoso.com']
    started = time.time()
    result = run(run_module, conn, machines=machines)
    assert result['changed'] is True and not result.get('failed') and result['summary']['changed'] == 4
    assert result['http_stats']['throttled'] == 6
    statuses = [w['status'] for w in writes(fresh_emulator, 'isolate')]
    assert statuses.count(429) == 6 and statuses.count(201) == 4
    # each machine isolated once: four accepted requests, to four machines
    assert len(set(w['path'] for w in writes(fresh_emulator, 'isolate') if w['status'] == 201)) == 4
    assert time.time() - started < 15


def test_real_rate_limit_is_honoured(run_module, conn, fresh_emulator):
    # 3 isolate requests per window of 60 s x 0.05 = 3 s: the 4th and 5th must wait for Retry-After.
    fresh_emulator.set_config(rate_limits={'isolate': {'per_minute': 3, 'per_hour': 1500}})
    machines = ['ws-finance-01.contoso.com', 'ws-finance-02.contoso.com', 'ws-it-01.contoso.com', 'ws-it-02.contoso.com',
                'ws-support-01.contoso.com']
    result = run(run_module, conn, machines=machines)
    assert not result.get('failed') and result['summary']['changed'] == 5
    assert [w['status'] for w in writes(fresh_emulator, 'isolate')].count(201) == 5
    assert result['http_stats']['throttled'] >= 1


def test_permission_error_stops_the_writes(run_module, conn, emu, fresh_emulator):
    limited = dict(conn, client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret'])
    result = run(run_module, limited, machines=['ws-finance-01.contoso.com', 'ws-finance-02.contoso.com', 'ws-it-01.contoso.com'])
    assert result['failed'] is True and result['summary']['failed'] == 3
    errors = [m['error'] for m in result['machines']]
    assert sum('403' in e and 'Machine.Isolate' in e for e in errors) >= 1
    assert len(writes(fresh_emulator)) < 3 or all('403' in e for e in errors)


def test_read_failure_fails_the_task_cleanly(run_module, conn, fresh_emulator):
    fresh_emulator.add_fault(path=r'^/api/machineactions$', method='GET', status=500)
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'], max_retries=1, max_retry_wait=2)
    assert result['failed'] is True and 'HTTP 500' in result['msg']
    assert writes(fresh_emulator) == []


def test_result_is_json_and_secret_free(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-finance-01.contoso.com'])
    assert conn['client_secret'] not in json.dumps(result)


# -- large lists -------------------------------------------------------------------------------------------------------------------

def test_a_large_list_costs_a_few_reads(run_module, conn, fresh_emulator):
    fresh_emulator.set_data(generate={'machines': 260})
    fresh_emulator.set_config(rate_limits_enabled=False)
    listing = fresh_emulator.call('GET', '/api/machines?$top=10000', headers={'Authorization': 'Bearer ' + fresh_emulator.token()})[1]
    names = [m['computerDnsName'] for m in listing['value']]
    unique = sorted(n for n in set(names) if names.count(n) == 1)[:240]
    fresh_emulator.reset()
    result = run(run_module, conn, machines=unique, max_machines=240, allow_partial=True)
    assert result['summary']['total'] == 240
    reads = [e for e in fresh_emulator.requests_log() if e['method'] == 'GET']
    assert len(reads) == 2  # one listing of machines, one of Isolate/Unisolate actions
    isolates = writes(fresh_emulator, 'isolate')
    assert len(isolates) == result['summary']['changed']
    assert len(set(w['path'] for w in isolates)) == len(isolates)  # at most one request per machine


def test_workers_renew_an_expiring_token_once(run_module, conn, fresh_emulator):
    """Short tokens and a slow quota: the concurrent workers share each renewal instead of each getting a token."""
    fresh_emulator.set_config(token_lifetime=2, rate_limits={'isolate': {'per_minute': 8, 'per_hour': 1500}})
    token = fresh_emulator.token()
    listing = fresh_emulator.call('GET', '/api/machines?$top=10000', headers={'Authorization': 'Bearer ' + token})[1]
    actions = fresh_emulator.call('GET', '/api/machineactions?$top=10000', headers={'Authorization': 'Bearer ' + token})[1]
    touched = set(a['machineId'] for a in actions['value'])
    machines = sorted(m['id'] for m in listing['value'] if m['id'] not in touched)[:20]
    fresh_emulator.reset()
    started = time.time()
    result = run(run_module, conn, machines=machines, max_machines=20)
    elapsed = time.time() - started
    assert not result.get('failed') and result['summary']['changed'] == 20
    tokens = [e for e in fresh_emulator.requests_log() if e.get('family') == 'token']
    # About one token per 2 s of run time (renewed shortly before expiry), never one per worker.
    assert len(tokens) <= elapsed / 1.5 + 2, (len(tokens), elapsed)
    assert result['http_stats']['token_requests'] == len(tokens)


def test_request_bodies_have_the_documented_shape():
    """The bodies match Microsoft's examples (isolate_request.json, unisolate_request.json): PascalCase keys only."""
    import os
    fixtures = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), 'emulator', 'fixtures')

    machine_id = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07'
    result = types.SimpleNamespace(machine={'id': machine_id}, machine_id=machine_id, label='mymachine1.contoso.com')

    for state, name in (('isolated', 'isolate_request.json'), ('unisolated', 'unisolate_request.json')):
        with open(os.path.join(fixtures, name)) as handle:
            documented = json.load(handle)
        path, body, action_type = IsolationSpec(state, documented['Comment'], 'Full').request(result)
        assert sorted(body) == sorted(documented)
        assert body['Comment'] == documented['Comment']
        if 'IsolationType' in documented:
            assert body['IsolationType'] == documented['IsolationType'].strip()
        assert path == '/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/%s' % name.split('_', maxsplit=1)[0]
        assert action_type == {'isolated': 'Isolate', 'unisolated': 'Unisolate'}[state]
