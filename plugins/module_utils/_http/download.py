# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Downloading a file from a link the API handed out (an investigation package), as untrusted as the link itself.

``GET /api/machineactions/{id}/GetPackageUri`` answers ``{"value": "<link>"}``, a short-lived link
(get-package-sas-uri.md, whose example wraps the link in literal ``"`` characters and names
``userrequests-us.securitycenter.windows.com``). The link comes from the API, so it is untrusted:

* one pair of surrounding quotes is removed, and the rest must be an https link to one of Microsoft's
  download hosts (``PACKAGE_HOST_SUFFIXES``) or to the configured API host; any other host is refused,
  named in the error (quoted and cut short), and never contacted;
* redirects are followed by hand, at most ``MAX_REDIRECTS``, each hop checked the same way;
* the link is a credential (its signature grants the download): never shown in a message, and fetched
  through a session of its own that strips any Authorization header (and takes none from ``~/.netrc``):
  our bearer token never reaches the download host;
* the download stops at ``max_package_mb`` (counted on the decoded bytes, whatever Content-Length
  says) and at an overall deadline (``download_timeout``); every read waits at most what is left of it;
* the file is written with ``_files.AtomicFile``: a new 0600 file in ``dest``, created exclusively (never through
  a symlink), renamed over the final name when complete (a symlink there is replaced, not followed).

The content itself is untrusted (a package is built on the endpoint under investigation): it is stored as it
came, never unpacked or read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import time

from urllib.parse import urljoin, urlparse

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError
from ansible_collections.defender.atp.plugins.module_utils._files import AtomicFile
from ansible_collections.defender.atp.plugins.module_utils._http.ids import shown

try:
    import requests
except ImportError:  # pragma: no cover - AtpModule reports the missing library
    requests = None

DOWNLOAD_CHUNK = 1024 * 1024
MIB = 1024 * 1024
DEFAULT_MAX_PACKAGE_MB = 2048
DEFAULT_DOWNLOAD_TIMEOUT = 1800
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

# The hosts a package link (or a redirect of its download) may name, besides the configured API host. A host matches
# when it ends with one of these after at least one label of its own, on the https port.
PACKAGE_HOST_SUFFIXES = (
    '.securitycenter.windows.com',     # get-package-sas-uri.md: https://userrequests-us.securitycenter.windows.com:443/...
    '.securitycenter.microsoft.com',   # the Defender API hosts (api.securitycenter.microsoft.com, api-us...)
    '.security.microsoft.com',         # api.security.microsoft.com and its geo hosts (exposed-apis-list.md)
    '.blob.core.windows.net',          # Azure storage: get-live-response-result.md's download links are storage links
    '.securitycenter.microsoft.us',    # GCC High / DoD (standard-device-connectivity-urls-gov.md, "Security center URLs")
    '.blob.core.usgovcloudapi.net',    # Azure Government storage (the same page)
)
# Characters that URL parsers read differently (a backslash is a path separator to some, whitespace and controls are
# dropped by others): a link holding one is refused rather than guessed at.
_AMBIGUOUS_URL_CHARS = re.compile(r'[\x00-\x20\x7f\\]')


class DownloadLimits(object):
    """``max_bytes``: the largest package accepted; ``deadline``: seconds one package's download may take in all."""

    def __init__(self, max_bytes=DEFAULT_MAX_PACKAGE_MB * MIB, deadline=DEFAULT_DOWNLOAD_TIMEOUT):
        self.max_bytes = int(max_bytes)
        self.deadline = float(deadline)

    @classmethod
    def from_params(cls, params):
        return cls(max_bytes=params.get('max_package_mb', DEFAULT_MAX_PACKAGE_MB) * MIB,
                   deadline=params.get('download_timeout', DEFAULT_DOWNLOAD_TIMEOUT))


def unwrap_link(value):
    """The link without one pair of surrounding literal quotes (get-package-sas-uri.md prints ``"\\"https://...\\""``)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return text


def _default_port(scheme):
    return {'https': 443, 'http': 80}.get((scheme or '').lower())


def _host_label(parsed):
    """``host[:port]`` of a parsed URL, without any ``user:password@``."""
    return (parsed.netloc or '').rsplit('@', 1)[-1]


def check_package_url(url, api_base, what='the package link'):
    """Return ``url`` when it is an https link to a Microsoft download host (``PACKAGE_HOST_SUFFIXES``, on port 443) or
    to the configured API host (``api_base``'s host and port); raise AtpError naming the host otherwise. The link itself
    (a credential) is never put in the message."""
    if not isinstance(url, str) or _AMBIGUOUS_URL_CHARS.search(url):
        raise AtpError('%s is not a usable https link (it holds spaces, control characters or backslashes)' % what)
    parsed = urlparse(url)
    try:
        host, port = (parsed.hostname or '').lower(), parsed.port
    except ValueError:
        raise AtpError('%s has an invalid port' % what)
    if parsed.scheme.lower() != 'https' or not host:
        raise AtpError('%s is not an https link' % what)
    if '@' in (parsed.netloc or ''):
        raise AtpError('%s carries user credentials in its host part (host %s); it was not used'
                       % (what, shown(_host_label(parsed))))
    api = urlparse(api_base or '')
    if api.scheme.lower() == 'https' and host == (api.hostname or '').lower() and \
            (port or 443) == (api.port or _default_port(api.scheme)):
        return url
    if port in (None, 443) and any(host.endswith(suffix) and len(host) > len(suffix) for suffix in PACKAGE_HOST_SUFFIXES):
        return url
    raise AtpError('%s names the host %s, which is neither a Microsoft download host (%s, on port 443) nor the '
                   'configured API host %s: it was not contacted'
                   % (what, shown(_host_label(parsed)), ', '.join('*' + s for s in PACKAGE_HOST_SUFFIXES),
                      _host_label(api) or 'none'))


class _NoCredentials(object):
    """requests ``auth`` for the download session: strips any Authorization header from each request, and, being an
    auth, keeps requests from taking credentials from ``~/.netrc`` for the download host."""

    def __call__(self, request):
        request.headers.pop('Authorization', None)
        return request


def package_session(client):
    """A session of its own for package downloads: no Authorization header, no cookies of the API; TLS verified as the
    API's (``ca_path``, ``validate_certs``)."""
    session = requests.Session()
    session.auth = _NoCredentials()
    session.verify = client.settings.verify
    return session


def _open_download(session, url, timeout, api_base, time_left):
    """GET ``url`` (streamed), following at most MAX_REDIRECTS redirects, each target checked before it is contacted.
    Returns ``(response, host label)`` of the final answer."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        label = shown(_host_label(urlparse(current)))
        try:
            response = session.get(current, stream=True, timeout=min(float(timeout), time_left()),
                                   allow_redirects=False, verify=session.verify)
        except requests.exceptions.RequestException as error:
            raise AtpError('the download of the package from %s failed: %s' % (label, type(error).__name__))
        if response.status_code not in REDIRECT_STATUSES:
            return response, label
        location = (getattr(response, 'headers', None) or {}).get('Location')
        response.close()
        if not location:
            raise AtpError('the download of the package from %s answered HTTP %d without a Location'
                           % (label, response.status_code))
        current = check_package_url(urljoin(current, location), api_base, what='a redirect of the download')
    raise AtpError('the download of the package was redirected more than %d times' % MAX_REDIRECTS)


def download_to(session, url, directory, file_name, timeout, api_base, limits, clock=time.monotonic):
    """Stream ``url`` into ``directory/file_name`` (see the module docstring: hosts, redirects, size cap, deadline,
    0600, atomic, never through a symlink). Returns the final path. Errors name the download host only."""
    check_package_url(url, api_base)
    deadline = clock() + limits.deadline

    def time_left():
        left = deadline - clock()
        if left <= 0:
            raise AtpError('the download of the package did not finish within download_timeout (%d seconds)'
                           % limits.deadline)
        return left

    cap = '%d MiB' % (limits.max_bytes // MIB) if limits.max_bytes >= MIB else '%d bytes' % limits.max_bytes
    # A new 0600 file beside the final name, renamed over it only when complete (a symlink there is replaced, never
    # followed); removed on any error, so nothing is left behind.
    with AtomicFile(os.path.join(directory, file_name)) as handle:
        response, host = _open_download(session, url, timeout, api_base, time_left)
        try:
            if response.status_code != 200:
                expired = ' (the link may have expired)' if response.status_code in (403, 404) else ''
                raise AtpError('the download of the package from %s answered HTTP %d%s'
                               % (host, response.status_code, expired))
            announced = str((getattr(response, 'headers', None) or {}).get('Content-Length') or '')
            if announced.isdigit() and int(announced) > limits.max_bytes:
                raise AtpError('the package from %s is larger than max_package_mb (%s): %s bytes announced'
                               % (host, cap, announced))
            written = 0
            try:
                for chunk in response.iter_content(DOWNLOAD_CHUNK):
                    time_left()
                    if not chunk:
                        continue
                    written += len(chunk)
                    if written > limits.max_bytes:
                        raise AtpError('the package from %s is larger than max_package_mb (%s); the download was '
                                       'stopped' % (host, cap))
                    handle.write(chunk)
            except requests.exceptions.RequestException as error:
                raise AtpError('the download of the package from %s broke off: %s' % (host, type(error).__name__))
        finally:
            response.close()
    return handle.path
