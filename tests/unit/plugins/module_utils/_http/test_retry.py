# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random

from ansible_collections.defender.atp.plugins.module_utils._http.retry import RetryPolicy, parse_retry_after


def test_retry_after_seconds_and_dates():
    assert parse_retry_after('7') == 7.0
    assert parse_retry_after(' 2.5 ') == 2.5
    assert parse_retry_after('-3') == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after('') is None
    assert parse_retry_after('soon') is None
    # An HTTP-date 30 s after "now".
    assert parse_retry_after('Thu, 01 Jan 2026 00:00:30 GMT', now=1767225600) == 30.0
    assert parse_retry_after('Thu, 01 Jan 2026 00:00:00 GMT', now=1767225660) == 0.0


def test_retry_after_wins_over_backoff():
    policy = RetryPolicy(rng=random.Random(1))
    assert policy.delay(1, retry_after=42) == 42
    assert policy.delay(3, retry_after=0) == 0


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(7))
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        samples = [policy.backoff(attempt) for dummy in range(200)]
        assert min(samples) >= ceiling / 4.0 and max(samples) <= ceiling
        # Jitter: waits differ, so parallel workers don't retry in lockstep.
        assert len(set(samples)) > 150


def test_budget_bounds_retries_and_total_wait():
    policy = RetryPolicy(max_retries=3, max_wait=10)
    assert policy.allows(1, 2, 0)
    assert policy.allows(3, 2, 8)
    assert not policy.allows(4, 0.1, 0)
    assert not policy.allows(2, 5, 6)
    assert not RetryPolicy(max_retries=0).allows(1, 0, 0)
