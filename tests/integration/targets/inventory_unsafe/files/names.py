#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the emulator data of the inventory_unsafe target's host-name part: machines an attacker named.

Each device-chosen name is one Ansible treats specially (the controller's names, a host pattern) or one a real
machine holds already; each attacker's lastIpAddress is in TEST-NET-1 (192.0.2.0/24, never routed), so an SSH
connection to it fails and fails the play. Printed as JSON: {"machines": [...], "expected": {...}}.
"""

import datetime
import json
import sys


def main():
    seen = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
    common = dict(onboardingStatus='Onboarded', healthStatus='Active', lastSeen=seen, exposureLevel='Low',
                  isAadJoined=False, osPlatform='Windows11', riskScore='High', rbacGroupId=7, rbacGroupName='Workstations')

    def machine(letter, name, ip, tags=(), **fields):
        return dict(common, id=letter * 40, computerDnsName=name, lastIpAddress=ip, machineTags=list(tags), **fields)

    machines = [
        # The controller's names (ansible-core's C.LOCALHOST and more): each would become the inventory's localhost.
        machine('a', 'localhost', '192.0.2.10', ['compromised']),
        machine('b', '127.0.0.1', '192.0.2.11'),
        machine('c', '::1', '192.0.2.12'),
        machine('d', 'LocalHost.localdomain.', '192.0.2.13'),
        # Host patterns and Ansible's own group names.
        machine('e', 'all', '192.0.2.14'),
        machine('f', 'srv-*,localhost', '192.0.2.15'),
        # A real server, and an always-online record that took its name (seen later, other case).
        machine('1', 'srv-db-01.contoso.com', '10.0.5.20'),
        dict(machine('2', 'SRV-DB-01.contoso.com', '192.0.2.16', ['Compromised']),
             lastSeen=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')),
        # A clean name whose device reports the loopback as its address (compose: ansible_host from it).
        machine('3', 'ws-clean-01.contoso.com', '127.0.0.1', ['compromised']),
        # A tag is device-chosen too: with keyed_groups without a prefix it would be a group named localhost.
        machine('4', 'ws-clean-02.contoso.com', '10.0.5.21', ['localhost']),
    ]
    expected = dict(
        by_id=[m['id'] for m in machines[:8]],
        clean=['ws-clean-01.contoso.com', 'ws-clean-02.contoso.com'],
        compromised=sorted(['a' * 40, '2' * 40, 'ws-clean-01.contoso.com']),
        compromised_ids=sorted(['a' * 40, '2' * 40, '3' * 40]),
        squatted=['1' * 40, '2' * 40],
    )
    json.dump(dict(machines=machines, expected=expected), sys.stdout)


if __name__ == '__main__':
    main()
