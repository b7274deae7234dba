# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """What the modules that act on machines share, documented once.

    DOCUMENTATION: choosing the machines and the guards, for every such module (atp_machine_isolate,
    atp_app_restriction, atp_machine_action, atp_machine_tag). ACTIONS (``defender.atp.machine_action.actions``): the
    options of the modules whose requests create machine actions (all but atp_machine_tag). DESIRED_STATE
    (``defender.atp.machine_action.desired_state``): the modules that put machines in a state read from their action
    history (atp_machine_isolate, atp_app_restriction).

    RETURN: the canonical text of the return keys these modules share. ansible-core merges RETURN fragments only from
    2.20 on and the collection supports 2.16, so each module keeps a copy in its own RETURN, and
    tests/unit/plugins/doc_fragments/test_shared_docs.py keeps every copy equal to this text.
    """

    DOCUMENTATION = r'''
options:
  machines:
    description:
      - Machines to act on, in one list. Each entry is a machine id (40 hexadecimal characters, any case) or a computer
        DNS name (matched case-insensitively; a name without a dot also matches a fully qualified name that starts
        with it, so V(ws-042) matches C(ws-042.contoso.com)).
      - Give the whole list to one task. A C(loop) is never needed, and would cost a login, a module start and
        separate reads per machine.
      - Duplicates, including a name and the id of the same machine, are acted on once.
      - A name that matches several machines (for example a re-imaged host that appears twice) is an error for that
        entry, listing every candidate with its C(lastSeen) and C(healthStatus); the module never picks one.
      - An empty list, or an entry that is empty, not a string, or holds characters no machine name has (anything but
        letters, digits, C(-), C(_) and C(.), such as quotes, spaces or OData syntax), is an error before any request,
        naming the entry. Names are also sent as escaped OData literals, so no entry can widen a lookup.
    type: list
    elements: str
    required: true
  max_machines:
    description:
      - Refuse, before any write, a task that would send requests for more machines than this. Only machines that
        need a request count; machines already as asked (in the desired state, with the action already under way,
        already tagged) do not, so a re-run over a fleet that is mostly done still works.
      - Applies in check mode too, so a check run shows the same refusal.
      - Must be 1 or more.
    type: int
    default: 25
  allow_partial:
    description:
      - With V(false), the task fails when any machine failed (unknown, ambiguous, a conflicting action, refused by the
        API, an action that ended unsuccessfully), and its message names them; the other machines are still acted on
        and reported.
      - With V(true), the task succeeds as long as the run itself worked; check RV(summary.failed) and
        RV(machines[].error).
    type: bool
    default: false
notes:
  - "Partial failure: every machine is attempted, and each one's outcome is in RV(machines) with RV(summary) counts.
    A rejected token (HTTP 401) or a missing permission (HTTP 403 naming it) stops the requests not yet sent, since
    they would be refused too. Any other 403 is about one machine (for a user token, a machine outside the user's
    device groups or role; C(DisallowedOperation); C(DisabledFeature)): an error for that machine alone."
'''

    ACTIONS = r'''
options:
  comment:
    description:
      - Why, sent as the API's C(Comment) and shown in the Defender portal's action center. Reference the incident or
        ticket.
      - Must not be empty.
    type: str
    required: true
  wait:
    description:
      - Wait until each action is final (Succeeded, Failed, TimeOut or Cancelled), for at most O(wait_timeout)
        seconds, reading the actions every O(poll_interval) seconds (batched reads, or one listing for a larger fleet).
      - Also waits for the actions already under way that the task took instead of sending a new one.
      - A machine whose action is still Pending or InProgress at the deadline is reported as pending (counted in
        RV(summary.pending), and RV(machines[].state) says so), never as done. Offline machines can stay pending for
        days.
      - An action that ends Failed, TimeOut or Cancelled is a failure for that machine.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true) (0 or more).
    type: int
    default: 300
  poll_interval:
    description: Seconds between two reads of the actions with O(wait=true) (more than 0).
    type: float
    default: 10
notes:
  - "Offline machines: Defender keeps an action Pending until the machine connects (it retries for up to three days).
    Such a machine is counted in RV(summary.pending) and warned about, never reported as done."
  - "Writes are never repeated blindly: when a request gets no clear answer (5xx, timeout, dropped connection), the
    machine's actions are read again and the request is sent again only when no new action appeared. When the API
    refuses a request because an action of that type is already running (C(ActiveRequestAlreadyExists)), the
    machine's actions are read again and decided on as at the start; that answer never fails the run by itself."
  - "Rate limits: machine actions and the reads of machines and actions share 100 requests a minute and 1,500 an hour
    per application and tenant, with every run that uses the same app. The module honours C(429) and C(Retry-After)
    (all its workers pause together), then learns the quota from what the API does - how many requests it accepted
    before the first 429, and when C(Retry-After) and later answers say the window frees up - and keeps its own
    requests within it. The 429 message is only a hint (Microsoft documents error messages as free text); when it
    names the quota, that is used. A machine whose request would have to wait longer than O(max_retry_wait) (the
    hourly quota used up) is not sent and fails with a message saying so; raise O(max_retry_wait) to wait instead."
'''

    DESIRED_STATE = r'''
options:
  force:
    description:
      - Send the request even to machines whose action history says they are already in the desired state, for when
        that history may be wrong (a change made outside the API). Those machines are reported with
        RV(machines[].changed=true).
      - Still one request per machine and run (a name and the id of the same machine count once), and never to a
        machine whose action in the desired direction is still Pending or InProgress (the API would answer
        C(ActiveRequestAlreadyExists); that action is taken, as without O(force)). A pending action in the opposite
        direction is still a conflict.
      - Counts against O(max_machines) like any other request.
    type: bool
    default: false
    version_added: 0.2.0
notes:
  - "A pending action in the opposite direction is an error for that machine: sending the opposite action would race
    with it."
'''

    RETURN = r'''
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
    changed:
      description: Whether a request was sent for this machine (or would be, in check mode).
      type: bool
    candidates:
      description: For a name matching several machines, every candidate (C(machine_id), C(computer_dns_name),
        C(last_seen), C(health_status), C(os_platform)), newest C(last_seen) first.
      type: list
      elements: dict
      returned: when the name was ambiguous
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
msg:
  description: A one-line account of what was done, naming the failed machines.
  returned: always
  type: str
'''
