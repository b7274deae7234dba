# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The concurrent action sender: unknown write outcomes, ActiveRequestAlreadyExists, 404 retry, auth abort, pacing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

import pytest

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpWriteOutcomeUnknown
from ansible_collections.defender.atp.plugins.module_utils._machines.sender import (
    ADOPT, FAIL, RESEND, ActionSender, Job, is_active_request_error)
from ansible_collections.defender.atp.plugins.module_utils._http.pacing import Pacer


class Settings(object):
    max_retries = 2


class ScriptedClient(object):
    """``post`` answers from a per-machine script: a dict (the action) or an exception to raise."""

    def __init__(self, scripts):
        self.scripts = dict((k, list(v)) for k, v in scripts.items())
        self.posts = []
        self.settings = Settings()
        self.lock = threading.Lock()

    def post(self, path, body=None, **kwargs):
        machine_id = path.split('/')[3]
        with self.lock:
            self.posts.append(machine_id)
            answer = self.scripts[machine_id].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def job(machine_id, known=()):
    return Job(machine_id, '/api/machines/%s/isolate' % machine_id, {'Comment': 'c', 'IsolationType': 'Full'}, 'Isolate',
               known_action_ids=known)


def new_action(action_id, kind='Isolate', status='Pending', created='2026-01-05T08:00:00Z'):
    return {'id': action_id, 'type': kind, 'status': status, 'creationDateTimeUtc': created}


def unknown():
    return AtpWriteOutcomeUnknown('Isolate of machine m: HTTP 503; the request may or may not have been applied.', status=503)


def active_request():
    return AtpApiError('HTTP 400 ActiveRequestAlreadyExists', status=400, code='ActiveRequestAlreadyExists',
                       api_message='Action is already in progress')


def no_reconcile(job, actions):
    raise AssertionError('reconcile must not be called')


def test_plain_success():
    client = ScriptedClient({'m1': [new_action('a1')], 'm2': [new_action('a2')]})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1'), job('m2')])
    assert outcomes['m1'].action['id'] == 'a1' and outcomes['m1'].created and outcomes['m1'].error is None
    assert outcomes['m2'].action['id'] == 'a2'
    assert sorted(client.posts) == ['m1', 'm2']


def test_existing_action_handed_back_is_not_a_change():
    client = ScriptedClient({'m1': [new_action('old')]})
    outcome = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1', known=['OLD'])])['m1']
    assert outcome.action['id'] == 'old' and not outcome.created


def test_unknown_outcome_with_no_new_action_is_sent_again_once():
    client = ScriptedClient({'m1': [unknown(), new_action('a1')]})
    reads = []

    def read(machine_id):
        reads.append(machine_id)
        return [new_action('known', status='Succeeded')]

    outcome = ActionSender(client, read, no_reconcile).send_all([job('m1', known=['known'])])['m1']
    assert client.posts == ['m1', 'm1'] and reads == ['m1']
    assert outcome.action['id'] == 'a1' and outcome.created and outcome.error is None
    assert any('sent again' in note for note in outcome.notes)


def test_unknown_outcome_that_was_applied_is_not_sent_again():
    client = ScriptedClient({'m1': [unknown()]})
    applied = new_action('a1')
    outcome = ActionSender(client, lambda mid: [applied, new_action('known', status='Succeeded')], no_reconcile).send_all(
        [job('m1', known=['known'])])['m1']
    assert client.posts == ['m1']
    assert outcome.action is applied and outcome.created and outcome.error is None
    assert any('found applied' in note for note in outcome.notes)


def test_unknown_outcome_resends_are_bounded_by_max_retries():
    client = ScriptedClient({'m1': [unknown(), unknown(), unknown(), new_action('never')]})
    outcome = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1')])['m1']
    assert client.posts == ['m1'] * 3  # the first send plus max_retries (2) re-sends
    assert 'already sent 3 time(s)' in outcome.error and outcome.action is None


def test_active_request_already_exists_is_reconciled():
    pending = new_action('p1')
    client = ScriptedClient({'m1': [active_request()], 'm2': [active_request()], 'm3': [active_request(), new_action('a3')]})
    decisions = {'m1': (ADOPT, pending), 'm2': (FAIL, 'an Unisolate is pending'), 'm3': (RESEND, None)}
    seen = []

    def reconcile(job, actions):
        seen.append(job.machine_id)
        return decisions[job.machine_id]

    outcomes = ActionSender(client, lambda mid: [pending], reconcile).send_all([job('m1'), job('m2'), job('m3')])
    assert outcomes['m1'].action is pending and not outcomes['m1'].created and outcomes['m1'].error is None
    assert outcomes['m2'].error == 'an Unisolate is pending'
    assert outcomes['m3'].action['id'] == 'a3' and outcomes['m3'].created
    assert sorted(seen) == ['m1', 'm2', 'm3']


def test_active_request_message_without_code_is_recognised():
    assert is_active_request_error(AtpApiError('x', status=400, api_message='Action is already in progress'))
    assert not is_active_request_error(AtpApiError('x', status=400, code='InvalidRequestBody', api_message='bad'))
    assert not is_active_request_error(ValueError('x'))


def test_not_found_is_retried_once_after_a_pause():
    sleeps = []
    client = ScriptedClient({
        'm1': [AtpApiError('404', status=404, code='ResourceNotFound'), new_action('a1')],
        'm2': [AtpApiError('404', status=404, code='ResourceNotFound'), AtpApiError('404 again', status=404, code='ResourceNotFound')],
    })
    sender = ActionSender(client, lambda mid: [], no_reconcile, workers=1, sleep=sleeps.append)
    outcomes = sender.send_all([job('m1'), job('m2')])
    assert outcomes['m1'].action['id'] == 'a1'
    assert outcomes['m2'].error == '404 again'
    assert sleeps == [2.0, 2.0]


def test_permission_error_stops_the_remaining_writes():
    client = ScriptedClient({'m1': [AtpApiError('HTTP 403 Forbidden: Missing application roles', status=403,
                                                missing_permissions=['Machine.Isolate'])],
                             'm2': [new_action('never')], 'm3': [new_action('never')]})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile, workers=1).send_all([job('m1'), job('m2'), job('m3')])
    assert client.posts == ['m1']
    assert outcomes['m1'].error.startswith('HTTP 403')
    assert outcomes['m2'].error.startswith('not sent: an earlier request of this task was refused (HTTP 403')
    assert outcomes['m3'].error.startswith('not sent')


def test_other_api_errors_fail_only_that_machine():
    client = ScriptedClient({'m1': [AtpApiError('HTTP 400 OsPlatformNotSupported', status=400, code='OsPlatformNotSupported')],
                             'm2': [new_action('a2')]})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1'), job('m2')])
    assert 'OsPlatformNotSupported' in outcomes['m1'].error and outcomes['m2'].action['id'] == 'a2'


def test_an_answer_without_an_action_is_an_error():
    client = ScriptedClient({'m1': [None]})
    outcome = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1')])['m1']
    assert 'returned no machine action' in outcome.error


def test_unexpected_exceptions_stay_with_their_machine():
    client = ScriptedClient({'m1': [RuntimeError('boom')], 'm2': [new_action('a2')]})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1'), job('m2')])
    assert outcomes['m1'].error == 'unexpected error: RuntimeError: boom' and outcomes['m2'].error is None


def test_many_jobs_run_concurrently_but_bounded():
    """Deterministic: each post waits at a barrier of 4, so the run only completes if 4 posts are in flight at once;
    a fifth concurrent post would show in the peak."""
    active = []
    peak = []
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=10)

    class SlowClient(ScriptedClient):
        def post(self, path, body=None, **kwargs):
            with lock:
                active.append(1)
                peak.append(len(active))
            barrier.wait()
            with lock:
                active.pop()
            return new_action(path.split('/')[3])

    client = SlowClient({})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile, workers=4).send_all([job('m%d' % n) for n in range(20)])
    assert len(outcomes) == 20 and all(o.action and o.error is None for o in outcomes.values())
    assert max(peak) == 4


class FakeTime(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def test_pacer_holds_everyone_until_the_longest_hold():
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep)
    pacer.wait()
    assert time.sleeps == []
    pacer.hold(2)
    pacer.hold(1)  # shorter: changes nothing
    assert pacer.holds == 1
    pacer.wait()
    assert time.now == 2.0
    pacer.hold(3)
    time.now += 1
    pacer.sleep(0.5)  # a worker's own retry wait, then the rest of the shared hold
    assert time.now == 5.0


def test_a_timeout_lets_the_server_settle_before_reading_again():
    sleeps = []
    client = ScriptedClient({'m1': [AtpWriteOutcomeUnknown('Isolate of machine m1: no answer within 1 seconds (timeout)')]})
    applied = new_action('a1')
    reads = []

    def read(machine_id):
        reads.append(len(sleeps))
        return [applied]

    outcome = ActionSender(client, read, no_reconcile, sleep=sleeps.append, settle_delay=1.5).send_all([job('m1')])['m1']
    assert sleeps == [1.5] and reads == [1]  # paused first, then read
    assert outcome.action is applied and outcome.created and client.posts == ['m1']


def test_after_a_timeout_the_actions_are_read_again_until_the_late_write_shows():
    """The server answered after the client gave up (timeout 10 s) and applied the request 5 s later: found on the
    third read, so it is not sent again."""
    sleeps = []
    client = ScriptedClient({'m1': [AtpWriteOutcomeUnknown('Isolate of machine m1: no answer within 10 seconds (timeout)',
                                                           timed_out=True)]})
    client.settings.timeout = 10
    applied = new_action('a1')

    def read(machine_id):
        return [applied] if sum(sleeps) >= 5 else []

    outcome = ActionSender(client, read, no_reconcile, sleep=sleeps.append, settle_delay=1.0).send_all([job('m1')])['m1']
    assert sleeps == [1.0, 2.0, 4.0]
    assert outcome.action is applied and outcome.created and client.posts == ['m1']


def test_after_a_timeout_the_write_is_sent_again_when_nothing_showed_within_the_timeout():
    sleeps = []
    client = ScriptedClient({'m1': [AtpWriteOutcomeUnknown('Isolate of machine m1: no answer within 10 seconds (timeout)',
                                                           timed_out=True), new_action('a2')]})
    client.settings.timeout = 10
    outcome = ActionSender(client, lambda machine_id: [], no_reconcile, sleep=sleeps.append,
                           settle_delay=1.0).send_all([job('m1')])['m1']
    assert sleeps == [1.0, 2.0, 4.0, 3.0] and sum(sleeps) == 10
    assert outcome.action['id'] == 'a2' and client.posts == ['m1', 'm1']


def test_parse_quota():
    from ansible_collections.defender.atp.plugins.module_utils._http.pacing import parse_quota
    assert parse_quota('API calls quota exceeded! maximum allowed 100 per 00:01:00. Try again in 5 seconds.') == (100, 60.0)
    assert parse_quota('maximum allowed 1500 per 01:00:00') == (1500, 3600.0)
    assert parse_quota('maximum allowed 45 per 00:00:02') == (45, 2.0)
    assert parse_quota('Rate limit is exceeded. Try again in 3 seconds.') is None
    assert parse_quota(None) is None
    assert parse_quota('maximum allowed 0 per 00:01:00') is None


class Answer(object):
    def __init__(self, status, body=None, text=''):
        self.status_code = status
        self._body = body
        self.text = text

    def json(self):
        if self._body is None:
            raise ValueError('no JSON')
        return self._body


def test_pacer_learns_the_quota_from_a_429_and_keeps_within_it():
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep, margin=0.1)
    for _index in range(5):
        pacer.acquire()  # nothing known yet: no waiting
    assert time.sleeps == []
    pacer.observe('POST', 'u', Answer(200, {'id': 'x'}))
    pacer.observe('POST', 'u', Answer(429, {'error': {'code': 'TooManyRequests',
                                                      'message': 'API calls quota exceeded! maximum allowed 5 per 00:00:02.'}}))
    pacer.observe('POST', 'u', Answer(429, None, text='maximum allowed 9 per 00:00:02'))  # the stricter one stays
    pacer.observe('POST', 'u', Answer(429, {'error': {'message': 'throttled'}}))  # nothing to learn
    assert pacer.quotas == {2.0: 5}
    pacer.acquire()  # the 6th send waits until the 1st is 2 s (+ margin) old
    assert time.now == 2.1
    for _index in range(4):
        pacer.acquire()
    assert time.now == 2.1  # the 2nd..5th sends were at t=0 as well
    pacer.acquire()  # the 11th waits for the 6th
    assert round(time.now, 3) == 4.2


def test_pacer_learns_several_windows():
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep, margin=0.0, margin_ratio=0.0)
    pacer.learn(2, 1.0)
    pacer.learn(3, 10.0)
    for _index in range(4):
        pacer.acquire()
    assert time.now == 10.0  # the per-1s quota let the 3rd go at 1.0; the per-10s one holds the 4th until 10.0


def test_pacer_refuses_to_wait_longer_than_allowed():
    from ansible_collections.defender.atp.plugins.module_utils._http.pacing import QuotaExhausted
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep, margin=0, margin_ratio=0, max_wait=300)
    pacer.learn(2, 3600.0)
    pacer.acquire()
    pacer.acquire()
    with pytest.raises(QuotaExhausted) as caught:
        pacer.acquire()
    assert '2 requests per 1 hour' in caught.value.message and 'max_retry_wait (300)' in caught.value.message
    assert time.sleeps == []  # refused at once, nothing waited


def test_a_used_up_quota_fails_the_remaining_machines_without_sending():
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep, margin=0, margin_ratio=0, max_wait=10)
    pacer.learn(1, 3600.0)
    client = ScriptedClient({'m1': [new_action('a1')], 'm2': [new_action('never')]})
    outcomes = ActionSender(client, lambda mid: [], no_reconcile, workers=1, pacer=pacer).send_all([job('m1'), job('m2')])
    assert outcomes['m1'].action['id'] == 'a1'
    assert outcomes['m2'].error.startswith('not sent: the API quota (1 requests per 1 hour) is used up')
    assert client.posts == ['m1']


def test_the_pacer_is_passed_with_each_write_and_the_client_is_left_alone():
    """The pacer goes with the write (the client paces that request only); nothing of the client is swapped, so a
    token request or a read made meanwhile is never paced against the write quota."""
    time = FakeTime()
    pacer = Pacer(clock=time.clock, sleep=time.sleep)
    seen = []

    class Recorder(ScriptedClient):
        def post(self, path, body=None, **kwargs):
            seen.append(kwargs.get('pacer'))
            return ScriptedClient.post(self, path, body)

    client = Recorder({'m1': [new_action('a1')]})
    own_sleep = object()
    client.sleep = own_sleep
    outcomes = ActionSender(client, lambda mid: [], no_reconcile, workers=1, pacer=pacer).send_all([job('m1')])
    assert outcomes['m1'].action['id'] == 'a1'
    assert seen == [pacer] and client.sleep is own_sleep


def test_each_worker_thread_gets_its_own_client_and_they_are_closed():
    """requests does not promise that a Session is thread-safe: every worker thread sends through its own client."""
    made = []
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=10)

    class WorkerClient(object):
        def __init__(self):
            self.threads = set()
            self.closed = False

        def post(self, path, body=None, **kwargs):
            self.threads.add(threading.current_thread().ident)
            barrier.wait()  # the three workers are busy at once, so each must have taken its own client
            return new_action(path.split('/')[3])

        def close(self):
            self.closed = True

    class Parent(ScriptedClient):
        def for_worker(self):
            with lock:
                made.append(WorkerClient())
                return made[-1]

        def post(self, path, body=None, **kwargs):
            raise AssertionError('the shared client must not send')

    outcomes = ActionSender(Parent({}), lambda mid: [], no_reconcile, workers=3).send_all([job('m%d' % n) for n in range(9)])
    assert all(o.action for o in outcomes.values())
    assert len(made) == 3 and all(len(c.threads) == 1 for c in made)
    assert len(set().union(*(c.threads for c in made))) == 3
    assert all(c.closed for c in made)


# -- repeats answered with the pending action, and the plain 400 of a repeated collection --------------------------------

def test_a_pending_action_of_someone_else_handed_back_is_followed_not_created():
    # run-av-scan.md and others: a repeat "returns pending machine action". Its comment is not ours: not a new action.
    other = dict(new_action('theirs'), requestorComment='another tool')
    outcome = ActionSender(ScriptedClient({'m1': [other]}), lambda mid: [], no_reconcile).send_all([job('m1')])['m1']
    assert outcome.action['id'] == 'theirs' and not outcome.created and outcome.error is None
    assert 'existing' in outcome.notes[0]


def test_an_answer_with_our_comment_is_our_new_action():
    ours = dict(new_action('ours'), requestorComment=' c ')
    outcome = ActionSender(ScriptedClient({'m1': [ours]}), lambda mid: [], no_reconcile).send_all([job('m1')])['m1']
    assert outcome.created and outcome.notes == []


def plain_400():
    return AtpApiError('CollectInvestigationPackage of machine m1: HTTP 400 BadRequest: a collection is running',
                       status=400, code='BadRequest', api_message='An investigation package collection is already running.')


def collect_job(machine_id='m1'):
    return Job(machine_id, '/api/machines/%s/collectInvestigationPackage' % machine_id, {'Comment': 'c'},
               'CollectInvestigationPackage', plain_duplicate_400=True)


def test_a_plain_400_of_a_repeated_collection_adopts_the_running_one():
    running = new_action('running', kind='CollectInvestigationPackage')
    client = ScriptedClient({'m1': [plain_400()]})
    outcome = ActionSender(client, lambda mid: [running], lambda j, actions: (ADOPT, actions[0])).send_all(
        [collect_job()])['m1']
    assert outcome.action is running and not outcome.created and outcome.error is None and client.posts == ['m1']
    assert 'collect-investigation-package.md' in outcome.notes[0]


def test_a_plain_400_with_nothing_running_is_the_error_and_is_not_sent_again():
    client = ScriptedClient({'m1': [plain_400(), new_action('never')]})
    outcome = ActionSender(client, lambda mid: [], lambda j, actions: (RESEND, None)).send_all([collect_job()])['m1']
    assert 'HTTP 400 BadRequest' in outcome.error and client.posts == ['m1']


def test_a_plain_400_of_another_action_is_not_taken_for_a_repeat():
    client = ScriptedClient({'m1': [plain_400()]})
    outcome = ActionSender(client, lambda mid: [], no_reconcile).send_all([job('m1')])['m1']
    assert 'HTTP 400' in outcome.error and client.posts == ['m1']
