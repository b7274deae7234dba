# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_machine_info, run in-process against the emulator."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.modules import atp_machine_info


def run(run_module, conn, check_mode=False, **args):
    merged = dict(conn)
    merged.update(args)
    return run_module(atp_machine_info.main, merged, check_mode=check_mode)


def api_reads(emulator):
    return [e for e in emulator.requests_log() if e['path'].startswith('/api/')]


def test_by_names_and_ids_with_isolation_state(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-finance-03.contoso.com', '7b1f4967d9728e5aa3c06a9e617a22a4a5a17378',
                                             'LAPTOP-TRAVEL-07', 'ws-eng-05.contoso.com', 'ws-hr-01.contoso.com'],
                 isolation_state=True)
    assert result['changed'] is False and result['count'] == 5 and result['truncated'] is False
    states = dict((m['computerDnsName'], (m['isolation_state'], m['isolation_type'])) for m in result['machines'])
    assert states == {
        'ws-finance-03.contoso.com': ('isolated', 'Full'),
        'desktop-test': ('isolated', 'Selective'),
        'laptop-travel-07.contoso.com': ('isolating', 'Full'),
        'ws-eng-05.contoso.com': ('unisolated', None),
        'ws-hr-01.contoso.com': ('unisolated', None),
    }
    eng = [m for m in result['machines'] if m['computerDnsName'] == 'ws-eng-05.contoso.com'][0]
    assert eng['isolation_action']['status'] == 'TimeOut'  # the newest one, although it changed nothing
    # Machines: one batched read (plus the listing a short name needs); actions: one batched read.
    assert len([e for e in api_reads(fresh_emulator) if e['path'] == '/api/machineactions']) == 1
    assert result['http_stats']['token_requests'] == 1


def test_ambiguous_and_unknown_names(run_module, conn, fresh_emulator):
    result = run(run_module, conn, machines=['ws-reimaged.contoso.com', 'ghost'])
    assert result['count'] == 2 and not result.get('failed')
    assert result['not_found'] == ['ghost']
    assert result['ambiguous'][0]['input'] == 'ws-reimaged.contoso.com'
    assert sorted(result['ambiguous'][0]['machine_ids']) == sorted(m['id'] for m in result['machines'])
    assert 'isolation_state' not in result['machines'][0]


def test_filters(run_module, conn, fresh_emulator):
    result = run(run_module, conn, tags=['web'], os_platform=['Linux'], health_status=['Active'])
    names = sorted(m['computerDnsName'] for m in result['machines'])
    assert names == ['srv-web-01.contoso.com', 'srv-web-02.contoso.com']
    text = api_reads(fresh_emulator)[0]['query']['$filter']
    assert "healthStatus eq 'Active'" in text and "osPlatform eq 'Linux'" in text
    assert 'machineTags' not in text  # tags are compared here, case-insensitively (the API's eq may not be)


TAGGED = [('upper', ['COMPROMISED']), ('mixed', ['Compromised', 'other']), ('lower', ['compromised']),
          ('other', ['other']), ('none', ['uncompromised']), ('empty', []), ('odd', [None, 7])]


def tagged_tenant(emulator):
    machines = [dict(id='f%039x' % n, computerDnsName='%s.contoso.com' % name, osPlatform='Windows11', healthStatus='Active',
                     riskScore='Low', lastSeen='2026-01-01T00:00:00Z', machineTags=tags)
                for n, (name, tags) in enumerate(TAGGED, 1)]
    emulator.set_data(machines=machines)


@pytest.mark.parametrize('tags, expected', [
    (['compromised'], ['lower', 'mixed', 'upper']),
    (['COMPROMISED'], ['lower', 'mixed', 'upper']),
    (['Compromised', 'OTHER'], ['lower', 'mixed', 'other', 'upper']),
    (['no-such-tag'], []),
])
def test_tags_match_any_tag_case_insensitively(run_module, conn, fresh_emulator, tags, expected):
    """Fails before the fix: tags meant "every tag" here and "at least one" in the inventory, and both compared
    case-sensitively (the emulator's $filter eq does, as the API may), while the portal does not."""
    tagged_tenant(fresh_emulator)
    result = run(run_module, conn, tags=tags, limit=0)
    assert sorted(m['computerDnsName'].split('.')[0] for m in result['machines']) == expected
    assert result['count'] == len(expected) and result['truncated'] is False


def test_tags_with_a_limit(run_module, conn, fresh_emulator):
    tagged_tenant(fresh_emulator)
    result = run(run_module, conn, tags=['compromised'], limit=2)
    assert result['count'] == 2 and result['truncated'] is True
    result = run(run_module, conn, tags=['compromised'], limit=3)
    assert result['count'] == 3 and result['truncated'] is False


def test_raw_filter_is_anded_in_parentheses(run_module, conn, fresh_emulator):
    result = run(run_module, conn, filter="riskScore eq 'High' or riskScore eq 'Medium'", health_status=['Inactive'])
    assert result['count'] >= 1
    assert all(m['healthStatus'] == 'Inactive' and m['riskScore'] in ('High', 'Medium') for m in result['machines'])


def test_tag_with_a_quote(run_module, conn, fresh_emulator):
    result = run(run_module, conn, tags=["Bob's PC"])
    assert [m['computerDnsName'] for m in result['machines']] == ['ws-support-01.contoso.com']


def test_limit_and_truncated(run_module, conn, fresh_emulator):
    result = run(run_module, conn, limit=3)
    assert result['count'] == 3 and result['truncated'] is True
    everything = run(run_module, conn, limit=0)
    assert everything['truncated'] is False and everything['count'] > 30


def test_isolation_state_of_a_listing_is_one_extra_read(run_module, conn, fresh_emulator):
    result = run(run_module, conn, isolation_state=True, limit=0)
    assert all(m['isolation_state'] in ('isolated', 'unisolated', 'isolating', 'unisolating') for m in result['machines'])
    actions = [e for e in api_reads(fresh_emulator) if e['path'] == '/api/machineactions']
    assert len(actions) == 1


def test_check_mode_reads_normally(run_module, conn, fresh_emulator):
    result = run(run_module, conn, check_mode=True, machines=['desktop-test'], isolation_state=True)
    assert result['count'] == 1 and result['machines'][0]['isolation_state'] == 'isolated'


@pytest.mark.parametrize('args, message', [
    (dict(machines=['x'], tags=['prod']), 'machines cannot be combined with tags'),
    (dict(machines=[]), 'machines is empty'),
    (dict(machines=['']), 'invalid entries'),
    (dict(limit=-1), 'limit must be 0'),
])
def test_option_errors(run_module, conn, fresh_emulator, args, message):
    result = run(run_module, conn, **args)
    assert result['failed'] is True and message in result['msg']
    assert api_reads(fresh_emulator) == []
