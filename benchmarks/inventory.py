#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time `ansible-inventory` with the defender.atp.machines plugin over a large tenant (emulator).

    .venv/bin/python benchmarks/inventory.py                   # 20,000 machines, each scenario once
    .venv/bin/python benchmarks/inventory.py --machines 50000 --repeat 3

The emulator is started with ``--machines N`` generated machines (plus its 42 default ones) and its normal rate
limits. Each scenario is a real ``ansible-inventory`` process, timed from the outside (wall clock, and the CPU time
the process used, which does not depend on what else runs on the machine):

  * baseline       ansible-inventory with an empty static inventory (start-up cost only)
  * plain          --list, no groups, cold (every machine read from the API)
  * constructed    --list with 5 keyed groups (tags, OS, risk, health, device group), a conditional group and a
                   composed variable, cold
  * cached         the same --list again, served from the ansible.builtin.jsonfile inventory cache
  * cached graph   --graph of one group from the cache (building the inventory without printing 20,000 hosts)

For every run the emulator's request log gives the API requests (pages of machines, token requests): a cached run
makes none. The plugin's own report (-vv) gives the time spent reading the machines from the API.

Results are printed as a table and written to benchmarks/results/ (gitignored), as Markdown and JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import collection_path  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
VENV_BIN = os.path.dirname(sys.executable)

KEYED_GROUPS = """keyed_groups:
  - key: defender_tags
    prefix: defender_tag
  - key: defender_os_platform
    prefix: defender_os
  - key: defender_risk_score
    prefix: defender_risk
  - key: defender_health_status
    prefix: defender_health
  - key: defender_rbac_group_name
    prefix: defender_rbac
groups:
  defender_high_risk: defender_risk_score in ['High', 'Medium']
compose:
  ansible_host: defender_last_ip_address
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--machines', type=int, default=20000, help='generated machines (default 20000)')
    parser.add_argument('--repeat', type=int, default=1, help='runs per scenario; the median is reported (default 1)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    return parser.parse_args(argv)


def write_source(path, info, extra=''):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('plugin: defender.atp.machines\n')
        for key in ('tenant_id', 'client_id', 'client_secret'):
            handle.write('%s: %s\n' % (key, json.dumps(info[key])))
        handle.write('api_url: %s\nlogin_url: %s\nca_path: %s\ntoken_cache: false\n'
                     % (json.dumps(info['url']), json.dumps(info['url']), json.dumps(info['ca_path'])))
        handle.write(extra)
    os.chmod(path, 0o600)


def timed(cmd, env, cwd):
    """Run cmd; return (seconds, CPU seconds of the child, stdout bytes, its messages).

    The messages are stderr and the start of stdout (Ansible prints -vv messages on stdout, before the listing).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    messages = proc.stderr.decode('utf-8', 'replace') + proc.stdout[:65536].decode('utf-8', 'replace')
    if proc.returncode != 0:
        raise SystemExit('%s failed (%d):\n%s' % (' '.join(cmd), proc.returncode, messages[-3000:]))
    return seconds, cpu, len(proc.stdout), messages


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix='bench-inventory-')
    env = dict(os.environ)
    env.update({'ANSIBLE_COLLECTIONS_PATH': collection_path(work), 'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true',
                'ANSIBLE_LOCAL_TEMP': os.path.join(work, 'tmp'), 'ANSIBLE_NOCOLOR': '1',
                'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', '')})
    for name in list(env):
        if name.startswith(('AZURE_', 'DEFENDER_ATP_')):
            del env[name]
    inventory = os.path.join(VENV_BIN, 'ansible-inventory')
    print('starting the emulator with %d generated machines...' % args.machines, flush=True)
    with EmulatorProcess(args=['--state-dir', os.path.join(work, 'emulator'), '--machines', str(args.machines)]) as emu:
        info = emu.info
        total = count_machines(emu)
        plain = os.path.join(work, 'plain.defender.yml')
        constructed = os.path.join(work, 'constructed.defender.yml')
        cached = os.path.join(work, 'cached.defender.yml')
        write_source(plain, info)
        write_source(constructed, info, KEYED_GROUPS)
        cache_dir = os.path.join(work, 'inventory-cache')
        write_source(cached, info, KEYED_GROUPS + 'cache: true\ncache_plugin: ansible.builtin.jsonfile\n'
                     'cache_connection: %s\ncache_timeout: 3600\n' % json.dumps(cache_dir))
        empty = os.path.join(work, 'empty.ini')
        with open(empty, 'w', encoding='utf-8') as handle:
            handle.write('localhost\n')

        scenarios = [
            ('baseline', 'empty static inventory', [inventory, '-i', empty, '--list'], None),
            ('plain', '--list, cold', [inventory, '-i', plain, '--list', '-vv'], None),
            ('constructed', '--list + groups, cold', [inventory, '-i', constructed, '--list', '-vv'], None),
            ('cached', '--list + groups, from the cache', [inventory, '-i', cached, '--list', '-vv'], 'warm'),
            ('cached graph', '--graph defender_tag_compromised, cache', [inventory, '-i', cached, '--graph',
                                                                         'defender_tag_compromised'], 'warm'),
        ]
        rows = []
        for name, what, cmd, needs in scenarios:
            if needs == 'warm' and not os.path.isdir(cache_dir):
                # Fill the cache once (not measured): the cached scenarios measure hits only.
                timed([inventory, '-i', cached, '--graph'], env, work)
            runs = []
            for _run in range(args.repeat):
                emu.reset()
                seconds, cpu, out_bytes, messages = timed(cmd, env, work)
                log = emu.requests_log()
                fetch = re.search(r'read (\d+) machines in (\d+) page\(s\) in ([0-9.]+) s', messages)
                runs.append(dict(seconds=seconds, cpu=cpu, output_mb=out_bytes / 1e6,
                                 pages=sum(1 for e in log if e.get('family') == 'machines'),
                                 tokens=sum(1 for e in log if e.get('family') == 'token'),
                                 fetch_seconds=float(fetch.group(3)) if fetch else None))
                print('  %-13s %6.1f s wall, %6.1f s CPU, %d page request(s)' % (name, seconds, cpu, runs[-1]['pages']),
                      flush=True)
            rows.append(dict(scenario=name, what=what, runs=runs,
                             seconds=statistics.median(r['seconds'] for r in runs),
                             cpu=statistics.median(r['cpu'] for r in runs),
                             output_mb=runs[-1]['output_mb'], pages=runs[-1]['pages'], tokens=runs[-1]['tokens'],
                             fetch_seconds=runs[-1]['fetch_seconds']))
    report(args, total, rows)
    if args.keep:
        print('work directory kept: %s' % work)
    else:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return 0


def count_machines(emu):
    """How many machines the tenant has (read as the plugin reads them: pages of 10,000)."""
    headers = {'Authorization': 'Bearer ' + emu.token()}
    count = 0
    while True:
        status, body, _headers = emu.call('GET', '/api/machines?$top=10000&$skip=%d' % count, headers=headers)
        if status != 200:
            raise SystemExit('cannot list the machines: HTTP %d' % status)
        count += len(body['value'])
        if len(body['value']) < 10000:
            return count


def report(args, total, rows):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    header = ('| scenario | what | wall s | CPU s | API fetch s | page requests | token requests | output MB |\n'
              '|---|---|---:|---:|---:|---:|---:|---:|\n')
    lines = ['| %s | %s | %.1f | %.1f | %s | %d | %d | %.1f |' % (
        r['scenario'], r['what'], r['seconds'], r['cpu'], '%.1f' % r['fetch_seconds'] if r['fetch_seconds'] is not None else '-',
        r['pages'], r['tokens'], r['output_mb']) for r in rows]
    facts = (total, args.machines, args.repeat, stamp, _core_version(), '%d.%d' % sys.version_info[:2], os.cpu_count() or 0)
    title = ('defender.atp.machines: ansible-inventory over %d machines (%d generated), median of %d run(s), %s, '
             'ansible-core %s, Python %s, %d CPU(s)\n\n' % facts)
    table = title + header + '\n'.join(lines) + '\n'
    print('\n' + table)
    os.makedirs(RESULTS, exist_ok=True)
    base = os.path.join(RESULTS, 'inventory-%s' % stamp)
    with open(base + '.md', 'w', encoding='utf-8') as handle:
        handle.write(table)
    with open(base + '.json', 'w', encoding='utf-8') as handle:
        json.dump(dict(machines=total, generated=args.machines, repeat=args.repeat, when=stamp, rows=rows), handle, indent=2)
    print('written: %s.md, %s.json' % (os.path.relpath(base, ROOT), os.path.relpath(base, ROOT)))


def _core_version():
    try:
        from ansible.release import __version__
        return __version__
    except ImportError:  # pragma: no cover
        return '?'


if __name__ == '__main__':
    sys.exit(main())
