#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tag a fleet against the emulator: one atp_machine_tag task versus a loop of ansible.builtin.uri tasks.

    .venv/bin/python benchmarks/tag_fleet.py                  # 200 machines; the uri loop on 50, extrapolated
    .venv/bin/python benchmarks/tag_fleet.py --loop-size 200  # the uri loop on the whole fleet too

Both runs are real ``ansible-playbook`` runs, timed from the outside, against an emulator without rate limits
(the quota would only slow the loop down further: it sends one request per machine and tag).

What is measured, from the emulator's request log: API requests (everything under /api/), the tag writes among
them, token requests, and the floor - the fewest writes the API allows: one
``AddOrRemoveTagForMultipleMachines`` call per tag and per 500 machines. The collection's task is given computer
DNS names (it resolves them, and reads the machines' current tags, itself); the uri loop is given machine ids,
its best case, and adds the tag blindly (it cannot tell which machines have it without reading them first).

Results are printed as a table and written to benchmarks/results/ (gitignored), as Markdown and JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from isolate_fleet import pick_fleet, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
BULK_MAX = 500
TAGS = ['IR-BENCH']

COLLECTION_PLAY = """\
- name: Tag a fleet with one task
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Tag every machine of the list
      defender.atp.atp_machine_tag:
        tenant_id: "{{ emu.tenant_id }}"
        client_id: "{{ emu.client_id }}"
        client_secret: "{{ emu.client_secret }}"
        login_url: "{{ emu.url }}"
        api_url: "{{ emu.url }}"
        graph_url: "{{ emu.url }}"
        ca_path: "{{ emu.ca_path }}"
        token_cache: false
        machines: "{{ fleet }}"
        tags: "{{ tags }}"
        max_machines: "{{ fleet | length }}"
      register: tagged

    - name: Report
      ansible.builtin.debug:
        msg: "SUMMARY {{ tagged.summary | to_json }} STATS {{ tagged.http_stats | to_json }}"
"""

URI_LOOP_PLAY = """\
- name: Tag a fleet the way it is done without the collection
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

    - name: Tag each machine
      ansible.builtin.uri:
        url: "{{ emu.url }}/api/machines/{{ item.0 }}/tags"
        method: POST
        ca_path: "{{ emu.ca_path }}"
        headers:
          Authorization: "Bearer {{ token.json.access_token }}"
        body_format: json
        body:
          Value: "{{ item.1 }}"
          Action: Add
      loop: "{{ fleet | product(tags) | list }}"
      no_log: true
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--machines', type=int, default=200, help='machines to tag (default 200)')
    parser.add_argument('--loop-size', type=int, default=50,
                        help='machines for the uri loop (default 50, extrapolated to --machines; 0 skips it)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    return parser.parse_args(argv)


def count(log):
    api = [e for e in log if e['path'].startswith('/api/')]
    writes = [e for e in api if e['method'] == 'POST']
    return dict(api_requests=len(api), reads=len([e for e in api if e['method'] == 'GET']), tag_writes=len(writes),
                bulk_writes=len([e for e in writes if e['path'].endswith('AddOrRemoveTagForMultipleMachines')]),
                token_requests=len([e for e in log if e.get('family') == 'token']),
                throttled=len([e for e in log if e['status'] == 429]))


def floor_writes(machines, tags=len(TAGS)):
    return tags * int(math.ceil(machines / float(BULK_MAX)))


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix='tag-fleet-')
    print('Starting the emulator with %d extra machines, no rate limits...' % (args.machines + 50), flush=True)
    emulator = EmulatorProcess(args=['--state-dir', os.path.join(work, 'emulator'), '--machines', str(args.machines + 50),
                                     '--no-rate-limits'])
    info = emulator.start()
    try:
        ids, names = pick_fleet(emulator, args.machines)
        emu_vars = dict((k, info[k]) for k in ('url', 'ca_path', 'tenant_id', 'client_id', 'client_secret'))
        emulator.reset(data=True)
        print('Collection: one atp_machine_tag task for %d machines (by name)...' % len(names), flush=True)
        wall, stdout = run_playbook(work, 'collection', COLLECTION_PLAY, dict(emu=emu_vars, fleet=names, tags=TAGS))
        ours = count(emulator.requests_log())
        ours.update(machines=len(names), wall_seconds=round(wall, 2), floor_writes=floor_writes(len(names)),
                    summary=_between(stdout, 'SUMMARY ', ' STATS'))
        emulator.reset(data=False)  # the log only: the fleet is tagged now, a second run must write nothing
        wall_again, _stdout = run_playbook(work, 'collection-again', COLLECTION_PLAY, dict(emu=emu_vars, fleet=names, tags=TAGS))
        again = count(emulator.requests_log())
        again.update(wall_seconds=round(wall_again, 2))

        loop = None
        if args.loop_size:
            emulator.reset(data=True)
            size = min(args.loop_size, len(ids))
            print('Without the collection: a loop of ansible.builtin.uri tasks for %d machines (by id)...' % size, flush=True)
            wall, _stdout = run_playbook(work, 'uri_loop', URI_LOOP_PLAY, dict(emu=emu_vars, fleet=ids[:size], tags=TAGS))
            loop = count(emulator.requests_log())
            loop.update(machines=size, wall_seconds=round(wall, 2))
            scale = len(ids) / float(size)
            loop['extrapolated'] = dict(wall_seconds=round(wall * scale, 1),
                                        api_requests=int(round(loop['api_requests'] * scale)),
                                        tag_writes=int(round(loop['tag_writes'] * scale)))
    finally:
        emulator.stop()
    report = render(ours, again, loop)
    print(report)
    os.makedirs(RESULTS, exist_ok=True)
    base = os.path.join(RESULTS, 'tag_fleet-%s' % datetime.datetime.now().strftime('%Y%m%d-%H%M%S'))
    with open(base + '.md', 'w') as handle:
        handle.write(report + '\n')
    with open(base + '.json', 'w') as handle:
        json.dump(dict(args=vars(args), collection=ours, collection_again=again, uri_loop=loop), handle, indent=2)
    print('Written to %s.md and .json' % os.path.relpath(base, ROOT))
    if not args.keep:
        subprocess.run(['rm', '-rf', work], check=False)
    return 0 if ours['tag_writes'] == ours['floor_writes'] and again['tag_writes'] == 0 else 1


def _between(text, start, end):
    try:
        part = text.split(start, 1)[1].split(end, 1)[0]
        return json.loads(part.replace('\\"', '"').strip().strip('"'))
    except (IndexError, ValueError):
        return None


def render(ours, again, loop):
    fleet = ours['machines']
    extrapolated = (loop or {}).get('extrapolated', {})
    rows = [
        ('wall time (s), whole ansible-playbook run', ours['wall_seconds'], again['wall_seconds'],
         loop and '%s (%s measured on %d)' % (extrapolated['wall_seconds'], loop['wall_seconds'], loop['machines'])),
        ('API requests', ours['api_requests'], again['api_requests'], loop and extrapolated['api_requests']),
        ('  of which reads', ours['reads'], again['reads'], loop and loop['reads']),
        ('  of which tag writes', ours['tag_writes'], again['tag_writes'], loop and extrapolated['tag_writes']),
        ('  of which bulk writes', ours['bulk_writes'], again['bulk_writes'], loop and loop['bulk_writes']),
        ('floor: tag writes (one bulk call per tag and 500 machines)', ours['floor_writes'], 0, ours['floor_writes']),
        ('token requests', ours['token_requests'], again['token_requests'], loop and loop['token_requests']),
        ('429 answers', ours['throttled'], again['throttled'], loop and loop['throttled']),
    ]
    width = max(len(r[0]) for r in rows)
    headers = ['atp_machine_tag, one task', 'the same task again', 'uri loop, one task per machine (extrapolated)']
    lines = ['# Tagging %d machines with %s against the emulator (%s)' % (
        fleet, ', '.join(TAGS), datetime.datetime.now().strftime('%Y-%m-%d %H:%M')), '',
        '| %s | %s |' % ('metric'.ljust(width), ' | '.join(headers)), '|%s|%s' % ('-' * (width + 2), '---:|' * len(headers))]
    for label, *values in rows:
        lines.append('| %s | %s |' % (label.ljust(width), ' | '.join('-' if v is None else str(v) for v in values)))
    lines.append('')
    lines.append('Load average at the end: %s (the emulator, ansible-playbook and the module share the same cores).'
                 % ', '.join('%.1f' % v for v in os.getloadavg()))
    lines.append('Summary reported by the module: %s' % json.dumps(ours.get('summary')))
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
