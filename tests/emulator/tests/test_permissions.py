"""Authentication and authorization on every Defender endpoint: 401 for bad tokens, 403 for missing permissions."""

import base64
import json

import pytest

from .conftest import GRAPH
from .test_actions import FINANCE_01
from .test_defender import assert_defender_error

READS = ["/api/alerts", "/api/alerts/da637308392288907382_-880718168", "/api/machines",
         "/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07", "/api/machineactions",
         "/api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e"]
WRITES = [("/api/machines/%s/isolate" % FINANCE_01, {"Comment": "c"}), ("/api/machines/%s/unisolate" % FINANCE_01, {"Comment": "c"}),
          ("/api/advancedqueries/run", {"Query": "DeviceInfo | take 1"}),
          ("/api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e/cancel", {"Comment": "c"})]


def call(api, path, body, token):
    if body is None:
        return api.request("GET", path, token=token)
    return api.request("POST", path, token=token, json=body)


def forge(token, **changes):
    """The same token with edited claims and the original signature: a bad signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, encoded, signature])


ENDPOINTS = [(p, None) for p in READS] + WRITES


@pytest.mark.parametrize("path,body", ENDPOINTS)
def test_missing_token_401(api, path, body):
    response = call(api, path, body, None)
    error = assert_defender_error(response, 401, "Unauthorized")
    assert error["message"].startswith("Unauthorized request - reason of failure:")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path,body", ENDPOINTS)
def test_expired_token_401(api, path, body):
    expired = api.emu.mint_token(roles=["Alert.Read.All", "Machine.Read.All", "Machine.Isolate", "AdvancedQuery.Read.All"],
                                 lifetime=-1)
    assert "expired" in assert_defender_error(call(api, path, body, expired), 401, "Unauthorized")["message"]


@pytest.mark.parametrize("path,body", ENDPOINTS)
def test_bad_signature_401(api, path, body):
    forged = forge(api.token("limited"), roles=["Alert.Read.All", "Machine.Read.All", "Machine.Isolate",
                                                "AdvancedQuery.Read.All", "Machine.Scan"])
    assert "signature" in assert_defender_error(call(api, path, body, forged), 401, "Unauthorized")["message"]


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0."])
def test_garbage_tokens_401(api, garbage):
    assert_defender_error(api.get("/api/machines", token=garbage), 401, "Unauthorized")


def test_token_expiring_mid_session(api, emulator, info):
    emulator.set_config(token_lifetime=2)  # whole seconds from a truncated iat: at least 1 s of validity
    form = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
            "scope": "https://api.securitycenter.microsoft.com/.default"}
    token = api.token_request(form).json()["access_token"]
    assert api.get("/api/machines?$top=1", token=token).status_code == 200
    emulator.wait_for(lambda: api.get("/api/machines?$top=1", token=token).status_code == 401, timeout=5)


@pytest.mark.parametrize("path,body,required", [
    ("/api/machines/%s/isolate" % FINANCE_01, {"Comment": "c"}, "Machine.Isolate"),
    ("/api/machines/%s/unisolate" % FINANCE_01, {"Comment": "c"}, "Machine.Isolate"),
    ("/api/advancedqueries/run", {"Query": "DeviceInfo"}, "AdvancedQuery.Read.All"),
    ("/api/machines/%s/runAntiVirusScan" % FINANCE_01, {"Comment": "c", "ScanType": "Quick"}, "Machine.Scan"),
])
def test_limited_app_gets_403_with_the_documented_message(api, path, body, required):
    error = assert_defender_error(call(api, path, body, api.token("limited")), 403, "Forbidden")
    assert error["message"] == ("Missing application roles. API required roles: %s, application roles: "
                                "Machine.Read.All,Alert.Read.All" % required)


def test_limited_app_can_read(api):
    token = api.token("limited")
    for path in READS:
        assert api.request("GET", path, token=token).status_code == 200, path


def test_read_requirements_list_every_accepted_role(api):
    token = api.emu.mint_token(roles=["Machine.Isolate"])
    error = assert_defender_error(api.get("/api/alerts", token=token), 403, "Forbidden")
    assert error["message"] == ("Missing application roles. API required roles: Alert.Read.All,Alert.ReadWrite.All, "
                                "application roles: Machine.Isolate")
    error = assert_defender_error(api.get("/api/machines", token=token), 403, "Forbidden")
    assert "API required roles: Machine.Read.All,Machine.ReadWrite.All," in error["message"]


def test_readwrite_satisfies_read(api):
    token = api.emu.mint_token(roles=["Machine.ReadWrite.All", "Alert.ReadWrite.All"])
    for path in ("/api/machines", "/api/machineactions", "/api/alerts"):
        assert api.get(path, token=token).status_code == 200


def test_token_without_roles_claim(api):
    token = api.emu.mint_token(roles=[])
    error = assert_defender_error(api.get("/api/machines", token=token), 403, "Forbidden")
    assert error["message"].endswith("application roles: ")


def test_delegated_token(api, info):
    user = api.token("user")
    assert api.get("/api/machines", token=user).status_code == 200
    response = api.post("/api/machines/%s/isolate" % FINANCE_01, token=user, json={"Comment": "by a person"})
    assert response.status_code == 201 and response.json()["requestor"] == info["username"]
    narrow = api.emu.mint_token(scp="Alert.Read")
    error = assert_defender_error(api.get("/api/machines", token=narrow), 403, "Forbidden")
    assert error["message"] == ("Missing delegated scopes. API required roles: Machine.Read,Machine.ReadWrite, "
                                "delegated scopes: Alert.Read")
    # A delegated token needs the delegated name: the application role's name does not count.
    assert api.get("/api/machines", token=api.emu.mint_token(scp="Machine.Read.All")).status_code == 403


@pytest.mark.parametrize("path,body", ENDPOINTS)
def test_wrong_audience_403(api, path, body):
    error = assert_defender_error(call(api, path, body, api.token("full", GRAPH)), 403, "Forbidden")
    assert "audience" in error["message"]


def test_foreign_audience_token_403(api):
    token = api.emu.mint_token(audience="https://userrequestsgraphapi-prd.trafficmanager.net", roles=["Machine.Read.All"])
    assert_defender_error(api.get("/api/machines", token=token), 403, "Forbidden")


@pytest.mark.parametrize("audience", ["https://api.securitycenter.windows.com", "fc780465-2017-40d4-a0c5-307022471b92",
                                      "https://securitycenter.onmicrosoft.com/windowsatpservice",
                                      "https://api-gov.securitycenter.microsoft.us",
                                      "https://securitycenter.onmicrosoft.us/windowsatpservice"])
def test_every_defender_audience_is_accepted(api, audience):
    assert api.get("/api/machines?$top=1", token=api.token("full", audience)).status_code == 200


@pytest.mark.parametrize("path,body", ENDPOINTS)
def test_a_defender_xdr_token_is_forbidden_on_mde(api, path, body):
    # mde-api.md "Facts added on review": https://api.security.microsoft.com is the Defender XDR resource; Entra issues
    # tokens for it, and the MDE API answers them with 403 (TheHive Cortex-Analyzers PR #1480).
    token = api.token("full", "https://api.security.microsoft.com")
    error = assert_defender_error(call(api, path, body, token), 403, "Forbidden")
    assert "https://api.securitycenter.microsoft.com" in error["message"]


def test_request_log_names_the_client(api, emulator, info):
    emulator.reset()
    api.get("/api/machines", token=api.token("limited"))
    api.get("/api/machines", token="garbage")
    log = [e for e in emulator.requests_log() if e["path"] == "/api/machines"]
    assert [(e["client"], e["status"]) for e in log] == [(info["limited_client_id"], 200), (None, 401)]
