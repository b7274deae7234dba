# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ids in URL paths (issue 11 section 5): nothing from the API or the options can change the endpoint called."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.module_utils._http import ids as resource_ids
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError

MACHINE = '958229471430993e9cde904f77fed63aeff7ceb4'
ACTION = '5382f7ea-7557-4ab7-9782-d50480024a4e'


@pytest.mark.parametrize('path', [
    '/api/machines', '/api/machines/%s/isolate' % MACHINE, '/api/machines/%s/unisolate' % MACHINE.upper(),
    '/api/machines/%s' % MACHINE, '/api/machines/ws-042.contoso.com', '/api/machines/AddOrRemoveTagForMultipleMachines',
    '/api/machines/%s/alerts' % MACHINE, '/api/machineactions', '/api/machineactions/%s' % ACTION,
    '/api/machineactions/%s/GetPackageUri' % ACTION, '/api/alerts/da637472900382838869_1364969609',
    '/api/alerts/a%2Fb', '/api/advancedqueries/run', '/v1.0/security/runHuntingQuery', 'api/machines',
])
def test_good_paths_pass(path):
    assert resource_ids.check_request_path(path) == path


@pytest.mark.parametrize('path, fragment', [
    ('/api/machines/../alerts', 'dot segment'),
    ('/api/machines/x/../../alerts/isolate', 'dot segment'),
    ('/api/machines/./%s/isolate' % MACHINE, 'dot segment'),
    ('/api/machines/%s?$top=1/isolate' % MACHINE, "'?'"),
    ('/api/machines/%s#/isolate' % MACHINE, "'#'"),
    ('/api/machines/a b/isolate', "' '"),
    ('/api/machines/a\\b', 'it holds'),
    ('/api/machines/a\nb', 'it holds'),
    ('/api/machines/ws-042.contoso.com/isolate', 'not 40 hexadecimal'),
    ('/api/machines/%s0/isolate' % MACHINE, 'not 40 hexadecimal'),
    ('/api/machines//isolate', 'not 40 hexadecimal'),
    ('/API/V1.0/Machines/abc/runAntiVirusScan', 'not 40 hexadecimal'),
    ('/api/machineactions/not-a-guid/cancel', 'not a GUID'),
    ('/api/machineactions/%s' % MACHINE, 'not a GUID'),
])
def test_bad_paths_are_refused(path, fragment):
    with pytest.raises(AtpApiError) as caught:
        resource_ids.check_request_path(path)
    assert fragment in caught.value.message


def test_path_builders_check_their_ids():
    assert resource_ids.machine_path(MACHINE, 'isolate') == '/api/machines/%s/isolate' % MACHINE
    assert resource_ids.action_path(ACTION, 'cancel') == '/api/machineactions/%s/cancel' % ACTION
    assert resource_ids.alert_path(' da6_1/x?y ') == '/api/alerts/da6_1%2Fx%3Fy'
    for bad in ('../alerts', MACHINE + '/..', None, 40 * 'g', MACHINE[:-1]):
        with pytest.raises(AtpApiError, match='not 40 hexadecimal'):
            resource_ids.machine_path(bad, 'isolate')
    with pytest.raises(AtpApiError, match='not a GUID'):
        resource_ids.action_path('x', 'cancel')
    for bad in ('..', '.', '', None):
        with pytest.raises(AtpApiError, match='alert id'):
            resource_ids.alert_path(bad)


def test_long_values_are_cut_short_in_messages():
    with pytest.raises(AtpApiError) as caught:
        resource_ids.check_machine_id('x' * 5000)
    assert len(caught.value.message) < 200


class ListingClient(object):
    """Answers every machine listing with ``machines`` (the resolver matches names itself)."""

    def __init__(self, machines):
        self.machines = machines

    def list_all(self, path, params=None, **kwargs):
        return list(self.machines), False


@pytest.mark.parametrize('bad_id', ['../../alerts', MACHINE + '/../../x', 'abc?x=1', MACHINE + ' ', None, 12345])
def test_a_machine_whose_api_id_is_not_an_id_is_an_error_for_that_machine(bad_id):
    from ansible_collections.defender.atp.plugins.module_utils._machines.directory import (
        MachineDirectory, clean_entries)
    fleet = [{'id': bad_id, 'computerDnsName': 'evil.contoso.com'},
             {'id': MACHINE, 'computerDnsName': 'ws-finance-01.contoso.com'}]
    entries, invalid = clean_entries(['evil.contoso.com', 'ws-finance-01.contoso.com'])
    assert not invalid
    evil, good = MachineDirectory(ListingClient(fleet)).resolve(entries)
    assert evil.machine is None and 'not 40 hexadecimal' in evil.error
    assert good.machine_id == MACHINE and good.error is None


def test_the_http_client_refuses_a_bad_path_before_any_request(emulator, conn):
    from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import Authenticator
    from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, ConnectionSettings
    from ansible_collections.defender.atp.plugins.module_utils._http.client import HttpClient
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(conn)
    settings = ConnectionSettings(params)
    auth = Authenticator(settings)
    client = HttpClient(settings, token_source=auth)
    auth.attach(client)
    for path in ('/api/machines/../alerts/isolate', '/api/machines/%s?x/isolate' % MACHINE, '/api/machines/evil/isolate'):
        with pytest.raises(AtpApiError, match='Refusing the request path'):
            client.post(path, {'Comment': 'x'})
    assert client.stats.requests == 0 and emulator.requests_log() == []


def test_isolate_never_puts_a_bad_api_id_in_a_path(run_module, emulator, conn):
    """End to end: the API lists a machine whose id is a path; atp_machine_isolate reports it and sends nothing.

    0.1.0 sent POST /api/machines/../../alerts/isolate (the emulator's log shows what arrived).
    """
    from ansible_collections.defender.atp.plugins.modules import atp_machine_isolate
    emulator.set_data(machines=[{'id': '../../alerts', 'computerDnsName': 'evil.contoso.com', 'healthStatus': 'Active'},
                                {'id': MACHINE, 'computerDnsName': 'ws-finance-01.contoso.com', 'healthStatus': 'Active'}])
    emulator.reset()
    result = run_module(atp_machine_isolate.main, dict(conn, machines=['evil.contoso.com', 'ws-finance-01.contoso.com'],
                                                       comment='IR-11', allow_partial=True))
    errors = [m for m in result['machines'] if m.get('error')]
    assert len(errors) == 1 and 'not 40 hexadecimal' in errors[0]['error'], result['machines']
    posts = [e['path'] for e in emulator.requests_log() if e['method'] == 'POST' and e['family'] != 'token']
    assert posts == ['/api/machines/%s/isolate' % MACHINE], posts
