# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""defender.atp.alerts: an ansible-rulebook event source that polls Microsoft Defender for Endpoint alerts.

It uses the collection's own connection, token and HTTP code (plugins/module_utils), so it takes the same
connection options, with the same environment variables, as the modules. See DOCUMENTATION below.
"""

from __future__ import absolute_import, division, print_function

import asyncio
import concurrent.futures
import datetime
import json
import logging
import os
import re
import sys
import threading
import time


def _add_collections_path():
    """Make ``ansible_collections.defender.atp`` importable when ansible-rulebook runs this file.

    ansible-rulebook executes a source with ``runpy.run_path`` without Ansible's collection loader, so the
    collection's ``module_utils`` are found as plain namespace packages: the directory that holds
    ``ansible_collections/`` (this file is ``<that>/ansible_collections/defender/atp/extensions/eda/plugins/
    event_source/alerts.py``) goes first on ``sys.path``, so this copy's module_utils win over any other copy.
    """
    here = os.path.dirname(os.path.realpath(__file__))
    collection = os.path.normpath(os.path.join(here, '..', '..', '..', '..'))
    namespace_dir = os.path.dirname(os.path.dirname(collection))
    if os.path.basename(namespace_dir) != 'ansible_collections':
        return  # not an installed collection (a plain checkout): imports fail below with a clear message
    root = os.path.dirname(namespace_dir)
    if root not in sys.path:
        sys.path.insert(0, root)


_add_collections_path()

try:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.defender.atp.plugins.module_utils._alerts import (
        ALERTS_PATH, SEVERITIES, STATUSES, build_filter)
    from ansible_collections.defender.atp.plugins.module_utils._connection import ApiConnection, connection_argspec
    from ansible_collections.defender.atp.plugins.module_utils._errors import (
        AtpApiError, AtpAuthError, AtpError, AtpOptionError)
    from ansible_collections.defender.atp.plugins.module_utils._http.client import MAX_PAGE_SIZE, requests as _requests
    from ansible_collections.defender.atp.plugins.module_utils._redaction import Redactor
    from ansible_collections.defender.atp.plugins.module_utils._time import (
        TimeSpanError, format_time, parse_api_time, resolve_since)
    # The one private, atomic file write and the check of who owns a file and who else may touch it.
    from ansible_collections.defender.atp.plugins.module_utils._files import NotPrivate, open_private, write_private
except ImportError as _exc:  # pragma: no cover - depends on how the source is installed
    IMPORT_ERROR = _exc
else:
    IMPORT_ERROR = None

DOCUMENTATION = r'''
---
short_description: Events for new and updated Microsoft Defender for Endpoint alerts
description:
  - Polls C(GET /api/alerts) every O(interval) seconds, filtered on the alert's C(lastUpdateTime) (and on
    O(severities) and O(statuses) when given), and puts one event on the rulebook's queue per alert that is new or
    changed since the last poll - C({"alert": {...}, "meta": {"defender_atp": {...}}}).
  - B(The event carries no text an attacker can choose.) ansible-rulebook hands each event to the playbook it runs
    as extra variables, and Ansible evaluates templates in extra variables - an alert title
    C({{ lookup('pipe', ...\) }}) would run a command on the controller as soon as a playbook printed it. The title,
    description, evidence, comments, the device's name and the users' names come from the endpoint and can be chosen by
    an attacker on it. So C(alert) holds only the alert's ids (C(id), C(incidentId), C(investigationId), C(machineId),
    C(detectorId), C(aadTenantId)), its enumerations (C(severity), C(status), C(classification), C(determination),
    C(investigationState), C(detectionSource), C(category), C(mitreTechniques)) and its times (C(alertCreationTime),
    C(firstEventTime), C(lastEventTime), C(lastUpdateTime), C(resolvedTime)), and each only when it has the form such a
    value has (an id - letters, digits, C(_) and C(-); a word of at most 64 letters, digits and C(_.:-); an ISO 8601
    time; or null). A value of another form is left out, and its field named in C(meta.defender_atp.withheld).
    Values the docs do not list (a new C(detectionSource)) pass when they have that form.
  - A playbook reads the rest of the alert with M(defender.atp.atp_alert_info) (C(alert_id)); Ansible never
    evaluates module results. O(include_alert_text=true) puts the whole alert in the event instead (see there).
  - The same alert version (its C(id) and C(lastUpdateTime)) is never sent twice. Each poll reaches back O(overlap)
    seconds before the newest C(lastUpdateTime) seen, so alerts that the service indexes late are not missed, and
    a bounded memory of what was sent drops the repeats.
  - Pages with C($top)/C($skip) (10,000 alerts a page), so any number of alerts comes through. The API promises no
    order, so after a poll of several pages the next poll reads the same window again before moving on.
  - Throttling (HTTP 429, honouring C(Retry-After)), server errors and dropped connections are retried by the
    collection's HTTP client (O(max_retries), O(max_retry_wait)); a poll that still fails is logged and tried again,
    after a wait that doubles with each failed poll in a row (from O(interval) up to 10 minutes, or O(interval) when
    that is longer). Tokens are renewed before they expire and when the API rejects one.
  - An HTTP 404 is retried the same way (a passing fault, or a wrong O(api_url), O(region) or O(cloud)); after
    O(max_not_found_polls) polls in a row that got one, the source stops with a message naming the URL.
  - Configuration errors, rejected credentials and missing permissions (HTTP 400, 401, 403) stop the source at once
    with a message naming the problem.
  - No token or secret is ever logged or raised: every message of the source has the secret options (also when they
    come from environment variables) and every token it holds replaced by C(********), also where a server's error
    body echoes them (a proxy that reflects the request).
  - Needs the Defender API permission C(Alert.Read.All) (application) or C(Alert.Read) (delegated).
  - The connection options are those of the collection's modules (see M(defender.atp.atp_alert_info)), with the
    same environment variables (E(AZURE_TENANT_ID), E(AZURE_CLIENT_ID), E(AZURE_CLIENT_SECRET), ...).
version_added: 0.2.0
author:
  - defender.atp contributors
requirements:
  - ansible-core (its module_utils; ansible-rulebook also needs it to find collections)
  - requests
  - PyJWT with cryptography
options:
  interval:
    description: Seconds between the starts of two polls. Each poll is one request per 10,000 alerts.
    type: float
    default: 60
  severities:
    description: Only alerts of these severities (filtered by the API).
    type: list
    elements: str
    choices: [UnSpecified, Informational, Low, Medium, High]
  statuses:
    description: Only alerts in these states (filtered by the API).
    type: list
    elements: str
    choices: [Unknown, New, InProgress, Resolved]
  since:
    description:
      - Where the first poll starts - alerts updated at or after this time. A span back from now (V(30m), V(1h),
        V(7d), V(PT12H)) or an ISO 8601 time (V(2026-01-31T08:00:00Z)).
      - Default - the time the source starts (only changes from then on).
      - Ignored when O(state_file) holds a watermark from an earlier run.
    type: str
  state_file:
    description:
      - File that keeps the watermark (the newest C(lastUpdateTime) sent) and the alert versions sent within the
        overlap, so a restarted source goes on where it stopped instead of starting at O(since) again.
      - Written atomically (a new file renamed over the old one) with mode C(0600) after each poll. Its directory
        must exist.
      - Read only when it is a regular file (not a symbolic link) owned by the user running the source and
        accessible to nobody else (mode C(0600)), as the collection's token cache checks its files: anyone who could
        change it could hide alerts. A file that is not, or cannot be read as a state, is reported, not used (the
        source starts at O(since)) and replaced by a private one.
      - A watermark later than the local clock (a clock set back, or an edited file) would hide every alert until
        that time: it is capped at the current time, with a warning.
    type: path
  include_alert_text:
    description:
      - Put the whole alert, as the API returns it (title, description, evidence, comments, the device's name, ...),
        in the event's C(alert), instead of only the checked ids, enumerations and times.
      - B(Warning:) ansible-rulebook passes the event to the playbook as extra variables, and Ansible evaluates
        templates in extra variables. With this option, an attacker who can choose an alert's text (a file name, a
        command line, the device's name) can run code on the controller as soon as a playbook or template uses
        that text - printing C(ansible_eda.event.alert.title) is enough. Use it only with rules that act on the event
        themselves and playbooks that never read the event's text; prefer M(defender.atp.atp_alert_info).
    type: bool
    default: false
  max_not_found_polls:
    description:
      - How many polls in a row may get HTTP 404 before the source stops. A 404 on the alert list is either a
        passing fault of the service or a wrong O(api_url), O(region) or O(cloud); it is retried with the growing
        wait of other failed polls.
    type: int
    default: 5
  overlap:
    description:
      - Seconds each poll reaches back before the newest C(lastUpdateTime) seen, for alerts that appear in the API
        later than their C(lastUpdateTime).
    type: float
    default: 300
  tenant_id:
    description: As in the modules. Env E(AZURE_TENANT_ID).
    type: str
  client_id:
    description: As in the modules. Env E(AZURE_CLIENT_ID).
    type: str
  client_secret:
    description: As in the modules. Env E(AZURE_CLIENT_SECRET).
    type: str
  certificate_path:
    description: As in the modules. Env E(AZURE_CLIENT_CERTIFICATE_PATH).
    type: path
  certificate_password:
    description: As in the modules. Env E(AZURE_CLIENT_CERTIFICATE_PASSWORD).
    type: str
  username:
    description: As in the modules. Env E(AZURE_USERNAME).
    type: str
  password:
    description: As in the modules. Env E(AZURE_PASSWORD).
    type: str
  access_token:
    description: As in the modules; with credentials too, an expired token is replaced. Env E(DEFENDER_ATP_ACCESS_TOKEN).
    type: str
  auth_method:
    description: As in the modules.
    type: str
    default: auto
  cloud:
    description: As in the modules. Env E(DEFENDER_ATP_CLOUD).
    type: str
    default: commercial
  region:
    description: As in the modules. Env E(DEFENDER_ATP_REGION).
    type: str
  api_url:
    description: As in the modules. Env E(DEFENDER_ATP_API_URL).
    type: str
  login_url:
    description: As in the modules. Env E(DEFENDER_ATP_LOGIN_URL), E(AZURE_AUTHORITY_HOST).
    type: str
  graph_url:
    description: As in the modules (not used by this source). Env E(DEFENDER_ATP_GRAPH_URL).
    type: str
  api_audience:
    description: As in the modules. Env E(DEFENDER_ATP_API_AUDIENCE).
    type: str
  graph_audience:
    description: As in the modules (not used by this source). Env E(DEFENDER_ATP_GRAPH_AUDIENCE).
    type: str
  validate_certs:
    description: As in the modules. Env E(DEFENDER_ATP_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description: As in the modules. Env E(DEFENDER_ATP_CA_PATH).
    type: path
  timeout:
    description: As in the modules. Env E(DEFENDER_ATP_TIMEOUT).
    type: float
    default: 60
  max_retries:
    description: As in the modules. Env E(DEFENDER_ATP_MAX_RETRIES).
    type: int
    default: 5
  max_retry_wait:
    description: As in the modules. Env E(DEFENDER_ATP_MAX_RETRY_WAIT).
    type: float
    default: 300
  token_cache:
    description: As in the modules. Env E(DEFENDER_ATP_TOKEN_CACHE).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Isolate machines with high-severity alerts
  hosts: localhost
  sources:
    - defender.atp.alerts:
        interval: 60
        severities: [High]
        statuses: [New, InProgress]
        since: 1h
        state_file: /var/lib/eda/defender-alerts.json
        # tenant_id, client_id, client_secret: from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
  rules:
    - name: High alert with a machine
      condition: event.alert.severity == "High" and event.alert.machineId is match("^[0-9a-fA-F]{40}$")
      action:
        run_playbook:
          name: defender.atp.isolate_alert_machine
          extra_vars:
            defender_machine_id: "{{ event.alert.machineId }}"
            defender_alert_id: "{{ event.alert.id }}"
'''

# The event's meta (besides what ansible-rulebook adds): meta.defender_atp holds alert_id, last_update_time,
# change ("new" when the alert was created within the window the poll read, else "updated"), polled_at, alert_text
# (include_alert_text) and withheld (the fields left out because their value had not the expected form).

logger = logging.getLogger('defender.atp.alerts')

UTC = datetime.timezone.utc
# Page size of the alert list; the API's maximum. Tests lower it to page a small data set.
PAGE_SIZE = MAX_PAGE_SIZE if IMPORT_ERROR is None else 10000
# How many alert versions the dedup memory keeps at most (only those inside the overlap window are needed).
MAX_REMEMBERED = 100000
STATE_VERSION = 1
# Keys ansible-rulebook itself adds to a source's arguments.
RULEBOOK_ARGS = ('eda_feedback_queue',)
# API statuses after which polling cannot succeed without someone changing the configuration or the permissions.
FATAL_STATUSES = (400, 401, 403)
# A 404 on the alert list is a passing fault or a wrong URL: retried, until max_not_found_polls polls in a row got one.
NOT_FOUND = 404
# The longest wait between two failed polls (unless the interval itself is longer).
MAX_FAILURE_DELAY = 600.0

# What a default event carries of an alert (alerts.md, get-alerts.md): the fields an attacker on the endpoint cannot
# word, each with the form its value must have. Free text (title, description, evidence, comments, relatedUser,
# computerDnsName - the device's own choice -, assignedTo, threatName, threatFamilyName, rbacGroupName) never goes in:
# ansible-rulebook hands the event to playbooks as extra vars, which Ansible templates. The forms are strict so that no
# value can hold a template, a line break or a path, whatever the API sends (unknown enum values of that form pass).
ID_RE = re.compile(r'[A-Za-z0-9_-]{1,128}')  # alert ids (da6381..._-8807), 40-hex machine ids, GUIDs, numbers as text
WORD_RE = re.compile(r'[A-Za-z0-9_.:-]{1,64}')  # enumerations: High, TruePositive, CustomerTI, T1085.001, ...
TIME_RE = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,7})?(?:Z|[+-][0-9]{2}:[0-9]{2})?')
EVENT_FIELDS = {
    'id': 'id', 'incidentId': 'id', 'investigationId': 'id', 'machineId': 'id', 'detectorId': 'id', 'aadTenantId': 'id',
    'severity': 'word', 'status': 'word', 'classification': 'word', 'determination': 'word',
    'investigationState': 'word', 'detectionSource': 'word', 'category': 'word', 'mitreTechniques': 'words',
    'alertCreationTime': 'time', 'firstEventTime': 'time', 'lastEventTime': 'time', 'lastUpdateTime': 'time',
    'resolvedTime': 'time',
}
_FORMS = {'id': ID_RE, 'word': WORD_RE, 'words': WORD_RE, 'time': TIME_RE}


class SourceError(Exception):
    """A problem the source cannot get past (bad arguments, rejected credentials, missing permission)."""


class Stopped(Exception):
    """Raised in the polling thread when the source is being stopped."""


def _text(value):
    return value if isinstance(value, str) and value else None


def _checked(kind, value):
    """``(ok, value)``: whether ``value`` has the form of a ``kind`` field (null always has), and the value to send."""
    if value is None:
        return True, None
    if kind == 'id' and isinstance(value, int) and not isinstance(value, bool):
        return True, value  # incidentId, investigationId are numbers
    if kind == 'words':
        if not isinstance(value, list):
            return False, None
        kept = [item for item in value if isinstance(item, str) and WORD_RE.fullmatch(item)]
        return len(kept) == len(value), kept
    if isinstance(value, str) and _FORMS[kind].fullmatch(value):
        return True, value
    return False, None


def event_alert(alert):
    """``(fields, withheld)``: the alert's ``EVENT_FIELDS`` whose values have their form, and the names of those left out.

    A field the alert does not have is not added; a list of words keeps the words that have the form (and is named
    in ``withheld`` when it lost any). Only our own field names ever go into ``withheld``, never a value.
    """
    fields = {}
    withheld = []
    for name, kind in EVENT_FIELDS.items():
        if name not in alert:
            continue
        ok, value = _checked(kind, alert[name])
        if ok or (kind == 'words' and value is not None):
            fields[name] = value
        if not ok:
            withheld.append(name)
    return fields, sorted(withheld)


def failure_delay(interval, failures):
    """Seconds to wait after ``failures`` failed polls in a row: the interval, doubled each time, capped at 10 minutes
    (or at the interval, when that is longer)."""
    return min(interval * 2 ** min(failures - 1, 30), max(interval, MAX_FAILURE_DELAY))


class AlertTracker(object):
    """Which alert versions are new, and where the next poll starts: the watermark and the dedup memory.

    * ``watermark``: the newest ``lastUpdateTime`` read so far (never later than the local clock, so a bogus
      future time cannot make the source skip ahead), or the start time before any alert was read.
    * Each poll asks for ``lastUpdateTime ge watermark - overlap``.
    * ``seen``: the (id, lastUpdateTime) pairs already sent whose time is inside that window; older ones can no
      longer be returned by the filter, so they are forgotten. At ``max_remembered`` the oldest are forgotten
      early and ``floor`` rises past them, so they can never be sent again (at worst a late alert at that very
      time is skipped; a warning says so).
    * ``floor``: nothing older is ever sent (the ``since`` start, or past what was forgotten).
    """

    def __init__(self, start, overlap, max_remembered=MAX_REMEMBERED):
        self.watermark = start
        self.floor = start
        self.overlap = datetime.timedelta(seconds=overlap)
        self.max_remembered = max_remembered
        self.seen = {}  # (id, lastUpdateTime text) -> datetime or None, in the order they were sent

    def window_start(self):
        """The earliest ``lastUpdateTime`` the next poll asks for."""
        return max(self.watermark - self.overlap, self.floor - self.overlap)

    def select(self, alerts):
        """The alert versions of one poll that were not sent yet, oldest change first, as ``(key, time, alert, change)``.

        Nothing is remembered here: ``sent()`` records each one once it is on the queue, and ``advance()`` moves
        the watermark once all are, so a source stopped half-way sends the rest after a restart. Repeats,
        alerts without an id and alerts older than ``floor`` or the poll's window are left out.
        """
        window = self.window_start()
        fresh = []
        batch = set()
        for alert in alerts:
            if not isinstance(alert, dict):
                continue
            alert_id = alert.get('id')
            if not alert_id or not isinstance(alert_id, str):
                logger.warning('Skipping an alert without an id (lastUpdateTime %r).', alert.get('lastUpdateTime'))
                continue
            key = (alert_id, _text(alert.get('lastUpdateTime')))
            if key in self.seen or key in batch:
                continue
            when = parse_api_time(key[1])
            if when is not None and (when < self.floor or when < window):
                # Older than what the filter asked for: forgotten already, so it may have been sent (a server that
                # filters loosely must not cause a repeat).
                continue
            batch.add(key)
            fresh.append((key, when, alert, self._change(alert, window)))
        # Oldest change first; versions without a usable time go last.
        fresh.sort(key=lambda item: (item[1] is None, item[1] or self.floor, item[0][0]))
        return fresh

    def sent(self, key, when):
        """Remember that the version ``key`` (id, lastUpdateTime) is on the queue."""
        self.seen[key] = when

    def advance(self, alerts, now):
        """After a poll's events are all sent: move the watermark to its newest time (at most ``now``), forget the old."""
        times = [parse_api_time(_text(alert.get('lastUpdateTime'))) for alert in alerts if isinstance(alert, dict)]
        times = [when for when in times if when is not None]
        if times:
            self.watermark = max(self.watermark, min(max(times), now))
        self._forget()

    @staticmethod
    def _change(alert, window):
        created = parse_api_time(alert.get('alertCreationTime'))
        return 'new' if created is not None and created >= window else 'updated'

    def _forget(self):
        """Drop what the next poll's filter cannot return, then the oldest beyond ``max_remembered``."""
        window = self.window_start()
        for key in [k for k, when in self.seen.items() if when is not None and when < window]:
            del self.seen[key]
        excess = len(self.seen) - self.max_remembered
        if excess > 0:
            oldest = sorted(self.seen.items(), key=lambda item: (item[1] is not None, item[1] or self.floor))[:excess]
            times = [when for _key, when in oldest if when is not None]
            for key, _when in oldest:
                del self.seen[key]
            if times:
                self.floor = max(self.floor, max(times) + datetime.timedelta(microseconds=1))
                logger.warning('More than %d alert versions changed within the overlap window; forgot the oldest. '
                               'Alerts last updated before %s are no longer sent.', self.max_remembered, format_time(self.floor))

    # -- persistence ------------------------------------------------------------------------------------------

    def to_state(self):
        return {'version': STATE_VERSION, 'watermark': format_time(self.watermark), 'floor': format_time(self.floor),
                'seen': [[alert_id, raw_time] for alert_id, raw_time in self.seen]}

    @classmethod
    def from_state(cls, state, overlap, max_remembered=MAX_REMEMBERED):
        """A tracker from ``to_state()``'s dict; raises ValueError when it is not one."""
        if not isinstance(state, dict) or state.get('version') != STATE_VERSION:
            raise ValueError('not a version %d state' % STATE_VERSION)
        watermark = parse_api_time(state.get('watermark'))
        floor = parse_api_time(state.get('floor'))
        seen = state.get('seen')
        if watermark is None or floor is None or not isinstance(seen, list):
            raise ValueError('watermark, floor or seen is missing or invalid')
        tracker = cls(watermark, overlap, max_remembered)
        tracker.floor = floor
        for item in seen:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                    or not (item[1] is None or isinstance(item[1], str))):
                raise ValueError('seen holds an entry that is not [id, lastUpdateTime]')
            tracker.seen[(item[0], item[1])] = parse_api_time(item[1])
        tracker._forget()
        return tracker


def write_state(path, state):
    """Write ``state`` as JSON to ``path``: atomically, mode 0600, never through a symlink (``_files.write_private``)."""
    write_private(path, json.dumps(state, separators=(',', ':')).encode('utf-8'))


class UntrustedState(ValueError):
    """The state file is not private to this user (owner, mode, symlink): anyone who could change it could hide alerts."""


def read_state(path):
    """The JSON document in ``path``; None when the file does not exist. Raises ValueError when it is unreadable, and
    UntrustedState when it is not a regular file of this user that nobody else may read or change (a symbolic link is
    never followed): the check the token cache makes of its own files (``_files.open_private``)."""
    try:
        fd = open_private(path)
    except FileNotFoundError:
        return None
    except NotPrivate as exc:
        raise UntrustedState(('it ' if exc.symlink else '') + exc.problem)
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc))
    try:
        with os.fdopen(fd, 'r') as stream:
            fd = None
            return json.load(stream)
    except (OSError, ValueError) as exc:
        raise ValueError(str(exc))
    finally:
        if fd is not None:
            os.close(fd)


def _argument_spec():
    return connection_argspec(
        interval=dict(type='float', default=60),
        severities=dict(type='list', elements='str', choices=list(SEVERITIES)),
        statuses=dict(type='list', elements='str', choices=list(STATUSES)),
        since=dict(type='str'),
        state_file=dict(type='path'),
        overlap=dict(type='float', default=300),
        include_alert_text=dict(type='bool', default=False),
        max_not_found_polls=dict(type='int', default=5),
    )


class _RedactingFilter(logging.Filter):
    """Takes the known secrets out of every record of the source's logger (module_utils/_redaction.py)."""

    def __init__(self, redact):
        super(_RedactingFilter, self).__init__()
        self.redact = redact

    def filter(self, record):
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def validate_args(args):
    """The source's validated options (types, choices, environment fallbacks); raises SourceError naming the problem."""
    if IMPORT_ERROR is not None:
        raise SourceError('defender.atp.alerts cannot import the defender.atp collection\'s module_utils (%s). Install the '
                          'collection (ansible-galaxy collection install defender.atp) in a collections path of the '
                          'Python that runs ansible-rulebook, with ansible-core, requests and pyjwt[crypto].' % IMPORT_ERROR)
    if not isinstance(args, dict):
        raise SourceError('defender.atp.alerts: the source arguments must be a mapping, got %s.' % type(args).__name__)
    # None or '' means "not given" (a rulebook writes "{{ x | default('') }}"), so the environment variable applies.
    given = dict((k, v) for k, v in args.items() if k not in RULEBOOK_ARGS and v is not None and v != '')
    result = ArgumentSpecValidator(_argument_spec()).validate(given)
    params = result.validated_parameters
    if result.error_messages:
        raise SourceError(Redactor([given, params])('defender.atp.alerts: %s' % '; '.join(result.error_messages)))
    if params['interval'] <= 0:
        raise SourceError('defender.atp.alerts: interval must be a positive number of seconds, got %r.' % params['interval'])
    if params['overlap'] < 0:
        raise SourceError('defender.atp.alerts: overlap must be 0 or more seconds, got %r.' % params['overlap'])
    if params['max_not_found_polls'] < 1:
        raise SourceError('defender.atp.alerts: max_not_found_polls must be 1 or more, got %r.' % params['max_not_found_polls'])
    if params['state_file']:
        directory = os.path.dirname(os.path.abspath(params['state_file']))
        if not os.path.isdir(directory):
            raise SourceError('defender.atp.alerts: state_file %r: the directory %s does not exist; create it or choose '
                              'another path.' % (params['state_file'], directory))
    return params


class AlertSource(object):
    """One running source: settings, client, tracker; polling happens in a worker thread, off the event loop."""

    def __init__(self, args, clock=None):
        self.params = validate_args(args)
        self.clock = clock or (lambda: datetime.datetime.now(UTC))
        self.stopping = threading.Event()
        # Every message this source logs or raises goes through it: the secret options and every token it holds.
        self.redact = Redactor([args, self.params])
        self.log_filter = _RedactingFilter(self.redact)
        logger.addFilter(self.log_filter)
        self.warned_withheld = set()
        try:
            # The one connection setup of modules and plugins; its warnings (validate_certs false, plain http to a
            # loopback host, a token cache that looks tampered with) go to the log. The client's waits between retries
            # end at once when the source stops (see _sleep).
            self.connection = ApiConnection(self.params, warn=logger.warning, sleep=self._sleep)
            self.client = self.connection.client  # every connection and auth option is validated here
        except AtpError as exc:
            logger.removeFilter(self.log_filter)
            raise self.error(exc.message) from None
        self.settings = self.connection.settings
        self.authenticator = self.connection.authenticator
        self.redact.authenticator = self.authenticator
        try:
            self.tracker = self._initial_tracker()
            self.save()  # fails now, not after the first poll, when the state file cannot be written
        except BaseException:
            self.close()
            raise
        self.polls = 0
        self.pages = 0
        self.held = False

    def error(self, message):
        """A SourceError with ``message``, without any known secret (raise it ``from None``: no chained original)."""
        return SourceError(self.redact('defender.atp.alerts: %s' % message))

    def _initial_tracker(self):
        overlap = self.params['overlap']
        path = self.params['state_file']
        if path:
            try:
                state = read_state(path)
                if state is not None:
                    tracker = AlertTracker.from_state(state, overlap)
                    self._cap_at_now(tracker, path)
                    logger.info('Resuming from state_file %s: alerts updated since %s.', path, format_time(tracker.watermark))
                    return tracker
            except UntrustedState as exc:
                logger.warning('state_file %s is not used: %s; anyone who can change it could hide alerts. Starting from '
                               'since and replacing it with a file of this user, mode 0600.', path, exc)
            except ValueError as exc:
                logger.warning('state_file %s is not a state this source wrote (%s); starting from since and replacing it.',
                               path, exc)
        now = self.clock()
        start = now
        if self.params['since']:
            try:
                start = resolve_since(self.params['since'], now=now)
            except TimeSpanError as exc:
                raise self.error(exc) from None
        return AlertTracker(start, overlap)

    def _cap_at_now(self, tracker, path):
        """A watermark later than the clock would hide every alert until then (the source saves at most its own poll
        start): the clock was set back, or the file was edited. Cap it at now, and say so."""
        now = self.clock()
        if tracker.watermark > now or tracker.floor > now:
            logger.warning('state_file %s holds a watermark in the future (%s; the time is now %s): the clock was set back '
                           'or the file was changed. Capped at now: the source goes on from now, reaching back overlap '
                           'seconds as every poll does; alerts updated before that since the last good poll may be '
                           'missed.', path, format_time(max(tracker.watermark, tracker.floor)), format_time(now))
            tracker.watermark = min(tracker.watermark, now)
            # The floor too, below the overlap: what the first poll reaches back for must not be cut off by it.
            tracker.floor = min(tracker.floor, now - tracker.overlap)

    def _sleep(self, seconds):
        if self.stopping.wait(seconds):
            raise Stopped()

    def save(self):
        path = self.params['state_file']
        if not path:
            return
        try:
            write_state(path, self.tracker.to_state())
        except OSError as exc:
            raise self.error('cannot write state_file %r: %s.' % (path, exc.strerror or exc)) from None

    def fetch(self):
        """One poll (blocking HTTP): every alert the filter returns, over as many pages as it takes."""
        query = build_filter(status=self.params['statuses'], severity=self.params['severities'],
                             since=self.tracker.window_start())
        alerts = []
        self.pages = 0
        for page in self.client.iter_pages(ALERTS_PATH, params={'$filter': query}, page_size=PAGE_SIZE):
            if self.stopping.is_set():
                raise Stopped()
            self.pages += 1
            alerts.extend(page)
        return alerts

    def poll(self):
        """Fetch and select (blocking; runs in the worker thread): ``(alerts read, [(key, time, event), ...], started)``."""
        started = self.clock()
        alerts = self.fetch()
        polled_at = format_time(self.clock())
        events = []
        for key, when, alert, change in self.tracker.select(alerts):
            events.append((key, when, self.event(alert, change, polled_at)))
        self.polls += 1
        logger.debug('Poll %d: %d alert(s) read, %d to send.', self.polls, len(alerts), len(events))
        return alerts, events, started

    def event(self, alert, change, polled_at):
        """The event of one alert version: only checked fields, unless include_alert_text (see DOCUMENTATION)."""
        checked, withheld = event_alert(alert)
        if self.params['include_alert_text']:
            fields, withheld = alert, []
        else:
            fields = checked
            fresh = set(withheld) - self.warned_withheld
            if fresh:
                # Named once per field and run: the values stay out of the log too (they may be an attacker's text).
                self.warned_withheld.update(fresh)
                logger.warning('Alert values of an unexpected form were left out of the event: %s (the event names them in '
                               'meta.defender_atp.withheld; atp_alert_info reads the alert).', ', '.join(sorted(fresh)))
        meta = {'alert_id': checked.get('id') if isinstance(checked.get('id'), str) else None,
                'last_update_time': checked.get('lastUpdateTime'),
                'change': change, 'polled_at': polled_at, 'alert_text': bool(self.params['include_alert_text']),
                'withheld': withheld}
        return {'alert': fields, 'meta': {'defender_atp': meta}}

    async def send(self, queue, polled):
        """Put a poll's events on the queue, remembering each as sent; then move the watermark and save the state."""
        alerts, events, started = polled
        try:
            for key, when, event in events:
                await queue.put(event)
                self.tracker.sent(key, when)
            # The API promises no order, so an alert that changes while we page with $skip can push another one
            # past the page boundary. After a poll of several pages the watermark stays put once: the next poll
            # reads the same window again (repeats are dropped) and finds what was pushed aside.
            hold = self.pages > 1 and not self.held
            if not hold:
                self.tracker.advance(alerts, started)
            self.held = hold
        finally:
            self.save()

    def close(self):
        self.stopping.set()
        try:
            self.client.close()
        except Exception:  # pylint: disable=broad-except
            pass
        logger.removeFilter(self.log_filter)


def _status(exc):
    return getattr(exc, 'details', {}).get('status') if isinstance(exc, AtpError) else None


def _is_fatal(exc):
    """Whether a failed poll should stop the source (configuration or permission), or be tried again later.

    400 (a request the service will never accept), 401 (credentials rejected, after the client renewed the token once)
    and 403 (a missing permission, a disabled feature) need someone to change something. So does a token problem
    without an HTTP status (a given access_token for another API, no credentials to renew one). 404, 429, 5xx, transport
    errors and anything else are tried again (404 only up to max_not_found_polls in a row).
    """
    if isinstance(exc, AtpOptionError):
        return True
    if isinstance(exc, (AtpApiError, AtpAuthError)):
        status = _status(exc)
        return status in FATAL_STATUSES or (isinstance(exc, AtpAuthError) and status is None)
    return False


# What a failed poll may raise: the collection's errors, and whatever requests raises that the client does not turn
# into one (a body cut off mid-way).
POLL_ERRORS = (AtpError,) + ((_requests.exceptions.RequestException,) if IMPORT_ERROR is None and _requests else ())


async def main(queue, args):
    """ansible-rulebook's entry point: poll until cancelled, putting one event per new alert version on ``queue``."""
    source = AlertSource(args)
    loop = asyncio.get_running_loop()
    # One worker thread of our own: blocking HTTP never runs on the event loop, and stopping need not wait for it.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix='defender-atp-alerts')
    failures = 0
    not_found = 0
    try:
        while True:
            started = time.monotonic()
            try:
                polled = await loop.run_in_executor(executor, source.poll)
            except POLL_ERRORS as exc:
                message = getattr(exc, 'message', None) or '%s: %s' % (type(exc).__name__, exc)
                if _is_fatal(exc):
                    raise source.error(message) from None
                failures += 1
                not_found = not_found + 1 if _status(exc) == NOT_FOUND else 0
                if not_found >= source.params['max_not_found_polls']:
                    raise source.error(
                        '%s (HTTP 404 on %d polls in a row). The alert list was not found at %s: check api_url, region and '
                        'cloud (or raise max_not_found_polls if the service answers 404 for a while).'
                        % (message.rstrip('.'), not_found, source.settings.base_url('defender'))) from None
                # The client already retried (429, 5xx, connections); wait longer after each failed poll in a row.
                delay = failure_delay(source.params['interval'], failures)
                logger.warning('Polling alerts failed (%d in a row), trying again in %.1f s: %s', failures, delay, message)
                await asyncio.sleep(delay)
                continue
            failures = 0
            not_found = 0
            await source.send(queue, polled)
            await asyncio.sleep(max(0.0, source.params['interval'] - (time.monotonic() - started)))
    finally:
        source.close()
        executor.shutdown(wait=False)
