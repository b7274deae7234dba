# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared redaction of known secrets in messages (module_utils/_redaction.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from urllib.parse import urlencode

from ansible_collections.defender.atp.plugins.module_utils import _redaction as redaction
from ansible_collections.defender.atp.plugins.module_utils._redaction import REDACTED, Redactor, redact_secrets

SECRET = 'Ab~c.d+e/f=g&h%i'


def test_every_secret_option_is_known():
    assert set(redaction.SECRET_OPTIONS) == {'client_secret', 'password', 'certificate_password', 'access_token'}


def test_a_secret_is_replaced_as_is_form_encoded_and_json_escaped():
    body = 'echo: %s | form: %s | json: %s' % (SECRET, urlencode({'client_secret': SECRET}), json.dumps({'s': SECRET + '"'}))
    text = redact_secrets(body, [SECRET + '"', SECRET])
    assert SECRET not in text
    assert urlencode({'x': SECRET})[2:] not in text
    assert text.count(REDACTED) == 3


def test_nothing_else_changes_and_blank_secrets_are_ignored():
    assert redact_secrets('HTTP 400: AADSTS7000215 invalid secret.', ['', '   ', None, 'zzz']) == \
        'HTTP 400: AADSTS7000215 invalid secret.'
    assert redact_secrets(None, [SECRET]) is None
    # Too short to be a credential: replacing it would garble the message and hide nothing.
    assert redact_secrets('a short s', ['s', 'ab']) == 'a short s'


def test_a_longer_secret_that_contains_another_is_replaced_whole():
    assert redact_secrets('x password123456 x', ['password', 'password123456']) == 'x %s x' % REDACTED


class FakeAuthenticator(object):
    def __init__(self, given=None):
        self.params = {'access_token': given}
        self._tokens = {}


def test_the_redactor_knows_params_the_environment_and_every_token_the_authenticator_held(monkeypatch):
    monkeypatch.setenv('AZURE_PASSWORD', 'env-password-value')
    authenticator = FakeAuthenticator(given='given.jwt.token')
    redact = Redactor([{'client_secret': 's3cr3t-value'}, {'certificate_password': 'pem-pass', 'tenant_id': 'contoso'}],
                      authenticator=authenticator)
    authenticator._tokens['defender'] = {'access_token': 'first.obtained.token'}
    assert redact('a s3cr3t-value b pem-pass c env-password-value d given.jwt.token e first.obtained.token contoso') == \
        'a {0} b {0} c {0} d {0} e {0} contoso'.format(REDACTED)
    # Renewed: the old token is gone from the authenticator but stays hidden.
    authenticator._tokens['defender'] = {'access_token': 'second.obtained.token'}
    assert redact('first.obtained.token second.obtained.token') == '%s %s' % (REDACTED, REDACTED)
