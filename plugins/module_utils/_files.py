# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The files the collection writes and reads back: private, written atomically, never through a symbolic link.

What it writes (the token cache's entries, query result files, investigation packages, the EDA source's state) holds
tokens, findings or what an attacker's endpoint produced, and a half-written or widely readable file is worse than
none, so every write goes through ``AtomicFile``:

* a new temporary file beside the target, created by ``mkstemp`` (``O_CREAT | O_EXCL``, and ``O_NOFOLLOW`` where
  there is one: never an existing file, never through a symlink), given its final mode (0600 unless a caller asks
  otherwise) before a byte is written;
* ``commit()`` flushes it to disk and renames it over the target (``os.replace``: a symlink there is replaced, never
  followed; the owner and mode of a file that was there are never carried over); ``discard()``, or an error inside
  the ``with`` block, removes it, so no temporary file is left behind and the previous file stays as it was.

What it reads back is trusted only when it is ``open_private``'s: a regular file (a symlink is never followed)
owned by this user and accessible to nobody else.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import stat
import tempfile

PRIVATE_MODE = 0o600
# O_NOFOLLOW makes open() fail on a symlink instead of following it (POSIX; 0 elsewhere, where lstat checks remain).
O_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
O_BINARY = getattr(os, 'O_BINARY', 0)


def my_uid():
    return os.getuid() if hasattr(os, 'getuid') else None


def private_problem(info, kind):
    """Why a file or directory (its ``lstat``/``fstat``) cannot be trusted with secrets, or None.

    ``kind`` names it in the message (``the directory`` is expected to be 0700, anything else 0600).
    """
    uid = my_uid()
    if uid is not None and info.st_uid != uid:
        return '%s is owned by another user (uid %d)' % (kind, info.st_uid)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return '%s is accessible to group or others (mode %04o; it must be %s)' % (
            kind, stat.S_IMODE(info.st_mode), '0700' if kind == 'the directory' else '0600')
    return None


class NotPrivate(Exception):
    """A file that ``open_private`` refuses: ``problem`` says why; ``symlink`` when it is a symbolic link."""

    def __init__(self, problem, symlink=False):
        super(NotPrivate, self).__init__(problem)
        self.problem = problem
        self.symlink = symlink


def open_private(path, flags=os.O_RDONLY, kind='it'):
    """Open ``path`` without following a symlink; return the descriptor of a regular file private to this user.

    Raises NotPrivate when it is a symlink (``problem``: "is a symbolic link, which is never followed"), not a regular
    file, or not private (``private_problem`` with ``kind``); other errors (the file is missing) as OSError.
    """
    try:
        fd = os.open(path, flags | O_NOFOLLOW | O_BINARY)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotPrivate('is a symbolic link, which is never followed', symlink=True)
        raise
    info = os.fstat(fd)
    problem = None if stat.S_ISREG(info.st_mode) else 'it is not a regular file'
    problem = problem or private_problem(info, kind)
    if problem:
        os.close(fd)
        raise NotPrivate(problem)
    return fd


class AtomicFile(object):
    """A new file that takes the place of ``path`` only when complete (see the module docstring).

    ``handle`` is the open binary file; ``temp_path`` its name until ``commit()`` renames it over ``path`` (it returns
    ``path``). ``discard()`` removes it. As a context manager it commits at the end of the block, or discards on an
    error. ``suffix`` ends the temporary name (``.<name>.<random><suffix>``, in the same directory).
    """

    def __init__(self, path, mode=PRIVATE_MODE, suffix='.part'):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        fd, self.temp_path = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix=suffix)
        try:
            # mkstemp creates the file 0600; the mode asked for is set on the still empty file, before any byte.
            os.fchmod(fd, mode)
            self.handle = os.fdopen(fd, 'wb')
        except BaseException:
            os.close(fd)
            os.unlink(self.temp_path)
            raise

    def write(self, data):
        return self.handle.write(data)

    def commit(self):
        """Flush the file to disk and rename it over ``path``; returns ``path``. On an error the file is discarded."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.discard()
            raise
        self.temp_path = None
        return self.path

    def discard(self):
        if not self.handle.closed:
            self.handle.close()
        if self.temp_path and os.path.lexists(self.temp_path):
            os.unlink(self.temp_path)
        self.temp_path = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


def write_private(path, data, mode=PRIVATE_MODE):
    """Write ``data`` (bytes) to ``path`` atomically, with ``mode`` (0600), never through a symlink."""
    with AtomicFile(path, mode) as handle:
        handle.write(data)
    return path
