# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Cloud and region endpoints: the login host, API host and token audiences, picked together.

Getting one of these wrong yields tokens the API rejects with a 403 that looks like a permission
problem, so they are chosen as a set from ``cloud`` and only overridden explicitly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Sources: Microsoft "Defender for Endpoint for US Government customers" (API section) and
# "Supported Microsoft Defender for Endpoint APIs" (service base URI, geo hosts).
# The token audience stays api.securitycenter.microsoft.com even when calling the
# api.security.microsoft.com host: tokens for other identifiers are refused with 403.
CLOUDS = {
    'commercial': {
        'login_url': 'https://login.microsoftonline.com',
        'api_url': 'https://api.security.microsoft.com',
        'graph_url': 'https://graph.microsoft.com',
        'defender_audience': 'https://api.securitycenter.microsoft.com',
        'graph_audience': 'https://graph.microsoft.com',
    },
    'gcc': {
        'login_url': 'https://login.microsoftonline.com',
        'api_url': 'https://api-gcc.securitycenter.microsoft.us',
        'graph_url': 'https://graph.microsoft.com',
        'defender_audience': 'https://api-gcc.securitycenter.microsoft.us',
        'graph_audience': 'https://graph.microsoft.com',
    },
    'gcc_high': {
        'login_url': 'https://login.microsoftonline.us',
        'api_url': 'https://api-gov.securitycenter.microsoft.us',
        'graph_url': 'https://graph.microsoft.us',
        'defender_audience': 'https://api-gov.securitycenter.microsoft.us',
        'graph_audience': 'https://graph.microsoft.us',
    },
    'dod': {
        'login_url': 'https://login.microsoftonline.us',
        'api_url': 'https://api-gov.securitycenter.microsoft.us',
        'graph_url': 'https://dod-graph.microsoft.us',
        'defender_audience': 'https://api-gov.securitycenter.microsoft.us',
        'graph_audience': 'https://dod-graph.microsoft.us',
    },
}

# Geo-local API hosts of the commercial cloud ("Improve request performance").
REGIONS = ('us', 'eu', 'uk', 'au', 'swa', 'ina', 'aea')

# Audiences of the two APIs a module can talk to.
APIS = ('defender', 'graph')

# Identifiers the services accept in a token's ``aud``, besides the configured one. The Defender
# API is one first-party app (WindowsDefenderATP) known under several URIs and its app id.
DEFENDER_AUDIENCE_ALIASES = (
    'https://api.securitycenter.microsoft.com',
    'https://api.securitycenter.windows.com',
    'https://securitycenter.onmicrosoft.com/windowsatpservice',
    'https://api.security.microsoft.com',
    'fc780465-2017-40d4-a0c5-307022471b92',
    'https://api-gcc.securitycenter.microsoft.us',
    'https://api-gov.securitycenter.microsoft.us',
)
GRAPH_AUDIENCE_ALIASES = (
    'https://graph.microsoft.com',
    'https://graph.microsoft.us',
    'https://dod-graph.microsoft.us',
    '00000003-0000-0000-c000-000000000000',
)


def accepted_audiences(api, configured):
    aliases = GRAPH_AUDIENCE_ALIASES if api == 'graph' else DEFENDER_AUDIENCE_ALIASES
    return (configured,) + tuple(a for a in aliases if a != configured)


def region_api_url(region):
    return 'https://%s.api.security.microsoft.com' % region


def resolve_endpoints(cloud='commercial', region=None, api_url=None, login_url=None, graph_url=None,
                      defender_audience=None, graph_audience=None):
    """Return the endpoint set for a cloud, with a geo host and explicit overrides applied.

    Raises ValueError with a user-facing message on an unknown cloud or a region outside the
    commercial cloud; URL syntax is checked by the connection options.
    """
    if cloud not in CLOUDS:
        raise ValueError('cloud must be one of %s, got %r' % (', '.join(sorted(CLOUDS)), cloud))
    endpoints = dict(CLOUDS[cloud])
    if region:
        if region not in REGIONS:
            raise ValueError('region must be one of %s, got %r' % (', '.join(REGIONS), region))
        if cloud != 'commercial':
            raise ValueError('region %r only applies to the commercial cloud; the %s cloud has a single API host. '
                             'Remove region, or set api_url explicitly.' % (region, cloud))
        endpoints['api_url'] = region_api_url(region)
    overrides = dict(api_url=api_url, login_url=login_url, graph_url=graph_url,
                     defender_audience=defender_audience, graph_audience=graph_audience)
    for key, value in overrides.items():
        if value:
            endpoints[key] = value
    for key in ('api_url', 'login_url', 'graph_url'):
        endpoints[key] = normalize_base_url(endpoints[key], strip_suffixes=('/api',) if key == 'api_url' else ('/v1.0',) if key == 'graph_url' else ())
    return endpoints


def normalize_base_url(url, strip_suffixes=()):
    """Drop trailing slashes and a trailing API path segment users often paste (``.../api``)."""
    url = url.strip().rstrip('/')
    for suffix in strip_suffixes:
        if url.lower().endswith(suffix):
            url = url[:-len(suffix)]
    return url
