# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Ids that go into URL paths: machine ids, machine action ids, alert ids. Checked before any path is built.

API data is untrusted: a machine record whose ``id`` is ``../alerts`` or holds ``?``/``#`` must not turn
``/api/machines/{id}/isolate`` into a request for another endpoint. ``HttpClient.url`` runs
``check_request_path`` on every relative path it is given, so no module can send an unchecked id, and
``MachineDirectory`` refuses a machine with such an id when it resolves it (an error for that machine,
before anything is written).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from urllib.parse import quote

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError

# 40 hexadecimal characters: a machine (device) id, the SHA-1-like ``id`` of the API (not ``aadDeviceId``); a SHA-1.
HEX40_RE = re.compile(r'^[0-9a-fA-F]{40}$')
MACHINE_ID_RE = HEX40_RE
# A machine action id is a GUID (the API answers 400 "should be format of type 'Edm.Guid'" otherwise).
ACTION_ID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
# Collections whose key segment must be an id of a known shape, and the sub-resources that take only that id.
_MACHINE_SEGMENT_RE = re.compile(r'^/api/(?:v1\.0/)?machines/([^/]*)(/.*)?$', re.IGNORECASE)
_ACTION_SEGMENT_RE = re.compile(r'^/api/(?:v1\.0/)?machineactions/([^/]*)(/.*)?$', re.IGNORECASE)
_SHOWN = 80


def shown(value):
    """``repr`` of an untrusted value, cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + '...'


def is_machine_id(value):
    return isinstance(value, str) and bool(MACHINE_ID_RE.match(value))


def is_action_id(value):
    return isinstance(value, str) and bool(ACTION_ID_RE.match(value))


def check_machine_id(value, what='machine id'):
    """Return ``value`` if it is a 40-hex machine id; raise AtpApiError otherwise (it never reaches a path)."""
    if not is_machine_id(value):
        raise AtpApiError('The %s %s is not 40 hexadecimal characters, so it is not used in a request path.'
                          % (what, shown(value)))
    return value


def check_action_id(value, what='machine action id'):
    """Return ``value`` if it is a GUID; raise AtpApiError otherwise."""
    if not is_action_id(value):
        raise AtpApiError('The %s %s is not a GUID, so it is not used in a request path.' % (what, shown(value)))
    return value


def machine_path(machine_id, *segments):
    """``/api/machines/{id}/{segments...}`` for a checked machine id."""
    return '/'.join(('/api/machines', check_machine_id(machine_id)) + segments)


def action_path(action_id, *segments):
    """``/api/machineactions/{id}/{segments...}`` for a checked machine action id."""
    return '/'.join(('/api/machineactions', check_action_id(action_id)) + segments)


def alert_path(alert_id):
    """``/api/alerts/{id}``: alert ids have no documented shape (``da637472900382838869_1364969609``), so the id is
    percent-encoded whole (a ``/``, ``?`` or ``#`` in it stays inside the segment) and dot segments are refused."""
    text = (alert_id or '').strip() if isinstance(alert_id, str) else ''
    if not text or text in ('.', '..'):
        raise AtpApiError('The alert id %s cannot be used in a request path.' % shown(alert_id))
    return '/api/alerts/' + quote(text, safe='')


def check_request_path(path):
    """Raise AtpApiError unless ``path`` (relative to an API base) is safe to send as it is.

    Every segment must be free of dot segments, ``?``, ``#``, backslashes, spaces and control characters (query
    parameters go in ``params``); the key under ``/api/machines/`` must be a machine id when a sub-resource follows
    (``/api/machines/{id}/isolate``), and the key under ``/api/machineactions/`` a GUID.
    """
    if not isinstance(path, str):
        raise AtpApiError('Request path %s is not text.' % shown(path))
    bad = [char for char in path if char in '?#\\' or char.isspace() or ord(char) < 32 or ord(char) == 127]
    segments = path.split('/')
    if bad or any(segment in ('.', '..') for segment in segments):
        raise AtpApiError('Refusing the request path %s: it holds %s, which could change the endpoint called.'
                          % (shown(path), 'a dot segment' if not bad else ' '.join(sorted(set(repr(c) for c in bad)))))
    match = _MACHINE_SEGMENT_RE.match(path)
    if match:
        # Alone, the segment may be a name (GET /api/machines/{id or computerDnsName}) or a collection action
        # (AddOrRemoveTagForMultipleMachines); with a sub-resource (/isolate, /alerts, ...) it is a machine's id.
        key, rest = match.group(1), match.group(2)
        if rest is not None and not is_machine_id(key):
            raise AtpApiError('Refusing the request path %s: the machine id %s is not 40 hexadecimal characters.'
                              % (shown(path), shown(key)))
    match = _ACTION_SEGMENT_RE.match(path)
    if match and not is_action_id(match.group(1)):
        raise AtpApiError('Refusing the request path %s: the machine action id %s is not a GUID.'
                          % (shown(path), shown(match.group(1))))
    return path
