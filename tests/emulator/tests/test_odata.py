"""OData: the $filter parser (in-process, for breadth) and every operator and error over HTTPS."""

import urllib.parse

import pytest

from emulator import odata
from emulator.entities import ALERT_SCHEMA, MACHINE_SCHEMA

MACHINES = [
    {"id": "1", "computerDnsName": "ws-a.contoso.com", "healthStatus": "Active", "riskScore": "High", "rbacGroupId": 140,
     "lastSeen": "2024-05-01T10:00:00.1234567Z", "machineTags": ["finance", "compromised"], "osPlatform": "Windows11"},
    {"id": "2", "computerDnsName": "WS-B.contoso.com", "healthStatus": "Inactive", "riskScore": "Low", "rbacGroupId": 0,
     "lastSeen": "2024-04-01T00:00:00Z", "machineTags": [], "osPlatform": "Windows10"},
    {"id": "3", "computerDnsName": "srv-c.contoso.com", "healthStatus": "Active", "riskScore": "None", "rbacGroupId": 202,
     "lastSeen": None, "machineTags": ["Bob's PC"], "osPlatform": "Linux"},
]


def ids(expression):
    predicate = odata.compile_filter(expression, MACHINE_SCHEMA)
    return [m["id"] for m in MACHINES if predicate(m)]


@pytest.mark.parametrize("expression,expected", [
    ("healthStatus eq 'Active'", ["1", "3"]),
    ("healthStatus ne 'Active'", ["2"]),
    ("rbacGroupId gt 0", ["1", "3"]),
    ("rbacGroupId ge 140", ["1", "3"]),
    ("rbacGroupId lt 140", ["2"]),
    ("rbacGroupId le 140", ["1", "2"]),
    ("lastSeen gt 2024-04-15T00:00:00Z", ["1"]),
    ("lastSeen ge 2024-04-01T00:00:00Z", ["1", "2"]),
    ("lastSeen lt 2024-04-01T00:00:00.0000001Z", ["2"]),
    ("lastSeen le 2024-05-01T10:00:00.1234567Z", ["1", "2"]),
    ("lastSeen gt 2018-08-01Z", ["1", "2"]),  # the doc's date-only literal
    ("lastSeen gt 2024-05-01T12:00:00+02:00", ["1"]),
    ("lastSeen eq null", ["3"]),
    ("lastSeen ne null", ["1", "2"]),
    ("healthStatus eq 'Active' and riskScore eq 'High'", ["1"]),
    ("healthStatus eq 'Inactive' or riskScore eq 'None'", ["2", "3"]),
    ("riskScore eq 'Low' or riskScore eq 'High' and healthStatus eq 'Inactive'", ["2"]),  # and binds tighter
    ("(riskScore eq 'Low' or riskScore eq 'High') and healthStatus eq 'Active'", ["1"]),
    ("not healthStatus eq 'Active'", ["2"]),
    ("not (healthStatus eq 'Active' and riskScore eq 'None')", ["1", "2"]),
    ("healthStatus eq 'Active' AND riskScore eq 'High'", ["1"]),  # Kibana sends AND
    ("startswith(computerDnsName,'ws-')", ["1"]),  # case-sensitive like eq
    ("startswith(computerDnsName, 'WS-')", ["2"]),
    ("computerDnsName eq 'ws-b.contoso.com'", []),  # strict OData: eq on strings is case-sensitive
    ("riskScore in ('High','None')", ["1", "3"]),
    ("rbacGroupId in (0, 202)", ["2", "3"]),
    ("machineTags/any(t: t eq 'compromised')", ["1"]),
    ("machineTags/any(tag: startswith(tag, 'fin'))", ["1"]),
    ("machineTags/any()", ["1", "3"]),
    ("machineTags/all(t: t ne 'finance')", ["2", "3"]),
    ("machineTags/any(t: t eq 'Bob''s PC')", ["3"]),
    ("id eq '1' or id eq '3'", ["1", "3"]),
    ("osPlatform eq 'Linux' and machineTags/any(t: t eq 'Bob''s PC') and lastSeen eq null", ["3"]),
])
def test_filter_semantics(expression, expected):
    assert ids(expression) == expected


@pytest.mark.parametrize("expression,fragment", [
    ("", "empty"),
    ("foo eq 'x'", "Could not find a property named 'foo'"),
    ("firstSeen gt 2024-01-01T00:00:00Z", "cannot be used in the $filter"),
    ("healthStatus eq 'active'", "not a valid enumerated type constant"),
    ("healthStatus eq", "Syntax error"),
    ("healthStatus = 'Active'", "character '='"),
    ("healthStatus eq 'Active' and", "Syntax error"),
    ("(healthStatus eq 'Active'", "expected ')'"),
    ("healthStatus eq 'Active", "Unterminated string"),
    ("contains(computerDnsName,'ws')", "not supported"),
    ("frobnicate(computerDnsName)", "unknown function"),
    ("lastSeen gt '2024-01-01T00:00:00Z'", "incompatible types"),
    ("rbacGroupId eq '140'", "incompatible types"),
    ("machineTags eq 'x'", "use any()"),
    ("lastSeen gt 2024-13-01T00:00:00Z", "not valid"),
    ("healthStatus", "boolean"),
    ("machineTags/count(t: t eq 'x')", "'any' or 'all'"),
    ("rbacGroupId add 1 eq 2", "not supported"),
    ("computerDnsName eq 'a' xor computerDnsName eq 'b'", "Syntax error"),
])
def test_filter_errors(expression, fragment):
    with pytest.raises(odata.ODataError) as err:
        odata.compile_filter(expression, MACHINE_SCHEMA)
    assert fragment.lower() in err.value.message.lower()


def test_alert_filterable_fields_and_aliases():
    for field in ("alertCreationTime", "lastUpdateTime", "lastEventTime"):
        odata.compile_filter("%s ge 2024-01-01T00:00:00Z" % field, ALERT_SCHEMA)
    for field in ("id", "assignedTo", "detectionSource", "category"):
        odata.compile_filter("%s eq 'x'" % field, ALERT_SCHEMA)
    odata.compile_filter("incidentId eq 7587 and investigationId ne null and InvestigationId gt 1", ALERT_SCHEMA)
    with pytest.raises(odata.ODataError):
        odata.compile_filter("title eq 'x'", ALERT_SCHEMA)


# -- over HTTPS ---------------------------------------------------------------------------------------------------------------
def odata_error(api, path):
    response = api.get(path)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "target"}
    assert body["error"]["code"] == "ODataError"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return body["error"]["message"]


def q(**params):
    return urllib.parse.urlencode(params)


def test_http_filters_on_machines(api):
    compromised = api.filter("machines", "machineTags/any(t: t eq 'compromised')")
    assert sorted(m["computerDnsName"] for m in compromised) == [
        "mac-design-01.contoso.com", "srv-web-02.contoso.com", "ws-eng-05.contoso.com", "ws-finance-03.contoso.com"]
    assert [m["computerDnsName"] for m in api.filter("machines", "machineTags/any(t: t eq 'Bob''s PC')")] == [
        "ws-support-01.contoso.com"]
    finance = api.filter("machines", "startswith(computerDnsName,'ws-finance') and healthStatus eq 'Active'")
    assert len(finance) == 3
    inactive = api.filter("machines", "healthStatus ne 'Active' and onboardingStatus eq 'Onboarded'")
    assert all(m["healthStatus"] != "Active" for m in inactive) and len(inactive) >= 5
    both = api.filter("machines", "osPlatform in ('Linux','macOS')")
    assert {m["osPlatform"] for m in both} == {"Linux", "macOS"} and len(both) == 9
    assert api.filter("machines", "computerDnsName eq 'ws-sales-01.contoso.com'") == []  # case-sensitive
    assert len(api.filter("machines", "computerDnsName eq 'WS-Sales-01.Contoso.com'")) == 1
    reimaged = api.filter("machines", "computerDnsName eq 'ws-reimaged.contoso.com'")
    assert len(reimaged) == 2 and len({m["id"] for m in reimaged}) == 2
    assert len(api.filter("machines", "riskScore eq 'High' or exposureLevel eq 'High'")) >= 6
    assert {m["rbacGroupId"] for m in api.filter("machines", "rbacGroupId eq 140")} == {140}


def test_http_date_filters(api):
    everything = api.values("/api/alerts")
    pivot = sorted(a["alertCreationTime"] for a in everything)[30]
    newer = api.filter("alerts", "alertCreationTime ge %s" % pivot)
    assert len(newer) == 30
    assert len(api.filter("alerts", "alertCreationTime lt %s" % pivot)) == 30
    assert api.filter("alerts", "lastUpdateTime ge 2999-01-01T00:00:00Z") == []


def test_http_alert_filters(api):
    for status in ("Unknown", "New", "InProgress", "Resolved"):
        found = api.filter("alerts", "status eq '%s'" % status)
        assert found and {a["status"] for a in found} == {status}
    for severity in ("UnSpecified", "Informational", "Low", "Medium", "High"):
        assert {a["severity"] for a in api.filter("alerts", "severity eq '%s'" % severity)} == {severity}
    combined = api.filter("alerts", "(severity eq 'High' or severity eq 'Medium') and status ne 'Resolved'")
    assert combined and all(a["severity"] in ("High", "Medium") and a["status"] != "Resolved" for a in combined)
    fixture = api.filter("alerts", "incidentId eq 7587")
    assert [a["id"] for a in fixture] == ["da637308392288907382_-880718168"]
    machine = fixture[0]["machineId"]
    assert {a["machineId"] for a in api.values("/api/machines/%s/alerts" % machine)} == {machine}
    assert api.filter("alerts", "detectionSource eq 'AutomatedInvestigation'")
    assert api.filter("alerts", "assignedTo eq null and category eq 'Execution'")


def test_http_top_skip_orderby_select_count(api):
    everything = api.values("/api/machines")
    assert len(everything) == 42
    assert api.values("/api/machines?" + q(**{"$top": 5})) == everything[:5]
    assert api.values("/api/machines?" + q(**{"$top": 5, "$skip": 40})) == everything[40:]
    assert api.values("/api/machines?" + q(**{"$skip": 100})) == []
    ordered = api.values("/api/machines?" + q(**{"$orderby": "lastSeen desc", "$top": 3}))
    assert [m["lastSeen"] for m in ordered] == sorted((m["lastSeen"] for m in everything), reverse=True)[:3]
    two_keys = api.values("/api/machines?" + q(**{"$orderby": "riskScore asc, computerDnsName desc"}))
    assert [(m["riskScore"], m["computerDnsName"]) for m in two_keys] == sorted(
        sorted(((m["riskScore"], m["computerDnsName"]) for m in everything), key=lambda t: t[1], reverse=True),
        key=lambda t: t[0])
    selected = api.values("/api/machines?" + q(**{"$select": "id,computerDnsName", "$top": 2}))
    assert [list(m) for m in selected] == [["id", "computerDnsName"]] * 2
    counted = api.get("/api/machines?" + q(**{"$count": "true", "$top": 1, "$filter": "healthStatus eq 'Active'"})).json()
    assert list(counted) == ["@odata.context", "@odata.count", "value"] and counted["@odata.count"] > 20


@pytest.mark.parametrize("query,fragment", [
    ({"$top": "10001"}, "The limit of '10000' for Top query has been exceeded"),
    ({"$top": "-1"}, "non-negative integer"),
    ({"$top": "ten"}, "non-negative integer"),
    ({"$skip": "-5"}, "non-negative integer"),
    ({"$filter": "nosuchfield eq 1"}, "Could not find a property named 'nosuchfield'"),
    ({"$filter": "healthStatus eq 'Active' or"}, "Syntax error"),
    ({"$filter": "healthStatus eq 'Active'", "$orderby": "bogus desc"}, "bogus"),
    ({"$orderby": "lastSeen sideways"}, "$orderby"),
    ({"$orderby": "machineTags"}, "single value"),
    ({"$expand": "evidence"}, "expand"),
    ({"$search": "x"}, "not supported"),
    ({"$count": "maybe"}, "count"),
    ({"$select": "id,nope"}, "nope"),
])
def test_http_odata_errors(api, query, fragment):
    assert fragment in odata_error(api, "/api/machines?" + q(**query))


def test_http_duplicate_query_option(api):
    assert "more than once" in odata_error(api, "/api/alerts?$top=1&$top=2")


def test_top_10000_is_allowed_and_no_next_link(api):
    body = api.get("/api/alerts?$top=10000").json()
    assert len(body["value"]) == 60 and "@odata.nextLink" not in body
