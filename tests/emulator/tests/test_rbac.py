"""Device-group RBAC of user tokens (rbac.py): lists leave out, single objects answer 403, bulk calls refuse whole.

The default scoped user (``scoped_username``) has every permission on the Finance machines, View data only on the
Engineering ones and nothing on the others; the default analyst (``username``) has every device group.
"""

import pytest

from .conftest import DEFENDER
from .test_defender import assert_defender_error

COMMENT = {"Comment": "rbac test"}


def user_token(api, username, password):
    i = api.info
    response = api.token_request({"grant_type": "password", "client_id": i["public_client_id"], "username": username,
                                  "password": password, "scope": DEFENDER + "/.default"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def scoped(api):
    return user_token(api, api.info["scoped_username"], api.info["scoped_password"])


@pytest.fixture
def machines(api):
    """{group name: [machine ids]} as the full application sees them."""
    by_group = {}
    for machine in api.values("/api/machines"):
        by_group.setdefault(machine["rbacGroupName"], []).append(machine["id"])
    return by_group


def alert_of(api, machine_ids):
    for alert in api.values("/api/alerts"):
        if alert["machineId"] in machine_ids:
            return alert["id"]
    raise AssertionError("no alert on those machines")


def test_lists_hold_only_the_users_device_groups(api, scoped, machines):
    seen = api.values("/api/machines", token=scoped)
    assert {m["rbacGroupName"] for m in seen} == {"Finance", "Engineering"}
    assert len(seen) == len(machines["Finance"]) + len(machines["Engineering"])
    visible = set(machines["Finance"]) | set(machines["Engineering"])
    alerts = api.values("/api/alerts", token=scoped)
    assert alerts and all(a["machineId"] in visible for a in alerts)
    assert len(alerts) < len(api.values("/api/alerts"))
    actions = api.values("/api/machineactions", token=scoped)
    assert all(a["machineId"] in visible for a in actions)


def test_the_analyst_and_applications_see_every_group(api, machines):
    analyst = user_token(api, api.info["username"], api.info["password"])
    assert len(api.values("/api/machines", token=analyst)) == sum(len(ids) for ids in machines.values())
    hidden = machines["Servers"][0]
    assert api.get("/api/machines/%s" % hidden, token=analyst).status_code == 200


def test_one_machine_outside_the_groups_is_403(api, scoped, machines):
    hidden = machines["Servers"][0]
    error = assert_defender_error(api.get("/api/machines/%s" % hidden, token=scoped), 403, "Forbidden")
    assert "API required roles" not in error["message"]  # not a missing permission: a client must not stop there
    assert_defender_error(api.get("/api/machines/%s/alerts" % hidden, token=scoped), 403, "Forbidden")
    assert api.get("/api/machines/%s" % machines["Engineering"][0], token=scoped).status_code == 200
    assert_defender_error(api.get("/api/machines/%s" % ("0" * 40), token=scoped), 404, "ResourceNotFound")


def test_actions_need_the_role_on_the_machines_group(api, scoped, machines):
    allowed, view_only, hidden = machines["Finance"][0], machines["Engineering"][0], machines["Servers"][0]
    done = api.post("/api/machines/%s/isolate" % allowed, token=scoped, json=COMMENT)
    assert done.status_code == 201 and done.json()["requestor"] == api.info["scoped_username"]
    for machine_id in (view_only, hidden):
        for action in ("isolate", "runAntiVirusScan", "restrictCodeExecution", "collectInvestigationPackage"):
            body = dict(COMMENT, ScanType="Quick") if action == "runAntiVirusScan" else COMMENT
            response = api.post("/api/machines/%s/%s" % (machine_id, action), token=scoped, json=body)
            assert_defender_error(response, 403, "Forbidden")
    log = [e for e in api.emu.requests_log() if e["method"] == "POST" and "/api/machines/" in e["path"]]
    assert [e["status"] for e in log] == [201] + [403] * 8
    assert api.get("/api/machineactions/%s" % done.json()["id"], token=scoped).status_code == 200


def test_an_action_of_a_hidden_machine_is_403(api, scoped, machines):
    hidden = machines["Servers"][0]
    action = api.post("/api/machines/%s/isolate" % hidden, json=COMMENT).json()  # by the full application
    assert_defender_error(api.get("/api/machineactions/%s" % action["id"], token=scoped), 403, "Forbidden")
    response = api.post("/api/machineactions/%s/cancel" % action["id"], token=scoped, json=COMMENT)
    assert_defender_error(response, 403, "Forbidden")
    assert action["id"] not in [a["id"] for a in api.values("/api/machineactions", token=scoped)]


def test_alert_updates_need_alerts_investigation_and_a_batch_refuses_whole(api, scoped, machines):
    allowed = alert_of(api, machines["Finance"])
    view_only = alert_of(api, machines["Engineering"])
    response = api.request("PATCH", "/api/alerts/" + allowed, token=scoped, json={"status": "InProgress"})
    assert response.status_code == 200, response.text
    response = api.request("PATCH", "/api/alerts/" + view_only, token=scoped, json={"status": "InProgress"})
    assert_defender_error(response, 403, "Forbidden")
    assert api.get("/api/alerts/" + view_only, token=scoped).status_code == 200  # visible, just not writable
    batch = api.post("/api/alerts/batchUpdate", token=scoped, json={"alertIds": [allowed, view_only], "status": "Resolved"})
    assert_defender_error(batch, 403, "Forbidden")
    assert api.get("/api/alerts/" + allowed).json()["status"] == "InProgress", "a refused batch changes nothing"
    hidden = alert_of(api, machines["Servers"])
    assert_defender_error(api.get("/api/alerts/" + hidden, token=scoped), 403, "Forbidden")


def test_tags_need_the_group_and_a_bulk_call_refuses_whole(api, scoped, machines):
    allowed, view_only = machines["Finance"][0], machines["Engineering"][0]
    body = {"Value": "rbac-test", "Action": "Add"}
    assert api.post("/api/machines/%s/tags" % allowed, token=scoped, json=body).status_code == 200
    assert_defender_error(api.post("/api/machines/%s/tags" % view_only, token=scoped, json=body), 403, "Forbidden")
    bulk = dict(body, Value="rbac-bulk", MachineIds=[allowed, view_only])
    assert_defender_error(api.post("/api/machines/AddOrRemoveTagForMultipleMachines", token=scoped, json=bulk),
                          403, "Forbidden")
    assert "rbac-bulk" not in api.get("/api/machines/%s" % allowed).json()["machineTags"]


def indicator(value, groups):
    return {"indicatorValue": value, "indicatorType": "DomainName", "action": "Block", "title": "t",
            "description": "d", "rbacGroupNames": groups}


def test_indicators_outside_the_users_groups(api, scoped):
    ids = {}
    for name, groups in (("finance", ["Finance"]), ("servers", ["Servers"]), ("tenant", [])):
        response = api.post("/api/indicators", json=indicator("%s.example.com" % name, groups))  # the full application
        assert response.status_code == 200, response.text
        ids[name] = response.json()["id"]
    batch = api.post("/api/indicators/BatchDelete", token=scoped, json={"IndicatorIds": [ids["finance"], ids["servers"]]})
    error = assert_defender_error(batch, 403, "Forbidden")  # batch-delete-ti-indicators.md
    assert "API required roles" not in error["message"]
    assert len(api.values("/api/indicators")) == 3, "a refused batch deletes nothing"
    assert_defender_error(api.request("DELETE", "/api/indicators/" + ids["servers"], token=scoped), 403, "Forbidden")
    assert api.request("DELETE", "/api/indicators/" + ids["finance"], token=scoped).status_code == 204
    assert api.post("/api/indicators/BatchDelete", token=scoped, json={"IndicatorIds": [ids["tenant"]]}).status_code == 204
    refused = api.post("/api/indicators", token=scoped, json=indicator("servers.example.com", ["Servers"]))
    assert_defender_error(refused, 403, "Forbidden")
    imported = api.post("/api/indicators/import", token=scoped, json={"Indicators": [
        indicator("servers.example.com", ["Servers"]), indicator("fin2.example.com", ["Finance"])]}).json()["value"]
    assert [item["isFailed"] for item in imported] == [True, False]


def test_the_scope_is_configurable_and_reset(api, emulator, machines):
    analyst = user_token(api, api.info["username"], api.info["password"])
    emulator.set_config(user_device_groups={api.info["username"]: ["Servers"]})
    assert {m["rbacGroupName"] for m in api.values("/api/machines", token=analyst)} == {"Servers"}
    assert "responder@contoso.onmicrosoft.com" in emulator.get_config()["user_device_groups"], "merged per user"
    emulator.set_config(user_device_groups={api.info["scoped_username"]: None})
    scoped = user_token(api, api.info["scoped_username"], api.info["scoped_password"])
    assert len(api.values("/api/machines", token=scoped)) == sum(len(ids) for ids in machines.values())
    emulator.reset(data=True)
    assert len(api.values("/api/machines", token=analyst)) == sum(len(ids) for ids in machines.values())
    assert len(api.values("/api/machines", token=scoped)) < sum(len(ids) for ids in machines.values())


@pytest.mark.parametrize("value", [[], "x", {"u@x": "Finance"}, {"u@x": {"Finance": ["Root"]}}, {"": ["Finance"]}])
def test_bad_scopes_are_refused(api, value):
    response = api.request("POST", "/_emulator/config", json={"user_device_groups": value})
    assert response.status_code == 400 and "user_device_groups" in response.text


@pytest.mark.parametrize("code", ["DisallowedOperation", "DisabledFeature"])
def test_chosen_operations_answer_403_with_a_documented_code(api, machines, code):
    target = machines["Finance"][0]
    api.emu.add_fault(path="^/api/machines/%s/isolate$" % target, method="POST", status=403, code=code)
    error = assert_defender_error(api.post("/api/machines/%s/isolate" % target, json=COMMENT), 403, code)
    assert error["message"]
    assert api.post("/api/machines/%s/isolate" % machines["Finance"][1], json=COMMENT).status_code == 201
    custom = api.emu.add_fault(path="/unisolate$", status=403, code=code, message="Device group has no automation.")
    assert custom
    response = api.post("/api/machines/%s/unisolate" % target, json=COMMENT)
    assert assert_defender_error(response, 403, code)["message"] == "Device group has no automation."


def test_fault_code_needs_a_status(api):
    for rule in ({"path": "x", "code": "Forbidden", "drop": True}, {"path": "x", "status": 403, "code": 3},
                 {"path": "x", "status": 403, "code": "Forbidden", "body": {}}):
        assert api.request("POST", "/_emulator/faults", json=rule).status_code == 400
