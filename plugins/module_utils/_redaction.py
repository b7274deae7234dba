# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Taking the known secrets out of a message before it is logged or raised.

Modules have ``no_log`` (AnsibleModule masks those values in their results); the controller-side code - the EDA
event source, the inventory plugin - has not, and its messages quote what servers answered. A server's error body is
not ours: a proxy that reflects the request (the token form with ``client_secret=...``, the ``Authorization``
header) puts the secret into the very text we report. ``Redactor`` replaces every known secret there: the connection
options marked ``no_log`` (``client_secret``, ``password``, ``certificate_password``, ``access_token``, given as
options or through their environment variables) and every token the authenticator holds or held. Each secret is
also looked for in the forms a reflected request carries it in: form-encoded and JSON-escaped.

``_connection.redact_url`` is the other half: it takes a ``user:password@`` or a query out of a URL that an
option holds, before we ever know which part is secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from urllib.parse import quote, quote_plus

from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC

REDACTED = '********'
# A shorter value is not looked for: replacing every "a" or "s1" would garble every message, and hide nothing (a secret
# that short is guessed at once). Entra client secrets have 40 characters.
MIN_SECRET_LENGTH = 4
# The connection options that hold secrets (no_log): client_secret, certificate_password, password, access_token.
SECRET_OPTIONS = tuple(sorted(name for name, spec in CONNECTION_ARGSPEC.items() if spec.get('no_log')))


def _forms(secret):
    """The spellings of ``secret`` a reflected request can carry: as is, form-encoded (both ways), JSON-escaped."""
    forms = set([secret, quote_plus(secret, safe=''), quote(secret, safe='')])
    forms.add(json.dumps(secret)[1:-1])
    return forms


def redact_secrets(text, secrets):
    """``text`` with every occurrence of each of ``secrets`` (and its encoded forms) replaced by ``********``.

    Longer forms go first, so a secret that contains another is replaced whole. Non-text ``text`` is returned as is;
    secrets shorter than ``MIN_SECRET_LENGTH`` are not looked for.
    """
    if not isinstance(text, str) or not text:
        return text
    forms = set()
    for secret in secrets:
        if isinstance(secret, str) and len(secret.strip()) >= MIN_SECRET_LENGTH:
            forms.update(_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def environment_secrets():
    """The values of the secret options' environment variables (AZURE_CLIENT_SECRET, ...) that are set."""
    values = []
    for name in SECRET_OPTIONS:
        for variable in (CONNECTION_ARGSPEC[name].get('fallback') or (None, []))[1]:
            if os.environ.get(variable):
                values.append(os.environ[variable])
    return values


def authenticator_tokens(authenticator):
    """The tokens an ``Authenticator`` holds now: the one it was given and those it obtained (per API)."""
    if authenticator is None:
        return []
    tokens = [(getattr(authenticator, 'params', None) or {}).get('access_token')]
    # Its per-API token infos (given, cached or from the token endpoint); read, never changed.
    for info in list((getattr(authenticator, '_tokens', None) or {}).values()):
        if isinstance(info, dict):
            tokens.append(info.get('access_token'))
    return [token for token in tokens if isinstance(token, str) and token]


class Redactor(object):
    """Callable: ``redactor(text)`` is ``text`` without any secret known to it.

    ``params`` are connection params (one dict or several: what was given, what validation made of it); the
    environment variables of the secret options count too. ``authenticator`` (optional, or set later) is asked for
    its tokens at each call, and every token seen is remembered, so a token that was renewed since stays hidden.
    """

    def __init__(self, params=None, authenticator=None, extra=()):
        self.authenticator = authenticator
        self.known = set()
        for mapping in (params if isinstance(params, (list, tuple)) else [params]):
            for name in SECRET_OPTIONS:
                self.add((mapping or {}).get(name))
        self.add(*environment_secrets())
        self.add(*extra)

    def add(self, *values):
        for value in values:
            if isinstance(value, str) and value.strip():
                self.known.add(value)
        return self

    def secrets(self):
        self.add(*authenticator_tokens(self.authenticator))
        return set(self.known)

    def __call__(self, text):
        return redact_secrets(text, self.secrets())
