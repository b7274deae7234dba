"""Start-up contract: the first stdout line, TLS material, signals, options, data files and generated data."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import requests

from emulator.harness import RUN_PY, EmulatorProcess

FIRST_LINE_KEYS = {"url", "ca_path", "tenant_id", "tenant_domain", "client_id", "client_secret", "certificate_path",
                   "encrypted_certificate_path", "certificate_password", "public_client_id", "username", "password",
                   "limited_client_id", "limited_client_secret", "other_tenant_id", "other_client_id",
                   "other_client_secret", "pid"}


def test_first_line_has_every_documented_key(info):
    assert FIRST_LINE_KEYS <= set(info)
    assert info["url"].startswith("https://127.0.0.1:") and not info["url"].endswith("/")
    assert os.path.isfile(info["ca_path"]) and info["ca_path"].endswith("ca.pem")
    assert info["tenant_domain"] == "contoso.onmicrosoft.com"
    with open(info["certificate_path"]) as handle:
        text = handle.read()
    assert "BEGIN CERTIFICATE" in text and "BEGIN PRIVATE KEY" in text
    with open(info["encrypted_certificate_path"]) as handle:
        assert "BEGIN ENCRYPTED PRIVATE KEY" in handle.read()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_server_certificate_verifies_against_the_ca_for_both_names(info, host):
    port = int(info["url"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=info["ca_path"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    response = requests.get("https://%s:%d/common/discovery/keys" % (host, port), verify=info["ca_path"], timeout=10)
    assert response.status_code == 200


def test_an_untrusting_client_is_refused(info):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(info["url"] + "/common/discovery/keys", verify=True, timeout=10)


def _spawn(*args, env=None):
    return subprocess.Popen([sys.executable, RUN_PY, "--port", "0"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_code_0(tmp_path, signum):
    process = _spawn("--state-dir", str(tmp_path))
    info = json.loads(process.stdout.readline())
    assert info["pid"] == process.pid
    process.send_signal(signum)
    out = process.communicate(timeout=15)[0]
    assert process.returncode == 0
    assert out == b""  # the JSON line is the only thing ever written to stdout
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(info["url"] + "/common/discovery/keys", verify=info["ca_path"], timeout=3)


def test_default_state_dir_is_a_temp_dir_removed_on_exit():
    process = _spawn()
    info = json.loads(process.stdout.readline())
    assert os.path.isfile(info["ca_path"])
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=15)
    assert process.returncode == 0
    assert not os.path.exists(info["state_dir"])


def test_port_from_environment_and_ready_file(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = tmp_path / "ready.json"
    env = dict(os.environ, EMULATOR_PORT=str(port))
    process = subprocess.Popen([sys.executable, RUN_PY, "--state-dir", str(tmp_path / "s"), "--ready-file", str(ready)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        info = json.loads(process.stdout.readline())
        assert info["url"] == "https://127.0.0.1:%d" % port
        assert json.loads(ready.read_text()) == info
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert process.returncode == 0
    assert not ready.exists()


def test_ca_is_reused_from_the_state_dir(tmp_path):
    paths = []
    for attempt in range(2):
        with EmulatorProcess(args=["--state-dir", str(tmp_path)]) as emu:
            with open(emu.info["ca_path"]) as handle:
                paths.append(handle.read())
    assert paths[0] == paths[1]


def test_data_file_replaces_the_default_tenant(tmp_path):
    doc = {
        "machines": [{"id": "a" * 40, "computerDnsName": "only-one.example.com", "healthStatus": "Active",
                      "osPlatform": "Windows11", "machineTags": ["from-file"]},
                     {"id": "b" * 40, "computerDnsName": "sleeper.example.com", "healthStatus": "Inactive"}],
        "alerts": [{"id": "da1_1", "severity": "High", "status": "New", "machineId": "a" * 40,
                    "alertCreationTime": "2024-01-01T00:00:00Z"}],
        "machine_actions": [{"id": "11111111-2222-3333-4444-555555555555", "type": "Isolate", "status": "Succeeded",
                             "machineId": "a" * 40, "creationDateTimeUtc": "2024-01-02T00:00:00Z"}],
        "hunting": {"DeviceProcessEvents": [{"Timestamp": "2099-01-01T00:00:00Z", "DeviceName": "only-one",
                                             "FileName": "x.exe", "ProcessCommandLine": "x.exe --flag"}]},
    }
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(doc))
    with EmulatorProcess(args=["--state-dir", str(tmp_path / "s"), "--data", str(path)]) as emu:
        token = emu.token()
        ca = emu.info["ca_path"]
        headers = {"Authorization": "Bearer " + token}
        machines = requests.get(emu.url + "/api/machines", headers=headers, verify=ca, timeout=10).json()["value"]
        assert [m["computerDnsName"] for m in machines] == ["only-one.example.com", "sleeper.example.com"]
        assert "osBuild" in machines[0] and machines[0]["osBuild"] is None  # missing fields are filled, shape kept
        actions = requests.get(emu.url + "/api/machineactions", headers=headers, verify=ca, timeout=10).json()["value"]
        assert [a["id"] for a in actions] == ["11111111-2222-3333-4444-555555555555"]
        assert emu.get_config()["offline_machines"][:1] == ["b" * 40]
        rows = requests.post(emu.url + "/api/advancedqueries/run", headers=headers, verify=ca, timeout=10,
                             json={"Query": "DeviceProcessEvents | project FileName, ProcessCommandLine"}).json()["Results"]
        assert rows == [{"FileName": "x.exe", "ProcessCommandLine": "x.exe --flag"}]


def test_a_bad_data_file_fails_start_up_with_a_message(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"machines": [{"computerDnsName": "no-id"}]}))
    process = _spawn("--state-dir", str(tmp_path / "s"), "--data", str(path))
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert out == b"" and b"every machine needs an id" in err


def test_generated_data_at_scale_starts_fast_and_lists_fast(tmp_path):
    started = time.monotonic()
    with EmulatorProcess(args=["--state-dir", str(tmp_path), "--machines", "20000", "--alerts", "15000",
                               "--hunting-rows", "100000", "--no-rate-limits"]) as emu:
        startup = time.monotonic() - started
        # A bound against a pathological start (quadratic loading took minutes), not a speed figure: on a quiet
        # machine it starts in about 1.6 s (benchmarks/emulator_throughput.py); a shared 2-core CI box can be 10x slower.
        assert startup < 60, "start-up took %.1f s" % startup
        headers = {"Authorization": "Bearer " + emu.token()}
        ca = emu.info["ca_path"]
        seen, skip = set(), 0
        t0 = time.monotonic()
        while True:
            page = requests.get(emu.url + "/api/machines", params={"$top": "10000", "$skip": str(skip)}, headers=headers,
                                verify=ca, timeout=60).json()
            assert "@odata.nextLink" not in page
            seen.update(m["id"] for m in page["value"])
            if len(page["value"]) < 10000:
                break
            skip += 10000
        assert len(seen) == 20000 + 42
        alerts = requests.get(emu.url + "/api/alerts", params={"$filter": "severity eq 'High'", "$top": "10000"},
                              headers=headers, verify=ca, timeout=60).json()["value"]
        assert len(alerts) > 2000 and {a["severity"] for a in alerts} == {"High"}
        assert time.monotonic() - t0 < 60  # a bound, not a figure (see above)
        count = requests.post(emu.url + "/api/advancedqueries/run", headers=headers, verify=ca, timeout=60,
                              json={"Query": "DeviceProcessEvents | count"}).json()["Results"]
        assert count == [{"Count": 100000}]
        rows = requests.post(emu.url + "/api/advancedqueries/run", headers=headers, verify=ca, timeout=120,
                             json={"Query": "DeviceProcessEvents | project Timestamp, DeviceId"}).json()["Results"]
        assert len(rows) == 100000
