#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_machine_tag
short_description: Add tags to machines in Microsoft Defender for Endpoint, or remove them
version_added: 0.2.0
description:
  - Makes O(tags) present on (O(state=present)) or absent from (O(state=absent)) a list of machines in one task, so
    device groups and later plays can find them.
  - Idempotent against each machine's C(machineTags), compared case-insensitively as the portal does - only missing
    tags are added (in the spelling given), only present ones removed. Microsoft's pages do not say the service
    compares tags case-insensitively, so a tag is removed in the exact spelling each machine holds (a machine holding
    C(IR-1) and one holding C(ir-1) each get their own spelling; a machine holding both loses both).
  - Few requests - the tags come with the machines read to resolve them, and a spelling that several machines need is
    written with one C(AddOrRemoveTagForMultipleMachines) request per 500 machines; a spelling only one machine needs
    uses that machine's C(tags) request.
  - RV(machines[].tags_after) is what the server holds after the writes - the machine as the API answered it, or read
    again (one batched read) when an answer did not list it. A change the answer does not show is an error for that
    machine; one that a read-back does not show yet is a warning (a change can take a while to show).
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Application permission C(Machine.ReadWrite.All) (it also covers the reads)."
  - "Delegated (user) tokens: C(Machine.ReadWrite), and a Defender role with 'Manage security settings' covering the
    machines' device groups."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.machine_action
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Reads the machines and returns what a real run would do (RV(changed), each machine's RV(machines[].tags_after),
        the O(max_machines) guard) without changing any tag.
  diff_mode:
    support: full
    details:
      - Returns each machine's tags before and after, keyed by machine id (two machines may share a computer DNS name).
options:
  tags:
    description:
      - The tags, each 1 to 200 characters. Duplicates (case-insensitive) count once.
      - An empty list, an empty tag or a tag over 200 characters is an error before any request.
    type: list
    elements: str
    required: true
  state:
    description: V(present) adds the tags a machine lacks; V(absent) removes those it has.
    type: str
    choices: [present, absent]
    default: present
notes:
  - "When a bulk request is refused (a 400, a 404, or a 403 for one machine, such as a user token's machine outside
    the user's device groups), each of its machines is sent on its own, so one bad machine does not keep the tag from
    the others and is named."
  - "An endpoint's local administrator can set that machine's own tags (the C(DeviceTagging) registry value), so
    a tag is not proof of anything about a machine: never exempt machines from containment, or select them for a
    privileged step, on a tag alone."
  - "Rate limits: 100 requests a minute and 1,500 an hour per application, shared with the other machine APIs."
seealso:
  - module: defender.atp.atp_machine_info
  - name: Add or remove a tag for a machine API
    description: Microsoft's reference of the per-machine request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/add-or-remove-machine-tags
  - name: Add or remove a tag for multiple machines API
    description: Microsoft's reference of the bulk request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/add-or-remove-multiple-machine-tags
'''

EXAMPLES = r'''
- name: Tag the machines of an incident so a device group and later plays find them
  defender.atp.atp_machine_tag:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines: "{{ groups['compromised'] }}"
    tags: [IR-1234, contained]
    max_machines: 200
  register: tagged

- name: Remove the incident tag once closed
  defender.atp.atp_machine_tag:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines: "{{ groups['compromised'] }}"
    tags: [contained]
    state: absent
    max_machines: 200
'''

RETURN = r'''
changed:
  description: Whether a tag was added or removed (or, in check mode, would be).
  returned: always
  type: bool
machines:
  description: One entry per distinct machine, and one per entry that could not be resolved, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    input:
      description: The entry of O(machines) this result is for (the first one, when several named the same machine).
      type: str
      sample: WS-042
    inputs:
      description: Every entry of O(machines) that named this machine.
      type: list
      elements: str
      sample: [WS-042, 1e5bc9d7e413ddd7902c2932e418702b84d0cc07]
    machine_id:
      description: The machine id, or null when the entry was not resolved.
      type: str
      sample: 1e5bc9d7e413ddd7902c2932e418702b84d0cc07
    computer_dns_name:
      description: The machine's computer DNS name.
      type: str
      sample: ws-042.contoso.com
    health_status:
      description: The machine's C(healthStatus) (V(Active), V(Inactive), ...).
      type: str
      sample: Active
    last_seen:
      description: The machine's C(lastSeen).
      type: str
      sample: "2026-01-05T08:12:44.1234567Z"
    matched_by:
      description: How the entry matched - V(id), V(name) or V(short_name).
      type: str
      sample: name
    previous_state:
      description: Always null (the state of this module is in RV(machines[].tags_before)).
      type: str
    state:
      description: Always null (the state of this module is in RV(machines[].tags_after)).
      type: str
    tags_before:
      description: The machine's C(machineTags) before the task; null for an entry that was not resolved.
      type: list
      elements: str
      sample: [finance]
    tags_after:
      description: The machine's tags after the task as the server holds them (its answer, or the machine read again);
        in check mode, as they would be; the tags before for a machine that got no change; null when a changed
        machine could not be read back (with a warning).
      type: list
      elements: str
      sample: [finance, IR-1234]
    changed:
      description: Whether a request was sent for this machine (or would be, in check mode).
      type: bool
    action:
      description: Always null (tag requests create no machine action).
      type: dict
    error:
      description: Why this machine failed (unknown, ambiguous, API error, a change the API's answer does not show),
        else null.
      type: str
    candidates:
      description: For a name matching several machines, every candidate (C(machine_id), C(computer_dns_name),
        C(last_seen), C(health_status), C(os_platform)), newest C(last_seen) first.
      type: list
      elements: dict
      returned: when the name was ambiguous
    warnings:
      description: Things to know about this machine.
      type: list
      elements: str
summary:
  description:
    - Counts. RV(summary.total) is RV(summary.changed) + RV(summary.unchanged) + RV(summary.failed).
    - RV(summary.pending) counts the machines, changed or not, whose action is still Pending or InProgress at the end
      (always 0 for M(defender.atp.atp_machine_tag), whose requests create no machine action).
  returned: always
  type: dict
  sample: {"total": 4, "changed": 2, "unchanged": 1, "failed": 1, "pending": 0}
  contains:
    total:
      description: Distinct machines and unresolved entries.
      type: int
    changed:
      description: Machines a request was sent for (would be, in check mode).
      type: int
    unchanged:
      description: Machines that needed no request (already as asked, or with the action asked for under way).
      type: int
    failed:
      description: Entries that failed (unresolved, conflicting, refused by the API, action ended unsuccessfully).
      type: int
    pending:
      description: Machines (changed or not) whose action is still Pending or InProgress at the end.
      type: int
diff:
  description: With C(--diff), each machine's tags before and after, keyed by machine id (two machines may share a
    computer DNS name).
  returned: in diff mode
  type: dict
  sample: {"before": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": []}, "after": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": ["IR-1234"]}}
msg:
  description: A one-line account of what was done, naming the failed machines.
  returned: always
  type: str
  sample: "sent tag requests for 2 machines, 1 already tagged as asked."
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

from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import DEFAULTS, run_action_module
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._machines.tags import (
    ABSENT, PRESENT, TagOrchestrator, TagSpec, validate_tags)


def run_module(module):
    params = module.params
    tags = validate_tags(params['tags'])
    run_action_module(module, TagSpec(tags, params['state']), orchestrator_class=TagOrchestrator)


def main():
    module = AtpModule(
        argument_spec=dict(
            machines=dict(type='list', elements='str', required=True),
            tags=dict(type='list', elements='str', required=True),
            state=dict(type='str', default=PRESENT, choices=[PRESENT, ABSENT]),
            max_machines=dict(type='int', default=DEFAULTS['max_machines']),
            allow_partial=dict(type='bool', default=DEFAULTS['allow_partial']),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
