# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading machine actions, whatever their type: status, times, summaries, and polling until final.

Statuses are compared case-insensitively and both ``Cancelled`` and ``Canceled`` are understood;
both ``lastUpdateDateTimeUtc`` and ``lastUpdateTimeUtc`` are read (the API's own documents use both).
Nothing here sends a request by itself.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re
import time

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError
from ansible_collections.defender.atp.plugins.module_utils._time import parse_api_time

PENDING = 'Pending'
IN_PROGRESS = 'InProgress'
SUCCEEDED = 'Succeeded'
FAILED = 'Failed'
TIMEOUT = 'TimeOut'
CANCELLED = 'Cancelled'
ACTIVE_STATUSES = frozenset((PENDING, IN_PROGRESS))
UNSUCCESSFUL_STATUSES = frozenset((FAILED, TIMEOUT, CANCELLED))
FINAL_STATUSES = frozenset((SUCCEEDED,)) | UNSUCCESSFUL_STATUSES

_STATUS_ALIASES = {
    'pending': PENDING,
    'inprogress': IN_PROGRESS,
    'succeeded': SUCCEEDED,
    'failed': FAILED,
    'timeout': TIMEOUT,
    'timedout': TIMEOUT,
    'cancelled': CANCELLED,
    'canceled': CANCELLED,
}

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# osPlatform values that name a platform other than Windows (machine.md lists some; real payloads add distribution
# names such as CentOS, mde-api.md "Facts added on review"), compared without case, spaces, dots, '-' or '_'. A value
# not listed (null, "Other", "Unknown", anything new) is not known to be another platform: the request is sent and the
# service decides (400 OsPlatformNotSupported is then an error for that machine alone).
NON_WINDOWS_PLATFORMS = frozenset((
    'linux', 'macos', 'mac', 'macosx', 'osx', 'ios', 'ipados', 'android', 'chromeos', 'ubuntu', 'debian', 'centos',
    'redhatenterpriselinux', 'redhat', 'rhel', 'suse', 'sles', 'opensuse', 'oraclelinux', 'amazonlinux', 'fedora',
    'almalinux', 'rockylinux', 'mariner', 'azurelinux'))


def platform_key(machine):
    return re.sub(r'[\s._-]', '', str((machine or {}).get('osPlatform') or '')).lower()


def windows_only_refusal(machine, what, page):
    """Why ``what`` (a Windows-only action, per ``page``) is not sent to ``machine``, or None when its osPlatform is
    Windows, unknown or null."""
    if platform_key(machine) not in NON_WINDOWS_PLATFORMS:
        return None
    return ('the machine\'s osPlatform is %s, and %s is available on Windows only (%s): no request was sent'
            % (machine.get('osPlatform'), what, page))


def normalize_status(value):
    """The canonical spelling of an action status (``Canceled`` -> ``Cancelled``); unknown ones unchanged."""
    if value is None:
        return None
    key = re.sub(r'[\s_-]', '', str(value)).lower()
    return _STATUS_ALIASES.get(key, str(value))


def status_of(action):
    return normalize_status(action.get('status'))


def is_active(action):
    return bool(action) and status_of(action) in ACTIVE_STATUSES


def created(action):
    return parse_api_time(action.get('creationDateTimeUtc'))


def last_updated(action):
    return parse_api_time(action.get('lastUpdateDateTimeUtc') or action.get('lastUpdateTimeUtc'))


def sort_key(action):
    """Newest last: by creation time (unknown times sort as the oldest), then last update, then id."""
    return (created(action) or EPOCH, last_updated(action) or EPOCH, str(action.get('id') or ''))


def newest_first(actions, action_type=None):
    """``actions`` newest first (by creation time, whatever the API's order), optionally only those for which
    ``action_type(action)`` is not None."""
    relevant = [a for a in (actions or []) if isinstance(a, dict) and (action_type is None or action_type(a) is not None)]
    return sorted(relevant, key=sort_key, reverse=True)


def summarize(action, kind=None):
    """The action as a module returns it: snake_case keys, canonical status, both update-time spellings read."""
    if not action:
        return None
    return dict(
        id=action.get('id'),
        type=kind or action.get('type'),
        status=status_of(action),
        scope=action.get('scope'),
        requestor=action.get('requestor'),
        requestor_comment=action.get('requestorComment'),
        creation_date_time_utc=action.get('creationDateTimeUtc'),
        last_update_date_time_utc=action.get('lastUpdateDateTimeUtc') or action.get('lastUpdateTimeUtc'),
    )


def with_article(words):
    """``words`` after "a" or "an", by their first letter: "an Isolate action ...", "a RunAntiVirusScan action ..."."""
    return ('an ' if words[:1].lower() in 'aeiou' else 'a ') + words


def describe(action, kind=None):
    if not action:
        return 'no action'
    return '%s action %s (%s, created %s)' % (kind or action.get('type'), action.get('id'), status_of(action),
                                              action.get('creationDateTimeUtc') or 'at an unknown time')


def age_days(action, now):
    """Days since the action was created (a float), or None when its creation time is unknown."""
    when = created(action) if action else None
    if when is None:
        return None
    return (now - when).total_seconds() / 86400.0


def find_action(actions, action_id):
    if not action_id:
        return None
    wanted = str(action_id).lower()
    for action in actions or []:
        if str(action.get('id') or '').lower() == wanted:
            return action
    return None


def wait_for_actions(read_actions, tracked, timeout, interval, clock=time.time, sleep=time.sleep):
    """Poll until every tracked action is final, or ``timeout`` seconds pass.

    ``tracked`` maps a machine id to the id of the action to wait for. ``read_actions(machine_ids)``
    returns ``{machine_id: [actions]}`` (one batched read for all machines still waiting).

    Returns ``(latest, error)``: ``{machine_id: [actions]}`` as last read for every tracked machine,
    and the message of the AtpError that stopped the waiting early (None when it did not). Machines
    whose action is still Pending at the deadline simply keep that status (an offline machine can
    stay Pending for days): the caller reports them as pending, never as done.
    """
    deadline = clock() + max(0.0, float(timeout))
    interval = max(0.1, float(interval))
    latest = {}
    waiting = dict(tracked)
    while waiting:
        now = clock()
        pause = min(interval, max(0.0, deadline - now))
        if pause <= 0:
            break
        sleep(pause)
        try:
            read = read_actions(sorted(waiting))
        except AtpError as error:
            return latest, error.message
        for machine_id in list(waiting):
            actions = read.get(machine_id)
            if actions is None:
                continue
            latest[machine_id] = actions
            found = find_action(actions, waiting[machine_id])
            if found is not None and status_of(found) in FINAL_STATUSES:
                del waiting[machine_id]
        if clock() >= deadline:
            break
    return latest, None
