# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Controller-side plugins (inventory, lookups) on the collection's shared connection code.

A thin adapter: a plugin documents its connection options with the modules' ``defender.atp.connection`` doc
fragment, and ``connection_params`` hands the options written in its configuration (templated, as Ansible
templates plugin options) to ``module_utils/_connection.resolve_connection_options``, which applies the
modules' environment fallbacks, defaults and types. ``PluginConnection`` is the modules' ``ApiConnection``
with collection errors turned into ``AnsibleError`` and warnings named after the plugin.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import hashlib
import json
import sys

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.defender.atp.plugins.module_utils._connection import ApiConnection, resolve_connection_options
from ansible_collections.defender.atp.plugins.module_utils._auth.claims import HAS_JWT, JWT_IMPORT_ERROR, decode_claims
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._http.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.defender.atp.plugins.module_utils._redaction import Redactor

# Options whose value names who is calling (part of an inventory cache key; none of them is secret).
IDENTITY_OPTIONS = ('tenant_id', 'client_id', 'username', 'certificate_path', 'auth_method', 'cloud', 'region',
                    'api_url', 'login_url', 'api_audience')


def _template(plugin, value):
    """Render a Jinja2 template written in the plugin's file (``client_secret: "{{ lookup('env', 'X') }}"``)."""
    templar = getattr(plugin, 'templar', None)
    if templar is None or not isinstance(value, str) or '{{' not in value:
        return value
    try:
        return templar.template(value)
    except Exception as exc:  # pylint: disable=broad-except
        raise AnsibleParserError('Could not template a connection option of %s: %s' % (plugin_name(plugin), _safe(exc)))


def connection_params(plugin, written):
    """The ``params`` dict of the shared code, one entry per connection option.

    ``written`` names the options the plugin's configuration file sets (the keys ``_read_config_data`` returned).
    Only those are read with ``get_option`` and templated: the rest come from the modules' environment variables
    (never templated: an environment variable is data, and a secret may contain ``{{``) or their defaults.
    Deciding this from the file's keys, not from ``get_option_and_origin``, is what works on every ansible-core:
    before 2.18 ``get_option_and_origin`` ignores the file's values (it re-reads only the environment and defaults).
    """
    given = {}
    for name, spec in CONNECTION_ARGSPEC.items():
        if name not in written:
            continue
        value = _template(plugin, plugin.get_option(name))
        if value is not None and spec.get('type') in ('str', 'path'):
            # Vault-encrypted values decrypt on conversion to text; tagged strings become plain text.
            value = to_text(value)
        given[name] = value
    with ansible_errors(plugin_name(plugin), redact=Redactor(given)):
        return resolve_connection_options(given)


def plugin_name(plugin):
    return getattr(plugin, 'NAME', None) or type(plugin).__name__


def _safe(exc):
    return to_text(getattr(exc, 'message', None) or exc)


def check_requirements(what):
    """Fail clearly when a Python library the shared code needs is missing on the controller."""
    missing = []
    if not HAS_REQUESTS:
        missing.append('requests (%s)' % REQUESTS_IMPORT_ERROR)
    if not HAS_JWT:
        missing.append('PyJWT with cryptography, pyjwt[crypto] (%s)' % JWT_IMPORT_ERROR)
    if missing:
        raise AnsibleError('%s needs the Python libraries %s on the controller, in the Python that runs Ansible (%s). '
                           'Install them there (pip install requests "pyjwt[crypto]"), or use an execution environment '
                           'built with the collection\'s requirements.' % (what, ' and '.join(missing), sys.executable))


@contextlib.contextmanager
def ansible_errors(what, redact=None):
    """Turn collection errors into Ansible errors naming the plugin: option problems are parser errors.

    ``redact`` (a ``module_utils._redaction.Redactor``) takes the known secrets out of the message: a server's error
    body, which the message quotes, can echo them. The collection error is not chained (``from None``): Ansible shows
    an error's whole chain, which would repeat the unredacted message.
    """
    redact = redact or Redactor()
    try:
        yield
    except AtpOptionError as exc:
        raise AnsibleParserError(redact('%s: %s' % (what, exc.message))) from None
    except AtpError as exc:
        raise AnsibleError(redact('%s: %s' % (what, exc.message))) from None


class PluginConnection(ApiConnection):
    """The shared settings, authenticator and HTTP client for one plugin run (one token per audience)."""

    def __init__(self, params, what, warn=None):
        check_requirements(what)
        self.what = what
        super(PluginConnection, self).__init__(params, warn=(lambda message: warn('%s: %s' % (what, message))) if warn else None)
        # Every error this connection raises goes through it: the secret options and the tokens it holds.
        self.redact = Redactor(params)
        with ansible_errors(what, self.redact):
            self.client  # pylint: disable=pointless-statement  # validate every option now, before any request
        self.redact.authenticator = self.authenticator

    @classmethod
    def from_plugin(cls, plugin, written, warn=None):
        return cls(connection_params(plugin, written), plugin_name(plugin), warn=warn)

    def authenticate(self):
        """Get a token for the Defender API now (from the token cache or the login endpoint); raise if it cannot be had.

        Proves the credential before anything derived from it (such as a cached inventory) is served.
        """
        with ansible_errors(self.what, self.redact):
            self.authenticator.token_info('defender')

    def identity(self):
        """Who calls which service, without any secret: the part of a cache key that depends on the connection.

        Different credentials may see different machines (delegated tokens are scoped to the user's device
        groups), so the identity includes the user; secrets and tokens are never part of it.
        """
        ident = dict((name, self.params.get(name)) for name in IDENTITY_OPTIONS)
        ident['method'] = self.authenticator.name
        ident['api'] = self.settings.endpoints['api_url']
        ident['authority'] = self.settings.endpoints['login_url']
        ident['audience'] = self.settings.audience('defender')
        if self.authenticator.name == 'access_token':
            with ansible_errors(self.what, self.redact):
                claims = decode_claims(self.authenticator.params['access_token'])
            ident['token_subject'] = dict((k, claims.get(k)) for k in ('tid', 'appid', 'azp', 'oid', 'upn'))
        return ident

    def stats(self):
        stats = self.client.stats.as_dict()
        stats['token_sources'] = dict(self.authenticator.sources)
        return stats


def stable_digest(data):
    """A short, stable SHA-256 digest of JSON-serialisable data (for cache keys)."""
    text = json.dumps(data, sort_keys=True, separators=(',', ':'), default=to_text)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
