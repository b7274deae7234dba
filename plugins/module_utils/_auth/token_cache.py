# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""A small on-disk token cache, so a playbook costs one token request per credential and audience.

Each module runs in its own process, so without it every task would log in again (and Entra ID
throttles apps that do). The cache is an optimisation: any problem with it is ignored (with a
warning when something looks tampered with) and a fresh token is requested.

What is on disk, in a directory private to the user (0700, owned by them, never a symlink):

* ``cache.key``: 32 random bytes (``os.urandom``), 0600, made once per user and cache directory.
  It is created under a temporary name with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and linked into
  place, so it is never half-written, never replaced, and never read through a symlink.
* ``<64 hex>.token``: one entry per identity, an access token and its expiry, Fernet-encrypted.
  The file name is HMAC-SHA256(key, identity): it says nothing about the credential, and without
  ``cache.key`` not even which tenant or app it belongs to. The identity is the auth method,
  tenant, client, user, the authority (login URL), the API base URL and the token audience, so a
  token from one authority is never served for another with the same ids. The encryption key is
  HMAC-SHA256(key, identity + digest of the credential): an entry opens only with the key file
  *and* the credential it was obtained with (a changed or wrong secret misses), and a copied cache
  without ``cache.key`` gives no way to test guesses of a password or secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import errno
import hashlib
import hmac
import json
import os
import stat
import time

try:
    from cryptography.fernet import Fernet, InvalidToken
    HAS_FERNET = True
except ImportError:  # pragma: no cover - the cache is simply off
    HAS_FERNET = False

from ansible_collections.defender.atp.plugins.module_utils._files import (
    O_BINARY, O_NOFOLLOW, NotPrivate, open_private, private_problem, write_private)

KEY_FILE = 'cache.key'
KEY_BYTES = 32
ENTRY_SUFFIX = '.token'


def default_directory():
    return os.environ.get('DEFENDER_ATP_TOKEN_CACHE_DIR') or os.path.join(os.path.expanduser('~'), '.cache', 'defender.atp', 'tokens')


def identity_label(**fields):
    """The canonical text of an identity: every field, sorted, as JSON (so no two identities collide)."""
    return json.dumps(dict((k, v or '') for k, v in fields.items()), sort_keys=True, separators=(',', ':'))


class TokenCache(object):

    def __init__(self, directory=None, clock=time.time, warn=None):
        self.directory = directory or default_directory()
        self.clock = clock
        self.enabled = HAS_FERNET
        self._warn = warn
        self._warned = set()
        self._key = None

    # -- safety -------------------------------------------------------------------------------

    def warn(self, problem):
        """Say once per run why the cache is not used (a tampered cache must not go unnoticed)."""
        if problem in self._warned:
            return
        self._warned.add(problem)
        if self._warn is not None:
            self._warn('Token cache %s: %s. The cache is not used: a fresh token is requested instead.'
                       % (self.directory, problem))

    def _safe_directory(self, create):
        """True when the cache directory is a real directory private to this user (never followed if a symlink)."""
        try:
            info = os.lstat(self.directory)
        except OSError as exc:
            if exc.errno != errno.ENOENT or not create:
                return False
            try:
                os.makedirs(self.directory, 0o700)
                info = os.lstat(self.directory)
            except OSError as exc2:
                self.warn('the directory cannot be created (%s)' % (exc2.strerror or exc2))
                return False
        if stat.S_ISLNK(info.st_mode):
            self.warn('the directory is a symbolic link, which is never followed')
            return False
        if not stat.S_ISDIR(info.st_mode):
            self.warn('it is not a directory')
            return False
        problem = private_problem(info, 'the directory')
        if problem:
            self.warn(problem)
            return False
        return True

    def _open_private(self, path, flags, kind):
        """Open ``path`` without following a symlink; return the descriptor if it is a private regular file (else
        warn, naming why, and raise OSError)."""
        name = os.path.basename(path)
        try:
            return open_private(path, flags, kind)
        except NotPrivate as exc:
            self.warn(('%s %s %s' if exc.symlink else '%s %s: %s') % (kind, name, exc.problem))
            raise OSError(errno.EPERM, exc.problem)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                self.warn('%s %s cannot be opened (%s)' % (kind, name, exc.strerror or exc))
            raise

    # -- the per-user secret -------------------------------------------------------------------

    def _read_key(self, path):
        fd = self._open_private(path, os.O_RDONLY, 'the key file')
        try:
            data = os.read(fd, KEY_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) != KEY_BYTES:
            self.warn('the key file %s does not hold %d bytes' % (KEY_FILE, KEY_BYTES))
            return None
        return data

    def _create_key(self, path):
        """Write a new random key under a temporary name (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), then link it into place.

        ``link`` fails if the name exists (even as a symlink), so a concurrent run's key is never replaced: it wins,
        and is read instead. Readers never see a partly written key.
        """
        key = os.urandom(KEY_BYTES)
        temp = os.path.join(self.directory, '.%s.%s.tmp' % (KEY_FILE, base64.b32encode(os.urandom(10)).decode('ascii')))
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_BINARY, 0o600)
        try:
            try:
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, path)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                return self._read_key(path)
        finally:
            try:
                os.unlink(temp)
            except OSError:
                pass
        return key

    def _secret(self, create):
        if self._key is not None:
            return self._key
        if not self.enabled or not self._safe_directory(create):
            return None
        path = os.path.join(self.directory, KEY_FILE)
        try:
            key = self._read_key(path)
        except OSError as exc:
            if getattr(exc, 'errno', None) != errno.ENOENT or not create:
                return None
            try:
                key = self._create_key(path)
            except OSError as exc2:
                self.warn('the key file cannot be created (%s)' % (exc2.strerror or exc2))
                return None
        self._key = key
        return key

    def _entry(self, key, identity, credential):
        label = identity.encode('utf-8')
        name = hmac.new(key, b'defender.atp token cache name\x00' + label, hashlib.sha256).hexdigest()
        secret = hmac.new(key, b'defender.atp token cache encryption\x00' + label + b'\x00' + (credential or b''),
                          hashlib.sha256).digest()
        return os.path.join(self.directory, name + ENTRY_SUFFIX), Fernet(base64.urlsafe_b64encode(secret))

    # -- the cache ----------------------------------------------------------------------------

    def get(self, identity, credential, min_valid=60):
        """Return ``(token, expires_on)`` if a cached token stays valid for ``min_valid`` seconds.

        ``identity`` is ``identity_label(...)`` (who, which authority, which API); ``credential`` the bytes
        of ``AuthMethod.secret_material()``.
        """
        key = self._secret(create=False)
        if key is None:
            return None
        path, fernet = self._entry(key, identity, credential)
        try:
            fd = self._open_private(path, os.O_RDONLY, 'the entry')
        except OSError:
            return None
        try:
            with os.fdopen(fd, 'rb') as handle:
                entry = json.loads(fernet.decrypt(handle.read()).decode('utf-8'))
        except (IOError, OSError, ValueError, InvalidToken):
            return None
        if not isinstance(entry, dict):
            return None
        expires_on = entry.get('expires_on') or 0
        if expires_on - min_valid <= self.clock():
            return None
        return entry.get('access_token'), expires_on

    def put(self, identity, credential, token, expires_on):
        key = self._secret(create=True)
        if key is None:
            return
        path, fernet = self._entry(key, identity, credential)
        data = fernet.encrypt(json.dumps({'access_token': token, 'expires_on': expires_on}).encode('utf-8'))
        try:
            write_private(path, data)  # 0600, atomic, never through a symlink (a symlink at path is replaced)
        except OSError:
            return

    def drop(self, identity, credential=None):
        """Remove the entry of ``identity`` (the API rejected its token), whatever credential it was stored with."""
        key = self._secret(create=False)
        if key is None:
            return
        try:
            os.remove(self._entry(key, identity, credential)[0])
        except OSError:
            pass
