# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import io
import json
import os
import stat

import pytest

from ansible_collections.defender.atp.plugins.module_utils import row_files
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils.hunting import parse_response

SCHEMA = [{'name': 'Timestamp', 'type': 'DateTime'}, {'name': 'Text', 'type': 'String'},
          {'name': 'Count', 'type': 'Int64'}, {'name': 'Extra', 'type': 'Dynamic'}]
ROWS = [
    {'Timestamp': '2026-01-31T08:00:00.1234567Z', 'Text': 'plain', 'Count': 1, 'Extra': None},
    {'Timestamp': '2026-01-31T08:00:01Z', 'Text': 'comma, "quotes" and\nnewline\r\nand CRLF', 'Count': -2,
     'Extra': {'a': [1, 'x,y'], 'b': True}},
    {'Timestamp': '2026-01-31T08:00:02Z', 'Text': '\u00e9\u4e2d\U0001F600 \'single\' ;semi', 'Count': 0, 'Extra': [False]},
    {'Timestamp': None, 'Text': '', 'Count': None, 'Extra': 'text'},
]


DEFAULT = object()


def write(tmp_path, file_format, rows=DEFAULT, schema=DEFAULT, schema_after_rows=False, name=None):
    rows = ROWS if rows is DEFAULT else rows
    schema = SCHEMA if schema is DEFAULT else schema
    dest = str(tmp_path / (name or ('out.' + file_format)))
    with row_files.AtomicRowFile(dest, file_format) as output:
        if not schema_after_rows:
            output.writer.schema(schema)
        for row in rows:
            output.writer.row(row)
        if schema_after_rows:
            output.writer.schema(schema)
        output.commit()
    return dest


def read_csv(path):
    with open(path, newline='', encoding='utf-8') as handle:
        return list(csv.reader(handle))


def expected_csv_cell(value):
    return row_files.csv_cell(value) if not isinstance(value, int) or isinstance(value, bool) else str(value)


def test_json_is_one_array(tmp_path):
    dest = write(tmp_path, 'json')
    with open(dest, encoding='utf-8') as handle:
        assert json.load(handle) == ROWS


def test_jsonl_is_one_object_per_line(tmp_path):
    dest = write(tmp_path, 'jsonl')
    with open(dest, encoding='utf-8') as handle:
        lines = handle.read().split('\n')
    assert lines[-1] == ''
    assert [json.loads(line) for line in lines[:-1]] == ROWS


@pytest.mark.parametrize('file_format, content', [('json', '[]\n'), ('jsonl', ''), ('csv', 'Timestamp,Text,Count,Extra\r\n')])
def test_no_rows(tmp_path, file_format, content):
    dest = write(tmp_path, file_format, rows=[])
    with open(dest, newline='', encoding='utf-8') as handle:
        assert handle.read() == content


def test_csv_reads_back_exactly(tmp_path):
    dest = write(tmp_path, 'csv')
    table = read_csv(dest)
    assert table[0] == ['Timestamp', 'Text', 'Count', 'Extra']
    assert len(table) == 1 + len(ROWS)
    for line, row in zip(table[1:], ROWS):
        assert line == [expected_csv_cell(row[c['name']]) for c in SCHEMA]
    # The hard one, spelled out: commas, quotes and both kinds of line break come back unchanged.
    assert table[2][1] == 'comma, "quotes" and\nnewline\r\nand CRLF'
    assert json.loads(table[2][3]) == {'a': [1, 'x,y'], 'b': True}
    assert table[4] == ['', '', '', 'text']


def test_csv_follows_schema_order_not_row_key_order(tmp_path):
    rows = [{'b': 2, 'a': 1, 'c': 3}, {'c': 'z', 'a': 'x'}]
    dest = write(tmp_path, 'csv', rows=rows, schema=[{'name': 'a', 'type': 'x'}, {'name': 'b', 'type': 'x'}, {'name': 'c', 'type': 'x'}])
    assert read_csv(dest) == [['a', 'b', 'c'], ['1', '2', '3'], ['x', '', 'z']]


def test_csv_rows_before_the_schema_wait_in_a_spool(tmp_path):
    dest = write(tmp_path, 'csv', schema_after_rows=True)
    table = read_csv(dest)
    assert table[0] == ['Timestamp', 'Text', 'Count', 'Extra']
    assert table[2][1] == ROWS[1]['Text']
    assert os.listdir(str(tmp_path)) == ['out.csv']


def test_csv_without_any_schema_uses_the_first_rows_keys(tmp_path):
    dest = write(tmp_path, 'csv', rows=[{'x': 1, 'y': 'a,b'}, {'y': 'c', 'x': 2}], schema=None)
    assert read_csv(dest) == [['x', 'y'], ['1', 'a,b'], ['2', 'c']]


def test_csv_nothing_at_all(tmp_path):
    dest = write(tmp_path, 'csv', rows=[], schema=[])
    assert os.path.getsize(dest) == 0


@pytest.mark.parametrize('value, cell', [(None, ''), (True, 'true'), (False, 'false'), ({'a': 1}, '{"a":1}'), ([1, 'b'], '[1,"b"]'),
                                         ('x', 'x'), (3, 3), (2.5, 2.5)])
def test_csv_cells(value, cell):
    assert row_files.csv_cell(value) == cell


def test_parsed_answer_to_csv_end_to_end(tmp_path):
    # The parser and the CSV writer together, fed one character at a time, with Results before Schema.
    answer = json.dumps({'results': ROWS, 'schema': [{'Name': c['name'], 'Type': c['type']} for c in SCHEMA]})
    dest = str(tmp_path / 'hunt.csv')
    with row_files.AtomicRowFile(dest, 'csv') as output:
        parse_response(list(answer), output.writer)
        output.commit()
    table = read_csv(dest)
    assert table[0] == [c['name'] for c in SCHEMA]
    assert [line[1] for line in table[1:]] == [row['Text'] for row in ROWS]


def test_a_failure_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    dest = tmp_path / 'keep.json'
    dest.write_text('previous', encoding='utf-8')
    with pytest.raises(RuntimeError):
        with row_files.AtomicRowFile(str(dest), 'json') as output:
            output.writer.row({'a': 1})
            raise RuntimeError('the connection broke')
    assert dest.read_text(encoding='utf-8') == 'previous'
    assert os.listdir(str(tmp_path)) == ['keep.json']


def test_the_file_appears_only_on_commit(tmp_path):
    dest = tmp_path / 'new.jsonl'
    moves = []

    def move(src, target):
        moves.append((os.path.dirname(src), target))
        os.replace(src, target)

    with row_files.AtomicRowFile(str(dest), 'jsonl', move=move) as output:
        output.writer.row({'a': 1})
        assert not dest.exists()
        output.commit()
    assert dest.read_text(encoding='utf-8') == '{"a":1}\n'
    # The temporary file sits beside dest, so the rename never crosses file systems.
    assert moves == [(str(tmp_path), str(dest))]


@pytest.mark.parametrize('dest, requested, expected', [
    ('a.csv', None, 'csv'), ('a.CSV', None, 'csv'), ('a.jsonl', None, 'jsonl'), ('a.ndjson', None, 'jsonl'),
    ('a.json', None, 'json'), ('a.txt', None, 'json'), ('a', None, 'json'), ('a.csv', 'jsonl', 'jsonl'),
])
def test_format_for(dest, requested, expected):
    assert row_files.format_for(dest, requested) == expected


def test_check_dest_accepts_a_new_file(tmp_path):
    assert row_files.check_dest(str(tmp_path / 'x.csv')) == str(tmp_path / 'x.csv')


def test_check_dest_missing_directory(tmp_path):
    with pytest.raises(AtpOptionError) as caught:
        row_files.check_dest(str(tmp_path / 'missing' / 'x.csv'))
    assert 'does not exist; create it first' in str(caught.value)


def test_check_dest_is_a_directory(tmp_path):
    with pytest.raises(AtpOptionError) as caught:
        row_files.check_dest(str(tmp_path))
    assert 'is a directory' in str(caught.value)


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0, reason='root can write anywhere')
def test_check_dest_read_only_directory(tmp_path):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(AtpOptionError) as caught:
            row_files.check_dest(str(locked / 'x.csv'))
        assert 'not writable' in str(caught.value)
    finally:
        locked.chmod(stat.S_IRWXU)


def test_writers_are_streaming(tmp_path):
    # Each row reaches the file object as it comes, not at the end.
    stream = io.StringIO()
    writer = row_files.JsonLinesWriter(stream)
    writer.row({'a': 1})
    assert stream.getvalue() == '{"a":1}\n'
    writer = row_files.CsvWriter(io.StringIO())
    writer.schema([{'name': 'a', 'type': 'x'}])
    writer.row({'a': 'v'})
    assert writer.stream.getvalue() == 'a\r\nv\r\n'
