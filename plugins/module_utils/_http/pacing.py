# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Pacing the writes of one run against a per-application quota that nobody announces.

Defender limits machine actions to 100 requests a minute and 1,500 an hour per application (a
sliding window, shared by every run of the application). It answers an excess request with 429 and
``Retry-After``; the message may name the quota, but Microsoft says error messages are "free text
that can be changed" (mde-api.md, "Facts added on review"), so the quota is learned from what the
service does, and the message is only a hint:

* the requests accepted before the first 429 give the limit ``L`` (the window was full);
* every answer bounds the window ``W``: a request accepted at server time ``s`` means the ``L``-th
  accepted request before it had left the window (``W <= s - s[-L]``); a 429 means it had not
  (``W > s - s[-L]``), and its ``Retry-After`` (whole seconds, rounded up) says when it will
  (``W <= s + Retry-After - s[-L]``). Server times are only known to lie between our send and our
  receipt, so each bound takes the safe end;
* writes are paced at the upper bound (the smallest window seen to be safe) and one request at a
  time probes halfway to the lower bound; the estimate converges within a few windows to the true
  window plus a couple of round trips. Once a quota is learned, a 429 at its pace costs that
  request its own ``Retry-After`` wait instead of pausing everyone.

Before anything is learned, and for a 429 whose ``Retry-After`` belongs to a longer window (the
hourly quota), every worker pauses for ``Retry-After``. Many 429s in a row at the learned pace
(another user of the application) drop what was learned.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import threading
import time

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError
from ansible_collections.defender.atp.plugins.module_utils._http.retry import parse_retry_after

_QUOTA_RE = re.compile(r'maximum allowed\s+(\d+)\s+per\s+(\d+):(\d{1,2}):(\d{1,2})', re.IGNORECASE)

# Probing stops when the window is known within this share of it (or this many seconds).
PROBE_PRECISION = 0.01
PROBE_PRECISION_SECONDS = 0.005
# 429s in a row, at the learned pace, after which the learned quota is dropped (the service behaves otherwise).
MAX_REFUSALS_IN_A_ROW = 20


def parse_quota(message):
    """``(limit, window_seconds)`` from a 429 message such as "maximum allowed 100 per 00:01:00", else None."""
    match = _QUOTA_RE.search(message or '')
    if not match:
        return None
    limit = int(match.group(1))
    window = int(match.group(2)) * 3600 + int(match.group(3)) * 60 + int(match.group(4))
    if limit < 1 or window < 1:
        return None
    return limit, float(window)


class _Slot(object):
    """One paced request: when it was let go, when its answer came (None while in flight), whether it probed."""
    __slots__ = ('sent', 'received', 'probe')

    def __init__(self, sent, probe):
        self.sent = sent
        self.received = None
        self.probe = probe


class LearnedQuota(object):
    """``limit`` requests per a window known to lie in (``low``, ``high``] seconds."""

    def __init__(self, limit, low, high):
        self.limit = limit
        self.low = low
        self.high = high
        self.refusals = 0  # refusals in a row at the learned pace
        self.first_refused = None  # when the request of the first 429 was let go, until a later 429

    @property
    def probing(self):
        return self.high - self.low > max(PROBE_PRECISION * self.high, PROBE_PRECISION_SECONDS)

    def probe_window(self):
        return self.low + (self.high - self.low) / 2.0

    def __repr__(self):
        return 'LearnedQuota(%d, %.3f, %.3f)' % (self.limit, self.low, self.high)


class Pacer(object):
    """Pacing shared by every worker of a run.

    * ``acquire()`` before each paced request: blocks until the quota (named or learned) allows one more.
    * ``observe(...)`` with each answer of a paced request (``HttpClient.request(pacer=...)`` calls it):
      learns the quota from the answers (and from a 429 message that names it, as a hint).
    * ``sleep(seconds)``: a retry wait of a paced request. After a 429 (or a 5xx) nobody sends until it has
      passed, so a 429 storm costs one wait for the whole pool, not one 429 per worker; a failed probe waits alone.
    * ``hold(seconds)`` / ``wait()``: pause everyone / wait for the pause to end.
    """

    def __init__(self, clock=time.time, sleep=time.sleep, margin=0.1, margin_ratio=0.02, max_wait=None):
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._local = threading.local()
        self._resume_at = 0.0
        self.clock = clock
        self._sleep = sleep
        self.margin = margin
        self.margin_ratio = margin_ratio
        self.holds = 0
        self.quotas = {}  # window seconds -> limit, as named by a 429 message
        self.learned = None  # LearnedQuota, from the answers
        self._sent = []  # send times, oldest first (for the named quotas)
        self._slots = []  # paced requests not refused, oldest first (for the learned quota)
        self._probe_in_flight = False
        self._relearn_after = float('-inf')

    # -- what the service says ----------------------------------------------------------------

    def hold(self, seconds):
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            if until > self._resume_at:
                self._resume_at = until
                self.holds += 1

    def learn(self, limit, window):
        with self._lock:
            known = self.quotas.get(window)
            self.quotas[window] = limit if known is None else min(known, limit)

    def observe(self, method, url, response, sent_at=None):
        """Called with every answer of a paced request (``sent_at`` is informative: the pacer keeps its own times)."""
        status = getattr(response, 'status_code', None)
        slot = getattr(self._local, 'slot', None)
        self._local.slot = None
        self._local.wait_alone = False
        if status == 429:
            quota = parse_quota(_message_of(response))
            if quota:
                self.learn(*quota)
            headers = getattr(response, 'headers', None) or {}
            self._refused(slot, parse_retry_after(headers.get('Retry-After')))
        elif status is not None:
            self._accepted(slot, informative=status < 500)

    # Workers are not served in the order they were let go, so no bound trusts that order: a request certainly
    # reached the server before another when its answer came before the other was let go, and a server time is only
    # known to lie between the send and the answer.

    def _accepted(self, slot, informative):
        with self._lock:
            if slot is None:
                return
            slot.received = self.clock()
            if slot.probe:
                self._probe_in_flight = False
            learned = self.learned
            if learned is None or not informative:
                return
            learned.refusals = 0
            if learned.first_refused is not None and slot.sent < learned.first_refused:
                learned.limit += 1  # it was on its way when the first 429 came: it was in that full window too
                return
            before = [other.sent for other in self._slots if other is not slot and other.received is not None
                      and other.received <= slot.sent]
            if len(before) >= learned.limit:
                # Accepted: of the requests certainly served before it, all but limit - 1 had left the window.
                bound = slot.received - _nth_largest(before, learned.limit)
                if learned.low < bound < learned.high:
                    learned.high = bound

    def _refused(self, slot, retry_after):
        with self._lock:
            if slot is None:
                return
            now = self.clock()
            if slot.probe:
                self._probe_in_flight = False
            if slot in self._slots:
                self._slots.remove(slot)
            learned = self.learned
            if learned is None:
                if not self.quotas and retry_after is not None:
                    self._learn_first(slot, now, retry_after)
                return
            if learned.first_refused is not None and slot.sent < learned.first_refused:
                return  # on its way with the first 429: part of the same storm, which everyone waits out
            learned.first_refused = None
            if retry_after is not None and retry_after > 2 * learned.high + 1:
                return  # another, longer window (the hourly quota): it says nothing of this one; everyone waits it out
            # Refused: at least limit requests served before it were still in the window (at most until now), and the
            # oldest of them leaves it in Retry-After.
            maybe_before = [min(other.received if other.received is not None else now, now) for other in self._slots
                            if other.sent < now]
            if len(maybe_before) >= learned.limit:
                newest_possible = _nth_largest(maybe_before, learned.limit)
                low = slot.sent - newest_possible
                if retry_after is not None:
                    low = max(low, slot.sent + retry_after - 1 - newest_possible)
                learned.low = max(learned.low, low)
            served = [other.sent for other in self._slots if other.received is not None and other.received <= slot.sent]
            if retry_after is not None and len(served) >= learned.limit:
                learned.high = min(learned.high, now + retry_after - _nth_largest(served, learned.limit))
            if learned.high <= learned.low:  # contradicting answers (other traffic?): keep clear of the refused pace
                learned.high = learned.low + 2 * max(PROBE_PRECISION * learned.low, PROBE_PRECISION_SECONDS)
            # Refused at the edge of the learned window: this request waits its Retry-After alone, the others keep the
            # (now corrected) pace. Many refusals in a row mean the quota is not what was learned.
            self._local.wait_alone = True
            learned.refusals += 1
            if learned.refusals >= MAX_REFUSALS_IN_A_ROW:
                self.learned = None
                self._relearn_after = now

    def _learn_first(self, slot, now, retry_after):
        """The first 429: the requests accepted so far filled the window; Retry-After says when the first leaves it."""
        accepted = [s for s in self._slots if s.received is not None and s.received >= self._relearn_after]
        if not accepted:
            return
        high = now + retry_after - min(s.sent for s in accepted)
        low = max(slot.sent + retry_after - 1 - min(s.received for s in accepted), 0.0)
        self.learned = LearnedQuota(len(accepted), min(low, high), high)
        # Requests let go before this answer came were part of the same burst: those accepted later were in the full
        # window too (they count into the limit), those refused are the same storm.
        self.learned.first_refused = now

    # -- pacing -------------------------------------------------------------------------------

    def _delay(self, now):
        """Seconds until one more request may go, and whether it would be a probe."""
        delay = self._resume_at - now
        for window, limit in self.quotas.items():
            span = window + max(self.margin, window * self.margin_ratio)
            if len(self._sent) >= limit:
                oldest = self._sent[-limit]
                delay = max(delay, oldest + span - now)
        learned = self.learned
        if learned is None or self.quotas or len(self._slots) < learned.limit:
            return delay, False
        # The limit-th most recent request to reach the server: those in flight count as the most recent ones.
        recent = self._slots[-(learned.limit + 64):]
        in_flight = sum(1 for slot in recent if slot.received is None)
        if in_flight >= learned.limit:
            return max(delay, 0.01), False
        answered = [slot.received for slot in recent if slot.received is not None]
        if len(answered) < learned.limit - in_flight:
            return delay, False
        reference = _nth_largest(answered, learned.limit - in_flight)
        probe = learned.probing and not self._probe_in_flight
        window = learned.probe_window() if probe else learned.high
        return max(delay, reference + window - now), probe

    def acquire(self):
        """Block until this run may send one more request, and count it.

        Raises QuotaExhausted instead of blocking longer than ``max_wait`` (the hourly quota can be used up
        for most of an hour).
        """
        previous = getattr(self._local, 'slot', None)
        while True:
            with self._lock:
                now = self.clock()
                if previous is not None and previous.received is None:
                    previous.received = now  # sent, but its answer never reached observe(): count it as just done
                    if previous.probe:
                        self._probe_in_flight = False
                previous = None
                delay, probe = self._delay(now)
                if self.max_wait is not None and delay > self.max_wait:
                    raise QuotaExhausted(
                        'not sent: the API quota (%s) is used up for the next %.0f seconds, longer than max_retry_wait '
                        '(%s); raise max_retry_wait to wait for it, or run again later' % (
                            self._describe_quotas() or 'Retry-After', delay, self.max_wait))
                if delay <= 0:
                    self._sent.append(now)
                    if len(self._sent) > 20000:  # quotas are far smaller; keep what any window can need
                        del self._sent[:-10000]
                    slot = _Slot(now, probe)
                    self._slots.append(slot)
                    keep = 2 * self.learned.limit + 64 if self.learned is not None else 20000
                    if len(self._slots) > keep:
                        del self._slots[:-keep]
                    if probe:
                        self._probe_in_flight = True
                    self._local.slot = slot
                    return
            self._sleep(delay)

    def _describe_quotas(self):
        named = ['%d requests per %s' % (limit, _window_text(window)) for window, limit in sorted(self.quotas.items())]
        if not named and self.learned is not None:
            named = ['%d requests per about %s (learned)' % (self.learned.limit, _window_text(self.learned.high))]
        return ', '.join(named)

    def wait(self):
        """Block until no hold is in force (does not count a request)."""
        while True:
            with self._lock:
                remaining = self._resume_at - self.clock()
            if remaining <= 0:
                return
            self._sleep(remaining)

    def sleep(self, seconds):
        """A retry wait: everyone pauses at least ``seconds``; the retry then takes its turn like any request.

        A request refused at the edge of a learned quota waits alone: the others keep the learned pace."""
        if getattr(self._local, 'wait_alone', False):
            self._local.wait_alone = False
            self._sleep(seconds)
        else:
            self.hold(seconds)
        self.acquire()


class QuotaExhausted(AtpError):
    """The next request would have to wait longer than allowed for the quota to free up."""


def _nth_largest(values, n):
    return sorted(values, reverse=True)[n - 1]


def _message_of(response):
    try:
        body = response.json()
        message = (body.get('error') or {}).get('message') if isinstance(body, dict) else None
    except (ValueError, AttributeError):
        message = None
    return message or getattr(response, 'text', '') or ''


def _window_text(seconds):
    seconds = int(round(seconds))
    if seconds % 3600 == 0:
        return '%d hour%s' % (seconds // 3600, '' if seconds == 3600 else 's')
    if seconds % 60 == 0:
        return '%d minute%s' % (seconds // 60, '' if seconds == 60 else 's')
    return '%d seconds' % seconds
