"""Throughput of the test emulator: 1,000 mixed authenticated requests, one session and then 8 threads.

Run: ``.venv/bin/python benchmarks/emulator_throughput.py [--requests N] [--threads N] [--json FILE]``.
The emulator runs as a subprocess (tests/emulator/harness.py), exactly as the test suites use it.
"""

import argparse
import json
import os
import sys
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from emulator.harness import EmulatorProcess  # noqa: E402  (path set above)

GRAPH = "https://graph.microsoft.com"


def workload(count, machine_ids, alert_ids, action_ids):
    """``count`` (method, path, json body, audience) tuples: mostly reads, some hunting, a few isolations."""
    mix = []
    for i in range(count):
        kind = i % 20
        if kind in (0, 1, 2):
            mix.append(("GET", "/api/machines?$top=50&$skip=%d" % (i % 40 * 50), None, "defender"))
        elif kind in (3, 4, 5):
            mix.append(("GET", "/api/machines/" + machine_ids[i % len(machine_ids)], None, "defender"))
        elif kind in (6, 7):
            mix.append(("GET", "/api/alerts?$filter=severity eq 'High' and status ne 'Resolved'&$top=25", None, "defender"))
        elif kind in (8, 9):
            mix.append(("GET", "/api/alerts/" + alert_ids[i % len(alert_ids)], None, "defender"))
        elif kind in (10, 11):
            mix.append(("GET", "/api/machineactions?$filter=type in ('Isolate','Unisolate')&$top=20", None, "defender"))
        elif kind == 12:
            mix.append(("GET", "/api/machineactions/" + action_ids[i % len(action_ids)], None, "defender"))
        elif kind == 13:
            mix.append(("GET", "/api/machines?$filter=machineTags/any(t: t eq 'prod') and healthStatus eq 'Active'&$top=100",
                        None, "defender"))
        elif kind in (14, 15):
            mix.append(("POST", "/api/advancedqueries/run",
                        {"Query": "DeviceProcessEvents | where FileName =~ 'cmd.exe' | take 20"}, "defender"))
        elif kind in (16, 17):
            mix.append(("POST", "/v1.0/security/runHuntingQuery",
                        {"Query": "DeviceInfo | summarize count() by OSPlatform"}, "graph"))
        else:
            machine = machine_ids[(i * 7) % len(machine_ids)]
            mix.append(("POST", "/api/machines/%s/isolate" % machine, {"Comment": "benchmark", "IsolationType": "Full"},
                        "defender"))
    return mix


def run(session, base, ca, tokens, items, statuses):
    for method, path, body, audience in items:
        response = session.request(method, base + path, json=body, verify=ca, timeout=60,
                                   headers={"Authorization": "Bearer " + tokens[audience]})
        statuses.append(response.status_code)


def measure(emu, tokens, items, threads):
    base, ca = emu.info["url"], emu.info["ca_path"]
    statuses = []
    chunks = [items[i::threads] for i in range(threads)]
    sessions = [requests.Session() for worker_index in range(threads)]
    # Connect (TCP + TLS) before the clock starts, as a long-lived client would have done.
    for session in sessions:
        session.get(base + "/common/discovery/keys", verify=ca, timeout=30)
    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(s, base, ca, tokens, c, statuses)) for s, c in zip(sessions, chunks)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    unexpected = [s for s in statuses if s not in (200, 201, 400)]
    return {"threads": threads, "requests": len(statuses), "seconds": round(elapsed, 3),
            "requests_per_second": round(len(statuses) / elapsed, 1), "unexpected_statuses": unexpected[:10]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    with EmulatorProcess(args=["--no-rate-limits", "--machines", "2000", "--alerts", "1000"]) as emu:
        full = emu.token()
        tokens = {"defender": full, "graph": emu.token(resource=GRAPH)}
        headers = {"Authorization": "Bearer " + full}
        ca = emu.info["ca_path"]
        machines = requests.get(emu.url + "/api/machines?$top=2000", headers=headers, verify=ca, timeout=60).json()["value"]
        alerts = requests.get(emu.url + "/api/alerts?$top=500", headers=headers, verify=ca, timeout=60).json()["value"]
        actions = requests.get(emu.url + "/api/machineactions", headers=headers, verify=ca, timeout=60).json()["value"]
        items = workload(args.requests, [m["id"] for m in machines], [a["id"] for a in alerts], [a["id"] for a in actions])
        results = [measure(emu, tokens, items, 1)]
        emu.reset(data=True)
        results.append(measure(emu, tokens, items, args.threads))
    for result in results:
        print("emulator throughput: %(requests)d mixed requests, %(threads)d thread(s): %(seconds).2f s, "
              "%(requests_per_second).0f requests/s" % result)
        if result["unexpected_statuses"]:
            print("  unexpected statuses: %s" % result["unexpected_statuses"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 1 if any(r["unexpected_statuses"] or r["seconds"] >= 10 for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
