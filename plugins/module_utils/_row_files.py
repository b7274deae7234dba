# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Writing result rows to a file as JSON, JSON Lines or CSV, one row at a time, replacing the file atomically.

A writer is a sink for ``_hunting.parse_response``: ``schema(columns)``, then ``row(row)`` per row, then
``finish()``. Rows are written as they arrive, so memory stays flat whatever their number. The file
appears under its name only when complete (temporary file in the same directory, then a rename), so a
failed query never leaves half a file or clobbers the previous one.

Hunting rows carry attacker-chosen text (command lines, file names), and the file may hold sensitive
findings, so:

* the temporary file gets its final mode when it is created (0600 unless the task asks otherwise), before
  a byte is written; nothing is chmod-ed after the fact;
* an existing file is replaced, never written through: its owner and mode are not carried over, so a file
  that another user owns (or a symlink) cannot make the rows readable to someone else;
* the new content is hashed while it is written and compared with the existing file (read in chunks), so
  writing the same rows again changes nothing and reports no change;
* CSV cells that a spreadsheet would run as a formula get a leading ``'`` (OWASP "CSV injection").
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import hashlib
import json
import os
import re
import stat
import tempfile

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._files import PRIVATE_MODE, O_NOFOLLOW, AtomicFile

FORMATS = ('json', 'jsonl', 'csv')
EXTENSION_FORMATS = {'.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv'}

# The mode of the file without the mode option: readable by its owner only, whatever the umask.
DEFAULT_MODE = PRIVATE_MODE
_READ_CHUNK = 1024 * 1024


def format_for(dest, requested=None):
    """The explicit format, else the one ``dest``'s extension names, else json."""
    if requested:
        return requested
    return EXTENSION_FORMATS.get(os.path.splitext(dest)[1].lower(), 'json')


def check_dest(dest):
    """Fail before the query runs when ``dest`` cannot be written: a directory, or a missing or read-only parent."""
    if not dest or not dest.strip():
        raise AtpOptionError('dest is empty; give the path of the file to write.')
    if os.path.isdir(dest):
        raise AtpOptionError('dest %s is a directory; give the path of a file in it, for example %s.'
                             % (dest, os.path.join(dest, 'hunting.csv')))
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise AtpOptionError('The directory of dest (%s) does not exist; create it first, for example with ansible.builtin.file '
                             'and state=directory.' % parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AtpOptionError('The directory of dest (%s) is not writable by this user.' % parent)
    return os.path.abspath(dest)


_OCTAL_MODE_RE = re.compile(r'^(?:0o)?[0-7]{1,5}$')
_SYMBOLIC_CLAUSE_RE = re.compile(r'^(?P<who>[ugoa]*)(?P<actions>(?:[-+=](?:[rwxXst]*|[ugo]))+)$')
_CLASS_SHIFT = {'u': 6, 'g': 3, 'o': 0}
_SPECIAL_BIT = {'u': stat.S_ISUID, 'g': stat.S_ISGID, 'o': stat.S_ISVTX}


def parse_mode(value, base=DEFAULT_MODE, option='mode'):
    """The permission bits the ``mode`` option asks for, as ansible.builtin.copy reads it.

    An integer (YAML's ``0640``) is the mode itself; a string is octal (``'0640'``, ``'640'``) or symbolic
    (``'u=rw,g=r,o='``, ``'g+r'``), applied to ``base``. Who may be omitted (``'+r'`` means all, no umask).
    """
    if isinstance(value, bool):
        raise AtpOptionError('%s must be an octal mode such as \'0640\' or a symbolic one such as u=rw,g=r,o=; got %r.'
                             % (option, value))
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if _OCTAL_MODE_RE.match(text):
            mode = int(text, 8)
        else:
            mode = _apply_symbolic(text, base, option)
    if not 0 <= mode <= 0o7777:
        raise AtpOptionError('%s %r is out of range; give permission bits between 0000 and 7777 (octal), for example '
                             '\'0640\'.' % (option, value))
    return mode


def _apply_symbolic(text, base, option):
    mode = base & 0o7777
    clauses = text.split(',')
    for clause in clauses:
        match = _SYMBOLIC_CLAUSE_RE.match(clause)
        if not match:
            raise AtpOptionError('%s %r is neither an octal mode (\'0640\') nor a symbolic one (u=rw,g=r,o=); the part %r '
                                 'cannot be read.' % (option, text, clause))
        who = match.group('who') or 'a'
        classes = 'ugo' if 'a' in who else ''.join(c for c in 'ugo' if c in who)
        for operator, perms in re.findall(r'([-+=])([ugo]|[rwxXst]*)', match.group('actions')):
            for cls in classes:
                mode = _apply_to_class(mode, cls, operator, perms)
    return mode


def _apply_to_class(mode, cls, operator, perms):
    shift = _CLASS_SHIFT[cls]
    if perms in ('u', 'g', 'o'):
        wanted = (mode >> _CLASS_SHIFT[perms]) & 0o7  # copy another class's rwx (g=u)
        bits = wanted << shift
    else:
        bits = 0
        for perm in perms:
            if perm == 'r':
                bits |= 0o4 << shift
            elif perm == 'w':
                bits |= 0o2 << shift
            elif perm == 'x' or (perm == 'X' and mode & 0o111):  # X: only where someone may already execute
                bits |= 0o1 << shift
            elif perm == 's' and cls in 'ug':
                bits |= _SPECIAL_BIT[cls]
            elif perm == 't' and cls == 'o':
                bits |= _SPECIAL_BIT[cls]
    if operator == '+':
        return mode | bits
    if operator == '-':
        return mode & ~bits
    return (mode & ~((0o7 << shift) | _SPECIAL_BIT[cls])) | bits


def format_mode(mode):
    return '%04o' % mode


def existing_file(dest):
    """``os.lstat`` of ``dest``, or None when nothing is there."""
    try:
        return os.lstat(dest)
    except OSError:
        return None


def target_mode(dest, requested=None):
    """The mode the written file will have: 0600 without ``requested``, else ``requested`` read as copy reads it.

    A symbolic mode applies to the existing file's mode when this user owns that regular file, else to 0600.
    """
    if requested is None or requested == '':
        return DEFAULT_MODE
    current = existing_file(dest)
    base = DEFAULT_MODE
    if current is not None and stat.S_ISREG(current.st_mode) and current.st_uid == os.geteuid():
        base = stat.S_IMODE(current.st_mode)
    return parse_mode(requested, base)


def file_matches(dest, digest, size, mode):
    """Whether ``dest`` already is what would be written: a regular file of ours, with ``mode``, this size and hash.

    Anything else (missing, a symlink, another owner, another mode, other bytes) means the file changes. The
    existing file is read in chunks, never whole, and never through a symlink.
    """
    current = existing_file(dest)
    if current is None or not stat.S_ISREG(current.st_mode):
        return False
    if current.st_uid != os.geteuid() or stat.S_IMODE(current.st_mode) != mode or current.st_size != size:
        return False
    flags = os.O_RDONLY | O_NOFOLLOW | getattr(os, 'O_NONBLOCK', 0)
    try:
        fd = os.open(dest, flags)
    except OSError:
        return False
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (current.st_dev, current.st_ino):
            return False
        sha = hashlib.sha256()
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                break
            sha.update(chunk)
        return sha.hexdigest() == digest
    except OSError:
        return False
    finally:
        os.close(fd)


class HashingStream(object):
    """A text stream for the writers: encodes to UTF-8, hashes and counts the bytes, and writes them to ``raw`` if any.

    Without ``raw`` it only hashes, which is how check mode predicts ``changed`` without writing a byte.
    """

    def __init__(self, raw=None):
        self.raw = raw
        self._sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, text):
        data = text.encode('utf-8')
        self._sha.update(data)
        self.size += len(data)
        if self.raw is not None:
            self.raw.write(data)
        return len(text)

    def flush(self):
        if self.raw is not None:
            self.raw.flush()

    def close(self):
        if not self.closed:
            self.closed = True
            if self.raw is not None:
                self.raw.close()

    @property
    def digest(self):
        return self._sha.hexdigest()


def _dumps(row):
    return json.dumps(row, ensure_ascii=False, separators=(',', ':'))


class RowSink(object):
    """Receives a query's schema and rows one at a time; counts them, and writes them in subclasses."""

    def __init__(self, stream=None):
        self.stream = stream
        self.columns = None
        self.row_count = 0

    def schema(self, columns):
        if columns is not None:
            self.columns = columns

    def row(self, row):
        self.row_count += 1
        self._write(row)

    def _write(self, row):
        """Keep nothing: a bare sink only counts (check mode with ``dest``: the query runs, nothing is written)."""

    def finish(self):
        if self.stream is not None:
            self.stream.flush()


class JsonArrayWriter(RowSink):
    """One JSON array of row objects, one row per line."""

    def _write(self, row):
        self.stream.write(('[\n' if self.row_count == 1 else ',\n') + _dumps(row))

    def finish(self):
        self.stream.write('[]\n' if self.row_count == 0 else '\n]\n')
        super(JsonArrayWriter, self).finish()


class JsonLinesWriter(RowSink):
    """One JSON object per line (JSON Lines)."""

    def _write(self, row):
        self.stream.write(_dumps(row) + '\n')


def csv_cell(value):
    """How a value reads in CSV: null is empty, booleans are true/false, objects and arrays are JSON."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return _dumps(value)
    return value


# A spreadsheet runs a cell that starts with one of these as a formula (=cmd|'/C calc'!A0, @SUM(...), +HYPERLINK,
# -2+3+cmd...); tab and carriage return are on OWASP's list too, as some programs skip them before looking.
FORMULA_TRIGGERS = ('=', '+', '-', '@', '\t', '\r')
# A cell that is only a number (-1, +2.5, -3e4) is not a formula and keeps its value.
_PLAIN_NUMBER_RE = re.compile(r'^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$')


def neutralize_formula(cell):
    """A text cell a spreadsheet would evaluate, made inert with a leading ``'`` (OWASP's advice); others as they are."""
    if isinstance(cell, str) and cell.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER_RE.match(cell):
        return "'" + cell
    return cell


class CsvWriter(RowSink):
    """A header from the schema's column order, then one line per row; csv quotes commas, quotes and newlines.

    The header needs the schema. If rows come before it (the API promises no key order), they wait in a
    temporary JSON Lines file (next to the output, or in the system's temporary directory), never in memory.
    With ``escape_formulas``, every cell, header included, goes through ``neutralize_formula``.
    """

    def __init__(self, stream, spool_dir=None, escape_formulas=True):
        super(CsvWriter, self).__init__(stream)
        self.writer = csv.writer(stream, quoting=csv.QUOTE_MINIMAL)
        self.spool_dir = spool_dir
        self.escape_formulas = escape_formulas
        self._spool = None
        self._header = None

    def schema(self, columns):
        super(CsvWriter, self).schema(columns)
        if columns and self._header is None and self._spool is None:
            self._write_header([c['name'] for c in columns])

    def _write_line(self, cells):
        if self.escape_formulas:
            cells = [neutralize_formula(cell) for cell in cells]
        self.writer.writerow(cells)

    def _write_header(self, names):
        self._header = names
        self._write_line(names)

    def _write(self, row):
        if self._header is None:
            if self._spool is None:
                self._spool = tempfile.TemporaryFile(mode='w+', encoding='utf-8', dir=self.spool_dir)
            self._spool.write(_dumps(row) + '\n')
            return
        self._write_line([csv_cell(row.get(name)) for name in self._header])

    def finish(self):
        if self._spool is not None:
            self._replay_spool()
        elif self._header is None and self.columns:
            self._write_header([c['name'] for c in self.columns])
        super(CsvWriter, self).finish()

    def _replay_spool(self):
        spool, self._spool = self._spool, None
        try:
            spool.seek(0)
            first = True
            for line in spool:
                row = json.loads(line)
                if first:
                    names = [c['name'] for c in self.columns] if self.columns else list(row)
                    self._write_header(names)
                    first = False
                self._write_line([csv_cell(row.get(name)) for name in self._header])
        finally:
            spool.close()


WRITERS = {'json': JsonArrayWriter, 'jsonl': JsonLinesWriter, 'csv': CsvWriter}


def _writer(file_format, stream, spool_dir, escape_formulas):
    if file_format == 'csv':
        return CsvWriter(stream, spool_dir=spool_dir, escape_formulas=escape_formulas)
    return WRITERS[file_format](stream)


class RowFileDigest(object):
    """Check mode's stand-in for AtomicRowFile: the same writer over a hash, nothing written near ``dest``.

    ``commit()`` sets ``changed`` as AtomicRowFile would, by comparing the hash with the existing file.
    """

    def __init__(self, dest, file_format, mode=DEFAULT_MODE, escape_formulas=True):
        self.dest = dest
        self.format = file_format
        self.mode = mode
        self.changed = None
        self.stream = HashingStream()
        self.writer = _writer(file_format, self.stream, None, escape_formulas)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return False

    def commit(self):
        self.writer.finish()
        self.changed = not file_matches(self.dest, self.stream.digest, self.stream.size, self.mode)
        return self.changed


class AtomicRowFile(object):
    """A row writer on a ``_files.AtomicFile`` beside ``dest``; ``commit()`` puts it in place, ``discard()`` removes it.

    The temporary file has ``mode`` (0600 unless asked otherwise) before anything is written, so the rows are never
    readable more widely than asked, not even briefly, and it is renamed over ``dest``: the owner, mode and link-ness
    of a file that was there are never carried over. When ``dest`` already holds exactly these bytes with this mode
    and owner, it is left as it is and ``changed`` is false.
    """

    def __init__(self, dest, file_format, mode=DEFAULT_MODE, escape_formulas=True):
        self.dest = dest
        self.format = file_format
        self.mode = mode
        self.changed = None
        self.file = AtomicFile(dest, mode)
        self.stream = HashingStream(self.file.handle)
        self.writer = _writer(file_format, self.stream, os.path.dirname(os.path.abspath(dest)), escape_formulas)

    @property
    def temp_path(self):
        return self.file.temp_path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()
        return False

    def commit(self):
        """Finish the file; replace ``dest`` with it unless ``dest`` already holds the same. Returns ``changed``."""
        self.writer.finish()
        if file_matches(self.dest, self.stream.digest, self.stream.size, self.mode):
            self.changed = False
            self.discard()
            return False
        try:
            self.file.commit()
        except OSError as exc:
            raise AtpError('dest %s cannot be replaced: %s. Remove it, or choose a file in a directory this user may '
                           'change.' % (self.dest, exc.strerror or exc))
        self.changed = True
        return True

    def discard(self):
        self.stream.close()
        self.file.discard()
