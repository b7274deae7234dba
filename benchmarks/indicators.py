#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Indicators as code at scale: 5,000 indicators applied from an empty tenant, re-applied, then 50 changed.

    .venv/bin/python benchmarks/indicators.py                 # 5,000 indicators, 50 changed
    .venv/bin/python benchmarks/indicators.py --count 2000 --changed 10

Each step is one real ``ansible-playbook`` run of one ``atp_indicator`` task that reads its list from a YAML file,
as a CI pipeline keeps it in git (docs/docsite/rst/guide_indicators_as_code.rst). The emulator keeps Microsoft's
documented quotas (import 30 calls a minute, listing 100 a minute) at their real scale.

Measured per step, from the emulator's request log and from the outside:
  * import calls against the floor ceil(n / 500), n being the indicators that must be written (500 is the documented
    most per import call);
  * writes of any kind (import, submit, delete): a re-run of an unchanged list must make none;
  * listing calls, and the wall time of the playbook next to that of a playbook that only reads the file (the
    fixed cost of ansible-playbook and of parsing the YAML on this machine), so the difference is the task.

The exit status is 1 when a step misses its target: import calls above the floor, or any write on the re-run.
Results go to benchmarks/results/ (gitignored) as Markdown and JSON; benchmarks/indicators.md keeps the figures.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import shutil
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
PER_IMPORT = 500
WRITE_PATHS = ('/api/indicators/import', '/api/indicators/BatchDelete')

PLAY = """\
- name: Apply the indicators kept in a file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply them
      defender.atp.atp_indicator:
        tenant_id: "{{ emu.tenant_id }}"
        client_id: "{{ emu.client_id }}"
        client_secret: "{{ emu.client_secret }}"
        login_url: "{{ emu.url }}"
        api_url: "{{ emu.url }}"
        ca_path: "{{ emu.ca_path }}"
        token_cache: false
        indicators: "{{ lookup('ansible.builtin.file', indicators_file) | from_yaml }}"
        application: benchmark
        purge: true
      register: applied

    - name: Report
      ansible.builtin.debug:
        msg: "SUMMARY {{ applied.summary | to_json }} END"
"""

LOAD_ONLY_PLAY = """\
- name: Only read the file, as the task's argument does
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Count the entries
      ansible.builtin.debug:
        msg: "{{ lookup('ansible.builtin.file', indicators_file) | from_yaml | length }}"
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=5000, help='indicators in the list (default 5000)')
    parser.add_argument('--changed', type=int, default=50, help='indicators changed in the third step (default 50)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    return parser.parse_args(argv)


def indicator_list(count, changed=0):
    """A list as a team would keep it: mostly hashes, some domains, addresses and URLs."""
    items = []
    for number in range(count):
        kind = number % 10
        if kind < 7:
            item = {'type': 'FileSha256', 'value': hashlib.sha256(b'sample-%d' % number).hexdigest(), 'action': 'Block'}
        elif kind == 7:
            item = {'type': 'DomainName', 'value': 'bad-%d.example.com' % number, 'action': 'Warn'}
        elif kind == 8:
            item = {'type': 'IpAddress', 'value': '198.18.%d.%d' % (number // 250 % 250, number % 250 + 1),
                    'action': 'Block'}
        else:
            item = {'type': 'Url', 'value': 'https://bad-%d.example.net/payload' % number, 'action': 'Block'}
        item.update(title='Benchmark indicator %d' % number, severity='Medium')
        if number < changed:
            item['severity'] = 'High'
        items.append(item)
    return items


def write_yaml(path, items):
    # JSON is YAML: the file reads back with from_yaml exactly as a hand-written YAML list would.
    with open(path, 'w') as handle:
        json.dump(items, handle, indent=1)


def run_playbook(work, name, text, variables):
    playbook = os.path.join(work, name + '.yml')
    with open(playbook, 'w') as handle:
        handle.write(text)
    vars_file = os.path.join(work, name + '-vars.json')
    with open(vars_file, 'w') as handle:
        json.dump(variables, handle)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_path(work), ANSIBLE_RETRY_FILES_ENABLED='False',
               ANSIBLE_LOCAL_TEMP=os.path.join(work, 'tmp'), ANSIBLE_STDOUT_CALLBACK='default',
               DEFENDER_ATP_TOKEN_CACHE_DIR=os.path.join(work, 'token-cache'))
    command = [os.path.join(sys.prefix, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@' + vars_file, playbook]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit('%s failed (rc %d):\n%s' % (name, done.returncode, (done.stdout + done.stderr)[-3000:]))
    summary = None
    if 'SUMMARY ' in done.stdout:
        text = done.stdout.split('SUMMARY ', 1)[1].split(' END', 1)[0]
        summary = json.loads(text.encode().decode('unicode_escape').strip('"'))
    return elapsed, summary


def module_alone(work, name, items, emu_vars):
    """Seconds for the module run as its own process (no ansible-playbook around it), and its summary."""
    args = dict(tenant_id=emu_vars['tenant_id'], client_id=emu_vars['client_id'], client_secret=emu_vars['client_secret'],
                login_url=emu_vars['url'], api_url=emu_vars['url'], ca_path=emu_vars['ca_path'], token_cache=False,
                indicators=items, application='benchmark', purge=True)
    args_path = os.path.join(work, name + '-alone.json')
    with open(args_path, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=collection_path(work), DEFENDER_ATP_TOKEN_CACHE_DIR=os.path.join(work, 'token-cache'))
    started = time.monotonic()
    done = subprocess.run([sys.executable, '-m', 'ansible_collections.defender.atp.plugins.modules.atp_indicator',
                           args_path], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    result = json.loads(done.stdout[done.stdout.index('{'):])
    if result.get('failed'):
        raise SystemExit('%s (module alone) failed: %s' % (name, result.get('msg')))
    return elapsed, result['summary']


def measure(emulator, work, name, items, emu_vars, must_write):
    path = os.path.join(work, name + '-indicators.yml')
    write_yaml(path, items)
    emulator.reset()  # the request log only: the tenant keeps its indicators
    wall, summary = run_playbook(work, name, PLAY, dict(emu=emu_vars, indicators_file=path))
    log = [e for e in emulator.requests_log() if e['path'].startswith('/api/')]
    imports = [e for e in log if e['path'] == '/api/indicators/import']
    writes = [e for e in log if e['method'] in ('POST', 'PATCH', 'DELETE')]
    floor = int(math.ceil(must_write / float(PER_IMPORT)))
    return dict(step=name, indicators=len(items), must_write=must_write, import_calls=len(imports), floor_calls=floor,
                writes=len(writes), list_calls=len([e for e in log if e['method'] == 'GET']),
                throttled=len([e for e in log if e['status'] == 429]), wall_seconds=round(wall, 2), summary=summary)


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix='indicators-bench-')
    emulator = EmulatorProcess(args=['--state-dir', os.path.join(work, 'emulator')])
    info = emulator.start()
    try:
        emu_vars = dict((k, info[k]) for k in ('url', 'ca_path', 'tenant_id', 'client_id', 'client_secret'))
        baseline_file = os.path.join(work, 'baseline-indicators.yml')
        write_yaml(baseline_file, indicator_list(args.count))
        load_wall = run_playbook(work, 'load-only', LOAD_ONLY_PLAY, dict(indicators_file=baseline_file))[0]
        lists = [('apply-from-empty', indicator_list(args.count), args.count),
                 ('re-apply-unchanged', indicator_list(args.count), 0),
                 ('apply-%d-changed' % args.changed, indicator_list(args.count, args.changed), args.changed)]
        steps = [measure(emulator, work, name, items, emu_vars, must_write) for name, items, must_write in lists]
        # The same three steps again from an empty tenant, the module run alone: what the task itself costs.
        emulator.reset(data=True)
        for step, (name, items, _must_write) in zip(steps, lists):
            seconds, summary = module_alone(work, name, items, emu_vars)
            step['module_alone_seconds'] = round(seconds, 2)
            if summary['import_calls'] != step['import_calls']:
                raise SystemExit('%s: the module alone made %d import calls, the playbook %d'
                                 % (name, summary['import_calls'], step['import_calls']))
    finally:
        emulator.stop()
    report = render(args, steps, load_wall)
    print(report)
    os.makedirs(RESULTS, exist_ok=True)
    base = os.path.join(RESULTS, 'indicators-%s' % datetime.datetime.now().strftime('%Y%m%d-%H%M%S'))
    with open(base + '.md', 'w') as handle:
        handle.write(report + '\n')
    with open(base + '.json', 'w') as handle:
        json.dump(dict(args=vars(args), load_only_playbook_seconds=round(load_wall, 2), steps=steps), handle, indent=2)
    print('Written to %s.md and .json' % os.path.relpath(base, ROOT))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = all(s['import_calls'] <= s['floor_calls'] for s in steps) and steps[1]['writes'] == 0
    return 0 if ok else 1


def render(args, steps, load_wall):
    lines = ['## Indicators as code: %d indicators (%s)' % (args.count, datetime.date.today().isoformat()), '',
             'One `atp_indicator` task per step (purge on), emulator with the documented quotas. A playbook that only '
             'reads the file (lookup + from_yaml) takes %.2f s here; the rest of a step is the task.' % load_wall, '',
             '| step | to write | import calls | floor ceil(n/500) | writes | listing calls | 429s | playbook s | '
             'module alone s |',
             '|---|---|---|---|---|---|---|---|---|']
    for s in steps:
        lines.append('| %s | %d | %d | %d | %d | %d | %d | %.2f | %.2f |' % (
            s['step'], s['must_write'], s['import_calls'], s['floor_calls'], s['writes'], s['list_calls'], s['throttled'],
            s['wall_seconds'], s['module_alone_seconds']))
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
