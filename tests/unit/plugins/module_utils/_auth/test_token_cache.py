# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token cache: keyed by a random per-user secret, bound to the credential, never followed through a symlink.

The tests marked "issue 11" failed on 0.1.0, whose file names were a fast hash of the credential, whose key
left out the authority and the API base, and which had no key file at all.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import hmac
import json
import os
import shutil
import stat

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _files
from ansible_collections.defender.atp.plugins.module_utils._auth import token_cache as token_cache_module
from ansible_collections.defender.atp.plugins.module_utils._auth.token_cache import KEY_FILE, TokenCache, identity_label

IDENTITY = identity_label(method='client_secret', tenant='t', client='c', user=None, authority='https://login.example',
                          api_base='https://api.example', audience='https://api.securitycenter.microsoft.com')
CREDENTIAL = hashlib.sha256(b'the client secret').digest()


def entries(directory):
    return sorted(name for name in os.listdir(str(directory)) if name.endswith('.token'))


def make(directory, now=1000, warnings=None):
    return TokenCache(str(directory), clock=lambda: now, warn=(warnings.append if warnings is not None else None))


def test_round_trip_is_encrypted_and_private(tmp_path):
    directory = tmp_path / 'c'
    cache = make(directory)
    cache.put(IDENTITY, CREDENTIAL, 'header.payload.signature', 5000)
    assert make(directory).get(IDENTITY, CREDENTIAL) == ('header.payload.signature', 5000)
    names = entries(directory)
    assert len(names) == 1
    raw = (directory / names[0]).read_bytes()
    assert b'header.payload.signature' not in raw and b'login.example' not in raw
    assert stat.S_IMODE(os.stat(str(directory / names[0])).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700


def test_key_file_is_32_random_bytes_0600_and_made_once(tmp_path):
    """issue 11: a per-user secret, 0600, in the 0700 directory (0.1.0 had none)."""
    directory = tmp_path / 'c'
    make(directory).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    key_path = directory / KEY_FILE
    info = os.lstat(str(key_path))
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    key = key_path.read_bytes()
    assert len(key) == 32
    make(directory).put(IDENTITY, CREDENTIAL, 'tok2', 5000)
    assert key_path.read_bytes() == key
    # Another cache directory gets another key.
    make(tmp_path / 'other').put(IDENTITY, CREDENTIAL, 'tok', 5000)
    assert (tmp_path / 'other' / KEY_FILE).read_bytes() != key
    # No temporary file is left behind.
    assert sorted(os.listdir(str(directory))) == sorted([KEY_FILE] + entries(directory))


def test_an_entry_that_cannot_be_put_in_place_leaves_no_temporary_file(tmp_path, monkeypatch):
    """The cache is an optimisation: a failed write is ignored, but it must not leave a temporary file behind
    (it did before the one atomic write of _files.py: the token was left in a .tmp file beside the entries)."""
    directory = tmp_path / 'c'
    make(directory).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    before = sorted(os.listdir(str(directory)))

    def refuse(*_args):
        raise OSError(13, 'Permission denied')

    monkeypatch.setattr(os, 'replace', refuse)
    monkeypatch.setattr(os, 'rename', refuse)
    make(directory).put(IDENTITY, b'another credential', 'tok2', 5000)
    assert sorted(os.listdir(str(directory))) == before


def test_key_file_is_created_with_o_excl_and_o_nofollow(tmp_path, monkeypatch):
    """issue 11: the key is written under a fresh name opened O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, then linked."""
    opened = []
    real_open = os.open

    def recording_open(path, flags, *args):
        opened.append((os.path.basename(path), flags, args))
        return real_open(path, flags, *args)

    monkeypatch.setattr(token_cache_module.os, 'open', recording_open)
    make(tmp_path / 'c').put(IDENTITY, CREDENTIAL, 'tok', 5000)
    creates = [(name, flags, args) for name, flags, args in opened if flags & os.O_CREAT and KEY_FILE in name]
    assert len(creates) == 1
    name, flags, args = creates[0]
    assert name != KEY_FILE  # a temporary name: the key file itself appears complete, by link()
    assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert args == (0o600,)


def test_a_key_created_concurrently_wins(tmp_path, monkeypatch):
    """Two runs racing to create the key: the second one's link() fails and it uses the first one's key."""
    directory = tmp_path / 'c'
    first = make(directory)
    first.put(IDENTITY, CREDENTIAL, 'tok', 5000)
    key = (directory / KEY_FILE).read_bytes()
    second = make(directory)
    real_read = second._read_key
    calls = []

    def missing_once(path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(2, 'No such file or directory')
        return real_read(path)

    monkeypatch.setattr(second, '_read_key', missing_once)
    assert second._secret(create=True) == key
    assert (directory / KEY_FILE).read_bytes() == key


def test_same_ids_with_another_login_url_or_api_base_are_separate_entries(tmp_path):
    """issue 11: 0.1.0 served a token from one authority to another with the same tenant and client ids."""
    cache = make(tmp_path / 'c')
    fields = dict(method='client_secret', tenant='t', client='c', user=None, audience='https://api.securitycenter.microsoft.com')
    real = identity_label(authority='https://login.microsoftonline.com', api_base='https://api.security.microsoft.com', **fields)
    other_login = identity_label(authority='https://login.evil.example', api_base='https://api.security.microsoft.com', **fields)
    other_api = identity_label(authority='https://login.microsoftonline.com', api_base='https://api.evil.example', **fields)
    cache.put(real, CREDENTIAL, 'real-token', 5000)
    assert cache.get(other_login, CREDENTIAL) is None
    assert cache.get(other_api, CREDENTIAL) is None
    cache.put(other_login, CREDENTIAL, 'other-token', 5000)
    assert len(entries(tmp_path / 'c')) == 2
    assert cache.get(real, CREDENTIAL)[0] == 'real-token'
    assert cache.get(other_login, CREDENTIAL)[0] == 'other-token'


def test_other_credential_audience_or_identity_misses(tmp_path):
    cache = make(tmp_path / 'tokens')
    cache.put(IDENTITY, b'right', 'tok', 5000)
    assert cache.get(IDENTITY, b'wrong') is None
    assert cache.get(identity_label(method='client_secret', tenant='t', client='c', audience='other'), b'right') is None
    assert cache.get(identity_label(method='client_secret', tenant='t', client='other'), b'right') is None
    assert cache.get(IDENTITY, b'right') == ('tok', 5000)


def test_file_names_say_nothing_about_the_credential(tmp_path):
    """issue 11: 0.1.0 named the file HMAC(sha256(secret), identity): a guess of the secret could be tested offline."""
    directory = tmp_path / 'c'
    cache = make(directory)
    secret = b'Summer2026!'
    credential = hashlib.sha256(hashlib.sha256(secret).digest()).digest()
    cache.put(IDENTITY, credential, 'tok', 5000)
    name = entries(directory)[0][:-len('.token')]
    # The same identity with another credential lands in the same file: the name does not depend on the credential.
    cache.put(IDENTITY, hashlib.sha256(b'another secret').digest(), 'tok2', 5000)
    assert entries(directory) == [name + '.token']
    # No fast hash of the credential or the identity, alone or combined, gives the name.
    label = IDENTITY.encode('utf-8')
    for candidate in (credential, hashlib.sha256(secret).digest(), secret, b''):
        for message in (label, candidate + label, label + candidate):
            assert hashlib.sha256(message).hexdigest()[:len(name)] != name
            assert hmac.new(candidate or b'x', label, hashlib.sha256).hexdigest()[:len(name)] != name
    # Without the key file, a copy of the directory cannot even tell which identity a file belongs to.
    copy = tmp_path / 'copy'
    shutil.copytree(str(directory), str(copy))
    os.remove(str(copy / KEY_FILE))
    assert make(copy).get(IDENTITY, hashlib.sha256(b'another secret').digest()) is None


def test_expiring_tokens_are_not_returned(tmp_path):
    now = [1000]
    cache = TokenCache(str(tmp_path / 'c'), clock=lambda: now[0])
    cache.put(IDENTITY, CREDENTIAL, 'tok', 1100)
    assert cache.get(IDENTITY, CREDENTIAL, min_valid=60) == ('tok', 1100)
    now[0] = 1050
    assert cache.get(IDENTITY, CREDENTIAL, min_valid=60) is None


def test_drop_removes_the_entry_whatever_the_credential(tmp_path):
    cache = make(tmp_path / 'c')
    cache.put(IDENTITY, CREDENTIAL, 'tok', 5000)
    cache.drop(IDENTITY)
    assert cache.get(IDENTITY, CREDENTIAL) is None
    assert entries(tmp_path / 'c') == []


def test_directory_open_to_others_is_not_used(tmp_path):
    directory = tmp_path / 'c'
    cache = make(directory)
    cache.put(IDENTITY, CREDENTIAL, 'tok', 100)
    os.chmod(str(directory), 0o755)
    warnings = []
    assert make(directory, now=0, warnings=warnings).get(IDENTITY, CREDENTIAL) is None
    assert len(warnings) == 1 and 'accessible to group or others' in warnings[0] and 'fresh token' in warnings[0]


def test_symlinked_cache_directory_is_never_followed(tmp_path):
    """issue 11: 0.1.0 used os.stat, which follows a symlink to a directory the attacker chose."""
    real = tmp_path / 'real'
    make(real).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    link = tmp_path / 'link'
    os.symlink(str(real), str(link))
    warnings = []
    cache = make(link, warnings=warnings)
    assert cache.get(IDENTITY, CREDENTIAL) is None
    cache.put(IDENTITY, CREDENTIAL, 'other', 5000)
    assert make(real).get(IDENTITY, CREDENTIAL)[0] == 'tok'
    assert len(warnings) == 1 and 'symbolic link' in warnings[0]


def test_symlinked_key_file_is_never_followed(tmp_path):
    """issue 11: a key file replaced by a symlink (to a file the attacker can read or chose) is refused."""
    directory = tmp_path / 'c'
    make(directory).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    elsewhere = tmp_path / 'attacker-key'
    elsewhere.write_bytes(b'A' * 32)
    os.chmod(str(elsewhere), 0o600)
    os.remove(str(directory / KEY_FILE))
    os.symlink(str(elsewhere), str(directory / KEY_FILE))
    warnings = []
    cache = make(directory, warnings=warnings)
    assert cache.get(IDENTITY, CREDENTIAL) is None
    cache.put(IDENTITY, CREDENTIAL, 'new', 5000)
    # Nothing was written with the attacker's key, and the link was left alone (not replaced, not followed).
    assert os.path.islink(str(directory / KEY_FILE)) and elsewhere.read_bytes() == b'A' * 32
    assert len(warnings) == 1 and 'symbolic link' in warnings[0]


def test_symlinked_key_file_is_not_followed_when_creating(tmp_path):
    """A dangling symlink planted where the key will be created: the key is not written through it."""
    directory = tmp_path / 'c'
    directory.mkdir(mode=0o700)
    target = tmp_path / 'planted'
    os.symlink(str(target), str(directory / KEY_FILE))
    cache = make(directory, warnings=[])
    cache.put(IDENTITY, CREDENTIAL, 'tok', 5000)
    assert not target.exists()
    assert entries(directory) == []


@pytest.mark.parametrize('mode', [0o640, 0o604, 0o660])
def test_key_file_open_to_others_is_refused(tmp_path, mode):
    directory = tmp_path / 'c'
    make(directory).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    os.chmod(str(directory / KEY_FILE), mode)
    warnings = []
    assert make(directory, warnings=warnings).get(IDENTITY, CREDENTIAL) is None
    assert len(warnings) == 1 and 'key file' in warnings[0] and 'group or others' in warnings[0]


def test_owner_is_checked(tmp_path, monkeypatch):
    directory = tmp_path / 'c'
    make(directory).put(IDENTITY, CREDENTIAL, 'tok', 5000)
    monkeypatch.setattr(_files, 'my_uid', lambda: os.getuid() + 1)
    warnings = []
    assert make(directory, warnings=warnings).get(IDENTITY, CREDENTIAL) is None
    assert 'owned by another user' in warnings[0]


def test_symlinked_entry_is_not_read(tmp_path):
    directory = tmp_path / 'c'
    cache = make(directory)
    cache.put(IDENTITY, CREDENTIAL, 'tok', 5000)
    name = entries(directory)[0]
    moved = tmp_path / 'moved'
    os.rename(str(directory / name), str(moved))
    os.symlink(str(moved), str(directory / name))
    warnings = []
    assert make(directory, warnings=warnings).get(IDENTITY, CREDENTIAL) is None
    assert 'symbolic link' in warnings[0]


def test_the_authenticator_keys_the_cache_with_authority_and_api_base(tmp_path):
    """issue 11: the identity the modules and the inventory use includes login_url and the API base."""
    from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import Authenticator
    from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, ConnectionSettings

    def identity(**overrides):
        params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
        params.update(tenant_id='t', client_id='c', client_secret='s')
        params.update(overrides)
        auth = Authenticator(ConnectionSettings(params), cache=make(tmp_path / 'c'))
        return auth.cache_identity(auth.method, 'defender')

    base = identity()
    assert identity(login_url='https://login.example.com') != base
    assert identity(api_url='https://api.example.com') != base
    assert identity(api_audience='https://other.example') != base
    assert identity(client_secret='another') == base  # the credential binds the entry's encryption, not its name
    assert 's' not in json.loads(base).values()
