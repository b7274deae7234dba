# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading Defender alerts: one by id, every alert matching a filter, or the alerts of one machine, paged with
``$top``/``$skip``.

Filters are built with ``_odata`` so every value is quoted safely, on properties get-alerts.md lists as filterable
only; a raw filter from the user is checked for balanced quotes and parentheses, then ANDed in parenthesised so its
``or`` stays inside. ``machineId`` is not filterable (get-alerts.md; mde-api.md, "Facts added on review"): a
machine's alerts come from ``GET /api/machines/{id}/alerts`` (get-machine-related-alerts.md).

Updating them idempotently: read, compare, then PATCH one alert or batchUpdate many.

The documented bodies (update-alert.md, batch-update-alerts.md) take ``status``, ``assignedTo``,
``classification``, ``determination`` and ``comment`` in camelCase; batchUpdate adds ``alertIds``.
Only fields that differ are sent ("you shouldn't include existing values that haven't changed"),
and a comment is sent only when it is not already the alert's newest comment, so a re-run sends nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    BULK, STOPPED, AtpApiError, AtpError, AtpOptionError, AtpWriteOutcomeUnknown, bulk_or_each, not_sent,
    stops_the_rest)
from ansible_collections.defender.atp.plugins.module_utils._http.ids import alert_path, machine_path
from ansible_collections.defender.atp.plugins.module_utils._time import parse_api_time

ALERTS_PATH = '/api/alerts'
# Values of the alert entity's status and severity (alerts.md).
STATUSES = ('Unknown', 'New', 'InProgress', 'Resolved')
SEVERITIES = ('UnSpecified', 'Informational', 'Low', 'Medium', 'High')
# Alert ids: da637472900382838869_1364969609, ar638180599315648136_73827727, 636688558380765161_2136280442,
# da637308392288907382_-880718168 (or a GUID). Nothing else may reach the request path.
ALERT_ID_RE = re.compile(r'^[A-Za-z0-9_-]+$')
# The time ``since`` is compared with: an alert that changed recently (new comment, status) is "recent".
SINCE_FIELD = 'lastUpdateTime'


def _unique(values):
    seen = set()
    return [v for v in values if not (v in seen or seen.add(v))]


def build_filter(status=None, severity=None, since=None, raw_filter=None):
    """The ``$filter`` for the given criteria (None when there are none).

    ``status`` and ``severity`` are lists matched with ``eq ... or ...``; ``since`` is an aware datetime
    compared with ``lastUpdateTime``; ``raw_filter`` is ANDed with the rest.
    """
    clauses = []
    if status:
        clauses.append(odata.any_of('status', _unique(status)))
    if severity:
        clauses.append(odata.any_of('severity', _unique(severity)))
    if since is not None:
        # Whole seconds read better in the filter we report; rounding down only ever includes more.
        clauses.append(odata.compare(SINCE_FIELD, 'ge', since.replace(microsecond=0)))
    if raw_filter is not None:
        clauses.append(odata.check_raw_filter(raw_filter))
    return odata.and_(*clauses)


def matcher(status=None, severity=None, since=None):
    """A predicate that keeps the alerts ``build_filter(status, severity, since)`` would let the API return."""
    statuses = set(status or ())
    severities = set(severity or ())
    since = since.replace(microsecond=0) if since is not None else None

    def keep(alert):
        if not isinstance(alert, dict):
            return False
        if statuses and alert.get('status') not in statuses:
            return False
        if severities and alert.get('severity') not in severities:
            return False
        if since is not None:
            updated = parse_api_time(alert.get(SINCE_FIELD))
            if updated is None or updated < since:  # like "lastUpdateTime ge ...": a null or unreadable time never matches
                return False
        return True
    return keep


def get_alert(client, alert_id):
    """One alert (the API includes its evidence), or None when there is no alert with that id."""
    if not alert_id or not alert_id.strip():
        raise AtpOptionError('alert_id is empty; give the id of an alert, such as da637472900382838869_1364969609.')
    if not ALERT_ID_RE.match(alert_id.strip()):
        raise AtpOptionError('alert_id %r is not an alert id: alert ids hold letters, digits, _ and - (such as '
                             'da637472900382838869_1364969609).' % alert_id)
    try:
        return client.get(alert_path(alert_id), what='Reading alert %s' % alert_id.strip())
    except AtpApiError as error:
        if error.status == 404:
            return None
        raise


def list_alerts(client, filter_text=None, limit=None, expand_evidence=False):
    """Return ``(alerts, truncated)`` for ``filter_text``, every page of them unless ``limit`` caps the count."""
    params = {}
    if filter_text:
        params['$filter'] = filter_text
    if expand_evidence:
        params['$expand'] = 'evidence'
    with odata.naming_the_filter('alert', filter_text):
        alerts, truncated = client.list_all(ALERTS_PATH, params=params, limit=limit)
    return _drop_repeats(alerts), truncated


def list_machine_alerts(client, machine_id, status=None, severity=None, since=None, raw_filter=None, limit=None,
                        expand_evidence=False):
    """Return ``(alerts, truncated, filter_sent)`` for the alerts of one machine, or None when the API has no such machine.

    get-machine-related-alerts.md documents the endpoint without any query option. exposed-apis-odata-samples.md shows
    ``$filter`` on it (``machines/{id}/alerts/$count?$filter=status ne 'Resolved'``), so the user's raw filter, which
    cannot be evaluated here, is sent as ``$filter``; ``status``, ``severity`` and ``since`` are applied here (they
    would only narrow what a filter on the server returns, so the answer is right whether or not it applies them).
    Paging with ``$top``/``$skip`` as on every collection (not documented for this one either: a server that ignored
    them would send every alert in the first page, which ends the paging). ``limit`` counts alerts after filtering.
    """
    check = matcher(status, severity, since)
    filter_text = odata.check_raw_filter(raw_filter) if raw_filter is not None else None
    params = {}
    if filter_text:
        params['$filter'] = filter_text
    if expand_evidence:
        params['$expand'] = 'evidence'
    path = machine_path(machine_id.strip(), 'alerts')
    kept = []
    truncated = False
    try:
        with odata.naming_the_filter('alert', filter_text):
            for page in client.iter_pages(path, params=params):
                kept.extend(alert for alert in page if check(alert))
                if limit is not None and len(kept) > limit:
                    truncated = True
                    break
    except AtpApiError as error:
        if error.status == 404:
            return None
        raise
    alerts = _drop_repeats(kept)
    if limit is not None and len(alerts) > limit:
        truncated = True
        del alerts[limit:]
    return alerts, truncated, filter_text


def _drop_repeats(alerts):
    """Alerts that moved while we paged with $skip can show up on two pages; keep the first copy."""
    seen = set()
    kept = []
    for alert in alerts:
        key = alert.get('id') if isinstance(alert, dict) else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append(alert)
    return kept


# -- updating alerts --------------------------------------------------------------------------------------------

BATCH_UPDATE_PATH = '/api/alerts/batchUpdate'
# The statuses a client may set (update-alert.md); Unknown exists on alerts but cannot be set.
UPDATE_STATUSES = ('New', 'InProgress', 'Resolved')
CLASSIFICATIONS = ('TruePositive', 'InformationalExpectedActivity', 'FalsePositive')
# Determinations per classification. The pages disagree on two names: update-alert.md says ConfirmedActivity and
# NotMalicious, alerts.md and batch-update-alerts.md say ConfirmedUserActivity and Clean. Both are accepted, and
# each pair compares equal, so an alert that reads back with the other spelling is not changed again.
DETERMINATIONS_BY_CLASSIFICATION = {
    'TruePositive': ('MultiStagedAttack', 'MaliciousUserActivity', 'CompromisedUser', 'Malware', 'Phishing',
                     'UnwantedSoftware', 'Other'),
    'InformationalExpectedActivity': ('SecurityTesting', 'LineOfBusinessApplication', 'ConfirmedActivity',
                                      'ConfirmedUserActivity', 'Other'),
    'FalsePositive': ('NotMalicious', 'Clean', 'InsufficientData', 'Other'),
}
DETERMINATIONS = ('MultiStagedAttack', 'MaliciousUserActivity', 'CompromisedUser', 'Malware', 'Phishing',
                  'UnwantedSoftware', 'SecurityTesting', 'LineOfBusinessApplication', 'ConfirmedActivity',
                  'ConfirmedUserActivity', 'NotMalicious', 'Clean', 'InsufficientData', 'Other')
_SYNONYMS = {'confirmeduseractivity': 'confirmedactivity', 'clean': 'notmalicious'}
# Option name -> API field, in the order the documentation lists them.
FIELDS = (('status', 'status'), ('assigned_to', 'assignedTo'), ('classification', 'classification'),
          ('determination', 'determination'))
# batch-update-alerts.md documents no size limit for alertIds; 100 ids keeps a request small and, at 10 calls a
# minute, still covers 1,000 alerts a minute.
BATCH_SIZE = 100
# Fewer alerts than this with the same change are PATCHed one by one (100 calls a minute, against batchUpdate's 10).
BATCH_MIN = 2


def normalize(value):
    """How field values compare: case and punctuation ignored ("Informational, expected activity"), synonyms merged."""
    if value is None:
        return None
    text = re.sub(r'[^0-9a-z@._-]', '', str(value).lower())
    return _SYNONYMS.get(text, text)


def validate_options(alert_ids, desired, comment):
    """Check the options before any request; returns the cleaned, de-duplicated alert ids in order."""
    if not alert_ids:
        raise AtpOptionError('alert_ids is empty: give the ids of the alerts to update.')
    cleaned = []
    bad = []
    for position, value in enumerate(alert_ids):
        text = value.strip() if isinstance(value, str) else ''
        if not text or not ALERT_ID_RE.match(text):
            bad.append('item %d (%r)' % (position + 1, value))
        elif text not in cleaned:
            cleaned.append(text)
    if bad:
        raise AtpOptionError('alert_ids has entries that are not alert ids: %s. Alert ids hold letters, digits, _ and - '
                             '(such as da637472900382838869_1364969609).' % ', '.join(bad))
    if not any(v is not None for v in desired.values()) and comment is None:
        raise AtpOptionError('Nothing to change: give one or more of status, assigned_to, classification, determination '
                             'and comment.')
    if desired.get('assignedTo') is not None and not desired['assignedTo'].strip():
        raise AtpOptionError('assigned_to is empty: give the user principal name of the owner, such as '
                             'secop2@contoso.com.')
    if comment is not None and not comment.strip():
        raise AtpOptionError('comment is empty: give the text to add to the alerts, or leave it out.')
    classification, determination = desired.get('classification'), desired.get('determination')
    if classification and determination and determination not in DETERMINATIONS_BY_CLASSIFICATION[classification]:
        raise AtpOptionError('determination %s does not go with classification %s; with %s use one of %s.' % (
            determination, classification, classification, ', '.join(DETERMINATIONS_BY_CLASSIFICATION[classification])))
    return cleaned


def newest_comment(alert):
    """The text of the alert's newest comment (by createdTime; the API promises no order), or None."""
    comments = [c for c in (alert.get('comments') or []) if isinstance(c, dict)]
    if not comments:
        return None
    # ISO 8601 UTC times sort as text; a comment without a time counts as the oldest.
    newest = max(enumerate(comments), key=lambda item: (str(item[1].get('createdTime') or ''), item[0]))[1]
    return newest.get('comment')


def alert_view(alert):
    """The fields this module manages, as reported in before/after."""
    view = dict((api, alert.get(api)) for option, api in FIELDS)
    view['comment'] = newest_comment(alert)
    return view


def plan_change(alert, desired, comment):
    """The body to send for one alert (only what differs), or an empty dict when it already holds the values."""
    change = {}
    for option, api in FIELDS:
        wanted = desired.get(api)
        if wanted is not None and normalize(alert.get(api)) != normalize(wanted):
            change[api] = wanted
    if comment is not None and (newest_comment(alert) or '').strip() != comment.strip():
        change['comment'] = comment
    return change


def predicted(before, change):
    after = dict(before)
    for key, value in change.items():
        after[key] = value
    return after


def read_alerts(client, alert_ids):
    """``{id: alert}`` for the ids that exist, read with ``id eq`` filters (a documented filter property).

    The filter batcher plans how many ids go into one filter (ASP.NET OData's node limit, the URL length) and splits
    a filter the API refuses for its size. A batch refused otherwise (a 400: a tenant that refuses the id filter) is
    read one alert at a time instead.
    """
    batcher = odata.FilterBatcher(client)
    found = {}
    pending = list(alert_ids)
    clauses = [odata.eq('id', alert_id) for alert_id in pending]
    while pending:
        size = batcher.take(clauses)
        chunk, batch = pending[:size], clauses[:size]
        pending, clauses = pending[size:], clauses[size:]
        try:
            alerts = batcher.read(ALERTS_PATH, batch)
        except AtpApiError as error:
            if error.status != 400:
                raise
            alerts = [a for a in (_read_visible(client, alert_id) for alert_id in chunk) if a is not None]
        for alert in alerts:
            if isinstance(alert, dict) and alert.get('id') in chunk:
                found[alert['id']] = alert
    return found


def _read_visible(client, alert_id):
    """The alert, or None when it does not exist or a 403 refuses it alone (a user's device groups): either way it is
    reported as not found or not visible to these credentials, and the other alerts go on."""
    try:
        return get_alert(client, alert_id)
    except AtpApiError as error:
        if error.status == 403 and not stops_the_rest(error):
            return None
        raise


def group_changes(planned):
    """Split ``[(alert_id, change)]`` into ``(batches, singles)``: batches of ids sharing one change, and the rest."""
    groups = {}
    order = []
    for alert_id, change in planned:
        key = tuple(sorted(change.items()))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(alert_id)
    batches = []
    singles = []
    for key in order:
        ids = groups[key]
        if len(ids) >= BATCH_MIN:
            for start in range(0, len(ids), BATCH_SIZE):
                batches.append((ids[start:start + BATCH_SIZE], dict(key)))
        else:
            singles.extend((alert_id, dict(key)) for alert_id in ids)
    return batches, singles


GONE = 'no alert with this id (it may have been removed after it was read)'


def remaining_change(current, change):
    """What of ``change`` the alert as read now (``current``) does not hold yet."""
    return plan_change(current, dict((k, v) for k, v in change.items() if k != 'comment'), change.get('comment'))


class AlertUpdater(object):
    """Sends the planned changes; returns per-alert outcomes ``{id: (after_alert_or_None, error_or_None, sent)}``."""

    def __init__(self, client):
        self.client = client
        self.outcomes = {}
        self.stopped = None

    def patch(self, alert_id, change):
        if self.stopped is not None:
            self.outcomes[alert_id] = (None, self.stopped, False)
            return
        try:
            alert = self.client.json('PATCH', alert_path(alert_id), json_body=change, what='Updating alert %s' % alert_id)
        except AtpWriteOutcomeUnknown as error:
            self.outcomes[alert_id] = self._reread(alert_id, change, error)
            return
        except AtpError as error:
            if isinstance(error, AtpApiError) and error.status == 404:
                self.outcomes[alert_id] = (None, GONE, False)
                return
            if stops_the_rest(error):
                self.stopped = not_sent('update', error.message)
            self.outcomes[alert_id] = (None, error.message, False)
            return
        self.outcomes[alert_id] = (alert if isinstance(alert, dict) else None, None, True)

    def batch(self, alert_ids, change):
        if self.stopped is not None:
            for alert_id in alert_ids:
                self.outcomes[alert_id] = (None, self.stopped, False)
            return
        body = dict(change)
        body['alertIds'] = list(alert_ids)
        how, value = bulk_or_each(
            lambda: self.client.request('POST', BATCH_UPDATE_PATH, json_body=body, expected=(200, 204),
                                        what='Updating %d alerts in one batch' % len(alert_ids)),
            # One bad alert must not fail the others (a 400, a 404, or a 403 for one alert's device group): one PATCH
            # each names the culprit.
            each=lambda: [self.patch(alert_id, change) for alert_id in alert_ids],
            # No answer: some, all or none may be updated; read them again and PATCH those that still differ.
            unknown=lambda: [self.patch_if_needed(alert_id, change) for alert_id in alert_ids])
        if how == STOPPED:
            self.stopped = not_sent('update', value.message)
            for alert_id in alert_ids:
                self.outcomes[alert_id] = (None, value.message, False)
        elif how == BULK:
            # 200 with an empty body (batch-update-alerts.md): no per-alert answer, so success is for all of them.
            for alert_id in alert_ids:
                self.outcomes[alert_id] = (None, None, True)

    def patch_if_needed(self, alert_id, change):
        try:
            current = get_alert(self.client, alert_id)
        except AtpError as error:
            self.outcomes[alert_id] = (None, 'the update got no clear answer and the alert could not be read again: %s'
                                       % error.message, False)
            return
        if current is None:
            self.outcomes[alert_id] = (None, GONE, False)
            return
        remaining = remaining_change(current, change)
        if not remaining:
            self.outcomes[alert_id] = (current, None, True)
            return
        self.patch(alert_id, remaining)

    def _reread(self, alert_id, change, error):
        try:
            current = get_alert(self.client, alert_id)
        except AtpError:
            current = None
        if current is not None and not remaining_change(current, change):
            return (current, None, True)
        return (current, error.message, False)
