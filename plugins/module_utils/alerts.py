# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading Defender alerts: one by id, every alert matching a filter, or the alerts of one machine, paged with
``$top``/``$skip``.

Filters are built with ``odata`` so every value is quoted safely, on properties get-alerts.md lists as filterable
only; a raw filter from the user is checked for balanced quotes and parentheses, then ANDed in parenthesised so its
``or`` stays inside. ``machineId`` is not filterable (get-alerts.md; mde-api.md, "Facts added on review"): a
machine's alerts come from ``GET /api/machines/{id}/alerts`` (get-machine-related-alerts.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from urllib.parse import quote

from ansible_collections.defender.atp.plugins.module_utils import odata
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpApiError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils.time_spans import TimeSpanError, parse_instant

ALERTS_PATH = '/api/alerts'
MACHINE_ALERTS_PATH = '/api/machines/%s/alerts'
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
            try:
                updated = parse_instant(alert.get(SINCE_FIELD))
            except TimeSpanError:
                updated = None
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
    path = '%s/%s' % (ALERTS_PATH, quote(alert_id.strip(), safe=''))
    try:
        return client.get(path, what='Reading alert %s' % alert_id.strip())
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
    try:
        alerts, truncated = client.list_all(ALERTS_PATH, params=params, limit=limit)
    except AtpApiError as error:
        if error.status == 400 and filter_text:
            raise AtpApiError('The API rejected the alert filter [%s]: %s' % (filter_text, error.message), **error.details)
        raise
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
    path = MACHINE_ALERTS_PATH % quote(machine_id.strip(), safe='')
    kept = []
    truncated = False
    try:
        for page in client.iter_pages(path, params=params):
            kept.extend(alert for alert in page if check(alert))
            if limit is not None and len(kept) > limit:
                truncated = True
                break
    except AtpApiError as error:
        if error.status == 404:
            return None
        if error.status == 400 and filter_text:
            raise AtpApiError('The API rejected the alert filter [%s]: %s' % (filter_text, error.message), **error.details)
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
