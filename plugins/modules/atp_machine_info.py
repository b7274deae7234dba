#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_machine_info
short_description: Read Microsoft Defender for Endpoint machines, optionally with their isolation state
version_added: 0.1.0
description:
  - Reads machines from the Defender for Endpoint API, either the ones named in O(machines) (ids or computer DNS names,
    resolved exactly as M(defender.atp.atp_machine_isolate) resolves them) or all machines matching filters.
  - Pages with C($top)/C($skip) itself, up to O(limit) machines, and says in RV(truncated) whether more existed.
  - With O(isolation_state=true), adds each machine's isolation state, derived from its Isolate and Unisolate machine
    actions with the same model as M(defender.atp.atp_machine_isolate) (batched reads, not one per machine).
  - Never changes anything.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Application permission C(Machine.Read.All) (or C(Machine.ReadWrite.All)); delegated C(Machine.Read) (or
    C(Machine.ReadWrite)). User tokens only see the machines of the user's device groups."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
  - defender.atp.attributes.check_mode_read_only
options:
  machines:
    description:
      - Machine ids (40 hexadecimal characters) or computer DNS names (matched case-insensitively; a name without a dot
        also matches fully qualified names starting with it).
      - Every machine a name matches is returned (this module only reads, so nothing is guessed); entries that match
        nothing are listed in RV(not_found).
      - An entry that is empty or holds characters no machine name has (anything but letters, digits, C(-), C(_) and
        C(.), such as quotes, spaces or OData syntax) is an error before any request.
      - Cannot be combined with O(filter), O(health_status), O(os_platform) or O(tags).
    type: list
    elements: str
  filter:
    description:
      - A raw OData C($filter) expression, for example V(riskScore eq 'High'). It is ANDed with the other filters,
        inside parentheses.
      - An empty filter, or one with an unclosed quote or unbalanced parentheses, is an error before any request (an
        unbalanced one could otherwise escape the parentheses and widen the match).
      - Documented filterable fields are C(computerDnsName), C(id), C(version), C(deviceValue), C(aadDeviceId),
        C(machineTags), C(lastSeen), C(exposureLevel), C(onboardingStatus), C(lastIpAddress), C(healthStatus),
        C(osPlatform), C(riskScore), C(rbacGroupId).
      - The API (ASP.NET OData) refuses a C($filter) of more than 100 nodes by default, about 20 comparisons in all,
        counting those the module builds from O(health_status) and O(os_platform) (O(tags) are compared by the module,
        not in the filter); such a filter fails with the API's message.
      - A C(machineTags) comparison written here is the API's, whose case sensitivity is not documented; O(tags)
        compares case-insensitively.
    type: str
  health_status:
    description: Only machines with one of these health states (C(healthStatus)).
    type: list
    elements: str
    choices: [Active, Inactive, ImpairedCommunication, NoSensorData, NoSensorDataImpairedCommunication, Unknown]
  os_platform:
    description: Only machines on one of these platforms (C(osPlatform)), for example V(Windows11), V(Linux), V(macOS).
    type: list
    elements: str
  tags:
    description:
      - Only machines carrying at least one of these tags (C(machineTags)), as the inventory plugin
        P(defender.atp.machines#inventory)'s O(defender.atp.machines#inventory:tags) selects them. Like the other list
        options, a machine needs one of the values; the options combine with C(and).
      - Tags compare case-insensitively, as the Defender portal and M(defender.atp.atp_machine_tag) compare them, so
        V(Compromised) selects machines tagged V(compromised) or V(COMPROMISED). Whether the API's own C($filter)
        compares tags case-sensitively is not documented, so they are compared by the module; the machines matching
        the other filters are read (10,000 a request) and those with a matching tag kept.
      - B(Tags are not a security boundary.) An endpoint's local administrator can set the machine's own tag (on
        Windows the registry value C(HKLM\SOFTWARE\Policies\Microsoft\Windows Advanced Threat
        Protection\DeviceTagging\Group); on macOS and Linux the local configuration profile), so a compromised
        machine can add a tag that selects it, or one that a runbook uses to exempt machines. Select by machine id, or
        check tags against a list you keep, before an action that matters.
      - In 0.1.0 this option meant "every one of these tags", compared case-sensitively by the API.
      - An empty list or an empty tag is an error before any request, as for O(health_status) and O(os_platform).
    type: list
    elements: str
  limit:
    description:
      - Return at most this many machines. RV(truncated) tells whether more matched.
      - V(0) means no limit.
    type: int
    default: 1000
  isolation_state:
    description:
      - Add each machine's isolation state (RV(machines[].isolation_state), RV(machines[].isolation_type) and
        RV(machines[].isolation_action)). Costs one filtered read of Isolate and Unisolate machine actions per 10
        machines, or one paged listing of them for more than 30 machines.
    type: bool
    default: false
notes:
  - "The isolation state follows the model of M(defender.atp.atp_machine_isolate): the newest Isolate or Unisolate
    action (by creation time) decides; Pending or InProgress gives V(isolating) or V(unisolating); Failed, TimeOut or
    Cancelled leaves the state of the newest Succeeded one before it; no history is V(unisolated)."
  - "Rate limits: machine and machine-action reads are limited to 100 requests a minute and 1,500 an hour per
    application; C(429) answers are retried after C(Retry-After)."
seealso:
  - module: defender.atp.atp_machine_isolate
  - name: List machines API
    description: Microsoft's reference of the machines collection and its filters.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/get-machines
'''

EXAMPLES = r'''
- name: Look machines up by name or id, with their isolation state
  defender.atp.atp_machine_info:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    machines: [ws-042.contoso.com, 1e5bc9d7e413ddd7902c2932e418702b84d0cc07]
    isolation_state: true
  register: info

- name: Every isolated machine among the servers
  defender.atp.atp_machine_info:
    tags: [prod]
    os_platform: [WindowsServer2019, WindowsServer2022, Linux]
    isolation_state: true
    limit: 0
  register: servers

- name: Show them
  ansible.builtin.debug:
    msg: "{{ servers.machines | selectattr('isolation_state', 'equalto', 'isolated') | map(attribute='computerDnsName') | list }}"

- name: Stale machines, with a raw OData filter
  defender.atp.atp_machine_info:
    health_status: [Inactive]
    filter: "lastSeen lt 2026-01-01T00:00:00Z"
'''

RETURN = r'''
machines:
  description:
    - The machine entities as the API returns them (camelCase fields such as C(id), C(computerDnsName),
      C(healthStatus), C(lastSeen), C(osPlatform), C(machineTags)).
    - With O(isolation_state=true), each also has C(isolation_state), C(isolation_type) and C(isolation_action).
  returned: always
  type: list
  elements: dict
  contains:
    isolation_state:
      description: V(isolated), V(unisolated), V(isolating) or V(unisolating).
      returned: with O(isolation_state=true)
      type: str
      sample: isolated
    isolation_type:
      description: The isolation type (V(Full), V(Selective), ...) when isolated or isolating, else null.
      returned: with O(isolation_state=true)
      type: str
      sample: Full
    isolation_action:
      description: The newest Isolate or Unisolate action (snake_case keys), or null when there is none.
      returned: with O(isolation_state=true)
      type: dict
  sample: [{"id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07", "computerDnsName": "mymachine1.contoso.com",
            "healthStatus": "Active", "lastSeen": "2026-01-05T08:12:44.1234567Z", "osPlatform": "Windows10",
            "machineTags": ["test tag 1"], "isolation_state": "unisolated", "isolation_type": null,
            "isolation_action": null}]
count:
  description: The number of machines returned.
  returned: always
  type: int
  sample: 1
truncated:
  description: Whether more machines matched than O(limit) allowed to return.
  returned: always
  type: bool
  sample: false
not_found:
  description: Entries of O(machines) that matched no machine.
  returned: always
  type: list
  elements: str
  sample: []
ambiguous:
  description: Entries of O(machines) that matched several machines (all of them are in RV(machines)), with the ids they
    matched.
  returned: always
  type: list
  elements: dict
  sample: [{"input": "ws-reimaged.contoso.com", "machine_ids": ["4b1c...", "9f0e..."]}]
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

from ansible_collections.defender.atp.plugins.module_utils._machines.states import ISOLATION
from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import (
    MACHINES_PATH, MachineDirectory, carries_any_tag, clean_entries)

HEALTH_STATES = ['Active', 'Inactive', 'ImpairedCommunication', 'NoSensorData', 'NoSensorDataImpairedCommunication', 'Unknown']


def build_filter(params):
    clauses = []
    if params.get('health_status'):
        clauses.append(odata.any_of('healthStatus', params['health_status']))
    if params.get('os_platform'):
        clauses.append(odata.any_of('osPlatform', params['os_platform']))
    if params.get('filter') is not None:
        # Checked for balanced quotes and parentheses: ANDed with the other clauses, an unbalanced filter such as
        # "a eq 'b') or (true" would close the parenthesis around it and widen the match.
        clauses.append('(%s)' % odata.check_raw_filter(params['filter']))
    return odata.and_(*clauses)


def by_tags(client, filter_text, tags, limit):
    """``(machines, truncated)``: the machines matching the filter that carry at least one of ``tags``.

    Tags compare case-insensitively, as the portal (and atp_machine_tag) compare them. Whether the API's ``$filter``
    ``eq`` on ``machineTags`` does is not documented, so the tag test runs here: the machines matching the other
    filters are read page by page and selected, until ``limit`` (and one more, to tell ``truncated``) are found.
    """
    found = []
    params = {'$filter': filter_text} if filter_text else None
    for page in client.iter_pages(MACHINES_PATH, params=params):
        found.extend(machine for machine in page if carries_any_tag(machine, tags))
        if limit and len(found) > limit:
            break
    truncated = bool(limit) and len(found) > limit
    return (found[:limit] if truncated else found), truncated


def by_entries(directory, names, limit):
    entries, invalid = clean_entries(names)
    if invalid:
        raise AtpOptionError('machines has invalid entries: %s.' % ', '.join(
            'item %d (%r: %s)' % (position + 1, value, reason) for position, value, reason in invalid))
    found = []
    seen = set()
    not_found = []
    ambiguous = []
    for resolution in directory.resolve(entries):
        matches = [resolution.machine] if resolution.machine else list(resolution.candidates)
        if not matches:
            not_found.append(resolution.input)
            continue
        if len(matches) > 1:
            ambiguous.append(dict(input=resolution.input, machine_ids=[m.get('id') for m in matches]))
        for machine in matches:
            key = str(machine.get('id') or '').lower()
            if key not in seen:
                seen.add(key)
                found.append(machine)
    truncated = bool(limit) and len(found) > limit
    if truncated:
        found = found[:limit]
    return found, truncated, not_found, ambiguous


def run_module(module):
    params = module.params
    limit = params['limit']
    if limit < 0:
        raise AtpOptionError('limit must be 0 (no limit) or more, got %d.' % limit)
    for name in ('health_status', 'os_platform', 'tags'):
        values = params.get(name)
        if values is not None and not values:
            raise AtpOptionError('%s is an empty list: give one or more values, or leave it out.' % name)
        if values and any(not (value or '').strip() for value in values):
            raise AtpOptionError('%s has an empty entry: %r.' % (name, values))
    filters_given = [name for name in ('filter', 'health_status', 'os_platform', 'tags') if params.get(name) is not None]
    if params.get('machines') is not None and filters_given:
        raise AtpOptionError('machines cannot be combined with %s: give either machines or filters.' % ', '.join(filters_given))
    if params.get('machines') is not None and not params['machines']:
        raise AtpOptionError('machines is empty: give machine ids or names, or leave it out to list machines by filters.')
    filter_text = None if params.get('machines') else build_filter(params)  # option errors before any request
    client = module.prepare()
    directory = MachineDirectory(client)
    not_found = []
    ambiguous = []
    if params.get('machines'):
        machines, truncated, not_found, ambiguous = by_entries(directory, params['machines'], limit)
    elif params.get('tags'):
        machines, truncated = by_tags(client, filter_text, params['tags'], limit)
    else:
        machines, truncated = client.list_all(MACHINES_PATH, params={'$filter': filter_text} if filter_text else None,
                                              limit=limit or None)
    if params['isolation_state'] and machines:
        history = directory.machine_actions([m.get('id') for m in machines], ISOLATION.action_types)
        for machine in machines:
            info = ISOLATION.evaluate(history.get(str(machine.get('id') or '').lower(), []))
            machine['isolation_state'] = info.state
            machine['isolation_type'] = info.isolation_type
            machine['isolation_action'] = ISOLATION.summarize_action(info.newest)
    for entry in not_found:
        module.warn('no machine matches %s' % entry)
    module.exit_json(changed=False, machines=machines, count=len(machines), truncated=truncated, not_found=not_found,
                     ambiguous=ambiguous)


def main():
    module = AtpModule(
        argument_spec=dict(
            machines=dict(type='list', elements='str'),
            filter=dict(type='str'),
            health_status=dict(type='list', elements='str', choices=HEALTH_STATES),
            os_platform=dict(type='list', elements='str'),
            tags=dict(type='list', elements='str'),
            limit=dict(type='int', default=1000),
            isolation_state=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
