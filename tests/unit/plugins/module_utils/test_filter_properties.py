# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of the filter builders, checked by meaning: a filter may match exactly the records intended.

test_odata_properties.py checks the literals and clauses of ``odata`` with a small tokenizer. Here the filters the
collection really sends (alerts.build_filter, atp_machine_info's build_filter, and the batched lookups of
MachineDirectory) are parsed and evaluated by the emulator's strict OData implementation (tests/emulator/odata.py,
the same code that answers the modules in every other test) against candidate records built around the inputs:
the records the options ask for, and near misses (the value with its quotes dropped, a prefix, another case, a
record that only a leaked ``or`` would reach). For any input strings, the set of matching records must be exactly
the intended one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest
from hypothesis import assume, given, settings, strategies as st

from emulator.entities import ACTION_SCHEMA, ALERT_SCHEMA, MACHINE_SCHEMA  # tests/emulator, on sys.path via conftest
from emulator.odata import ODataError, compile_filter

from ansible_collections.defender.atp.plugins.module_utils import _alerts as alerts
from ansible_collections.defender.atp.plugins.module_utils._machines import directory as machines
from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.modules.atp_machine_info import build_filter as machine_info_filter

UTC = datetime.timezone.utc
HEALTH = ('Active', 'Inactive', 'ImpairedCommunication', 'NoSensorData', 'NoSensorDataImpairedCommunication', 'Unknown')

# Text that tries hard to break out of a literal or a group: quotes, parentheses, operators, keywords.
HOSTILE_ALPHABET = "'() orandteqn,\\\"%&$#/:"
hostile = st.text(alphabet=HOSTILE_ALPHABET, max_size=30)
anything = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=40)
value_text = st.one_of(hostile, anything, st.sampled_from(["x' or id ne '", "') or (true", "a'b", "''", "'", "o'brien"]))


def matches(filter_text, schema, records):
    predicate = compile_filter(filter_text, schema)
    return [index for index, record in enumerate(records) if predicate(record)]


def near_misses(value):
    """Values a broken literal could match instead of, or as well as, ``value``."""
    misses = {value + 'x', 'x' + value, value.replace("'", ''), value.replace("''", "'"), value.upper(), value.lower(),
              value[:-1], value[1:], '', 'x', "x' or id ne '"}
    misses.discard(value)
    return sorted(misses)


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%f') + '0Z'


# -- alerts.build_filter ------------------------------------------------------------------------------------------------

# Raw filters users write, each with a plain-Python meaning; the or inside must stay inside the parentheses.
RAW_ALERT_FILTERS = {
    "category eq 'Execution' or category eq 'Malware'": lambda a: a['category'] in ('Execution', 'Malware'),
    "not (category eq 'Execution')": lambda a: a['category'] != 'Execution',
    "severity eq 'High' or status eq 'Resolved'": lambda a: a['severity'] == 'High' or a['status'] == 'Resolved',
    "(category eq 'Malware') or (category eq 'it''s')": lambda a: a['category'] in ('Malware', "it's"),
}
CATEGORIES = ('Execution', 'Malware', "it's", 'Other')


@settings(max_examples=150, deadline=None)
@given(status=st.one_of(st.none(), st.lists(st.sampled_from(alerts.STATUSES), min_size=1, max_size=4)),
       severity=st.one_of(st.none(), st.lists(st.sampled_from(alerts.SEVERITIES), min_size=1, max_size=5)),
       machine_id=st.none(),  # machineId is not filterable (get-alerts.md): see alerts.list_machine_alerts
       since_hours=st.one_of(st.none(), st.integers(min_value=1, max_value=72)),
       raw=st.one_of(st.none(), st.sampled_from(sorted(RAW_ALERT_FILTERS))),
       seed=st.randoms(use_true_random=False))
def test_alert_filters_match_exactly_the_alerts_asked_for(status, severity, machine_id, since_hours, raw, seed):
    now = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    since = now - datetime.timedelta(hours=since_hours) if since_hours else None
    filter_text = alerts.build_filter(status=status, severity=severity, since=since, raw_filter=raw)
    assume(filter_text)
    machine_ids = [machine_id] + near_misses(machine_id) if machine_id is not None else ['m1', 'm2']
    records = []
    for index in range(60):
        updated = now - datetime.timedelta(hours=seed.randint(0, 96), seconds=seed.randint(0, 59))
        records.append({'id': 'a%d' % index, 'status': seed.choice(alerts.STATUSES), 'severity': seed.choice(alerts.SEVERITIES),
                        'machineId': seed.choice(machine_ids), 'category': seed.choice(CATEGORIES), 'lastUpdateTime': iso(updated)})
    if since is not None:  # the boundary itself is included
        records.append(dict(records[0], id='edge', lastUpdateTime=iso(since)))

    def intended(alert):
        return ((not status or alert['status'] in status) and (not severity or alert['severity'] in severity)
                and (machine_id is None or alert['machineId'] == machine_id)
                and (since is None or alert['lastUpdateTime'] >= iso(since))
                and (raw is None or RAW_ALERT_FILTERS[raw](alert)))

    assert matches(filter_text, ALERT_SCHEMA, records) == [i for i, a in enumerate(records) if intended(a)], filter_text


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(hostile, anything, st.sampled_from([
    "status eq 'New') or (true", "true) or (status ne 'New'", "x eq 'a'')' or (status ne 'New'", "status ne 'New'",
    "(status ne 'New' or status eq 'New')", "category eq 'it''s' or status ne 'New'", "not (status eq 'New')"])))
def test_no_raw_filter_can_widen_the_other_criteria(raw):
    """Whatever ``filter`` says, an alert that is not New never matches ``status: [New]`` combined with it."""
    try:
        filter_text = alerts.build_filter(status=['New'], raw_filter=raw)
    except AtpOptionError:
        return  # refused before any request
    try:
        predicate = compile_filter(filter_text, ALERT_SCHEMA)
    except ODataError:
        return  # the API would refuse it (400): nothing matched
    for other in ('Unknown', 'InProgress', 'Resolved'):
        alert = {'id': 'a', 'status': other, 'severity': 'High', 'category': "it's", 'machineId': 'm',
                 'lastUpdateTime': '2026-01-01T00:00:00.0000000Z'}
        assert not predicate(alert), filter_text


# -- atp_machine_info's build_filter --------------------------------------------------------------------------------------

RAW_MACHINE_FILTERS = {
    "riskScore eq 'High' or riskScore eq 'Medium'": lambda m: m['riskScore'] in ('High', 'Medium'),
    "not (riskScore eq 'High')": lambda m: m['riskScore'] != 'High',
    "startswith(computerDnsName,'ws-') or healthStatus eq 'Inactive'":
        lambda m: m['computerDnsName'].startswith('ws-') or m['healthStatus'] == 'Inactive',
}


@settings(max_examples=150, deadline=None)
@given(health=st.one_of(st.none(), st.lists(st.sampled_from(HEALTH), min_size=1, max_size=3)),
       platforms=st.one_of(st.none(), st.lists(value_text.filter(lambda v: v.strip()), min_size=1, max_size=3)),
       tags=st.one_of(st.none(), st.lists(value_text.filter(lambda v: v.strip()), min_size=1, max_size=3)),
       raw=st.one_of(st.none(), st.sampled_from(sorted(RAW_MACHINE_FILTERS))),
       seed=st.randoms(use_true_random=False))
def test_machine_filters_match_exactly_the_machines_asked_for(health, platforms, tags, raw, seed):
    """The API's $filter (health, platforms, raw) and the module's own tag test (at least one, case-insensitively)."""
    params = dict(health_status=health, os_platform=platforms, tags=tags, filter=raw)
    filter_text = machine_info_filter(params)
    assume(filter_text or tags)
    platform_pool = (platforms or ['Windows11']) + [m for p in (platforms or ['Windows11']) for m in near_misses(p)[:3]]
    tag_pool = (tags or ['prod']) + [m for t in (tags or ['prod']) for m in near_misses(t)[:3]]
    records = []
    for index in range(60):
        records.append({'id': '%040x' % index, 'computerDnsName': seed.choice(['ws-%d.contoso.com' % index, 'srv-%d' % index]),
                        'healthStatus': seed.choice(HEALTH), 'osPlatform': seed.choice(platform_pool),
                        'riskScore': seed.choice(('High', 'Medium', 'Low', 'None')),
                        'machineTags': seed.sample(tag_pool, seed.randint(0, min(4, len(tag_pool))))})

    def intended(machine):
        return ((not health or machine['healthStatus'] in health) and (not platforms or machine['osPlatform'] in platforms)
                and (not tags or any(t.lower() in [w.lower() for w in tags] for t in machine['machineTags']))
                and (raw is None or RAW_MACHINE_FILTERS[raw](machine)))

    served = matches(filter_text, MACHINE_SCHEMA, records) if filter_text else list(range(len(records)))
    selected = [i for i in served if not tags or machines.carries_any_tag(records[i], tags)]
    assert selected == [i for i, m in enumerate(records) if intended(m)], filter_text


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(hostile, anything, st.sampled_from([
    "healthStatus eq 'Active') or (true", "true) or (healthStatus ne 'Active'", "riskScore eq 'High'",
    "(healthStatus ne 'Active' or healthStatus eq 'Active')", "machineTags/any(t: t eq 'it''s') or riskScore ne 'x'"])))
def test_no_raw_machine_filter_can_widen_the_tag_and_health_criteria(raw):
    """Whatever ``filter`` says, a machine without the tag, or not Active, never matches tags: [finance] and
    health_status: [Active] combined with it (the health test in the $filter, the tag test by the module)."""
    try:
        filter_text = machine_info_filter(dict(tags=['finance'], health_status=['Active'], filter=raw))
    except AtpOptionError:
        return  # refused before any request
    try:
        predicate = compile_filter(filter_text, MACHINE_SCHEMA)
    except ODataError:
        return  # the API would refuse it (400): nothing matched
    for tags, health in ((['prod'], 'Active'), ([], 'Active'), (['finance'], 'Inactive'), (["it's"], 'Unknown')):
        machine = {'id': '0' * 40, 'computerDnsName': 'ws-1', 'healthStatus': health, 'osPlatform': 'Windows11',
                   'riskScore': 'High', 'machineTags': tags}
        assert not (predicate(machine) and machines.carries_any_tag(machine, ['finance'])), filter_text


@pytest.mark.parametrize('raw', ["healthStatus eq 'Active') or (true", "computerDnsName eq 'x", "", "  "])
def test_machine_info_refuses_a_raw_filter_that_could_escape(raw):
    with pytest.raises(AtpOptionError):
        machine_info_filter(dict(tags=['finance'], filter=raw))


# -- MachineDirectory's batched lookups -----------------------------------------------------------------------------------

def planned_filters(field, values, budget, prefix=None):
    """The filters MachineDirectory's batcher plans for ``field eq value`` over ``values`` within ``budget`` characters."""
    return odata.FilterBatcher(None, max_chars=budget).plan([odata.eq(field, value) for value in values], prefix)


@settings(max_examples=100, deadline=None)
@given(names=st.lists(value_text.filter(lambda v: v.strip()), min_size=1, max_size=12, unique=True),
       budget=st.sampled_from([120, 400, 4000]))
def test_batched_name_and_id_lookups_match_exactly_their_chunk(names, budget):
    records = [{'id': '%040x' % i, 'computerDnsName': name} for i, name in enumerate(
        names + sorted(set(m for n in names for m in near_misses(n)) - set(names)))]
    found = []
    for filter_text in planned_filters('computerDnsName', names, budget):
        hit = matches(filter_text, MACHINE_SCHEMA, records)
        assert all(records[i]['computerDnsName'] in names for i in hit), filter_text
        found.extend(hit)
    assert sorted(records[i]['computerDnsName'] for i in found) == sorted(names)


@settings(max_examples=100, deadline=None)
@given(names=st.lists(value_text.filter(lambda v: v.strip() and '.' not in v), min_size=1, max_size=8, unique=True))
def test_short_name_lookups_match_only_names_starting_with_the_name_and_a_dot(names):
    directory = machines.MachineDirectory(client=None, filter_budget=300)
    candidates = []
    for name in names:
        candidates += [name + '.contoso.com', name, name + 'x.contoso.com', 'x' + name + '.contoso.com']
        candidates += [miss + '.contoso.com' for miss in near_misses(name)]
    records = [{'id': '%040x' % i, 'computerDnsName': c} for i, c in enumerate(sorted(set(candidates)))]
    hits = set()
    for filter_text in directory.batcher.plan(directory._startswith_clauses(names)):
        hits.update(matches(filter_text, MACHINE_SCHEMA, records))
    assert sorted(records[i]['computerDnsName'] for i in hits) == sorted(
        r['computerDnsName'] for r in records if any(r['computerDnsName'].startswith(n + '.') for n in names))


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(value_text.filter(lambda v: v.strip()), min_size=1, max_size=10, unique=True),
       budget=st.sampled_from([200, 4000]))
def test_action_lookups_match_only_isolation_actions_of_the_machines_asked_for(ids, budget):
    type_filter = odata.any_of('type', ('Isolate', 'Unisolate'))
    records = []
    for machine_id in ids + near_misses(ids[0]):
        for kind in ('Isolate', 'Unisolate', 'RunAntiVirusScan', 'CollectInvestigationPackage'):
            records.append({'id': 'x', 'machineId': machine_id, 'type': kind, 'status': 'Succeeded'})
    hits = set()
    for filter_text in planned_filters('machineId', ids, budget, prefix=type_filter):
        hits.update(matches(filter_text, ACTION_SCHEMA, records))
    assert sorted(hits) == [i for i, r in enumerate(records) if r['machineId'] in ids and r['type'] in ('Isolate', 'Unisolate')]
