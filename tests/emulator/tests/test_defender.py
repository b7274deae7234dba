"""Defender API endpoints: alerts, machines, machine actions; entity shapes against Microsoft's examples."""

import json
import os
import re

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
ISO7 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
MYMACHINE = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def assert_defender_error(response, status, code, message=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and list(body["error"]) == ["code", "message", "target"]
    assert body["error"]["code"] == code
    if message is not None:
        assert body["error"]["message"] == message
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "OData-Version" not in response.headers
    return body["error"]


def test_alert_list_shape_matches_the_fixture(api, info):
    response = api.get("/api/alerts")
    assert response.headers["Content-Type"] == ODATA_JSON and response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"] == info["url"] + "/api/$metadata#Alerts"
    assert len(body["value"]) == 60
    expected_keys = list(fixture("alerts_list_expand_evidence.json")["value"][0])
    for alert in body["value"]:
        assert list(alert) == expected_keys
        assert alert["evidence"] == []  # only with $expand=evidence
        assert ISO7.match(alert["alertCreationTime"]) and alert["aadTenantId"] == info["tenant_id"]
    assert {a["status"] for a in body["value"]} == {"Unknown", "New", "InProgress", "Resolved"}
    assert {a["severity"] for a in body["value"]} == {"UnSpecified", "Informational", "Low", "Medium", "High"}


def test_alert_list_with_evidence(api):
    alerts = api.values("/api/alerts?$expand=evidence")
    with_evidence = [a for a in alerts if a["evidence"]]
    assert len(with_evidence) > 40
    evidence_keys = list(fixture("alerts_list_expand_evidence.json")["value"][0]["evidence"][0])
    kinds = set()
    for alert in with_evidence:
        for item in alert["evidence"]:
            assert list(item) == evidence_keys
            kinds.add(item["entityType"])
    assert kinds == {"User", "Process", "File", "Ip", "Url"}


def test_get_alert_by_id_always_has_evidence(api, info):
    response = api.get("/api/alerts/da637472900382838869_1364969609")
    assert response.status_code == 200 and response.headers["Content-Type"] == ODATA_JSON
    alert = response.json()
    assert alert["@odata.context"] == info["url"] + "/api/$metadata#Alerts/$entity"
    assert [e["entityType"] for e in alert["evidence"]] == ["User", "Process", "File"]
    assert alert["title"] == "Low-reputation arbitrary code executed by signed executable"
    assert_defender_error(api.get("/api/alerts/da0_0"), 404, "ResourceNotFound", "Alert da0_0 was not found")


def test_machine_list_and_get_shapes(api, info):
    machines = api.get("/api/machines").json()
    assert machines["@odata.context"] == info["url"] + "/api/$metadata#Machines"
    fixture_machine = fixture("machine_get.json")
    got = api.get("/api/machines/" + MYMACHINE)
    assert got.status_code == 200 and got.headers["OData-Version"] == "4.0"
    machine = got.json()
    assert machine["@odata.context"] == info["url"] + "/api/$metadata#Machines/$entity"
    for key, value in fixture_machine.items():
        if key in ("@odata.context", "lastSeen"):
            continue
        assert machine[key] == value, key  # Microsoft's example machine, field for field
    assert list(machine)[1:19] == list(fixture_machine)[1:]
    for extra in ("deviceValue", "ipAddresses", "osArchitecture", "onboardingStatus", "agentVersion", "managedBy"):
        assert extra in machine
    assert not any("isolat" in key.lower() for key in machine)  # no isolation field, as in the real API


def test_get_machine_by_dns_name_case_insensitive_and_ambiguous(api):
    by_name = api.get("/api/machines/MyMachine1.CONTOSO.com").json()
    assert by_name["id"] == MYMACHINE
    mixed = api.get("/api/machines/ws-sales-01.contoso.com").json()
    assert mixed["computerDnsName"] == "WS-Sales-01.Contoso.com"
    reimaged = api.get("/api/machines/ws-reimaged.contoso.com").json()
    assert reimaged["healthStatus"] == "Active"  # the newest record of the re-imaged host


def test_unknown_machine_404(api):
    assert_defender_error(api.get("/api/machines/" + "0" * 40), 404, "ResourceNotFound", "Machine %s was not found" % ("0" * 40))
    assert_defender_error(api.get("/api/machines/nope.contoso.com"), 404, "ResourceNotFound")


def test_versioned_prefix_serves_the_same(api):
    assert api.values("/api/v1.0/machines?$top=3") == api.values("/api/machines?$top=3")
    assert api.get("/api/v1.0/alerts/da637308392288907382_-880718168").status_code == 200


def test_machine_actions_list_is_not_chronological_and_has_the_fixture_actions(api, info):
    body = api.get("/api/machineactions").json()
    assert body["@odata.context"] == info["url"] + "/api/$metadata#MachineActions"
    actions = body["value"]
    created = [a["creationDateTimeUtc"] for a in actions]
    assert created != sorted(created) and created != sorted(created, reverse=True)
    by_id = {a["id"]: a for a in actions}
    for sample in fixture("machineactions_list.json")["value"]:
        ours = by_id[sample["id"]]
        for key in ("type", "scope", "requestor", "requestorComment", "status", "machineId", "computerDnsName",
                    "creationDateTimeUtc", "relatedFileInfo"):
            assert ours[key] == sample[key], key
        assert ours["lastUpdateDateTimeUtc"] == sample["lastUpdateTimeUtc"]
    expected_keys = ["id", "type", "title", "requestor", "requestorComment", "status", "machineId", "computerDnsName",
                     "creationDateTimeUtc", "lastUpdateDateTimeUtc", "cancellationRequestor", "cancellationComment",
                     "cancellationDateTimeUtc", "errorHResult", "scope", "externalId", "requestSource", "relatedFileInfo",
                     "commands", "troubleshootInfo"]
    assert all(list(a) == expected_keys for a in actions)
    assert set(fixture("machineaction_get.json")) - {"@odata.context"} <= set(expected_keys)


def test_machine_actions_filters_and_order(api):
    isolations = api.filter("machineactions", "type in ('Isolate','Unisolate') and status eq 'Succeeded'")
    assert isolations and all(a["type"] in ("Isolate", "Unisolate") and a["status"] == "Succeeded" for a in isolations)
    # Elastic's "is it isolated?" query (mde-api.md 7).
    newest = api.values("/api/machineactions?$filter=status eq 'Succeeded' AND type in ('Isolate','Unisolate') AND "
                        "machineId eq '4a6af2a9def110d7d8f7c94c1b60aff908ab0951'&$top=1&$orderby=lastUpdateDateTimeUtc desc")
    assert [a["type"] for a in newest] == ["Isolate"]
    assert api.filter("machineactions", "requestor eq 'Analyst@TestPrd.onmicrosoft.com'")[0]["id"] == \
        "5382f7ea-7557-4ab7-9782-d50480024a4e"
    recent = api.filter("machineactions", "creationDateTimeUtc ge 2020-01-01T00:00:00Z")
    assert recent and all(a["creationDateTimeUtc"] >= "2020" for a in recent)
    assert api.filter("machineactions", "id eq '69dc3630-1ccc-4342-acf3-35286eec741d'")[0]["type"] == "CollectInvestigationPackage"
    assert "not a valid enumerated" in api.get("/api/machineactions?$filter=status eq 'Done'").json()["error"]["message"]
    asc = api.values("/api/machineactions?$orderby=creationDateTimeUtc asc")
    assert [a["creationDateTimeUtc"] for a in asc] == sorted(a["creationDateTimeUtc"] for a in asc)


def test_get_machine_action(api, info):
    response = api.get("/api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e")
    assert response.status_code == 200
    action = response.json()
    assert action["@odata.context"] == info["url"] + "/api/$metadata#MachineActions/$entity"
    sample = fixture("machineaction_get.json")
    for key, value in sample.items():
        if key != "@odata.context":
            assert action[key] == value, key
    assert_defender_error(api.get("/api/machineactions/not-a-guid"), 400, "BadRequest",
                          "The key value (not-a-guid) from request is not valid. The key value should be format of type "
                          "'Edm.Guid'.")
    assert_defender_error(api.get("/api/machineactions/00000000-0000-0000-0000-000000000000"), 404, "ResourceNotFound")


def test_unknown_route_and_wrong_method(api):
    assert_defender_error(api.get("/api/nothing-here"), 404, "NotFound")
    response = api.request("DELETE", "/api/alerts", token=api.token())
    assert_defender_error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/api/alerts", "/api/machines", "/api/machineactions"])
def test_keep_alive_and_content_length(api, path):
    response = api.get(path)
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.raw.version == 11 and "close" not in response.headers.get("Connection", "")


def test_other_tenant_sees_its_own_data(api, info):
    machines = api.values("/api/machines", token=api.token("other"))
    assert [m["computerDnsName"] for m in machines] == ["fabrikam-ws-01.fabrikam.com", "fabrikam-ws-02.fabrikam.com",
                                                        "fabrikam-srv-01.fabrikam.com"]
    assert {a["aadTenantId"] for a in api.values("/api/alerts", token=api.token("other"))} == {info["other_tenant_id"]}
    assert api.get("/api/machines/" + MYMACHINE, token=api.token("other")).status_code == 404
