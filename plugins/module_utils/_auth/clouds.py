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
# api.security.microsoft.com host: a token for https://api.security.microsoft.com is a Defender XDR token and
# the MDE API answers it with 403 (mde-api.md "Facts added on review"; TheHive Cortex-Analyzers PR #1480).
# Government clouds: Microsoft documents the hosts only (defender-docs gov.md). Their token audiences below are
# UNCONFIRMED: they follow what third parties report (mde-api.md 1.2), and api_audience overrides them.
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
# API is one first-party app (WindowsDefenderATP) known under several URIs and its app id
# (mde-api.md 1.3 and "Facts added on review").
DEFENDER_AUDIENCE_ALIASES = (
    'https://api.securitycenter.microsoft.com',
    'https://api.securitycenter.windows.com',
    'https://securitycenter.onmicrosoft.com/windowsatpservice',
    'fc780465-2017-40d4-a0c5-307022471b92',  # the WindowsDefenderATP appId; seen in third-party scripts only
    # Government clouds, UNCONFIRMED by Microsoft: real clients use either the API host or the .us windowsatpservice
    # URI (mde-api.md 1.2 and "Facts added on review"), so a token for either passes the check.
    'https://api-gcc.securitycenter.microsoft.us',
    'https://api-gov.securitycenter.microsoft.us',
    'https://securitycenter.onmicrosoft.us/windowsatpservice',
)
# Audiences that are not the Defender for Endpoint API although they look like it, and why.
NOT_DEFENDER_AUDIENCES = {
    # mde-api.md "Facts added on review": the Defender XDR resource; MDE answers its tokens with 403
    # (TheHive Cortex-Analyzers PR #1480, tested on a tenant). Only its host is shared with MDE.
    'https://api.security.microsoft.com': 'the Microsoft Defender XDR resource, which the Defender for Endpoint API '
                                          'answers with 403 Forbidden',
}
GRAPH_AUDIENCE_ALIASES = (
    'https://graph.microsoft.com',
    'https://graph.microsoft.us',
    'https://dod-graph.microsoft.us',
    '00000003-0000-0000-c000-000000000000',
)


def accepted_audiences(api, configured):
    aliases = GRAPH_AUDIENCE_ALIASES if api == 'graph' else DEFENDER_AUDIENCE_ALIASES
    return (configured,) + tuple(a for a in aliases if a != configured)


def _audience_key(value):
    return str(value or '').strip().rstrip('/').lower()


def wrong_audience_reason(api, audience):
    """Why ``audience`` cannot be used for ``api`` although it looks right, or None."""
    if api == 'graph':
        return None
    return NOT_DEFENDER_AUDIENCES.get(_audience_key(audience))


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
    reason = wrong_audience_reason('defender', defender_audience)
    if reason:
        raise ValueError('api_audience %s is %s. Leave api_audience unset (cloud %s asks for %s), or give another '
                         'identifier of the WindowsDefenderATP app.'
                         % (defender_audience, reason, cloud, endpoints['defender_audience']))
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
