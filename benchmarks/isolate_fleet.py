#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Isolate a fleet against the emulator: one atp_machine_isolate task versus a loop of ansible.builtin.uri tasks.

    .venv/bin/python benchmarks/isolate_fleet.py                  # 1,000 machines; the uri loop on 100, extrapolated
    .venv/bin/python benchmarks/isolate_fleet.py --loop-size 1000 # the uri loop on the whole fleet too (~4 min)
    .venv/bin/python benchmarks/isolate_fleet.py --machines 200 --rate-scale 0.0333
    .venv/bin/python benchmarks/isolate_fleet.py --machines 100 --loop-size 0  # quick; the mixed scenario included
    .venv/bin/python benchmarks/isolate_fleet.py --messages plain # only the 429 message that names no numbers

The collection's task runs once per form of the 429 message (``--messages``, default both): ``quota``, the
wording that names the limit ("maximum allowed 100 per 00:00:02"), and ``plain``, a message with no numbers
(Microsoft documents error messages as free text that can change), where the pacing must learn the quota from
what the service accepts and from ``Retry-After``.

The emulator is started with ``--machines N`` extra generated machines and its rate limits scaled by
``--rate-scale`` (0.0333 turns 100 requests a minute into 100 per 2 s, 1,500 an hour into 1,500 per 2 min).
Both runs are real ``ansible-playbook`` runs (with ``ansible_python_interpreter`` set), timed from the outside.

What is measured, from the emulator's request log:
  * API requests (everything under /api/), token requests, isolate requests (and the most any machine got), 429s;
  * the floor: the isolate requests divided by the isolate rate limit (the "isolate" family: POST
    /api/machines/{id}/isolate). Reads (machines, machineactions) have their own quota families and are
    left out of the floor; they are a handful of requests.

The collection's task is given computer DNS names (it resolves them itself). The uri loop is given machine
ids, its best case: a loop that looks names up first would send twice as many requests. The loop gets a
token with one uri task, then sends one isolate per machine, as users do without the collection.

Then the "mixed ids/names fleet under the node limit" scenario (node_limit_fleet.py): one task for 60 ids and 40
names against the emulator's $filter node limit (100, then 20), reads used next to their floor.

Results are printed as a table and written to benchmarks/results/ (gitignored), as Markdown and JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import collection_path  # noqa: E402  pylint: disable=wrong-import-position
import node_limit_fleet  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
DOCUMENTED_PER_MINUTE = 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--machines', type=int, default=1000, help='machines to isolate (default 1000)')
    parser.add_argument('--rate-scale', type=float, default=1 / 30.0,
                        help='rate-limit window scale of the emulator (default 1/30: 100 per 2 s)')
    parser.add_argument('--loop-size', type=int, default=100,
                        help='machines for the uri loop (default 100, extrapolated to --machines; 0 skips it)')
    parser.add_argument('--mixed-ids', type=int, default=60, help='ids in the mixed node-limit scenario (default 60)')
    parser.add_argument('--mixed-names', type=int, default=40,
                        help='names in the mixed node-limit scenario (default 40; 0 ids and 0 names skip it)')
    parser.add_argument('--messages', default='quota,plain',
                        help='429 message forms to run the collection with, comma-separated: quota, plain (default both)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    return parser.parse_args(argv)


def playbook_env(work, extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collection_path(work),
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'ANSIBLE_LOCAL_TEMP': os.path.join(work, 'tmp'),
        'DEFENDER_ATP_TOKEN_CACHE_DIR': os.path.join(work, 'token-cache'),
    })
    env.update(extra or {})
    return env


def run_playbook(work, name, text, variables, env_extra=None):
    playbook = os.path.join(work, name + '.yml')
    vars_file = os.path.join(work, name + '-vars.json')
    with open(playbook, 'w') as handle:
        handle.write(text)
    with open(vars_file, 'w') as handle:
        json.dump(variables, handle)
    command = [os.path.join(sys.prefix, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@' + vars_file, playbook]
    started = time.monotonic()
    completed = subprocess.run(command, env=playbook_env(work, env_extra), capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    with open(os.path.join(work, name + '.log'), 'w') as handle:
        handle.write(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        log = os.path.join(work, name + '.log')
        raise SystemExit('%s failed (rc %d); see %s\n%s' % (name, completed.returncode, log, completed.stdout[-3000:]))
    return elapsed, completed.stdout


COLLECTION_PLAY = """\
- name: Isolate a fleet with one task
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Isolate every machine of the list
      defender.atp.atp_machine_isolate:
        tenant_id: "{{ emu.tenant_id }}"
        client_id: "{{ emu.client_id }}"
        client_secret: "{{ emu.client_secret }}"
        login_url: "{{ emu.url }}"
        api_url: "{{ emu.url }}"
        graph_url: "{{ emu.url }}"
        ca_path: "{{ emu.ca_path }}"
        token_cache: false
        max_retries: 20
        machines: "{{ fleet }}"
        max_machines: "{{ fleet | length }}"
        comment: "Benchmark: contain the fleet"
      register: isolated
      no_log: true

    - name: Report
      ansible.builtin.debug:
        msg: "SUMMARY {{ isolated.summary | to_json }} STATS {{ isolated.http_stats | to_json }}"
"""

URI_LOOP_PLAY = """\
- name: Isolate a fleet the way it is done without the collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Get a token
      ansible.builtin.uri:
        url: "{{ emu.url }}/{{ emu.tenant_id }}/oauth2/v2.0/token"
        method: POST
        ca_path: "{{ emu.ca_path }}"
        body_format: form-urlencoded
        body:
          grant_type: client_credentials
          client_id: "{{ emu.client_id }}"
          client_secret: "{{ emu.client_secret }}"
          scope: https://api.securitycenter.microsoft.com/.default
      register: token
      no_log: true

    - name: Isolate each machine
      ansible.builtin.uri:
        url: "{{ emu.url }}/api/machines/{{ item }}/isolate"
        method: POST
        ca_path: "{{ emu.ca_path }}"
        headers:
          Authorization: "Bearer {{ token.json.access_token }}"
        body_format: json
        body:
          Comment: "Benchmark: contain the fleet"
          IsolationType: Full
        status_code: [201]
      loop: "{{ fleet }}"
      no_log: true
"""


def pick_fleet(emulator, size):
    """``size`` generated machines with a unique name and no isolation history, as (ids, names)."""
    token = emulator.token()
    headers = {'Authorization': 'Bearer ' + token}
    status, machines, _headers = emulator.call('GET', '/api/machines?$top=10000', headers=headers)
    assert status == 200, machines
    status, actions, _headers = emulator.call('GET', '/api/machineactions?$top=10000', headers=headers)
    assert status == 200, actions
    touched = set(a['machineId'] for a in actions['value'])
    counts = {}
    for machine in machines['value']:
        key = (machine.get('computerDnsName') or '').lower()
        counts[key] = counts.get(key, 0) + 1
    fleet = [m for m in machines['value'] if m['id'] not in touched and counts[(m.get('computerDnsName') or '').lower()] == 1
             and m.get('computerDnsName')]
    fleet.sort(key=lambda m: m['computerDnsName'])
    if len(fleet) < size:
        raise SystemExit('only %d suitable machines in the emulator, %d wanted' % (len(fleet), size))
    fleet = fleet[:size]
    return [m['id'] for m in fleet], [m['computerDnsName'] for m in fleet]


def count(log, window):
    api = [e for e in log if e['path'].startswith('/api/')]
    isolates = [e for e in api if e['method'] == 'POST' and e['path'].endswith('/isolate')]
    per_machine = {}
    for entry in isolates:
        if entry['status'] in (200, 201):
            per_machine[entry['path']] = per_machine.get(entry['path'], 0) + 1
    sent_per_machine = {}
    for entry in isolates:
        sent_per_machine[entry['path']] = sent_per_machine.get(entry['path'], 0) + 1
    return dict(
        api_requests=len(api),
        token_requests=len([e for e in log if e.get('family') == 'token']),
        reads=len([e for e in api if e['method'] == 'GET']),
        isolate_requests=len(isolates),
        isolate_created=sum(per_machine.values()),
        max_isolates_per_machine=max(sent_per_machine.values()) if sent_per_machine else 0,
        max_created_per_machine=max(per_machine.values()) if per_machine else 0,
        throttled=len([e for e in log if e['status'] == 429]),
        first=min((e['time'] for e in log), default=0), last=max((e['time'] for e in log), default=0),
        window=window,
    )


def floor_seconds(machines, window, per_window=DOCUMENTED_PER_MINUTE):
    """requests / rate: with 100 requests per window, N requests need N / 100 windows."""
    return machines / float(per_window) * window


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix='isolate-fleet-')
    window = 60.0 * args.rate_scale
    print('Starting the emulator with %d extra machines, rate limits x%.4f (100 per %.2f s)...' % (
        args.machines + 50, args.rate_scale, window), flush=True)
    emulator = EmulatorProcess(args=['--state-dir', os.path.join(work, 'emulator'), '--machines', str(args.machines + 50),
                                     '--rate-scale', repr(args.rate_scale)])
    info = emulator.start()
    env_extra = {}
    try:
        ids, names = pick_fleet(emulator, args.machines)
        emu_vars = dict((k, info[k]) for k in ('url', 'ca_path', 'tenant_id', 'client_id', 'client_secret'))

        ours = {}
        for form in [f.strip() for f in args.messages.split(',') if f.strip()]:
            emulator.reset(data=True, rate_limits=True)  # the same fleet, none of it isolated yet
            emulator.set_config(throttle_message=form)
            print('Collection: one atp_machine_isolate task for %d machines (by name), 429 message form %r...' % (
                len(names), form), flush=True)
            wall, stdout = run_playbook(work, 'collection-' + form, COLLECTION_PLAY, dict(emu=emu_vars, fleet=names),
                                        env_extra)
            run = count(emulator.requests_log(), window)
            run['wall_seconds'] = round(wall, 2)
            run['api_span_seconds'] = round(run['last'] - run['first'], 2)
            run['summary'] = _between(stdout, 'SUMMARY ', ' STATS')
            run['floor_seconds'] = round(floor_seconds(run['isolate_created'], window), 2)
            run['vs_floor'] = round(wall / run['floor_seconds'], 3) if run['floor_seconds'] else None
            run['span_vs_floor'] = round(run['api_span_seconds'] / run['floor_seconds'], 3) if run['floor_seconds'] else None
            ours[form] = run

        loop = None
        if args.loop_size:
            emulator.reset(data=True, rate_limits=True)
            size = min(args.loop_size, len(ids))
            print('Without the collection: a loop of ansible.builtin.uri tasks for %d machines (by id)...' % size, flush=True)
            wall, _stdout = run_playbook(work, 'uri_loop', URI_LOOP_PLAY, dict(emu=emu_vars, fleet=ids[:size]))
            loop = count(emulator.requests_log(), window)
            loop['machines'] = size
            loop['wall_seconds'] = round(wall, 2)
            loop['api_span_seconds'] = round(loop['last'] - loop['first'], 2)
            loop['floor_seconds'] = round(floor_seconds(loop['isolate_created'], window), 2)
            if size < len(ids):
                per_machine = wall / size
                loop['extrapolated_wall_seconds'] = round(per_machine * len(ids), 1)
        mixed = []
        if args.mixed_ids + args.mixed_names:
            if args.mixed_ids + args.mixed_names > len(ids):
                raise SystemExit('the mixed scenario needs --machines >= --mixed-ids + --mixed-names')
            print('Mixed fleet: one task for %d ids and %d names under the node limit (100, then 20)...'
                  % (args.mixed_ids, args.mixed_names), flush=True)
            mixed = node_limit_fleet.run(
                emulator, work, emu_vars, ids[:args.mixed_ids], names[args.mixed_ids:args.mixed_ids + args.mixed_names],
                window, run_playbook, lambda out: _between(out, 'SUMMARY ', ' STATS'), floor_seconds)
    finally:
        emulator.stop()
    report = render(args, window, ours, loop, len(names)) + node_limit_fleet.render(mixed)
    print(report)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    base = os.path.join(RESULTS, 'isolate_fleet-%s' % stamp)
    with open(base + '.md', 'w') as handle:
        handle.write(report + '\n')
    with open(base + '.json', 'w') as handle:
        json.dump(dict(args=vars(args), window_seconds=window, collection=ours, uri_loop=loop, mixed_node_limit=mixed),
                  handle, indent=2)
    print('Written to %s.md and .json' % os.path.relpath(base, ROOT))
    if not args.keep:
        subprocess.run(['rm', '-rf', work], check=False)
    target_ok = all(run['vs_floor'] is not None and run['vs_floor'] <= 1.2 and run['token_requests'] == 1
                    and run['max_created_per_machine'] <= 1 for run in ours.values()) \
        and node_limit_fleet.within_target(mixed)
    return 0 if target_ok else 1


def _between(text, start, end):
    try:
        part = text.split(start, 1)[1].split(end, 1)[0]
        return json.loads(part.replace('\\"', '"').strip().strip('"'))
    except (IndexError, ValueError):
        return None


FORM_TITLES = {'quota': 'one task, 429 names the quota', 'plain': 'one task, 429 names no numbers'}


def render(args, window, ours, loop, fleet):
    forms = list(ours)

    def row(label, key, loop_value=None):
        return [label] + [ours[f][key] for f in forms] + [loop_value if loop else '-']

    rows = [
        ['machines'] + [fleet for _f in forms] + [loop['machines'] if loop else '-'],
        row('wall time (s), whole ansible-playbook run', 'wall_seconds', loop and loop['wall_seconds']),
        ['wall time (s) extrapolated to %d machines' % fleet] + [ours[f]['wall_seconds'] for f in forms]
        + [loop.get('extrapolated_wall_seconds', loop['wall_seconds']) if loop else '-'],
        row('  of which API traffic, first to last request (s)', 'api_span_seconds', loop and loop['api_span_seconds']),
        row('floor (s) = isolate requests / rate', 'floor_seconds', loop and loop['floor_seconds']),
        row('wall time / floor', 'vs_floor', loop and round(
            loop.get('extrapolated_wall_seconds', loop['wall_seconds']) / floor_seconds(fleet, window), 2)),
        row('API traffic / floor', 'span_vs_floor', '-'),
        row('API requests', 'api_requests', loop and loop['api_requests']),
        row('  of which reads (machines, machine actions)', 'reads', loop and loop['reads']),
        row('  of which isolate requests', 'isolate_requests', loop and loop['isolate_requests']),
        row('isolate actions created', 'isolate_created', loop and loop['isolate_created']),
        row('most isolate requests sent to one machine', 'max_isolates_per_machine', loop and loop['max_isolates_per_machine']),
        row('most isolate actions created on one machine', 'max_created_per_machine', loop and loop['max_created_per_machine']),
        row('429 answers', 'throttled', loop and loop['throttled']),
        row('token requests', 'token_requests', loop and loop['token_requests']),
    ]
    width = max(len(r[0]) for r in rows)
    headers = ['atp_machine_isolate (%s)' % FORM_TITLES.get(f, f) for f in forms] + ['uri loop (one task per machine, by id)']
    lines = ['# Isolating %d machines against the emulator' % fleet, '',
             'Rate limit: 100 isolate requests per %.2f s (the documented 100/min, window scaled by %.4f); %s.' % (
                 window, args.rate_scale, datetime.datetime.now().strftime('%Y-%m-%d %H:%M')),
             '', '| %s | %s |' % ('metric'.ljust(width), ' | '.join(headers)),
             '|%s|%s' % ('-' * (width + 2), '---:|' * len(headers))]
    for values in rows:
        lines.append('| %s | %s |' % (values[0].ljust(width), ' | '.join(str(v) for v in values[1:])))
    lines.append('')
    if loop and loop['machines'] < fleet:
        lines.append('The uri loop ran on %d machines; its %d-machine time is extrapolated linearly (it is not rate-limited at '
                     'that pace: one task per machine is far slower than the quota).' % (loop['machines'], fleet))
    lines.append('Floor: isolate requests divided by the isolate quota (reads use other quota families and are not counted).')
    lines.append('Load average at the end: %s (the emulator, ansible-playbook and the module share the same cores).'
                 % ', '.join('%.1f' % v for v in os.getloadavg()))
    for form in forms:
        lines.append('Summary reported by the module (%s): %s' % (form, json.dumps(ours[form].get('summary'))))
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
