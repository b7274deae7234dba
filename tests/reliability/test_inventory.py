# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The machines inventory plugin under transient faults and an expiring token, through real ansible-inventory runs.

A partial inventory is the failure users report most (user-pains 23): every page must arrive, or the source must
fail. The integration target inventory_machines covers a page that keeps failing (the source fails, no hosts);
these cover faults that clear up, on small pages so the listing takes many requests.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DEFAULT_MACHINES = 42  # the emulator's Contoso tenant


def hosts_of(listing):
    return set((listing or {}).get('_meta', {}).get('hostvars', {}))


def test_transient_faults_on_pages_are_retried_and_no_machine_is_lost(runner, emu):
    """Five pages of 10: a 429 (Retry-After 1), a 503, a dropped connection and a slow answer hit pages 2 to 5."""
    for skip, fault in enumerate([dict(status=429, retry_after=1), dict(status=503), dict(drop=True), dict(delay=2.5)], 1):
        emu.add_fault(path=r'^/api/machines$', method='GET', skip=skip, times=1, **fault)
    code, listing, output = runner.inventory({'page_size': 10, 'timeout': 1.5})
    assert code == 0, output[-3000:]
    assert len(hosts_of(listing)) == DEFAULT_MACHINES, output[-3000:]

    def pages_read():
        return [(e['query'].get('$skip'), e['status']) for e in emu.requests_log() if e['path'] == '/api/machines']

    # The server answers the slow page after the client gave up: wait for that answer to be logged.
    emu.wait_for(lambda: len(pages_read()) >= 9, timeout=10)
    pages = pages_read()
    # Each faulted page was asked for again (the late answer to the slow one is logged too, after the retry).
    assert sorted(set(skip for skip, _status in pages), key=str) == sorted([None, '10', '20', '30', '40'], key=str), pages
    for skip in ('10', '20', '30', '40'):
        assert len([1 for page_skip, _status in pages if page_skip == skip]) == 2, pages
    # The one warning the default data earns: its re-imaged device's two records share a name, so neither takes it.
    warnings = [line for line in output.splitlines() if '[WARNING]' in line]
    assert all('held by more than one machine record' in line and 'ws-reimaged' in line for line in warnings), warnings
    assert len(warnings) <= 1, warnings


def test_a_token_expiring_while_the_pages_are_read_is_renewed(runner, emu):
    """Tokens live 3 s; each of the five pages takes 0.9 s."""
    emu.set_config(token_lifetime=3)
    emu.add_fault(path=r'^/api/machines$', method='GET', delay=0.9)
    code, listing, output = runner.inventory({'page_size': 10})
    assert code == 0, output[-3000:]
    assert len(hosts_of(listing)) == DEFAULT_MACHINES
    times = [e['time'] for e in emu.requests_log() if e['family'] == 'token']
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    # Renewed as it expired (tokens are issued for whole seconds, so one may live just over 2 s), never per page.
    assert len(times) >= 2 and all(gap >= 1.5 for gap in gaps), gaps
    pages = [e for e in emu.requests_log() if e['path'] == '/api/machines']
    assert len([e for e in pages if e['status'] == 200]) == 5 and all(e['status'] in (200, 401) for e in pages)
