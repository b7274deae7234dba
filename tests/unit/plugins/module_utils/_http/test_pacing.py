# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Learning a quota from what the service does (issue 12 section 4), against a simulated sliding-window server on a
fake clock: deterministic, no HTTP, no real time."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bisect
import math

import pytest

from ansible_collections.defender.atp.plugins.module_utils._http.pacing import Pacer


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(0.0, seconds)


class Answer(object):
    def __init__(self, status, retry_after=None, message='Rate limit is exceeded. Try again later.'):
        self.status_code = status
        self.headers = {'Retry-After': str(retry_after)} if retry_after is not None else {}
        self._message = message

    def json(self):
        return {'error': {'code': 'TooManyRequests', 'message': self._message}} if self.status_code == 429 else {'id': 'x'}


class SlidingWindowServer(object):
    """The emulator's limiter: ``limit`` accepted calls per ``window`` seconds; a refused call is not counted and gets
    Retry-After in whole seconds, rounded up."""

    def __init__(self, limit, window):
        self.limit = limit
        self.window = window
        self.hits = []
        self.refused = 0

    def call(self, now):
        start = bisect.bisect_right(self.hits, now - self.window)
        count = len(self.hits) - start
        if count >= self.limit:
            self.refused += 1
            expires = self.hits[start + count - self.limit] + self.window
            return 429, max(1, int(math.ceil(expires - now)))
        self.hits.append(now)
        return 201, None


def isolate(requests, pacer, server, clock, latency=0.004, message=None):
    """Send ``requests`` writes as ActionSender and HttpClient do (acquire, send, observe; on a 429 the retry wait
    through the pacer) and return the time the last one was accepted.

    One request at a time, but modelling a pool of workers: a request refused at a learned pace waits its Retry-After
    alone (the pacer says so), so it is set aside and retried once that time has passed while the next request goes
    on, as the other workers would. Every other 429 makes everyone wait (``pacer.sleep``)."""
    fresh = requests
    deferred = []  # ready times of refused probes waiting for their retry
    last = 0.0
    while fresh or deferred:
        deferred.sort()
        if deferred and (deferred[0] <= clock.now or not fresh):
            clock.now = max(clock.now, deferred.pop(0))
        else:
            fresh -= 1
        pacer.acquire()
        while True:
            clock.now += latency
            status, retry_after = server.call(clock.now)
            clock.now += latency
            kwargs = dict(message=message) if message else {}
            pacer.observe('POST', 'u', Answer(status, retry_after, **kwargs))
            if status != 429:
                last = clock.now
                break
            if getattr(pacer._local, 'wait_alone', False):
                pacer._local.wait_alone = False
                deferred.append(clock.now + retry_after)
                break
            pacer.sleep(retry_after)
    return last


@pytest.mark.parametrize('window', [2.0, 60.0])
def test_a_number_free_429_still_paces_near_the_floor(window):
    clock = Clock()
    pacer = Pacer(clock=clock.time, sleep=clock.sleep)
    server = SlidingWindowServer(100, window)
    done = isolate(1000, pacer, server, clock)
    floor = 1000 / 100.0 * window
    assert pacer.learned.limit == 100 and window <= pacer.learned.high <= window * 1.03, pacer.learned
    assert done <= floor * 1.1, (done, floor)
    assert server.refused <= 20  # the first 429 plus a few refused probes, not one per window


def test_the_message_is_only_a_hint_and_wins_when_it_names_the_quota():
    clock = Clock()
    pacer = Pacer(clock=clock.time, sleep=clock.sleep)
    server = SlidingWindowServer(100, 2.0)
    done = isolate(400, pacer, server, clock, message='API calls quota exceeded! maximum allowed 100 per 00:00:02.')
    assert pacer.quotas == {2.0: 100} and pacer.learned is None
    assert done <= 400 / 100.0 * 2.0 * 1.1 and server.refused == 1


def test_without_learning_each_window_costs_a_429_and_a_rounded_up_wait():
    """What the learning replaces: Retry-After alone (whole seconds) overshoots every window."""
    clock = Clock()
    server = SlidingWindowServer(100, 2.0)
    pacer = Pacer(clock=clock.time, sleep=clock.sleep)
    pacer._learn_first = lambda *args: None  # nothing learned: holds only, as with a number-free message before
    done = isolate(1000, pacer, server, clock)
    assert done > 1000 / 100.0 * 2.0 * 1.15 and server.refused >= 9


def test_a_429_at_the_learned_pace_waits_alone_but_a_longer_window_pauses_everyone():
    clock = Clock()
    pacer = Pacer(clock=clock.time, sleep=clock.sleep)
    server = SlidingWindowServer(10, 2.0)
    isolate(30, pacer, server, clock)
    assert pacer.learned is not None and pacer.learned.limit == 10
    holds = pacer.holds
    pacer.acquire()
    pacer.observe('POST', 'u', Answer(429, 1))
    pacer.sleep(1)
    assert pacer.holds == holds  # only that request waited
    pacer.observe('POST', 'u', Answer(201))
    pacer.acquire()
    pacer.observe('POST', 'u', Answer(429, 3000))  # the hourly quota: everyone waits
    with pytest.raises(Exception):
        pacer.max_wait = 60
        pacer.sleep(3000)
    assert pacer.holds == holds + 1 and pacer.learned is not None


def test_many_429s_in_a_row_drop_what_was_learned():
    clock = Clock()
    pacer = Pacer(clock=clock.time, sleep=clock.sleep)
    isolate(30, pacer, SlidingWindowServer(10, 2.0), clock)
    assert pacer.learned is not None
    for _attempt in range(20):
        pacer.acquire()
        pacer.observe('POST', 'u', Answer(429, 1))
    assert pacer.learned is None
