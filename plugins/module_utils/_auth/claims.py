# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading and checking the claims of an Entra ID access token.

Defender answers a token with the wrong audience or too few roles with a bare 401/403; reading the
claims first turns that into "the token has roles [..]; this needs [..]" before anything runs.

A token is read without verifying it (the API verifies it; we only read): its three base64url parts are decoded
here, with the standard library, the header and the payload as JSON objects. PyJWT is imported only to verify a
signature (``verify_signature``, atp_token's option), so a task that reads its cached token never pays for it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import datetime
import importlib.util
import json
import re
import time

# PyJWT is a requirement of the modules (certificate assertions, signature checks); whether it is installed is
# checked without importing it.
HAS_JWT = importlib.util.find_spec('jwt') is not None
JWT_IMPORT_ERROR = None if HAS_JWT else ImportError('No module named jwt')

from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import NOT_DEFENDER_AUDIENCES
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpAuthError
from ansible_collections.defender.atp.plugins.module_utils._time import format_time

# Claims worth showing to a user; the token's other claims (oid, aio, uti...) add nothing to a check.
REPORTED_CLAIMS = ('aud', 'iss', 'tid', 'appid', 'azp', 'app_displayname', 'appidacr', 'idtyp', 'upn', 'unique_name',
                   'name', 'roles', 'scp', 'iat', 'nbf', 'exp', 'ver')


_BASE64URL_RE = re.compile(r'^[A-Za-z0-9_-]*={0,2}$')


def _segment(text, part):
    """One base64url part of a JWT (padding optional), decoded; ValueError naming the ``part`` otherwise."""
    if not _BASE64URL_RE.match(text):
        raise ValueError('its %s is not base64url' % part)
    text = text.rstrip('=')
    try:
        return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError('its %s is not base64url' % part)


def _json_object(data, part):
    try:
        value = json.loads(data.decode('utf-8'))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ValueError('its %s is not JSON' % part)
    if not isinstance(value, dict):
        raise ValueError('its %s is not a JSON object' % part)
    return value


def _decode(token):
    """``(header, claims)`` of a JWT, neither verified; ValueError when it is not a well-formed one."""
    header, payload, signature = token.split('.')
    header = _json_object(_segment(header, 'header'), 'header')
    claims = _json_object(_segment(payload, 'payload'), 'payload')
    _segment(signature, 'signature')
    return header, claims


def _unverified(token, failure):
    """``(header, claims)`` of ``token``, not verified; AtpAuthError (``failure``: why) when it is not a JWT."""
    if not isinstance(token, str) or token.count('.') != 2:
        raise AtpAuthError('The access token is not a JWT (expected three dot-separated parts). '
                           'Pass the raw token, without a "Bearer " prefix.')
    try:
        return _decode(token)
    except ValueError as exc:
        raise AtpAuthError('%s: %s' % (failure, exc))


def decode_claims(token):
    """Decode a JWT's payload without verifying it (the API verifies; we only read)."""
    return _unverified(token, 'The access token cannot be decoded')[1]


def token_header(token):
    return _unverified(token, 'The access token header cannot be decoded')[0]


def summarize(claims):
    """The claims a user needs to see which identity and permissions a token carries."""
    return dict((k, claims[k]) for k in REPORTED_CLAIMS if k in claims)


def permission_type(claims):
    """``delegated`` for user tokens (``scp``), ``application`` for app-only tokens (``roles``)."""
    return 'delegated' if claims.get('scp') else 'application'


def granted_permissions(claims):
    """Permissions the token carries: ``scp`` (space-separated) for users, else ``roles``."""
    if claims.get('scp'):
        return sorted(set(str(claims['scp']).split()))
    roles = claims.get('roles') or []
    if isinstance(roles, str):
        roles = roles.split()
    return sorted(set(roles))


def _satisfiers(required, delegated):
    """Permission names that grant ``required``.

    A ReadWrite permission covers its Read (``Alert.ReadWrite.All`` covers ``Alert.Read.All``), and a
    delegated token carries the delegated name, usually without ``.All`` (``Alert.Read``).
    """
    names = set([required])
    if '.Read.' in required or required.endswith('.Read'):
        names.add(required.replace('.Read.', '.ReadWrite.') if '.Read.' in required else required + 'Write')
    if delegated:
        for name in list(names):
            if name.endswith('.All'):
                names.add(name[:-len('.All')])
    return names


def missing_permissions(claims, required):
    """The required permissions the token does not grant, in the order they were asked for."""
    granted = set(p.lower() for p in granted_permissions(claims))
    delegated = permission_type(claims) == 'delegated'
    missing = []
    for perm in required or []:
        if not any(name.lower() in granted for name in _satisfiers(perm, delegated)):
            missing.append(perm)
    return missing


def audience_matches(claims, expected_audiences):
    aud = claims.get('aud')
    auds = aud if isinstance(aud, list) else [aud]
    expected = set(a.rstrip('/').lower() for a in expected_audiences if a)
    return any(a and a.rstrip('/').lower() in expected for a in auds)


def expires_on(claims):
    try:
        return int(claims.get('exp'))
    except (TypeError, ValueError):
        return None


def is_expired(claims, margin=0, now=None):
    exp = expires_on(claims)
    if exp is None:
        return False
    return exp - margin <= (time.time() if now is None else now)


def check_claims(claims, expected_audiences=None, tenant_id=None, required=None, now=None):
    """Return a list of problems (strings) found in the claims; an empty list means the token is usable."""
    problems = []
    if expected_audiences and not audience_matches(claims, expected_audiences):
        # The first expected audience is the configured one; the others are accepted aliases.
        wanted = list(expected_audiences)[0]
        reason = _wrong_audience_reason(claims.get('aud'))
        if reason:
            problems.append('audience: the token is for %r, %s; ask for a token for %r instead (scope %s/.default)'
                            % (claims.get('aud'), reason, wanted, wanted.rstrip('/')))
        else:
            problems.append('audience: the token is for %r, but this API needs %r (check cloud, api and where the token '
                            'came from)' % (claims.get('aud'), wanted))
    if tenant_id and _looks_like_guid(tenant_id) and claims.get('tid') and claims['tid'].lower() != tenant_id.lower():
        problems.append('tenant: the token belongs to tenant %s, not %s' % (claims.get('tid'), tenant_id))
    if is_expired(claims, now=now):
        expired = datetime.datetime.fromtimestamp(expires_on(claims), datetime.timezone.utc)
        problems.append('expiry: the token expired at %s' % format_time(expired, fraction=False))
    missing = missing_permissions(claims, required)
    if missing:
        problems.append('permissions: missing %s (the token grants %s)'
                        % (', '.join(missing), ', '.join(granted_permissions(claims)) or 'none'))
    return problems


def _wrong_audience_reason(aud):
    for value in (aud if isinstance(aud, list) else [aud]):
        reason = NOT_DEFENDER_AUDIENCES.get(str(value or '').strip().rstrip('/').lower())
        if reason:
            return reason
    return None


def _looks_like_guid(value):
    parts = str(value).split('-')
    return [len(p) for p in parts] == [8, 4, 4, 4, 12]


# Entra ID signs access tokens with RS256. The algorithm is never taken from the token itself: a forged header
# naming HS256 or none must not choose how the token is checked.
SIGNATURE_ALGORITHMS = ('RS256',)


def verify_signature(token, jwks, audiences=None, issuer=None):
    """Verify a token's RS256 signature against a JWKS document (dict with ``keys``)."""
    header = token_header(token)
    if 'nonce' in header:
        # Microsoft Graph access tokens carry a nonce in the header and are signed over a transformed header, so no one
        # but Graph can verify them (entra-docs access-tokens.md; AzureAD identitymodel-extensions #609). A genuine
        # token would fail the check; say so rather than call it forged.
        raise AtpAuthError('signature: the token has a nonce in its header, as Microsoft Graph access tokens do; such tokens '
                           'can only be verified by the service they were issued for, so verify_signature cannot check '
                           'it (this does not mean it is forged). Verify Defender API tokens only.')
    algorithm = header.get('alg')
    if algorithm not in SIGNATURE_ALGORITHMS:
        raise AtpAuthError('signature: the token says it is signed with %r; Entra ID access tokens are signed with %s, so it '
                           'was not issued by this authority' % (algorithm, ' or '.join(SIGNATURE_ALGORITHMS)))
    kid = header.get('kid') or header.get('x5t')
    keys = [k for k in jwks.get('keys', []) if k.get('kid') == kid or k.get('x5t') == kid]
    if not keys:
        raise AtpAuthError('signature: no signing key %r in the authority\'s JWKS; the token was not issued by this authority' % kid)
    try:
        import jwt  # only a signature check needs PyJWT (and its cryptography)
    except ImportError as exc:
        raise AtpAuthError('signature: PyJWT with cryptography (pyjwt[crypto]) is required to verify a signature: %s' % exc)
    try:
        key = jwt.PyJWK.from_dict(keys[0]).key
        jwt.decode(token, key=key, algorithms=list(SIGNATURE_ALGORITHMS),
                   options={'verify_aud': False, 'verify_exp': False, 'verify_iat': False, 'verify_nbf': False})
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise AtpAuthError('signature: the token signature is invalid (%s)' % exc)
