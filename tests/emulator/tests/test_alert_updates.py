"""Alert updates: PATCH /api/alerts/{id} and POST /api/alerts/batchUpdate (update-alert.md, batch-update-alerts.md)."""

import pytest

from .test_defender import assert_defender_error

FIRST = "da637308392288907382_-880718168"
SECOND = "da637472900382838869_1364969609"


def alert(api, alert_id):
    response = api.get("/api/alerts/" + alert_id)
    assert response.status_code == 200, response.text
    return response.json()


def test_patch_returns_the_updated_alert_and_records_the_comment(api):
    body = {"status": "Resolved", "assignedTo": "secop2@contoso.com", "classification": "FalsePositive",
            "determination": "Malware", "comment": "Resolve my alert and assign to secop2"}  # update-alert.md's example
    response = api.request("PATCH", "/api/alerts/" + FIRST, token=api.token(), json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["@odata.context"].endswith("#Alerts/$entity")
    assert (answer["status"], answer["assignedTo"], answer["classification"], answer["determination"]) == (
        "Resolved", "secop2@contoso.com", "FalsePositive", "Malware")
    assert answer["resolvedTime"] is not None
    assert answer["comments"][-1]["comment"] == body["comment"]
    assert answer["comments"][-1]["createdBy"] == api.info["client_id"]
    assert alert(api, FIRST)["status"] == "Resolved"


def test_patch_only_a_comment_keeps_the_other_fields(api):
    before = alert(api, SECOND)
    response = api.request("PATCH", "/api/alerts/" + SECOND, token=api.token(), json={"comment": "just a note"})
    assert response.status_code == 200
    after = alert(api, SECOND)
    assert after["status"] == before["status"] and after["assignedTo"] == before["assignedTo"]
    assert len(after["comments"]) == len(before["comments"]) + 1


def test_patch_unknown_alert_is_404(api):
    response = api.request("PATCH", "/api/alerts/da000_1", token=api.token(), json={"status": "Resolved"})
    assert_defender_error(response, 404, "ResourceNotFound")


@pytest.mark.parametrize("body,code", [
    ({"status": "Closed"}, "InvalidRequestBody"),
    ({"Status": "Resolved"}, "InvalidRequestBody"),  # names are case-sensitive
    ({"classification": "Benign"}, "InvalidRequestBody"),
    ({"determination": "Apt"}, "InvalidRequestBody"),  # deprecated in 2022
    ({}, "InvalidRequestBody"),
])
def test_patch_bad_body_is_400(api, body, code):
    response = api.request("PATCH", "/api/alerts/" + FIRST, token=api.token(), json=body)
    assert_defender_error(response, 400, code)


def test_batch_update_answers_200_with_an_empty_body(api):
    body = {"alertIds": [FIRST, SECOND], "status": "InProgress", "assignedTo": "secop2@contoso.com",
            "comment": "Taken"}
    response = api.post("/api/alerts/batchUpdate", json=body)
    assert response.status_code == 200 and response.content == b""
    for alert_id in (FIRST, SECOND):
        current = alert(api, alert_id)
        assert current["status"] == "InProgress" and current["assignedTo"] == "secop2@contoso.com"
        assert current["comments"][-1]["comment"] == "Taken"


def test_batch_update_with_an_unknown_id_changes_nothing(api):
    response = api.post("/api/alerts/batchUpdate", json={"alertIds": [FIRST, "da000_1"], "status": "Resolved"})
    assert_defender_error(response, 404, "ResourceNotFound")
    assert alert(api, FIRST)["status"] == "New"


def test_batch_update_needs_alert_ids(api):
    assert_defender_error(api.post("/api/alerts/batchUpdate", json={"status": "Resolved"}), 400, "MissingRequiredParameter")
    assert_defender_error(api.post("/api/alerts/batchUpdate", json={"alertIds": [], "status": "Resolved"}), 400,
                          "InvalidRequestBody")


def test_updates_need_alert_readwrite(api, emulator):
    reader = emulator.mint_token(roles=["Alert.Read.All"])
    response = api.request("PATCH", "/api/alerts/" + FIRST, token=reader, json={"status": "Resolved"})
    assert_defender_error(response, 403, "Forbidden")
    assert "Alert.ReadWrite.All" in response.json()["error"]["message"]
    response = api.request("POST", "/api/alerts/batchUpdate", token=reader, json={"alertIds": [FIRST], "status": "Resolved"})
    assert_defender_error(response, 403, "Forbidden")
    writer = emulator.mint_token(roles=["Alert.ReadWrite.All"])
    assert api.request("PATCH", "/api/alerts/" + FIRST, token=writer, json={"status": "Resolved"}).status_code == 200
    user = emulator.mint_token(scp="Alert.ReadWrite")
    assert api.request("PATCH", "/api/alerts/" + FIRST, token=user, json={"status": "New"}).status_code == 200


def test_batch_update_has_its_own_quota(api, emulator):
    emulator.set_config(rate_limits_enabled=True, rate_limits={"alerts_batch": {"per_minute": 1}})
    assert api.post("/api/alerts/batchUpdate", json={"alertIds": [FIRST], "comment": "one"}).status_code == 200
    response = api.post("/api/alerts/batchUpdate", json={"alertIds": [FIRST], "comment": "two"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert api.request("PATCH", "/api/alerts/" + FIRST, token=api.token(), json={"comment": "three"}).status_code == 200
