# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_query run in-process against the emulator: both backends, both schema spellings, files, quotas, errors."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import datetime
import json
import os
import stat
import tracemalloc

import pytest
import yaml

from ansible_collections.defender.atp.plugins.modules import atp_query
from ansible_collections.defender.atp.plugins.modules import atp_token
from ansible_collections.defender.atp.plugins.module_utils._row_files import csv_cell
from ansible_collections.defender.atp.plugins.module_utils._time import parse_instant

UTC = datetime.timezone.utc
ORDERED = 'DeviceProcessEvents | order by ReportId asc | take 40'
PROCESS_COLUMNS = ['Timestamp', 'DeviceId', 'DeviceName', 'ActionType', 'FileName', 'FolderPath', 'ProcessId',
                   'ProcessCommandLine', 'AccountName', 'InitiatingProcessFileName', 'ReportId']
GRAPH_PATH = '/v1.0/security/runHuntingQuery'
DEFENDER_PATH = '/api/advancedqueries/run'
CPU_QUOTA = ('You have exceeded processing resources allocated to this tenant. You can run queries again in 00:14:12.')


def hunting_calls(emulator):
    return [e for e in emulator.requests_log() if e['path'] in (GRAPH_PATH, DEFENDER_PATH)]


def query(run_module, conn, check_mode=False, **args):
    result = run_module(atp_query.main, dict(conn, **args), check_mode=check_mode)
    return result


def ok(result):
    assert not result.get('failed'), result.get('msg')
    return result


@pytest.fixture
def reference_rows(run_module, conn):
    """The rows of ORDERED as returned (no dest), to compare files against."""
    return ok(query(run_module, conn, query=ORDERED))['rows']


# -- the two backends --------------------------------------------------------------------------------------------------

def test_graph_is_the_default(run_module, emulator, conn):
    result = ok(query(run_module, conn, query='DeviceProcessEvents | take 5'))
    assert result['changed'] is False and result['api'] == 'graph'
    assert result['row_count'] == len(result['rows']) == 5
    assert [c['name'] for c in result['schema']] == PROCESS_COLUMNS
    assert all(set(c) == {'name', 'type'} for c in result['schema'])
    assert 'stats' not in result  # Graph gives none
    assert [e['path'] for e in hunting_calls(emulator)] == [GRAPH_PATH]
    tokens = [e for e in emulator.requests_log() if e['family'] == 'token']
    assert len(tokens) == 1


def test_defender_backend_has_stats(run_module, emulator, conn):
    result = ok(query(run_module, conn, api='defender', query='DeviceProcessEvents | take 5'))
    assert result['api'] == 'defender' and result['row_count'] == 5
    assert [c['name'] for c in result['schema']] == PROCESS_COLUMNS
    assert 'ExecutionTime' in result['stats']
    assert [e['path'] for e in hunting_calls(emulator)] == [DEFENDER_PATH]


def test_both_backends_give_the_same_answer(run_module, conn, reference_rows):
    defender = ok(query(run_module, conn, api='defender', query=ORDERED))
    assert defender['rows'] == reference_rows
    assert len(reference_rows) == 40


@pytest.mark.parametrize('api, case', [('graph', 'upper'), ('graph', 'lower'), ('defender', 'lower'), ('defender', 'upper')])
def test_schema_spellings_are_normalised(run_module, emulator, conn, api, case):
    expected = ok(query(run_module, conn, api=api, query=ORDERED))
    emulator.set_config(schema_case=case)
    result = ok(query(run_module, conn, api=api, query=ORDERED))
    assert result['schema'] == expected['schema']
    assert result['schema'][0] == {'name': 'Timestamp', 'type': 'DateTime'}
    assert result['rows'] == expected['rows']


@pytest.mark.parametrize('api', ['graph', 'defender'])
def test_multi_line_query(run_module, conn, api):
    text = ("// PowerShell children, newest first\n"
            "DeviceProcessEvents\n"
            "\t| where InitiatingProcessFileName =~ 'powershell.exe'\n"
            "  | where ProcessCommandLine contains \"\\\\\"   // a backslash, in a double-quoted KQL string\n"
            "| project Timestamp, FileName, ProcessCommandLine\n"
            "| take 10\n")
    result = ok(query(run_module, conn, api=api, query=text))
    assert [c['name'] for c in result['schema']] == ['Timestamp', 'FileName', 'ProcessCommandLine']
    assert 0 < result['row_count'] <= 10
    assert all('\\' in row['ProcessCommandLine'] for row in result['rows'])


def test_summarize(run_module, conn):
    result = ok(query(run_module, conn, query='DeviceProcessEvents | summarize Events = count() by FileName'))
    assert [c['name'] for c in result['schema']] == ['FileName', 'Events']
    assert sum(row['Events'] for row in result['rows']) == 500


# -- timespan ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('timespan, hours', [('PT6H', 6), ('12h', 12), ('P1D', 24), ('2d', 48)])
def test_graph_timespan(run_module, conn, timespan, hours):
    before = datetime.datetime.now(UTC)
    result = ok(query(run_module, conn, query='DeviceProcessEvents | project Timestamp', timespan=timespan))
    everything = ok(query(run_module, conn, query='DeviceProcessEvents | project Timestamp'))
    floor = before - datetime.timedelta(hours=hours)
    assert 0 < result['row_count'] < everything['row_count']
    assert all(parse_instant(r['Timestamp']) >= floor - datetime.timedelta(minutes=1) for r in result['rows'])
    inside = [r for r in everything['rows'] if parse_instant(r['Timestamp']) > floor + datetime.timedelta(minutes=1)]
    assert result['row_count'] >= len(inside)


# -- dest ------------------------------------------------------------------------------------------------------------

def test_dest_json(run_module, conn, tmp_path, reference_rows):
    dest = tmp_path / 'out.json'
    result = ok(query(run_module, conn, query=ORDERED, dest=str(dest)))
    assert result['dest'] == str(dest) and result['format'] == 'json'
    assert 'rows' not in result and result['row_count'] == 40
    assert [c['name'] for c in result['schema']] == PROCESS_COLUMNS
    assert json.loads(dest.read_text(encoding='utf-8')) == reference_rows


def test_dest_jsonl(run_module, conn, tmp_path, reference_rows):
    dest = tmp_path / 'out.jsonl'
    result = ok(query(run_module, conn, api='defender', query=ORDERED, dest=str(dest)))
    assert result['format'] == 'jsonl'
    lines = dest.read_text(encoding='utf-8').splitlines()
    assert [json.loads(line) for line in lines] == reference_rows


def test_dest_csv_survives_commas_quotes_and_newlines(run_module, conn, tmp_path, reference_rows):
    dest = tmp_path / 'out.csv'
    result = ok(query(run_module, conn, query=ORDERED, dest=str(dest)))
    assert result['format'] == 'csv'
    with open(str(dest), newline='', encoding='utf-8') as handle:
        table = list(csv.reader(handle))
    assert table[0] == PROCESS_COLUMNS
    assert table[1:] == [[str(csv_cell(row[name])) for name in PROCESS_COLUMNS] for row in reference_rows]
    lines = [row['ProcessCommandLine'] for row in reference_rows]
    # The emulator's command lines carry all three hazards; make sure this sample does too.
    assert any(',' in v for v in lines) and any('"' in v for v in lines) and any('\n' in v for v in lines)


def test_format_overrides_the_extension(run_module, conn, tmp_path):
    dest = tmp_path / 'export.txt'
    result = ok(query(run_module, conn, query='DeviceInfo | project DeviceName, OSPlatform | take 3', dest=str(dest), format='csv'))
    assert result['format'] == 'csv'
    assert dest.read_bytes().startswith(b'DeviceName,OSPlatform\r\n')


def test_unknown_extension_defaults_to_json(run_module, conn, tmp_path):
    dest = tmp_path / 'export.out'
    result = ok(query(run_module, conn, query='DeviceInfo | take 2', dest=str(dest)))
    assert result['format'] == 'json' and len(json.loads(dest.read_text(encoding='utf-8'))) == 2


def test_dest_replaces_an_existing_file(run_module, conn, tmp_path):
    dest = tmp_path / 'out.jsonl'
    dest.write_text('old content\n' * 1000, encoding='utf-8')
    ok(query(run_module, conn, query='DeviceInfo | take 1', dest=str(dest)))
    assert len(dest.read_text(encoding='utf-8').splitlines()) == 1
    assert os.listdir(str(tmp_path)) == ['out.jsonl']


def file_mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def test_a_new_file_is_private_whatever_the_umask(run_module, conn, tmp_path):
    umask = os.umask(0o022)
    try:
        new = tmp_path / 'new.csv'
        result = ok(query(run_module, conn, query='DeviceInfo | take 1', dest=str(new)))
    finally:
        os.umask(umask)
    assert file_mode(new) == 0o600 and result['mode'] == '0600'


def test_an_existing_file_is_made_private_too(run_module, conn, tmp_path):
    shared = tmp_path / 'shared.csv'
    shared.write_text('x', encoding='utf-8')
    shared.chmod(0o644)
    ok(query(run_module, conn, query='DeviceInfo | take 1', dest=str(shared)))
    assert file_mode(shared) == 0o600 and shared.read_text(encoding='utf-8') != 'x'


@pytest.mark.parametrize('mode, expected', [('0640', 0o640), (0o640, 0o640), ('u=rw,g=r,o=', 0o640), ('g+r', 0o640)])
def test_mode_option(run_module, conn, tmp_path, mode, expected):
    dest = tmp_path / 'out.jsonl'
    result = ok(query(run_module, conn, query='DeviceInfo | take 1', dest=str(dest), mode=mode))
    assert file_mode(dest) == expected and result['mode'] == '%04o' % expected


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0, reason='needs root to give a file to another user')
def test_a_file_owned_by_another_user_lends_neither_owner_nor_mode(run_module, conn, tmp_path):
    theirs = tmp_path / 'theirs.csv'
    theirs.write_text('x', encoding='utf-8')
    os.chown(str(theirs), 4242, 4242)
    theirs.chmod(0o644)
    ok(query(run_module, conn, query='DeviceInfo | take 1', dest=str(theirs)))
    info = os.lstat(str(theirs))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), os.getegid(), 0o600)


@pytest.mark.parametrize('name', ['out.json', 'out.jsonl', 'out.csv'])
def test_the_same_rows_again_are_not_a_change(run_module, conn, tmp_path, name):
    dest = tmp_path / name
    first = ok(query(run_module, conn, query=ORDERED, dest=str(dest)))
    written = dest.stat()
    again = ok(query(run_module, conn, query=ORDERED, dest=str(dest)))
    assert first['changed'] is True and again['changed'] is False
    assert (dest.stat().st_ino, dest.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    other = ok(query(run_module, conn, query='DeviceProcessEvents | order by ReportId asc | take 39', dest=str(dest)))
    assert other['changed'] is True and other['row_count'] == 39
    remoded = ok(query(run_module, conn, query='DeviceProcessEvents | order by ReportId asc | take 39', dest=str(dest),
                       mode='0640'))
    assert remoded['changed'] is True and file_mode(dest) == 0o640
    assert os.listdir(str(tmp_path)) == [name]


def test_check_mode_runs_the_query_but_writes_nothing(run_module, emulator, conn, tmp_path):
    dest = tmp_path / 'out.csv'
    dest.write_text('previous', encoding='utf-8')
    result = ok(query(run_module, conn, check_mode=True, query=ORDERED, dest=str(dest)))
    assert result['changed'] is True and result['row_count'] == 40 and result['dest'] == str(dest)
    assert dest.read_text(encoding='utf-8') == 'previous'
    assert os.listdir(str(tmp_path)) == ['out.csv']
    assert len(hunting_calls(emulator)) == 1


def test_check_mode_predicts_no_change_for_the_same_rows(run_module, conn, tmp_path):
    dest = tmp_path / 'out.csv'
    assert ok(query(run_module, conn, check_mode=True, query=ORDERED, dest=str(dest)))['changed'] is True
    assert not dest.exists()
    ok(query(run_module, conn, query=ORDERED, dest=str(dest)))
    assert ok(query(run_module, conn, check_mode=True, query=ORDERED, dest=str(dest)))['changed'] is False
    assert ok(query(run_module, conn, check_mode=True, query=ORDERED, dest=str(dest), mode='0644'))['changed'] is True
    assert file_mode(dest) == 0o600


RECENT = (datetime.datetime.now(UTC) - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
FORMULA_EVENTS = [
    {'Timestamp': RECENT, 'DeviceName': 'ws-1', 'FileName': '=HYPERLINK("http://evil.invalid","open")',
     'ProcessCommandLine': "=cmd|' /C calc'!A0", 'AccountName': '@SUM(1+1)', 'ProcessId': -1, 'ReportId': 1},
    {'Timestamp': RECENT, 'DeviceName': 'ws-2', 'FileName': '+x.exe', 'ProcessCommandLine': '-2+3+cmd',
     'AccountName': '\tbob', 'ProcessId': 7, 'ReportId': 2},
]
FORMULA_QUERY = 'DeviceProcessEvents | order by ReportId asc | project DeviceName, FileName, ProcessCommandLine, AccountName, ProcessId'


def test_csv_formulas_from_the_api_are_neutralised(run_module, emulator, conn, tmp_path):
    emulator.set_data(hunting={'DeviceProcessEvents': FORMULA_EVENTS})
    dest = tmp_path / 'hunt.csv'
    ok(query(run_module, conn, query=FORMULA_QUERY, dest=str(dest)))
    with open(str(dest), newline='', encoding='utf-8') as handle:
        table = list(csv.reader(handle))
    assert table == [['DeviceName', 'FileName', 'ProcessCommandLine', 'AccountName', 'ProcessId'],
                     ['ws-1', '\'=HYPERLINK("http://evil.invalid","open")', "'=cmd|' /C calc'!A0", "'@SUM(1+1)", '-1'],
                     ['ws-2', "'+x.exe", "'-2+3+cmd", "'\tbob", '7']]


def test_csv_formula_escaping_can_be_turned_off(run_module, emulator, conn, tmp_path):
    emulator.set_data(hunting={'DeviceProcessEvents': FORMULA_EVENTS})
    dest = tmp_path / 'hunt.csv'
    ok(query(run_module, conn, query=FORMULA_QUERY, dest=str(dest), csv_escape_formulas=False))
    with open(str(dest), newline='', encoding='utf-8') as handle:
        table = list(csv.reader(handle))
    assert [line[2] for line in table[1:]] == [e['ProcessCommandLine'] for e in FORMULA_EVENTS]


def test_check_mode_without_dest_returns_rows(run_module, conn):
    result = ok(query(run_module, conn, check_mode=True, query='DeviceInfo | take 2'))
    assert result['changed'] is False and len(result['rows']) == 2


def test_a_failed_query_keeps_the_previous_file(run_module, emulator, conn, tmp_path):
    dest = tmp_path / 'out.json'
    dest.write_text('[]\n', encoding='utf-8')
    result = query(run_module, conn, query='NoSuchTable | take 1', dest=str(dest))
    assert result['failed'] and "Failed to resolve table or column expression named 'NoSuchTable'" in result['msg']
    assert dest.read_text(encoding='utf-8') == '[]\n'
    assert os.listdir(str(tmp_path)) == ['out.json']


def test_a_dropped_connection_leaves_no_file(run_module, emulator, conn, tmp_path):
    emulator.add_fault(path='^/v1.0/security/runHuntingQuery$', drop=True, times=10)
    dest = tmp_path / 'out.csv'
    result = query(run_module, conn, query='DeviceInfo | take 1', dest=str(dest), max_retries=1)
    assert result['failed']
    assert os.listdir(str(tmp_path)) == []


def test_memory_stays_flat_writing_a_large_result(run_module, emulator, conn, tmp_path):
    emulator.set_data(generate={'hunting_rows': 30000})
    try:
        ok(query(run_module, conn, query='DeviceInfo | take 1'))  # warm up imports and the token
        dest = tmp_path / 'big.csv'
        tracemalloc.start()
        try:
            result = ok(query(run_module, conn, query='DeviceProcessEvents', dest=str(dest)))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result['row_count'] == 30000
        size = dest.stat().st_size
        assert size > 5 * 1024 * 1024
        # The whole answer is about 1.5 times the file; parsing it at once would need several times that.
        assert peak < size / 2, 'peak %d bytes for a %d-byte file' % (peak, size)
    finally:
        emulator.reset(all=True)


# -- quotas and API errors -----------------------------------------------------------------------------------------------

def test_429_with_retry_after_waits_and_succeeds(run_module, emulator, conn):
    emulator.add_fault(path='^/v1.0/security/runHuntingQuery$', status=429, retry_after='1', times=1,
                       body={'error': {'code': 'TooManyRequests', 'message': 'API calls quota exceeded! maximum allowed 45 per 00:01:00.'}})
    result = ok(query(run_module, conn, query='DeviceInfo | take 1'))
    assert result['http_stats']['throttled'] == 1 and result['http_stats']['waited_seconds'] >= 1
    assert [e['status'] for e in hunting_calls(emulator)] == [429, 200]


def test_429_without_retry_after_backs_off_and_succeeds(run_module, emulator, conn):
    emulator.add_fault(path='^/api/advancedqueries/run$', status=429, times=1,
                       body={'error': {'code': 'TooManyRequests', 'message': CPU_QUOTA}})
    result = ok(query(run_module, conn, api='defender', query='DeviceInfo | take 1'))
    assert result['http_stats']['throttled'] == 1 and 0 < result['http_stats']['waited_seconds'] <= 1
    assert [e['status'] for e in hunting_calls(emulator)] == [429, 200]


def test_cpu_quota_beyond_the_retries_names_the_quota(run_module, emulator, conn):
    emulator.add_fault(path='^/api/advancedqueries/run$', status=429, retry_after='1', times=5,
                       body={'error': {'code': 'TooManyRequests', 'message': CPU_QUOTA}})
    result = query(run_module, conn, api='defender', query='DeviceInfo | take 1', max_retries=1)
    assert result['failed'] and result['status'] == 429
    assert CPU_QUOTA.rstrip('.') in result['msg']
    assert 'still throttled after 2 attempt(s)' in result['msg'].lower()
    assert len(hunting_calls(emulator)) == 2


def test_call_count_quota_from_the_rate_limiter(run_module, emulator, conn):
    # One call per (scaled) minute: the second call is throttled by the emulator's own limiter.
    emulator.set_config(rate_limits={'graph_hunting': {'per_minute': 1, 'per_hour': 100}})
    ok(query(run_module, conn, query='DeviceInfo | take 1'))
    result = query(run_module, conn, query='DeviceInfo | take 1', max_retries=0)
    assert result['failed'] and result['status'] == 429
    assert 'API calls quota exceeded! maximum allowed 1 per' in result['msg']
    # With retries allowed, the module waits as Retry-After says and gets through.
    result = ok(query(run_module, conn, query='DeviceInfo | take 1', max_retries=3))
    assert result['http_stats']['throttled'] >= 1 and result['http_stats']['waited_seconds'] >= 1


def test_retry_after_longer_than_max_retry_wait_fails_at_once(run_module, emulator, conn):
    emulator.add_fault(path='^/v1.0/security/runHuntingQuery$', status=429, retry_after='900', times=1,
                       body={'error': {'code': 'TooManyRequests', 'message': CPU_QUOTA}})
    result = query(run_module, conn, query='DeviceInfo | take 1', max_retry_wait=60)
    assert result['failed'] and CPU_QUOTA.rstrip('.') in result['msg'] and 'wait 900 s' in result['msg']


@pytest.mark.parametrize('api', ['graph', 'defender'])
def test_result_size_error_suggests_how_to_narrow_the_query(run_module, emulator, conn, api):
    emulator.set_config(max_result_bytes=2000)
    result = query(run_module, conn, api=api, query='DeviceProcessEvents')
    assert result['failed'] and result['status'] == 400
    assert 'exceeded the allowed result size' in result['msg']
    assert 'project fewer columns, add take/limit, or use a shorter timespan' in result['msg']


@pytest.mark.parametrize('api', ['graph', 'defender'])
def test_a_bad_query_passes_the_api_message_on(run_module, conn, api):
    result = query(run_module, conn, api=api, query='DeviceProcessEvents | where NoSuchColumn == 1')
    assert result['failed'] and result['status'] == 400
    assert "Failed to resolve scalar expression named 'NoSuchColumn'" in result['msg']


def test_timeout_option(run_module, emulator, conn):
    emulator.add_fault(path='^/v1.0/security/runHuntingQuery$', delay=3, times=1)
    result = query(run_module, conn, query='DeviceInfo | take 1', timeout=1, max_retries=0)
    assert result['failed'] and 'no answer within 1.0 seconds' in result['msg']


def test_default_timeout_is_longer_than_the_apis_limits():
    doc = yaml.safe_load(atp_query.DOCUMENTATION)
    assert doc['options']['timeout']['default'] == atp_query.DEFAULT_TIMEOUT == 210


# -- tokens and permissions --------------------------------------------------------------------------------------------

def test_access_token_from_atp_token(run_module, emulator, conn):
    token = ok(run_module(atp_token.main, dict(conn, api='graph')))['access_token']
    emulator.reset()
    result = ok(query(run_module, dict(access_token=token, graph_url=conn['graph_url'], ca_path=conn['ca_path']),
                      query='DeviceInfo | take 1'))
    assert result['auth_method'] == 'access_token' and result['http_stats']['token_requests'] == 0
    assert [e['family'] for e in emulator.requests_log()] == ['graph_hunting']


def test_a_defender_token_for_graph_is_refused_before_any_request(run_module, emulator, conn):
    token = emulator.mint_token(roles=['AdvancedQuery.Read.All'])
    result = query(run_module, dict(access_token=token, graph_url=conn['graph_url'], ca_path=conn['ca_path']),
                   query='DeviceInfo | take 1')
    assert result['failed'] and 'cannot be used for the graph API' in result['msg'] and 'audience' in result['msg']
    assert emulator.requests_log() == []


@pytest.mark.parametrize('api, permission', [('graph', 'ThreatHunting.Read.All'), ('defender', 'AdvancedQuery.Read.All')])
def test_missing_hunting_permission_is_named(run_module, emu, conn, api, permission):
    limited = dict(conn, client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret'])
    result = query(run_module, limited, api=api, query='DeviceInfo | take 1')
    assert result['failed'] and result['status'] == 403
    assert permission in result['msg']


# -- bad input: a clear message, and not a single request --------------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    (dict(api='defender', timespan='P7D'), 'timespan only applies to api=graph'),
    (dict(timespan='last week'), "timespan 'last week' is not understood"),
    (dict(timespan='P1D/P2D'), 'two durations'),
    (dict(timespan='2026-02-01T00:00:00Z/2026-01-01T00:00:00Z'), 'ends before it starts'),
    (dict(query='   '), 'query is empty'),
    (dict(format='csv'), 'missing parameter(s) required by \'format\': dest'),
    (dict(format='xml', dest='/tmp/x.xml'), 'value of format must be one of: json, jsonl, csv'),
    (dict(api='xdr'), 'value of api must be one of: graph, defender'),
    (dict(dest='/nonexistent-dir/out.csv'), 'does not exist; create it first'),
    (dict(dest='/tmp'), 'is a directory'),
    (dict(mode='0640'), "missing parameter(s) required by 'mode': dest"),
    (dict(dest='/tmp/x.csv', mode='rw-r-----'), "mode 'rw-r-----' is neither an octal mode"),
    (dict(dest='/tmp/x.csv', mode='77777'), 'out of range'),
])
def test_bad_input_fails_before_any_request(run_module, emulator, conn, args, fragment):
    args.setdefault('query', 'DeviceInfo | take 1')
    result = query(run_module, conn, **args)
    assert result['failed']
    assert fragment in result['msg']
    assert emulator.requests_log() == []


def test_query_is_required(run_module, emulator, conn):
    result = run_module(atp_query.main, conn)
    assert result['failed'] and 'missing required arguments: query' in result['msg']
