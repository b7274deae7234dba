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

from ansible_collections.defender.atp.plugins.module_utils import _row_files as row_files
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._hunting import parse_response

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


def test_the_file_appears_only_on_commit(tmp_path, monkeypatch):
    dest = tmp_path / 'new.jsonl'
    moves = []
    real_replace = os.replace

    def replace(src, target):
        moves.append((os.path.dirname(src), target))
        real_replace(src, target)

    monkeypatch.setattr(os, 'replace', replace)
    with row_files.AtomicRowFile(str(dest), 'jsonl') as output:
        output.writer.row({'a': 1})
        assert not dest.exists()
        output.commit()
    assert dest.read_text(encoding='utf-8') == '{"a":1}\n'
    # The temporary file sits beside dest, so the rename never crosses file systems.
    assert moves == [(str(tmp_path), str(dest))]


# -- modes, owners, idempotence ----------------------------------------------------------------------------------------

def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.mark.parametrize('value, base, expected', [
    ('0640', 0o600, 0o640), ('640', 0o600, 0o640), ('0o640', 0o600, 0o640), ('0600', 0o644, 0o600), (0o640, 0o600, 0o640),
    ('u=rw,g=r,o=', 0o777, 0o640), ('g+r', 0o600, 0o640), ('a+r', 0o600, 0o644), ('+r', 0o600, 0o644),
    ('go-rwx', 0o666, 0o600), ('u=r', 0o600, 0o400), ('g=u', 0o640, 0o660), ('u+x,g+X', 0o600, 0o710),
    ('g+X', 0o600, 0o600), ('u=rw,go=', 0o644, 0o600), ('ug=rw,o=r', 0o600, 0o664), ('u+s', 0o600, 0o4600),
    ('o+t', 0o600, 0o1600), ('u+rw-x', 0o700, 0o600),
])
def test_parse_mode_reads_octal_and_symbolic_modes_as_copy_does(value, base, expected):
    assert row_files.parse_mode(value, base) == expected


@pytest.mark.parametrize('value', ['rw-r-----', 'u=rw;g=r', 'z+r', '0999', '99999', 0o17777, -1, True, 'u=rw,', ''])
def test_parse_mode_refuses_what_it_cannot_read(value):
    with pytest.raises(AtpOptionError) as caught:
        row_files.parse_mode(value)
    assert 'mode' in str(caught.value)


def test_target_mode_is_0600_without_a_mode_whatever_the_existing_file_has(tmp_path):
    dest = tmp_path / 'out.csv'
    assert row_files.target_mode(str(dest)) == 0o600
    dest.write_text('x', encoding='utf-8')
    dest.chmod(0o644)
    assert row_files.target_mode(str(dest)) == 0o600
    # A symbolic mode applies to the mode of our own existing file, as copy does.
    assert row_files.target_mode(str(dest), 'g-r') == 0o604


def test_a_new_file_is_0600_whatever_the_umask(tmp_path):
    umask = os.umask(0)
    try:
        dest = write(tmp_path, 'csv')
    finally:
        os.umask(umask)
    assert mode_of(dest) == 0o600


def test_the_requested_mode_is_on_the_temporary_file_before_the_first_byte(tmp_path):
    dest = tmp_path / 'shared.csv'
    with row_files.AtomicRowFile(str(dest), 'csv', mode=0o640) as output:
        assert mode_of(output.temp_path) == 0o640 and os.path.getsize(output.temp_path) == 0
        output.writer.schema(SCHEMA)
        output.writer.row(ROWS[0])
        assert output.commit() is True
    assert mode_of(dest) == 0o640


def test_an_existing_file_does_not_lend_its_mode(tmp_path):
    dest = tmp_path / 'out.json'
    dest.write_text('old', encoding='utf-8')
    dest.chmod(0o666)
    write(tmp_path, 'json', name='out.json')
    assert mode_of(dest) == 0o600


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0, reason='needs root to give a file to another user')
def test_a_file_owned_by_another_user_is_replaced_not_adopted(tmp_path):
    dest = tmp_path / 'out.csv'
    dest.write_text('theirs', encoding='utf-8')
    os.chown(str(dest), 4242, 4242)
    dest.chmod(0o644)
    with row_files.AtomicRowFile(str(dest), 'csv') as output:
        output.writer.schema(SCHEMA)
        output.writer.row(ROWS[0])
        assert output.commit() is True
    info = os.lstat(str(dest))
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o600)
    assert read_csv(str(dest))[0] == [c['name'] for c in SCHEMA]


def test_a_symlink_at_dest_is_replaced_not_followed(tmp_path):
    target = tmp_path / 'elsewhere.txt'
    target.write_text('untouched', encoding='utf-8')
    dest = tmp_path / 'out.json'
    dest.symlink_to(target)
    write(tmp_path, 'json', name='out.json')
    assert not dest.is_symlink() and json.loads(dest.read_text(encoding='utf-8')) == ROWS
    assert target.read_text(encoding='utf-8') == 'untouched'


def commit_rows(dest, file_format='csv', rows=None, mode=0o600):
    with row_files.AtomicRowFile(str(dest), file_format, mode=mode) as output:
        output.writer.schema(SCHEMA)
        for row in ROWS if rows is None else rows:
            output.writer.row(row)
        return output.commit()


@pytest.mark.parametrize('file_format', row_files.FORMATS)
def test_the_same_rows_again_change_nothing(tmp_path, file_format):
    dest = tmp_path / ('out.' + file_format)
    assert commit_rows(dest, file_format) is True
    before = os.lstat(str(dest))
    assert commit_rows(dest, file_format) is False
    after = os.lstat(str(dest))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not even rewritten
    assert os.listdir(str(tmp_path)) == [dest.name]  # and no temporary file left
    assert commit_rows(dest, file_format, rows=ROWS[:2]) is True
    assert commit_rows(dest, file_format, rows=ROWS[:2], mode=0o640) is True  # same bytes, another mode
    assert mode_of(dest) == 0o640


def test_the_existing_file_is_compared_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(row_files, '_READ_CHUNK', 7)
    dest = tmp_path / 'out.jsonl'
    assert commit_rows(dest, 'jsonl') is True
    assert commit_rows(dest, 'jsonl') is False
    data = dest.read_bytes()
    dest.write_bytes(data[:-2] + b'X\n')  # same size, one byte different near the end
    dest.chmod(0o600)
    assert commit_rows(dest, 'jsonl') is True


def test_the_digest_predicts_the_write_and_writes_nothing(tmp_path):
    dest = tmp_path / 'out.csv'
    probe = row_files.RowFileDigest(str(dest), 'csv')
    probe.writer.schema(SCHEMA)
    for row in ROWS:
        probe.writer.row(row)
    assert probe.commit() is True and os.listdir(str(tmp_path)) == []
    commit_rows(dest)
    probe = row_files.RowFileDigest(str(dest), 'csv')
    probe.writer.schema(SCHEMA)
    for row in ROWS:
        probe.writer.row(row)
    assert probe.commit() is False
    assert row_files.RowFileDigest(str(dest), 'csv', mode=0o644).commit() is True


# -- spreadsheet formulas ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cell, expected', [
    ('=HYPERLINK("http://x.invalid","y")', '\'=HYPERLINK("http://x.invalid","y")'), ('+cmd', "'+cmd"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ('@SUM(A1)', "'@SUM(A1)"), ('\t=1', "'\t=1"),
    ('\r=1', "'\r=1"), ('-NoProfile', "'-NoProfile"),
    ('-1', '-1'), ('+2.5', '+2.5'), ('-3e4', '-3e4'), ('a=b', 'a=b'), ('', ''), (' =1', ' =1'), (-2, -2), (None, None),
])
def test_neutralize_formula(cell, expected):
    assert row_files.neutralize_formula(cell) == expected


FORMULA_ROWS = [{'Timestamp': None, 'Text': '=cmd|\' /C calc\'!A0', 'Count': -2, 'Extra': '@SUM(1+1)'},
                {'Timestamp': None, 'Text': '-1', 'Count': None, 'Extra': ['=not a cell start']}]


@pytest.mark.parametrize('schema_after_rows', [False, True])
def test_csv_cells_that_would_run_as_formulas_are_neutralised(tmp_path, schema_after_rows):
    dest = write(tmp_path, 'csv', rows=FORMULA_ROWS, schema_after_rows=schema_after_rows)
    assert read_csv(dest)[1:] == [['', "'=cmd|' /C calc'!A0", '-2', "'@SUM(1+1)"], ['', '-1', '', '["=not a cell start"]']]


def test_formula_neutralising_can_be_turned_off(tmp_path):
    dest = tmp_path / 'raw.csv'
    with row_files.AtomicRowFile(str(dest), 'csv', escape_formulas=False) as output:
        output.writer.schema(SCHEMA)
        for row in FORMULA_ROWS:
            output.writer.row(row)
        output.commit()
    assert read_csv(str(dest))[1][1:] == ["=cmd|' /C calc'!A0", '-2', '@SUM(1+1)']


def test_json_keeps_formula_text_exactly(tmp_path):
    dest = write(tmp_path, 'json', rows=FORMULA_ROWS)
    with open(dest, encoding='utf-8') as handle:
        assert json.load(handle) == FORMULA_ROWS


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
