# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Choosing the authentication method and getting a usable token for an API.

``auth_method: auto`` picks the method from the options given and says which; an ambiguous or
incomplete set is an error naming what is missing. Tokens are reused while valid (in memory, then
from the encrypted token cache) and renewed once when the API rejects them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from ansible_collections.defender.atp.plugins.module_utils._auth import claims as claims_util
from ansible_collections.defender.atp.plugins.module_utils._auth.access_token import AccessTokenAuth
from ansible_collections.defender.atp.plugins.module_utils._auth.certificate import CertificateAuth
from ansible_collections.defender.atp.plugins.module_utils._auth.client_secret import ClientSecretAuth
from ansible_collections.defender.atp.plugins.module_utils._auth.password import PasswordAuth
from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import accepted_audiences
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpAuthError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._auth.token_cache import TokenCache, identity_label

METHODS = dict((cls.NAME, cls) for cls in (ClientSecretAuth, CertificateAuth, PasswordAuth, AccessTokenAuth))
CREDENTIAL_METHODS = ('client_secret', 'certificate', 'password')
# Renew a token this long before it expires, but never more than a tenth of its life.
EXPIRY_MARGIN = 300


def _describe(cls):
    return '%s (%s)' % (cls.NAME, ', '.join(cls.REQUIRED))


def select_methods(params):
    """Return ``(method_class, fallback_class)`` for the options given, or raise AtpOptionError.

    The fallback is a credential method that replaces an expired or rejected ``access_token``.
    """
    requested = params.get('auth_method') or 'auto'
    complete = [METHODS[name] for name in CREDENTIAL_METHODS if METHODS[name].complete(params)]

    def single_fallback():
        if len(complete) > 1:
            raise AtpOptionError('access_token is given together with credentials for several methods (%s); keep one set of '
                                 'credentials for renewing the token, or set auth_method.' % ', '.join(c.NAME for c in complete))
        return complete[0] if complete else None

    if requested != 'auto':
        if requested not in METHODS:
            raise AtpOptionError('auth_method must be one of auto, %s; got %r.' % (', '.join(sorted(METHODS)), requested))
        cls = METHODS[requested]
        missing = cls.missing(params)
        if missing:
            raise AtpOptionError('auth_method=%s needs %s; missing: %s.' % (requested, ', '.join(cls.REQUIRED), ', '.join(missing)))
        return cls, (single_fallback() if cls is AccessTokenAuth else None)

    if params.get('access_token'):
        return AccessTokenAuth, single_fallback()
    if len(complete) == 1:
        return complete[0], None
    if len(complete) > 1:
        raise AtpOptionError('Ambiguous credentials: options for %s are all given. Set auth_method to the one to use, or remove '
                             'the others (environment variables such as AZURE_CLIENT_SECRET count too).'
                             % ' and '.join(_describe(c) for c in complete))
    signalled = [METHODS[name] for name in CREDENTIAL_METHODS if METHODS[name].signalled(params)]
    if len(signalled) == 1:
        cls = signalled[0]
        raise AtpOptionError('Incomplete credentials for %s authentication: missing %s.' % (cls.NAME, ', '.join(cls.missing(params))))
    if signalled:
        raise AtpOptionError('Incomplete credentials: %s. Complete one method or set auth_method.'
                             % '; '.join('%s is missing %s' % (c.NAME, ', '.join(c.missing(params))) for c in signalled))
    missing = [name for name in ('tenant_id', 'client_id') if not params.get(name)]
    raise AtpOptionError('No credentials given: %s no client_secret, certificate_path or username/password, and no access_token. '
                         'Give tenant_id and client_id with one of them (as options, module_defaults or AZURE_* environment '
                         'variables), or an access_token.' % ('missing %s, and' % ', '.join(missing) if missing else 'there is'))


class Authenticator(object):
    """Hands out tokens per API (``defender`` or ``graph``) for one plugin run."""

    def __init__(self, settings, http=None, cache=None, clock=time.time, warn=None):
        self.settings = settings
        self.params = dict(settings.auth_params)
        self.clock = clock
        method_cls, fallback_cls = select_methods(self.params)
        self.method = method_cls(self.params)
        self.fallback = fallback_cls(self.params) if fallback_cls else None
        self.method.validate()
        if self.fallback:
            self.fallback.validate()
        self.http = http
        self.cache = cache if cache is not None else (TokenCache(warn=warn) if settings.token_cache else None)
        self._tokens = {}
        self._given_rejected = set()
        self._warn = warn
        # Why the given access_token was set aside for an API (claims that do not fit, or the API's 401), once said.
        self.replacements = {}
        self.sources = {}
        # Concurrent requests (atp_machine_isolate's workers) share one token: one of them renews it, the others wait.
        self._lock = threading.RLock()

    @property
    def name(self):
        return self.method.NAME

    def attach(self, http):
        self.http = http
        return self

    @property
    def token_url(self):
        return '%s/%s/oauth2/v2.0/token' % (self.settings.endpoints['login_url'], self.params['tenant_id'])

    # -- the token-source interface used by HttpClient --------------------------------------

    def token(self, api):
        return self.token_info(api)['access_token']

    def can_refresh(self, api):
        return self.method.CAN_ACQUIRE or self.fallback is not None

    def invalidate(self, api):
        """Forget the token for ``api`` after the API rejected it, so the next call gets a new one."""
        with self._lock:
            info = self._tokens.pop(api, None)
            if info and info['source'] == 'given':
                self._given_rejected.add(api)
            acquirer = self._acquirer()
            if acquirer and self.cache:
                self.cache.drop(self.cache_identity(acquirer, api))

    def granted(self, api):
        info = self._tokens.get(api)
        return claims_util.granted_permissions(info['claims']) if info else None

    # -- token acquisition ------------------------------------------------------------------

    def cache_identity(self, acquirer, api):
        """Who the token is for and who issued it: the token cache's key (never a secret).

        The authority and the API base are part of it, so a token issued by one login URL is never served for
        another (a test server, another cloud) that happens to see the same tenant and client ids.
        """
        return identity_label(method=acquirer.NAME, tenant=self.params.get('tenant_id'), client=self.params.get('client_id'),
                              user=self.params.get('username'), authority=self.settings.endpoints['login_url'],
                              api_base=self.settings.base_url(api), audience=self.settings.audience(api))

    def _acquirer(self):
        return self.method if self.method.CAN_ACQUIRE else self.fallback

    def _usable(self, info, margin=True):
        if not info:
            return False
        if not info.get('expires_on'):
            return True
        lifetime = max(0, info['expires_on'] - (info.get('issued_at') or info['expires_on']))
        slack = min(EXPIRY_MARGIN, lifetime / 10.0) if margin else 0
        return info['expires_on'] - slack > self.clock()

    def token_info(self, api, fresh=False):
        """Return a dict: access_token, token_type, expires_on, claims, source (given/cache/endpoint)."""
        with self._lock:
            info = self._tokens.get(api)
            if not fresh and self._usable(info):
                return info
            info = self._obtain(api, fresh)
            self._tokens[api] = info
            return info

    def given_token_info(self, api):
        """The given access_token as it is, never replaced (what ``atp_token`` inspects with auth_method access_token).

        Its claims are decoded, not checked: the caller checks them and reports what does not fit.
        """
        if self.method.NAME != 'access_token':
            raise AtpAuthError('internal error: no access_token was given to inspect')
        with self._lock:
            token = self.params['access_token']
            return self._info(token, claims_util.decode_claims(token), 'given')

    def _obtain(self, api, fresh):
        audiences = accepted_audiences(api, self.settings.audience(api))
        reason = None
        if self.method.NAME == 'access_token' and api not in self._given_rejected:
            token = self.params['access_token']
            claims = claims_util.decode_claims(token)
            problems = claims_util.check_claims(claims, expected_audiences=audiences, tenant_id=self.params.get('tenant_id'))
            if not problems:
                return self._info(token, claims, 'given')
            if not self.fallback:
                raise AtpAuthError('The access_token cannot be used for the %s API: %s. Get a token for this API (for example '
                                   'defender.atp.atp_token with api: %s), or also give credentials so a fresh token can be '
                                   'acquired.' % (api, '; '.join(problems), api))
            reason = 'it cannot be used for the %s API: %s' % (api, '; '.join(problems))
        elif self.method.NAME == 'access_token' and api not in self.replacements:
            reason = 'the %s API rejected it (HTTP 401: expired or revoked)' % api
        info = self._obtain_with_credentials(api, fresh)
        if reason is not None and api not in self.replacements:
            self.replacements[api] = reason
            if self._warn is not None:
                self._warn('The given access_token was replaced by a token of the %s credentials (%s), because %s.'
                           % (self._acquirer().NAME, 'from the token cache' if info['source'] == 'cache' else 'just issued',
                              reason))
        return info

    def _obtain_with_credentials(self, api, fresh):
        acquirer = self._acquirer()
        if acquirer is None:
            raise AtpAuthError('The %s API rejected the access_token (expired or revoked) and no credentials were given to get '
                               'a new one. Give client_id with client_secret, certificate_path or username/password.' % api)
        audience = self.settings.audience(api)
        if self.cache and not fresh:
            cached = self.cache.get(self.cache_identity(acquirer, api), acquirer.secret_material())
            if cached:
                token, _expires_on = cached
                claims = claims_util.decode_claims(token)
                info = self._info(token, claims, 'cache')
                if self._usable(info):
                    return info
        info = self._request_token(acquirer, api, audience)
        if self.cache:
            self.cache.put(self.cache_identity(acquirer, api), acquirer.secret_material(), info['access_token'], info['expires_on'])
        return info

    def _request_token(self, acquirer, api, audience):
        if self.http is None:
            raise AtpAuthError('internal error: no HTTP client attached to the authenticator')
        scope = audience.rstrip('/') + '/.default'
        form = acquirer.token_form(scope, self.token_url)
        what = 'Token request (%s) to %s' % (acquirer.NAME, self.token_url)
        self.http.stats.add(token_requests=1)
        try:
            body = self.http.json('POST', self.token_url, auth=False, form=form, idempotent=True, expected=(200,), what=what)
        except AtpApiError as exc:
            raise AtpAuthError(exc.message, **exc.details)
        if not isinstance(body, dict) or not body.get('access_token'):
            raise AtpAuthError('%s: the answer holds no access_token.' % what)
        token = body['access_token']
        claims = claims_util.decode_claims(token)
        info = self._info(token, claims, 'endpoint', body)
        return info

    def _info(self, token, claims, source, body=None):
        expires_on = claims_util.expires_on(claims)
        if expires_on is None and body:
            try:
                expires_on = int(float(body.get('expires_on') or 0)) or int(self.clock() + float(body.get('expires_in')))
            except (TypeError, ValueError):
                expires_on = None
        issued_at = claims.get('iat') or claims.get('nbf')
        self.sources[source] = self.sources.get(source, 0) + 1
        return dict(access_token=token, token_type=(body or {}).get('token_type') or 'Bearer', expires_on=expires_on,
                    issued_at=issued_at, claims=claims, source=source)
