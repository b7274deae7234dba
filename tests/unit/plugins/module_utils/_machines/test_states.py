# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The isolation state model: every (newest type, status, earlier history) combination, out-of-order lists,
the plan for each desired state, and waiting."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import itertools
import json
import os
import random

import pytest

from ansible_collections.defender.atp.plugins.module_utils._machines import history as actions
from ansible_collections.defender.atp.plugins.module_utils._machines.states import ISOLATION as isolation
from ansible_collections.defender.atp.plugins.module_utils._time import parse_api_time
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import CONFLICT, NOOP, SEND
from ansible_collections.defender.atp.plugins.module_utils._machines.states import (
    ISOLATED, ISOLATING, RESTRICTED, RESTRICTING, RESTRICTION, UNISOLATED, UNISOLATING, UNRESTRICTED, UNRESTRICTING)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'emulator', 'fixtures')
MACHINE = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07'
_ids = itertools.count(1)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def action(kind, status, minute, scope=None, update_key='lastUpdateDateTimeUtc', **extra):
    stamp = '2026-01-05T08:%02d:00.1234567Z' % minute
    item = {'id': '00000000-0000-4000-8000-%012d' % next(_ids), 'type': kind, 'status': status, 'machineId': MACHINE,
            'scope': scope, 'creationDateTimeUtc': stamp, update_key: stamp}
    item.update(extra)
    return item


# -- reading actions --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('raw, canonical', [
    ('Pending', 'Pending'), ('pending', 'Pending'), ('PENDING', 'Pending'), ('InProgress', 'InProgress'),
    ('inprogress', 'InProgress'), ('In_Progress', 'InProgress'), ('Succeeded', 'Succeeded'), ('succeeded', 'Succeeded'),
    ('Failed', 'Failed'), ('TimeOut', 'TimeOut'), ('Timeout', 'TimeOut'), ('TimedOut', 'TimeOut'),
    ('Cancelled', 'Cancelled'), ('Canceled', 'Cancelled'), ('CANCELED', 'Cancelled'), ('Weird', 'Weird'), (None, None),
])
def test_status_normalisation(raw, canonical):
    assert actions.normalize_status(raw) == canonical


def test_action_types_are_case_insensitive_and_others_ignored():
    assert isolation.action_type({'type': 'isolate'}) == 'Isolate'
    assert isolation.action_type({'type': 'UNISOLATE'}) == 'Unisolate'
    assert isolation.action_type({'type': 'RunAntiVirusScan'}) is None
    assert isolation.action_type({}) is None
    assert isolation.action_type('Isolate') is None


@pytest.mark.parametrize('text, expected', [
    ('2017-12-04T12:12:18.9725659Z', datetime.datetime(2017, 12, 4, 12, 12, 18, 972565, tzinfo=datetime.timezone.utc)),
    ('2017-12-04T12:12:18Z', datetime.datetime(2017, 12, 4, 12, 12, 18, tzinfo=datetime.timezone.utc)),
    ('2017-12-04T14:12:18.5+02:00', datetime.datetime(2017, 12, 4, 12, 12, 18, 500000, tzinfo=datetime.timezone.utc)),
    ('2017-12-04T12:12:18.1', datetime.datetime(2017, 12, 4, 12, 12, 18, 100000, tzinfo=datetime.timezone.utc)),
    ('2017-12-04', datetime.datetime(2017, 12, 4, tzinfo=datetime.timezone.utc)),
    ('not a date', None), ('', None), (None, None), ('2017-13-45T00:00:00Z', None),
])
def test_parse_time(text, expected):
    assert parse_api_time(text) == expected


def test_seven_fraction_digits_order_correctly():
    early = {'creationDateTimeUtc': '2026-01-05T08:00:00.1234567Z'}
    late = {'creationDateTimeUtc': '2026-01-05T08:00:00.1234571Z'}
    assert actions.created(early) < actions.created(late)


# -- the state table --------------------------------------------------------------------------------------------------

STATUSES = ['Pending', 'InProgress', 'Succeeded', 'Failed', 'TimeOut', 'Cancelled', 'Canceled']


def expected_state(newest_type, newest_status, earlier):
    """The documented model, written independently of the implementation."""
    status = actions.normalize_status(newest_status)
    if status in ('Pending', 'InProgress'):
        return ISOLATING if newest_type == 'Isolate' else UNISOLATING
    if status == 'Succeeded':
        return ISOLATED if newest_type == 'Isolate' else UNISOLATED
    return {'Isolate': ISOLATED, 'Unisolate': UNISOLATED, None: UNISOLATED}[earlier]


@pytest.mark.parametrize('earlier', [None, 'Isolate', 'Unisolate'])
@pytest.mark.parametrize('newest_status', STATUSES)
@pytest.mark.parametrize('newest_type', ['Isolate', 'Unisolate'])
@pytest.mark.parametrize('update_key', ['lastUpdateDateTimeUtc', 'lastUpdateTimeUtc'])
def test_state_table(newest_type, newest_status, earlier, update_key):
    history = [action('Isolate', 'Failed', 1, update_key=update_key)]  # failed noise before everything
    if earlier:
        history.append(action(earlier, 'Succeeded', 10, scope='Full' if earlier == 'Isolate' else None,
                              update_key=update_key))
        history.append(action('Unisolate' if earlier == 'Isolate' else 'Isolate', 'TimeOut', 20, update_key=update_key))
    history.append(action(newest_type, newest_status, 30, scope='Selective' if newest_type == 'Isolate' else None,
                          update_key=update_key))
    history.append(action('RunAntiVirusScan', 'Pending', 40, scope='Quick'))  # newer, but not an isolation action
    want = expected_state(newest_type, newest_status, earlier)
    for order in (history, list(reversed(history)), random.Random(7).sample(history, len(history))):
        info = isolation.evaluate(order)
        assert info.state == want, (order, info.state)
        assert info.newest['creationDateTimeUtc'].startswith('2026-01-05T08:30')


RESTRICTION_NAMES = {'Isolate': 'RestrictCodeExecution', 'Unisolate': 'UnrestrictCodeExecution', ISOLATED: RESTRICTED,
                     UNISOLATED: UNRESTRICTED, ISOLATING: RESTRICTING, UNISOLATING: UNRESTRICTING}


@pytest.mark.parametrize('earlier', [None, 'Isolate', 'Unisolate'])
@pytest.mark.parametrize('newest_status', STATUSES)
@pytest.mark.parametrize('newest_type', ['Isolate', 'Unisolate'])
def test_restriction_follows_the_same_table_under_its_own_names(newest_type, newest_status, earlier):
    """One two-state model for both: app restriction's state comes from its two action types exactly as isolation's."""
    def rename(kind):
        return RESTRICTION_NAMES.get(kind, kind)
    history = [action(rename('Isolate'), 'Failed', 1)]
    if earlier:
        history.append(action(rename(earlier), 'Succeeded', 10))
        history.append(action(rename('Unisolate' if earlier == 'Isolate' else 'Isolate'), 'TimeOut', 20))
    history.append(action(rename(newest_type), newest_status, 30))
    history.append(action('Isolate', 'Pending', 40))  # newer, but an action of the other model
    want = RESTRICTION_NAMES[expected_state(newest_type, newest_status, earlier)]
    for order in (history, list(reversed(history))):
        info = RESTRICTION.evaluate(order)
        assert info.state == want and info.newest['creationDateTimeUtc'].startswith('2026-01-05T08:30')


def test_no_history_is_unisolated():
    info = isolation.evaluate([])
    assert info.state == UNISOLATED and info.newest is None and info.basis is None and info.isolation_type is None
    assert isolation.evaluate(None).state == UNISOLATED
    assert isolation.evaluate([action('RunAntiVirusScan', 'Succeeded', 1)]).state == UNISOLATED


def test_only_failed_history_is_unisolated():
    info = isolation.evaluate([action('Isolate', 'Failed', 3), action('Isolate', 'TimeOut', 5)])
    assert info.state == UNISOLATED and info.basis is None and info.newest['status'] == 'TimeOut'


def test_out_of_order_history_is_sorted_by_creation_time():
    # The order the API gave: newest first? oldest first? neither: never trust it.
    released = action('Unisolate', 'Succeeded', 50)
    isolated = action('Isolate', 'Succeeded', 40, scope='Full')
    old = action('Isolate', 'Succeeded', 10, scope='Full')
    assert isolation.evaluate([isolated, released, old]).state == UNISOLATED
    assert isolation.evaluate([old, isolated]).state == ISOLATED
    assert isolation.evaluate([released, old, isolated]).state == UNISOLATED


def test_creation_time_wins_over_last_update_time():
    # An old isolate that was updated late (it sat Pending, then succeeded) is still older than a newer release.
    isolate = action('Isolate', 'Succeeded', 10)
    isolate['lastUpdateDateTimeUtc'] = '2026-01-05T09:59:00Z'
    release = action('Unisolate', 'Succeeded', 20)
    assert isolation.evaluate([release, isolate]).state == UNISOLATED


def test_missing_creation_time_counts_as_oldest():
    undated = action('Isolate', 'Succeeded', 1)
    del undated['creationDateTimeUtc']
    release = action('Unisolate', 'Succeeded', 5)
    assert isolation.evaluate([undated, release]).state == UNISOLATED


def test_isolation_type_comes_from_the_basis_action():
    info = isolation.evaluate([action('Isolate', 'Succeeded', 5, scope='Selective'), action('Unisolate', 'Failed', 9)])
    assert info.state == ISOLATED and info.isolation_type == 'Selective'
    pending = isolation.evaluate([action('Isolate', 'Pending', 5, scope='Full')])
    assert pending.state == ISOLATING and pending.isolation_type == 'Full' and pending.active is pending.basis
    assert isolation.evaluate([action('Unisolate', 'Succeeded', 5)]).isolation_type is None


def test_stale_active_actions_are_reported():
    stale = action('Isolate', 'Pending', 5)
    info = isolation.evaluate([action('Unisolate', 'Succeeded', 9), stale])
    assert info.state == UNISOLATED and info.stale_active == [stale]
    decision = isolation.plan(info, ISOLATED, 'Full')
    assert decision.op == SEND and any('still Pending' in w for w in decision.warnings)


def test_unknown_status_is_treated_as_not_carried_out_with_a_warning():
    info = isolation.evaluate([action('Isolate', 'Succeeded', 1), action('Unisolate', 'Exploded', 5)])
    assert info.state == ISOLATED and info.unknown_status == 'Exploded'
    assert any('Exploded' in w for w in isolation.plan(info, ISOLATED).warnings)


def test_microsoft_fixtures():
    # machineaction_get.json: a Succeeded Selective Isolate, with lastUpdateDateTimeUtc.
    info = isolation.evaluate([fixture('machineaction_get.json')])
    assert info.state == ISOLATED and info.isolation_type == 'Selective'
    summary = isolation.summarize_action(fixture('machineaction_get.json'))
    assert summary['last_update_date_time_utc'] == '2019-01-02T14:40:44.6596267Z' and summary['status'] == 'Succeeded'
    # isolate_response.json: InProgress (2017 docs), with lastUpdateTimeUtc.
    assert isolation.evaluate([fixture('isolate_response.json')]).state == ISOLATING
    assert isolation.summarize_action(fixture('isolate_response.json'))['last_update_date_time_utc'] == '2017-12-04T12:12:18.9725659Z'
    # unisolate_response.json is newer (2018) than isolate_response.json (2017).
    both = [fixture('unisolate_response.json'), fixture('isolate_response.json')]
    assert isolation.evaluate(both).state == UNISOLATING
    # machineactions_list.json has no isolation actions at all.
    assert isolation.evaluate(fixture('machineactions_list.json')['value']).state == UNISOLATED


# -- plans ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('current, desired, op', [
    (ISOLATED, ISOLATED, NOOP), (ISOLATING, ISOLATED, NOOP), (UNISOLATED, ISOLATED, SEND), (UNISOLATING, ISOLATED, CONFLICT),
    (UNISOLATED, UNISOLATED, NOOP), (UNISOLATING, UNISOLATED, NOOP), (ISOLATED, UNISOLATED, SEND),
    (ISOLATING, UNISOLATED, CONFLICT),
])
def test_plan_table(current, desired, op):
    history = {
        ISOLATED: [action('Isolate', 'Succeeded', 5, scope='Full')],
        ISOLATING: [action('Isolate', 'InProgress', 5, scope='Full')],
        UNISOLATED: [action('Isolate', 'Succeeded', 1, scope='Full'), action('Unisolate', 'Succeeded', 5)],
        UNISOLATING: [action('Unisolate', 'Pending', 5)],
    }[current]
    info = isolation.evaluate(history)
    assert info.state == current
    decision = isolation.plan(info, desired, 'Full' if desired == ISOLATED else None)
    assert decision.op == op
    if op == CONFLICT:
        assert 'opposite direction' in decision.reason and history[-1]['id'] in decision.reason
    assert not decision.warnings


def test_plan_rejects_a_transitional_desired_state():
    with pytest.raises(ValueError):
        isolation.plan(isolation.evaluate([]), ISOLATING)


@pytest.mark.parametrize('history_state', ['Succeeded', 'Pending'])
def test_isolated_with_another_type_is_left_alone_with_a_warning(history_state):
    info = isolation.evaluate([action('Isolate', history_state, 5, scope='Selective')])
    decision = isolation.plan(info, ISOLATED, 'Full')
    assert decision.op == NOOP
    assert len(decision.warnings) == 1 and 'Selective' in decision.warnings[0] and 'release it' in decision.warnings[0]
    assert not isolation.plan(info, ISOLATED, 'selective').warnings  # same type, any case
    assert not isolation.plan(isolation.evaluate([action('Isolate', 'Succeeded', 5)]), ISOLATED, 'Full').warnings


# -- waiting ----------------------------------------------------------------------------------------------------------

class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_every_action_is_final():
    clock = FakeClock()
    a = action('Isolate', 'Pending', 1)
    b = action('Isolate', 'Pending', 1, machineId='b' * 40)
    calls = []

    def read(machine_ids):
        calls.append(list(machine_ids))
        if len(calls) >= 2:
            a['status'] = 'Succeeded'
        if len(calls) >= 3:
            b['status'] = 'Failed'
        return {MACHINE: [a], 'b' * 40: [b]}

    latest, error = actions.wait_for_actions(read, {MACHINE: a['id'], 'b' * 40: b['id']}, 60, 5, clock.clock, clock.sleep)
    assert error is None
    assert calls == [sorted([MACHINE, 'b' * 40])] * 2 + [['b' * 40]]  # one batched read per round, only the waiting ones
    assert clock.sleeps == [5, 5, 5]
    assert latest[MACHINE][0]['status'] == 'Succeeded' and latest['b' * 40][0]['status'] == 'Failed'


def test_wait_stops_at_the_deadline_and_keeps_pending():
    clock = FakeClock()
    pending = action('Isolate', 'Pending', 1)
    reads = []

    def read(machine_ids):
        reads.append(clock.now)
        return {MACHINE: [pending]}

    latest, error = actions.wait_for_actions(read, {MACHINE: pending['id']}, 12, 5, clock.clock, clock.sleep)
    assert error is None
    assert clock.sleeps == [5, 5, 2]  # never sleeps past the deadline
    assert reads == [1005.0, 1010.0, 1012.0]
    assert latest[MACHINE][0]['status'] == 'Pending'


def test_wait_with_zero_timeout_reads_nothing():
    clock = FakeClock()
    assert actions.wait_for_actions(lambda ids: pytest.fail('read'), {MACHINE: 'x'}, 0, 5, clock.clock, clock.sleep) == ({}, None)


def test_wait_keeps_waiting_when_the_action_is_not_listed_yet():
    clock = FakeClock()
    target = action('Isolate', 'Succeeded', 1)
    rounds = []

    def read(machine_ids):
        rounds.append(1)
        return {MACHINE: [target] if len(rounds) > 1 else []}

    latest, _error = actions.wait_for_actions(read, {MACHINE: target['id'].upper()}, 30, 1, clock.clock, clock.sleep)
    assert len(rounds) == 2 and latest[MACHINE] == [target]


def test_a_read_error_stops_waiting_and_keeps_what_was_read():
    from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError
    clock = FakeClock()
    pending = action('Isolate', 'Pending', 1)
    rounds = []

    def read(machine_ids):
        rounds.append(1)
        if len(rounds) > 1:
            raise AtpApiError('GET /api/machineactions: HTTP 429 TooManyRequests', status=429)
        return {MACHINE: [pending]}

    latest, error = actions.wait_for_actions(read, {MACHINE: pending['id']}, 60, 1, clock.clock, clock.sleep)
    assert latest == {MACHINE: [pending]} and 'HTTP 429' in error
