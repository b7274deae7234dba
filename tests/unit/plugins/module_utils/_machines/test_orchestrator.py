# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestrator and the isolation spec without HTTP: a fake directory (resolution and history) and a scripted
client (the writes), so each decision, the guard, check mode and the report are tested on their own."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import types

from ansible_collections.defender.atp.plugins.module_utils._machines import history as actions_mod
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import NOOP, SEND, Decision
from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import ActionSpec, Orchestrator
from ansible_collections.defender.atp.plugins.module_utils._machines.desired_state import IsolationSpec
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import Entry, Resolution
from ansible_collections.defender.atp.plugins.module_utils._machines.sender import Outcome

IDS = dict((name, ('%x' % n) * 40) for n, name in enumerate(['idle', 'isolated', 'releasing', 'isolating', 'offline'], 1))


def machine(name, health='Active'):
    return {'id': IDS[name], 'computerDnsName': name + '.contoso.com', 'healthStatus': health}


def action(name, kind, status, minute, scope=None, action_id=None):
    return {'id': action_id or '%s-%s-%d' % (name, kind, minute), 'type': kind, 'status': status, 'machineId': IDS[name],
            'scope': scope, 'creationDateTimeUtc': '2026-01-05T08:%02d:00Z' % minute}


HISTORY = {
    IDS['idle']: [],
    IDS['isolated']: [action('isolated', 'Isolate', 'Succeeded', 1, 'Full')],
    IDS['releasing']: [action('releasing', 'Isolate', 'Succeeded', 1, 'Full'), action('releasing', 'Unisolate', 'Pending', 2)],
    IDS['isolating']: [action('isolating', 'Isolate', 'InProgress', 3, 'Full')],
    IDS['offline']: [],
}


class FakeDirectory(object):
    def __init__(self, machines, history):
        self.machines = dict((m['computerDnsName'], m) for m in machines)
        self.history = history
        self.reads = []

    def resolve(self, entries):
        found = []
        for entry in entries:
            known = self.machines.get(entry.input)
            found.append(Resolution(entry, machine=known, matched_by='name') if known else
                         Resolution(entry, error='no machine is named %s' % entry.input))
        return found

    def machine_actions(self, machine_ids, action_types=None):
        self.reads.append(list(machine_ids))
        return dict((i, list(self.history.get(i, []))) for i in machine_ids)


class Client(object):
    """Answers every POST with a new Pending action of the type the path names, and records it."""

    def __init__(self):
        self.settings = types.SimpleNamespace(max_retry_wait=300, max_retries=2, timeout=10)
        self.posts = []
        self.lock = threading.Lock()

    def post(self, path, body=None, **kwargs):
        machine_id, verb = path.split('/')[3:5]
        kind = {'isolate': 'Isolate', 'unisolate': 'Unisolate', 'runAntiVirusScan': 'RunAntiVirusScan'}[verb]
        with self.lock:
            self.posts.append((path, body))
            return {'id': 'new-%d' % len(self.posts), 'type': kind, 'status': 'Pending', 'machineId': machine_id,
                    'scope': body.get('IsolationType') or body.get('ScanType'), 'creationDateTimeUtc': '2026-01-05T09:00:00Z'}


def orchestrate(spec, names, history=None, **options):
    machines = [machine(n, 'Inactive' if n == 'offline' else 'Active') for n in IDS]
    directory = FakeDirectory(machines, HISTORY if history is None else history)
    client = Client()
    report = Orchestrator(spec, client, directory=directory, **options).run([Entry(n + '.contoso.com') for n in names])
    by_name = dict((m['input'].split('.')[0], m) for m in report.result['machines'])
    return report, by_name, client, directory


def test_each_machine_gets_its_own_decision_and_one_write_at_most():
    spec = IsolationSpec('isolated', 'IR-1', 'Full')
    report, by_name, client, directory = orchestrate(spec, ['idle', 'isolated', 'releasing', 'isolating', 'ghost'],
                                                     allow_partial=False)
    assert [p for p, _b in client.posts] == ['/api/machines/%s/isolate' % IDS['idle']]
    assert client.posts[0][1] == {'Comment': 'IR-1', 'IsolationType': 'Full'}
    assert by_name['idle']['changed'] and by_name['idle']['state'] == 'isolating' and by_name['idle']['action']['id'] == 'new-1'
    assert not by_name['isolated']['changed'] and by_name['isolated']['state'] == 'isolated'
    assert 'opposite direction' in by_name['releasing']['error'] and by_name['releasing']['state'] == 'unisolating'
    assert not by_name['isolating']['changed'] and by_name['isolating']['action']['status'] == 'InProgress'
    assert by_name['ghost']['error'].startswith('no machine is named') and by_name['ghost']['state'] is None
    assert report.result['summary'] == dict(total=5, changed=1, unchanged=2, failed=2, pending=2)
    assert report.failed and report.result['changed'] is True
    assert report.msg.startswith('sent isolate request for 1 machine, 2 already isolated or under way, 2 still pending, '
                                 '2 failed: releasing.contoso.com (an Unisolate action')
    assert directory.reads == [[IDS['idle'], IDS['isolated'], IDS['releasing'], IDS['isolating']]]  # one batched read


def test_check_mode_predicts_without_writing():
    spec = IsolationSpec('isolated', 'IR-1', 'Selective')
    real, real_by_name, _client, _d = orchestrate(spec, ['idle', 'isolated'], diff=True)
    predicted, by_name, client, _d = orchestrate(spec, ['idle', 'isolated'], check_mode=True, diff=True)
    assert client.posts == []
    for name in ('idle', 'isolated'):
        for key in ('previous_state', 'state', 'changed', 'isolation_type'):
            assert by_name[name][key] == real_by_name[name][key], (name, key)
    assert by_name['idle']['isolation_type'] == 'Selective' and by_name['idle']['action'] is None
    assert predicted.result['summary'] == real.result['summary'] and predicted.result['diff'] == real.result['diff']
    assert predicted.msg.startswith('would send isolate request for 1 machine')


def test_max_machines_counts_only_writes_and_refuses_before_any():
    spec = IsolationSpec('isolated', 'IR-2')
    report, by_name, client, _d = orchestrate(spec, ['isolated', 'idle', 'offline'], max_machines=1)
    assert client.posts == [] and report.failed and report.result['changed'] is False
    assert 'Refusing to act: 2 machines would be isolated, more than max_machines (1)' in report.msg
    assert by_name['idle']['state'] == 'unisolated' and not by_name['idle']['changed']
    assert orchestrate(spec, ['isolated', 'idle', 'offline'], max_machines=2)[0].result['summary']['changed'] == 2


def test_an_offline_machine_is_pending_with_a_warning():
    report, by_name, _client, _d = orchestrate(IsolationSpec('isolated', 'IR-3'), ['offline'])
    assert by_name['offline']['state'] == 'isolating' and report.result['summary']['pending'] == 1
    assert any('Inactive' in w for w in by_name['offline']['warnings'])
    assert any(w.startswith('offline.contoso.com: the machine is Inactive') for w in report.warnings)


# -- the isolation spec's pure steps -----------------------------------------------------------------------------------

def sent(result_state, action=None, error=None, created=True, sent_flag=True, actions=None):
    outcome = Outcome(None)
    outcome.action, outcome.error, outcome.created, outcome.sent, outcome.actions = action, error, created, sent_flag, actions
    result = types.SimpleNamespace(previous_state=result_state, state='isolating')
    return outcome, result


def test_after_write_in_the_other_direction_is_a_conflict():
    outcome, result = sent('unisolated', action=action('idle', 'Unisolate', 'Pending', 5))
    decision = IsolationSpec('isolated', 'c').after_write(result, outcome)
    assert decision.updates['state'] == 'unisolating' and 'existing Unisolate action' in decision.updates['error']


def test_after_write_succeeded_at_once_and_failed_answers():
    spec = IsolationSpec('isolated', 'c')
    decision = spec.after_write(*reversed(sent('unisolated', action=action('idle', 'Isolate', 'Succeeded', 5, 'Full'))))
    assert decision.updates['state'] == 'isolated' and decision.updates.get('error') is None
    decision = spec.after_write(*reversed(sent('unisolated', action=action('idle', 'Isolate', 'Failed', 5))))
    assert decision.updates['state'] == 'unisolated' and 'answered with status Failed' in decision.updates['error']
    read_again = [action('idle', 'Isolate', 'Succeeded', 1)]
    decision = spec.after_write(*reversed(sent('unisolated', error='HTTP 500', sent_flag=True, actions=read_again)))
    assert decision.updates == dict(state='isolated', error='HTTP 500', changed=False)


def test_after_wait():
    spec = IsolationSpec('isolated', 'c')
    result = types.SimpleNamespace(state='isolating')
    cancelled = action('idle', 'Isolate', 'Cancelled', 5)
    decision = spec.after_wait(result, [cancelled], cancelled)
    assert decision.updates['state'] == 'unisolated' and 'ended with status Cancelled' in decision.updates['error']
    done = action('idle', 'Isolate', 'Succeeded', 5)
    newer = action('idle', 'Unisolate', 'Pending', 6)
    decision = spec.after_wait(result, [done, newer], done)
    assert decision.updates['state'] == 'unisolating' and 'newer action' in decision.warnings[0]
    still = action('idle', 'Isolate', 'Pending', 5)
    assert spec.after_wait(result, [still], still).updates['state'] == 'isolating'


# -- a one-shot action plugs in with the base class's defaults ------------------------------------------------------------

class ScanSpec(ActionSpec):
    verb = 'antivirus scan'

    def read_actions(self, directory, machine_ids):
        return directory.machine_actions(machine_ids)

    def decide(self, machine, actions):
        running = [a for a in actions if a['type'] == 'RunAntiVirusScan' and actions_mod.is_active(a)]
        if running:
            return Decision(NOOP, action=running[0], track=running[0]['id'])
        return Decision(SEND)

    def request(self, result):
        return ('/api/machines/%s/runAntiVirusScan' % result.machine_id, {'Comment': 'c', 'ScanType': 'Quick'},
                'RunAntiVirusScan')


def test_a_one_shot_action_uses_the_same_orchestrator():
    history = {IDS['idle']: [action('idle', 'RunAntiVirusScan', 'Succeeded', 1)],
               IDS['isolated']: [action('isolated', 'RunAntiVirusScan', 'InProgress', 2)]}
    report, by_name, client, _d = orchestrate(ScanSpec(), ['idle', 'isolated'], history=history)
    assert [p for p, _b in client.posts] == ['/api/machines/%s/runAntiVirusScan' % IDS['idle']]  # a finished scan does not count
    assert by_name['idle']['changed'] and by_name['idle']['action']['status'] == 'Pending'
    assert not by_name['isolated']['changed'] and by_name['isolated']['action']['status'] == 'InProgress'
    assert report.result['summary'] == dict(total=2, changed=1, unchanged=1, failed=0, pending=2)
    assert report.msg == 'sent antivirus scan request for 1 machine, 1 already done or under way, 2 still pending.'


# -- force and the age of the history (issue 12, section 5) --------------------------------------------------------------

NOW = __import__('datetime').datetime(2026, 3, 1, 8, 0, tzinfo=__import__('datetime').timezone.utc)


def test_state_source_names_the_action_and_its_age():
    spec = IsolationSpec('isolated', 'c', now=NOW)
    history = [action('isolated', 'Isolate', 'Succeeded', 1, 'Full', action_id='old-isolate'),
               action('isolated', 'Unisolate', 'Failed', 2)]
    decision = spec.decide(machine('isolated'), history)
    assert decision.op == NOOP
    assert decision.fields['state_source'] == dict(id='old-isolate', type='Isolate', status='Succeeded',
                                                   creation_time='2026-01-05T08:01:00Z', age_days=55.0)
    assert any('55 days old (more than state_max_age_days, 30)' in w and 'force: true' in w and 'iptables' in w
               for w in decision.warnings)
    assert spec.decide(machine('idle'), []).fields['state_source'] is None


def test_a_recent_source_or_a_sent_request_gives_no_age_warning():
    history = [action('isolated', 'Isolate', 'Succeeded', 1, 'Full')]
    assert not IsolationSpec('isolated', 'c', now=NOW, max_age_days=60).decide(machine('isolated'), history).warnings
    # Releasing it sends a request: an old history does not matter then.
    decision = IsolationSpec('unisolated', 'c', now=NOW).decide(machine('isolated'), history)
    assert decision.op == SEND and not decision.warnings


def test_force_sends_to_a_machine_the_history_says_is_done_but_adopts_one_under_way():
    forced = IsolationSpec('isolated', 'c', isolation_type='Selective', force=True, now=NOW)
    done = forced.decide(machine('isolated'), [action('isolated', 'Isolate', 'Succeeded', 1, 'Full')])
    assert done.op == SEND and 'force' in done.reason and not done.warnings  # no "left as it is" for the other type
    under_way = forced.decide(machine('isolating'), [action('isolating', 'Isolate', 'InProgress', 3, 'Full')])
    assert under_way.op == NOOP
    conflict = forced.decide(machine('releasing'), HISTORY[IDS['releasing']])
    assert conflict.op == 'conflict'
    # After ActiveRequestAlreadyExists the existing action is taken, force or not.
    assert forced.reconsider(machine('isolated'), [action('isolated', 'Isolate', 'Succeeded', 1, 'Full')]).op == NOOP


def test_force_through_the_orchestrator_sends_once_per_machine_and_reports_a_change():
    spec = IsolationSpec('isolated', 'c', force=True, now=NOW)
    report, by_name, client, _d = orchestrate(spec, ['isolated', 'isolating', 'idle'])
    assert sorted(p for p, _b in client.posts) == sorted('/api/machines/%s/isolate' % IDS[n] for n in ('isolated', 'idle'))
    assert by_name['isolated']['changed'] and by_name['isolated']['previous_state'] == 'isolated'
    assert by_name['isolated']['state'] == 'isolating' and by_name['isolated']['state_source']['type'] == 'Isolate'
    assert not by_name['isolating']['changed']
    assert report.result['changed'] and report.result['summary']['changed'] == 2
