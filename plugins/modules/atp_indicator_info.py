#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_indicator_info
short_description: List Microsoft Defender for Endpoint custom indicators (IoCs)
version_added: 0.2.0
description:
  - Lists the tenant's active custom indicators, optionally only those of some O(type)s, O(action)s, one
    O(application) or one O(value).
  - Filters use only the properties Microsoft documents as filterable (C(indicatorType), C(action), C(application),
    C(indicatorValue)), with values quoted safely.
  - Pages through the API itself (C($top)/C($skip), pages of up to 10,000), so every matching indicator comes back,
    however many there are, unless O(limit) caps the count.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Defender for Endpoint API permission C(Ti.Read.All) or C(Ti.ReadWrite.All) (application), or C(Ti.ReadWrite)
    (delegated, or an application's own indicators only)."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
  - defender.atp.attributes.check_mode_read_only
options:
  type:
    description: Only indicators of these types.
    type: list
    elements: str
    choices: [FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, DomainName, Url]
  action:
    description: Only indicators with one of these actions.
    type: list
    elements: str
    choices: [Alert, Warn, Block, Audit, BlockAndRemediate, AlertAndBlock, Allowed]
  application:
    description:
      - Only indicators of this application, for example V(defender.atp) for those M(defender.atp.atp_indicator)
        manages by default.
    type: str
  value:
    description: Only indicators with exactly this value (as stored).
    type: str
  limit:
    description:
      - Return at most this many indicators; RV(truncated) tells whether more matched. Without it, every match.
    type: int
notes:
  - The listing API allows 100 calls a minute and 1,500 an hour; each page of 10,000 indicators is one call.
  - With only C(Ti.ReadWrite), an application sees only the indicators it created itself.
seealso:
  - module: defender.atp.atp_indicator
  - name: List indicators API
    description: Microsoft's reference of the listing request and its filters.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/get-ti-indicators-collection
'''

EXAMPLES = r'''
- name: Every indicator this collection manages
  defender.atp.atp_indicator_info:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    application: defender.atp
  register: managed

- name: Blocked hashes
  defender.atp.atp_indicator_info:
    type: [FileSha1, FileSha256, FileMd5]
    action: [Block, BlockAndRemediate]
  register: blocked

- name: Keep a copy of the managed indicators
  ansible.builtin.copy:
    dest: managed-indicators.yml
    mode: "0600"
    content: "{{ managed.indicators | to_nice_yaml }}"
'''

RETURN = r'''
indicators:
  description: The indicators, as the API returns them (see Microsoft's indicator resource type for every field).
  returned: success
  type: list
  elements: dict
  sample:
    - id: "995"
      indicatorValue: 12.13.14.15
      indicatorType: IpAddress
      action: Alert
      application: demo-test
      title: test
      severity: Informational
      expirationTime: "2020-12-12T00:00:00Z"
      rbacGroupNames: []
count:
  description: How many indicators RV(indicators) holds.
  returned: success
  type: int
  sample: 1
truncated:
  description: Whether more indicators matched than O(limit) allowed to return.
  returned: success
  type: bool
  sample: false
filter:
  description: The OData C($filter) sent to the API (absent when nothing was filtered).
  returned: when indicators were filtered
  type: str
  sample: "(indicatorType eq 'FileSha1' or indicatorType eq 'FileSha256') and application eq 'defender.atp'"
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


def run_module(module):
    params = module.params
    if params['limit'] is not None and params['limit'] < 1:
        raise AtpOptionError('limit must be 1 or more, got %d; leave it out to get every matching indicator.'
                             % params['limit'])
    for name in ('type', 'action'):
        if params[name] is not None and not params[name]:
            raise AtpOptionError('%s is an empty list: give one or more values, or leave it out.' % name)
    for name in ('application', 'value'):
        if params[name] is not None and not params[name].strip():
            raise AtpOptionError('%s is empty: give a value, or leave it out.' % name)
    filter_text = iocs.build_filter(
        types=list(dict.fromkeys(params['type'] or [])), actions=list(dict.fromkeys(params['action'] or [])),
        application=params['application'].strip() if params['application'] else None,
        value=params['value'].strip() if params['value'] else None)
    client = module.prepare()
    indicators, truncated = iocs.list_indicators(client, filter_text=filter_text, limit=params['limit'])
    result = dict(indicators=indicators, count=len(indicators), truncated=truncated)
    if filter_text:
        result['filter'] = filter_text
    module.exit_json(changed=False, **result)


def main():
    module = AtpModule(
        argument_spec=dict(
            type=dict(type='list', elements='str', choices=list(iocs.TYPES)),
            action=dict(type='list', elements='str', choices=list(iocs.ACTIONS)),
            application=dict(type='str'),
            value=dict(type='str'),
            limit=dict(type='int'),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
