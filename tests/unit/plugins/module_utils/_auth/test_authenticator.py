# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing the auth method, and validating certificates, before any request is sent."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.defender.atp.plugins.module_utils._auth.certificate import CertificateAuth
from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import select_methods
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError

BASE = dict(tenant_id='contoso.onmicrosoft.com', client_id='11111111-2222-3333-4444-555555555555')


def params(**extra):
    merged = dict(BASE, auth_method='auto')
    merged.update(extra)
    return merged


@pytest.mark.parametrize('extra, method, fallback', [
    (dict(client_secret='s'), 'client_secret', None),
    (dict(certificate_path='/x.pem'), 'certificate', None),
    (dict(username='u@contoso.com', password='p'), 'password', None),
    (dict(access_token='a.b.c'), 'access_token', None),
    (dict(access_token='a.b.c', client_secret='s'), 'access_token', 'client_secret'),
    (dict(auth_method='certificate', certificate_path='/x.pem', client_secret='s'), 'certificate', None),
    (dict(auth_method='password', username='u', password='p', client_secret='s'), 'password', None),
])
def test_auto_selection(extra, method, fallback):
    chosen, backup = select_methods(params(**extra))
    assert chosen.NAME == method
    assert (backup.NAME if backup else None) == fallback


@pytest.mark.parametrize('given, message', [
    (dict(tenant_id=None, client_id=None), 'No credentials given: missing tenant_id, client_id'),
    (dict(), 'No credentials given: there is no client_secret'),
    (dict(client_secret='s', certificate_path='/x.pem'), 'Ambiguous credentials: options for client_secret'),
    (dict(client_secret='s', tenant_id=None), 'Incomplete credentials for client_secret authentication: missing tenant_id'),
    (dict(username='u'), 'Incomplete credentials for password authentication: missing password'),
    (dict(password='p', certificate_path='/x', client_id=None), 'certificate is missing client_id; password is missing client_id, username'),
    (dict(auth_method='certificate', client_secret='s'), 'auth_method=certificate needs tenant_id, client_id, certificate_path; missing: certificate_path'),
    (dict(auth_method='access_token'), 'auth_method=access_token needs access_token'),
    (dict(access_token='a.b.c', client_secret='s', certificate_path='/x'), 'several methods (client_secret, certificate)'),
])
def test_incomplete_or_ambiguous_options_name_what_is_missing(given, message):
    merged = params()
    merged.update(given)
    with pytest.raises(AtpOptionError) as caught:
        select_methods(merged)
    assert message in caught.value.message


def _certificate(key, days=30):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'defender-atp-test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))


def _pem(cert, key, password=None):
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return cert.public_bytes(serialization.Encoding.PEM) + key_pem


@pytest.fixture(scope='module')
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _auth(tmp_path, content, password=None):
    path = tmp_path / 'app.pem'
    path.write_bytes(content)
    auth = CertificateAuth(dict(BASE, certificate_path=str(path), certificate_password=password))
    auth.validate()
    return auth


def test_certificate_assertion_is_signed_and_shaped(tmp_path, rsa_key):
    cert = _certificate(rsa_key)
    auth = _auth(tmp_path, _pem(cert, rsa_key, 'pw'), 'pw')
    url = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token'
    form = auth.token_form('https://api.securitycenter.microsoft.com/.default', url)
    assert form['client_assertion_type'] == 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    assert 'client_secret' not in form
    header = jwt.get_unverified_header(form['client_assertion'])
    # What MSAL sends when it has the certificate, and what Entra's certificate-credentials page documents: PS256
    # with the SHA-256 thumbprint, and no SHA-1 x5t beside it.
    assert header == {'alg': 'PS256', 'typ': 'JWT', 'x5t#S256': auth.thumbprints()['x5t#S256']}
    assert len(header['x5t#S256']) == 43
    claims = jwt.decode(form['client_assertion'], rsa_key.public_key(), algorithms=['PS256'], audience=url)
    assert claims['iss'] == claims['sub'] == BASE['client_id']
    assert claims['nbf'] <= time.time() < claims['exp'] <= time.time() + 601
    # A fresh jti per assertion, so it can't be replayed.
    assert jwt.decode(auth.token_form('s', url)['client_assertion'], options={'verify_signature': False})['jti'] != claims['jti']


@pytest.mark.parametrize('setting, algorithm, thumbprint, length', [
    (None, 'PS256', 'x5t#S256', 43), ('PS256', 'PS256', 'x5t#S256', 43), ('RS256', 'RS256', 'x5t', 27),
    ('rs256', 'RS256', 'x5t', 27),
])
def test_each_assertion_form_carries_only_its_own_thumbprint(tmp_path, rsa_key, monkeypatch, setting, algorithm, thumbprint,
                                                             length):
    if setting is None:
        monkeypatch.delenv('DEFENDER_ATP_CERTIFICATE_ALGORITHM', raising=False)
    else:
        monkeypatch.setenv('DEFENDER_ATP_CERTIFICATE_ALGORITHM', setting)
    auth = _auth(tmp_path, _pem(_certificate(rsa_key), rsa_key))
    url = 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token'
    assertion = auth.token_form('https://api.securitycenter.microsoft.com/.default', url)['client_assertion']
    header = jwt.get_unverified_header(assertion)
    assert header == {'alg': algorithm, 'typ': 'JWT', thumbprint: auth.thumbprints()[thumbprint]}
    assert len(header[thumbprint]) == length
    jwt.decode(assertion, rsa_key.public_key(), algorithms=[algorithm], audience=url)  # RS256 is PKCS#1 v1.5, PS256 PSS


def test_an_unknown_assertion_algorithm_fails_before_any_request(tmp_path, rsa_key, monkeypatch):
    monkeypatch.setenv('DEFENDER_ATP_CERTIFICATE_ALGORITHM', 'ES256')
    with pytest.raises(AtpOptionError) as caught:
        _auth(tmp_path, _pem(_certificate(rsa_key), rsa_key))
    assert 'DEFENDER_ATP_CERTIFICATE_ALGORITHM must be PS256' in str(caught.value) and "'ES256'" in str(caught.value)


def test_key_before_certificate_is_fine(tmp_path, rsa_key):
    cert = _certificate(rsa_key)
    pem = _pem(cert, rsa_key)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    _auth(tmp_path, pem[len(cert_pem):] + cert_pem)


@pytest.mark.parametrize('case, message', [
    ('not_pem', 'holds no PEM certificate'),
    ('no_key', 'holds a certificate but no private key'),
    ('encrypted_no_password', 'is encrypted: set certificate_password'),
    ('wrong_password', 'certificate_password does not decrypt'),
    ('password_on_plain_key', 'the private key in certificate_path is not encrypted'),
    ('mismatched_key', 'does not belong to its certificate'),
    ('ec_key', 'must be an RSA key'),
    ('missing_file', 'cannot be read'),
])
def test_bad_certificate_files_fail_before_any_request(tmp_path, rsa_key, case, message):
    cert = _certificate(rsa_key)
    password = None
    content = None
    if case == 'not_pem':
        content = b'\x30\x82binary-der'
    elif case == 'no_key':
        content = cert.public_bytes(serialization.Encoding.PEM)
    elif case == 'encrypted_no_password':
        content = _pem(cert, rsa_key, 'secret')
    elif case == 'wrong_password':
        content, password = _pem(cert, rsa_key, 'secret'), 'nope'
    elif case == 'password_on_plain_key':
        content, password = _pem(cert, rsa_key), 'secret'
    elif case == 'mismatched_key':
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        content = _pem(cert, other)
    elif case == 'ec_key':
        ec_key = ec.generate_private_key(ec.SECP256R1())
        content = _pem(_certificate(ec_key), ec_key)
    with pytest.raises(AtpOptionError) as caught:
        if case == 'missing_file':
            CertificateAuth(dict(BASE, certificate_path=str(tmp_path / 'nope.pem'))).validate()
        else:
            _auth(tmp_path, content, password)
    assert message in caught.value.message
    assert 'secret' not in caught.value.message
