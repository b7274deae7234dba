# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""One connection setup for modules and controller-side plugins.

FOR INTERNAL COLLECTION USE ONLY: this may change in any release.

``resolve_connection_options`` turns the connection options a caller was given into the ``params`` that
``AnsibleModule`` would have made of them (environment fallbacks, defaults, types, choices), so a plugin,
which has no ``AnsibleModule``, reads the same options in the same way. ``ApiConnection`` builds
``ConnectionSettings`` -> ``Authenticator`` -> ``HttpClient`` from those params, lazily, and says once when TLS
verification is off. ``AtpModule`` (modules) and ``plugin_utils/connection.py`` (plugins) both use it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.basic import AnsibleFallbackNotFound
from ansible.module_utils.common.validation import check_type_bool, check_type_float, check_type_int

from ansible_collections.defender.atp.plugins.module_utils.authenticator import Authenticator
from ansible_collections.defender.atp.plugins.module_utils.connection_options import CONNECTION_ARGSPEC, ConnectionSettings
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils.http_client import HttpClient

TLS_UNVERIFIED_WARNING = ('validate_certs is false: TLS certificates of the login and API servers are not verified, so '
                          'credentials and tokens could be intercepted. Prefer ca_path.')

_CONVERTERS = {'bool': (check_type_bool, 'a boolean (true or false)'), 'int': (check_type_int, 'an integer'),
               'float': (check_type_float, 'a number')}


def _fallback(spec):
    """The value of an option's environment fallback, or raise AnsibleFallbackNotFound (as AnsibleModule does)."""
    fallback = spec.get('fallback')
    if not fallback:
        raise AnsibleFallbackNotFound
    function, names = fallback[0], fallback[1]
    return function(*names)


def _convert(name, spec, value, source):
    kind = spec.get('type', 'str')
    if kind in _CONVERTERS:
        converter, what = _CONVERTERS[kind]
        try:
            value = converter(value)
        except (TypeError, ValueError):
            raise AtpOptionError('%s%s must be %s, got %r.' % (name, source, what, value))
    elif kind in ('str', 'path') and not isinstance(value, str):
        raise AtpOptionError('%s%s must be a string, got %s.' % (name, source, type(value).__name__))
    if kind == 'path':
        value = os.path.expanduser(os.path.expandvars(value))
    choices = spec.get('choices')
    if choices and value not in choices:
        raise AtpOptionError('%s%s must be one of %s, got %r.' % (name, source, ', '.join(choices), value))
    return value


def resolve_connection_options(given):
    """The connection ``params`` for the options in ``given``, resolved as ``AnsibleModule`` resolves them.

    An option that is absent from ``given`` (or None) falls back to its environment variables (an empty variable
    counts as unset, see ``connection_options.env_fallback``), then to its default. Values are converted to the
    option's type and checked against its choices; an error names the option and where the value came from.
    """
    params = {}
    for name, spec in CONNECTION_ARGSPEC.items():
        value = given.get(name)
        source = ''
        if value is None:
            try:
                value = _fallback(spec)
                source = ' (from the environment variable %s)' % ' or '.join(spec['fallback'][1])
            except AnsibleFallbackNotFound:
                value = spec.get('default')
        if value is not None:
            value = _convert(name, spec, value, source)
        params[name] = value
    return params


class ApiConnection(object):
    """Settings, authenticator and HTTP client for one set of connection params, each built on first use.

    ``warn`` receives warnings meant for the user (the caller adds its own prefix or channel).
    """

    def __init__(self, params, warn=None):
        self.params = params
        self._warn = warn
        self._settings = None
        self._authenticator = None
        self._client = None

    @property
    def settings(self):
        """The validated ``ConnectionSettings`` (raises AtpOptionError on a bad option)."""
        if self._settings is None:
            settings = ConnectionSettings(self.params)
            for warning in settings.warnings if self._warn is not None else ():
                self._warn(warning)  # plain http to a loopback host, and the like
            if not settings.validate_certs:
                if self._warn is not None:
                    self._warn(TLS_UNVERIFIED_WARNING)
                _silence_insecure_warnings()
            self._settings = settings
        return self._settings

    @property
    def authenticator(self):
        if self._authenticator is None:
            self._authenticator = Authenticator(self.settings, warn=self._warn)
        return self._authenticator

    @property
    def client(self):
        """The authenticated ``HttpClient``; every connection and auth option is validated on first use."""
        if self._client is None:
            authenticator = self.authenticator
            self._client = HttpClient(self.settings, token_source=authenticator)
            authenticator.attach(self._client)
        return self._client

    @property
    def built_authenticator(self):
        """The authenticator if it was built (for results that report the method used), else None."""
        return self._authenticator

    @property
    def built_client(self):
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()


def _silence_insecure_warnings():
    # The user was warned once; urllib3's own warning would repeat it for every request.
    try:
        import urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
