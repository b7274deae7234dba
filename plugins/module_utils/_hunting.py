# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Advanced hunting: run a KQL query on Microsoft Graph or the Defender API, and read the answer as a stream.

Both backends answer ``{schema, results}`` but spell the keys differently (``Schema``/``Results`` with
``Name``/``Type``; ``schema``/``results`` with ``name``/``type`` or ``Name``/``Type``), and put them in
no promised order. The answer is parsed incrementally, one row at a time, and each row is handed to a
sink (a list, or a file writer), so writing 100,000 rows to a file never holds them all in memory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import codecs
import json
import re

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpOptionError, AtpTransportError

DEFENDER_PATH = '/api/advancedqueries/run'
GRAPH_PATH = '/v1.0/security/runHuntingQuery'
APIS = ('graph', 'defender')
READ_CHUNK = 64 * 1024
# Drop the consumed part of the text buffer once it is this long (keeps memory flat, copies rarely).
COMPACT_AFTER = 1024 * 1024
_WHITESPACE = re.compile(r'[ \t\n\r]*')
_DECODER = json.JSONDecoder()


# -- requests ---------------------------------------------------------------------------------

def build_request(api, query, timespan=None):
    """``(path, body)`` of a hunting request. Body keys are case-sensitive: ``Query``, ``Timespan``."""
    if api not in APIS:
        raise AtpOptionError('api must be one of %s, got %r.' % (', '.join(APIS), api))
    if not isinstance(query, str) or not query.strip():
        raise AtpOptionError('query is empty; give a KQL query such as "DeviceProcessEvents | take 10".')
    body = {'Query': query}
    if api == 'defender':
        if timespan:
            raise AtpOptionError('timespan only applies to api=graph; the Defender advanced hunting API has no such parameter. '
                                 'Filter on Timestamp in the query instead (| where Timestamp > ago(7d)), or use api=graph.')
        return DEFENDER_PATH, body
    if timespan:
        body['Timespan'] = timespan
    return GRAPH_PATH, body


def run_query(client, api, query, sink, timespan=None):
    """Run a query and feed its schema and rows to ``sink``; return the other top-level fields (stats).

    The query only reads, so it is retried like a GET on 5xx and connection errors (``idempotent``).
    """
    path, body = build_request(api, query, timespan)
    what = 'Hunting query (%s)' % ('Graph runHuntingQuery' if api == 'graph' else 'Defender advancedqueries/run')
    response = client.request('POST', path, api=api, json_body=body, idempotent=True, expected=(200,), what=what,
                              stream=True)
    try:
        return parse_response(_text_chunks(response, what), sink)
    except HuntingParseError as exc:
        raise AtpApiError('%s: HTTP %d, but the answer is not a hunting result: %s.' % (what, response.status_code, exc),
                          status=response.status_code)
    finally:
        response.close()


def _text_chunks(response, what):
    """The body as text chunks; a connection that breaks mid-answer becomes an AtpTransportError."""
    decoder = codecs.getincrementaldecoder('utf-8')()
    try:
        for chunk in response.iter_content(chunk_size=READ_CHUNK):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b'', final=True)
    except UnicodeDecodeError as exc:
        raise HuntingParseError('the answer is not UTF-8 (%s)' % exc)
    except (IOError, OSError) as exc:  # requests' ChunkedEncodingError, ConnectionError, ReadTimeout
        raise AtpTransportError('%s: the connection broke while the result was being read (%s); nothing was written. '
                                'Run it again, or raise timeout.' % (what, exc))
    if tail:
        yield tail


# -- the answer -------------------------------------------------------------------------------

def _get(mapping, name):
    """``mapping[name]`` with the key compared case-insensitively (Name/name, Results/results)."""
    if name in mapping:
        return mapping[name]
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def normalize_schema(schema):
    """``[{Name, Type}]`` or ``[{name, type}]`` -> ``[{name, type}]``."""
    if not isinstance(schema, list):
        return []
    columns = []
    for column in schema:
        if isinstance(column, dict):
            columns.append({'name': _get(column, 'name'), 'type': _get(column, 'type')})
    return columns


def normalize_stats(fields):
    """The ``Stats`` the Defender API adds (Graph gives none); None when absent."""
    for key, value in fields.items():
        if key.lower() == 'stats':
            return value
    return None


class HuntingParseError(ValueError):
    pass


class _TextStream(object):
    """A sliding text buffer over chunks, from which JSON tokens and values are read one at a time."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self.buffer = ''
        self.pos = 0
        self.eof = False

    def _more(self):
        """Append the next chunk; False at the end of the input."""
        for chunk in self._chunks:
            if not chunk:
                continue
            if self.pos >= COMPACT_AFTER:
                self.buffer = self.buffer[self.pos:]
                self.pos = 0
            self.buffer += chunk
            return True
        self.eof = True
        return False

    def peek(self):
        """The next character that is not whitespace ('' at the end)."""
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ''

    def expect(self, allowed):
        char = self.peek()
        if not char or char not in allowed:
            raise HuntingParseError('expected %s at character %d, found %s' % (
                ' or '.join(repr(c) for c in allowed), self.pos, repr(char) if char else 'the end'))
        self.pos += 1
        return char

    def value(self):
        """Decode the next JSON value, reading more input until it is complete."""
        if not self.peek():
            raise HuntingParseError('the answer ends early')
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except ValueError as exc:
                if self._more():
                    continue
                raise HuntingParseError('invalid JSON (%s)' % exc)
            # A value that ends exactly at the end of the buffer may be a cut number (12|34): read on to be sure.
            if end < len(self.buffer) or not self._more():
                self.pos = end
                return value


def parse_response(chunks, sink):
    """Parse a hunting answer from text ``chunks``: ``sink.schema(columns)`` once, ``sink.row(row)`` per row.

    Returns ``{'stats': ...}`` (None when the API gave none). Rows are read one by one from inside the
    results array, whatever the key order, so memory does not grow with the number of rows.
    """
    stream = _TextStream(chunks)
    stream.expect('{')
    other = {}
    schema_seen = False
    if stream.peek() == '}':
        stream.pos += 1
    else:
        while True:
            key = stream.value()
            if not isinstance(key, str):
                raise HuntingParseError('expected a field name, found %r' % (key,))
            stream.expect(':')
            if key.lower() == 'results':
                _stream_rows(stream, sink)
            elif key.lower() == 'schema':
                sink.schema(normalize_schema(stream.value()))
                schema_seen = True
            else:
                other[key] = stream.value()
            if stream.expect(',}') == '}':
                break
    if not schema_seen:
        sink.schema(None)
    return {'stats': normalize_stats(other)}


def _stream_rows(stream, sink):
    if stream.peek() == 'n':
        if stream.value() is not None:
            raise HuntingParseError('results is neither a list nor null')
        return
    stream.expect('[')
    if stream.peek() == ']':
        stream.pos += 1
        return
    while True:
        row = stream.value()
        if not isinstance(row, dict):
            raise HuntingParseError('a result row is not an object: %r' % (row,))
        sink.row(row)
        if stream.expect(',]') == ']':
            return


# -- sinks: where rows go -----------------------------------------------------------------------

class RowCollector(object):
    """Keeps the rows in a list (the module returns them)."""

    def __init__(self):
        self.columns = None
        self.rows = []

    @property
    def row_count(self):
        return len(self.rows)

    def schema(self, columns):
        if columns is not None:
            self.columns = columns

    def row(self, row):
        self.rows.append(row)
