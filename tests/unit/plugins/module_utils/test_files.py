# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one private, atomic write (token cache, row files, package downloads, the EDA state) and the one check of a
file read back (_files.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _files
from ansible_collections.defender.atp.plugins.module_utils._files import (
    AtomicFile, NotPrivate, open_private, write_private)


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def test_a_write_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        write_private(str(tmp_path / 'f'), b'secret')
    finally:
        os.umask(old)
    assert (tmp_path / 'f').read_bytes() == b'secret' and mode_of(tmp_path / 'f') == 0o600
    assert os.listdir(str(tmp_path)) == ['f']


def test_the_mode_asked_for_is_set_before_any_byte(tmp_path):
    with AtomicFile(str(tmp_path / 'f'), mode=0o640) as handle:
        assert mode_of(handle.temp_path) == 0o640 and os.path.getsize(handle.temp_path) == 0
        handle.write(b'rows')
    assert mode_of(tmp_path / 'f') == 0o640


def test_a_symlink_at_the_target_is_replaced_never_followed(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_bytes(b'keep')
    os.symlink(str(victim), str(tmp_path / 'f'))
    write_private(str(tmp_path / 'f'), b'new')
    assert victim.read_bytes() == b'keep'
    assert not os.path.islink(str(tmp_path / 'f')) and (tmp_path / 'f').read_bytes() == b'new'


def test_an_error_leaves_the_old_file_and_no_temporary_one(tmp_path):
    (tmp_path / 'f').write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with AtomicFile(str(tmp_path / 'f')) as handle:
            handle.write(b'half')
            raise RuntimeError('stop')
    assert (tmp_path / 'f').read_bytes() == b'old' and os.listdir(str(tmp_path)) == ['f']


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    def refuse(*_args):
        raise OSError(13, 'Permission denied')

    monkeypatch.setattr(os, 'replace', refuse)
    with pytest.raises(OSError):
        write_private(str(tmp_path / 'f'), b'x')
    assert os.listdir(str(tmp_path)) == []


def test_open_private_reads_a_private_regular_file(tmp_path):
    write_private(str(tmp_path / 'f'), b'ok')
    fd = open_private(str(tmp_path / 'f'))
    try:
        assert os.read(fd, 10) == b'ok'
    finally:
        os.close(fd)


def test_open_private_never_follows_a_symlink(tmp_path):
    write_private(str(tmp_path / 'f'), b'ok')
    os.symlink(str(tmp_path / 'f'), str(tmp_path / 'link'))
    with pytest.raises(NotPrivate) as caught:
        open_private(str(tmp_path / 'link'))
    assert caught.value.symlink and 'symbolic link' in caught.value.problem


@pytest.mark.parametrize('mode', [0o640, 0o604, 0o660])
def test_open_private_refuses_a_file_others_may_read_or_change(tmp_path, mode):
    write_private(str(tmp_path / 'f'), b'ok')
    os.chmod(str(tmp_path / 'f'), mode)
    with pytest.raises(NotPrivate, match='accessible to group or others'):
        open_private(str(tmp_path / 'f'), kind='the entry')


def test_open_private_refuses_another_owner_and_what_is_not_a_file(tmp_path, monkeypatch):
    write_private(str(tmp_path / 'f'), b'ok')
    os.mkdir(str(tmp_path / 'd'), 0o700)
    with pytest.raises(NotPrivate, match='not a regular file'):
        open_private(str(tmp_path / 'd'))
    monkeypatch.setattr(_files, 'my_uid', lambda: os.getuid() + 1)
    with pytest.raises(NotPrivate, match='owned by another user'):
        open_private(str(tmp_path / 'f'))
    with pytest.raises(OSError):
        open_private(str(tmp_path / 'missing'))
