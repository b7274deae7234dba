# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plugins (inventory, lookups) on the collection's shared connection code.

FOR INTERNAL COLLECTION USE ONLY: this may change in any release.

A plugin reads its connection options with ``get_option`` (declared by the ``defender.atp.connection.plugins``
doc fragment, with the same environment variables as the modules' ``CONNECTION_ARGSPEC``), turns them into
the ``params`` dict the modules get from ``AnsibleModule``, and then uses exactly the modules' code:
``ConnectionSettings`` -> ``Authenticator`` -> ``HttpClient``. Collection errors become ``AnsibleError``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import hashlib
import json
import os
import sys

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import string_types

from ansible_collections.defender.atp.plugins.module_utils.authenticator import Authenticator
from ansible_collections.defender.atp.plugins.module_utils.claims import HAS_JWT, JWT_IMPORT_ERROR, decode_claims
from ansible_collections.defender.atp.plugins.module_utils.connection_options import CONNECTION_ARGSPEC, ConnectionSettings
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils.http_client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HttpClient

# Options that hold secrets: never logged, never in a cache key, never in host variables.
SECRET_OPTIONS = tuple(sorted(name for name, spec in CONNECTION_ARGSPEC.items() if spec.get('no_log')))
# Options whose value names who is calling (part of an inventory cache key; none of them is secret).
IDENTITY_OPTIONS = ('tenant_id', 'client_id', 'username', 'certificate_path', 'auth_method', 'cloud', 'region',
                    'api_url', 'login_url', 'api_audience')


def env_names(option):
    """The environment variables an option falls back to, in order (as in ``CONNECTION_ARGSPEC``)."""
    fallback = CONNECTION_ARGSPEC[option].get('fallback')
    return list(fallback[1]) if fallback else []


def _option_and_origin(plugin, name):
    """The option's value (as ``get_option`` gives it) and where it came from, when ansible-core says so.

    Before ansible-core 2.19, ``get_option_and_origin`` asks the configuration again (environment, ansible.cfg,
    default) and ignores what the inventory file set: a value that differs from that answer came from the file.
    """
    getter = getattr(plugin, 'get_option_and_origin', None)
    config_value, origin = None, None
    if getter is not None:
        try:
            config_value, origin = getter(name)
        except KeyError:
            config_value, origin = None, 'default'
    if not hasattr(plugin, 'get_option'):
        return config_value, origin
    try:
        value = plugin.get_option(name)
    except KeyError:
        return config_value, origin
    if getter is not None and value != config_value:
        return value, 'direct'
    return value, origin


def _from_empty_env(name, origin):
    """True when the value came from an environment variable that is set but empty.

    AWX credential types inject every variable they declare, '' for a blank input. Ansible's config turns
    an empty ``path`` into the current directory, so the value is dropped here, as the modules drop it
    (``env_fallback`` in connection_options).
    """
    names = env_names(name)
    if origin is None:
        present = [n for n in names if n in os.environ]
        return bool(present) and os.environ[present[0]] == ''
    origin = to_text(origin)
    if not origin.startswith('env:'):
        return False
    variable = origin[len('env:'):].strip()
    return os.environ.get(variable, None) == ''


def _from_file(origin):
    """Whether a value was written in the plugin's configuration (not an environment variable or a default).

    Only those are templated: an environment variable is data, and a secret may well contain ``{{``.
    """
    origin = to_text(origin or '')
    return not (origin.startswith('env:') or origin == 'default' or origin.startswith('ini:'))


def _template(plugin, value):
    """Render a Jinja2 template written in the inventory file (``client_secret: "{{ lookup('env', 'X') }}"``)."""
    templar = getattr(plugin, 'templar', None)
    if templar is None or not isinstance(value, string_types) or '{{' not in value:
        return value
    try:
        return templar.template(value)
    except Exception as exc:  # pylint: disable=broad-except
        raise AnsibleParserError('Could not template a connection option of %s: %s' % (plugin_name(plugin), _safe(exc)))


def connection_params(plugin):
    """The ``params`` dict of the shared code, one entry per connection option, read from ``plugin``."""
    params = {}
    for name, spec in CONNECTION_ARGSPEC.items():
        value, origin = _option_and_origin(plugin, name)
        if _from_empty_env(name, origin):
            value = spec.get('default')
        elif _from_file(origin):
            value = _template(plugin, value)
        if value is not None and spec.get('type') in ('str', 'path') and not isinstance(value, string_types):
            # Vault-encrypted values from the inventory file decrypt on conversion to text.
            value = to_text(value)
        if isinstance(value, string_types):
            value = to_text(value)
            if spec.get('type') == 'path' and value:
                value = os.path.expanduser(os.path.expandvars(value))
        params[name] = value
    return params


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
def ansible_errors(what):
    """Turn collection errors into Ansible errors naming the plugin: option problems are parser errors."""
    try:
        yield
    except AtpOptionError as exc:
        raise AnsibleParserError('%s: %s' % (what, exc.message))
    except AtpError as exc:
        raise AnsibleError('%s: %s' % (what, exc.message))


class PluginConnection(object):
    """The shared settings, authenticator and HTTP client for one plugin run (one token per audience)."""

    def __init__(self, params, what, warn=None):
        self.params = params
        self.what = what
        check_requirements(what)
        with ansible_errors(what):
            self.settings = ConnectionSettings(params)
            self.authenticator = Authenticator(self.settings, warn=warn)
            self.client = HttpClient(self.settings, token_source=self.authenticator)
        self.authenticator.attach(self.client)
        for warning in self.settings.warnings if warn is not None else ():
            warn('%s: %s' % (what, warning))
        if not self.settings.validate_certs:
            if warn is not None:
                warn('%s: validate_certs is false: TLS certificates of the login and API servers are not verified, so '
                     'credentials and tokens could be intercepted. Prefer ca_path.' % what)
            _silence_insecure_warnings()

    @classmethod
    def from_plugin(cls, plugin, warn=None):
        return cls(connection_params(plugin), plugin_name(plugin), warn=warn)

    def identity(self):
        """Who calls which service, without any secret: the part of a cache key that depends on the connection.

        Different credentials may see different machines (delegated tokens are scoped to the user's device
        groups), so the identity includes the user; secrets and tokens are never part of it.
        """
        ident = dict((name, self.params.get(name)) for name in IDENTITY_OPTIONS)
        ident['method'] = self.authenticator.name
        ident['api'] = self.settings.endpoints['api_url']
        ident['audience'] = self.settings.audience('defender')
        if self.authenticator.name == 'access_token':
            with ansible_errors(self.what):
                claims = decode_claims(self.authenticator.params['access_token'])
            ident['token_subject'] = dict((k, claims.get(k)) for k in ('tid', 'appid', 'azp', 'oid', 'upn'))
        return ident

    def close(self):
        self.client.close()

    def stats(self):
        stats = self.client.stats.as_dict()
        stats['token_sources'] = dict(self.authenticator.sources)
        return stats


def stable_digest(data):
    """A short, stable SHA-256 digest of JSON-serialisable data (for cache keys)."""
    text = json.dumps(data, sort_keys=True, separators=(',', ':'), default=to_text)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _silence_insecure_warnings():
    try:
        import urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
