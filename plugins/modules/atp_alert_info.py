#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_alert_info
short_description: Read Microsoft Defender for Endpoint alerts
version_added: 0.1.0
description:
  - Reads one alert by O(alert_id) (with its evidence), or every alert matching O(status), O(severity), O(machine_id),
    O(since) and a raw OData O(filter), all combined with C(and).
  - Pages through the API itself (C($top)/C($skip), pages of up to 10,000 alerts), so without O(limit) every
    matching alert comes back, however many there are; RV(truncated) says whether O(limit) left some out.
  - Options are checked before any request; a filter the API refuses fails with the API's own message.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Defender for Endpoint API permission C(Alert.Read.All) (application) or C(Alert.Read) (delegated);
    C(Alert.ReadWrite.All) and C(Alert.ReadWrite) also do."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
  - defender.atp.attributes.check_mode_read_only
options:
  alert_id:
    description:
      - Id of one alert to read, for example V(da637472900382838869_1364969609). Its evidence is included.
      - Alert ids hold letters, digits, C(_) and C(-); anything else is an error before any request.
      - When no alert has this id, RV(alerts) is empty and RV(count) is V(0).
      - Cannot be combined with the filter options.
    type: str
  status:
    description:
      - Only alerts in one of these states.
    type: list
    elements: str
    choices: [Unknown, New, InProgress, Resolved]
  severity:
    description:
      - Only alerts of one of these severities.
    type: list
    elements: str
    choices: [UnSpecified, Informational, Low, Medium, High]
  machine_id:
    description:
      - Only alerts of this machine (its 40-character Defender id, as in the alert's C(machineId)).
      - Anything but 40 hexadecimal characters is an error before any request; to read the alerts of a machine known
        by name, look its id up with M(defender.atp.atp_machine_info) first.
      - The alerts API does not document C(machineId) as filterable, so the module reads the machine's own alerts
        endpoint, C(GET /api/machines/{id}/alerts). That endpoint documents no query options, so O(status),
        O(severity) and O(since) are applied by the module to what it returns, and RV(filter) holds only O(filter),
        which is sent as C($filter) (Microsoft's OData examples filter this endpoint; whether every field of O(filter)
        and O(expand_evidence) work there is not documented).
      - When the API knows no machine with this id, RV(alerts) is empty and the module warns.
    type: str
  since:
    description:
      - Only alerts updated at or after this time (compared with the alert's C(lastUpdateTime), which changes when the
        alert is created, commented on or changes state).
      - A span back from now - a number and a unit C(s), C(m), C(h), C(d) or C(w), for example V(30m), V(24h), V(7d),
        V(2w) or V(1d12h) - or an ISO 8601 duration such as V(PT12H) or V(P7D).
      - Or an ISO 8601 time, for example V(2026-01-31), V(2026-01-31T08:00:00Z) or V(2026-01-31T10:00:00+02:00). A time
        without an offset is UTC.
    type: str
  filter:
    description:
      - An OData C($filter) expression of your own, for example V(category eq 'Execution') or
        V(alertCreationTime ge 2026-01-01T00:00:00Z). It is combined with the other filter options with C(and), in
        parentheses, so an C(or) in it cannot widen them.
      - Values you put in it are not escaped for you; quote strings with single quotes and double a quote inside one.
      - An empty filter, or one with an unclosed quote or unbalanced parentheses, is an error before any request.
      - Filterable fields include C(alertCreationTime), C(lastUpdateTime), C(incidentId), C(investigationId), C(id),
        C(assignedTo), C(detectionSource), C(lastEventTime), C(status), C(severity) and C(category).
    type: str
  limit:
    description:
      - Return at most this many alerts. RV(truncated) tells whether more matched.
      - Without it, every matching alert is returned.
    type: int
  expand_evidence:
    description:
      - Include each alert's evidence (files, processes, users, addresses) in a list, with C($expand=evidence).
      - An alert read by O(alert_id) always has its evidence.
    type: bool
    default: false
notes:
  - Alerts are read in the order the API returns them; the API keeps them only for the configured retention period.
  - The alerts API allows 100 calls a minute and 1,500 an hour per application. Each page of 10,000 alerts is one call;
    throttled calls are retried as O(max_retries) and O(max_retry_wait) allow.
  - An alert that changes while the pages are read may move between pages; an alert seen twice is returned once.
  - With a user's token (O(username) and O(password), delegated permissions), the API only shows the alerts of the
    device groups the user's Defender role covers; an empty list can mean no access rather than no alerts.
seealso:
  - module: defender.atp.atp_query
  - module: defender.atp.atp_token
  - name: List alerts API
    description: Microsoft's reference of the alerts API, its OData filters and its fields.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/get-alerts
'''

EXAMPLES = r'''
- name: Read alerts with the connection set once for the whole collection
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: New or in-progress high-severity alerts of the last 24 hours
      defender.atp.atp_alert_info:
        status: [New, InProgress]
        severity: [High]
        since: 24h
      register: recent

    - name: Show them
      ansible.builtin.debug:
        msg: "{{ recent.count }} alerts: {{ recent.alerts | map(attribute='title') | list }}"

- name: One alert, with its evidence
  defender.atp.atp_alert_info:
    alert_id: da637472900382838869_1364969609
  register: alert

- name: The evidence's file hashes
  ansible.builtin.debug:
    msg: "{{ alert.alerts[0].evidence | selectattr('sha256') | map(attribute='sha256') | list }}"
  when: alert.count == 1

- name: Alerts of one machine in the last week, with evidence
  defender.atp.atp_alert_info:
    machine_id: 1e5bc9d7e413ddd7902c2932e418702b84d0cc07
    since: 7d
    expand_evidence: true

- name: Execution alerts since a given time, combined with a raw OData filter
  defender.atp.atp_alert_info:
    since: "2026-01-31T08:00:00Z"
    filter: "category eq 'Execution' or detectionSource eq 'WindowsDefenderAv'"

- name: The 100 first unresolved alerts, and whether there are more
  defender.atp.atp_alert_info:
    status: [Unknown, New, InProgress]
    limit: 100
  register: unresolved

- name: Warn when there were more
  ansible.builtin.debug:
    msg: "More than 100 unresolved alerts: triage needed"
  when: unresolved.truncated
'''

RETURN = r'''
alerts:
  description:
    - The alerts, as the API returns them (see Microsoft's alert resource type for every field).
    - With O(alert_id), a list of that one alert, or an empty list when there is none.
  returned: success
  type: list
  elements: dict
  sample:
    - id: da637308392288907382_-880718168
      incidentId: 7587
      severity: Low
      status: New
      title: Suspicious 'Meterpreter' behavior was detected
      category: SuspiciousActivity
      detectionSource: WindowsDefenderAv
      alertCreationTime: "2020-07-20T10:53:48.7657932Z"
      lastUpdateTime: "2020-07-20T10:53:50.19Z"
      machineId: 12ee6dd8c833c8a052ea231ec1b19adaf497b625
      computerDnsName: temp123.middleeast.corp.microsoft.com
      mitreTechniques: [T1064, T1085, T1220]
      evidence: []
count:
  description: How many alerts RV(alerts) holds.
  returned: success
  type: int
  sample: 1
truncated:
  description: Whether more alerts matched than O(limit) allowed to return.
  returned: success
  type: bool
  sample: false
filter:
  description:
    - The OData C($filter) sent to the API, built from the options (absent when nothing was filtered).
    - With O(machine_id), only O(filter) is sent; the other options are applied by the module.
  returned: when alerts were listed with a filter
  type: str
  sample: "(status eq 'New' or status eq 'InProgress') and severity eq 'High' and lastUpdateTime ge 2026-01-30T08:00:00Z"
auth_method:
  description: The authentication method used (the choice of O(auth_method=auto)).
  returned: when the options were valid
  type: str
  sample: client_secret
http_stats:
  description: Requests this task sent - C(requests) (all, token requests and retries included), C(token_requests),
    C(retries) (after a 429, a 5xx or a connection error), C(throttled) (retries after a 429), C(waited_seconds).
  returned: when a request was attempted
  type: dict
  sample: {"requests": 3, "token_requests": 1, "retries": 0, "throttled": 0, "waited_seconds": 0.0}
'''

import datetime

from ansible_collections.defender.atp.plugins.module_utils import _alerts as alerts_util
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._http.ids import is_machine_id
from ansible_collections.defender.atp.plugins.module_utils._time import TimeSpanError, resolve_since


def alert_criteria(module):
    """The filter options, validated before any request: ``(machine_id, criteria for build_filter)``."""
    params = module.params
    since = None
    if params['since'] is not None:
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            since = resolve_since(params['since'], now=now)
        except TimeSpanError as exc:
            raise AtpOptionError(str(exc))
        if since > now + datetime.timedelta(minutes=5):
            # Most likely a typo in the year or month; it is not an error, but nothing can match.
            module.warn('since %s is in the future (%s UTC); no alert can have been updated after it.'
                        % (params['since'], since.strftime('%Y-%m-%d %H:%M:%S')))
    if params['machine_id'] is not None and not params['machine_id'].strip():
        raise AtpOptionError('machine_id is empty; give a machine id or leave it out.')
    if params['machine_id'] is not None and not is_machine_id(params['machine_id'].strip()):
        raise AtpOptionError('machine_id %r is not a machine id (40 hexadecimal characters, as in an alert\'s machineId); '
                             'to read the alerts of a machine known by name, look its id up with '
                             'defender.atp.atp_machine_info.' % params['machine_id'])
    for name, values in (('status', alerts_util.STATUSES), ('severity', alerts_util.SEVERITIES)):
        if params[name] is not None and not params[name]:
            raise AtpOptionError('%s is an empty list: give one or more of %s, or leave it out.' % (name, ', '.join(values)))
    criteria = dict(status=params['status'], severity=params['severity'], since=since, raw_filter=params['filter'])
    alerts_util.build_filter(**criteria)  # a bad raw filter fails here, before any request
    return (params['machine_id'] or '').strip() or None, criteria


def run_module(module):
    params = module.params
    if params['limit'] is not None and params['limit'] < 1:
        raise AtpOptionError('limit must be 1 or more, got %d; leave it out to get every matching alert.' % params['limit'])
    if params['alert_id'] is not None:
        module.prepare()
        alert = alerts_util.get_alert(module.client, params['alert_id'])
        alerts = [alert] if alert is not None else []
        result = dict(alerts=alerts, count=len(alerts), truncated=False)
    else:
        machine_id, criteria = alert_criteria(module)
        module.prepare()
        if machine_id:
            # get-alerts.md does not list machineId as filterable: the machine's own alerts endpoint is used instead.
            found = alerts_util.list_machine_alerts(module.client, machine_id, limit=params['limit'],
                                                    expand_evidence=params['expand_evidence'], **criteria)
            if found is None:
                module.warn('the API knows no machine with the id %s (404); no alerts are returned.' % machine_id)
                found = [], False, None
            alerts, truncated, filter_text = found
        else:
            filter_text = alerts_util.build_filter(**criteria)
            alerts, truncated = alerts_util.list_alerts(module.client, filter_text=filter_text, limit=params['limit'],
                                                        expand_evidence=params['expand_evidence'])
        result = dict(alerts=alerts, count=len(alerts), truncated=truncated)
        if filter_text:
            result['filter'] = filter_text
    module.exit_json(changed=False, **result)


def main():
    module = AtpModule(
        argument_spec=dict(
            alert_id=dict(type='str'),
            status=dict(type='list', elements='str', choices=list(alerts_util.STATUSES)),
            severity=dict(type='list', elements='str', choices=list(alerts_util.SEVERITIES)),
            machine_id=dict(type='str'),
            since=dict(type='str'),
            filter=dict(type='str'),
            limit=dict(type='int'),
            expand_evidence=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('alert_id', name) for name in ('status', 'severity', 'machine_id', 'since', 'filter', 'limit')],
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
