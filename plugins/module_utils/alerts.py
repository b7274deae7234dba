# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading Defender alerts: one by id, or every alert matching a filter, paged with ``$top``/``$skip``.

Filters are built with ``odata`` so every value is quoted safely; a raw filter from the user is
checked for balanced quotes and parentheses, then ANDed in parenthesised so its ``or`` stays inside.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.six.moves.urllib.parse import quote

from ansible_collections.defender.atp.plugins.module_utils import odata
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpApiError, AtpOptionError

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


def build_filter(status=None, severity=None, machine_id=None, since=None, raw_filter=None):
    """The ``$filter`` for the given criteria (None when there are none).

    ``status`` and ``severity`` are lists matched with ``eq ... or ...``; ``since`` is an aware datetime
    compared with ``lastUpdateTime``; ``raw_filter`` is ANDed with the rest.
    """
    clauses = []
    if status:
        clauses.append(odata.any_of('status', _unique(status)))
    if severity:
        clauses.append(odata.any_of('severity', _unique(severity)))
    if machine_id:
        clauses.append(odata.eq('machineId', machine_id))
    if since is not None:
        # Whole seconds read better in the filter we report; rounding down only ever includes more.
        clauses.append(odata.compare(SINCE_FIELD, 'ge', since.replace(microsecond=0)))
    if raw_filter is not None:
        clauses.append(odata.check_raw_filter(raw_filter))
    return odata.and_(*clauses)


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
