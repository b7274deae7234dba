"""Property tests (in-process) for the parsers every request goes through."""

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import hunting, odata
from emulator.entities import MACHINE_SCHEMA
from emulator.util import TICKS_PER_SECOND, parse_ticks, ticks_to_iso

names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(names, names)
@settings(max_examples=200, deadline=None)
def test_quoted_string_literals_round_trip(target, other):
    """Any name, quotes included, matches itself and only itself once '' escaped."""
    literal = "'%s'" % target.replace("'", "''")
    predicate = odata.compile_filter("computerDnsName eq %s" % literal, MACHINE_SCHEMA)
    assert predicate({"computerDnsName": target})
    assert predicate({"computerDnsName": other}) == (other == target)
    tagged = odata.compile_filter("machineTags/any(t: t eq %s)" % literal, MACHINE_SCHEMA)
    assert tagged({"machineTags": [other, target]}) and not tagged({"machineTags": []})


@given(st.integers(min_value=0, max_value=253402300799 * TICKS_PER_SECOND))
@settings(max_examples=300, deadline=None)
def test_timestamps_round_trip_with_seven_digits(ticks):
    text = ticks_to_iso(ticks)
    assert len(text) == 28 and text.endswith("Z")
    assert parse_ticks(text) == ticks


@given(st.lists(st.sampled_from(["Active", "Inactive", "Unknown"]), min_size=1, max_size=20),
       st.sets(st.sampled_from(["Active", "Inactive", "Unknown"])))
def test_in_equals_a_chain_of_or(values, wanted):
    machines = [{"healthStatus": v} for v in values]
    if not wanted:
        return
    listed = ",".join("'%s'" % w for w in sorted(wanted))
    chained = " or ".join("healthStatus eq '%s'" % w for w in sorted(wanted))
    by_in = odata.compile_filter("healthStatus in (%s)" % listed, MACHINE_SCHEMA)
    by_or = odata.compile_filter(chained, MACHINE_SCHEMA)
    assert [by_in(m) for m in machines] == [by_or(m) for m in machines] == [m["healthStatus"] in wanted for m in machines]


@given(st.text(alphabet="abc,\"'\n| ", max_size=20))
@settings(max_examples=200, deadline=None)
def test_kql_string_literals_with_pipes_and_quotes(value):
    """A pipe inside a string literal never splits the query."""
    table = hunting.Table("T", [("S", "String")], lambda: [(value,), ("other",)])
    literal = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    columns, rows, _scanned = hunting.run("T | where S == %s" % literal, {"T": table}, 0)
    assert columns == [("S", "String")] and (value,) in rows
