#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the emulator data of the inventory_unsafe target: machines whose device-controlled fields are templates.

Usage: payloads.py MARKER_PREFIX. Each payload, if Ansible ever evaluated it, would create MARKER_PREFIX-<field>
(a lookup('pipe', 'touch ...')); the target asserts that no such file exists and that the literal text comes through.
Printed as JSON: {"machines": [...], "expected": {name: the literal text}}.
"""

import datetime
import json
import sys


def main():
    marker = sys.argv[1]

    def payload(kind):
        return "{{ lookup('pipe', 'touch %s-%s') }}" % (marker, kind)

    expected = {
        'dns': payload('dns'),
        'tag': payload('tag'),
        'os_version': payload('os-version'),
        'rbac': payload('rbac'),
        'rbac_clean_host': payload('rbac-clean-host'),
        'arithmetic': '{{ 7 * 191 }}',
        'statement': '{% if true %}evaluated{% endif %}',
        'payload_id': 'a' * 40,
        'clean_id': 'b' * 40,
        'clean_dns': 'clean-01.contoso.com',
    }
    # Seen an hour ago: hunting tables (DeviceInfo) only hold rows of the queried time span.
    seen = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
    common = dict(onboardingStatus='Onboarded', healthStatus='Active', lastSeen=seen,
                  exposureLevel='Low', isAadJoined=False)
    machines = [
        dict(common, id=expected['payload_id'], computerDnsName=expected['dns'], osPlatform='Windows11',
             machineTags=[expected['tag'], expected['arithmetic'], 'plain'], osVersion=expected['os_version'],
             rbacGroupName=expected['rbac'], rbacGroupId=7, riskScore='High'),
        dict(common, id=expected['clean_id'], computerDnsName=expected['clean_dns'], osPlatform='Linux',
             machineTags=[expected['statement']], osVersion='22.04', rbacGroupName=expected['rbac_clean_host'],
             rbacGroupId=8, riskScore='Low'),
    ]
    json.dump(dict(machines=machines, expected=expected), sys.stdout)


if __name__ == '__main__':
    main()
