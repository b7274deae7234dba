# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared HTTP client over real HTTPS against the emulator: auth, retries, paging, errors."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import Authenticator
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, ConnectionSettings
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpApiError, AtpAuthError, AtpTransportError, AtpWriteOutcomeUnknown)
from ansible_collections.defender.atp.plugins.module_utils._http.client import HttpClient


def make_client(conn, sleeps=None, **overrides):
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(conn)
    params.update(overrides)
    settings = ConnectionSettings(params)
    auth = Authenticator(settings)
    recorded = sleeps if sleeps is not None else []
    client = HttpClient(settings, token_source=auth, sleep=recorded.append)
    auth.attach(client)
    return client


def paths(emulator, fragment):
    return [entry for entry in emulator.requests_log() if fragment in entry['path']]


@pytest.mark.parametrize('method', ['client_secret', 'certificate', 'encrypted_certificate', 'password'])
def test_each_auth_method_reaches_the_api(emulator, emu, conn, method):
    if method == 'certificate':
        conn = dict(conn, client_secret=None, certificate_path=emu['certificate_path'])
    elif method == 'encrypted_certificate':
        conn = dict(conn, client_secret=None, certificate_path=emu['encrypted_certificate_path'],
                    certificate_password=emu['certificate_password'])
    elif method == 'password':
        conn = dict(conn, client_secret=None, client_id=emu['public_client_id'], username=emu['username'], password=emu['password'])
    client = make_client(conn)
    body = client.get('/api/machines', params={'$top': 2})
    assert len(body['value']) == 2
    assert client.stats.token_requests == 1
    # The token is reused for the next call.
    client.get('/api/alerts', params={'$top': 1})
    assert client.stats.token_requests == 1
    assert len(paths(emulator, '/oauth2/')) == 1


def test_login_errors_are_auth_errors_with_the_aadsts_code(emu, conn):
    client = make_client(dict(conn, client_secret='wrong'))
    with pytest.raises(AtpAuthError) as caught:
        client.get('/api/machines')
    assert caught.value.details['aadsts'] == 7000215
    assert 'wrong' not in caught.value.message


def test_retry_after_is_honoured_on_429(emulator, conn):
    emulator.add_fault(path='^/api/alerts$', status=429, retry_after='3', times=2)
    sleeps = []
    client = make_client(conn, sleeps=sleeps)
    client.get('/api/alerts', params={'$top': 1})
    assert sleeps == [3.0, 3.0]
    assert client.stats.throttled == 2 and client.stats.retries == 2


def test_backoff_without_retry_after_on_5xx(emulator, conn):
    emulator.add_fault(path='^/api/alerts$', status=503, times=2)
    sleeps = []
    client = make_client(conn, sleeps=sleeps)
    client.get('/api/alerts', params={'$top': 1})
    assert len(sleeps) == 2 and all(0 < s <= 2 for s in sleeps)


def test_persistent_failure_gives_one_clear_message(emulator, conn):
    emulator.add_fault(path='^/api/machines$', status=502)
    client = make_client(conn, max_retries=2)
    with pytest.raises(AtpApiError) as caught:
        client.get('/api/machines')
    assert caught.value.status == 502
    assert 'after 3 attempt(s)' in caught.value.message
    assert len(paths(emulator, '/api/machines')) == 3


def test_max_retry_wait_stops_long_retry_after(emulator, conn):
    emulator.add_fault(path='^/api/alerts$', status=429, retry_after='120')
    sleeps = []
    client = make_client(conn, sleeps=sleeps, max_retry_wait=60)
    with pytest.raises(AtpApiError) as caught:
        client.get('/api/alerts')
    assert sleeps == [] and caught.value.status == 429
    assert 'max_retry_wait' in caught.value.message


def test_writes_are_not_blindly_retried_after_5xx(emulator, conn):
    emulator.add_fault(path='/isolate$', status=503, times=1)
    client = make_client(conn)
    machine = client.get('/api/machines', params={'$top': 1})['value'][0]
    with pytest.raises(AtpWriteOutcomeUnknown):
        client.post('/api/machines/%s/isolate' % machine['id'], {'Comment': 'test', 'IsolationType': 'Full'})
    assert len([e for e in paths(emulator, '/isolate') if e['method'] == 'POST']) == 1


def test_writes_are_retried_after_429(emulator, conn):
    emulator.add_fault(path='/isolate$', status=429, retry_after='1', times=1)
    client = make_client(conn)
    machine = client.get('/api/machines', params={'$top': 1})['value'][0]
    action = client.post('/api/machines/%s/isolate' % machine['id'], {'Comment': 'test', 'IsolationType': 'Full'})
    assert action['type'] == 'Isolate'


def test_dropped_connection_on_a_read_is_retried(emulator, conn):
    emulator.add_fault(path='^/api/machines$', drop=True, times=1)
    client = make_client(conn)
    assert client.get('/api/machines', params={'$top': 1})['value']
    assert client.stats.retries == 1


def test_slow_answer_times_out_then_succeeds(emulator, conn):
    emulator.add_fault(path='^/api/machines$', delay=3, times=1)
    client = make_client(conn, timeout=1)
    assert client.get('/api/machines', params={'$top': 1})['value']
    assert client.stats.retries == 1


def test_expired_token_is_renewed_once(emulator, conn):
    client = make_client(conn)
    client.get('/api/machines', params={'$top': 1})
    # Make the API reject the next call as if the token had expired.
    emulator.add_fault(path='^/api/alerts$', status=401, times=1)
    client.get('/api/alerts', params={'$top': 1})
    assert client.stats.token_requests == 2


def test_rejected_given_token_without_credentials_is_a_clear_error(emulator, conn):
    client = make_client(conn)
    token = client.token_source.token('defender')
    emulator.add_fault(path='^/api/alerts$', status=401)
    given = make_client(dict(conn, client_secret=None, access_token=token))
    with pytest.raises(AtpApiError) as caught:
        given.get('/api/alerts')
    assert caught.value.status == 401
    assert 'give credentials so a fresh token can be acquired' in caught.value.message
    # Exactly one attempt: without credentials there is nothing to renew the token with.
    assert len(paths(emulator, '/api/alerts')) == 1


def test_forbidden_names_the_missing_role(emu, conn):
    client = make_client(dict(conn, client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret']))
    with pytest.raises(AtpApiError) as caught:
        client.post('/api/advancedqueries/run', {'Query': 'DeviceInfo | take 1'})
    assert caught.value.status == 403
    assert 'AdvancedQuery.Read.All' in caught.value.message
    assert 'The token grants' in caught.value.message


def test_paging_with_top_and_skip(emulator, conn):
    client = make_client(conn)
    everything, truncated = client.list_all('/api/machines')
    assert not truncated and len(everything) >= 20
    paged, truncated = client.list_all('/api/machines', page_size=7)
    assert not truncated and [m['id'] for m in paged] == [m['id'] for m in everything]
    first, truncated = client.list_all('/api/machines', page_size=7, limit=10)
    assert truncated and [m['id'] for m in first] == [m['id'] for m in everything[:10]]
    exact, truncated = client.list_all('/api/machines', limit=len(everything))
    assert not truncated and len(exact) == len(everything)
    tops = [int(e['query']['$top']) for e in paths(emulator, '/api/machines')]
    assert max(tops) <= 10000


def test_tls_failure_names_ca_path(conn):
    # Without ca_path the emulator's private CA is unknown, as a TLS-inspecting proxy's would be.
    client = make_client(dict(conn, ca_path=None))
    with pytest.raises(AtpTransportError) as caught:
        client.get('/api/machines')
    assert 'ca_path' in caught.value.message and 'validate_certs' in caught.value.message


def test_connection_refused_is_retried_then_reported(conn):
    client = make_client(dict(conn, api_url='https://127.0.0.1:9', login_url='https://127.0.0.1:9'), max_retries=1)
    with pytest.raises(AtpTransportError) as caught:
        client.get('/api/machines', auth=False)
    assert 'failed after 2 attempt(s)' in caught.value.message


class RecordingPacer(object):
    def __init__(self):
        self.sleeps = []
        self.observed = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)

    def observe(self, method, url, response, sent_at=None):
        self.observed.append((method, response.status_code, sent_at is not None))


def test_a_worker_client_has_its_own_session_and_shares_tokens_and_counters(emulator, conn):
    client = make_client(conn)
    worker = client.for_worker()
    assert worker.session is not client.session
    assert worker.token_source is client.token_source and worker.stats is client.stats
    client.get('/api/machines', params={'$top': 1})
    worker.get('/api/machines', params={'$top': 1})
    assert client.stats.requests == 3 and client.stats.token_requests == 1  # two reads and one token for both
    worker.close()


def test_only_the_paced_request_waits_through_the_pacer(emulator, conn):
    """The pacer is an argument of the request, not a hook of the client: retries of a token request (or of any
    request sent without it) never pause the workers or count against the write quota."""
    emulator.add_fault(path='/oauth2/', status=429, retry_after='1', times=1)
    emulator.add_fault(path='^/api/machines$', method='GET', status=429, retry_after='2', times=1)
    own_sleeps = []
    pacer = RecordingPacer()
    client = make_client(conn, sleeps=own_sleeps)
    client.request('GET', '/api/machines', params={'$top': 1}, pacer=pacer)
    assert own_sleeps == [1.0]  # the token request's retry: the client's own wait
    assert pacer.sleeps == [2.0]  # the paced request's retry
    assert [(m, s) for m, s, _t in pacer.observed] == [('GET', 429), ('GET', 200)] and all(t for _m, _s, t in pacer.observed)


@pytest.mark.parametrize('url', ['https://collector.example.com/api/machines', 'http://127.0.0.1:1/api/machines'])
def test_the_token_goes_only_to_the_configured_api_base(emulator, conn, url):
    """An absolute URL (from API data, say) must not collect the bearer token: 0.1.0 sent it anywhere."""
    client = make_client(conn)
    before = len(emulator.requests_log())
    with pytest.raises(AtpTransportError, match='refusing to send the access token to'):
        client.get(url)
    # Refused before any request, even before asking for a token.
    assert len(emulator.requests_log()) == before
    assert client.stats.requests == 0
