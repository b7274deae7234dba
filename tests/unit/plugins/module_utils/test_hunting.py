# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tracemalloc

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _hunting as hunting
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpOptionError, AtpTransportError
from ansible_collections.defender.atp.plugins.module_utils._hunting import (
    HuntingParseError, RowCollector, parse_response)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), 'emulator', 'fixtures')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def parse(text, chunk=None):
    """Parse ``text`` fed in chunks of ``chunk`` characters (all at once by default)."""
    sink = RowCollector()
    chunks = [text] if not chunk else [text[i:i + chunk] for i in range(0, len(text), chunk)]
    extra = parse_response(chunks, sink)
    return sink, extra


# -- schema ---------------------------------------------------------------------------------------

def test_normalize_schema_both_spellings():
    assert hunting.normalize_schema([{'Name': 'A', 'Type': 'String'}, {'name': 'B', 'type': 'Int32'}]) == [
        {'name': 'A', 'type': 'String'}, {'name': 'B', 'type': 'Int32'}]


def test_normalize_schema_odd_input():
    assert hunting.normalize_schema(None) == []
    assert hunting.normalize_schema([{'NAME': 'A'}, 'junk']) == [{'name': 'A', 'type': None}]


@pytest.mark.parametrize('name', ['advancedqueries_response.json', 'graph_hunting_response_lower.json',
                                  'graph_hunting_response_upper.json', 'graph_hunting_response_lower_timespan.json'])
def test_microsoft_examples_parse_to_the_same_shape(name):
    text = fixture_text(name)
    whole = json.loads(text)
    sink, extra = parse(text)
    expected_schema = [{'name': c.get('Name', c.get('name')), 'type': c.get('Type', c.get('type'))}
                       for c in whole.get('Schema') or whole.get('schema')]
    assert sink.columns == expected_schema
    assert all(set(c) == {'name', 'type'} for c in sink.columns)
    assert sink.rows == (whole.get('Results') or whole.get('results'))
    assert extra == {'stats': None}


def test_defender_stats_are_returned():
    body = {'Schema': [{'Name': 'n', 'Type': 'Int64'}], 'Results': [{'n': 1}],
            'Stats': {'ExecutionTime': 0.17, 'resource_usage': {'cpu': {'total cpu': '00:00:00'}}}}
    sink, extra = parse(json.dumps(body))
    assert extra['stats'] == body['Stats']
    assert sink.rows == [{'n': 1}]


# -- the streaming parser ----------------------------------------------------------------------------

TRICKY_ROWS = [
    {'s': 'comma, "quote", newline\nand\r\nCRLF, tab\t, brace } bracket ] colon : comma ,'},
    {'s': 'backslash \\ and escaped quote \\" and unicode \u00e9\u4e2d\U0001F600 and \u2028 separator'},
    {'s': '', 'n': None, 't': True, 'f': False},
    {'num': 1234567890123, 'neg': -12.5e-3, 'zero': 0, 'big': 1.7976931348623157e308},
    {'nested': {'Results': [1, 2, {'Schema': 'not the schema'}], 'empty': {}}, 'list': [[], [None]]},
    {'Results': 'a column called Results', 'Schema': 'and one called Schema'},
]


def tricky_body(order=('Schema', 'Results', 'Stats'), spacing=None):
    parts = {'Schema': [{'Name': 's', 'Type': 'String'}, {'Name': 'n', 'Type': 'Int64'}],
             'Results': TRICKY_ROWS, 'Stats': {'ExecutionTime': 1.5}}
    return json.dumps(dict((k, parts[k]) for k in order), indent=spacing, ensure_ascii=False)


@pytest.mark.parametrize('chunk', [None, 1, 2, 3, 7, 64, 4096])
@pytest.mark.parametrize('spacing', [None, 2, '\t'])
def test_tricky_values_survive_every_chunk_size(chunk, spacing):
    sink, extra = parse(tricky_body(spacing=spacing), chunk)
    assert sink.rows == TRICKY_ROWS
    assert [c['name'] for c in sink.columns] == ['s', 'n']
    assert extra['stats'] == {'ExecutionTime': 1.5}


@pytest.mark.parametrize('order', [('Results', 'Schema', 'Stats'), ('Stats', 'Results', 'Schema'), ('Results', 'Stats', 'Schema')])
def test_any_key_order(order):
    schemas = []

    class Sink(RowCollector):
        def schema(self, columns):
            schemas.append(columns)
            super(Sink, self).schema(columns)

    sink = Sink()
    parse_response([tricky_body(order)], sink)
    assert sink.rows == TRICKY_ROWS
    assert schemas == [[{'name': 's', 'type': 'String'}, {'name': 'n', 'type': 'Int64'}]]


def test_a_number_cut_at_a_chunk_boundary_is_read_whole():
    chunks = ['{"schema":[],"results":[{"n":12', '345}],"x":6', '78}']
    sink = RowCollector()
    parse_response(chunks, sink)
    assert sink.rows == [{'n': 12345}]


def test_a_top_level_number_at_the_very_end_of_a_chunk():
    sink = RowCollector()
    extra = parse_response(['{"results":[],"Stats":12', '34', '}'], sink)
    assert extra['stats'] == 1234


@pytest.mark.parametrize('text, rows', [
    ('{"schema":[],"results":[]}', []),
    ('{"schema":[],"results":null}', []),
    ('{}', []),
    (' \n{ "results" : [ { "a" : 1 } , { "a" : 2 } ] }\n ', [{'a': 1}, {'a': 2}]),
])
def test_empty_and_spaced_answers(text, rows):
    sink, _extra = parse(text, chunk=1)
    assert sink.rows == rows


def test_no_schema_reports_none():
    seen = []

    class Sink(RowCollector):
        def schema(self, columns):
            seen.append(columns)

    parse_response(['{"results":[{"a":1}]}'], Sink())
    assert seen == [None]


@pytest.mark.parametrize('text, fragment', [
    ('', "expected '{'"),
    ('<html>Bad gateway</html>', "expected '{'"),
    ('{"results":[{"a":1},', 'ends early'),
    ('{"results":[{"a":1}', "expected ',' or ']'"),
    ('{"results":[{"a":1}]', "expected ',' or '}'"),
    ('{"results":[{"a":tru}]}', 'invalid JSON'),
    ('{"results":[1,2]}', 'not an object'),
    ('{"results":"x"}', "expected '['"),
    ('{1:2}', 'expected a field name'),
])
def test_broken_answers_are_parse_errors(text, fragment):
    with pytest.raises(HuntingParseError) as caught:
        parse(text, chunk=3)
    assert fragment in str(caught.value)


def generated_answer(rows, column_text='x' * 100):
    """A Defender-style answer of ``rows`` rows, produced lazily in chunks (never whole in memory)."""
    yield '{"Schema":[{"Name":"Id","Type":"Int64"},{"Name":"Text","Type":"String"}],"Results":['
    batch = []
    for index in range(rows):
        batch.append('%s{"Id":%d,"Text":"%s, \\"%d\\"\\n"}' % (',' if index else '', index, column_text, index))
        if len(batch) == 500:
            yield ''.join(batch)
            batch = []
    yield ''.join(batch) + '],"Stats":{"ExecutionTime":2.5}}'


class CountingSink(object):
    def __init__(self):
        self.count = 0
        self.last = None

    def schema(self, columns):
        self.columns = columns

    def row(self, row):
        self.count += 1
        self.last = row


def test_memory_stays_flat_over_100000_rows():
    # ~14 MB of JSON flows through; the parser may keep only its sliding buffer (about 1 MB).
    sink = CountingSink()
    tracemalloc.start()
    try:
        extra = parse_response(generated_answer(100000), sink)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.count == 100000
    assert sink.last == {'Id': 99999, 'Text': 'x' * 100 + ', "99999"\n'}
    assert extra['stats'] == {'ExecutionTime': 2.5}
    assert peak < 4 * 1024 * 1024, 'peak %d bytes' % peak


# -- requests and the HTTP side -----------------------------------------------------------------------

def test_graph_request_body():
    assert hunting.build_request('graph', 'DeviceInfo | take 1') == (
        '/v1.0/security/runHuntingQuery', {'Query': 'DeviceInfo | take 1'})
    assert hunting.build_request('graph', 'DeviceInfo', 'P90D') == (
        '/v1.0/security/runHuntingQuery', {'Query': 'DeviceInfo', 'Timespan': 'P90D'})


def test_graph_request_matches_microsofts_examples():
    for name in ('graph_hunting_request.json', 'graph_hunting_request_timespan.json'):
        expected = json.loads(fixture_text(name))
        assert hunting.build_request('graph', expected['Query'], expected.get('Timespan'))[1] == expected


def test_defender_request_matches_microsofts_example():
    expected = json.loads(fixture_text('advancedqueries_request.json'))
    assert hunting.build_request('defender', expected['Query']) == ('/api/advancedqueries/run', expected)


def test_multi_line_query_is_sent_verbatim():
    query = "DeviceProcessEvents\n| where FileName == \"a'b\"\n\t| take 10\n"
    path, body = hunting.build_request('defender', query)
    assert json.loads(json.dumps(body)) == {'Query': query}


@pytest.mark.parametrize('api, query, timespan, fragment', [
    ('defender', 'DeviceInfo', 'P7D', 'timespan only applies to api=graph'),
    ('graph', '  \n', None, 'query is empty'),
    ('graph', None, None, 'query is empty'),
    ('elsewhere', 'x', None, 'api must be one of'),
])
def test_bad_requests(api, query, timespan, fragment):
    with pytest.raises(AtpOptionError) as caught:
        hunting.build_request(api, query, timespan)
    assert fragment in str(caught.value)


class FakeResponse(object):
    status_code = 200

    def __init__(self, chunks, error=None):
        self.chunks = chunks
        self.error = error
        self.closed = False

    def iter_content(self, chunk_size=None):
        yield from self.chunks
        if self.error:
            raise self.error

    def close(self):
        self.closed = True


class FakeClient(object):
    def __init__(self, response):
        self.response = response
        self.calls = []

    def request(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs))
        return self.response


def test_run_query_streams_a_post_that_may_be_retried():
    body = json.dumps({'schema': [{'name': 'a', 'type': 'String'}], 'results': [{'a': 'caf\u00e9 \U0001F600'}]}).encode('utf-8')
    # Byte chunks of 1 split the multi-byte characters: the incremental decoder must join them.
    response = FakeResponse([body[i:i + 1] for i in range(len(body))])
    client = FakeClient(response)
    sink = RowCollector()
    extra = hunting.run_query(client, 'graph', 'T | take 1', sink, timespan='P1D')
    assert sink.rows == [{'a': 'caf\u00e9 \U0001F600'}]
    assert extra == {'stats': None}
    method, path, kwargs = client.calls[0]
    assert (method, path) == ('POST', '/v1.0/security/runHuntingQuery')
    assert kwargs['api'] == 'graph' and kwargs['stream'] is True and kwargs['idempotent'] is True
    assert kwargs['json_body'] == {'Query': 'T | take 1', 'Timespan': 'P1D'}
    assert response.closed


def test_run_query_defender_uses_the_defender_api():
    client = FakeClient(FakeResponse([b'{"Schema":[],"Results":[]}']))
    hunting.run_query(client, 'defender', 'T', RowCollector())
    assert client.calls[0][1] == '/api/advancedqueries/run' and client.calls[0][2]['api'] == 'defender'


def test_a_connection_broken_mid_answer_is_a_transport_error():
    response = FakeResponse([b'{"results":[{"a":1},'], error=IOError('Connection broken: IncompleteRead'))
    with pytest.raises(AtpTransportError) as caught:
        hunting.run_query(FakeClient(response), 'graph', 'T', RowCollector())
    assert 'connection broke while the result was being read' in str(caught.value)
    assert response.closed


def test_an_answer_that_is_not_a_hunting_result():
    response = FakeResponse([b'<html>proxy says hi</html>'])
    with pytest.raises(AtpApiError) as caught:
        hunting.run_query(FakeClient(response), 'graph', 'T', RowCollector())
    assert 'not a hunting result' in str(caught.value)


def test_an_answer_that_is_not_utf8():
    response = FakeResponse([b'{"results":[{"a":"\xff"}]}'])
    with pytest.raises(AtpApiError) as caught:
        hunting.run_query(FakeClient(response), 'graph', 'T', RowCollector())
    assert 'not UTF-8' in str(caught.value)
