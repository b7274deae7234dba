# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The connection: the options every plugin accepts, their validation, and the one wiring of settings, token
source and HTTP client that modules, controller-side plugins and the EDA source share.

The argument spec lives here once; ``plugins/doc_fragments/connection.py`` documents it once.
Validation happens before any request, so a bad option never costs a network round trip.

``resolve_connection_options`` turns the connection options a caller was given into the ``params`` that
``AnsibleModule`` would have made of them (environment fallbacks, defaults, types, choices), so a plugin,
which has no ``AnsibleModule``, reads the same options in the same way. ``ApiConnection`` builds
``ConnectionSettings`` -> ``Authenticator`` -> ``HttpClient`` from those params, lazily, and says once when TLS
verification is off. ``AtpModule`` (modules), ``plugin_utils/_connection.py`` (plugins) and the EDA source use it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import socket

from ansible.module_utils.basic import AnsibleFallbackNotFound
from ansible.module_utils.common.validation import check_type_bool, check_type_float, check_type_int
from urllib.parse import urlparse

from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import Authenticator
from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import CLOUDS, REGIONS, resolve_endpoints
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._http.client import HttpClient


def env_fallback(*args, **kwargs):
    """``ansible.module_utils.basic.env_fallback``, except that an empty variable counts as unset.

    AWX / Automation Platform credential types inject every environment variable they declare, with an
    empty value for an input left blank; an empty ``DEFENDER_ATP_REGION`` must mean "no region", not an
    invalid choice.
    """
    for name in args:
        value = os.environ.get(name)
        if value:
            return value
    raise AnsibleFallbackNotFound


AUTH_METHODS = ('auto', 'client_secret', 'certificate', 'password', 'access_token')

CONNECTION_ARGSPEC = dict(
    tenant_id=dict(type='str', fallback=(env_fallback, ['AZURE_TENANT_ID'])),
    client_id=dict(type='str', fallback=(env_fallback, ['AZURE_CLIENT_ID'])),
    client_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_CLIENT_SECRET'])),
    certificate_path=dict(type='path', fallback=(env_fallback, ['AZURE_CLIENT_CERTIFICATE_PATH'])),
    certificate_password=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_CLIENT_CERTIFICATE_PASSWORD'])),
    username=dict(type='str', fallback=(env_fallback, ['AZURE_USERNAME'])),
    password=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_PASSWORD'])),
    access_token=dict(type='str', no_log=True, fallback=(env_fallback, ['DEFENDER_ATP_ACCESS_TOKEN'])),
    auth_method=dict(type='str', default='auto', choices=list(AUTH_METHODS)),
    cloud=dict(type='str', default='commercial', choices=sorted(CLOUDS),
               fallback=(env_fallback, ['DEFENDER_ATP_CLOUD'])),
    region=dict(type='str', choices=list(REGIONS), fallback=(env_fallback, ['DEFENDER_ATP_REGION'])),
    api_url=dict(type='str', fallback=(env_fallback, ['DEFENDER_ATP_API_URL'])),
    login_url=dict(type='str', fallback=(env_fallback, ['DEFENDER_ATP_LOGIN_URL', 'AZURE_AUTHORITY_HOST'])),
    graph_url=dict(type='str', fallback=(env_fallback, ['DEFENDER_ATP_GRAPH_URL'])),
    api_audience=dict(type='str', fallback=(env_fallback, ['DEFENDER_ATP_API_AUDIENCE'])),
    graph_audience=dict(type='str', fallback=(env_fallback, ['DEFENDER_ATP_GRAPH_AUDIENCE'])),
    validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['DEFENDER_ATP_VALIDATE_CERTS'])),
    ca_path=dict(type='path', fallback=(env_fallback, ['DEFENDER_ATP_CA_PATH'])),
    timeout=dict(type='float', default=60, fallback=(env_fallback, ['DEFENDER_ATP_TIMEOUT'])),
    max_retries=dict(type='int', default=5, fallback=(env_fallback, ['DEFENDER_ATP_MAX_RETRIES'])),
    max_retry_wait=dict(type='float', default=300, fallback=(env_fallback, ['DEFENDER_ATP_MAX_RETRY_WAIT'])),
    token_cache=dict(type='bool', default=True, fallback=(env_fallback, ['DEFENDER_ATP_TOKEN_CACHE'])),
)


def connection_argspec(**module_options):
    """Return the connection argument spec merged with a module's own options."""
    spec = dict((name, dict(option)) for name, option in CONNECTION_ARGSPEC.items())
    overlap = set(spec) & set(module_options)
    for name in overlap:
        # A module may change a connection option's default (atp_query waits longer), nothing else.
        spec[name].update(module_options.pop(name))
    spec.update(module_options)
    return spec


# A tenant is named by its GUID or a verified domain (contoso.onmicrosoft.com), or organizations/common. It becomes a
# path segment of the token URL, so nothing that could change the URL (/, ?, #, %, spaces) may pass.
_TENANT_RE = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$')
PEM_CERTIFICATE_MARKERS = (b'-----BEGIN CERTIFICATE-----', b'-----BEGIN TRUSTED CERTIFICATE-----')


# Options that carry credentials or tokens over the wire (the login authority gets the secret, password or
# assertion; the API and Graph bases get the bearer token), and the environment variables that set them.
URL_OPTIONS = ('api_url', 'login_url', 'graph_url')
_USERINFO_RE = re.compile(r'^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?([^/?#]*)@')


def redact_url(value):
    """``value`` fit for an error message: no ``user:password@`` and no query string or fragment.

    Works on text that does not parse as a URL too, because it runs before any check that could fail.
    """
    text = value if isinstance(value, str) else repr(value)
    text = _USERINFO_RE.sub(lambda m: (m.group(1) or '') + '<redacted>@', text, count=1)
    for mark in ('?', '#'):
        if mark in text:
            text = text.split(mark, 1)[0] + mark + '<redacted>'
    return text


def option_env_names(name):
    """The environment variables an option falls back to (``AZURE_AUTHORITY_HOST`` for ``login_url``)."""
    fallback = CONNECTION_ARGSPEC.get(name, {}).get('fallback')
    return list(fallback[1]) if fallback else []


def is_loopback_host(host):
    """True for localhost, 127.0.0.0/8 (dotted quad only) and ::1: traffic that never leaves the machine."""
    host = (host or '').lower().rstrip('.')
    if host == 'localhost':
        return True
    parts = host.split('.')
    if len(parts) == 4 and all(part.isdigit() and len(part) <= 3 and int(part) <= 255 for part in parts):
        return parts[0] == '127'
    if ':' in host:
        try:
            packed = socket.inet_pton(socket.AF_INET6, host)
        except (socket.error, ValueError, OSError):
            return False
        return packed == b'\x00' * 15 + b'\x01'
    return False


def _check_url(name, value, warnings=None):
    """Refuse a URL option that is not an absolute https URL (http only on a loopback host, with a warning).

    Every message shows the value through ``redact_url``: a ``user:password@`` must not be echoed by the very
    check that refuses it.
    """
    example = 'an absolute https URL such as https://api.security.microsoft.com'
    label = name
    shown = redact_url(value)
    if any(char.isspace() for char in value.strip()):
        raise AtpOptionError('%s must be %s, without spaces; got %r.' % (label, example, shown))
    try:
        parsed = urlparse(value.strip())
        parsed.port  # pylint: disable=pointless-statement  # raises ValueError for a port out of range
    except ValueError as exc:
        raise AtpOptionError('%s must be %s; %r cannot be parsed (%s).' % (label, example, shown, redact_url(str(exc))))
    if parsed.username is not None or parsed.password is not None:
        raise AtpOptionError('%s must not contain a user name or password (user:password@host), got a URL for host %r.'
                             % (label, parsed.hostname))
    scheme = (parsed.scheme or '').lower()
    if scheme not in ('https', 'http') or not parsed.netloc:
        raise AtpOptionError('%s must be %s, got %r.' % (label, example, shown))
    if not _valid_host(parsed.hostname):
        raise AtpOptionError('%s has an invalid host name %r; it must be %s.' % (label, parsed.hostname, example))
    if parsed.query or parsed.fragment:
        raise AtpOptionError('%s must not contain a query string or fragment, got %r.' % (label, shown))
    if scheme == 'http':
        if not is_loopback_host(parsed.hostname):
            raise AtpOptionError(
                '%s is %r: plain http is refused, because the %s would travel unencrypted. Use https (with ca_path for a '
                'private CA) in the option or in its environment variable (%s). Plain http is accepted only for a loopback '
                'host (localhost, 127.0.0.0/8, ::1).'
                % (name, shown, 'client secret, password or assertion' if name == 'login_url' else 'access token',
                   ', '.join(option_env_names(name))))
        if warnings is not None:
            warnings.append('%s is %r: plain http to a loopback host; credentials and tokens are sent unencrypted on this '
                            'machine. Use https outside of local tests.' % (name, shown))


def _valid_host(host):
    """A DNS name (letters, digits, '-', '_' in dot-separated labels), an IPv4 or a bracketed IPv6 address."""
    if not host:
        return False
    if ':' in host:
        return all(char in '0123456789abcdefABCDEF:.' for char in host)
    labels = host[:-1].split('.') if host.endswith('.') else host.split('.')
    return all(label and len(label) <= 63 and not label.startswith('-') and not label.endswith('-')
               and all(char.isalnum() or char in '-_' for char in label) for label in labels)


def _check_tenant(value):
    if value and not _TENANT_RE.match(value):
        raise AtpOptionError('tenant_id %r is not a tenant: give the directory (tenant) GUID or a verified domain such as '
                             'contoso.onmicrosoft.com.' % (value,))


def _check_ca_bundle(path):
    try:
        with open(path, 'rb') as handle:
            content = handle.read()
    except (IOError, OSError) as exc:
        raise AtpOptionError('ca_path %r cannot be read: %s.' % (path, exc.strerror or exc))
    if not any(marker in content for marker in PEM_CERTIFICATE_MARKERS):
        raise AtpOptionError('ca_path %r holds no PEM certificate (-----BEGIN CERTIFICATE-----); point it at a PEM bundle of '
                             'the CA that signs the API and login servers.' % path)


class ConnectionSettings(object):
    """Validated connection settings: endpoints, TLS, timeouts, retries and the raw auth options."""

    def __init__(self, params):
        self.params = params
        self.auth_params = dict((k, params.get(k)) for k in (
            'tenant_id', 'client_id', 'client_secret', 'certificate_path', 'certificate_password',
            'username', 'password', 'access_token', 'auth_method'))
        # Warnings for the caller to show (a module's warn(), an inventory plugin's display): plain http to loopback.
        self.warnings = []
        _check_tenant(params.get('tenant_id'))
        for name in URL_OPTIONS:
            if params.get(name):
                _check_url(name, params[name], self.warnings)
        try:
            self.endpoints = resolve_endpoints(
                cloud=params.get('cloud') or 'commercial', region=params.get('region'),
                api_url=params.get('api_url'), login_url=params.get('login_url'), graph_url=params.get('graph_url'),
                defender_audience=params.get('api_audience'), graph_audience=params.get('graph_audience'))
        except ValueError as exc:
            raise AtpOptionError(str(exc))
        self.validate_certs = params.get('validate_certs', True)
        self.ca_path = params.get('ca_path')
        if self.ca_path and not os.path.isfile(self.ca_path):
            raise AtpOptionError('ca_path %r does not exist or is not a file; point it at a PEM bundle of the CA that signs '
                                 'the API and login servers.' % self.ca_path)
        if self.ca_path:
            _check_ca_bundle(self.ca_path)
        self.timeout = params.get('timeout')
        if self.timeout is None:
            self.timeout = 60
        if self.timeout <= 0:
            raise AtpOptionError('timeout must be a positive number of seconds, got %r.' % self.timeout)
        self.max_retries = params.get('max_retries')
        if self.max_retries is None:
            self.max_retries = 5
        if self.max_retries < 0:
            raise AtpOptionError('max_retries must be 0 or more, got %r.' % self.max_retries)
        self.max_retry_wait = params.get('max_retry_wait')
        if self.max_retry_wait is None:
            self.max_retry_wait = 300
        if self.max_retry_wait < 0:
            raise AtpOptionError('max_retry_wait must be 0 or more seconds, got %r.' % self.max_retry_wait)
        self.token_cache = params.get('token_cache', True)

    @property
    def verify(self):
        """The ``verify`` argument for requests."""
        if not self.validate_certs:
            return False
        return self.ca_path or True

    def base_url(self, api):
        return self.endpoints['graph_url'] if api == 'graph' else self.endpoints['api_url']

    def audience(self, api):
        return self.endpoints['graph_audience'] if api == 'graph' else self.endpoints['defender_audience']


# -- one connection: settings, authenticator and HTTP client, built on first use ---------------------------------

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
    counts as unset, see ``env_fallback``), then to its default. Values are converted to the
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

    ``warn`` receives warnings meant for the user (the caller adds its own prefix or channel); ``client_options`` go
    to the ``HttpClient`` (the EDA source's ``sleep``, which a stopping source interrupts).
    """

    def __init__(self, params, warn=None, **client_options):
        self.params = params
        self._warn = warn
        self._client_options = client_options
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
            self._client = HttpClient(self.settings, token_source=authenticator, **self._client_options)
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
