"""Isolate/unisolate and the machine-action lifecycle: Pending -> InProgress -> Succeeded, offline, conflicts, cancel."""

import re
import time

import pytest

from .test_defender import ISO7, assert_defender_error

FINANCE_01 = "958229471430993e9cde904f77fed63aeff7ceb4"   # online, never isolated
FINANCE_03 = "4a6af2a9def110d7d8f7c94c1b60aff908ab0951"   # currently isolated (Full)
HR_01 = "b12809b73d5566efb3403e529e94436f53adcdbb"        # isolated, then released
ENG_05 = "c43a374bebc953e5dd4386dc84aa1e902dc4900c"       # Failed, Cancelled, TimeOut isolations
WEB_02 = "7ee3a0a7f97586a1c0751a9e98e8dce49b335dec"       # currently isolated (Full), Linux
OFFLINE = "a55a51eecdfa7a0dda92f95306ee777729c000c5"      # ws-offline-01: Inactive, in the offline set
TRAVEL = "8ca2ef53b4d8a6ab9224881551d29c9d762dbc3d"       # laptop-travel-07: offline, Pending Isolate
DESKTOP_TEST = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378"  # isolated (Selective), Microsoft's example
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def isolate(api, machine, body=None, action="isolate", token=None):
    body = {"Comment": "Isolate machine due to alert 1234", "IsolationType": "Full"} if body is None else body
    return api.post("/api/machines/%s/%s" % (machine, action), json=body, token=token)


def status_of(api, action_id):
    return api.get("/api/machineactions/" + action_id).json()["status"]


def isolated(api, machine):
    """The newest Succeeded Isolate/Unisolate decides (mde-api.md 7)."""
    actions = api.filter("machineactions", "machineId eq '%s' and type in ('Isolate','Unisolate') and status eq 'Succeeded'"
                         % machine, **{"$orderby": "lastUpdateDateTimeUtc desc", "$top": 1})
    return bool(actions) and actions[0]["type"] == "Isolate"


def test_default_isolation_states(api):
    assert isolated(api, FINANCE_03) and isolated(api, WEB_02) and isolated(api, DESKTOP_TEST)
    assert not isolated(api, HR_01) and not isolated(api, ENG_05) and not isolated(api, FINANCE_01)
    assert not isolated(api, "1e5bc9d7e413ddd7902c2932e418702b84d0cc07")  # isolated in 2017, released in 2018
    pending = api.filter("machineactions", "machineId eq '%s'" % TRAVEL)
    assert [(a["type"], a["status"]) for a in pending] == [("Isolate", "Pending")]
    assert {a["status"] for a in api.filter("machineactions", "machineId eq '%s'" % ENG_05)} == {
        "Failed", "Cancelled", "TimeOut", "Succeeded"}


def test_isolate_response_and_lifecycle(api, info, emulator):
    emulator.set_config(pending_seconds=0.8, inprogress_seconds=0.8)  # wide enough to observe each state under load
    started = time.time()
    response = isolate(api, FINANCE_01)
    assert response.status_code == 201, response.text
    assert response.headers["OData-Version"] == "4.0"
    action = response.json()
    assert action["@odata.context"] == info["url"] + "/api/$metadata#MachineActions/$entity"
    assert GUID.match(action["id"]) and action["type"] == "Isolate" and action["scope"] == "Full"
    assert action["status"] == "Pending" and action["machineId"] == FINANCE_01
    assert action["computerDnsName"] is None  # null on new actions, as in real payloads; filled once picked up
    assert action["requestor"] == info["client_id"] and action["requestorComment"] == "Isolate machine due to alert 1234"
    assert action["requestSource"] == "PublicApi" and action["commands"] == [] and action["relatedFileInfo"] is None
    assert action["cancellationRequestor"] is None and action["externalId"] is None and action["title"]
    assert ISO7.match(action["creationDateTimeUtc"]) and action["lastUpdateDateTimeUtc"] == action["creationDateTimeUtc"]
    seen = [status_of(api, action["id"])]
    while seen[-1] != "Succeeded" and time.time() - started < 10:
        time.sleep(0.05)
        seen.append(status_of(api, action["id"]))
    assert list(dict.fromkeys(seen)) == ["Pending", "InProgress", "Succeeded"]
    assert 1.6 <= time.time() - started < 8  # 0.8 s pending + 0.8 s in progress
    final = api.get("/api/machineactions/" + action["id"]).json()
    assert final["lastUpdateDateTimeUtc"] > final["creationDateTimeUtc"]
    assert isolated(api, FINANCE_01)
    assert emulator.machine_state(FINANCE_01)["isolated"] is True
    # No isolation field ever appears on the machine itself.
    assert not any("isolat" in key.lower() for key in api.get("/api/machines/" + FINANCE_01).json())


def test_unisolate_releases(api):
    response = isolate(api, FINANCE_03, {"Comment": "Unisolate machine since it was clean and validated"}, "unisolate")
    assert response.status_code == 201
    action = response.json()
    assert action["type"] == "Unisolate" and action["scope"] is None
    api.emu.wait_for(lambda: status_of(api, action["id"]) == "Succeeded")
    assert not isolated(api, FINANCE_03)


@pytest.mark.parametrize("scope", ["Selective", "UnManagedDevice"])
def test_isolation_types(api, scope):
    response = isolate(api, FINANCE_01, {"Comment": "c", "IsolationType": scope})
    assert response.status_code == 201 and response.json()["scope"] == scope


def test_isolation_type_defaults_to_full(api):
    response = isolate(api, FINANCE_01, {"Comment": "no type given"})
    assert response.status_code == 201 and response.json()["scope"] == "Full"


@pytest.mark.parametrize("action", ["isolate", "unisolate"])
def test_active_request_already_exists_while_pending_and_in_progress(api, emulator, action):
    emulator.set_config(pending_seconds=1.0, inprogress_seconds=1.0)
    first = isolate(api, HR_01).json()
    conflict = isolate(api, HR_01, {"Comment": "again"}, action)
    assert_defender_error(conflict, 400, "ActiveRequestAlreadyExists", "Action is already in progress")
    api.emu.wait_for(lambda: status_of(api, first["id"]) == "InProgress")
    assert_defender_error(isolate(api, HR_01, {"Comment": "again"}, action), 400, "ActiveRequestAlreadyExists")
    api.emu.wait_for(lambda: status_of(api, first["id"]) == "Succeeded")
    assert isolate(api, HR_01, {"Comment": "now it is fine"}, action).status_code == 201


def test_pending_isolate_of_the_offline_laptop_blocks_new_requests(api):
    assert_defender_error(isolate(api, TRAVEL), 400, "ActiveRequestAlreadyExists")
    assert_defender_error(isolate(api, TRAVEL, {"Comment": "x"}, "unisolate"), 400, "ActiveRequestAlreadyExists")


def test_offline_machine_stays_pending_until_it_comes_back(api, emulator):
    action = isolate(api, OFFLINE).json()
    time.sleep(1.2)
    assert status_of(api, action["id"]) == "Pending"
    offline = [m for m in emulator.get_config()["offline_machines"] if m != OFFLINE]
    emulator.set_config(offline_machines=offline)
    assert status_of(api, action["id"]) == "Pending"  # the lifecycle starts when the device is back
    emulator.wait_for(lambda: status_of(api, action["id"]) == "Succeeded")


def test_any_machine_can_be_taken_offline(api, emulator):
    emulator.set_config(offline_machines=[FINANCE_01])
    action = isolate(api, FINANCE_01).json()
    time.sleep(1.2)
    assert status_of(api, action["id"]) == "Pending"


def test_delays_are_configurable(api, emulator):
    emulator.set_config(pending_seconds=0, inprogress_seconds=0)
    action = isolate(api, FINANCE_01).json()
    assert status_of(api, action["id"]) == "Succeeded"


@pytest.mark.parametrize("body,code,message", [
    ({"IsolationType": "Full"}, "MissingRequiredParameter", "Parameter Comment is missing."),
    ({"comment": "lower-case name", "IsolationType": "Full"}, "MissingRequiredParameter", None),  # names are case-sensitive
    ({"Comment": "", "IsolationType": "Full"}, "InvalidRequestBody", None),
    ({"Comment": "   "}, "InvalidRequestBody", None),
    ({"Comment": 42}, "InvalidRequestBody", None),
    ({"Comment": "c", "IsolationType": "full"}, "InvalidRequestBody", None),
    ({"Comment": "c", "IsolationType": "Partial"}, "InvalidRequestBody", None),
    (["Comment"], "InvalidRequestBody", "Request body is incorrect"),
])
def test_isolate_body_validation(api, body, code, message):
    assert_defender_error(isolate(api, FINANCE_01, body), 400, code, message)
    assert api.filter("machineactions", "machineId eq '%s'" % FINANCE_01) == []  # nothing was created


def test_isolate_invalid_json(api):
    response = api.post("/api/machines/%s/isolate" % FINANCE_01, data=b'{"Comment": "unterminated',
                        headers={"Content-Type": "application/json"})
    assert_defender_error(response, 400, "InvalidRequestBody", "Request body is incorrect")


def test_isolate_unknown_machine_404(api):
    assert_defender_error(isolate(api, "f" * 40), 404, "ResourceNotFound", "Machine %s was not found" % ("f" * 40))
    assert_defender_error(isolate(api, "not-a-machine"), 404, "ResourceNotFound")


def test_cancel_pending_action(api, emulator, info):
    emulator.set_config(offline_machines=[FINANCE_01])
    action = isolate(api, FINANCE_01).json()
    response = api.post("/api/machineactions/%s/cancel" % action["id"], json={"Comment": "wrong machine"})
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "Cancelled" and cancelled["cancellationComment"] == "wrong machine"
    assert cancelled["cancellationRequestor"] == info["client_id"] and ISO7.match(cancelled["cancellationDateTimeUtc"])
    assert status_of(api, action["id"]) == "Cancelled"
    assert isolate(api, FINANCE_01).status_code == 201  # no longer blocks a new request
    again = api.post("/api/machineactions/%s/cancel" % action["id"], json={"Comment": "twice"})
    assert_defender_error(again, 400, "BadRequest")
    assert_defender_error(api.post("/api/machineactions/%s/cancel" % action["id"], json={}), 400, "MissingRequiredParameter")
    assert_defender_error(api.post("/api/machineactions/nope/cancel", json={"Comment": "x"}), 400, "BadRequest")


def test_other_response_actions(api):
    scan = api.post("/api/machines/%s/runAntiVirusScan" % FINANCE_01, json={"Comment": "scan", "ScanType": "Quick"})
    assert scan.status_code == 201 and scan.json()["type"] == "RunAntiVirusScan" and scan.json()["scope"] == "Quick"
    # run-av-scan.md: a repeat while one is pending returns that pending machine action.
    again = api.post("/api/machines/%s/runAntiVirusScan" % FINANCE_01, json={"Comment": "scan", "ScanType": "Quick"})
    assert again.status_code == 201 and again.json()["id"] == scan.json()["id"]
    assert_defender_error(api.post("/api/machines/%s/runAntiVirusScan" % FINANCE_01, json={"Comment": "x"}), 400,
                          "MissingRequiredParameter")
    collect = api.post("/api/machines/%s/collectInvestigationPackage" % FINANCE_01, json={"Comment": "forensics"})
    assert collect.status_code == 201 and collect.json()["type"] == "CollectInvestigationPackage"
    restrict = api.post("/api/machines/%s/restrictCodeExecution" % FINANCE_01, json={"Comment": "lock down"})
    assert restrict.status_code == 201
    assert isolate(api, FINANCE_01).status_code == 201  # isolation is independent of the other actions
