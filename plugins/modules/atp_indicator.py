#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_indicator
short_description: Keep Microsoft Defender for Endpoint custom indicators (IoCs) as code
version_added: 0.2.0
description:
  - Makes the tenant's custom indicators (file hashes, certificate thumbprints, IP addresses, domain names, URLs) match
    a list kept in git, in one task.
  - Indicators are keyed on (type, value). Values compare case-insensitively where the type is (hashes, thumbprints,
    domain names, the scheme and host of a URL); IP addresses compare in canonical form.
  - Every value is validated locally (hash lengths and hexadecimal digits, IP addresses without CIDR ranges, domain
    names, http and https URLs) before any request; one bad entry fails the task naming it, and nothing is sent.
  - Reads the tenant's indicators first. An indicator that already holds the given fields gets no request; new and
    changed ones are sent through C(POST /api/indicators/import) in calls of at most 500; deletions go through
    C(POST /api/indicators/BatchDelete), at most 500 ids a call.
  - O(application) is written to every indicator this module creates and marks what it manages; O(purge=true) deletes
    the indicators of that application that the list does not name, and never touches any other indicator.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Defender for Endpoint API permission C(Ti.ReadWrite.All) (application) or C(Ti.ReadWrite) (delegated). An
    application with only C(Ti.ReadWrite) sees, and can update, only the indicators it created itself."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Reads the tenant's indicators and returns exactly what a real run would do - RV(created), RV(updated),
        RV(deleted), RV(unchanged), the import and delete calls it would make, and the tenant limit check - without
        sending any write.
  diff_mode:
    support: full
    details:
      - Returns each created, updated or deleted indicator before and after, keyed by C(type:value).
options:
  indicators:
    description:
      - The indicators. Each is a dictionary with the keys below; unknown keys are an error.
      - With O(state=absent) only C(type) and C(value) are used.
    type: list
    elements: dict
    required: true
    suboptions:
      value:
        description:
          - The indicator value - a hash or thumbprint in hexadecimal, an IPv4 or IPv6 address, a domain name, or a URL
            (with or without C(http://) or C(https://)).
        type: str
        required: true
      type:
        description:
          - The indicator type. C(FileSha1) and C(CertificateThumbprint) are 40 hexadecimal characters, C(FileSha256)
            64, C(FileMd5) 32.
        type: str
        required: true
        choices: [FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, DomainName, Url]
      action:
        description:
          - What Defender does when it meets the indicator. Required with O(state=present).
          - V(Alert) and V(AlertAndBlock) were supported until January 2022 (Microsoft's indicator resource page)
            and are refused before any request, naming the entry - use V(Audit) for V(Alert), V(Block) or
            V(BlockAndRemediate) for V(AlertAndBlock). They stay in the choices for the indicators that still
            carry them, which O(state=absent) can delete.
        type: str
        choices: [Alert, Warn, Block, Audit, BlockAndRemediate, AlertAndBlock, Allowed]
      title:
        description: The title of the alerts the indicator raises. Required with O(state=present).
        type: str
      description:
        description: Its description. The API requires one; when left out, the title is used.
        type: str
      severity:
        description: The severity of its alerts. When left out, it is not compared and Defender's value is kept.
        type: str
        choices: [Informational, Low, Medium, High]
      expiration:
        description:
          - When the indicator expires, an ISO 8601 time such as V(2026-12-31) or V(2026-12-31T23:59:59Z) (no offset
            means UTC). Compared to the second. When left out, it is not compared.
          - An entry whose expiration is past is not sent, with a warning, and is reported in RV(expired) - Microsoft's
            listing shows active indicators only, so it would otherwise be imported again on every run. An
            indicator of that key still listed is left as it is, and O(purge) does not delete it (the list names it).
        type: str
      generate_alert:
        description:
          - Whether a match raises an alert. V(Audit) requires V(true), which is sent when it is left out.
        type: bool
      recommended_actions:
        description: The recommended actions shown in its alerts.
        type: str
      rbac_group_names:
        description: Device groups the indicator applies to (compared as a set, case-insensitively).
        type: list
        elements: str
  state:
    description:
      - V(present) creates and updates the listed indicators; V(absent) deletes them (whatever their application, since
        they are named).
    type: str
    choices: [present, absent]
    default: present
  application:
    description:
      - The C(application) written to each indicator this module creates; it marks what this list manages.
      - Microsoft's API sets it only on new indicators; an indicator that already exists keeps its application (a
        warning says so).
    type: str
    default: defender.atp
  purge:
    description:
      - With O(state=present), also delete the indicators whose application is O(application) and that the list does
        not name. Indicators of any other application are never deleted.
      - An empty O(indicators) with O(purge=true) is refused before any request (in check mode too) - it would delete
        every indicator of the application, and is more often a template or file that rendered nothing than the
        intent. To delete them all, list them with O(state=absent).
    type: bool
    default: false
  max_deletions:
    description:
      - The most indicators one run may delete, by O(purge) or O(state=absent). A run that would delete more fails
        before any write (creations and updates included), naming the count; check mode predicts the same failure.
      - A guard against a list that holds fewer entries than meant, as O(defender.atp.atp_machine_isolate#module:max_machines)
        guards isolation. V(0) allows no deletion.
    type: int
    default: 100
notes:
  - "The tenant holds at most 15,000 active indicators: a run whose creations would pass that is refused before any
    write (in check mode too). With only C(Ti.ReadWrite), the count is of the indicators this application sees."
  - "Limits - import 30 calls a minute; BatchDelete 30 a minute and 1,500 an hour; listing 100 a minute. Reading is
    one call per 10,000 indicators. Throttled calls are retried as O(max_retries) and O(max_retry_wait) allow."
  - "Every entry's outcome is in the result. The task fails when any indicator was refused by the API (the import
    reports each one's C(failureReason)), after sending the others. A result marked failed in any form (C(isFailed)
    true, or a C(failureReason) without C(isFailed) false) is an error for that indicator, never a creation."
  - "Microsoft answers an import call that holds one incorrect indicator with a 400 for the whole call, naming none.
    Such a call is split in halves and sent again until the refused indicators are alone: they are reported in
    RV(errors) and the others are written. One refused indicator among 500 costs about 10 to 18 more calls; at most
    60 such calls are made a run, after which the indicators not yet told apart are reported with the 400."
  - "An indicator that is listed but whose delete finds it gone already (404) counts as deleted: it is gone either way."
  - "A BatchDelete refused for one of its indicators (a 400, a 404, or the 403 Defender answers when the user is not
    exposed to an indicator's device groups) is sent again as one delete each, so the others are deleted and the
    refused one is named. A rejected token (HTTP 401) or a missing permission (HTTP 403 naming it) stops the writes
    not yet sent."
seealso:
  - module: defender.atp.atp_indicator_info
  - name: Import indicators API
    description: Microsoft's reference of the import request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/import-ti-indicators
  - name: Indicator resource type
    description: The fields of an indicator.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/ti-indicator
'''

EXAMPLES = r'''
- name: Apply the indicators kept in git (indicators.yml), deleting the ones removed from it
  defender.atp.atp_indicator:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    indicators: "{{ lookup('ansible.builtin.file', 'indicators.yml') | from_yaml }}"
    application: soc-indicators
    purge: true

- name: Block a file and a domain
  defender.atp.atp_indicator:
    indicators:
      - type: FileSha256
        value: 2233223322332233223322332233223322332233223322332233223322332222
        action: BlockAndRemediate
        title: Ransomware loader
        severity: High
        recommended_actions: Isolate the machine and collect an investigation package
      - type: DomainName
        value: malicious.example.com
        action: Block
        title: Phishing domain
        expiration: "2026-12-31"
        rbac_group_names: [Servers, Workstations]

- name: Remove two indicators
  defender.atp.atp_indicator:
    state: absent
    indicators:
      - {type: IpAddress, value: 203.0.113.7}
      - {type: Url, value: "https://malicious.example.com/payload"}
'''

RETURN = r'''
created:
  description: The indicators created (would be, in check mode).
  returned: always
  type: dict
  sample: {"count": 1, "indicators": [{"type": "DomainName", "value": "malicious.example.com", "id": "2841"}]}
  contains:
    count:
      description: How many.
      type: int
    indicators:
      description:
        - Each one's C(type), C(value) and C(id) (null in check mode or on failure).
        - Named C(indicators), not C(values), which Jinja would read as the dictionary method.
      type: list
      elements: dict
updated:
  description: The indicators re-submitted because a field differed; each entry also names the C(fields) that differed.
  returned: always
  type: dict
  sample:
    count: 1
    indicators:
      - {"type": "FileSha1", "value": "220e7d15b011d7fac48f2bd61114db1022197f7f", "id": "995", "fields": ["action"]}
deleted:
  description: The indicators deleted (O(state=absent), or O(purge=true)).
  returned: always
  type: dict
  sample: {"count": 0, "indicators": []}
unchanged:
  description: Listed indicators that already held the given fields (with O(state=absent), listed ones that did not
    exist).
  returned: always
  type: dict
  sample: {"count": 4998, "indicators": [{"type": "IpAddress", "value": "203.0.113.7", "id": "996"}]}
expired:
  description:
    - Entries whose O(indicators[].expiration) is past, not sent; each with its C(type), C(value), C(expiration), and the
      C(id) of an indicator of that key still listed (else null).
  returned: always
  type: dict
  sample:
    count: 1
    indicators:
      - {"type": "FileSha1", "value": "220e7d15b011d7fac48f2bd61114db1022197f7f", "id": null,
         "expiration": "2020-12-12T00:00:00Z"}
errors:
  description:
    - Indicators the API refused or that could not be written, each with its C(error). The task fails when there is
      any, after sending the others.
  returned: always
  type: dict
  sample: {"count": 0, "indicators": []}
summary:
  description: The counts, and the requests the writes took (would take, in check mode).
  returned: always
  type: dict
  sample: {"created": 1, "updated": 1, "deleted": 0, "unchanged": 4998, "failed": 0, "expired": 0, "import_calls": 1,
           "delete_calls": 0, "tenant_before": 4999, "tenant_after": 5000}
diff:
  description: With C(--diff), the created, updated and deleted indicators before and after, keyed by C(type:value).
  returned: in diff mode
  type: dict
msg:
  description: A one-line account of what was done.
  returned: always
  type: str
  sample: "created 1, updated 1, deleted 0, unchanged 4998 indicators in 1 import call(s) and 0 delete call(s)."
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

from ansible_collections.defender.atp.plugins.module_utils import _indicators as iocs
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._time import format_time


def _item(entry, indicator_id=None, **extra):
    item = dict(type=entry.type, value=entry.value, id=indicator_id)
    item.update(extra)
    return item


def _existing_item(indicator, **extra):
    item = dict(type=indicator.get('indicatorType'), value=indicator.get('indicatorValue'), id=indicator.get('id'))
    item.update(extra)
    return item


def run_module(module):
    params = module.params
    application = (params['application'] or '').strip()
    if not application:
        raise AtpOptionError('application is empty: give the name that marks the indicators this list manages, or leave '
                             'it out for defender.atp.')
    if params['purge'] and params['state'] == 'absent':
        raise AtpOptionError('purge applies to state=present only (it deletes what the list does not name).')
    if params['max_deletions'] < 0:
        raise AtpOptionError('max_deletions must be 0 or more, got %d.' % params['max_deletions'])
    if not params['indicators']:
        if params['purge']:
            # A template or file that renders an empty list must not wipe the set.
            raise AtpOptionError(
                'indicators is empty and purge is true: that would delete every indicator of application %s. Refusing; '
                'nothing was sent. An empty list is usually a template or file that rendered nothing. To delete them, '
                'list them with state=absent (defender.atp.atp_indicator_info with application=%s lists them).'
                % (application, application))
        raise AtpOptionError('indicators is empty: list the indicators to keep (state=present) or to delete '
                             '(state=absent).')
    desired, warnings = iocs.validate_entries(params['indicators'], params['state'], application)
    client = module.prepare()
    existing, _truncated = iocs.list_indicators(client)
    plan = iocs.plan(desired, existing, params['state'], application, params['purge'])
    warnings.extend(plan.warnings)
    iocs.check_deletions(plan, params['max_deletions'])
    tenant_after = iocs.check_tenant_limit(len(existing), plan)

    created = [_item(entry) for entry in plan.create]
    updated = [_item(entry, current.get('id'), fields=changed) for entry, current, changed in plan.update]
    deleted = [_existing_item(indicator) for indicator in plan.delete]
    unchanged = [_item(entry, current.get('id') if current else None) for entry, current in plan.unchanged]
    expired = [_item(entry, current.get('id') if current else None, expiration=format_time(entry.expired, fraction=False))
               for entry, current in plan.expired]
    failed = []
    writes = list(plan.create) + [entry for entry, _current, _changed in plan.update]
    import_calls = (len(writes) + iocs.IMPORT_BATCH - 1) // iocs.IMPORT_BATCH
    delete_ids = [str(indicator.get('id')) for indicator in plan.delete]
    delete_calls = (len(delete_ids) + iocs.DELETE_BATCH - 1) // iocs.DELETE_BATCH

    if not module.check_mode:
        # Deletions first, so the room they free counts for the creations under the tenant limit.
        if delete_ids:
            errors, delete_calls = iocs.delete_indicators(client, delete_ids)
            kept = []
            for item in deleted:
                error = errors.get(str(item['id']))
                if error:
                    failed.append(dict(item, error=error))
                else:
                    kept.append(item)
            deleted = kept
        if writes:
            results, import_calls = iocs.import_indicators(client, [entry.body for entry in writes])
            outcome = [results.get(index, (None, 'no result')) for index in range(len(writes))]
            created_out, updated_out = [], []
            for index, (indicator_id, error) in enumerate(outcome):
                item = created[index] if index < len(created) else updated[index - len(created)]
                if indicator_id is not None:
                    item['id'] = indicator_id
                if error:
                    failed.append(dict(item, error=error))
                elif index < len(created):
                    created_out.append(item)
                else:
                    updated_out.append(item)
            created, updated = created_out, updated_out

    result = dict(
        changed=bool(created or updated or deleted),
        created=dict(count=len(created), indicators=created), updated=dict(count=len(updated), indicators=updated),
        deleted=dict(count=len(deleted), indicators=deleted), unchanged=dict(count=len(unchanged), indicators=unchanged),
        errors=dict(count=len(failed), indicators=failed), expired=dict(count=len(expired), indicators=expired),
        summary=dict(created=len(created), updated=len(updated), deleted=len(deleted), unchanged=len(unchanged),
                     failed=len(failed), expired=len(expired), import_calls=import_calls if writes else 0,
                     delete_calls=delete_calls if delete_ids else 0, tenant_before=len(existing),
                     tenant_after=tenant_after if module.check_mode else len(existing) - len(deleted) + len(created)))
    if module.diff_mode:
        result['diff'] = make_diff(plan)
    for warning in warnings[:10]:
        module.warn(warning)
    if len(warnings) > 10:
        module.warn('%d more warnings like these.' % (len(warnings) - 10))
    message = '%s: created %d, updated %d, deleted %d, unchanged %d indicators in %d import call(s) and %d delete call(s)' % (
        'check mode, nothing sent' if module.check_mode else 'done', len(created), len(updated), len(deleted),
        len(unchanged), result['summary']['import_calls'], result['summary']['delete_calls'])
    if expired:
        message += '; %d expired, not sent' % len(expired)
    if failed:
        shown = ['%s:%s (%s)' % (f['type'], f['value'], f['error']) for f in failed[:10]]
        message += '; %d failed: %s' % (len(failed), '; '.join(shown))
        module.fail_json(msg=message + '.', **result)
    module.exit_json(msg=message + '.', **result)


def make_diff(plan):
    before = {}
    after = {}
    for entry in plan.create:
        after[iocs.label(entry.key)] = dict(entry.body)
    for entry, current, _changed in plan.update:
        before[iocs.label(entry.key)] = iocs.view(current)
        merged = dict(iocs.view(current))
        merged.update((k, v) for k, v in entry.body.items() if k != 'application')
        after[iocs.label(entry.key)] = merged
    for indicator in plan.delete:
        key = iocs.api_key(indicator)
        name = iocs.label(key) if key else '%s:%s' % (indicator.get('indicatorType'), indicator.get('indicatorValue'))
        before[name] = iocs.view(indicator)
    return dict(before=before, after=after)


def main():
    module = AtpModule(
        argument_spec=dict(
            indicators=dict(type='list', elements='dict', required=True, options=dict(
                value=dict(type='str', required=True),
                type=dict(type='str', required=True, choices=list(iocs.TYPES)),
                action=dict(type='str', choices=list(iocs.ACTIONS)),
                title=dict(type='str'),
                description=dict(type='str'),
                severity=dict(type='str', choices=list(iocs.SEVERITIES)),
                expiration=dict(type='str'),
                generate_alert=dict(type='bool'),
                recommended_actions=dict(type='str'),
                rbac_group_names=dict(type='list', elements='str'),
            )),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            application=dict(type='str', default=iocs.DEFAULT_APPLICATION),
            purge=dict(type='bool', default=False),
            max_deletions=dict(type='int', default=100),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
