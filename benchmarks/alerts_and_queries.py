"""Time and peak memory of atp_alert_info and atp_query at scale, against the emulator.

Measured cases (each run ``--repeat`` times; the table shows the median time and the largest peak):

* listing 15,000 alerts (two pages of 10,000) with ``atp_alert_info``;
* a 100,000-row hunting query whose rows are returned, with ``atp_query``;
* the same query with ``dest`` (CSV, JSON Lines and JSON), rows streamed to the file;
* a one-alert read, the fixed cost of a module run (Python, Ansible, requests, TLS, token).

Two ways of running each case:

* ``module``: the module alone, as its own process (``python -m ...atp_query args.json``, the way Ansible
  runs it on a host). Time is wall clock; memory is that process's peak RSS (``os.wait4``'s ``ru_maxrss``).
* ``playbook``: one ``ansible-playbook`` task, what a user waits for, including Ansible reading the result.
  Memory is the peak RSS of the largest process of the run (the controller holds the returned data).

Run: ``.venv/bin/python benchmarks/alerts_and_queries.py [--alerts 15000] [--rows 100000] [--repeat 3]``.
The emulator runs as a subprocess (tests/emulator/harness.py) without rate limits, so quotas do not
show in the figures. Results go to stdout and to benchmarks/results/alerts_and_queries-<time>.{json,md}.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from emulator.harness import EmulatorProcess  # noqa: E402  (path set above)

MODULES = "ansible_collections.defender.atp.plugins.modules."
RESULTS = os.path.join(ROOT, "benchmarks", "results")
ALERT_SEED = 7  # the emulator's default seed repeats a few ids of its base data in generated alerts
QUERY = "DeviceProcessEvents"
# The generated table spans the last 30 days up to generation time; Graph's default window (30 days back
# from the query) would drop the oldest few rows, so the window is a day wider.
TIMESPAN = "P31D"


def collection_root(workdir):
    """A directory holding ansible_collections/defender/atp -> this checkout, for imports and ansible-playbook."""
    root = os.path.join(workdir, "collections")
    os.makedirs(os.path.join(root, "ansible_collections", "defender"))
    os.symlink(ROOT, os.path.join(root, "ansible_collections", "defender", "atp"))
    return root


# Runs a module in this process and, on exit, writes its peak RSS (VmHWM of /proc/self/status) to a file.
# VmHWM belongs to the memory of the new program; the rusage of a child (ru_maxrss) would also count the
# memory of the process it was forked from, so a large parent would inflate every later measurement.
PEAK_WRAPPER = """
import atexit, runpy, sys
peak_file, module = sys.argv[1], sys.argv[2]

def report():
    with open('/proc/self/status') as status:
        peak = [line.split()[1] for line in status if line.startswith('VmHWM:')]
    with open(peak_file, 'w') as out:
        out.write(peak[0] if peak else '')

atexit.register(report)
sys.argv = [module] + sys.argv[3:]
runpy.run_module(module, run_name='__main__', alter_sys=True)
"""

# Reads a module's (possibly huge) JSON result in a throw-away process and prints the few fields we need,
# so this process stays small (see PEAK_WRAPPER).
SUMMARIZE = """
import json, sys
text = open(sys.argv[1], encoding='utf-8').read()
result = json.loads(text[text.index('{'):])
print(json.dumps(dict((k, result.get(k)) for k in ('failed', 'msg', 'count', 'row_count', 'http_stats'))))
"""


def run_timed(cmd, env, stdout_path):
    """Run ``cmd``; return (seconds, ru_maxrss in MiB, exit code)."""
    started = time.perf_counter()
    with open(stdout_path, "wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024.0, process.returncode


def module_case(module, args, env, workdir, name):
    """Run a module as its own process with ``args``; return (seconds, peak MiB, result summary)."""
    args_path = os.path.join(workdir, name + ".args.json")
    with open(args_path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    out_path = os.path.join(workdir, name + ".out")
    peak_path = os.path.join(workdir, name + ".peak")
    seconds, rusage_peak, code = run_timed([sys.executable, "-c", PEAK_WRAPPER, peak_path, MODULES + module, args_path],
                                           env, out_path)
    with open(peak_path, encoding="utf-8") as handle:
        text = handle.read().strip()
    peak = int(text) / 1024.0 if text else rusage_peak
    summary = subprocess.run([sys.executable, "-c", SUMMARIZE, out_path], capture_output=True, text=True, check=False)
    if summary.returncode != 0:
        with open(out_path, encoding="utf-8", errors="replace") as handle:
            raise SystemExit("%s printed no result (exit %d):\n%s" % (name, code, handle.read()[-2000:]))
    result = json.loads(summary.stdout)
    if result.get("failed"):
        raise SystemExit("%s failed: %s" % (name, result.get("msg")))
    return seconds, peak, result


PLAYBOOK = """---
- name: benchmark
  hosts: localhost
  gather_facts: false
  tasks:
    - name: {name}
      defender.atp.{module}: {args}
      register: measured
    - name: The result, without its data
      ansible.builtin.debug:
        msg: "{{{{ measured | dict2items | rejectattr('key', 'in', ['alerts', 'rows']) | items2dict }}}}"
"""


def playbook_case(module, args, env, workdir, name):
    path = os.path.join(workdir, name + ".yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK.format(name=name, module=module, args=json.dumps(args)))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=" + sys.executable, path]
    seconds, peak, code = run_timed(cmd, env, os.path.join(workdir, name + ".playbook.out"))
    if code != 0:
        with open(os.path.join(workdir, name + ".playbook.out"), encoding="utf-8") as handle:
            raise SystemExit("ansible-playbook %s failed:\n%s" % (name, handle.read()[-3000:]))
    return seconds, peak


def cases(conn, workdir, alerts, rows):
    dest = os.path.join(workdir, "rows")
    yield "one alert (fixed cost)", "atp_alert_info", dict(conn, limit=1), 1
    yield "list %s alerts" % format(alerts, ","), "atp_alert_info", dict(conn), alerts
    yield "%s-row query, rows returned" % format(rows, ","), "atp_query", dict(conn, query=QUERY, timespan=TIMESPAN), rows
    for fmt in ("csv", "jsonl", "json"):
        yield ("%s-row query, dest %s" % (format(rows, ","), fmt), "atp_query",
               dict(conn, query=QUERY, timespan=TIMESPAN, dest="%s.%s" % (dest, fmt)), rows)


def measure(emu, workdir, env, alerts, rows, repeat, with_playbook):
    info = emu.info
    conn = dict(tenant_id=info["tenant_id"], client_id=info["client_id"], client_secret=info["client_secret"],
                login_url=info["url"], api_url=info["url"], graph_url=info["url"], ca_path=info["ca_path"], token_cache=False)
    table = []
    for label, module, args, expected in cases(conn, workdir, alerts, rows):
        name = "case%d" % len(table)
        times, peaks, play_times, play_peaks = [], [], [], []
        for _run in range(repeat):
            seconds, peak, result = module_case(module, args, env, workdir, name)
            count = result["count"] if result.get("count") is not None else result.get("row_count")
            if label.startswith("list") and count < expected or not label.startswith("list") and count != expected:
                raise SystemExit("%s: expected %d, got %s" % (label, expected, count))
            times.append(seconds)
            peaks.append(peak)
            if with_playbook:
                seconds, peak = playbook_case(module, args, env, workdir, name)
                play_times.append(seconds)
                play_peaks.append(peak)
        size = os.path.getsize(args["dest"]) if "dest" in args else None
        row = {"case": label, "module": module, "items": count, "module_seconds": round(statistics.median(times), 2),
               "module_peak_mib": round(max(peaks), 1), "file_mib": round(size / 2.0 ** 20, 1) if size else None,
               "requests": result["http_stats"]["requests"]}
        if with_playbook:
            row.update(playbook_seconds=round(statistics.median(play_times), 2), playbook_peak_mib=round(max(play_peaks), 1))
        table.append(row)
        print("  %-34s %7.2f s %8.1f MiB" % (label, row["module_seconds"], row["module_peak_mib"]), flush=True)
    return table


def markdown(table, meta):
    head = ["case", "module s", "module peak MiB", "playbook s", "playbook peak MiB", "file MiB", "requests"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        cells = [row["case"], "%.2f" % row["module_seconds"], "%.0f" % row["module_peak_mib"],
                 "%.2f" % row["playbook_seconds"] if "playbook_seconds" in row else "-",
                 "%.0f" % row["playbook_peak_mib"] if "playbook_peak_mib" in row else "-",
                 "%.1f" % row["file_mib"] if row["file_mib"] else "-", str(row["requests"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("%(when)s; %(python)s; %(machine)s; %(cpus)s CPUs; median of %(repeat)d runs (peak: largest)." % meta)
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--alerts", type=int, default=15000, help="generated alerts to list (default 15,000)")
    parser.add_argument("--rows", type=int, default=100000, help="rows of the hunting query (default 100,000, the API maximum)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument("--no-playbook", action="store_true", help="measure the module processes only")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-alerts-queries-") as workdir:
        env = dict(os.environ, PYTHONPATH=collection_root(workdir), ANSIBLE_COLLECTIONS_PATH=os.path.join(workdir, "collections"),
                   ANSIBLE_NOCOLOR="1", DEFENDER_ATP_TOKEN_CACHE_DIR=os.path.join(workdir, "token-cache"))
        for name in list(env):
            if name.startswith("AZURE_") or name.startswith("DEFENDER_ATP_") and name != "DEFENDER_ATP_TOKEN_CACHE_DIR":
                del env[name]
        with EmulatorProcess(args=["--state-dir", os.path.join(workdir, "emulator"), "--no-rate-limits"]) as emu:
            emu.set_data(generate={"alerts": args.alerts, "hunting_rows": args.rows, "seed": ALERT_SEED})
            print("emulator ready: %s alerts generated, DeviceProcessEvents has %s rows" % (
                format(args.alerts, ","), format(args.rows, ",")), flush=True)
            table = measure(emu, workdir, env, args.alerts, args.rows, args.repeat, not args.no_playbook)
    meta = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": "Python " + platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "repeat": args.repeat, "alerts": args.alerts, "rows": args.rows}
    text = markdown(table, meta)
    print()
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(RESULTS, "alerts_and_queries-%s" % stamp)
    with open(base + ".json", "w", encoding="utf-8") as handle:
        json.dump({"meta": meta, "cases": table}, handle, indent=2)
    with open(base + ".md", "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print("\nwritten: %s.json, %s.md" % (base, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
