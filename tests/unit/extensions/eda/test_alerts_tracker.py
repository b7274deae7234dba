# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source's watermark, dedup memory, state file and argument handling (no HTTP)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import stat

import pytest

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def t(minutes):
    """An API time string ``minutes`` after NOW (7 fractional digits, as the API writes them)."""
    return (NOW + datetime.timedelta(minutes=minutes)).strftime('%Y-%m-%dT%H:%M:%S') + '.1234567Z'


def alert(alert_id, updated, created=None, **extra):
    doc = {'id': alert_id, 'lastUpdateTime': updated, 'alertCreationTime': created or updated, 'severity': 'High'}
    doc.update(extra)
    return doc


def run_poll(tracker, alerts, now=NOW):
    """What the source does with one poll: select, send all, advance. Returns the ids sent, in order."""
    picked = tracker.select(alerts)
    for key, when, _alert, _change in picked:
        tracker.sent(key, when)
    tracker.advance(alerts, now)
    return [item[0][0] for item in picked]


@pytest.fixture
def tracker(source_module):
    return source_module.AlertTracker(NOW - datetime.timedelta(hours=1), overlap=300)


def test_first_poll_sends_alerts_since_the_start_oldest_first_and_skips_older(tracker):
    alerts = [alert('b', t(-10)), alert('old', t(-61)), alert('a', t(-30))]
    assert run_poll(tracker, alerts) == ['a', 'b']
    assert tracker.watermark == NOW - datetime.timedelta(minutes=10) + datetime.timedelta(microseconds=123456)


def test_the_same_version_is_never_sent_twice_but_an_update_is(tracker):
    first = [alert('a', t(-30)), alert('b', t(-10))]
    assert run_poll(tracker, first) == ['a', 'b']
    assert run_poll(tracker, first) == []
    # A repeat inside one poll (an alert that moved between $skip pages) is sent once.
    assert run_poll(tracker, first + [alert('c', t(-5)), alert('c', t(-5))]) == ['c']
    updated = [alert('a', t(-2), created=t(-30)), alert('b', t(-10)), alert('c', t(-5))]
    picked = tracker.select(updated)
    assert [(item[0], item[3]) for item in picked] == [(('a', t(-2)), 'updated')]


def test_change_is_new_for_alerts_created_inside_the_window(tracker):
    picked = tracker.select([alert('n', t(-1)), alert('u', t(-1), created=t(-600))])
    assert dict((item[0][0], item[3]) for item in picked) == {'n': 'new', 'u': 'updated'}


def test_next_poll_reaches_back_by_the_overlap(tracker):
    run_poll(tracker, [alert('a', t(-10))])
    assert tracker.window_start() == tracker.watermark - datetime.timedelta(seconds=300)
    # An alert indexed late, with a time before the watermark but inside the overlap, still comes through.
    assert run_poll(tracker, [alert('a', t(-10)), alert('late', t(-12))]) == ['late']


def test_a_future_time_cannot_push_the_watermark_past_the_clock(tracker):
    run_poll(tracker, [alert('future', '2099-01-01T00:00:00Z')])
    assert tracker.watermark == NOW


def test_memory_keeps_only_what_the_filter_can_still_return(tracker):
    run_poll(tracker, [alert('a', t(-50)), alert('b', t(-20))])
    # Watermark at -20 min: the window starts at -25 min, so 'a' (at -50) can no longer come back.
    assert set(tracker.seen) == {('b', t(-20))}


def test_memory_is_bounded_and_what_it_forgets_is_never_sent_again(source_module):
    tracker = source_module.AlertTracker(NOW - datetime.timedelta(hours=1), overlap=3600, max_remembered=3)
    burst = [alert('x%d' % i, t(-50 + i)) for i in range(5)]
    assert run_poll(tracker, burst) == ['x0', 'x1', 'x2', 'x3', 'x4']
    assert len(tracker.seen) == 3
    assert tracker.floor > source_module.parse_api_time(t(-49))
    assert run_poll(tracker, burst) == []


def test_alerts_without_a_usable_time_are_sent_once_and_alerts_without_id_never(tracker):
    alerts = [alert('nulltime', None), alert(None, None), 'not an alert', alert('badtime', 'yesterday')]
    assert sorted(run_poll(tracker, alerts)) == ['badtime', 'nulltime']
    assert run_poll(tracker, alerts) == []
    assert tracker.watermark == NOW - datetime.timedelta(hours=1)


def test_a_poll_stopped_half_way_sends_the_rest_after_a_restart(source_module, tracker):
    alerts = [alert('a', t(-30)), alert('b', t(-20)), alert('c', t(-10))]
    picked = tracker.select(alerts)
    tracker.sent(picked[0][0], picked[0][1])  # cancelled while putting 'b' on the queue: no advance()
    restarted = source_module.AlertTracker.from_state(json.loads(json.dumps(tracker.to_state())), overlap=300)
    assert run_poll(restarted, alerts) == ['b', 'c']


def test_state_round_trip_resumes_without_repeats(source_module, tracker):
    alerts = [alert('a', t(-4)), alert('b', t(-2))]
    run_poll(tracker, alerts)
    state = json.loads(json.dumps(tracker.to_state()))
    assert state['version'] == 1 and state['watermark'].endswith('Z')
    restarted = source_module.AlertTracker.from_state(state, overlap=300)
    assert restarted.watermark == tracker.watermark and restarted.floor == tracker.floor
    assert run_poll(restarted, alerts + [alert('c', t(-1))]) == ['c']


@pytest.mark.parametrize('state', [None, [], {'version': 2}, {'version': 1, 'watermark': 'x', 'floor': 'y', 'seen': []},
                                   {'version': 1, 'watermark': '2026-01-01T00:00:00Z', 'floor': '2026-01-01T00:00:00Z',
                                    'seen': [['a']]}])
def test_a_state_that_is_not_one_is_refused(source_module, state):
    with pytest.raises(ValueError):
        source_module.AlertTracker.from_state(state, overlap=300)


def test_state_file_is_written_atomically_with_mode_0600(source_module, tmp_path):
    path = str(tmp_path / 'state.json')
    os.umask(0o022)
    source_module.write_state(path, {'version': 1, 'n': 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert source_module.read_state(path) == {'version': 1, 'n': 1}

    class Unserialisable(object):
        pass

    with pytest.raises(TypeError):
        source_module.write_state(path, {'version': 1, 'bad': Unserialisable()})
    assert source_module.read_state(path) == {'version': 1, 'n': 1}  # the old state survives a failed write
    assert os.listdir(str(tmp_path)) == ['state.json']  # and no temporary file is left
    assert source_module.read_state(str(tmp_path / 'missing.json')) is None
    (tmp_path / 'garbage.json').write_text('{not json')
    with pytest.raises(ValueError):
        source_module.read_state(str(tmp_path / 'garbage.json'))


def test_arguments_fall_back_to_the_modules_environment_variables(source_module, monkeypatch):
    monkeypatch.setenv('AZURE_TENANT_ID', 'contoso.onmicrosoft.com')
    monkeypatch.setenv('AZURE_CLIENT_ID', 'app')
    monkeypatch.setenv('AZURE_CLIENT_SECRET', 's3cret-from-env')
    monkeypatch.setenv('DEFENDER_ATP_TIMEOUT', '7.5')
    monkeypatch.setenv('DEFENDER_ATP_REGION', '')  # AWX/EDA inject blank inputs as empty variables
    params = source_module.validate_args({'severities': ['High'], 'interval': '5', 'eda_feedback_queue': object()})
    assert params['tenant_id'] == 'contoso.onmicrosoft.com' and params['client_secret'] == 's3cret-from-env'
    assert params['timeout'] == 7.5 and params['interval'] == 5.0 and params['region'] is None
    assert params['overlap'] == 300 and params['since'] is None and params['state_file'] is None
    # Empty or null arguments (a rulebook's "{{ x | default('') }}") count as not given.
    params = source_module.validate_args({'severities': '', 'statuses': None, 'client_secret': '', 'state_file': ''})
    assert params['severities'] is None and params['statuses'] is None and params['state_file'] is None
    assert params['client_secret'] == 's3cret-from-env'


@pytest.mark.parametrize('args, words', [
    ({'severities': ['Critical']}, ['severities', 'Critical']),
    ({'statuses': 'Open'}, ['statuses', 'Open']),
    ({'interval': 0}, ['interval']),
    ({'interval': 'soon'}, ['interval']),
    ({'overlap': -1}, ['overlap']),
    ({'intervall': 5}, ['intervall']),
    ({'state_file': '/nonexistent-dir/state.json'}, ['state_file', '/nonexistent-dir']),
])
def test_bad_arguments_are_named(source_module, args, words):
    with pytest.raises(source_module.SourceError) as error:
        source_module.validate_args(args)
    for word in words:
        assert word in str(error.value)


def test_bad_since_is_named_before_any_request(source_module, tmp_path):
    args = {'tenant_id': 'contoso.onmicrosoft.com', 'client_id': 'app', 'client_secret': 'x', 'since': 'last week',
            'api_url': 'https://127.0.0.1:9', 'login_url': 'https://127.0.0.1:9', 'token_cache': False}
    with pytest.raises(source_module.SourceError) as error:
        source_module.AlertSource(args)
    assert 'since' in str(error.value) and '24h' in str(error.value)


def test_secrets_never_appear_in_argument_errors(source_module):
    secret = 'TopSecret-Value-123'
    with pytest.raises(source_module.SourceError) as error:
        source_module.validate_args({'client_secret': secret, 'max_retries': secret})
    assert 'max_retries' in str(error.value)
    assert secret not in str(error.value)
