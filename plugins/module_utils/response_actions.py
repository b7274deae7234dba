# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""One-shot machine actions (antivirus scan, investigation package, stop and quarantine a file) as an
``ActionSpec`` of the orchestrator, and the download of investigation packages.

Idempotence of a one-shot action: an action of the same type (for files, on the same SHA-1) still
Pending or InProgress on a machine means no new request (the API would refuse it as a duplicate);
a finished one does not count, so a new task runs a new scan. Every method but ``read_actions`` and
``complete`` is pure.

Package download: ``GET /api/machineactions/{id}/GetPackageUri`` answers ``{"value": "<link>"}``, a
short-lived link to Azure storage (get-package-sas-uri.md). The link is a credential (its signature
grants the download), so it is never shown in a message, and the download goes through a session of
its own that carries no Authorization header: our bearer token never reaches the storage host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import tempfile

from urllib.parse import quote, urlparse

from ansible_collections.defender.atp.plugins.module_utils import actions as actions_mod
from ansible_collections.defender.atp.plugins.module_utils.action_orchestrator import ActionSpec, Decision
from ansible_collections.defender.atp.plugins.module_utils.actions import NOOP, SEND, SUCCEEDED
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpError, AtpOptionError

try:
    import requests
except ImportError:  # pragma: no cover - AtpModule reports the missing library
    requests = None

AV_SCAN = 'av_scan'
COLLECT_PACKAGE = 'collect_investigation_package'
STOP_AND_QUARANTINE = 'stop_and_quarantine_file'

# option value -> (machine action type, path segment of the POST, words for messages)
ACTIONS = {
    AV_SCAN: ('RunAntiVirusScan', 'runAntiVirusScan', 'antivirus scan'),
    COLLECT_PACKAGE: ('CollectInvestigationPackage', 'collectInvestigationPackage', 'investigation package collection'),
    STOP_AND_QUARANTINE: ('StopAndQuarantineFile', 'StopAndQuarantineFile', 'stop and quarantine file'),
}
SCAN_TYPES = ('Quick', 'Full')
DEFAULT_SCAN_TYPE = 'Quick'
SHA1_RE = re.compile(r'^[0-9a-fA-F]{40}$')

# A file name part taken from API data must be one plain name: letters, digits, '-', '_' and '.', not starting with a
# dot, no '..' (computerDnsName and ids come from the API, which is untrusted).
SAFE_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$')
DOWNLOAD_CHUNK = 1024 * 1024


def validate_action_options(params):
    """AtpOptionError naming the option, before any request, for an action's options that do not fit together."""
    action = params['action']
    if action not in ACTIONS:
        raise AtpOptionError('action must be one of %s, got %r.' % (', '.join(sorted(ACTIONS)), action))
    sha1 = params.get('sha1')
    if action == STOP_AND_QUARANTINE:
        if not sha1:
            raise AtpOptionError('sha1 is required with action=stop_and_quarantine_file: give the SHA-1 of the file '
                                 '(40 hexadecimal characters).')
        if not SHA1_RE.match(sha1.strip()):
            raise AtpOptionError('sha1 must be 40 hexadecimal characters (a SHA-1), got %d characters: %r.'
                                 % (len(sha1), sha1))
    elif sha1 is not None:
        raise AtpOptionError('sha1 is only used with action=stop_and_quarantine_file, not with action=%s: remove it.'
                             % action)
    if params.get('scan_type') is not None and action != AV_SCAN:
        raise AtpOptionError('scan_type is only used with action=av_scan, not with action=%s: remove it.' % action)
    dest = params.get('dest')
    if dest is not None:
        if action != COLLECT_PACKAGE:
            raise AtpOptionError('dest is only used with action=collect_investigation_package: remove it.')
        if not params.get('wait'):
            raise AtpOptionError('dest needs wait: true: a package can be downloaded only once its collection has '
                                 'Succeeded.')
        if not os.path.isdir(dest):
            raise AtpOptionError('dest must be an existing directory, got %r.' % dest)
        if not os.access(dest, os.W_OK | os.X_OK):
            raise AtpOptionError('dest %r is not writable by this user: choose a directory the packages can be '
                                 'written to.' % dest)


def related_sha1(action):
    """The SHA-1 an action is about (``relatedFileInfo``), lowercase, or None when it names none."""
    info = action.get('relatedFileInfo')
    if not isinstance(info, dict):
        return None
    kind = str(info.get('fileIdentifierType') or 'Sha1').lower()
    value = info.get('fileIdentifier')
    if kind != 'sha1' or not isinstance(value, str):
        return None
    return value.strip().lower()


def package_file_name(machine, action_id):
    """``<computer_dns_name or machine id>-<action id>.zip``, or AtpError when the API gave nothing safe to use."""
    machine = machine or {}
    name = str(machine.get('computerDnsName') or '')
    if not SAFE_NAME_RE.match(name) or '..' in name:
        name = str(machine.get('id') or '')
        if not SAFE_NAME_RE.match(name) or '..' in name:
            raise AtpError('the API returned neither a computer DNS name nor a machine id usable in a file name')
    action_id = str(action_id or '')
    if not SAFE_NAME_RE.match(action_id) or '..' in action_id:
        raise AtpError('the API returned a machine action id that cannot be used in a file name: %r' % action_id[:80])
    return '%s-%s.zip' % (name, action_id)


def download_to(session, url, directory, file_name, timeout):
    """Stream ``url`` into ``directory/file_name``: written to a 0600 temporary file there, then renamed (a reader
    never sees half a package). Returns the final path. Errors name the storage host only (the link is a secret)."""
    parsed = urlparse(url)
    host = parsed.hostname or 'the storage host'
    fd, partial = tempfile.mkstemp(prefix='.%s.' % file_name, suffix='.part', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            try:
                response = session.get(url, stream=True, timeout=timeout, allow_redirects=False,
                                       verify=session.verify)
            except requests.exceptions.RequestException as error:
                raise AtpError('the download of the package from %s failed: %s' % (host, type(error).__name__))
            try:
                if response.status_code != 200:
                    expired = ' (the link may have expired)' if response.status_code in (403, 404) else ''
                    raise AtpError('the download of the package from %s answered HTTP %d%s'
                                   % (host, response.status_code, expired))
                try:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK):
                        if chunk:
                            handle.write(chunk)
                except requests.exceptions.RequestException as error:
                    raise AtpError('the download of the package from %s broke off: %s' % (host, type(error).__name__))
            finally:
                response.close()
            handle.flush()
            os.fsync(handle.fileno())
        final = os.path.join(directory, file_name)
        os.replace(partial, final)
        return final
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def package_link(client, action_id):
    """The short-lived https link of a collected package (GetPackageUri); AtpError when there is none."""
    answer = client.get('/api/machineactions/%s/GetPackageUri' % quote(str(action_id), safe=''),
                        what='GetPackageUri of machine action %s' % action_id)
    link = answer.get('value') if isinstance(answer, dict) else None
    if not isinstance(link, str) or not link.lower().startswith('https://'):
        # The docs show only "value": a link; anything else (http, empty) is refused rather than followed.
        raise AtpError('GetPackageUri of machine action %s returned no https link' % action_id)
    return link


class OneShotSpec(ActionSpec):
    """``action``: one of ACTIONS; ``scan_type`` (av_scan), ``sha1`` (stop_and_quarantine_file), ``dest``: a
    directory to download collected packages to (needs the orchestrator's wait)."""

    refusal_text = 'get a request'
    unchanged_text = 'already under way'

    def __init__(self, action, comment, scan_type=None, sha1=None, dest=None, session_factory=None):
        self.action = action
        self.action_type, self.path_segment, self.verb = ACTIONS[action]
        self.comment = comment
        self.scan_type = (scan_type or DEFAULT_SCAN_TYPE) if action == AV_SCAN else None
        self.sha1 = sha1.strip().lower() if sha1 else None
        self.dest = dest
        self.session_factory = session_factory

    # -- deciding ---------------------------------------------------------------------------------

    def matches(self, action):
        if str(action.get('type') or '').lower() != self.action_type.lower():
            return False
        if self.sha1 is not None:
            # An action naming no file (the docs do not promise relatedFileInfo) is not taken for ours: a request is
            # sent, and a duplicate refused by the API is read again and adopted (machine_actions.ActionSender).
            return related_sha1(action) == self.sha1
        return True

    def read_actions(self, directory, machine_ids):
        return directory.machine_actions(machine_ids, (self.action_type,))

    def decide(self, machine, actions):
        running = [a for a in actions_mod.newest_first(actions) if self.matches(a) and actions_mod.is_active(a)]
        if running:
            return Decision(NOOP, action=running[0], track=running[0].get('id'),
                            reason='a %s is already under way' % actions_mod.describe(running[0]))
        return Decision(SEND)

    def request(self, result):
        body = {'Comment': self.comment}
        if self.action == AV_SCAN:
            body['ScanType'] = self.scan_type
        elif self.action == STOP_AND_QUARANTINE:
            body['Sha1'] = self.sha1
        return '/api/machines/%s/%s' % (result.machine['id'], self.path_segment), body, self.action_type

    # -- after waiting --------------------------------------------------------------------------

    def complete(self, client, results):
        if self.action != COLLECT_PACKAGE or not self.dest:
            return
        session = None
        try:
            for result in results:
                action = result.action
                if not action or actions_mod.status_of(action) != SUCCEEDED:
                    if action is not None and actions_mod.is_active(action):
                        result.warnings.append('the package was not downloaded: its collection is still %s'
                                               % actions_mod.status_of(action))
                    continue
                try:
                    file_name = package_file_name(result.machine, action.get('id'))
                    link = package_link(client, action.get('id'))
                    if session is None:
                        session = self._session(client)
                    result.fields['package_path'] = download_to(session, link, self.dest, file_name,
                                                                client.settings.timeout)
                except AtpError as error:
                    result.error = 'the package could not be downloaded: %s' % error.message
                except (IOError, OSError) as error:
                    result.error = 'the package could not be written to %s: %s' % (self.dest, error.strerror or error)
        finally:
            if session is not None:
                session.close()

    def _session(self, client):
        if self.session_factory is not None:
            return self.session_factory()
        # Its own session: no Authorization header, no cookies of the API; TLS verified as the API's.
        session = requests.Session()
        session.verify = client.settings.verify
        return session

    # -- reporting ------------------------------------------------------------------------------

    def result_fields(self, result):
        # previous_state/state of a one-shot action: the status of the action found under way before the task
        # (None without one), and of the action the result rests on at the end.
        before = result.actions and [a for a in result.actions if self.matches(a) and actions_mod.is_active(a)]
        previous = actions_mod.status_of(actions_mod.newest_first(before)[0]) if before else None
        if result.action is not None:
            state = actions_mod.status_of(result.action)
        elif result.changed and not result.error:
            state = actions_mod.PENDING  # check mode, or before the answer: a new action starts Pending
        else:
            state = previous
        fields = dict(previous_state=previous, state=state)
        if self.action == COLLECT_PACKAGE:
            fields['package_path'] = result.fields.get('package_path')
        return fields

    def diff_value(self, result, when):
        return self.result_fields(result)['previous_state' if when == 'before' else 'state']

    def summarize(self, action):
        summary = actions_mod.summarize(action)
        if summary is not None:
            summary['sha1'] = related_sha1(action)
        return summary
