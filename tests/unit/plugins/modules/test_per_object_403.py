# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules run by a user limited to device groups (the emulator's scoped user), in-process against the emulator.

That user has every permission on the Finance machines, View data only on the Engineering ones and nothing on the
others (tests/emulator/rbac.py). Defender answers 403 for each Engineering machine or alert the user may see but not
act on: an error for that object, while the Finance ones are done. The bulk requests are refused whole, so the
modules fall back to one request each.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.modules import (
    atp_alert, atp_alert_info, atp_indicator, atp_machine_isolate, atp_machine_tag)

FINANCE = ['ws-finance-01.contoso.com', 'ws-finance-02.contoso.com']
ENGINEERING = 'ws-eng-01.contoso.com'    # visible to the user, who may not act on it
SERVERS = 'srv-file-01.contoso.com'      # outside the user's device groups: not listed at all


@pytest.fixture
def scoped(emu):
    return dict(tenant_id=emu['tenant_id'], client_id=emu['public_client_id'], username=emu['scoped_username'],
                password=emu['scoped_password'], login_url=emu['url'], api_url=emu['url'], ca_path=emu['ca_path'],
                token_cache=False)


def by_name(result):
    return dict((m['computer_dns_name'] or m['input'], m) for m in result['machines'])


def writes(emulator, path_end):
    return [e for e in emulator.requests_log() if e['method'] in ('POST', 'PATCH') and e['path'].endswith(path_end)]


def test_isolate_three_machines_one_forbidden(run_module, fresh_emulator, scoped):
    machines = [FINANCE[0], ENGINEERING, FINANCE[1], SERVERS]
    result = run_module(atp_machine_isolate.main, dict(scoped, machines=machines, comment='IR-7'))
    assert result['failed'] and result['summary']['changed'] == 2 and result['summary']['failed'] == 2
    found = by_name(result)
    assert all(found[name]['changed'] and found[name]['error'] is None for name in FINANCE)
    assert 'HTTP 403' in found[ENGINEERING]['error'] and not found[ENGINEERING]['changed']
    assert 'not sent' not in found[ENGINEERING]['error']
    assert found[SERVERS]['machine_id'] is None  # the list leaves it out: reported as not found, never sent
    assert sorted(e['status'] for e in writes(fresh_emulator, '/isolate')) == [201, 201, 403]
    assert ENGINEERING in result['msg'] and '403' in result['msg']


def test_tag_three_machines_one_forbidden(run_module, fresh_emulator, scoped):
    result = run_module(atp_machine_tag.main, dict(scoped, machines=[FINANCE[0], ENGINEERING, FINANCE[1]], tags=['IR-7']))
    assert result['failed'] and result['summary']['changed'] == 2 and result['summary']['failed'] == 1
    found = by_name(result)
    assert all(found[name]['tags_after'][-1:] == ['IR-7'] for name in FINANCE)
    assert 'HTTP 403' in found[ENGINEERING]['error']
    statuses = [(e['path'].rsplit('/', 1)[1], e['status']) for e in writes(fresh_emulator, 's')]
    assert statuses[0] == ('AddOrRemoveTagForMultipleMachines', 403)
    assert sorted(s for _p, s in statuses[1:]) == [200, 200, 403]


def alert_of(run_module, emulator, conn, machine):
    machine_id = emulator.machine_state(machine)['machine']['id']
    found = run_module(atp_alert_info.main, dict(conn, machine_id=machine_id, status=['Unknown', 'New', 'InProgress']))
    assert found['alerts'], found.get('msg') or 'no open alert on %s in the default data' % machine
    return found['alerts'][0]['id']


def test_update_three_alerts_one_forbidden(run_module, fresh_emulator, conn, scoped):
    finance = [alert_of(run_module, fresh_emulator, conn, name)
               for name in ('ws-finance-03.contoso.com', 'ws-finance-02.contoso.com')]
    engineering = alert_of(run_module, fresh_emulator, conn, ENGINEERING)
    fresh_emulator.reset()
    result = run_module(atp_alert.main, dict(scoped, alert_ids=[finance[0], engineering, finance[1]], status='Resolved'))
    assert result['failed'] and result['summary']['changed'] == 2 and result['summary']['failed'] == 1
    outcome = dict((a['id'], a) for a in result['alerts'])
    assert all(outcome[i]['changed'] and outcome[i]['after']['status'] == 'Resolved' for i in finance)
    assert 'HTTP 403' in outcome[engineering]['error'] and engineering in result['msg']
    sent = [(e['method'], e['status']) for e in writes(fresh_emulator, '') if e['path'].startswith('/api/alerts')]
    assert sent[0] == ('POST', 403) and sorted(sent[1:]) == [('PATCH', 200), ('PATCH', 200), ('PATCH', 403)]


def test_delete_indicators_one_forbidden(run_module, fresh_emulator, conn, scoped):
    wanted = [dict(type='DomainName', value='%s.example.com' % group.lower(), action='Block', title=group,
                   rbac_group_names=[group]) for group in ('Finance', 'Servers', 'Engineering')]
    created = run_module(atp_indicator.main, dict(conn, indicators=wanted))
    assert created['created']['count'] == 3, created['msg']
    result = run_module(atp_indicator.main, dict(scoped, indicators=wanted, state='absent'))
    assert result['failed'] and result['deleted']['count'] == 2 and result['errors']['count'] == 1
    assert result['errors']['indicators'][0]['value'] == 'servers.example.com'
    assert 'HTTP 403' in result['errors']['indicators'][0]['error']
    left = run_module(atp_indicator.main, dict(conn, indicators=wanted[1:2]), check_mode=True)
    assert left['unchanged']['count'] == 1, 'the forbidden indicator is still there'
