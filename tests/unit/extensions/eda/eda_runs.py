# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the event source's tests: API-style times, emulator machines, and a running ``main()``'s queue."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import datetime
import hashlib
import time

import pytest

UTC = datetime.timezone.utc


def iso7(when):
    """A time as the API writes it (7 fractional digits, Z)."""
    return when.strftime('%Y-%m-%dT%H:%M:%S') + '.%07dZ' % (when.microsecond * 10)


def ago(minutes):
    return datetime.datetime.now(UTC) - datetime.timedelta(minutes=minutes)


def machine(name):
    return {'id': hashlib.sha1(name.encode()).hexdigest(), 'computerDnsName': name, 'healthStatus': 'Active'}


async def take(queue, count, timeout):
    """``count`` events from ``queue``, failing after ``timeout`` seconds."""
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError('got %d of %d events: %s' % (len(events), count, [e['meta'] for e in events]))
        events.append(await asyncio.wait_for(queue.get(), remaining))
    return events


async def quiet_for(queue, seconds):
    """Assert that nothing arrives on ``queue`` for ``seconds``."""
    try:
        event = await asyncio.wait_for(queue.get(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError('unexpected event %s' % event['meta'])


async def stop(task):
    """Cancel a running ``main()`` as ansible-rulebook does; return how long it took to end."""
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    return time.monotonic() - started


def alert_requests(emulator):
    return [entry for entry in emulator.requests_log() if entry['path'] == '/api/alerts']
