# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""A small on-disk token cache, so a playbook costs one token request per credential and audience.

Each module runs in its own process, so without it every task would log in again (and Entra ID
throttles apps that do). Entries are encrypted with a key derived from the credential itself:
only someone who already holds the secret, key or password can read a cached token. The cache is
an optimisation: any problem with it is ignored and a fresh token is requested.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import json
import os
import stat
import tempfile
import time

try:
    from cryptography.fernet import Fernet, InvalidToken
    HAS_FERNET = True
except ImportError:  # pragma: no cover - the cache is simply off
    HAS_FERNET = False


def default_directory():
    return os.environ.get('DEFENDER_ATP_TOKEN_CACHE_DIR') or os.path.join(os.path.expanduser('~'), '.cache', 'defender.atp', 'tokens')


class TokenCache(object):

    def __init__(self, directory=None, clock=time.time):
        self.directory = directory or default_directory()
        self.clock = clock
        self.enabled = HAS_FERNET

    def _paths(self, identity, audience, secret):
        label = ('%s|%s' % (identity, audience)).encode('utf-8')
        name = hmac.new(secret, label, hashlib.sha256).hexdigest()[:40]
        key = base64.urlsafe_b64encode(hashlib.sha256(b'defender.atp token cache|' + secret + b'|' + label).digest())
        return os.path.join(self.directory, name + '.token'), Fernet(key)

    def _safe_directory(self, create):
        """The cache directory, only if it is private to this user (never trust a shared one)."""
        try:
            if create and not os.path.isdir(self.directory):
                os.makedirs(self.directory, 0o700)
            info = os.stat(self.directory)
        except OSError:
            return False
        if hasattr(os, 'getuid') and info.st_uid != os.getuid():
            return False
        return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_IRGRP | stat.S_IROTH)

    def get(self, identity, audience, secret, min_valid=60):
        """Return ``(token, expires_on)`` if a cached token stays valid for ``min_valid`` seconds."""
        if not self.enabled or not self._safe_directory(create=False):
            return None
        path, fernet = self._paths(identity, audience, secret)
        try:
            with open(path, 'rb') as handle:
                entry = json.loads(fernet.decrypt(handle.read()).decode('utf-8'))
        except (IOError, OSError, ValueError, InvalidToken):
            return None
        expires_on = entry.get('expires_on') or 0
        if expires_on - min_valid <= self.clock():
            return None
        return entry.get('access_token'), expires_on

    def put(self, identity, audience, secret, token, expires_on):
        if not self.enabled or not self._safe_directory(create=True):
            return
        path, fernet = self._paths(identity, audience, secret)
        data = fernet.encrypt(json.dumps({'access_token': token, 'expires_on': expires_on}).encode('utf-8'))
        try:
            handle, temp = tempfile.mkstemp(dir=self.directory, prefix='.tmp')
            try:
                os.write(handle, data)
            finally:
                os.close(handle)
            os.chmod(temp, 0o600)
            os.rename(temp, path)
        except OSError:
            return

    def drop(self, identity, audience, secret):
        if not self.enabled:
            return
        path = self._paths(identity, audience, secret)[0]
        try:
            os.remove(path)
        except OSError:
            pass
