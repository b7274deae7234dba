# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""When and how long to wait before retrying a request.

Throttled clients that retry early stay throttled longer, so ``Retry-After`` always wins; without
it, waits grow exponentially with full jitter so parallel workers don't retry in lockstep.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import math
import random
import time

RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class RetryPolicy(object):
    """Retry budget for one request: at most ``max_retries`` retries and ``max_wait`` seconds of waiting."""

    def __init__(self, max_retries=5, max_wait=300.0, base_delay=1.0, max_delay=60.0, rng=None):
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng or random.Random()

    def backoff(self, attempt):
        """Full-jitter exponential backoff for retry number ``attempt`` (1-based), without Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Never less than a quarter of the ceiling: a zero wait would just hammer a struggling server.
        return self.rng.uniform(ceiling / 4.0, ceiling)

    def delay(self, attempt, retry_after=None):
        """Seconds to wait before retry ``attempt``; Retry-After is honoured exactly (never shortened)."""
        if retry_after is not None:
            return retry_after
        return self.backoff(attempt)

    def allows(self, attempt, delay, waited):
        """Whether retry ``attempt`` may happen after waiting ``delay`` more seconds."""
        return attempt <= self.max_retries and waited + delay <= self.max_wait
