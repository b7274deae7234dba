"""Entra ID emulation: token flows, token bodies and claims, JWKS/OpenID metadata, and every AADSTS error."""

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import DEFENDER, GRAPH

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_pem(path, password=None):
    with open(path, "rb") as handle:
        data = handle.read()
    cert = x509.load_pem_x509_certificate(data)
    key = serialization.load_pem_private_key(data, password=password.encode() if password else None)
    return cert, key


def make_assertion(info, path=None, password=None, alg="RS256", thumb="x5t", aud=None, iss=None, sub=None,
                   exp_in=300, nbf_in=0, key=None):
    cert, cert_key = load_pem(path or info["certificate_path"], password)
    headers = {"x5t": b64url(cert.fingerprint(hashes.SHA1()))} if thumb == "x5t" else \
        {"x5t#S256": b64url(cert.fingerprint(hashes.SHA256()))}
    now = int(time.time())
    claims = {"aud": aud or "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % info["tenant_id"],
              "iss": iss or info["client_id"], "sub": sub or info["client_id"], "jti": str(uuid.uuid4()),
              "nbf": now + nbf_in, "exp": now + exp_in, "iat": now}
    return jwt.encode(claims, key or cert_key, algorithm=alg, headers=headers)


def cert_form(info, assertion, scope=DEFENDER + "/.default"):
    return {"grant_type": "client_credentials", "client_id": info["client_id"], "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion, "scope": scope}


def secret_form(info, **extra):
    form = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
            "scope": DEFENDER + "/.default"}
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def assert_aad_error(response, status, error, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith("AADSTS%d: " % code)
    for part in ("\r\nTrace ID: " + body["trace_id"], "\r\nCorrelation ID: " + body["correlation_id"],
                 "\r\nTimestamp: " + body["timestamp"]):
        assert part in body["error_description"]
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=%d" % code
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return body


# -- successful flows ---------------------------------------------------------------------------------------------------
def test_v2_client_secret_body_and_claims(api, info):
    before = int(time.time())
    response = api.token_request(secret_form(info))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "access_token"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and isinstance(body["ext_expires_in"], int)
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["x5t"] == header["kid"]
    claims = claims_of(body["access_token"])
    assert claims["aud"] == DEFENDER
    assert claims["iss"] == "https://sts.windows.net/%s/" % info["tenant_id"] == claims["idp"]
    assert claims["tid"] == info["tenant_id"] and claims["appid"] == info["client_id"] and claims["appidacr"] == "1"
    assert claims["ver"] == "1.0" and "scp" not in claims
    assert set(claims["roles"]) == {
        "Alert.Read.All", "Alert.ReadWrite.All", "Machine.Read.All", "Machine.ReadWrite.All", "Machine.Isolate",
        "Machine.Scan", "Machine.CollectForensics", "Machine.RestrictExecution", "Machine.StopAndQuarantine",
        "Machine.LiveResponse", "Machine.Offboard", "AdvancedQuery.Read.All", "Ti.ReadWrite.All", "Ti.ReadWrite"}
    assert before <= claims["iat"] == claims["nbf"] and claims["exp"] == claims["iat"] + 3599
    for name in ("aio", "oid", "sub", "uti", "app_displayname"):
        assert claims[name]


def test_v1_client_secret_numbers_are_strings(api, info):
    form = secret_form(info, scope=None, resource=DEFENDER)
    response = api.token_request(form, v2=False)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource", "access_token"]
    for name in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[name], str) and body[name].isdigit()
    assert int(body["expires_on"]) - int(body["not_before"]) == 3599
    assert body["resource"] == DEFENDER and claims_of(body["access_token"])["aud"] == DEFENDER


def test_client_secret_in_http_basic_auth(api, info):
    form = {"grant_type": "client_credentials", "scope": DEFENDER + "/.default"}
    response = api.token_request(form, auth=(info["client_id"], info["client_secret"]))
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["appid"] == info["client_id"]


@pytest.mark.parametrize("audience", [
    "https://api.securitycenter.microsoft.com", "https://api.securitycenter.windows.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice", "https://api.security.microsoft.com",
    "fc780465-2017-40d4-a0c5-307022471b92", "https://api-gcc.securitycenter.microsoft.us",
    "https://api-gov.securitycenter.microsoft.us", "https://securitycenter.onmicrosoft.us/windowsatpservice",
    "https://graph.microsoft.com", "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us", "00000003-0000-0000-c000-000000000000"])
def test_every_documented_audience_is_issued_as_requested(api, info, audience):
    response = api.token_request(secret_form(info, scope=audience + "/.default"))
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["aud"] == audience
    expected = {"ThreatHunting.Read.All"} if "graph" in audience or audience.startswith("00000003") else None
    if expected:
        assert set(claims["roles"]) == expected


def test_tenant_may_be_named_by_domain(api, info):
    response = api.token_request(secret_form(info), tenant="Contoso.onmicrosoft.com")
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["tid"] == info["tenant_id"]


@pytest.mark.parametrize("alg,thumb", [("RS256", "x5t"), ("PS256", "x5t#S256"), ("RS256", "x5t#S256"), ("PS256", "x5t")])
def test_certificate_assertion(api, info, alg, thumb):
    response = api.token_request(cert_form(info, make_assertion(info, alg=alg, thumb=thumb)))
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["appidacr"] == "2"


def test_certificate_with_encrypted_key(api, info):
    assertion = make_assertion(info, path=info["encrypted_certificate_path"], password=info["certificate_password"])
    response = api.token_request(cert_form(info, assertion))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("aud_template", [
    "https://login.microsoftonline.com/{tid}/oauth2/v2.0/token", "https://login.microsoftonline.com/{tid}/oauth2/token",
    "https://login.microsoftonline.com/{tid}/v2.0", "https://login.microsoftonline.com/{domain}/oauth2/token",
    "{url}/{tid}/oauth2/v2.0/token", "{url}/{domain}/oauth2/token", "{url}/{tid}/v2.0"])
def test_assertion_audiences_accepted(api, info, aud_template):
    aud = aud_template.format(tid=info["tenant_id"], domain=info["tenant_domain"], url=info["url"])
    response = api.token_request(cert_form(info, make_assertion(info, aud=aud)))
    assert response.status_code == 200, response.text


def test_v1_certificate_assertion(api, info):
    form = cert_form(info, make_assertion(info, aud="%s/%s/oauth2/token" % (info["url"], info["tenant_id"])))
    del form["scope"]
    form["resource"] = DEFENDER
    response = api.token_request(form, v2=False)
    assert response.status_code == 200, response.text
    assert response.json()["resource"] == DEFENDER


@pytest.mark.parametrize("v2", [True, False])
def test_password_grant_gives_a_delegated_token(api, info, v2):
    form = {"grant_type": "password", "client_id": info["public_client_id"], "username": info["username"],
            "password": info["password"]}
    form.update({"scope": DEFENDER + "/.default openid offline_access"} if v2 else {"resource": DEFENDER})
    response = api.token_request(form, v2=v2)
    assert response.status_code == 200, response.text
    body = response.json()
    claims = claims_of(body["access_token"])
    delegated = ("Alert.Read Alert.ReadWrite Machine.Read Machine.ReadWrite Machine.Isolate Machine.Scan AdvancedQuery.Read"
                 " Ti.ReadWrite")
    assert claims["scp"] == delegated and "roles" not in claims
    assert claims["appidacr"] == "0" and claims["appid"] == info["public_client_id"]
    assert claims["upn"] == claims["unique_name"] == info["username"] and claims["name"]
    if v2:
        assert body["scope"].split() == [DEFENDER + "/" + s for s in delegated.split()]
        assert isinstance(body["expires_in"], int)
    else:
        assert isinstance(body["expires_in"], str)


def test_password_grant_for_graph_and_on_organizations(api, info):
    form = {"grant_type": "password", "client_id": info["public_client_id"], "username": info["username"],
            "password": info["password"], "scope": GRAPH + "/.default"}
    response = api.token_request(form, tenant="organizations")
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["scp"] == "ThreatHunting.Read.All" and claims["tid"] == info["tenant_id"]


def test_limited_and_other_tenant_apps(api, info):
    limited = claims_of(api.token("limited"))
    assert sorted(limited["roles"]) == ["Alert.Read.All", "Machine.Read.All"]
    graph = claims_of(api.token("limited", GRAPH))
    assert "roles" not in graph  # Entra leaves roles out when nothing was granted
    other = claims_of(api.token("other"))
    assert other["tid"] == info["other_tenant_id"] and other["iss"] == "https://sts.windows.net/%s/" % info["other_tenant_id"]


def test_token_lifetime_is_configurable(api, info, emulator):
    emulator.set_config(token_lifetime=42)
    claims = claims_of(api.token_request(secret_form(info)).json()["access_token"])
    assert claims["exp"] - claims["iat"] == 42


# -- metadata -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/common/discovery/v2.0/keys", "/common/discovery/keys", "/{tid}/discovery/v2.0/keys",
                                  "/{tid}/discovery/keys", "/{domain}/discovery/keys"])
def test_jwks_verifies_issued_tokens(api, info, path):
    token = api.token_request(secret_form(info)).json()["access_token"]
    jwks = api.request("GET", path.format(tid=info["tenant_id"], domain=info["tenant_domain"])).json()
    keys = {key["kid"]: key for key in jwks["keys"]}
    key = keys[jwt.get_unverified_header(token)["kid"]]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["x5t"] == key["kid"] and key["x5c"]
    public = jwt.PyJWK(key).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=DEFENDER,
                        issuer="https://sts.windows.net/%s/" % info["tenant_id"])
    assert claims["appid"] == info["client_id"]
    cert = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    assert cert.public_key().public_numbers() == public.public_numbers()


@pytest.mark.parametrize("v2", [False, True])
def test_openid_configuration_points_at_the_emulator(api, info, v2):
    path = "/%s/%s.well-known/openid-configuration" % (info["tenant_id"], "v2.0/" if v2 else "")
    doc = api.request("GET", path).json()
    assert doc["token_endpoint"] == "%s/%s/oauth2/%stoken" % (info["url"], info["tenant_id"], "v2.0/" if v2 else "")
    assert doc["jwks_uri"].startswith(info["url"] + "/")
    assert doc["issuer"] == ("https://login.microsoftonline.com/%s/v2.0" % info["tenant_id"] if v2
                             else "https://sts.windows.net/%s/" % info["tenant_id"])
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert api.request("GET", doc["jwks_uri"].replace(info["url"], "")).status_code == 200


# -- errors ----------------------------------------------------------------------------------------------------------------
def test_wrong_secret_7000215(api, info):
    body = assert_aad_error(api.token_request(secret_form(info, client_secret="not-the-secret")), 401, "invalid_client", 7000215)
    assert info["client_id"] in body["error_description"]


def test_unknown_tenant_90002(api, info):
    assert_aad_error(api.token_request(secret_form(info), tenant="nowhere.onmicrosoft.com"), 400, "invalid_request", 90002)
    assert_aad_error(api.token_request(secret_form(info), tenant=str(uuid.uuid4())), 400, "invalid_request", 90002)


def test_unknown_client_700016(api, info):
    assert_aad_error(api.token_request(secret_form(info, client_id=str(uuid.uuid4()))), 400, "unauthorized_client", 700016)


def test_client_of_another_tenant_is_unknown_here(api, info):
    form = secret_form(info, client_id=info["other_client_id"], client_secret=info["other_client_secret"])
    assert_aad_error(api.token_request(form), 400, "unauthorized_client", 700016)


def test_bad_password_50126_and_unknown_user_50034(api, info):
    form = {"grant_type": "password", "client_id": info["public_client_id"], "username": info["username"],
            "password": "wrong", "scope": DEFENDER + "/.default"}
    assert_aad_error(api.token_request(form), 400, "invalid_grant", 50126)
    form.update(username="nobody@contoso.onmicrosoft.com")
    assert_aad_error(api.token_request(form), 400, "invalid_grant", 50034)


def test_public_client_must_not_send_a_secret_700025(api, info):
    form = {"grant_type": "password", "client_id": info["public_client_id"], "client_secret": "x", "username": info["username"],
            "password": info["password"], "scope": DEFENDER + "/.default"}
    assert_aad_error(api.token_request(form), 401, "invalid_client", 700025)


def test_confidential_client_without_credential_7000218(api, info):
    assert_aad_error(api.token_request(secret_form(info, client_secret=None)), 401, "invalid_client", 7000218)


def test_resource_on_v2_901002(api, info):
    assert_aad_error(api.token_request(secret_form(info, resource=DEFENDER)), 400, "invalid_request", 901002)


@pytest.mark.parametrize("v2,form_key,value", [
    (True, "scope", "https://unknown.example.com/.default"),
    (False, "resource", "https://unknown.example.com"),
    (False, "resource", DEFENDER + "/.default"),  # v1 rejects a /.default resource (issue M365 #13126)
    (True, "scope", "https://userrequestsgraphapi-prd.trafficmanager.net/.default")])
def test_unknown_audience_500011(api, info, v2, form_key, value):
    form = secret_form(info, scope=None)
    form[form_key] = value
    body = assert_aad_error(api.token_request(form, v2=v2), 400, "invalid_resource", 500011)
    named = value if form_key == "resource" else value[:-len("/.default")]
    assert "resource principal named %s was not found" % named in body["error_description"]


def test_client_credentials_scope_needs_default_1002012(api, info):
    assert_aad_error(api.token_request(secret_form(info, scope=DEFENDER + "/Machine.Read.All")), 400, "invalid_scope", 1002012)


def test_missing_parameters_900144_and_unsupported_grant(api, info):
    assert_aad_error(api.token_request(secret_form(info, grant_type=None)), 400, "invalid_request", 900144)
    assert_aad_error(api.token_request(secret_form(info, scope=None)), 400, "invalid_request", 900144)
    assert_aad_error(api.token_request(secret_form(info, grant_type="authorization_code")), 400, "unsupported_grant_type", 70003)
    assert_aad_error(api.request("GET", "/%s/oauth2/v2.0/token" % info["tenant_id"]), 400, "invalid_request", 900561)


def test_assertion_signed_by_another_key_700027(api, info):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = assert_aad_error(api.token_request(cert_form(info, make_assertion(info, key=other_key))), 401, "invalid_client", 700027)
    assert "signature" in body["error_description"]


def test_assertion_with_an_unregistered_certificate_700027(api, info):
    assertion = make_assertion(info)
    header, payload, signature = assertion.split(".")
    fake_header = b64url(b'{"alg":"RS256","typ":"JWT","x5t":"AAAAAAAAAAAAAAAAAAAAAAAAAAA"}')
    body = assert_aad_error(api.token_request(cert_form(info, ".".join([fake_header, payload, signature]))), 401,
                            "invalid_client", 700027)
    assert "not registered" in body["error_description"]


def test_assertion_with_a_tampered_payload_700027(api, info):
    header, payload, signature = make_assertion(info).split(".")
    claims = claims_of(make_assertion(info))
    claims["exp"] += 3600
    tampered = b64url(jwt.utils.force_bytes(__import__("json").dumps(claims)))
    assert_aad_error(api.token_request(cert_form(info, ".".join([header, tampered, signature]))), 401, "invalid_client", 700027)


def test_assertion_for_another_audience_700027(api, info):
    assertion = make_assertion(info, aud="https://login.microsoftonline.com/%s/oauth2/v2.0/token" % info["other_tenant_id"])
    assert_aad_error(api.token_request(cert_form(info, assertion)), 401, "invalid_client", 700027)


def test_assertion_claims_checked(api, info):
    assert_aad_error(api.token_request(cert_form(info, make_assertion(info, sub="someone-else"))), 401, "invalid_client", 50048)
    other = str(uuid.uuid4())
    assert_aad_error(api.token_request(cert_form(info, make_assertion(info, iss=other, sub=other))), 401, "invalid_client", 700021)
    assert_aad_error(api.token_request(cert_form(info, make_assertion(info, exp_in=-10))), 401, "invalid_client", 700024)
    assert_aad_error(api.token_request(cert_form(info, make_assertion(info, nbf_in=3600, exp_in=4000))), 401,
                     "invalid_client", 700024)
    # A little clock skew on nbf is tolerated.
    assert api.token_request(cert_form(info, make_assertion(info, nbf_in=30))).status_code == 200


def test_password_grant_on_common_is_refused(api, info):
    form = {"grant_type": "password", "client_id": info["public_client_id"], "username": info["username"],
            "password": info["password"], "scope": DEFENDER + "/.default"}
    assert_aad_error(api.token_request(form, tenant="common"), 400, "invalid_request", 9001023)


# -- Graph tokens carry a header nonce (entra-docs access-tokens.md; mde-api.md "Facts added on review") ---------------

def test_graph_tokens_have_a_nonce_and_cannot_be_verified_by_a_third_party(api, info):
    token = api.token_request(secret_form(info, scope=GRAPH + "/.default")).json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert isinstance(header.get("nonce"), str) and len(header["nonce"]) >= 40
    jwks = api.request("GET", "/%s/discovery/v2.0/keys" % info["tenant_id"]).json()
    key = jwt.PyJWK.from_dict(jwks["keys"][0]).key
    with pytest.raises(jwt.InvalidSignatureError):  # what any JWT library says about a genuine Graph token
        jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
    # ...while Graph itself takes it.
    response = api.request("POST", "/v1.0/security/runHuntingQuery", token=token, json={"Query": "DeviceInfo | take 1"})
    assert response.status_code == 200, response.text


def test_graph_tokens_with_a_changed_nonce_are_refused_by_graph(api, info):
    token = api.token_request(secret_form(info, scope=GRAPH + "/.default")).json()["access_token"]
    header = jwt.get_unverified_header(token)
    header["nonce"] = header["nonce"][::-1]
    forged = ".".join([b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())] + token.split(".")[1:])
    response = api.request("POST", "/v1.0/security/runHuntingQuery", token=forged, json={"Query": "DeviceInfo | take 1"})
    assert response.status_code == 401


def test_defender_tokens_have_no_nonce_and_verify_with_the_published_keys(api, info):
    token = api.token_request(secret_form(info)).json()["access_token"]
    assert "nonce" not in jwt.get_unverified_header(token)
    jwks = api.request("GET", "/%s/discovery/v2.0/keys" % info["tenant_id"]).json()
    jwt.decode(token, jwt.PyJWK.from_dict(jwks["keys"][0]).key, algorithms=["RS256"], options={"verify_aud": False})


# -- the form of a client assertion is logged (its header holds no secret) ------------------------------------------

@pytest.mark.parametrize("alg,thumb", [("RS256", "x5t"), ("PS256", "x5t#S256")])
def test_the_request_log_says_which_assertion_form_came(api, emulator, info, alg, thumb):
    emulator.reset()
    assert api.token_request(cert_form(info, make_assertion(info, alg=alg, thumb=thumb))).status_code == 200
    entry = [e for e in emulator.requests_log() if e.get("family") == "token"][-1]
    assert entry["assertion"] == {"alg": alg, "thumbprints": [thumb]}
