#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load: every module, run by 8 concurrent hosts (forks) for a minute against one emulator.

    .venv/bin/python benchmarks/load.py                      # 8 forks, 60 s
    .venv/bin/python benchmarks/load.py --duration 15 --forks 4
    .venv/bin/python benchmarks/load.py --rate-limits        # keep the emulator's per-application quotas on

One real ``ansible-playbook`` run: 8 local hosts (``ansible_connection: local``), ``forks: 8``, the ``free``
strategy, each host repeating the same mix of module runs until the time is up (an ``include_tasks`` that
includes itself again until a deadline has passed; an iteration under way then finishes):

  atp_token (Machine.Isolate checked) -> atp_alert_info (status New) -> atp_machine_info (2 machines with their
  isolation state) -> atp_query (Graph, 50 rows) -> atp_machine_isolate of the host's own machine (wait: true)
  -> atp_machine_isolate state: unisolated of it (wait: true)

Every host isolates and releases a machine of its own (gen-0000N, online), so the writes never collide.
Machine actions go Pending 0.2 s, InProgress 0.2 s. The emulator's rate limits are off unless --rate-limits:
the figure is the throughput of the collection and the emulator on this machine, not of Defender's quotas.

What is checked (the exit status is 1 when a check fails):
  * no failed module run;
  * no 5xx answer in the emulator's request log;
  * accounting: the requests the module runs report (``http_stats.requests``, token requests included) add up
    to exactly the requests in the emulator's log, and every logged request came from this run.

Reported: module runs and requests per second, per-module run times (median, 95th percentile), token requests.
Results go to benchmarks/results/ (gitignored) as Markdown and JSON. tests/reliability/test_load.py runs a short
version (12 s) in ``make test``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
CALLBACKS = os.path.join(ROOT, 'tests', 'reliability', 'callback_plugins')
PYTHON = sys.executable
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(PYTHON), 'ansible-playbook')
MODULES = ('atp_token', 'atp_alert_info', 'atp_machine_info', 'atp_query', 'atp_machine_isolate')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--duration', type=float, default=60, help='seconds the hosts keep starting iterations (default 60)')
    parser.add_argument('--forks', type=int, default=8, help='concurrent hosts, one fork each (default 8)')
    parser.add_argument('--rate-limits', action='store_true', help="keep the emulator's per-application quotas on")
    parser.add_argument('--collections', help='directory holding ansible_collections/defender/atp (default: this checkout)')
    parser.add_argument('--no-report', action='store_true', help='do not write benchmarks/results/load-*.{md,json}')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    return parser.parse_args(argv)


def collections_dir(work, given=None):
    if given:
        return given
    for entry in (os.environ.get('ANSIBLE_COLLECTIONS_PATH') or '').split(os.pathsep):
        if entry and os.path.isdir(os.path.join(entry, 'ansible_collections', 'defender', 'atp', 'plugins')):
            return entry
    base = os.path.join(work, 'collections')
    os.makedirs(os.path.join(base, 'ansible_collections', 'defender'), exist_ok=True)
    os.symlink(ROOT, os.path.join(base, 'ansible_collections', 'defender', 'atp'))
    return base


def write_playbook(work, deadline):
    """The play, and iteration.yml: the mix, then itself again while the deadline has not passed (a dynamic include
    decides at run time; a looped include would expand every iteration up front)."""
    when = 'now().timestamp() < %f' % deadline
    iteration = [
        {'name': 'token', 'defender.atp.atp_token': {'required_permissions': ['Machine.Isolate']}},
        {'name': 'alerts', 'defender.atp.atp_alert_info': {'status': ['New']}},
        {'name': 'machines', 'defender.atp.atp_machine_info': {
            'machines': ['ws-finance-01.contoso.com', '{{ own_machine }}'], 'isolation_state': True}},
        {'name': 'query', 'defender.atp.atp_query': {'query': 'DeviceProcessEvents | take 50'}},
        {'name': 'isolate', 'defender.atp.atp_machine_isolate': {
            'machines': ['{{ own_machine }}'], 'comment': 'load test', 'wait': True, 'wait_timeout': 60,
            'poll_interval': 0.2}},
        {'name': 'unisolate', 'defender.atp.atp_machine_isolate': {
            'machines': ['{{ own_machine }}'], 'state': 'unisolated', 'comment': 'load test', 'wait': True,
            'wait_timeout': 60, 'poll_interval': 0.2}},
    ]
    for task in iteration:
        task['ignore_errors'] = True
    iteration.append({'name': 'next iteration', 'ansible.builtin.include_tasks': 'iteration.yml', 'when': when})
    with open(os.path.join(work, 'iteration.yml'), 'w') as handle:
        json.dump(iteration, handle, indent=1)
    keys = ('tenant_id', 'client_id', 'client_secret', 'login_url', 'api_url', 'graph_url', 'ca_path')
    play = {
        'name': 'load', 'hosts': 'all', 'gather_facts': False, 'strategy': 'free',
        'module_defaults': {'group/defender.atp.atp': dict((k, '{{ atp_conn.%s }}' % k) for k in keys)},
        'tasks': [{'name': 'first iteration', 'ansible.builtin.include_tasks': 'iteration.yml'}],
    }
    path = os.path.join(work, 'load.yml')
    with open(path, 'w') as handle:
        json.dump([play], handle, indent=1)
    return path


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run_load(duration=60.0, forks=8, rate_limits=False, collections=None, work=None, log=print):
    """Run the load and return a dict of figures and checks (``ok`` says whether every check passed)."""
    own_work = work is None
    work = work or tempfile.mkdtemp(prefix='defender-atp-load-')
    args = ['--state-dir', os.path.join(work, 'emulator'), '--machines', str(forks), '--action-delays', '0.2,0.2']
    if not rate_limits:
        args.append('--no-rate-limits')
    emulator = EmulatorProcess(args=args)
    info = emulator.start()
    try:
        emulator.set_config(offline_machines=[])
        emulator.reset()
        conn = dict(tenant_id=info['tenant_id'], client_id=info['client_id'], client_secret=info['client_secret'],
                    login_url=info['url'], api_url=info['url'], graph_url=info['url'], ca_path=info['ca_path'])
        vars_file = os.path.join(work, 'connection.json')
        with open(vars_file, 'w') as handle:
            json.dump({'atp_conn': conn}, handle)
        os.chmod(vars_file, 0o600)
        inventory = os.path.join(work, 'inventory.ini')
        with open(inventory, 'w') as handle:
            for index in range(forks):
                handle.write('load%02d ansible_connection=local ansible_python_interpreter=%s own_machine=gen-%05d.scale.contoso.com\n'
                             % (index + 1, PYTHON, index))
        results_file = os.path.join(work, 'results.jsonl')
        os.makedirs(os.path.join(work, 'token-cache'), mode=0o700, exist_ok=True)
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('AZURE_', 'DEFENDER_ATP_', 'ANSIBLE_')))
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_dir(work, collections),
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS, 'ANSIBLE_CALLBACKS_ENABLED': 'reliability_results',
            'RELIABILITY_RESULTS_FILE': results_file, 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_LOCAL_TEMP': os.path.join(work, '.ansible-local'), 'ANSIBLE_HOME': os.path.join(work, '.ansible-home'),
            'DEFENDER_ATP_TOKEN_CACHE_DIR': os.path.join(work, 'token-cache'), 'ANSIBLE_DISPLAY_SKIPPED_HOSTS': '0',
        })
        started = time.time()
        deadline = started + duration
        playbook = write_playbook(work, deadline)
        log('load: %d forks for %.0f s against %s (rate limits %s)' % (forks, duration, info['url'], 'on' if rate_limits else 'off'))
        proc = subprocess.run([ANSIBLE_PLAYBOOK, '-i', inventory, playbook, '-e', '@' + vars_file, '--forks', str(forks)],
                              cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=False, timeout=duration + 600)
        elapsed = time.time() - started
        with open(os.path.join(work, 'ansible-playbook.log'), 'wb') as handle:
            handle.write(proc.stdout)
        requests_log = emulator.requests_log()
    finally:
        emulator.stop()
    results = []
    if os.path.exists(results_file):
        with open(results_file) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    figures = summarize(results, requests_log, elapsed, duration, forks, rate_limits, proc.returncode)
    figures['work'] = work
    if own_work and figures['ok']:
        shutil.rmtree(work, ignore_errors=True)
        figures['work'] = None
    return figures


def summarize(results, requests_log, elapsed, duration, forks, rate_limits, returncode):
    runs = [r for r in results if r['task'] in ('token', 'alerts', 'machines', 'query', 'isolate', 'unisolate')]
    failed = [r for r in runs if r['status'] != 'ok']
    by_task = collections.defaultdict(list)
    for run in runs:
        by_task[run['task']].append(run['seconds'] or 0.0)
    reported = sum(((r['result'] or {}).get('http_stats') or {}).get('requests', 0) for r in runs)
    reported_tokens = sum(((r['result'] or {}).get('http_stats') or {}).get('token_requests', 0) for r in runs)
    statuses = collections.Counter(e['status'] for e in requests_log)
    server_errors = sum(count for status, count in statuses.items() if status is None or status >= 500)
    if requests_log:
        span = max(e['time'] for e in requests_log) - min(e['time'] for e in requests_log)
    else:
        span = 0.0
    iterations = collections.Counter(r['host'] for r in runs if r['task'] == 'unisolate' and r['status'] == 'ok')
    checks = {
        'no failed module run': not failed and returncode == 0 and bool(runs),
        'no 5xx from the emulator': server_errors == 0,
        'the request log accounts for every request': reported == len(requests_log) and len(requests_log) > 0,
        'every host ran the whole mix at least once': len(iterations) == forks,
    }
    figures = {
        'when': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'forks': forks, 'duration': duration, 'elapsed': round(elapsed, 2), 'rate_limits': rate_limits,
        'cpus': os.cpu_count(), 'load_average': [round(x, 2) for x in os.getloadavg()],
        'module_runs': len(runs), 'failed_runs': len(failed),
        'failures': [dict(host=r['host'], task=r['task'], msg=(r['result'] or {}).get('msg')) for r in failed[:10]],
        'iterations': sum(iterations.values()),
        'module_runs_per_second': round(len(runs) / elapsed, 2) if elapsed else None,
        'requests_logged': len(requests_log), 'requests_reported': reported,
        'requests_per_second': round(len(requests_log) / elapsed, 1) if elapsed else None,
        'requests_per_second_of_traffic': round(len(requests_log) / span, 1) if span else None,
        'token_requests': sum(1 for e in requests_log if e.get('family') == 'token'),
        'token_requests_reported': reported_tokens,
        'statuses': dict((str(k), v) for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))),
        'seconds_per_run': dict((task, {'runs': len(values), 'median': round(percentile(values, 0.5), 2),
                                        'p95': round(percentile(values, 0.95), 2)}) for task, values in sorted(by_task.items())),
        'checks': checks,
        'ok': all(checks.values()),
    }
    return figures


def render(figures):
    lines = ['# Load: %d forks for %.0f s (%s)' % (figures['forks'], figures['duration'], figures['when']), '',
             '%s CPUs, load average %s; emulator rate limits %s.' % (
                 figures['cpus'], ' '.join(str(x) for x in figures['load_average']), 'on' if figures['rate_limits'] else 'off'),
             '', '| figure | value |', '|---|---:|']
    rows = [('wall time of the ansible-playbook run', '%.1f s' % figures['elapsed']),
            ('module runs (failed)', '%d (%d)' % (figures['module_runs'], figures['failed_runs'])),
            ('complete iterations of the 6-run mix', figures['iterations']),
            ('module runs per second', figures['module_runs_per_second']),
            ('requests in the emulator log / reported by the modules', '%d / %d' % (figures['requests_logged'], figures['requests_reported'])),
            ('requests per second (wall time; first to last request)', '%s; %s' % (figures['requests_per_second'], figures['requests_per_second_of_traffic'])),
            ('token requests (log / reported)', '%s / %s' % (figures['token_requests'], figures['token_requests_reported'])),
            ('answers by status', ', '.join('%s: %s' % kv for kv in figures['statuses'].items()))]
    lines += ['| %s | %s |' % row for row in rows]
    lines += ['', '| module run | runs | median s | p95 s |', '|---|---:|---:|---:|']
    lines += ['| %s | %d | %.2f | %.2f |' % (task, v['runs'], v['median'], v['p95']) for task, v in figures['seconds_per_run'].items()]
    lines += ['', '| check | result |', '|---|---|']
    lines += ['| %s | %s |' % (name, 'pass' if passed else 'FAIL') for name, passed in figures['checks'].items()]
    for failure in figures['failures']:
        lines.append('- failed: %(host)s %(task)s: %(msg)s' % failure)
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    figures = run_load(duration=args.duration, forks=args.forks, rate_limits=args.rate_limits, collections=args.collections,
                       work=tempfile.mkdtemp(prefix='defender-atp-load-') if args.keep else None)
    report = render(figures)
    print(report)
    if not args.no_report:
        os.makedirs(RESULTS, exist_ok=True)
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
        base = os.path.join(RESULTS, 'load-%s' % stamp)
        with open(base + '.md', 'w') as handle:
            handle.write(report)
        with open(base + '.json', 'w') as handle:
            json.dump(figures, handle, indent=1, sort_keys=True)
        print('written: %s.md, %s.json' % (os.path.relpath(base, ROOT), os.path.relpath(base, ROOT)))
    if figures.get('work'):
        print('work directory kept: %s' % figures['work'])
    return 0 if figures['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
