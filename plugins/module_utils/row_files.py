# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Writing result rows to a file as JSON, JSON Lines or CSV, one row at a time, replacing the file atomically.

A writer is a sink for ``hunting.parse_response``: ``schema(columns)``, then ``row(row)`` per row, then
``finish()``. Rows are written as they arrive, so memory stays flat whatever their number. The file
appears under its name only when complete (temporary file in the same directory, then a rename), so a
failed query never leaves half a file or clobbers the previous one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import io
import json
import os
import tempfile

from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError

FORMATS = ('json', 'jsonl', 'csv')
EXTENSION_FORMATS = {'.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv'}


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


def _open_text(fileobj_or_fd):
    # newline='' writes '\n' as is in JSON, and lets csv write its own CRLF line ends (RFC 4180).
    return io.open(fileobj_or_fd, 'w', encoding='utf-8', newline='')


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


class CsvWriter(RowSink):
    """A header from the schema's column order, then one line per row; csv quotes commas, quotes and newlines.

    The header needs the schema. If rows come before it (the API promises no key order), they wait in a
    temporary JSON Lines file next to the output, never in memory.
    """

    def __init__(self, stream, spool_dir=None):
        super(CsvWriter, self).__init__(stream)
        self.writer = csv.writer(stream, quoting=csv.QUOTE_MINIMAL)
        self.spool_dir = spool_dir
        self._spool = None
        self._header = None

    def schema(self, columns):
        super(CsvWriter, self).schema(columns)
        if columns and self._header is None and self._spool is None:
            self._write_header([c['name'] for c in columns])

    def _write_header(self, names):
        self._header = names
        self.writer.writerow(names)

    def _write(self, row):
        if self._header is None:
            if self._spool is None:
                self._spool = tempfile.TemporaryFile(mode='w+', encoding='utf-8', dir=self.spool_dir)
            self._spool.write(_dumps(row) + '\n')
            return
        self.writer.writerow([csv_cell(row.get(name)) for name in self._header])

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
                self.writer.writerow([csv_cell(row.get(name)) for name in self._header])
        finally:
            spool.close()


WRITERS = {'json': JsonArrayWriter, 'jsonl': JsonLinesWriter, 'csv': CsvWriter}


class AtomicRowFile(object):
    """A row writer on a temporary file beside ``dest``; ``commit()`` renames it into place, ``discard()`` removes it.

    ``move(src, dest)`` does the rename; the module passes ``AnsibleModule.atomic_move`` so a new file
    gets the usual permissions (umask) and an existing one keeps its owner, mode and SELinux context.
    """

    def __init__(self, dest, file_format, move=os.replace):
        self.dest = dest
        self.format = file_format
        self.move = move
        directory = os.path.dirname(os.path.abspath(dest))
        fd, self.temp_path = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(dest), suffix='.part')
        try:
            self.stream = _open_text(fd)
        except Exception:
            os.close(fd)
            os.unlink(self.temp_path)
            raise
        if file_format == 'csv':
            self.writer = CsvWriter(self.stream, spool_dir=directory)
        else:
            self.writer = WRITERS[file_format](self.stream)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()
        return False

    def commit(self):
        self.writer.finish()
        self.stream.close()
        self.move(self.temp_path, self.dest)
        self.temp_path = None

    def discard(self):
        if not self.stream.closed:
            self.stream.close()
        if self.temp_path and os.path.exists(self.temp_path):
            os.unlink(self.temp_path)
        self.temp_path = None
