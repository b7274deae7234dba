# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The one HTTP client every plugin uses: TLS, timeouts, retries, token refresh, paging, errors.

One ``requests.Session`` per plugin run keeps connections alive across pages and machines; a
worker thread gets its own (``for_worker()``), since requests does not promise that a Session is
thread-safe. Writes are never retried blindly: when a write may have been applied (timeout, dropped
connection, 5xx), ``AtpWriteOutcomeUnknown`` tells the caller to re-read state first.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module with missing_required_lib
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

from urllib.parse import urlparse

from ansible_collections.defender.atp.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpApiError, AtpTransportError, AtpWriteOutcomeUnknown)
from ansible_collections.defender.atp.plugins.module_utils._http.ids import check_request_path
from ansible_collections.defender.atp.plugins.module_utils._http.retry import (
    RETRYABLE_STATUSES, RetryPolicy, parse_retry_after)

USER_AGENT = 'defender.atp-ansible-collection/%s' % COLLECTION_VERSION
MAX_PAGE_SIZE = 10000
IDEMPOTENT_METHODS = ('GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE')


class HttpStats(object):
    """Counters a run reports (``http_stats``): what it cost, how often it was throttled."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = 0
        self.token_requests = 0
        self.retries = 0
        self.throttled = 0
        self.waited_seconds = 0.0

    def add(self, **counts):
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self):
        return dict(requests=self.requests, token_requests=self.token_requests, retries=self.retries,
                    throttled=self.throttled, waited_seconds=round(self.waited_seconds, 3))


class HttpClient(object):
    """HTTP transport bound to validated ``ConnectionSettings``.

    ``token_source`` is an object with ``token(api)``, ``invalidate(api)``, ``can_refresh(api)`` and
    ``claims(api)`` (the Authenticator); it may be set after construction, because the
    authenticator itself uses this client to reach the token endpoint.
    """

    def __init__(self, settings, token_source=None, sleep=time.sleep, rng=None, stats=None, policy=None):
        if not HAS_REQUESTS:
            raise AtpTransportError('The Python library requests is required: %s' % REQUESTS_IMPORT_ERROR)
        self.settings = settings
        self.token_source = token_source
        self.sleep = sleep
        self.stats = stats if stats is not None else HttpStats()
        self.policy = policy or RetryPolicy(max_retries=settings.max_retries, max_wait=settings.max_retry_wait, rng=rng)
        self.session = requests.Session()
        self.session.verify = settings.verify
        self.session.headers.update({'Accept': 'application/json', 'User-Agent': USER_AGENT})
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=4)
        self.session.mount('https://', adapter)
        self.session.mount('http://', adapter)

    def for_worker(self):
        """A client for one worker thread: its own ``requests.Session`` (and connection pool), the same settings,
        token source (tokens are shared and renewed once for all) and counters (``http_stats`` counts every worker)."""
        return HttpClient(self.settings, token_source=self.token_source, sleep=self.sleep, stats=self.stats,
                          policy=self.policy)

    # -- URLs ---------------------------------------------------------------------------------

    def url(self, api, path):
        if path.startswith('https://') or path.startswith('http://'):
            return path
        # Ids from the API or the options end up in paths: nothing that could change the endpoint passes.
        check_request_path('/' + path.lstrip('/'))
        return self.settings.base_url(api) + '/' + path.lstrip('/')

    def _check_token_destination(self, url, api, what):
        """Send the bearer token only to the configured base of ``api`` (an absolute URL from API data, such as
        a download link, must not collect it), so only over https or to a loopback host the options allowed."""
        base = urlparse(self.settings.base_url(api))
        target = urlparse(url)
        if (target.scheme.lower(), (target.netloc or '').lower()) != (base.scheme.lower(), base.netloc.lower()):
            raise AtpTransportError('%s: refusing to send the access token to %s, which is not the configured %s base %s.'
                                    % (what, _origin(url), api, _origin(self.settings.base_url(api))))

    # -- requests -----------------------------------------------------------------------------

    def request(self, method, path, api='defender', params=None, json_body=None, form=None, auth=True,
                idempotent=None, expected=(200, 201, 204), what=None, timeout=None, basic_auth=None, stream=False,
                pacer=None):
        """Send one request with retries; return the ``requests.Response`` of an expected status.

        ``pacer`` (``_http/pacing.Pacer``), for requests of a rate-limited family sent by several workers: it
        sees every answer (``observe``, to learn the quota) and every retry wait goes through it (``sleep``: all
        workers pause together). Only this request is paced: token requests and other reads keep the client's own
        waits, so they never count against the family's quota.

        ``idempotent`` defaults to True for GET-like methods. A non-idempotent request is retried only
        where the server certainly did not act on it (429, a connection that never opened).
        ``stream=True`` returns before the body of a successful answer is read (``iter_content``), so a
        large body need not be held in memory; the caller must close the response.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = self.url(api, path)
        what = what or '%s %s' % (method, _path_of(url))
        sleep = pacer.sleep if pacer is not None else self.sleep
        if auth:
            self._check_token_destination(url, api, what)
        attempt = 0
        waited = 0.0
        refreshed = False
        while True:
            headers = {}
            if auth:
                headers['Authorization'] = 'Bearer ' + self.token_source.token(api)
            self.stats.add(requests=1)
            sent_at = time.time()
            try:
                response = self.session.request(
                    method, url, params=params, json=json_body, data=form, headers=headers, auth=basic_auth,
                    timeout=timeout or self.settings.timeout, allow_redirects=False, stream=stream,
                    # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override session.verify, losing ca_path.
                    verify=self.session.verify)
            except requests.exceptions.SSLError as exc:
                raise AtpTransportError(_tls_message(what, url, exc), url=_origin(url))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                never_sent = _never_sent(exc)
                reason = _transport_reason(exc, timeout or self.settings.timeout)
                if not idempotent and not never_sent:
                    # timed_out: the server got the request and may still be working on it (callers wait longer).
                    raise AtpWriteOutcomeUnknown(
                        '%s: %s; the request may or may not have been applied.' % (what, reason), url=_origin(url),
                        timed_out=isinstance(exc, requests.exceptions.ReadTimeout) or None)
                delay = self.policy.delay(attempt + 1)
                if self.policy.allows(attempt + 1, delay, waited):
                    attempt += 1
                    waited += delay
                    self.stats.add(retries=1, waited_seconds=delay)
                    sleep(delay)
                    continue
                raise AtpTransportError('%s failed after %d attempt(s): %s. Check the URL, proxy settings and network, '
                                        'or raise timeout/max_retries.' % (what, attempt + 1, reason), url=_origin(url))

            status = response.status_code
            if pacer is not None:
                pacer.observe(method, url, response, sent_at=sent_at)
            if status == 401 and auth and not refreshed and self.token_source.can_refresh(api):
                # An expired or revoked token: get a fresh one once, then retry immediately.
                refreshed = True
                self.token_source.invalidate(api)
                continue
            if status in RETRYABLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get('Retry-After'))
                if status != 429 and not idempotent:
                    raise AtpWriteOutcomeUnknown(
                        '%s: HTTP %d; the request may or may not have been applied.' % (what, status),
                        status=status, url=_origin(url))
                delay = self.policy.delay(attempt + 1, retry_after)
                if self.policy.allows(attempt + 1, delay, waited):
                    attempt += 1
                    waited += delay
                    self.stats.add(retries=1, waited_seconds=delay, throttled=1 if status == 429 else 0)
                    response.close()
                    sleep(delay)
                    continue
                raise self._error(what, response, api, attempts=attempt + 1, retry_after=retry_after, waited=waited)
            if status in expected:
                return response
            raise self._error(what, response, api)

    def json(self, method, path, **kwargs):
        """Send a request and return the decoded JSON body (None for an empty body)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AtpApiError('%s: HTTP %d with a body that is not JSON (%s...)'
                              % (kwargs.get('what') or '%s %s' % (method.upper(), path), response.status_code,
                                 response.text[:120].replace('\n', ' ')), status=response.status_code)

    def get(self, path, **kwargs):
        return self.json('GET', path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.json('POST', path, json_body=body, **kwargs)

    # -- paging -------------------------------------------------------------------------------

    def iter_pages(self, path, params=None, api='defender', page_size=MAX_PAGE_SIZE, limit=None, key_field='id'):
        """Yield lists of items, paging with ``$top``/``$skip`` ourselves.

        ``@odata.nextLink`` is ignored: it is missing with ``$top`` and has been seen to mangle the
        query. Paging stops on a short page or at ``limit`` (one extra item is asked for so the
        caller can tell whether more existed; see ``list_all``). A server that ignores ``$skip``
        would loop forever, so a page identical to the previous one is an error.
        """
        page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        skip = 0
        fetched = 0
        previous_keys = None
        while True:
            top = page_size if limit is None else min(page_size, limit + 1 - fetched)
            if top <= 0:
                return
            query = dict(params or {})
            query['$top'] = top
            if skip:
                query['$skip'] = skip
            body = self.get(path, api=api, params=query)
            items = (body or {}).get('value')
            if items is None:
                items = []
            keys = [item.get(key_field) for item in items if isinstance(item, dict)]
            if items and previous_keys is not None and keys == previous_keys:
                raise AtpApiError('%s returned the same page twice while paging ($skip=%d); the server ignores $skip. '
                                  'Stopping to avoid an endless loop.' % (_path_of(self.url(api, path)), skip))
            previous_keys = keys
            fetched += len(items)
            skip += len(items)
            yield items
            if len(items) < top:
                return

    def list_all(self, path, params=None, api='defender', page_size=MAX_PAGE_SIZE, limit=None, key_field='id'):
        """Return ``(items, truncated)``: every item (or the first ``limit``), and whether more existed."""
        items = []
        for page in self.iter_pages(path, params=params, api=api, page_size=page_size, limit=limit, key_field=key_field):
            items.extend(page)
        truncated = limit is not None and len(items) > limit
        if truncated:
            del items[limit:]
        return items, truncated

    # -- errors -------------------------------------------------------------------------------

    def _error(self, what, response, api, **extra):
        granted = None
        if response.status_code == 403 and self.token_source is not None:
            granted = self.token_source.granted(api)
        # Imported here: only an error answer needs the messages (hints for every AADSTS code, status and shape).
        from ansible_collections.defender.atp.plugins.module_utils._http.messages import describe_http_error
        message, details = describe_http_error(what, response, granted_permissions=granted, **extra)
        return AtpApiError(message, **details)

    def close(self):
        self.session.close()


def _path_of(url):
    parsed = urlparse(url)
    return '%s://%s%s' % (parsed.scheme, _host_port(parsed), parsed.path)


def _origin(url):
    parsed = urlparse(url)
    return '%s://%s' % (parsed.scheme, _host_port(parsed))


def _host_port(parsed):
    """The netloc without any ``user:password@`` (never shown in a message)."""
    return parsed.netloc.rsplit('@', 1)[-1]


def _never_sent(exc):
    """True when the connection never opened, so the server cannot have acted on the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc)
    return any(marker in text for marker in ('NewConnectionError', 'Connection refused', 'Name or service not known',
                                             'nodename nor servname', 'Temporary failure in name resolution'))


def _transport_reason(exc, timeout):
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return 'could not connect within %s seconds' % timeout
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return 'no answer within %s seconds (timeout)' % timeout
    if isinstance(exc, requests.exceptions.ProxyError):
        return 'the proxy refused the connection (%s)' % _short(exc)
    text = _short(exc)
    if 'RemoteDisconnected' in text or 'Connection aborted' in text or 'reset by peer' in text:
        return 'the server closed the connection without answering'
    return 'connection failed (%s)' % text


def _tls_message(what, url, exc):
    return ('%s: TLS certificate verification failed for %s (%s). If a proxy or private endpoint uses its own CA, '
            'set ca_path to a PEM bundle of that CA; validate_certs: false disables the check (not recommended).'
            % (what, _origin(url), _short(exc)))


def _short(exc):
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + '...'
