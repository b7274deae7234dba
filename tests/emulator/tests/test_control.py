"""The control API: request log (never a secret), reset, config, data replacement, debug state, token minting."""

import json
import time
import urllib.parse

from .conftest import DEFENDER, GRAPH
from .test_actions import FINANCE_01
from .test_identity import cert_form, make_assertion


def test_request_log_entries(api, emulator, info):
    machines_token = api.token()  # acquired before the reset, so the log holds only the two requests below
    emulator.reset()
    api.token_request({"grant_type": "client_credentials", "client_id": info["client_id"],
                       "client_secret": info["client_secret"], "scope": DEFENDER + "/.default"})
    api.get("/api/machines?$top=2&$filter=healthStatus eq 'Active'", token=machines_token)
    log = emulator.requests_log()
    assert [e["path"] for e in log] == ["/%s/oauth2/v2.0/token" % info["tenant_id"], "/api/machines"]
    token_entry, machine_entry = log
    assert token_entry["grant_type"] == "client_credentials" and token_entry["client"] == info["client_id"]
    assert token_entry["family"] == "token" and token_entry["status"] == 200
    assert token_entry["audience"] == DEFENDER and "audience" not in machine_entry
    assert machine_entry["query"] == {"$top": "2", "$filter": "healthStatus eq 'Active'"}
    assert machine_entry["client"] == info["client_id"] and machine_entry["family"] == "machines"
    assert set(machine_entry) == {"seq", "time", "method", "path", "query", "status", "client", "family", "duration_ms"}
    assert machine_entry["seq"] == token_entry["seq"] + 1 and machine_entry["duration_ms"] >= 0
    assert emulator.requests_log(since=token_entry["seq"]) == [machine_entry]
    emulator.reset()
    assert emulator.requests_log() == []


def test_request_log_never_holds_a_secret(api, emulator, info):
    emulator.reset()
    form = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
            "scope": DEFENDER + "/.default"}
    api.token_request(form)
    api.token_request(dict(form, client_secret="wrong-secret-value"))
    api.token_request({"grant_type": "client_credentials", "scope": GRAPH + "/.default"},
                      auth=(info["client_id"], info["client_secret"]))
    api.token_request(cert_form(info, make_assertion(info)))
    api.token_request({"grant_type": "password", "client_id": info["public_client_id"], "username": info["username"],
                       "password": info["password"], "scope": DEFENDER + "/.default"})
    # Secrets in a query string (a careless client) are redacted too.
    query = urllib.parse.urlencode({"client_secret": info["client_secret"], "password": info["password"]})
    api.request("POST", "/%s/oauth2/v2.0/token?%s" % (info["tenant_id"], query), data=form)
    api.get("/api/machines?access_token=" + api.token())
    api.get("/api/alerts", token="forged." + api.token().split(".", 1)[1])
    api.post("/api/advancedqueries/run", json={"Query": "DeviceInfo | take 1"})
    log_text = json.dumps(emulator.requests_log())
    secrets = emulator.secrets()
    for expected in (info["client_secret"], info["password"], info["certificate_password"], info["limited_client_secret"],
                     info["other_client_secret"], "wrong-secret-value", api.token()):
        assert expected in secrets
    assert any("PRIVATE KEY" in s for s in secrets)
    assert len(secrets) > 12
    for secret in secrets:
        needles = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        needles.update(line for line in secret.splitlines() if len(line) >= 40 and not line.startswith("-----"))
        assert not any(n in log_text for n in needles if len(n) >= 8), "a secret leaked into the request log"
    assert "[redacted]" in log_text


def test_log_file(tmp_path):
    from emulator.harness import EmulatorProcess
    path = tmp_path / "requests.jsonl"
    with EmulatorProcess(args=["--state-dir", str(tmp_path / "s"), "--log-file", str(path)]) as emu:
        emu.token()
        emu.call("GET", "/api/machines")
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert [line["path"] for line in lines][-1] == "/api/machines" and lines[-1]["status"] == 401
        assert emu.info["client_secret"] not in path.read_text()


def test_reset_data_restores_actions_and_config(api, emulator):
    emulator.set_config(pending_seconds=100, schema_case="upper")
    created = api.post("/api/machines/%s/isolate" % FINANCE_01, json={"Comment": "c"}).json()
    emulator.reset()
    assert api.get("/api/machineactions/" + created["id"]).status_code == 200  # a plain reset keeps data
    assert emulator.get_config()["pending_seconds"] == 100
    emulator.reset(data=True)
    assert api.get("/api/machineactions/" + created["id"]).status_code == 404
    assert emulator.get_config()["pending_seconds"] == 0.4 and emulator.get_config()["schema_case"] == "default"


def test_reset_data_restores_machine_tags(api, emulator):
    def tags():
        return api.get("/api/machines/%s" % FINANCE_01).json()["machineTags"]
    before = tags()
    assert api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "reset-me", "Action": "Add"}).status_code == 200
    assert "reset-me" in tags()
    emulator.reset(data=True)
    assert tags() == before


def test_reset_faults_only(api, emulator):
    emulator.add_fault(path="^/api/alerts$", status=503)
    emulator.set_config(token_lifetime=10)
    emulator.reset(faults=True)
    assert api.get("/api/alerts").status_code == 200
    assert emulator.get_config()["token_lifetime"] == 10


def test_config_round_trip_and_validation(api, emulator):
    config = emulator.get_config()
    assert set(config) == {"token_lifetime", "pending_seconds", "inprogress_seconds", "offline_machines", "rate_scale",
                           "rate_limits", "rate_limits_enabled", "schema_case", "max_result_bytes", "max_node_count",
                           "max_url_length", "throttle_message",
                           "indicator_limit", "package_link_seconds", "user_device_groups", "indicator_bad_request_values",
                           "package_link_quoted", "package_link_host", "package_redirect_host", "package_bytes",
                           "duplicate_actions", "action_outcomes"}
    assert config["max_result_bytes"] == 124 * 1024 * 1024 and config["token_lifetime"] == 3599
    assert config["max_node_count"] == 100 and config["max_url_length"] == 8192
    assert len(config["offline_machines"]) == 3 + 0  # the three Inactive Contoso machines
    updated = emulator.set_config(rate_limits={"alerts": {"per_minute": 7}})
    assert updated["rate_limits"]["alerts"] == {"per_minute": 7, "per_hour": 1500}
    for bad in ({"token_lifetime": 0}, {"schema_case": "camel"}, {"nope": 1}, {"rate_limits": {"alerts": {"per_day": 1}}},
                {"offline_machines": "abc"}, {"rate_scale": 0}, {"duplicate_actions": "maybe"},
                {"action_outcomes": {"a" * 40: "Done"}}, {"action_outcomes": []}, {"package_link_host": "x/y"},
                {"package_bytes": -1}, {"package_link_quoted": "yes"}):
        status, body = emulator.call("POST", "/_emulator/config", bad)[:2]
        assert status == 400 and body["error"]
    assert emulator.get_config()["token_lifetime"] == 3599


def test_replace_and_generate_data(api, emulator):
    result = emulator.set_data(machines=[{"id": "c" * 40, "computerDnsName": "solo.contoso.com", "healthStatus": "Active"}])
    assert result["machines"] == 1
    assert [m["computerDnsName"] for m in api.values("/api/machines")] == ["solo.contoso.com"]
    assert api.values("/api/alerts") == []
    result = emulator.set_data(generate={"machines": 20000, "alerts": 100, "seed": 3})
    assert result["machines"] == 20042 and result["alerts"] == 160
    started = time.monotonic()
    first = api.values("/api/machines?$top=10000&$skip=0")
    second = api.values("/api/machines?$top=10000&$skip=10000")
    third = api.values("/api/machines?$top=10000&$skip=20000")
    assert time.monotonic() - started < 10
    assert len(first) == len(second) == 10000 and len(third) == 42
    assert len({m["id"] for m in first + second + third}) == 20042
    emulator.reset(data=True)
    assert len(api.values("/api/machines")) == 42
    status, body = emulator.call("POST", "/_emulator/data", {"machines": [{"computerDnsName": "no id"}]})[:2]
    assert status == 400 and "id" in body["error"]


def test_debug_machine_state(api, emulator):
    state = emulator.machine_state("ws-finance-03.contoso.com")
    assert state["isolated"] is True and state["offline"] is False
    assert [a["type"] for a in state["actions"]] == ["Isolate", "Unisolate", "Isolate"]
    assert emulator.machine_state("8ca2ef53b4d8a6ab9224881551d29c9d762dbc3d")["offline"] is True
    status = emulator.call("GET", "/_emulator/state/machines/nope")[0]
    assert status == 404


def test_minted_tokens(api, emulator, info):
    token = emulator.mint_token(roles=["Machine.Read.All"], lifetime=60)
    assert api.get("/api/machines?$top=1", token=token).status_code == 200
    other = emulator.mint_token(tenant_id=info["other_tenant_id"], roles=["Machine.Read.All"])
    assert api.values("/api/machines", token=other)[0]["computerDnsName"].endswith("fabrikam.com")
    assert token in emulator.secrets()


def test_unknown_paths(api, emulator):
    assert api.request("GET", "/nowhere").status_code == 404
    status, body = emulator.call("GET", "/_emulator/nothing")[:2]
    assert status == 404 and "unknown control endpoint" in body["error"]
    status, body = emulator.call("POST", "/_emulator/reset", b"{not json", {"Content-Type": "application/json"})[:2]
    assert status == 400
