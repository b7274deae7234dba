"""ASP.NET OData's $filter limits (node count, request length) and the filterable properties of each entity set."""

import urllib.parse

import pytest

from emulator import odata
from emulator.entities import ACTION_SCHEMA, ALERT_SCHEMA, MACHINE_SCHEMA

NODE_LIMIT = ("The query specified in the URI is not valid. The node count limit of '%d' has been exceeded. To increase "
              "the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings.")


def tree(text):
    return odata._Parser(text).parse()  # pylint: disable=protected-access


@pytest.mark.parametrize("expression,nodes", [
    ("id eq 'a'", 4),                                     # operator, property access, $it, constant
    ("id eq 'a' or id eq 'b'", 9),                        # two comparisons and the or
    ("(id eq 'a' or id eq 'b') and status eq 'New'", 14),
    ("not (healthStatus eq 'Active')", 5),
    ("startswith(computerDnsName,'ws-')", 4),              # call, property access, $it, constant
    ("machineTags/any(t: t eq 'x')", 6),                  # any, collection property, $it, eq, t, constant
    ("machineTags/any()", 3),
    ("lastSeen gt 2024-01-01T00:00:00Z", 4),
    ("riskScore in ('High','Low')", 1),                   # WebApi's validator does not visit an In node's parts
])
def test_nodes_are_counted_as_aspnet_odata_counts_them(expression, nodes):
    assert odata.node_count(tree(expression)) == nodes


def or_chain(field, count):
    return " or ".join("%s eq 'v%03d'" % (field, n) for n in range(count))


def test_the_default_limit_allows_100_nodes_and_refuses_101():
    # 20 comparisons joined by 19 or: 99 nodes; 21 and 20: 104. The validator refuses the 101st node.
    odata.compile_filter(or_chain("id", 20), MACHINE_SCHEMA, max_node_count=100)
    with pytest.raises(odata.ODataError) as err:
        odata.compile_filter(or_chain("id", 21), MACHINE_SCHEMA, max_node_count=100)
    assert err.value.message == NODE_LIMIT.split("valid. ", 1)[1] % 100
    odata.compile_filter(or_chain("id", 25), MACHINE_SCHEMA, max_node_count=None)


def test_http_node_limit_is_an_aspnet_odata_error(api, emulator):
    assert len(api.filter("machines", or_chain("id", 20))) == 0
    for path in ("machines", "machineactions", "alerts"):
        field = {"machines": "computerDnsName", "machineactions": "machineId", "alerts": "id"}[path]
        response = api.get("/api/%s?%s" % (path, urllib.parse.urlencode({"$filter": or_chain(field, 21)})))
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        error = response.json()["error"]
        assert set(error) == {"code", "message", "target"} and error["code"] == "ODataError"
        assert error["message"] == NODE_LIMIT % 100


def test_node_limit_is_configurable(api, emulator):
    emulator.set_config(max_node_count=20)
    assert api.filter("machines", or_chain("id", 4)) == []            # 19 nodes
    response = api.get("/api/machines?" + urllib.parse.urlencode({"$filter": or_chain("id", 5)}))
    assert response.status_code == 400 and response.json()["error"]["message"] == NODE_LIMIT % 20
    emulator.set_config(max_node_count=0)                             # no limit
    assert api.filter("machines", or_chain("id", 200)) == []
    for bad in (-1, "100", True, 1.5):
        assert api.request("POST", "/_emulator/config", json={"max_node_count": bad}).status_code == 400


def test_over_long_request_targets_are_414(api, emulator):
    emulator.set_config(max_url_length=300)
    long_filter = or_chain("computerDnsName", 12)                     # under the node limit, over 300 characters
    response = api.get("/api/machines?" + urllib.parse.urlencode({"$filter": long_filter}))
    assert response.status_code == 414 and "json" not in response.headers["Content-Type"]
    assert api.filter("machines", or_chain("computerDnsName", 2)) == []
    emulator.set_config(max_url_length=0)
    assert api.filter("machines", long_filter) == []
    assert emulator.get_config()["max_url_length"] == 0


# Documented filterable properties (mde-api.md 5.2 and "Facts added on review").
DOCUMENTED = {
    "alerts": (ALERT_SCHEMA, ("alertCreationTime", "lastUpdateTime", "incidentId", "investigationId", "id", "assignedTo",
                              "detectionSource", "lastEventTime", "status", "severity", "category")),
    "machines": (MACHINE_SCHEMA, ("computerDnsName", "id", "version", "deviceValue", "aadDeviceId", "machineTags", "lastSeen",
                                  "exposureLevel", "onboardingStatus", "lastIpAddress", "healthStatus", "osPlatform",
                                  "riskScore", "rbacGroupId")),
    "machineactions": (ACTION_SCHEMA, ("id", "status", "machineId", "type", "requestor", "creationDateTimeUtc")),
}


@pytest.mark.parametrize("entity_set", sorted(DOCUMENTED))
def test_only_documented_properties_are_filterable(entity_set):
    schema, documented = DOCUMENTED[entity_set]
    filterable = sorted(name for name, prop in schema.props.items() if prop.filterable)
    assert filterable == sorted(documented)


@pytest.mark.parametrize("entity_set,field,fragment", [
    ("alerts", "machineId", "The property 'machineId' cannot be used in the $filter query option."),
    ("alerts", "computerDnsName", "The property 'computerDnsName' cannot be used in the $filter query option."),
    ("alerts", "title", "The property 'title' cannot be used in the $filter query option."),
    ("alerts", "nosuch", "Could not find a property named 'nosuch' on type 'microsoft.windowsDefenderATP.api.Alert'."),
    ("machines", "rbacGroupName", "The property 'rbacGroupName' cannot be used in the $filter query option."),
    ("machineactions", "computerDnsName", "The property 'computerDnsName' cannot be used in the $filter query option."),
    ("machineactions", "lastUpdateDateTimeUtc", "cannot be used in the $filter query option"),
])
def test_http_undocumented_properties_are_refused(api, entity_set, field, fragment):
    response = api.get("/api/%s?%s" % (entity_set, urllib.parse.urlencode({"$filter": "%s eq 'x'" % field})))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ODataError"
    assert error["message"].startswith("The query specified in the URI is not valid. ")
    assert fragment in error["message"]


def test_machine_related_alerts(api):
    everything = api.values("/api/alerts")
    machine = everything[0]["machineId"]
    mine = api.values("/api/machines/%s/alerts" % machine)
    assert sorted(a["id"] for a in mine) == sorted(a["id"] for a in everything if a["machineId"] == machine)
    assert all(not a["evidence"] for a in mine)
    new = api.values("/api/machines/%s/alerts?%s" % (machine, urllib.parse.urlencode({"$filter": "status ne 'Resolved'"})))
    assert sorted(a["id"] for a in new) == sorted(a["id"] for a in mine if a["status"] != "Resolved")
    refused = api.get("/api/machines/%s/alerts?%s" % (machine, urllib.parse.urlencode({"$filter": "machineId eq 'x'"})))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "ODataError"
    missing = api.get("/api/machines/%s/alerts" % ("0" * 40))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    limited = api.get("/api/machines/%s/alerts" % machine, token=api.token("limited"))
    assert limited.status_code == 200
