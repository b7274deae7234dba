#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_machine_isolate
short_description: Isolate machines from the network with Microsoft Defender for Endpoint, or release them
version_added: 0.1.0
description:
  - Puts a list of machines (O(machines), ids or computer DNS names) in a desired isolation state,
    O(state=isolated) or O(state=unisolated), in one task.
  - Idempotent. The current state of each machine is read from its newest Isolate or Unisolate machine action (see
    the notes). A machine already in the desired state, or with an action in the desired direction still under way,
    gets no request. A second run of the same task changes nothing. Each result says which action the state was read
    from and how old it is (RV(machines[].state_source)); O(force=true) sends the request anyway where that history
    may be wrong.
  - Reads are batched (one filtered request serves up to 12 machines, sized to stay under the API's C($filter) node
    limit and split if the API still refuses it; one paged listing serves large fleets); the
    isolate and unisolate requests run concurrently, bounded, and pause together when the API throttles them.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Application permissions C(Machine.Isolate) and C(Machine.Read.All) (or C(Machine.ReadWrite.All)): the module reads
    machines and their actions before it acts."
  - "Delegated (user) tokens: C(Machine.Isolate) and C(Machine.Read) (or C(Machine.ReadWrite)), and a Defender role with
    'Active remediation actions' that covers the machines' device groups."
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
      - Does every read (resolves the machines, reads their isolation state) and returns what a real run would do,
        including RV(changed), each machine's RV(machines[].previous_state) and RV(machines[].state), and the
        O(max_machines) guard, without sending any isolate or unisolate request.
      - O(wait) is not simulated; a machine that would be acted on is reported in its transitional state
        (V(isolating) or V(unisolating)), as a real run reports it before waiting.
  diff_mode:
    support: full
    details:
      - Returns the state of each machine before and after, keyed by machine id (two machines may share a computer DNS name).
options:
  state:
    description:
      - V(isolated) cuts the machines off the network (keeping their connection to Defender);
        V(unisolated) releases them.
    type: str
    choices: [isolated, unisolated]
    default: isolated
  isolation_type:
    description:
      - The isolation type of new isolate requests (the API's C(IsolationType)). V(Full) blocks all traffic but
        Defender's, V(Selective) also allows Outlook, Teams and Skype for Business, V(UnManagedDevice) contains a device
        that Defender does not manage.
      - A machine already isolated with another type is left as it is, with a warning; changing the type means
        releasing the machine first, which this module never does on its own.
      - Ignored with O(state=unisolated).
    type: str
    choices: [Full, Selective, UnManagedDevice]
    default: Full
  state_max_age_days:
    description:
      - A machine left as it is on the word of an action older than this many days gets a warning (and the task's
        warnings say so), since the history may no longer tell the truth. The age is in each
        RV(machines[].state_source.age_days).
      - Must be more than 0; fractions are allowed.
    type: float
    default: 30
    version_added: 0.2.0
notes:
  - "State model: no Defender API field says whether a machine is isolated, so each machine's state comes from its
    Isolate and Unisolate machine actions, sorted by C(creationDateTimeUtc) here because the API's order is not
    chronological. Newest action Succeeded: V(isolated) or V(unisolated). Newest action Pending or InProgress:
    V(isolating) or V(unisolating). Newest action Failed, TimeOut or Cancelled: nothing changed, so the state is that
    of the newest Succeeded action before it. No history: V(unisolated). Statuses are read case-insensitively
    (C(Cancelled) and C(Canceled)), and both C(lastUpdateDateTimeUtc) and C(lastUpdateTimeUtc) are understood."
  - "VPN: a machine behind a full-tunnel VPN may lose its connection to Defender once isolated, and then cannot
    receive the release either. Prefer V(Selective) isolation or check the VPN before isolating remote machines."
  - "Actions started from the Defender portal are assumed to show in the machine-actions API, as the API and the
    portal share isolation state."
  - "Limits of the history: Microsoft documents releases that create no Unisolate action - a Linux device is released
    when an administrator changes its iptables rules, the portal offers a script that force-releases a device, and an
    isolation request for an offline device is retried for three days and then expires - and does not document how
    long machine actions are kept. So the newest action can say V(isolated) for a machine that is not. Check
    RV(machines[].state_source) (the action the state was read from, and its age); O(state_max_age_days) warns about
    old ones, and O(force=true) sends the request regardless."
seealso:
  - module: defender.atp.atp_machine_info
  - module: defender.atp.atp_token
  - name: Isolate machine API
    description: Microsoft's reference of the isolate request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/isolate-machine
  - name: Release device from isolation API
    description: Microsoft's reference of the unisolate request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/unisolate-machine
'''

EXAMPLES = r'''
- name: Contain the machines of an incident, in one task
  defender.atp.atp_machine_isolate:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines:
      - ws-042.contoso.com
      - 1e5bc9d7e413ddd7902c2932e418702b84d0cc07
      - SRV-FILE-01
    comment: "IR-1234: contain ransomware"
  register: contained

- name: Set the connection once for the whole block
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: Preview what would be isolated (reads only, no isolate request)
      defender.atp.atp_machine_isolate:
        machines: "{{ suspicious_hosts }}"
        comment: "IR-1234: contain"
      check_mode: true
      diff: true
      register: preview

    - name: Isolate, and wait until Defender confirms it (offline machines are reported as pending)
      defender.atp.atp_machine_isolate:
        machines: "{{ suspicious_hosts }}"
        isolation_type: Selective
        comment: "IR-1234: contain, keep Teams"
        wait: true
        wait_timeout: 600
        poll_interval: 15
      register: isolated

    - name: Show the machines still pending (offline)
      ansible.builtin.debug:
        msg: "{{ isolated.machines | selectattr('state', 'equalto', 'isolating') | map(attribute='computer_dns_name') | list }}"

    - name: Isolate a larger fleet; unknown or ambiguous names are reported, not fatal
      defender.atp.atp_machine_isolate:
        machines: "{{ groups['compromised'] }}"
        comment: "IR-1250: worm outbreak"
        max_machines: 200
        allow_partial: true
      register: fleet

    - name: List the entries that could not be acted on
      ansible.builtin.debug:
        msg: "{{ fleet.machines | selectattr('error') | map(attribute='input') | list }}"

    - name: Isolate again machines that may have been released outside the API (the history still says isolated)
      defender.atp.atp_machine_isolate:
        machines: "{{ suspicious_hosts }}"
        comment: "IR-1234: re-apply containment"
        force: true

    - name: Release the machines after remediation
      defender.atp.atp_machine_isolate:
        machines: "{{ suspicious_hosts }}"
        state: unisolated
        comment: "IR-1234: remediated and verified"
'''

RETURN = r'''
changed:
  description: Whether an isolate or unisolate request was sent (or, in check mode, would be).
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
      description: The state before this task - V(isolated), V(unisolated), V(isolating) or V(unisolating).
      type: str
      sample: unisolated
    state:
      description:
        - The state after this task. V(isolating) or V(unisolating) while the action is Pending or InProgress (always
          the case just after a request without O(wait)), V(isolated) or V(unisolated) once it Succeeded.
        - Null for an entry that was not resolved.
      type: str
      sample: isolating
    isolation_type:
      description: The isolation type in force or requested (V(Full), V(Selective), V(UnManagedDevice)) when the state is
        V(isolated) or V(isolating), else null.
      type: str
      sample: Full
    changed:
      description: Whether a request was sent for this machine (or would be, in check mode).
      type: bool
    action:
      description:
        - The machine action this result rests on - the one created, the one already under way, or the newest
          Succeeded one behind the current state. Null when there is none (no history, check mode).
      type: dict
      sample: {"id": "b89eb834-4578-496c-8be0-03f004061435", "type": "Isolate", "status": "Pending", "scope": "Full",
               "requestor": "3a1f5c2e-8a7b-4a0d-9a57-2f1e0c6d7b11", "requestor_comment": "IR-1234: contain",
               "creation_date_time_utc": "2026-01-05T08:12:44.1234567Z", "last_update_date_time_utc": "2026-01-05T08:12:44.1234567Z"}
    state_source:
      description:
        - The Isolate or Unisolate action the state before this task (RV(machines[].previous_state)) was read from - the
          newest one, or the newest Succeeded one behind a Failed, TimeOut or Cancelled one - with its age in days when
          the task ran.
        - Null when the machine has no such action (its state is then V(unisolated)) and for an entry that was not
          resolved.
      type: dict
      returned: always
      version_added: 0.2.0
      sample: {"id": "b89eb834-4578-496c-8be0-03f004061435", "type": "Isolate", "status": "Succeeded",
               "creation_time": "2026-01-05T08:12:44.1234567Z", "age_days": 41.52}
      contains:
        id:
          description: The machine action's id.
          type: str
        type:
          description: V(Isolate) or V(Unisolate).
          type: str
        status:
          description: Its status (V(Succeeded), V(Pending), V(InProgress)).
          type: str
        creation_time:
          description: Its C(creationDateTimeUtc).
          type: str
        age_days:
          description: Days from its creation to this task (two decimals), or null when the API gave no creation time.
          type: float
    error:
      description: Why this machine failed (unknown, ambiguous, conflicting action, API error, action Failed), else null.
      type: str
      sample: null
    candidates:
      description: For a name matching several machines, every candidate (C(machine_id), C(computer_dns_name),
        C(last_seen), C(health_status), C(os_platform)), newest C(last_seen) first.
      type: list
      elements: dict
      returned: when the name was ambiguous
    warnings:
      description: Things to know about this machine (an isolation type different from the one asked for, an older
        action still pending, an offline machine, a state read from an action older than O(state_max_age_days)).
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
  sample: {"before": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": "unisolated"}, "after": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": "isolating"}}
msg:
  description: A one-line account of what was done, naming the failed machines.
  returned: always
  type: str
  sample: "sent isolate requests for 2 machines, 1 already isolated or under way, 1 failed: ws-9 (no machine is named
    ws-9)."
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
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._machines.desired_state import DEFAULT_STATE_MAX_AGE_DAYS, IsolationSpec
from ansible_collections.defender.atp.plugins.module_utils._machines.states import ISOLATION_TYPES


def run_module(module):
    params = module.params
    if params['state_max_age_days'] <= 0:
        raise AtpOptionError('state_max_age_days must be more than 0 days, got %s.' % params['state_max_age_days'])
    spec = IsolationSpec(params['state'], params['comment'], params['isolation_type'], force=params['force'],
                         max_age_days=params['state_max_age_days'])
    run_action_module(module, spec)


def main():
    module = AtpModule(
        argument_spec=machine_argument_spec(
            state=dict(type='str', default='isolated', choices=['isolated', 'unisolated']),
            isolation_type=dict(type='str', default='Full', choices=list(ISOLATION_TYPES)),
            force=dict(type='bool', default=False),
            state_max_age_days=dict(type='float', default=DEFAULT_STATE_MAX_AGE_DAYS),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
