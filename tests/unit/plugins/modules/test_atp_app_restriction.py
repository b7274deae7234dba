# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_app_restriction, run in-process against the emulator: restriction is Windows only (restrict-code-execution.md),
a repeat is answered with the pending action, an action that ends Failed is an error, the diff is keyed by id."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.modules import atp_app_restriction
from ansible_collections.defender.atp.tests.unit.plugins.modules.test_atp_machine_action import (
    FINANCE_01, REIMAGED, by_input)


def run(run_module, conn, check_mode=False, diff=False, **args):
    return run_module(atp_app_restriction.main, dict(conn, comment='IR-19: unit test', **args), check_mode=check_mode,
                      diff=diff)


@pytest.mark.parametrize('check_mode', [True, False])
def test_restriction_is_not_sent_to_other_platforms(run_module, conn, fresh_emulator, check_mode):
    result = run(run_module, conn, check_mode=check_mode, allow_partial=True,
                 machines=['ws-finance-01.contoso.com', 'srv-web-01.contoso.com', 'mac-design-01.contoso.com'])
    entries = by_input(result)
    assert entries['ws-finance-01.contoso.com']['state'] == 'restricting' and entries['ws-finance-01.contoso.com']['changed']
    for name in ('srv-web-01.contoso.com', 'mac-design-01.contoso.com'):
        assert not entries[name]['changed'] and entries[name]['state'] == 'unrestricted'
        assert 'Windows only' in entries[name]['error']
    assert result['summary'] == dict(total=3, changed=1, unchanged=0, failed=2, pending=1)
    sent = [e['path'].split('/')[3] for e in fresh_emulator.requests_log() if e['method'] == 'POST'
            and e['path'].startswith('/api/')]
    assert sent == ([] if check_mode else [FINANCE_01])


def test_lifting_a_restriction_that_was_never_set_needs_nothing_on_any_platform(run_module, conn, fresh_emulator):
    result = run(run_module, conn, state='unrestricted', machines=['srv-web-01.contoso.com'])
    assert not result.get('failed') and not result['changed']


def test_a_restriction_that_ends_failed_is_an_error(run_module, conn, fresh_emulator):
    fresh_emulator.set_config(pending_seconds=0.2, inprogress_seconds=0.2)
    result = run(run_module, conn, machines=['kiosk-01.contoso.com'], wait=True, wait_timeout=20, poll_interval=0.3)
    entry = result['machines'][0]
    assert result['failed'] and 'ended with status Failed' in entry['error'] and entry['state'] == 'unrestricted'


def test_diff_is_keyed_by_machine_id(run_module, conn, fresh_emulator):
    result = run(run_module, conn, check_mode=True, diff=True, machines=list(REIMAGED))
    assert result['diff'] == {'before': dict((i, 'unrestricted') for i in REIMAGED),
                              'after': dict((i, 'restricting') for i in REIMAGED)}
