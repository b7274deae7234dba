#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_alert
short_description: Assign, classify, comment on and resolve Microsoft Defender for Endpoint alerts
version_added: 0.2.0
description:
  - Sets the status, owner, classification and determination of one or more alerts, and adds a comment, idempotently.
  - Reads the alerts first. An alert whose fields already hold the requested values, and whose newest comment already
    is O(comment), gets no request (RV(alerts[].changed) false). Only the fields that differ are sent.
  - Alerts that need the same change go through one C(POST /api/alerts/batchUpdate) call (up to 100 alerts a call);
    an alert whose change is its own gets C(PATCH /api/alerts/{id}).
  - Every alert is attempted and reported in RV(alerts). An id that names no alert is an error for that alert only.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Defender for Endpoint API permission C(Alert.ReadWrite.All) (application) or C(Alert.ReadWrite) (delegated). The
    update-alert page of Microsoft's reference spells it C(Alerts.ReadWrite.All); the permission is
    C(Alert.ReadWrite.All)."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Reads the alerts and returns exactly what a real run would do (C(changed), RV(alerts[].before) and
        RV(alerts[].after), RV(summary)) without sending any update.
  diff_mode:
    support: full
    details:
      - Returns each alert's managed fields and newest comment before and after, keyed by alert id.
options:
  alert_ids:
    description:
      - Ids of the alerts to update, for example V(da637472900382838869_1364969609). Duplicates are updated once.
      - Ids hold letters, digits, C(_) and C(-); anything else is an error before any request.
    type: list
    elements: str
    required: true
  status:
    description:
      - The status to set.
    type: str
    choices: [New, InProgress, Resolved]
  assigned_to:
    description:
      - The owner to set, usually a user principal name such as V(secop2@contoso.com). Compared case-insensitively.
    type: str
  classification:
    description:
      - The classification to set. V(InformationalExpectedActivity) is shown as "Informational, expected activity".
    type: str
    choices: [TruePositive, InformationalExpectedActivity, FalsePositive]
  determination:
    description:
      - The determination to set. With V(TruePositive) - V(MultiStagedAttack), V(MaliciousUserActivity),
        V(CompromisedUser), V(Malware), V(Phishing), V(UnwantedSoftware), V(Other).
      - With V(InformationalExpectedActivity) - V(SecurityTesting), V(LineOfBusinessApplication), V(ConfirmedActivity)
        (also spelt V(ConfirmedUserActivity)), V(Other).
      - With V(FalsePositive) - V(NotMalicious) (also spelt V(Clean)), V(InsufficientData), V(Other).
      - Microsoft's pages spell two values in two ways; both are accepted and compare equal with each other.
      - Given with O(classification), a determination of another classification is an error before any request.
    type: str
    choices: [MultiStagedAttack, MaliciousUserActivity, CompromisedUser, Malware, Phishing, UnwantedSoftware,
              SecurityTesting, LineOfBusinessApplication, ConfirmedActivity, ConfirmedUserActivity, NotMalicious, Clean,
              InsufficientData, Other]
  comment:
    description:
      - A comment to add to each alert. It is added only when it is not already the alert's newest comment (compared
        without surrounding spaces), so running the task again adds nothing.
    type: str
  allow_partial:
    description:
      - With V(false), the task fails when any alert failed (unknown id, refused by the API), naming them; the other
        alerts are still updated and reported.
      - With V(true), the task fails only when every alert failed; check RV(summary.failed) and RV(alerts[].error).
    type: bool
    default: false
notes:
  - At least one of O(status), O(assigned_to), O(classification), O(determination) and O(comment) is required.
  - The alerts are read with C(id eq) filters, 12 ids a call. Limits - update and list 100 calls a minute and 1,500 an
    hour, batchUpdate 10 a minute and 500 an hour; throttled calls are retried as O(max_retries) and O(max_retry_wait)
    allow.
  - batchUpdate answers with an empty body, so RV(alerts[].after) of a batched alert is what was sent applied to what
    was read. When a batch is refused (a 400, a 404, or a 403 for one of its alerts), its alerts are sent again one
    by one, so the others are updated and the error names the alert at fault. A write that got no clear answer is
    never repeated blindly - the alert is read again first.
  - A rejected token (HTTP 401) or a missing permission (HTTP 403 naming it) stops the updates not yet sent, since
    they would be refused too. Any other 403 is about one alert and is an error for that alert alone.
  - With a user's token, only alerts of device groups the user can see can be updated, and only where the user's
    role has C(Alerts investigation); Defender answers 403 for each other one.
seealso:
  - module: defender.atp.atp_alert_info
  - name: Update alert API
    description: Microsoft's reference of the update alert request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/update-alert
  - name: Batch update alerts API
    description: Microsoft's reference of the batch update request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/batch-update-alerts
'''

EXAMPLES = r'''
- name: Take the new high-severity alerts of the last hour
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: Find them
      defender.atp.atp_alert_info:
        status: [New]
        severity: [High]
        since: 1h
      register: fresh

    - name: Assign them and mark them in progress (one batchUpdate call)
      defender.atp.atp_alert:
        alert_ids: "{{ fresh.alerts | map(attribute='id') | list }}"
        status: InProgress
        assigned_to: secop2@contoso.com
        comment: Taken by the SOC runbook
      when: fresh.count > 0

- name: Resolve one alert as a security test
  defender.atp.atp_alert:
    alert_ids: [da637472900382838869_1364969609]
    status: Resolved
    classification: InformationalExpectedActivity
    determination: SecurityTesting
    comment: Red team exercise RT-2026-04

- name: Close false positives, carry on past alerts that no longer exist
  defender.atp.atp_alert:
    alert_ids: "{{ false_positive_ids }}"
    status: Resolved
    classification: FalsePositive
    determination: NotMalicious
    allow_partial: true
  register: closed

- name: Report the alerts that could not be closed
  ansible.builtin.debug:
    msg: "{{ closed.alerts | selectattr('error') | map(attribute='id') | list }}"
  when: closed.summary.failed > 0
'''

RETURN = r'''
alerts:
  description: One entry per distinct alert id, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The alert id.
      type: str
      sample: da637472900382838869_1364969609
    changed:
      description: Whether an update was sent for this alert (would be, in check mode).
      type: bool
    before:
      description: The alert's C(status), C(assignedTo), C(classification), C(determination) and newest C(comment) as
        read; null when the alert could not be read.
      type: dict
      sample: {"status": "New", "assignedTo": null, "classification": null, "determination": null, "comment": null}
    after:
      description: The same fields after the update (as the API returned them for a PATCH; as sent for a batch), or
        as before when nothing changed or the update failed.
      type: dict
      sample: {"status": "Resolved", "assignedTo": "secop2@contoso.com", "classification": "FalsePositive",
               "determination": "NotMalicious", "comment": "Not malicious: approved admin tool"}
    sent:
      description: The fields sent (or that would be sent) for this alert; empty when nothing needed to change.
      type: dict
      sample: {"status": "Resolved", "comment": "Not malicious: approved admin tool"}
    method:
      description: How the update went out - V(batchUpdate), V(PATCH), or null when no request was needed.
      type: str
      sample: batchUpdate
    error:
      description: Why this alert failed (no such alert, refused by the API), else null.
      type: str
      sample: null
summary:
  description: Counts. RV(summary.total) is RV(summary.changed) + RV(summary.unchanged) + RV(summary.failed).
  returned: always
  type: dict
  sample: {"total": 3, "changed": 2, "unchanged": 1, "failed": 0, "batch_requests": 1, "patch_requests": 0}
  contains:
    total:
      description: Distinct alert ids.
      type: int
    changed:
      description: Alerts updated (would be, in check mode).
      type: int
    unchanged:
      description: Alerts that already held the values.
      type: int
    failed:
      description: Alerts that could not be read or updated.
      type: int
    batch_requests:
      description: batchUpdate calls sent (would be sent, in check mode).
      type: int
    patch_requests:
      description: PATCH calls sent (would be sent, in check mode).
      type: int
diff:
  description: With C(--diff), the managed fields of each alert before and after, keyed by alert id.
  returned: in diff mode
  type: dict
  sample: {"before": {"da637472900382838869_1364969609": {"status": "New"}},
           "after": {"da637472900382838869_1364969609": {"status": "Resolved"}}}
msg:
  description: A one-line account of what was done, naming the failed alerts.
  returned: always
  type: str
  sample: "updated 2 alerts (1 batchUpdate, 0 PATCH), 1 already up to date."
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

from ansible_collections.defender.atp.plugins.module_utils import _alerts as updates
from ansible_collections.defender.atp.plugins.module_utils._errors import summary_counts
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule


class AlertResult(object):

    def __init__(self, alert_id):
        self.id = alert_id
        self.alert = None
        self.before = None
        self.after = None
        self.change = {}
        self.method = None
        self.changed = False
        self.error = None

    def as_dict(self):
        return dict(id=self.id, changed=self.changed, before=self.before, after=self.after, sent=self.change,
                    method=self.method, error=self.error)


def run_module(module):
    params = module.params
    desired = dict((api, params[option]) for option, api in updates.FIELDS)
    alert_ids = updates.validate_options(params['alert_ids'], desired, params['comment'])
    client = module.prepare()

    results = [AlertResult(alert_id) for alert_id in alert_ids]
    found = updates.read_alerts(client, alert_ids)
    planned = []
    for entry in results:
        entry.alert = found.get(entry.id)
        if entry.alert is None:
            entry.error = 'no alert with this id (or not visible to these credentials)'
            continue
        entry.before = updates.alert_view(entry.alert)
        entry.after = dict(entry.before)
        entry.change = updates.plan_change(entry.alert, desired, params['comment'])
        if entry.change:
            planned.append((entry.id, entry.change))

    batches, singles = updates.group_changes(planned)
    by_id = dict((entry.id, entry) for entry in results)
    for ids, change in batches:
        for alert_id in ids:
            by_id[alert_id].method = 'batchUpdate'
    for alert_id, change in singles:
        by_id[alert_id].method = 'PATCH'

    if module.check_mode:
        for alert_id, change in planned:
            entry = by_id[alert_id]
            entry.changed = True
            entry.after = updates.predicted(entry.before, change)
    else:
        updater = updates.AlertUpdater(client)
        for ids, change in batches:
            updater.batch(ids, change)
        for alert_id, change in singles:
            updater.patch(alert_id, change)
        for alert_id, (answer, error, sent) in updater.outcomes.items():
            entry = by_id[alert_id]
            entry.changed = sent
            if error:
                entry.error = error
            if answer is not None:
                entry.after = updates.alert_view(answer)
                if entry.change.get('comment') and not error:
                    # A PATCH answer may not list the new comment yet; it was accepted, so it is the newest.
                    entry.after['comment'] = entry.change['comment']
            elif sent:
                entry.after = updates.predicted(entry.before, entry.change)

    finish(module, results, batches, singles)


def finish(module, results, batches, singles):
    summary = summary_counts(results, batch_requests=len(batches), patch_requests=len(singles))
    failed = [r for r in results if r.error]
    result = dict(changed=any(r.changed for r in results), alerts=[r.as_dict() for r in results], summary=summary)
    if module.diff_mode:
        result['diff'] = dict(
            before=dict((r.id, r.before) for r in results if r.changed),
            after=dict((r.id, r.after) for r in results if r.changed))
    verb = 'would update' if module.check_mode else 'updated'
    parts = []
    if summary['changed']:
        parts.append('%s %d alert%s (%d batchUpdate, %d PATCH)' % (
            verb, summary['changed'], '' if summary['changed'] == 1 else 's', len(batches), len(singles)))
    if summary['unchanged']:
        parts.append('%d already up to date' % summary['unchanged'])
    if failed:
        parts.append('%d failed: %s' % (len(failed), '; '.join('%s (%s)' % (r.id, r.error) for r in failed[:20])))
    message = (', '.join(parts) or 'nothing to do') + '.'
    if failed and (not module.params['allow_partial'] or len(failed) == len(results)):
        module.fail_json(msg=message, **result)
    module.exit_json(msg=message, **result)


def main():
    module = AtpModule(
        argument_spec=dict(
            alert_ids=dict(type='list', elements='str', required=True),
            status=dict(type='str', choices=list(updates.UPDATE_STATUSES)),
            assigned_to=dict(type='str'),
            classification=dict(type='str', choices=list(updates.CLASSIFICATIONS)),
            determination=dict(type='str', choices=list(updates.DETERMINATIONS)),
            comment=dict(type='str'),
            allow_partial=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
