"""Advanced hunting: /api/advancedqueries/run (Schema/Results/Stats) and Graph runHuntingQuery (schema/results)."""

import csv
import io
import json
import os

import pytest

from emulator import hunting

from .conftest import GRAPH
from .test_defender import FIXTURES, assert_defender_error


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def run(api, query, **kwargs):
    return api.post("/api/advancedqueries/run", json={"Query": query}, **kwargs)


def graph(api, body, token=None):
    return api.post("/v1.0/security/runHuntingQuery", json=body, token=token or api.token("full", GRAPH))


def assert_graph_error(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    return error


def test_microsofts_example_query(api):
    response = api.post("/api/advancedqueries/run", json=fixture("advancedqueries_request.json"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8" and "OData-Version" not in response.headers
    body = response.json()
    example = fixture("advancedqueries_response.json")
    assert list(body) == ["Schema", "Results", "Stats"]
    assert body["Schema"] == example["Schema"]
    assert len(body["Results"]) == 2 and [list(r) for r in body["Results"]] == [list(r) for r in example["Results"]]
    assert all(r["InitiatingProcessFileName"] == "powershell.exe" for r in body["Results"])
    stats = body["Stats"]
    assert set(stats) == {"ExecutionTime", "resource_usage", "dataset_statistics"}
    assert set(stats["resource_usage"]) == {"cache", "cpu", "memory"} and "total cpu" in stats["resource_usage"]["cpu"]
    assert stats["dataset_statistics"][0]["table_row_count"] == 500


@pytest.mark.parametrize("body", [None, b"not json", b'{"Query": "DeviceInfo\n| take 1"}', {"query": "DeviceInfo"},
                                  {"Query": ""}, {"Query": 5}, ["DeviceInfo"]])
def test_missing_query(api, body):
    if isinstance(body, bytes) or body is None:
        response = api.post("/api/advancedqueries/run", data=body, headers={"Content-Type": "application/json"})
    else:
        response = api.post("/api/advancedqueries/run", json=body)
    assert_defender_error(response, 400, "InvalidRequestBody", "Missing query.")


def test_operators(api):
    rows = run(api, "DeviceProcessEvents | where FileName == \"cmd.exe\" | project DeviceName, FileName | take 5").json()
    assert rows["Schema"] == [{"Name": "DeviceName", "Type": "String"}, {"Name": "FileName", "Type": "String"}]
    assert len(rows["Results"]) == 5 and {r["FileName"] for r in rows["Results"]} == {"cmd.exe"}
    assert run(api, "DeviceProcessEvents | count").json()["Results"] == [{"Count": 500}]
    assert run(api, "DeviceProcessEvents | where FileName =~ 'CMD.EXE' | count").json()["Results"][0]["Count"] > 0
    assert run(api, "DeviceProcessEvents | where FileName == 'CMD.EXE' | count").json()["Results"] == [{"Count": 0}]
    summary = run(api, "DeviceProcessEvents | summarize count() by FileName").json()
    assert [s["Name"] for s in summary["Schema"]] == ["FileName", "count_"]
    assert sum(r["count_"] for r in summary["Results"]) == 500
    ordered = run(api, "DeviceProcessEvents | order by Timestamp asc | take 3 | project Timestamp").json()["Results"]
    assert [r["Timestamp"] for r in ordered] == sorted(r["Timestamp"] for r in ordered)
    top = run(api, "DeviceProcessEvents | top 2 by ProcessId desc | project ProcessId").json()["Results"]
    assert top[0]["ProcessId"] >= top[1]["ProcessId"]
    distinct = run(api, "DeviceInfo | distinct OSPlatform").json()["Results"]
    assert {r["OSPlatform"] for r in distinct} == {"Windows10", "Windows11", "WindowsServer2019", "WindowsServer2022",
                                                   "Linux", "macOS"}
    recent = run(api, "DeviceProcessEvents | where Timestamp > ago(1d) | count").json()["Results"][0]["Count"]
    assert 0 < recent < 100
    since = run(api, "DeviceProcessEvents | order by Timestamp desc | take 10 | project Timestamp").json()["Results"][-1]
    newer = run(api, "DeviceProcessEvents | where Timestamp >= datetime(%s) | count" % since["Timestamp"]).json()
    assert newer["Results"] == [{"Count": 10}]
    assert run(api, "DeviceProcessEvents | where Timestamp < datetime(2001-01-01) | count").json()["Results"] == [{"Count": 0}]
    both = run(api, "AlertInfo | where Severity in ('High', 'Medium') and Category != 'Malware' | project Severity").json()
    assert both["Results"] and {r["Severity"] for r in both["Results"]} <= {"High", "Medium"}


def test_multi_line_query_with_comments(api):
    query = """// processes launched by PowerShell
DeviceProcessEvents
| where InitiatingProcessFileName =~ "powershell.exe"   // case-insensitive
| where ProcessCommandLine contains "appdata"
| project Timestamp, DeviceName, ProcessCommandLine
| limit 3"""
    body = run(api, query).json()
    assert len(body["Results"]) == 3 and all("appdata" in r["ProcessCommandLine"].lower() for r in body["Results"])


def test_values_that_stress_csv_writers(api):
    rows = run(api, "DeviceProcessEvents | project ProcessCommandLine").json()["Results"]
    lines = [r["ProcessCommandLine"] for r in rows]
    assert any("," in v for v in lines) and any('"' in v for v in lines) and any("\n" in v for v in lines)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["ProcessCommandLine"])
    writer.writeheader()
    writer.writerows(rows)
    assert [r["ProcessCommandLine"] for r in csv.DictReader(io.StringIO(buffer.getvalue()))] == lines


@pytest.mark.parametrize("query,fragment", [
    ("NoSuchTable | take 1", "Failed to resolve table or column expression named 'NoSuchTable'"),
    ("DeviceInfo | project Nope", "Failed to resolve scalar expression named 'Nope'"),
    ("DeviceInfo | where Nope == 1", "Failed to resolve scalar expression named 'Nope'"),
    ("DeviceInfo | extend x = 1", "not supported"),
    ("let x = 1; DeviceInfo", "expected a table name"),
    ("DeviceInfo | take many", "row count"),
    ("DeviceInfo | where DeviceName == 'unterminated", "unterminated"),
])
def test_query_errors(api, query, fragment):
    error = assert_defender_error(run(api, query), 400, "BadRequest")
    assert fragment in error["message"]


def test_result_size_limit(api, emulator):
    emulator.set_config(max_result_bytes=2000)
    assert_defender_error(run(api, "DeviceProcessEvents"), 400, "BadRequest",
                          "Query execution has exceeded the allowed result size. Optimize your query by limiting the "
                          "number of results and try again")
    assert run(api, "DeviceProcessEvents | take 1 | project FileName").status_code == 200
    assert_graph_error(graph(api, {"Query": "DeviceProcessEvents"}), 400, "BadRequest")


def test_row_cap_is_100000():
    table = hunting.Table("T", [("N", "Int64")], lambda: [(i,) for i in range(100005)])
    columns, rows, scanned = hunting.run("T", {"T": table}, 0)
    assert len(rows) == hunting.MAX_ROWS == 100000 and scanned == 100005


def test_graph_runs_microsofts_example(api, info):
    response = graph(api, fixture("graph_hunting_request.json"))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    example = fixture("graph_hunting_response_lower.json")
    assert list(body) == ["@odata.context", "schema", "results"]
    assert body["@odata.context"] == info["url"] + "/v1.0/$metadata#microsoft.graph.security.huntingQueryResults"
    assert body["schema"] == example["schema"]
    assert len(body["results"]) == 2
    assert body["results"][0]["Timestamp"] >= body["results"][1]["Timestamp"]  # order by Timestamp desc


def test_graph_property_names_are_case_insensitive_and_timespan_filters(api):
    whole = graph(api, {"query": "DeviceProcessEvents | count"}).json()["results"][0]["Count"]
    day = graph(api, {"Query": "DeviceProcessEvents | count", "Timespan": "P1D"}).json()["results"][0]["Count"]
    hours = graph(api, {"QUERY": "DeviceProcessEvents | count", "timespan": "PT6H"}).json()["results"][0]["Count"]
    assert whole == 500 and 0 < hours < day < whole
    assert graph(api, fixture("graph_hunting_request_timespan.json")).json()["results"][0]["Timestamp"]
    assert_graph_error(graph(api, {"Query": "DeviceInfo", "Timespan": "one day"}), 400, "BadRequest")
    assert_graph_error(graph(api, {"Timespan": "P1D"}), 400, "BadRequest")
    assert_graph_error(graph(api, {"Query": "Nope"}), 400, "BadRequest")


@pytest.mark.parametrize("case,graph_keys,mde_keys", [("default", ["name", "type"], ["Name", "Type"]),
                                                      ("lower", ["name", "type"], ["name", "type"]),
                                                      ("upper", ["Name", "Type"], ["Name", "Type"])])
def test_schema_case_switch(api, emulator, case, graph_keys, mde_keys):
    emulator.set_config(schema_case=case)
    assert list(graph(api, {"Query": "DeviceInfo | take 1"}).json()["schema"][0]) == graph_keys
    assert list(run(api, "DeviceInfo | take 1").json()["Schema"][0]) == mde_keys


def test_graph_auth_and_permissions(api):
    defender_token = api.token()
    error = assert_graph_error(graph(api, {"Query": "DeviceInfo"}, token=defender_token), 401, "InvalidAuthenticationToken")
    assert "audience" in error["message"].lower()
    error = assert_graph_error(graph(api, {"Query": "DeviceInfo"}, token=api.token("limited", GRAPH)), 403, "Forbidden")
    assert "ThreatHunting.Read.All" in error["message"]
    assert_graph_error(api.request("POST", "/v1.0/security/runHuntingQuery", json={"Query": "x"}), 401,
                       "InvalidAuthenticationToken")
    expired = api.emu.mint_token(audience=GRAPH, roles=["ThreatHunting.Read.All"], lifetime=-5)
    assert_graph_error(graph(api, {"Query": "DeviceInfo"}, token=expired), 401, "InvalidAuthenticationToken")
    delegated = graph(api, {"Query": "DeviceInfo | take 1"}, token=api.token("user", GRAPH))
    assert delegated.status_code == 200
    assert graph(api, {"Query": "DeviceInfo | take 1"}, token=api.token("other", GRAPH)).json()["results"][0][
        "DeviceName"].endswith("fabrikam.com")
    echoed = api.post("/v1.0/security/runHuntingQuery", json={"Query": "Nope"}, token=api.token("full", GRAPH),
                      headers={"client-request-id": "abc-123"})
    assert echoed.json()["error"]["innerError"]["client-request-id"] == "abc-123"


def test_advanced_query_permissions(api):
    error = assert_defender_error(run(api, "DeviceInfo", token=api.token("limited")), 403, "Forbidden")
    assert error["message"].startswith("Missing application roles. API required roles: AdvancedQuery.Read.All")
    assert run(api, "DeviceInfo | take 1", token=api.token("user")).status_code == 200
    assert_defender_error(run(api, "DeviceInfo", token=api.token("full", GRAPH)), 403, "Forbidden")
