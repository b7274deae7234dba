# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.defender.atp.plugins.module_utils._auth import claims as claims_util
from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import accepted_audiences, resolve_endpoints
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpAuthError

TENANT = '6b1e9c5d-2f1f-4a8e-9a57-1f0c0d6f2a11'
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_token(key=KEY, kid='k1', **claims):
    now = int(time.time())
    body = dict(aud='https://api.securitycenter.microsoft.com', iss='https://sts.windows.net/%s/' % TENANT, tid=TENANT,
                iat=now, nbf=now, exp=now + 3600, appid='app', ver='1.0')
    body.update(claims)
    return jwt.encode(body, key, algorithm='RS256', headers={'kid': kid})


def jwks(key=KEY, kid='k1'):
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk['kid'] = kid
    return {'keys': [jwk]}


def test_decode_and_summarize():
    claims = claims_util.decode_claims(make_token(roles=['Machine.Isolate'], oid='x'))
    summary = claims_util.summarize(claims)
    assert summary['roles'] == ['Machine.Isolate'] and 'oid' not in summary
    assert claims_util.permission_type(claims) == 'application'


@pytest.mark.parametrize('token', ['', 'abc', 'a.b', 'Bearer a.b.c', 'a.b.c'])
def test_decode_rejects_non_jwt(token):
    with pytest.raises(AtpAuthError):
        claims_util.decode_claims(token)


def test_delegated_scopes_are_split():
    claims = claims_util.decode_claims(make_token(scp='Alert.Read Machine.Isolate'))
    assert claims_util.permission_type(claims) == 'delegated'
    assert claims_util.granted_permissions(claims) == ['Alert.Read', 'Machine.Isolate']


@pytest.mark.parametrize('granted, required, missing', [
    (['Alert.ReadWrite.All'], ['Alert.Read.All'], []),
    (['Alert.Read.All'], ['Alert.ReadWrite.All'], ['Alert.ReadWrite.All']),
    (['Machine.ReadWrite.All', 'Machine.Isolate'], ['Machine.Read.All', 'Machine.Isolate'], []),
    (['Machine.Read.All'], ['Machine.Read.All', 'Machine.Isolate'], ['Machine.Isolate']),
    ([], ['AdvancedQuery.Read.All'], ['AdvancedQuery.Read.All']),
    (['machine.isolate'], ['Machine.Isolate'], []),
])
def test_missing_application_permissions(granted, required, missing):
    claims = claims_util.decode_claims(make_token(roles=granted))
    assert claims_util.missing_permissions(claims, required) == missing


@pytest.mark.parametrize('scopes, required, missing', [
    ('Alert.Read', ['Alert.Read.All'], []),
    ('Alert.ReadWrite', ['Alert.Read.All'], []),
    ('Machine.Read Machine.Isolate', ['Machine.Read.All', 'Machine.Isolate'], []),
    ('ThreatHunting.Read.All', ['ThreatHunting.Read.All'], []),
    ('Machine.Read', ['Machine.Isolate'], ['Machine.Isolate']),
])
def test_missing_delegated_permissions(scopes, required, missing):
    claims = claims_util.decode_claims(make_token(scp=scopes))
    assert claims_util.missing_permissions(claims, required) == missing


def test_check_claims_names_each_failed_check():
    now = time.time()
    good = claims_util.decode_claims(make_token(roles=['Machine.Isolate']))
    assert claims_util.check_claims(good, ['https://api.securitycenter.microsoft.com'], TENANT, ['Machine.Isolate']) == []

    graph = claims_util.decode_claims(make_token(aud='https://graph.microsoft.com'))
    problems = claims_util.check_claims(graph, ['https://api.securitycenter.microsoft.com'])
    assert len(problems) == 1 and problems[0].startswith('audience:')

    other = claims_util.decode_claims(make_token(tid='00000000-0000-0000-0000-000000000001'))
    problems = claims_util.check_claims(other, None, TENANT)
    assert len(problems) == 1 and problems[0].startswith('tenant:')
    # A domain can't be compared with the tid claim, so it is not a failure.
    assert claims_util.check_claims(other, None, 'contoso.onmicrosoft.com') == []

    expired = claims_util.decode_claims(make_token(exp=int(now) - 10))
    problems = claims_util.check_claims(expired, None, None, now=now)
    assert len(problems) == 1 and problems[0].startswith('expiry:')

    problems = claims_util.check_claims(good, None, None, ['Alert.Read.All'])
    assert problems == ['permissions: missing Alert.Read.All (the token grants Machine.Isolate)']


def test_audience_comparison_ignores_trailing_slash_and_case():
    claims = {'aud': 'https://API.securitycenter.microsoft.com/'}
    assert claims_util.audience_matches(claims, ['https://api.securitycenter.microsoft.com'])
    assert not claims_util.audience_matches({'aud': None}, ['x'])


def test_expiry_margin():
    claims = {'exp': 1000}
    assert claims_util.is_expired(claims, margin=0, now=1000)
    assert not claims_util.is_expired(claims, margin=0, now=999)
    assert claims_util.is_expired(claims, margin=5, now=996)
    assert not claims_util.is_expired({}, now=10 ** 12)


def test_signature_verification():
    token = make_token()
    claims_util.verify_signature(token, jwks())
    with pytest.raises(AtpAuthError, match='^signature: the token signature is invalid'):
        claims_util.verify_signature(make_token(key=OTHER_KEY), jwks())
    with pytest.raises(AtpAuthError, match='no signing key'):
        claims_util.verify_signature(make_token(kid='unknown'), jwks())


@pytest.mark.parametrize('algorithm', ['HS256', 'none', 'ES256', 'RS512', None])
def test_the_token_does_not_choose_how_its_signature_is_checked(algorithm):
    """A forged header naming another algorithm (alg confusion) is refused as such, never a crash."""
    import base64
    import json
    head, payload, signature = make_token().split('.')
    header = {'kid': 'k1', 'typ': 'JWT'}
    if algorithm:
        header['alg'] = algorithm
    forged_head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b'=').decode()
    with pytest.raises(AtpAuthError, match='^signature: the token says it is signed with'):
        claims_util.verify_signature('.'.join([forged_head, payload, signature]), jwks())


# -- audiences (mde-api.md "Facts added on review") -------------------------------------------------------------------

MDE = 'https://api.securitycenter.microsoft.com'
XDR = 'https://api.security.microsoft.com'


@pytest.mark.parametrize('aud', [XDR, XDR + '/', 'HTTPS://API.SECURITY.MICROSOFT.COM'])
def test_a_defender_xdr_token_is_not_an_mde_token_and_the_message_names_the_resource_to_ask_for(aud):
    claims = claims_util.decode_claims(make_token(aud=aud))
    problems = claims_util.check_claims(claims, expected_audiences=accepted_audiences('defender', MDE))
    assert len(problems) == 1
    assert 'Microsoft Defender XDR resource' in problems[0] and '403' in problems[0]
    assert "ask for a token for '%s' instead (scope %s/.default)" % (MDE, MDE) in problems[0]


@pytest.mark.parametrize('aud', [MDE, 'https://api.securitycenter.windows.com',
                                 'https://securitycenter.onmicrosoft.com/windowsatpservice',
                                 'fc780465-2017-40d4-a0c5-307022471b92'])
def test_the_mde_audiences_are_accepted(aud):
    claims = claims_util.decode_claims(make_token(aud=aud))
    assert claims_util.check_claims(claims, expected_audiences=accepted_audiences('defender', MDE)) == []


@pytest.mark.parametrize('cloud', ['gcc_high', 'dod'])
@pytest.mark.parametrize('aud', ['https://api-gov.securitycenter.microsoft.us',
                                 'https://securitycenter.onmicrosoft.us/windowsatpservice'])
def test_both_government_audience_forms_are_accepted(cloud, aud):
    configured = resolve_endpoints(cloud)['defender_audience']
    assert configured == 'https://api-gov.securitycenter.microsoft.us'
    claims = claims_util.decode_claims(make_token(aud=aud))
    assert claims_util.check_claims(claims, expected_audiences=accepted_audiences('defender', configured)) == []


def test_api_audience_stays_the_escape_hatch_but_not_for_the_xdr_resource():
    custom = 'https://securitycenter.onmicrosoft.us/windowsatpservice/custom'
    assert resolve_endpoints('gcc_high', defender_audience=custom)['defender_audience'] == custom
    claims = claims_util.decode_claims(make_token(aud=custom))
    assert claims_util.check_claims(claims, expected_audiences=accepted_audiences('defender', custom)) == []
    with pytest.raises(ValueError) as caught:
        resolve_endpoints('commercial', defender_audience=XDR + '/')
    assert 'api_audience %s/ is the Microsoft Defender XDR resource' % XDR in str(caught.value)
    assert 'asks for %s' % MDE in str(caught.value)


def test_a_graph_token_with_a_header_nonce_is_not_called_forged():
    import base64
    import hashlib
    import json
    # Shaped like a Microsoft Graph token: signed over the hashed nonce, shown with the nonce itself.
    nonce = 'QkFTRTY0LW5vbmNl'
    hashed = base64.urlsafe_b64encode(hashlib.sha256(nonce.encode()).digest()).rstrip(b'=').decode()
    signed = jwt.encode({'aud': 'https://graph.microsoft.com', 'tid': TENANT}, KEY, algorithm='RS256',
                        headers={'kid': 'k1', 'nonce': hashed})
    header = jwt.get_unverified_header(signed)
    header['nonce'] = nonce
    shown = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b'=').decode()
    token = '.'.join([shown] + signed.split('.')[1:])
    with pytest.raises(AtpAuthError) as caught:
        claims_util.verify_signature(token, jwks())
    message = str(caught.value)
    assert message.startswith('signature: the token has a nonce in its header, as Microsoft Graph access tokens do')
    assert 'this does not mean it is forged' in message and 'invalid' not in message


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def test_a_token_reads_as_pyjwt_reads_it_unverified():
    """Claims are read with the standard library now: the same claims and header as PyJWT's unverified decode."""
    token = make_token(roles=['Machine.Isolate', 'Alert.Read.All'], name=u'R\u00e9sum\u00e9 app', nested={'a': [1, None]})
    assert claims_util.decode_claims(token) == jwt.decode(token, options={'verify_signature': False})
    assert claims_util.token_header(token) == jwt.get_unverified_header(token)
    header, payload, signature = token.split('.')
    padded = '.'.join((header + '=' * (-len(header) % 4), payload, signature))
    assert claims_util.decode_claims(padded) == claims_util.decode_claims(token)  # padding is optional


@pytest.mark.parametrize('part, value', [
    (0, '!!!'), (0, _b64(b'[1, 2]')), (1, _b64(b'not json')), (1, _b64(b'"a string"')), (1, _b64(b'\xff\xfe')),
    (2, 'a$b'), (1, 'a'),
])
def test_a_malformed_part_is_refused(part, value):
    parts = make_token().split('.')
    parts[part] = value
    with pytest.raises(AtpAuthError, match='cannot be decoded'):
        claims_util.decode_claims('.'.join(parts))
