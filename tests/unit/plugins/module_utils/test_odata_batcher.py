# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FilterBatcher: batches sized in ASP.NET OData nodes, split on a refusal for size, never for anything else."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from emulator import odata as emulator_odata  # tests/emulator, on sys.path via conftest

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._odata import FilterBatcher, join, size_limit_kind
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError

NODE_MESSAGE = ("The query specified in the URI is not valid. The node count limit of '%d' has been exceeded. To increase "
                "the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings.")


def emulator_nodes(text):
    return emulator_odata.node_count(emulator_odata._Parser(text).parse())  # pylint: disable=protected-access


# -- counting -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, nodes', [
    ("id eq 'a'", 4),
    ("(id eq 'a' or id eq 'b')", 9),
    ("(type eq 'Isolate' or type eq 'Unisolate') and (machineId eq 'a' or machineId eq 'b')", 19),
    ("startswith(computerDnsName,'ws-1.')", 4),
    ("machineTags/any(t: t eq 'it''s')", 6),
    ("lastSeen gt 2026-01-01T00:00:00Z and not (healthStatus eq 'Active')", 10),
    ("incidentId eq 7587 or assignedTo eq null", 9),
])
def test_node_count_matches_the_aspnet_count(text, nodes):
    assert odata.node_count(text) == nodes == emulator_nodes(text)


literal = st.text(alphabet="ab'() orand:/,", max_size=8).map(odata.quote)
comparison = st.builds(lambda f, op, v: '%s %s %s' % (f, op, v), st.sampled_from(['id', 'computerDnsName', 'osPlatform']),
                       st.sampled_from(['eq', 'ne']), literal)
atom = st.one_of(comparison, st.builds(lambda v: 'startswith(computerDnsName,%s)' % v, literal),
                 st.builds(lambda v: 'machineTags/any(t: t eq %s)' % v, literal))
expression = st.recursive(atom, lambda inner: st.one_of(
    st.builds(lambda a, op, b: '(%s %s %s)' % (a, op, b), inner, st.sampled_from(['and', 'or']), inner),
    st.builds(lambda a: 'not (%s)' % a, inner)), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(text=expression)
def test_node_count_agrees_with_the_emulator_validator(text):
    assert odata.node_count(text) == emulator_nodes(text)


# -- planning -------------------------------------------------------------------------------------------------------------

def test_default_plan_is_12_comparisons_or_10_under_the_type_prefix():
    batcher = FilterBatcher(None)
    ids = [odata.eq('machineId', '%040x' % n) for n in range(100)]
    assert [f.count(' eq ') for f in batcher.plan(ids)] == [12] * 8 + [4]
    prefix = odata.any_of('type', ('Isolate', 'Unisolate'))
    planned = batcher.plan(ids, prefix)
    assert [f.count('machineId eq') for f in planned] == [10] * 10
    assert all(f.startswith(prefix + ' and (') and odata.node_count(f) <= 60 for f in planned)


def test_one_clause_always_makes_a_batch():
    batcher = FilterBatcher(None, max_nodes=2, max_chars=5)
    assert batcher.plan(["id eq 'a'", "id eq 'b'"]) == ["id eq 'a'", "id eq 'b'"]


# -- reading --------------------------------------------------------------------------------------------------------------

class Server(object):
    """Answers ``id eq`` filters over ``items`` and refuses, as told, filters over a node or length limit."""

    def __init__(self, items, max_nodes=None, max_chars=None, refuse=None):
        self.items = items
        self.max_nodes = max_nodes
        self.max_chars = max_chars
        self.refuse = refuse
        self.calls = []
        self.refused = 0

    def list_all(self, path, params=None, **kwargs):
        text = params['$filter']
        self.calls.append(text)
        if self.refuse is not None:
            raise self.refuse
        if self.max_nodes is not None and emulator_nodes(text) > self.max_nodes:
            self.refused += 1
            message = NODE_MESSAGE % self.max_nodes
            raise AtpApiError('GET https://x/api/machines: HTTP 400 ODataError: ' + message, status=400, code='ODataError',
                              api_message=message)
        if self.max_chars is not None and len(text) > self.max_chars:
            self.refused += 1
            raise AtpApiError('GET https://x/api/machines: HTTP 414', status=414)
        wanted = set(value for value in emulator_odata.tokenize(text) if value[0] == 'string')
        names = set(v[1][1:-1] for v in wanted)
        return [item for item in self.items if item['id'] in names or 'any' in text], False


ITEMS = [{'id': 'm%03d' % n} for n in range(100)]
CLAUSES = [odata.eq('id', item['id']) for item in ITEMS]


def test_a_node_limit_refusal_splits_and_the_limit_it_names_is_kept():
    server = Server(ITEMS, max_nodes=20)
    batcher = FilterBatcher(server)
    found = batcher.read('/api/machines', CLAUSES)
    assert sorted(i['id'] for i in found) == [i['id'] for i in ITEMS]
    # 12 comparisons (59 nodes) refused; the message names 20: batches of 4 (19 nodes) from then on, one refusal in all.
    assert server.refused == 1 and batcher.splits == 1 and batcher.max_nodes == 20
    assert len(server.calls) == 1 + 25
    assert all(emulator_nodes(text) <= 20 for text in server.calls[1:])


def test_without_a_limit_in_the_message_the_halves_are_learnt():
    class Quiet(Server):
        def list_all(self, path, params=None, **kwargs):
            try:
                return super(Quiet, self).list_all(path, params, **kwargs)
            except AtpApiError as error:
                raise AtpApiError(error.message.replace("of '20' ", ''), status=400, code='ODataError',
                                  api_message='The node count limit has been exceeded.')
    server = Quiet(ITEMS, max_nodes=20)
    batcher = FilterBatcher(server)
    assert len(batcher.read('/api/machines', CLAUSES)) == 100
    # 12 (refused) -> 6 (29 nodes, refused) -> 3 (14 nodes): two refusals, then batches of 3.
    assert server.refused == 2 and batcher.max_nodes == 14


def test_a_named_limit_above_the_refused_size_is_not_trusted():
    class Liar(Server):
        def list_all(self, path, params=None, **kwargs):
            try:
                return super(Liar, self).list_all(path, params, **kwargs)
            except AtpApiError:
                message = NODE_MESSAGE % 500
                raise AtpApiError('GET https://x: HTTP 400 ODataError: ' + message, status=400, code='ODataError',
                                  api_message=message)
    server = Liar(ITEMS, max_nodes=20)
    batcher = FilterBatcher(server)
    assert len(batcher.read('/api/machines', CLAUSES)) == 100
    assert batcher.max_nodes <= 20 and server.refused == 2


def test_a_414_splits_on_the_length_budget():
    server = Server(ITEMS, max_chars=80)
    batcher = FilterBatcher(server)
    found = batcher.read('/api/machines', CLAUSES)
    assert len(found) == 100 and server.refused >= 1
    assert batcher.max_chars < 1800 and batcher.max_nodes == 60


@pytest.mark.parametrize('error', [
    AtpApiError('x', status=400, code='ODataError', api_message="Could not find a property named 'foo' on type 'T'."),
    AtpApiError('x', status=403, code='Forbidden', api_message='Missing application roles.'),
    AtpApiError('x', status=500, code='InternalServerError', api_message='The request is too long to wait for'),
])
def test_other_errors_are_not_split(error):
    server = Server(ITEMS, refuse=error)
    with pytest.raises(AtpApiError) as caught:
        FilterBatcher(server).read('/api/machines', CLAUSES)
    assert caught.value is error and len(server.calls) == 1


def test_one_clause_refused_for_size_is_an_error_naming_it():
    server = Server(ITEMS, max_nodes=3)
    with pytest.raises(AtpApiError) as caught:
        FilterBatcher(server).read('/api/machines', CLAUSES[:2])
    assert "node count limit of '3'" in caught.value.message and 'cannot be split further' in caught.value.message
    assert caught.value.status == 400


def test_an_optional_prefix_is_dropped_when_one_clause_with_it_is_too_big():
    server = Server(ITEMS, max_nodes=5)
    found = FilterBatcher(server).read('/api/machines', CLAUSES[:3], prefix="(type eq 'a' or type eq 'b')",
                                       prefix_optional=True)
    assert sorted(i['id'] for i in found) == ['m000', 'm001', 'm002']
    assert set(CLAUSES[:3]) <= set(server.calls)
    assert all('type' not in text for text in server.calls[server.calls.index(CLAUSES[0]):])  # left out from then on


@pytest.mark.parametrize('status, message, kind', [
    (400, NODE_MESSAGE % 100, 'nodes'),
    (400, 'The query is too complex: MaxNodeCount reached', 'nodes'),
    (414, None, 'length'),
    (400, 'The request URL is too long.', 'length'),
    (404, 'HTTP Error 404.15 - Not Found. The request filtering module is configured to deny a request where the query '
          'string is too long.', 'length'),
    (400, "Could not find a property named 'x'", None),
    (429, 'Rate limit is exceeded. Try again in 1 seconds.', None),
])
def test_size_limit_kind(status, message, kind):
    assert size_limit_kind(AtpApiError('GET https://x/api/machines: HTTP %d' % status, status=status, api_message=message)) == kind


def test_join():
    assert join(["id eq 'a'"]) == "id eq 'a'"
    assert join(["id eq 'a'", "id eq 'b'"], "status eq 'x'") == "status eq 'x' and (id eq 'a' or id eq 'b')"


# -- end to end, against the emulator ---------------------------------------------------------------------------------

def test_a_414_from_the_emulator_is_split_and_the_task_succeeds(run_module, conn, fresh_emulator):
    from ansible_collections.defender.atp.plugins.modules import atp_machine_info
    everything = run_module(atp_machine_info.main, dict(conn, limit=0))['machines']
    names = sorted(set(m['computerDnsName'] for m in everything if m.get('computerDnsName') and '.' in m['computerDnsName']))
    fresh_emulator.set_config(max_url_length=450)
    fresh_emulator.reset()  # the log only
    result = run_module(atp_machine_info.main, dict(conn, machines=names))
    assert not result.get('failed'), result.get('msg')
    assert set(m['computerDnsName'].lower() for m in result['machines']) >= set(n.lower() for n in names)
    reads = [e for e in fresh_emulator.requests_log() if e['path'] == '/api/machines']
    refused = [e for e in reads if e['status'] == 414]
    assert 1 <= len(refused) <= 2 and all(e['method'] == 'GET' for e in reads)
    # After the first refusals every request fits.
    assert all(e['status'] == 200 for e in reads[reads.index(refused[-1]) + 1:])
