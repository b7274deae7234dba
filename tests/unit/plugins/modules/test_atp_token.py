# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.modules import atp_token


def test_token_with_permissions(run_module, conn):
    result = run_module(atp_token.main, dict(conn, required_permissions=['Machine.Read.All', 'Machine.Isolate']))
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False
    assert result['permission_type'] == 'application'
    assert result['missing_permissions'] == []
    assert result['auth_method'] == 'client_secret'
    assert result['claims']['aud'] == 'https://api.securitycenter.microsoft.com'


def test_missing_permission_fails_without_returning_the_token(run_module, emu, conn):
    limited = dict(conn, client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret'])
    result = run_module(atp_token.main, dict(limited, required_permissions=['Machine.Isolate', 'Alert.Read.All']))
    assert result['failed']
    assert result['missing_permissions'] == ['Machine.Isolate']
    assert 'Machine.Isolate' in result['msg'] and 'access_token' not in result


def test_cached_token_missing_a_permission_is_replaced_once(run_module, emulator, emu, conn):
    cached = dict(conn, token_cache=True)
    first = run_module(atp_token.main, cached)
    assert first['token_source'] == 'endpoint'
    again = run_module(atp_token.main, cached)
    assert again['token_source'] == 'cache'
    # A permission the token lacks: the module asks for a fresh token once before failing.
    result = run_module(atp_token.main, dict(cached, required_permissions=['Not.A.Permission']))
    assert result['failed'] and result['token_source'] == 'endpoint'
    token_requests = [e for e in emulator.requests_log() if '/oauth2/' in e['path']]
    assert len(token_requests) == 2


def test_graph_audience(run_module, conn):
    result = run_module(atp_token.main, dict(conn, api='graph', required_permissions=['ThreatHunting.Read.All']))
    assert result['audience'] == 'https://graph.microsoft.com'
    assert result['claims']['aud'] == 'https://graph.microsoft.com'


def test_bad_options_fail_before_any_request(run_module, emulator, conn):
    result = run_module(atp_token.main, dict(conn, api_url='not-a-url'))
    assert result['failed'] and 'api_url must be an absolute' in result['msg']
    result = run_module(atp_token.main, dict(conn, ca_path='/nonexistent/ca.pem'))
    assert result['failed'] and 'ca_path' in result['msg']
    assert emulator.requests_log() == []


def test_signature_check_says_why_the_keys_could_not_be_fetched(run_module, emulator, conn):
    token = run_module(atp_token.main, conn)['access_token']
    emulator.add_fault(path='/discovery/', status=404)
    result = run_module(atp_token.main, dict(conn, client_secret=None, access_token=token, verify_signature=True))
    assert result['failed']
    assert result['msg'].startswith('signature: the signing keys of')
    assert 'HTTP 404' in result['msg']
