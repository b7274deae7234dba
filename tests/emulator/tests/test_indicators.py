"""Indicators: list (paged), submit, import, delete, BatchDelete, with the documented bodies, codes and permissions."""

import pytest

from .test_defender import assert_defender_error

SHA1 = "220e7d15b011d7fac48f2bd61114db1022197f7f"
SHA256 = "2233223322332233223322332233223322332233223322332233223322332222"


def indicator(value=SHA1, kind="FileSha1", **extra):
    body = {"indicatorValue": value, "indicatorType": kind, "title": "test", "action": "AlertAndBlock",
            "description": "test"}
    body.update(extra)
    return body


def listing(api, token=None, **params):
    response = api.get("/api/indicators", token=token, params=params)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def sha1(number):
    return "%040x" % number


def test_submit_answers_200_with_the_indicator_and_updates_on_resubmit(api):
    # post-ti-indicator.md's example body.
    body = indicator(application="demo-test", expirationTime="2099-12-12T00:00:00Z", severity="Informational",
                     recommendedActions="nothing", rbacGroupNames=["group1", "group2"])
    response = api.post("/api/indicators", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["@odata.context"].endswith("#Indicators/$entity")
    assert created["id"].isdigit() and created["application"] == "demo-test"
    assert created["expirationTime"] == "2099-12-12T00:00:00Z"
    # Same type and value, another case: the same indicator, updated; application only counts on creation.
    again = api.post("/api/indicators", json=indicator(SHA1.upper(), action="Block", application="other")).json()
    assert again["id"] == created["id"] and again["action"] == "Block" and again["application"] == "demo-test"
    assert [i["id"] for i in listing(api)] == [created["id"]]


@pytest.mark.parametrize("kind,value,code", [
    ("FileSha1", SHA1[:-1], "InvalidHashValue"), ("FileSha256", "z" * 64, "InvalidHashValue"),
    ("FileMd5", SHA1, "InvalidHashValue"), ("IpAddress", "10.0.0.0/8", "InvalidIpAddress"),
    ("IpAddress", "300.1.1.1", "InvalidIpAddress"), ("DomainName", "bad_domain", "InvalidDomainName"),
    ("Url", "ht!tp://x", "InvalidUrl"),
])
def test_submit_invalid_values(api, kind, value, code):
    assert_defender_error(api.post("/api/indicators", json=indicator(value, kind)), 400, code)


def test_submit_missing_or_wrong_fields(api):
    body = indicator()
    del body["title"]
    assert_defender_error(api.post("/api/indicators", json=body), 400, "MissingRequiredParameter", "Parameter title is missing.")
    assert_defender_error(api.post("/api/indicators", json=indicator(action="Audit")), 400, "InvalidRequestBody")
    assert api.post("/api/indicators", json=indicator(action="Audit", generateAlert=True)).status_code == 200
    assert_defender_error(api.post("/api/indicators", json=indicator(IndicatorValue=SHA1)), 400, "InvalidRequestBody")


def test_import_reports_each_indicator(api):
    body = {"Indicators": [indicator(), indicator(SHA256, "FileSha256"), indicator("nope", "FileMd5")]}
    response = api.post("/api/indicators/import", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["value"]
    assert [r["indicator"] for r in results] == [SHA1, SHA256, "nope"]
    assert [r["isFailed"] for r in results] == [False, False, True]
    assert results[2]["id"] is None and "hash" in results[2]["failureReason"].lower()
    assert sorted(i["indicatorValue"] for i in listing(api)) == sorted([SHA1, SHA256])


def test_import_refuses_more_than_500(api):
    body = {"Indicators": [indicator(sha1(n)) for n in range(501)]}
    assert_defender_error(api.post("/api/indicators/import", json=body), 400, "MaximumBatchSizeExceeded",
                          "Maximum batch size exceeded. Received: 501, allowed: 500.")
    assert listing(api) == []
    assert_defender_error(api.post("/api/indicators/import", json={"indicators": []}), 400, "MissingRequiredParameter")


def test_list_pages_with_top_and_skip_and_filters(api):
    for start in range(0, 1200, 500):
        body = {"Indicators": [indicator(sha1(n), action="Block" if n % 2 else "Audit", generateAlert=True)
                               for n in range(start, min(start + 500, 1200))]}
        assert api.post("/api/indicators/import", json=body).status_code == 200
    everything = listing(api)
    assert len(everything) == 1200
    page = listing(api, **{"$top": 500, "$skip": 1000})
    assert [i["id"] for i in page] == [i["id"] for i in everything[1000:]]
    blocked = listing(api, **{"$filter": "action eq 'Block' and indicatorType eq 'FileSha1'"})
    assert len(blocked) == 600
    assert_defender_error(api.get("/api/indicators", params={"$top": 10001}), 400, "ODataError")
    assert_defender_error(api.get("/api/indicators", params={"$filter": "source eq 'x'"}), 400, "ODataError")


def test_delete_one_is_204_then_404(api):
    created = api.post("/api/indicators", json=indicator()).json()
    response = api.request("DELETE", "/api/indicators/" + created["id"], token=api.token())
    assert response.status_code == 204 and response.content == b""
    assert_defender_error(api.request("DELETE", "/api/indicators/" + created["id"], token=api.token()), 404,
                          "ResourceNotFound")


def test_batch_delete(api):
    ids = [r["id"] for r in api.post("/api/indicators/import", json={"Indicators": [indicator(sha1(n)) for n in range(3)]}
                                     ).json()["value"]]
    # Any missing id: 404 and nothing deleted; an invalid one, an empty or too long list: 400.
    assert_defender_error(api.post("/api/indicators/BatchDelete", json={"IndicatorIds": ids + ["999999"]}), 404,
                          "ResourceNotFound")
    assert_defender_error(api.post("/api/indicators/BatchDelete", json={"IndicatorIds": ["abc"]}), 400, "InvalidInput")
    assert_defender_error(api.post("/api/indicators/BatchDelete", json={"IndicatorIds": []}), 400, "InvalidRequestBody")
    assert_defender_error(api.post("/api/indicators/BatchDelete", json={"IndicatorIds": [str(n) for n in range(501)]}),
                          400, "MaximumBatchSizeExceeded")
    assert len(listing(api)) == 3
    response = api.post("/api/indicators/BatchDelete", json={"IndicatorIds": ids[:2]})
    assert response.status_code == 204
    assert [i["id"] for i in listing(api)] == ids[2:]


def test_tenant_limit(api, emulator):
    emulator.set_config(indicator_limit=2)
    results = api.post("/api/indicators/import", json={"Indicators": [indicator(sha1(n)) for n in range(3)]}).json()["value"]
    assert [r["isFailed"] for r in results] == [False, False, True]
    assert "maximum" in results[2]["failureReason"].lower()
    assert_defender_error(api.post("/api/indicators", json=indicator(SHA256, "FileSha256")), 400, "BadRequest")
    # An update is not a new indicator.
    assert api.post("/api/indicators", json=indicator(sha1(0), action="Block")).status_code == 200


def test_expired_indicators_are_not_listed(api):
    api.post("/api/indicators", json=indicator(expirationTime="2020-12-12T00:00:00Z"))
    assert listing(api) == []


def test_permissions(api, emulator):
    reader = emulator.mint_token(roles=["Ti.Read.All"])
    assert api.get("/api/indicators", token=reader).status_code == 200
    assert_defender_error(api.post("/api/indicators", token=reader, json=indicator()), 403, "Forbidden")
    none = emulator.mint_token(roles=["Alert.Read.All"])
    assert_defender_error(api.get("/api/indicators", token=none), 403, "Forbidden")
    user = emulator.mint_token(scp="Ti.ReadWrite")
    assert api.post("/api/indicators", token=user, json=indicator()).status_code == 200
    # Ti.ReadWrite without .All: an application sees and deletes only what it created.
    own = emulator.mint_token(roles=["Ti.ReadWrite"], client_id="11111111-2222-3333-4444-555555555555")
    assert listing(api, token=own) == []
    mine = api.post("/api/indicators", token=own, json=indicator(SHA256, "FileSha256")).json()
    assert [i["id"] for i in listing(api, token=own)] == [mine["id"]]
    others = [i["id"] for i in listing(api) if i["id"] != mine["id"]]
    assert_defender_error(api.post("/api/indicators/BatchDelete", token=own, json={"IndicatorIds": others}), 403, "Forbidden")
    assert api.post("/api/indicators/BatchDelete", token=own, json={"IndicatorIds": [mine["id"]]}).status_code == 204


# -- issue 19: the documented import answers ---------------------------------------------------------------------------

def test_import_reports_rejected_values_per_item(api):
    # import-ti-indicators.md: 200 with one result per indicator; the value checks of common-errors.md
    # (InvalidHashValue) and ti-indicator.md (no CIDR ranges) fail that item alone.
    body = {"Indicators": [indicator("10.0.0.0/8", "IpAddress"), indicator(), indicator(SHA1[:-1])]}
    response = api.post("/api/indicators/import", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["value"]
    assert [(r["isFailed"], r["id"] is None) for r in results] == [(True, True), (False, False), (True, True)]
    assert "CIDR" in results[0]["failureReason"] and "hash" in results[2]["failureReason"].lower()
    assert results[1]["failureReason"] is None
    assert [i["indicatorValue"] for i in listing(api)] == [SHA1]


@pytest.mark.parametrize("bad", [
    {"IndicatorValue": SHA256},                 # body parameter names are case-sensitive (common-errors.md)
    {"title": None},                            # a required parameter missing
    {"action": "Quarantine"},                   # not an action of ti-indicator.md
    {"generateAlert": "yes"},                   # not a boolean
])
def test_import_answers_400_for_an_incorrect_body_and_creates_nothing(api, bad):
    # import-ti-indicators.md: "400 - Bad Request. Bad request usually indicates incorrect body": the whole call
    # fails, and its answer does not say which indicator was at fault.
    wrong = indicator(SHA256, "FileSha256")
    wrong.update(bad)
    if wrong.get("title") is None:
        del wrong["title"]
    response = api.post("/api/indicators/import", json={"Indicators": [indicator(), wrong, indicator(sha1(7))]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("InvalidRequestBody", "MissingRequiredParameter")
    assert SHA256 not in response.text
    assert listing(api) == []


def test_import_bad_request_values_make_the_whole_call_a_400(api, emulator):
    # A test aid: values the service refuses for a reason its pages do not name (the client cannot know them
    # beforehand) make the call a plain 400 that names no indicator.
    emulator.set_config(indicator_bad_request_values=[sha1(2).upper()])
    body = {"Indicators": [indicator(sha1(n)) for n in range(4)]}
    response = api.post("/api/indicators/import", json=body)
    assert_defender_error(response, 400, "InvalidRequestBody")
    assert sha1(2) not in response.text
    assert listing(api) == []
    body = {"Indicators": [indicator(sha1(n)) for n in (0, 1, 3)]}
    assert api.post("/api/indicators/import", json=body).status_code == 200
    assert len(listing(api)) == 3
    assert emulator.set_config(indicator_bad_request_values=[])["indicator_bad_request_values"] == []
