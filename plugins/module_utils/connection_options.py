# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The connection and authentication options every plugin accepts, and their validation.

The argument spec lives here once; ``plugins/doc_fragments/connection.py`` documents it once.
Validation happens before any request, so a bad option never costs a network round trip.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible.module_utils.basic import AnsibleFallbackNotFound
from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.defender.atp.plugins.module_utils.clouds import CLOUDS, REGIONS, resolve_endpoints
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError


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

CONNECTION_OPTION_NAMES = tuple(CONNECTION_ARGSPEC)


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


def _check_url(name, value):
    example = 'an absolute http(s) URL such as https://api.security.microsoft.com'
    if any(char.isspace() for char in value.strip()):
        raise AtpOptionError('%s must be %s, without spaces; got %r.' % (name, example, value))
    try:
        parsed = urlparse(value.strip())
        parsed.port  # pylint: disable=pointless-statement  # raises ValueError for a port out of range
    except ValueError as exc:
        raise AtpOptionError('%s must be %s; %r cannot be parsed (%s).' % (name, example, value, exc))
    if parsed.scheme not in ('https', 'http') or not parsed.netloc:
        raise AtpOptionError('%s must be %s, got %r.' % (name, example, value))
    if parsed.username is not None or parsed.password is not None:
        raise AtpOptionError('%s must not contain a user name or password (user:password@host), got a URL for host %r.'
                             % (name, parsed.hostname))
    if not _valid_host(parsed.hostname):
        raise AtpOptionError('%s has an invalid host name %r; it must be %s.' % (name, parsed.hostname, example))
    if parsed.query or parsed.fragment:
        raise AtpOptionError('%s must not contain a query string or fragment, got %r.' % (name, value))


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
        _check_tenant(params.get('tenant_id'))
        for name in ('api_url', 'login_url', 'graph_url'):
            if params.get(name):
                _check_url(name, params[name])
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
