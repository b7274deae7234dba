# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine resolution (ids, names, short names, case, unknown, ambiguous, hostile names) and batched reads.

A small fake client stands in for the API here: it answers the filters this code builds (eq joined by or,
ANDed per field; startswith), case-sensitively like a strict OData server, and records every request.
The same behaviour is checked against the emulator in tests/unit/plugins/modules/.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest

from urllib.parse import quote_plus

from ansible_collections.defender.atp.plugins.module_utils._machines import directory as m
from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import MachineDirectory, clean_entries
from ansible_collections.defender.atp.plugins.module_utils._odata import MAX_FILTER_CHARS, FilterBatcher

ISOLATE_TYPES = ('Isolate', 'Unisolate')

_EQ = re.compile(r"(\w+) eq '((?:[^']|'')*)'")
_STARTS = re.compile(r"startswith\((\w+),'((?:[^']|'')*)'\)")


def unquote(text):
    return text.replace("''", "'")


class FakeClient(object):
    def __init__(self, machines=(), actions=()):
        self.machines = list(machines)
        self.actions = list(actions)
        self.calls = []

    def list_all(self, path, params=None, **kwargs):
        text = (params or {}).get('$filter')
        self.calls.append((path, text))
        items = self.machines if path == m.MACHINES_PATH else self.actions
        if not text:
            return list(items), False
        # Everything outside literals must be our own syntax: a literal can never leak into it.
        outside = re.sub(r"'(?:[^']|'')*'", "''", text)
        assert re.match(r"^[\w\s(),'/]*$", outside), outside
        wanted = {}
        for field, value in _EQ.findall(text):
            wanted.setdefault(field, set()).add(unquote(value))
        prefixes = [(field, unquote(value)) for field, value in _STARTS.findall(text)]
        result = []
        for item in items:
            if prefixes:
                if any(str(item.get(field) or '').startswith(prefix) for field, prefix in prefixes):
                    result.append(item)
                continue
            if all(item.get(field) in values for field, values in wanted.items()):
                result.append(item)
        return result, False


def machine(number, name, last_seen='2026-01-05T08:00:00Z', health='Active'):
    return {'id': '%040x' % number, 'computerDnsName': name, 'lastSeen': last_seen, 'healthStatus': health,
            'osPlatform': 'Windows11'}


FLEET = [
    machine(1, 'ws-001.contoso.com'),
    machine(2, 'ws-002.contoso.com'),
    machine(3, 'reimaged.contoso.com', last_seen='2025-10-01T00:00:00Z', health='Inactive'),
    machine(4, 'reimaged.contoso.com', last_seen='2026-01-04T00:00:00Z'),
    machine(5, 'Mixed-Case.Contoso.com'),
    machine(6, 'dup'),
    machine(7, 'dup.fabrikam.com'),
    machine(8, "o'brien.contoso.com"),
    machine(9, 'workgroup-pc'),
]


def resolve(entries, fleet=None, **kwargs):
    client = FakeClient(FLEET if fleet is None else fleet)
    valid, invalid = clean_entries(entries)
    assert not invalid
    return MachineDirectory(client, **kwargs).resolve(valid), client


# -- entries ----------------------------------------------------------------------------------------------------------

def test_ids_and_names_are_told_apart():
    assert m.is_machine_id('1e5bc9d7e413ddd7902c2932e418702b84d0cc07')
    assert m.is_machine_id('1E5BC9D7E413DDD7902C2932E418702B84D0CC07')
    assert not m.is_machine_id('1e5bc9d7e413ddd7902c2932e418702b84d0cc0')  # 39
    assert not m.is_machine_id('1e5bc9d7e413ddd7902c2932e418702b84d0cc0g')
    assert not m.is_machine_id('ws-042.contoso.com')
    assert not m.is_machine_id(None)


def test_clean_entries_dedups_and_reports_invalid_ones():
    valid, invalid = clean_entries(['WS-1', 'ws-1', ' ws-1. ', 'A' * 40, 'a' * 40, '', '   ', 5, None, 'x' * 300,
                                    'bad\nname', 'ws-2'])
    assert [e.input for e in valid] == ['WS-1', 'A' * 40, 'ws-2']
    assert [e.kind for e in valid] == ['name', 'id', 'name']
    assert [(position, reason.split(' ')[0]) for position, _value, reason in invalid] == [
        (5, 'empty'), (6, 'empty'), (7, 'not'), (8, 'not'), (9, 'longer'), (10, 'contains')]


# -- resolution -------------------------------------------------------------------------------------------------------

def test_resolve_by_id_in_any_case():
    resolutions, client = resolve(['%040X' % 1, '%040x' % 2])
    assert [r.machine_id for r in resolutions] == ['%040x' % 1, '%040x' % 2]
    assert [r.matched_by for r in resolutions] == ['id', 'id']
    assert len(client.calls) == 1  # one batched request for both


def test_resolve_by_name_case_insensitively():
    resolutions, client = resolve(['WS-001.CONTOSO.COM', 'ws-002.contoso.com'])
    assert [r.machine_id for r in resolutions] == ['%040x' % 1, '%040x' % 2]
    assert all(r.error is None for r in resolutions)
    # The given spelling and its lowercase are both asked for, in one request; short names need none.
    assert len(client.calls) == 1
    assert "'WS-001.CONTOSO.COM'" in client.calls[0][1] and "'ws-001.contoso.com'" in client.calls[0][1]


def test_a_mixed_case_stored_name_is_found_through_the_full_listing():
    resolutions, client = resolve(['mixed-case.contoso.com'])
    assert resolutions[0].machine_id == '%040x' % 5
    assert client.calls[-1] == (m.MACHINES_PATH, None)  # confirmed against the full list


def test_short_name_matches_one_fqdn():
    resolutions, _client = resolve(['WS-001'])
    assert resolutions[0].machine_id == '%040x' % 1 and resolutions[0].matched_by == 'short_name'


def test_short_name_and_exact_name_together_are_ambiguous():
    resolutions, _client = resolve(['dup'])
    assert resolutions[0].machine is None
    assert sorted(c['id'] for c in resolutions[0].candidates) == ['%040x' % 6, '%040x' % 7]


def test_a_bare_stored_name_matches_exactly():
    resolutions, _client = resolve(['WORKGROUP-PC'])
    assert resolutions[0].machine_id == '%040x' % 9 and resolutions[0].matched_by == 'name'


def test_ambiguous_name_lists_candidates_newest_first_and_never_guesses():
    resolutions, _client = resolve(['reimaged.contoso.com'])
    only = resolutions[0]
    assert only.machine is None
    assert [c['id'] for c in only.candidates] == ['%040x' % 4, '%040x' % 3]
    assert 'lastSeen 2026-01-04T00:00:00Z, healthStatus Active' in only.error
    assert 'lastSeen 2025-10-01T00:00:00Z, healthStatus Inactive' in only.error
    assert 'machine id' in only.error


def test_unknown_entries():
    resolutions, _client = resolve(['nope.contoso.com', 'f' * 40])
    assert [r.machine for r in resolutions] == [None, None]
    assert 'no machine is named nope.contoso.com' in resolutions[0].error
    assert 'no machine has the id ' + 'f' * 40 in resolutions[1].error


def test_quotes_and_odata_syntax_never_widen_the_match():
    hostile = ["x' or computerDnsName ne 'x", "ws-001.contoso.com' or '1' eq '1", "') or (id ne '", "o'brien.contoso.com"]
    # Modules refuse such entries before any request (clean_entries); the directory must be safe with them anyway.
    assert [position for position, _value, _reason in clean_entries(hostile)[1]] == [0, 1, 2, 3]
    client = FakeClient(FLEET)
    resolutions = MachineDirectory(client).resolve([m.Entry(text) for text in hostile])
    assert [r.machine_id for r in resolutions] == [None, None, None, '%040x' % 8]
    for _path, text in client.calls:
        assert text is None or "''" in text  # quotes were doubled (FakeClient also checks nothing leaked)


def test_duplicates_naming_the_same_machine_are_merged():
    resolutions, _client = resolve(['ws-001.contoso.com', '%040x' % 1, 'WS-001', 'ws-002.contoso.com'])
    assert [r.machine_id for r in resolutions] == ['%040x' % 1, '%040x' % 2]
    assert resolutions[0].inputs == ['ws-001.contoso.com', '%040x' % 1, 'WS-001']


def test_order_is_kept():
    resolutions, _client = resolve(['ws-002.contoso.com', 'nope', '%040x' % 1])
    assert [r.input for r in resolutions] == ['ws-002.contoso.com', 'nope', '%040x' % 1]


def test_large_lists_use_one_listing():
    fleet = [machine(n, 'host-%04d.contoso.com' % n) for n in range(1, 301)]
    entries = ['HOST-%04d' % n for n in range(1, 251)] + ['%040x' % 300]
    resolutions, client = resolve(entries, fleet=fleet)
    assert client.calls == [(m.MACHINES_PATH, None)]
    assert [r.machine_id for r in resolutions] == ['%040x' % n for n in range(1, 251)] + ['%040x' % 300]


def test_batches_stay_under_the_url_and_node_budgets():
    from ansible_collections.defender.atp.plugins.module_utils._odata import node_count
    fleet = [machine(n, 'host-%04d.contoso.com' % n) for n in range(1, 181)]
    entries = ['%040x' % n for n in range(1, 181)]
    resolutions, client = resolve(entries, fleet=fleet)
    assert all(r.machine_id for r in resolutions)
    assert len(client.calls) == 15  # 12 comparisons (59 nodes) a request
    assert all(len(quote_plus(text)) <= m.FILTER_BUDGET for _path, text in client.calls)
    assert all(node_count(text) <= 60 for _path, text in client.calls)


def planned_filters(field, values, budget=MAX_FILTER_CHARS, prefix=None):
    """The filters the directory's batcher plans for ``field eq value`` over ``values``."""
    return FilterBatcher(None, max_chars=budget).plan([odata.eq(field, value) for value in values], prefix)


def test_batched_filters_budget_and_prefix():
    values = ['v%03d' % n for n in range(100)]
    filters = planned_filters('machineId', values, budget=500, prefix="(type eq 'Isolate' or type eq 'Unisolate')")
    assert len(filters) > 1
    assert all(len(quote_plus(f)) <= 500 for f in filters)
    assert all(f.startswith("(type eq 'Isolate' or type eq 'Unisolate') and ") for f in filters)
    found = [v for f in filters for v in re.findall(r"machineId eq '(v\d+)'", f)]
    assert found == values
    assert planned_filters('id', ['a']) == ["id eq 'a'"]


# -- actions ----------------------------------------------------------------------------------------------------------

def test_isolation_actions_are_read_in_batches_and_grouped():
    actions = [
        {'id': 'a1', 'type': 'Isolate', 'machineId': '%040x' % 1, 'status': 'Succeeded'},
        {'id': 'a2', 'type': 'RunAntiVirusScan', 'machineId': '%040x' % 1, 'status': 'Succeeded'},
        {'id': 'a3', 'type': 'Unisolate', 'machineId': '%040x' % 2, 'status': 'Pending'},
        {'id': 'a4', 'type': 'Isolate', 'machineId': '%040x' % 3, 'status': 'Pending'},
    ]
    client = FakeClient(actions=actions)
    result = MachineDirectory(client).machine_actions(['%040X' % 1, '%040x' % 2, '%040x' % 9], ISOLATE_TYPES)
    assert sorted(result) == ['%040x' % 1, '%040x' % 2, '%040x' % 9]
    assert [a['id'] for a in result['%040x' % 1]] == ['a1']
    assert [a['id'] for a in result['%040x' % 2]] == ['a3']
    assert result['%040x' % 9] == []
    assert len(client.calls) == 1 and client.calls[0][0] == m.ACTIONS_PATH
    assert client.calls[0][1].startswith("(type eq 'Isolate' or type eq 'Unisolate') and (machineId eq ")


def test_isolation_actions_for_a_large_fleet_use_one_listing():
    ids = ['%040x' % n for n in range(300)]
    actions = [{'id': 'a%d' % n, 'type': 'Isolate', 'machineId': ids[n], 'status': 'Succeeded'} for n in range(0, 300, 3)]
    actions.append({'id': 'other', 'type': 'Isolate', 'machineId': 'f' * 40, 'status': 'Succeeded'})
    client = FakeClient(actions=actions)
    result = MachineDirectory(client).machine_actions(ids, ISOLATE_TYPES)
    assert client.calls == [(m.ACTIONS_PATH, "type eq 'Isolate' or type eq 'Unisolate'")] or \
        client.calls == [(m.ACTIONS_PATH, "(type eq 'Isolate' or type eq 'Unisolate')")]
    assert sum(len(v) for v in result.values()) == 100 and 'f' * 40 not in result


def test_no_machines_no_request():
    client = FakeClient()
    assert MachineDirectory(client).machine_actions([], ISOLATE_TYPES) == {}
    assert client.calls == []


@pytest.mark.parametrize('key, machines, expected', [
    ('ws', [machine(1, 'ws.a.com'), machine(2, 'ws.b.com')], 2),
    ('ws.a.com', [machine(1, 'ws.a.com'), machine(2, 'ws.a.com.evil.com')], 1),  # dotted names match exactly only
    ('ws', [machine(1, 'wsx.a.com')], 0),
    ('ws', [machine(1, None)], 0),
])
def test_name_matches(key, machines, expected):
    assert len(m.NameIndex(machines).matches(key)[0]) == expected


def test_machine_summary_of_microsoft_examples():
    import json
    import os
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'emulator', 'fixtures')
    with open(os.path.join(fixtures, 'machine_get.json')) as handle:
        single = json.load(handle)
    with open(os.path.join(fixtures, 'machines_list.json')) as handle:
        listing = json.load(handle)['value']
    expected = dict(machine_id='1e5bc9d7e413ddd7902c2932e418702b84d0cc07', computer_dns_name='mymachine1.contoso.com',
                    health_status='Active', last_seen='2018-08-02T14:55:03.7791856Z', os_platform='Windows10')
    assert m.machine_summary(single) == expected
    assert m.machine_summary(listing[0]) == expected
    resolutions, _client = resolve(['MyMachine1', '1E5BC9D7E413DDD7902C2932E418702B84D0CC07'], fleet=listing)
    assert len(resolutions) == 1 and resolutions[0].inputs == ['MyMachine1', '1E5BC9D7E413DDD7902C2932E418702B84D0CC07']


def name_matches(entry_key, machines):
    """The rule NameIndex implements, written the slow way (every machine compared): the test's reference."""
    exact = []
    short = []
    for machine in machines:
        name = m.name_key(machine.get('computerDnsName'))
        if not name:
            continue
        if name == entry_key:
            exact.append(machine)
        elif '.' not in entry_key and name.startswith(entry_key + '.'):
            short.append(machine)
    return m._unique(exact + short), ('short_name' if short and not exact else 'name')


def test_the_name_index_answers_like_name_matches():
    machines = [{'id': '%040x' % i, 'computerDnsName': name} for i, name in enumerate([
        'ws-1.contoso.com', 'WS-1.fabrikam.com', 'ws-1', 'ws-10.contoso.com', 'srv.a.b', 'SRV', None, '', 'ws-1.contoso.com.'])]
    index = m.NameIndex(machines)
    for key in ('ws-1', 'ws-1.contoso.com', 'srv', 'srv.a', 'srv.a.b', 'ws-10', 'nope', 'contoso.com'):
        assert index.matches(key) == name_matches(key, machines), key


def test_resolving_thousands_of_names_is_not_quadratic():
    import time
    fleet = [{'id': '%040x' % i, 'computerDnsName': 'gen-%05d.scale.contoso.com' % i} for i in range(5000)]
    started = time.monotonic()
    resolutions, _client = resolve(['gen-%05d' % i for i in range(5000)], fleet=fleet)
    assert [r.machine_id for r in resolutions] == ['%040x' % i for i in range(5000)]
    assert time.monotonic() - started < 1.5  # 25 million name comparisons took about 4 s


# -- the $filter node limit of ASP.NET OData (MaxNodeCount, 100 by default) ---------------------------------------------

class NodeLimitedClient(FakeClient):
    """FakeClient that refuses a $filter of more nodes than ``max_nodes``, counted by the emulator's ASP.NET-like
    validator, with the API's 400 ODataError, and records the node count of every filter it accepts."""

    def __init__(self, max_nodes=100, **kwargs):
        super(NodeLimitedClient, self).__init__(**kwargs)
        self.max_nodes = max_nodes
        self.refused = 0
        self.accepted_nodes = []

    def list_all(self, path, params=None, **kwargs):
        from emulator import odata as emulator_odata  # tests/emulator, on sys.path via conftest
        from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError
        text = (params or {}).get('$filter')
        if text:
            nodes = emulator_odata.node_count(emulator_odata._Parser(text).parse())  # pylint: disable=protected-access
            if nodes > self.max_nodes:
                self.refused += 1
                self.calls.append((path, text))
                message = ("The query specified in the URI is not valid. The node count limit of '%d' has been exceeded. To "
                           "increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or "
                           "ODataValidationSettings." % self.max_nodes)
                raise AtpApiError('GET https://x%s: HTTP 400 ODataError: %s' % (path, message), status=400,
                                  code='ODataError', api_message=message)
            self.accepted_nodes.append(nodes)
        return super(NodeLimitedClient, self).list_all(path, params=params, **kwargs)


MIXED_FLEET = [machine(n, 'host-%03d.contoso.com' % n) for n in range(1, 121)]
MIXED_ENTRIES = ['%040x' % n for n in range(1, 61)] + ['host-%03d.contoso.com' % n for n in range(61, 101)]


def test_mixed_ids_and_names_resolve_under_the_default_node_limit():
    client = NodeLimitedClient(machines=MIXED_FLEET)
    resolutions = MachineDirectory(client).resolve(clean_entries(MIXED_ENTRIES)[0])
    assert [r.machine_id for r in resolutions] == ['%040x' % n for n in range(1, 101)]
    assert client.refused == 0
    # Every filter well under the limit: at most 60 of the 100 nodes.
    assert client.accepted_nodes and max(client.accepted_nodes) <= 60


def test_isolation_history_of_30_machines_stays_under_the_default_node_limit():
    ids = ['%040x' % n for n in range(1, 31)]
    actions = [{'id': 'a%d' % n, 'type': 'Isolate', 'machineId': ids[n], 'status': 'Succeeded'} for n in range(0, 30, 7)]
    client = NodeLimitedClient(actions=actions)
    result = MachineDirectory(client).machine_actions(ids, ISOLATE_TYPES)
    assert client.refused == 0 and max(client.accepted_nodes) <= 60
    assert len(client.calls) == 3  # 10 machines a request under the type prefix
    assert sorted(a['id'] for v in result.values() for a in v) == sorted(a['id'] for a in actions)


def test_isolation_history_of_more_than_30_machines_is_one_listing():
    ids = ['%040x' % n for n in range(1, 32)]
    actions = [{'id': 'a%d' % n, 'type': 'Unisolate', 'machineId': ids[n], 'status': 'Succeeded'} for n in range(0, 31, 5)]
    actions.append({'id': 'other', 'type': 'Isolate', 'machineId': 'f' * 40, 'status': 'Succeeded'})
    client = NodeLimitedClient(actions=actions)
    result = MachineDirectory(client).machine_actions(ids, ISOLATE_TYPES)
    assert client.calls == [(m.ACTIONS_PATH, "(type eq 'Isolate' or type eq 'Unisolate')")]
    assert sorted(a['id'] for v in result.values() for a in v) == sorted(a['id'] for a in actions[:-1])


def test_a_smaller_server_limit_splits_batches_and_is_remembered():
    client = NodeLimitedClient(max_nodes=20, machines=MIXED_FLEET)
    directory = MachineDirectory(client)
    resolutions = directory.resolve(clean_entries(MIXED_ENTRIES)[0])
    assert [r.machine_id for r in resolutions] == ['%040x' % n for n in range(1, 101)]
    # The first refusal teaches the size: batches of 12 comparisons (59 nodes) are split to 6 (29) and 3 (14).
    assert 1 <= client.refused <= 3
    assert max(client.accepted_nodes) <= 20
    history = directory.machine_actions(['%040x' % n for n in range(1, 101)], ISOLATE_TYPES)
    assert len(history) == 100
    assert client.refused <= 5  # the history's prefix needs a smaller size once more, then never again
