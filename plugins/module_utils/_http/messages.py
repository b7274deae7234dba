# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Turning HTTP error answers into one readable message: what failed, the status, why, what to do.

Three error shapes reach us: Entra ID (``error`` + ``error_description`` with an AADSTS code),
Defender (``{"error": {"code", "message", "target"}}``) and Graph (the same plus ``innerError``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

AADSTS_HINTS = {
    7000215: 'check client_secret: use the secret\'s Value (not its Secret ID) and make sure it has not expired',
    7000222: 'the client secret has expired: create a new one in the app registration',
    7000218: 'this app is confidential: give client_secret or certificate_path',
    700016: 'check client_id and tenant_id: the application is not registered (or not consented) in this tenant',
    90002: 'check tenant_id (the directory GUID or a verified domain such as contoso.onmicrosoft.com) and the cloud',
    50126: 'check username and password',
    50034: 'check username: no such user in this tenant',
    50053: 'the account is locked; wait or ask an administrator',
    50055: 'the password has expired; change it',
    50057: 'the user account is disabled',
    50076: ('the user must use multi-factor authentication, which the password grant cannot do: '
            'use an application (client secret or certificate)'),
    50079: 'the user must register for multi-factor authentication, which the password grant cannot do: use an application',
    65001: 'the permissions have not been consented: grant admin consent in the app registration\'s API permissions',
    700025: 'this is a public client: do not send client_secret with username/password',
    700027: ('the certificate is not registered on the application, or the client assertion is malformed: '
             'upload the certificate\'s public part under Certificates & secrets'),
    700024: 'the client assertion is outside its validity window: check this host\'s clock',
    500011: 'the Defender (or Graph) service principal is not in this tenant, or the wrong cloud is selected: check cloud and api_audience/graph_audience',
    901002: 'the v2.0 token endpoint does not accept resource=',
    70011: 'the scope is invalid: check api_audience/graph_audience',
    53003: 'a Conditional Access policy blocked the sign-in',
}

_REQUIRED_ROLES_RE = re.compile(r'API required roles:\s*(.*?)(?:,\s*application roles|,\s*delegated|\.?\s*$)', re.IGNORECASE)
_AADSTS_RE = re.compile(r'AADSTS(\d+)')


def _first_line(text):
    return (text or '').strip().splitlines()[0].strip() if (text or '').strip() else ''


def parse_error_body(response):
    """Return a dict with ``code``, ``message``, ``aadsts``, ``trace_id``/``target`` from any error shape."""
    info = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get('error'), dict):
        err = body['error']
        info['code'] = err.get('code')
        info['message'] = err.get('message')
        info['target'] = err.get('target')
        inner = err.get('innerError') or err.get('innererror')
        if isinstance(inner, dict):
            info['request_id'] = inner.get('request-id')
    elif isinstance(body, dict) and isinstance(body.get('error'), str):
        info['code'] = body['error']
        description = body.get('error_description') or ''
        info['message'] = _first_line(description)
        codes = body.get('error_codes') or []
        match = _AADSTS_RE.search(description)
        if codes:
            info['aadsts'] = int(codes[0])
        elif match:
            info['aadsts'] = int(match.group(1))
        info['trace_id'] = body.get('trace_id')
        info['correlation_id'] = body.get('correlation_id')
    else:
        text = re.sub(r'<[^>]+>', ' ', response.text or '')
        text = ' '.join(text.split())
        info['message'] = text[:200] if text else None
    return info


def required_roles(message):
    """Permission names from Defender's "Missing application roles. API required roles: X, Y" message."""
    match = _REQUIRED_ROLES_RE.search(message or '')
    if not match:
        return []
    return [r.strip() for r in match.group(1).split(',') if r.strip() and ' ' not in r.strip()]


def describe_http_error(what, response, granted_permissions=None, attempts=None, retry_after=None, waited=None):
    """Return ``(message, details)`` for an error response."""
    status = response.status_code
    info = parse_error_body(response)
    code = info.get('code')
    api_message = info.get('message')
    reason = getattr(response, 'reason', '') or ''
    parts = ['%s: HTTP %d' % (what, status)]
    if code:
        parts.append(' %s' % code)
    elif reason:
        parts.append(' %s' % reason)
    if api_message:
        parts.append(': %s' % api_message.rstrip('.'))
    hint = _hint(status, code, api_message, info.get('aadsts'), granted_permissions, attempts, retry_after, waited)
    message = ''.join(parts) + '.'
    if hint:
        message += ' ' + hint[0].upper() + hint[1:] + '.'
    details = dict(status=status, code=code, api_message=api_message, aadsts=info.get('aadsts'),
                   trace_id=info.get('trace_id') or info.get('target') or info.get('request_id'),
                   missing_permissions=required_roles(api_message) if status == 403 else None)
    return message, details


def _hint(status, code, api_message, aadsts, granted, attempts, retry_after, waited):
    if aadsts is not None:
        hint = AADSTS_HINTS.get(aadsts)
        # A throttled or failing token endpoint (AADSTS90055, 90033, ...) gets the retry hints below.
        if hint or (status != 429 and status < 500):
            return hint
    text = (api_message or '').lower()
    if status == 401:
        return ('the API rejected the access token (expired, revoked, or issued for another tenant or audience); '
                'give credentials so a fresh token can be acquired, or check cloud and tenant_id')
    if status == 403:
        needed = required_roles(api_message)
        if needed:
            granted_text = ', '.join(granted) if granted else 'no permissions'
            return ('the token grants %s; grant %s to the application in Entra ID (API permissions, WindowsDefenderATP '
                    'or Microsoft Graph), give admin consent, then get a new token' % (granted_text, ' or '.join(needed)))
        if code in ('DisabledFeature',):
            return 'the feature is not enabled for this tenant (check the Defender portal\'s advanced features)'
        if code in ('DisallowedOperation',):
            return 'the operation is not allowed here; check the device group\'s automation level and your RBAC role'
        return ('the token is valid but not allowed to do this: check the application permissions, the token audience '
                '(cloud, api_audience) and, for user tokens, the user\'s Defender RBAC role and device groups')
    if status == 429:
        waited_text = ''
        if attempts:
            waited_text = 'still throttled after %d attempt(s) and %.0f s of waiting; ' % (attempts, waited or 0)
        return ('%sthe quota is per application and tenant and shared by every run using this app: raise max_retries or '
                'max_retry_wait, or run fewer requests in parallel%s'
                % (waited_text, ' (the server asked to wait %.0f s)' % retry_after if retry_after else ''))
    if status >= 500:
        if attempts:
            return 'the service kept failing after %d attempt(s); try again later or raise max_retries' % attempts
        return 'the service failed; try again later'
    if 'exceeded the allowed result size' in text:
        return 'narrow the query: project fewer columns, add take/limit, or use a shorter timespan'
    if 'node count limit' in text or 'maxnodecount' in text:
        return ('the $filter has more clauses than the API accepts in one request (ASP.NET OData counts 4 nodes a '
                'comparison, 1 an and/or, and refuses more than its MaxNodeCount, 100 by default): use fewer values')
    if code == 'ODataError':
        return 'the $filter is not valid for this API: check field names, quoting and operators'
    return None
