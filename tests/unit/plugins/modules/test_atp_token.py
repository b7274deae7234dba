# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

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


# -- issue 12, section 3: tokens as Microsoft issues them ----------------------------------------------------------------

MDE = 'https://api.securitycenter.microsoft.com'
XDR = 'https://api.security.microsoft.com'


def test_verify_signature_with_graph_is_refused_before_any_request_saying_why(run_module, emulator, conn):
    result = run_module(atp_token.main, dict(conn, api='graph', verify_signature=True))
    assert result['failed']
    assert result['msg'].startswith('verify_signature cannot be used with api=graph')
    assert 'nonce' in result['msg'] and 'genuine token would fail' in result['msg']
    assert emulator.requests_log() == []


def test_a_given_graph_token_is_not_reported_as_forged(run_module, emulator, emu, conn):
    # The emulator issues Graph tokens as Graph does, with a header nonce: a genuine one, given to a Defender check.
    graph_token = emulator.token(resource='https://graph.microsoft.com')
    result = run_module(atp_token.main, dict(conn, client_secret=None, access_token=graph_token, api='defender',
                                             verify_signature=True))
    assert result['failed'] and 'audience' in result['msg'] and 'forged' not in result['msg']


def test_a_defender_xdr_token_is_refused_naming_the_resource_to_ask_for(run_module, emulator, conn):
    xdr_token = emulator.token(resource=XDR)
    emulator.reset()
    result = run_module(atp_token.main, dict(conn, client_secret=None, access_token=xdr_token))
    assert result['failed']
    assert 'Microsoft Defender XDR resource' in result['msg'] and '403' in result['msg']
    assert "ask for a token for '%s'" % MDE in result['msg']
    assert emulator.requests_log() == []


def test_the_xdr_resource_as_api_audience_is_refused_before_any_request(run_module, emulator, conn):
    result = run_module(atp_token.main, dict(conn, api_audience=XDR))
    assert result['failed'] and 'api_audience %s is the Microsoft Defender XDR resource' % XDR in result['msg']
    assert MDE in result['msg']
    assert emulator.requests_log() == []


@pytest.mark.parametrize('aud', ['https://api-gov.securitycenter.microsoft.us',
                                 'https://securitycenter.onmicrosoft.us/windowsatpservice'])
def test_government_tokens_of_either_form_are_accepted(run_module, emulator, emu, conn, aud):
    token = emulator.token(resource=aud)
    result = run_module(atp_token.main, dict(conn, client_secret=None, access_token=token, cloud='gcc_high',
                                             required_permissions=['Machine.Read.All']))
    assert not result.get('failed'), result.get('msg')
    assert result['claims']['aud'] == aud and result['audience'] == 'https://api-gov.securitycenter.microsoft.us'


def test_api_audience_asks_for_the_other_government_form(run_module, emulator, conn):
    aud = 'https://securitycenter.onmicrosoft.us/windowsatpservice'
    result = run_module(atp_token.main, dict(conn, cloud='gcc_high', api_audience=aud))
    assert not result.get('failed'), result.get('msg')
    assert result['audience'] == result['claims']['aud'] == aud
    assert [e.get('audience') for e in emulator.requests_log() if e.get('family') == 'token'] == [aud]


@pytest.mark.parametrize('setting, algorithm, thumbprint', [(None, 'PS256', 'x5t#S256'), ('RS256', 'RS256', 'x5t')])
def test_each_certificate_assertion_form_gets_a_token(run_module, emulator, emu, conn, monkeypatch, setting, algorithm,
                                                      thumbprint):
    if setting:
        monkeypatch.setenv('DEFENDER_ATP_CERTIFICATE_ALGORITHM', setting)
    result = run_module(atp_token.main, dict(conn, client_secret=None, certificate_path=emu['certificate_path']))
    assert not result.get('failed'), result.get('msg')
    assert result['auth_method'] == 'certificate' and result['claims']['appidacr'] == '2'
    sent = [e['assertion'] for e in emulator.requests_log() if e.get('family') == 'token']
    # One thumbprint header, the one that goes with the algorithm: never the two forms mixed.
    assert sent == [{'alg': algorithm, 'thumbprints': [thumbprint]}]


# -- issue 19: auth_method access_token means "this token" -------------------------------------------------------------

GRAPH = 'https://graph.microsoft.com'


def _cache_a_defender_token(run_module, conn):
    cached = dict(conn, token_cache=True)
    assert run_module(atp_token.main, cached)['token_source'] == 'endpoint'
    return cached


def _token_requests(emulator):
    return [e for e in emulator.requests_log() if '/oauth2/' in e['path']]


@pytest.mark.parametrize('kind', ['wrong audience', 'expired'])
def test_an_explicit_access_token_is_the_token_checked_never_a_replacement(run_module, emulator, conn, kind):
    cached = _cache_a_defender_token(run_module, conn)  # credentials in module_defaults, their token in the cache
    given = (emulator.token(resource=GRAPH) if kind == 'wrong audience'
             else emulator.mint_token(roles=['Machine.Isolate'], lifetime=-600))
    emulator.reset()
    result = run_module(atp_token.main, dict(cached, access_token=given, auth_method='access_token',
                                             required_permissions=['Machine.Isolate']))
    assert result['failed'] is True
    assert ('audience' if kind == 'wrong audience' else 'expired') in result['msg']
    assert 'access_token' not in result and result.get('token_source') != 'cache'
    assert result.get('missing_permissions') != []
    assert _token_requests(emulator) == []


def test_an_explicit_access_token_that_fits_is_returned_as_given(run_module, emulator, conn):
    cached = _cache_a_defender_token(run_module, conn)
    given = emulator.mint_token(roles=['Machine.Read.All'])
    result = run_module(atp_token.main, dict(cached, access_token=given, auth_method='access_token',
                                             required_permissions=['Machine.Isolate'], fail_on_missing=False))
    assert result['token_source'] == 'given' and result['access_token'] == given
    assert result['missing_permissions'] == ['Machine.Isolate'], 'the given token lacks it, whatever the cache holds'


def test_auto_replacing_the_given_token_says_so_and_why(run_module, emulator, conn, monkeypatch):
    from ansible.module_utils import basic
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    cached = _cache_a_defender_token(run_module, conn)
    given = emulator.token(resource=GRAPH)
    result = run_module(atp_token.main, dict(cached, access_token=given, required_permissions=['Machine.Isolate']))
    assert not result.get('failed'), result['msg']
    assert result['token_source'] == 'cache' and result['access_token'] != given
    replaced = [w for w in warnings if 'access_token' in w and 'replaced' in w]
    assert len(replaced) == 1, warnings
    assert 'audience' in replaced[0] and 'client_secret' in replaced[0] and 'from the token cache' in replaced[0]
    assert given not in replaced[0]


def test_any_module_that_replaces_a_rejected_given_token_says_so(run_module, emulator, conn, monkeypatch):
    from ansible.module_utils import basic
    from ansible_collections.defender.atp.plugins.modules import atp_alert_info
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    given = emulator.token()
    emulator.add_fault(path=r'^/api/alerts$', status=401, times=1)
    result = run_module(atp_alert_info.main, dict(conn, access_token=given, limit=1))
    assert not result.get('failed'), result['msg']
    assert result['http_stats']['token_requests'] == 1
    replaced = [w for w in warnings if 'The given access_token was replaced' in w]
    assert len(replaced) == 1 and 'HTTP 401' in replaced[0] and 'just issued' in replaced[0], warnings
    assert given not in replaced[0]
