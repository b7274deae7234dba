# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The investigation package link and its download, without HTTP: the quoted link of get-package-sas-uri.md, the
hosts a link may name, redirects checked hop by hop, the size cap and the deadline, no bearer token, and the file
(0600, atomic, never through a symlink)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import types

import pytest

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError
from ansible_collections.defender.atp.plugins.module_utils._http.download import (
    DownloadLimits, check_package_url, download_to, package_session, unwrap_link)
from ansible_collections.defender.atp.plugins.module_utils._machines.one_shot import OneShotSpec, package_link

API = 'https://api.security.microsoft.com'
ACTION_ID = 'b89eb834-4578-496c-8be0-03f004061435'
MID = 'a' * 40
# The form get-package-sas-uri.md prints: the link wrapped in literal quotes.
DOC_LINK = ('"https://userrequests-us.securitycenter.windows.com:443/safedownload/WDATP_Investigation_Package.zip'
            '?token=SECRET%2fbWGAZjn2"')
LIMITS = DownloadLimits(max_bytes=1024, deadline=30.0)


class Response(object):
    def __init__(self, status, chunks=(), headers=None):
        self.status_code = status
        self.chunks = list(chunks)
        self.headers = dict(headers or {})
        self.closed = False

    def iter_content(self, size):
        return iter(self.chunks)

    def close(self):
        self.closed = True


class Session(object):
    """Answers each URL from ``answers`` (a dict url -> Response), records what was asked."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        self.verify = True
        self.headers = {}

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        return self.answers[url]

    def close(self):
        pass


# -- the link ------------------------------------------------------------------------------------------------------------

def test_the_documented_quoted_link_is_unwrapped_once():
    assert unwrap_link(DOC_LINK) == DOC_LINK[1:-1]
    assert unwrap_link(' "https://x.blob.core.windows.net/p" ') == 'https://x.blob.core.windows.net/p'
    assert unwrap_link('https://x.blob.core.windows.net/p') == 'https://x.blob.core.windows.net/p'
    assert unwrap_link('""https://x/p""') == '"https://x/p"'  # one pair only: the rest is refused as no https link


class LinkClient(object):
    def __init__(self, value, api=API):
        self.value = value
        self.settings = types.SimpleNamespace(timeout=5, verify=True, base_url=lambda api_name: api)

    def get(self, path, **kwargs):
        return {'@odata.context': 'x#Edm.String', 'value': self.value}


def test_package_link_accepts_the_documented_form():
    assert package_link(LinkClient(DOC_LINK), ACTION_ID) == DOC_LINK[1:-1]


@pytest.mark.parametrize('value', ['"http://userrequests-us.securitycenter.windows.com/p"', '""', None, 42, '"https://"',
                                   'ftp://userrequests-us.securitycenter.windows.com/p'])
def test_package_link_without_an_https_link_is_refused(value):
    with pytest.raises(AtpError) as caught:
        package_link(LinkClient(value), ACTION_ID)
    assert 'no https link' in caught.value.message


@pytest.mark.parametrize('url', [
    'https://userrequests-us.securitycenter.windows.com:443/safedownload/p.zip?token=x',
    'https://userrequests-eu.securitycenter.windows.com/safedownload/p.zip',
    'https://wdatpstorage.blob.core.windows.net/packages/p.zip?sig=x',
    'https://api-us.securitycenter.microsoft.com/p.zip',
    'https://us.api.security.microsoft.com/p.zip',
    'https://userrequests.securitycenter.microsoft.us/p.zip',
    'https://store.blob.core.usgovcloudapi.net/p.zip',
    'https://API.Security.Microsoft.com/p.zip',  # the configured API host itself
])
def test_microsofts_hosts_and_the_api_host_are_allowed(url):
    check_package_url(url, API)


@pytest.mark.parametrize('url, shown', [
    ('https://evil.example/p.zip?sig=SECRET', "'evil.example'"),
    ('https://securitycenter.windows.com.evil.example/p.zip', "'securitycenter.windows.com.evil.example'"),
    ('https://evilsecuritycenter.windows.com/p.zip', "'evilsecuritycenter.windows.com'"),
    ('https://blob.core.windows.net/p.zip', "'blob.core.windows.net'"),  # a suffix needs a name before it
    ('https://x.blob.core.windows.net:8443/p.zip', "'x.blob.core.windows.net:8443'"),
    ('https://api.security.microsoft.com:8443/p.zip', "'api.security.microsoft.com:8443'"),
    ('https://127.0.0.1/p.zip', "'127.0.0.1'"),
])
def test_any_other_host_is_refused_naming_it_never_the_link(url, shown):
    with pytest.raises(AtpError) as caught:
        check_package_url(url, API)
    message = caught.value.message
    assert shown in message and 'SECRET' not in message and 'p.zip' not in message


@pytest.mark.parametrize('url', [
    'https://user:pw@x.blob.core.windows.net/p.zip',
    'https://x.blob.core.windows.net\\@evil.example/p.zip',
    'https://x.blob.core.windows.net /p.zip',
    'https://x.blob.core.windows.net\n.evil.example/p.zip',
])
def test_links_that_parsers_may_read_differently_are_refused(url):
    with pytest.raises(AtpError):
        check_package_url(url, API)


def test_a_hostile_host_name_is_shown_quoted_and_cut_short():
    with pytest.raises(AtpError) as caught:
        check_package_url('https://%s.example/p' % ('a\u202e' * 60), API)
    assert '\u202e' not in caught.value.message and '...' in caught.value.message


def test_the_emulators_own_host_is_the_api_host():
    check_package_url('https://127.0.0.1:45000/packages/x.zip', 'https://127.0.0.1:45000')
    with pytest.raises(AtpError):
        check_package_url('https://localhost:45000/packages/x.zip', 'https://127.0.0.1:45000')
    with pytest.raises(AtpError):
        check_package_url('https://127.0.0.1:45001/packages/x.zip', 'https://127.0.0.1:45000')


# -- the download -----------------------------------------------------------------------------------------------------

GOOD = 'https://store.blob.core.windows.net/p.zip?sig=SECRET'


def test_download_writes_a_0600_file_atomically(tmp_path):
    session = Session({GOOD: Response(200, [b'PK', b'\x03\x04data'], {'Content-Length': '8'})})
    path = download_to(session, GOOD, str(tmp_path), 'ws-1-x.zip', 5, API, LIMITS)
    assert open(path, 'rb').read() == b'PK\x03\x04data'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ['ws-1-x.zip']
    url, kwargs = session.calls[0]
    assert kwargs['stream'] is True and kwargs['allow_redirects'] is False and 'headers' not in kwargs


def test_the_file_is_never_written_through_a_symlink(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('keep me')
    dest = tmp_path / 'dest'
    dest.mkdir()
    os.symlink(str(victim), str(dest / 'ws-1-x.zip'))
    session = Session({GOOD: Response(200, [b'zip'])})
    path = download_to(session, GOOD, str(dest), 'ws-1-x.zip', 5, API, LIMITS)
    assert victim.read_text() == 'keep me'
    assert not os.path.islink(path) and open(path, 'rb').read() == b'zip'


def test_redirects_are_followed_only_to_allowed_hosts_hop_by_hop(tmp_path):
    second = 'https://other.blob.core.windows.net/p.zip?sig=2'
    session = Session({GOOD: Response(302, headers={'Location': second}), second: Response(200, [b'zip'])})
    path = download_to(session, GOOD, str(tmp_path), 'a.zip', 5, API, LIMITS)
    assert [call[0] for call in session.calls] == [GOOD, second] and open(path, 'rb').read() == b'zip'

    evil = 'https://evil.example/steal?sig=2'
    session = Session({GOOD: Response(307, headers={'Location': evil})})
    with pytest.raises(AtpError) as caught:
        download_to(session, GOOD, str(tmp_path), 'b.zip', 5, API, LIMITS)
    assert "'evil.example'" in caught.value.message and 'redirect' in caught.value.message
    assert [call[0] for call in session.calls] == [GOOD] and sorted(os.listdir(str(tmp_path))) == ['a.zip']


def test_a_redirect_loop_stops(tmp_path):
    session = Session({GOOD: Response(302, headers={'Location': GOOD})})
    with pytest.raises(AtpError) as caught:
        download_to(session, GOOD, str(tmp_path), 'a.zip', 5, API, LIMITS)
    assert 'redirect' in caught.value.message and len(session.calls) <= 6 and os.listdir(str(tmp_path)) == []


def test_a_redirect_without_a_location_is_an_error(tmp_path):
    session = Session({GOOD: Response(302)})
    with pytest.raises(AtpError):
        download_to(session, GOOD, str(tmp_path), 'a.zip', 5, API, LIMITS)


@pytest.mark.parametrize('response', [
    Response(200, [b'x' * 600, b'x' * 600]),  # no Content-Length: counted while streaming
    Response(200, [b'x' * 10], {'Content-Length': '4096'}),  # announced too large: refused before reading
])
def test_the_size_cap_stops_the_download_and_leaves_nothing(tmp_path, response):
    session = Session({GOOD: response})
    with pytest.raises(AtpError) as caught:
        download_to(session, GOOD, str(tmp_path), 'a.zip', 5, API, LIMITS)
    assert 'larger than' in caught.value.message and os.listdir(str(tmp_path)) == []
    assert response.closed


def test_the_deadline_stops_a_slow_download(tmp_path):
    ticks = iter([0.0, 0.0, 1.0, 40.0, 80.0])
    session = Session({GOOD: Response(200, [b'a', b'b', b'c'])})
    with pytest.raises(AtpError) as caught:
        download_to(session, GOOD, str(tmp_path), 'a.zip', 5, API, LIMITS, clock=lambda: next(ticks))
    assert '30 seconds' in caught.value.message and os.listdir(str(tmp_path)) == []


def test_the_read_timeout_never_outlasts_the_deadline(tmp_path):
    session = Session({GOOD: Response(200, [b'a'])})
    download_to(session, GOOD, str(tmp_path), 'a.zip', 60, API, DownloadLimits(max_bytes=10, deadline=7.0),
                clock=lambda: 0.0)
    assert session.calls[0][1]['timeout'] <= 7.0


def test_a_refused_first_link_sends_nothing(tmp_path):
    session = Session({})
    with pytest.raises(AtpError):
        download_to(session, 'https://evil.example/p.zip', str(tmp_path), 'a.zip', 5, API, LIMITS)
    assert session.calls == []


def test_the_download_session_never_carries_a_token():
    client = types.SimpleNamespace(settings=types.SimpleNamespace(verify='/ca.pem'))
    session = package_session(client)
    try:
        assert 'Authorization' not in session.headers and session.verify == '/ca.pem'
        prepared = session.prepare_request(__import__('requests').Request(
            'GET', GOOD, headers={'Authorization': 'Bearer leaked'}))
        assert 'Authorization' not in prepared.headers  # stripped, and no ~/.netrc credentials either
    finally:
        session.close()


def test_complete_names_the_refused_host_per_machine(tmp_path):
    session = Session({})
    spec = OneShotSpec('collect_investigation_package', 'c', dest=str(tmp_path), session_factory=lambda: session,
                       limits=LIMITS)
    action = {'id': ACTION_ID, 'type': 'CollectInvestigationPackage', 'status': 'Succeeded', 'machineId': MID}
    result = types.SimpleNamespace(action=action, machine={'id': MID, 'computerDnsName': 'ws-1'}, fields={}, error=None,
                                   warnings=[])
    spec.complete(LinkClient('"https://evil.example/p.zip?sig=SECRET"'), [result])
    assert "'evil.example'" in result.error and 'SECRET' not in result.error and session.calls == []
    assert 'package_path' not in result.fields


class Broken(Response):
    def iter_content(self, size):
        yield b'PK'
        import requests
        raise requests.exceptions.ChunkedEncodingError('broken')


@pytest.mark.parametrize('response, fragment', [
    (Response(403), 'HTTP 403 (the link may have expired)'),
    (Response(500), 'HTTP 500'),
    (Broken(200), 'broke off'),
])
def test_a_failed_download_leaves_no_file_and_never_shows_the_link(tmp_path, response, fragment):
    with pytest.raises(AtpError) as caught:
        download_to(Session({GOOD: response}), GOOD, str(tmp_path), 'ws.zip', 5, API, LIMITS)
    assert fragment in caught.value.message
    assert 'SECRET' not in caught.value.message and 'store.blob.core.windows.net' in caught.value.message
    assert os.listdir(str(tmp_path)) == []


def test_complete_downloads_each_succeeded_package_without_the_api_token(tmp_path):
    session = Session({DOC_LINK[1:-1]: Response(200, [b'zip'])})
    spec = OneShotSpec('collect_investigation_package', 'c', dest=str(tmp_path), session_factory=lambda: session,
                       limits=LIMITS)
    client = LinkClient(DOC_LINK)
    done = types.SimpleNamespace(action={'id': ACTION_ID, 'type': 'CollectInvestigationPackage', 'status': 'Succeeded'},
                                 machine={'id': MID, 'computerDnsName': 'ws-1.contoso.com'}, fields={}, error=None,
                                 warnings=[])
    running = types.SimpleNamespace(action=dict(done.action, status='InProgress'),
                                    machine={'id': MID, 'computerDnsName': 'ws-2'}, fields={}, error=None, warnings=[])
    spec.complete(client, [done, running])
    assert done.error is None and done.fields['package_path'] == os.path.join(str(tmp_path),
                                                                              'ws-1.contoso.com-%s.zip' % ACTION_ID)
    assert [call[0] for call in session.calls] == [DOC_LINK[1:-1]] and 'headers' not in session.calls[0][1]
    assert 'package_path' not in running.fields and 'still InProgress' in running.warnings[0]
