#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_app_restriction
short_description: Restrict app execution on machines with Microsoft Defender for Endpoint, or lift the restriction
version_added: 0.2.0
description:
  - Puts a list of machines in a desired app execution state, O(state=restricted) (only Microsoft-signed files may run)
    or O(state=unrestricted), in one task. A containment step for when network isolation is too much.
  - Idempotent. Each machine's state is read from its newest RestrictCodeExecution or UnrestrictCodeExecution machine
    action, exactly as isolation is read (see the notes). A machine already in the desired state, or with an action in
    that direction under way, gets no request; O(force=true) sends it anyway.
  - App restriction is a Windows-only action (Microsoft's pages). A machine whose C(osPlatform) is a known other
    platform (C(Linux), C(macOS), C(iOS), C(Android), ...) gets no request and is an error in RV(machines) (in check
    mode too, and it does not count against O(max_machines)); a machine whose C(osPlatform) is unknown or null gets
    the request, and the service's C(400 OsPlatformNotSupported) is an error for that machine alone.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Application permissions C(Machine.RestrictExecution) and C(Machine.Read.All) (or C(Machine.ReadWrite.All)) for the
    reads."
  - "Delegated (user) tokens: C(Machine.RestrictExecution) and C(Machine.Read) (or C(Machine.ReadWrite)), and a
    Defender role with 'Active remediation actions' covering the machines' device groups."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.machine_action
  - defender.atp.machine_action.actions
  - defender.atp.machine_action.desired_state
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Does every read and returns what a real run would do (RV(changed), each machine's RV(machines[].previous_state)
        and RV(machines[].state), the O(max_machines) guard) without sending any request.
  diff_mode:
    support: full
    details:
      - Returns the state of each machine before and after, keyed by machine id (two machines may share a computer DNS name).
options:
  state:
    description: V(restricted) restricts app execution; V(unrestricted) lifts the restriction.
    type: str
    choices: [restricted, unrestricted]
    default: restricted
notes:
  - "State model: newest RestrictCodeExecution/UnrestrictCodeExecution action (by C(creationDateTimeUtc)) Succeeded:
    V(restricted) or V(unrestricted); Pending or InProgress: V(restricting) or V(unrestricting); Failed, TimeOut or
    Cancelled: the state of the newest Succeeded one before it. No history: V(unrestricted)."
seealso:
  - module: defender.atp.atp_machine_isolate
  - module: defender.atp.atp_machine_action
  - name: Restrict app execution API
    description: Microsoft's reference of the restriction request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/restrict-code-execution
  - name: Remove app restriction API
    description: Microsoft's reference of the request that lifts it.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/unrestrict-code-execution
'''

EXAMPLES = r'''
- name: Restrict app execution on the machines of an incident
  defender.atp.atp_app_restriction:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines: "{{ suspicious_hosts }}"
    comment: "IR-1234: only signed binaries until triage"
    wait: true

- name: Lift the restriction after remediation
  defender.atp.atp_app_restriction:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines: "{{ suspicious_hosts }}"
    state: unrestricted
    comment: "IR-1234: remediated"
'''

RETURN = r'''
changed:
  description: Whether a restrict or unrestrict request was sent (or, in check mode, would be).
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
      description: The state before this task - V(restricted), V(unrestricted), V(restricting) or V(unrestricting).
      type: str
      sample: unrestricted
    state:
      description: The state after this task; V(restricting)/V(unrestricting) while the action is Pending or
        InProgress. Null for an entry that was not resolved.
      type: str
      sample: restricting
    changed:
      description: Whether a request was sent for this machine (or would be, in check mode).
      type: bool
    action:
      description: The machine action this result rests on (created, under way, or the newest Succeeded one behind the
        state); null when there is none.
      type: dict
      sample: {"id": "b89eb834-4578-496c-8be0-03f004061435", "type": "RestrictCodeExecution", "status": "Pending"}
    error:
      description: Why this machine failed (unknown, ambiguous, conflicting action, API error, action Failed), else null.
      type: str
    candidates:
      description: For a name matching several machines, every candidate (C(machine_id), C(computer_dns_name),
        C(last_seen), C(health_status), C(os_platform)), newest C(last_seen) first.
      type: list
      elements: dict
      returned: when the name was ambiguous
    warnings:
      description: Things to know about this machine (offline).
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
  description: With C(--diff), each machine's state before and after, keyed by machine id (two machines may share a
    computer DNS name).
  returned: in diff mode
  type: dict
  sample: {"before": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": "unrestricted"}, "after": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": "restricting"}}
msg:
  description: A one-line account of what was done, naming the failed machines.
  returned: always
  type: str
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

from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import (
    machine_argument_spec, run_action_module)
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._machines.desired_state import RestrictionSpec
from ansible_collections.defender.atp.plugins.module_utils._machines.states import RESTRICTED, UNRESTRICTED


def run_module(module):
    params = module.params
    run_action_module(module, RestrictionSpec(params['state'], params['comment'], force=params['force']))


def main():
    module = AtpModule(
        argument_spec=machine_argument_spec(
            state=dict(type='str', default=RESTRICTED, choices=[RESTRICTED, UNRESTRICTED]),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
