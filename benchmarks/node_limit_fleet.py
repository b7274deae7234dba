# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The "mixed ids/names fleet under the node limit" scenario of isolate_fleet.py.

One atp_machine_isolate task for a list of machine ids and computer DNS names (60 and 40 by default), against the
emulator enforcing ASP.NET OData's $filter node limit: first the default (100), then a limit the module's batches
do not fit (20), so they are refused, split and read again. For each run it reports the reads (GET requests)
used next to their floor, the same lookups packed to exactly the server's limit:

  * floor reads = ceil(ids / k) + ceil(names / k) + the history, where k = (limit + 1) // 5 comparisons fit in
    one filter (a comparison is 4 nodes, each "or" 1); the history of more than 30 machines is one listing of
    every Isolate/Unisolate action, of fewer ceil(machines / k_history) with k_history = (limit - 9) // 5 under the
    history's "(type eq 'Isolate' or type eq 'Unisolate') and" prefix (10 nodes);
  * extra batches = what the module's own budget (60 nodes: 12 comparisons, 10 under the prefix) costs over the floor
    when the limit is 100;
  * the read cost grew by no more than the extra batches when reads used <= floor + extra batches (+ the refused
    requests when the limit is lower than the budget).

The isolate floor (isolate requests / rate) is reported as in the main scenario. 0.1.0 failed such a task on its
first read (one 60-id filter is 299 nodes).
"""

from __future__ import annotations

import math
import time

MODULE_NODE_BUDGET = 60
HISTORY_PREFIX_NODES = 10  # "(type eq 'Isolate' or type eq 'Unisolate') and"
HISTORY_LISTING_ABOVE = 30  # machines.HISTORY_LISTING_BATCHES (3) requests of 10

PLAY = """\
- name: Isolate a mixed list of ids and names with one task
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
        comment: "Benchmark: contain a mixed fleet"
      register: isolated
      no_log: true

    - name: Report
      ansible.builtin.debug:
        msg: "SUMMARY {{ isolated.summary | to_json }} STATS {{ isolated.http_stats | to_json }}"
"""


def per_request(limit, prefix_nodes=0):
    """Comparisons ``p eq 'v'`` that fit in one filter of at most ``limit`` nodes after a prefix of ``prefix_nodes``."""
    return max(1, (limit - prefix_nodes + 1) // 5)


def read_floor(ids, names, limit):
    machines = ids + names
    # The history of more than 30 machines is one listing of every Isolate/Unisolate action (machines.py).
    history = 1 if machines > HISTORY_LISTING_ABOVE else math.ceil(machines / per_request(limit, HISTORY_PREFIX_NODES))
    return math.ceil(ids / per_request(limit)) + math.ceil(names / per_request(limit)) + history


def run(emulator, work, emu_vars, ids, names, window, run_playbook, summary_of, floor_seconds):
    """Run the scenario at the default limit and at 20; return one result dict per limit."""
    fleet = list(ids) + list(names)
    planned = read_floor(len(ids), len(names), MODULE_NODE_BUDGET)
    results = []
    for limit in (100, 20):
        emulator.reset(data=True, rate_limits=True)
        emulator.set_config(max_node_count=limit)
        started = time.monotonic()
        elapsed, stdout = run_playbook(work, 'mixed_%d' % limit, PLAY, dict(emu=emu_vars, fleet=fleet))
        log = emulator.requests_log()
        api = [e for e in log if e['path'].startswith('/api/')]
        gets = [e for e in api if e['method'] == 'GET']
        posts = [e for e in api if e['method'] == 'POST']
        floor = read_floor(len(ids), len(names), limit)
        refused = len([e for e in gets if e['status'] == 400])
        results.append(dict(
            node_limit=limit, machines=len(fleet), ids=len(ids), names=len(names),
            reads=len(gets), reads_refused=refused, reads_floor=floor,
            reads_planned_at_module_budget=planned, extra_batches=max(0, planned - read_floor(len(ids), len(names), 100)),
            writes=len(posts), distinct_writes=len(set(e['path'] for e in posts)),
            wall_seconds=round(elapsed, 2), isolate_floor_seconds=round(floor_seconds(len(fleet), window), 2),
            summary=summary_of(stdout), measured=round(time.monotonic() - started, 2)))
    emulator.set_config(max_node_count=100)
    return results


def render(results):
    if not results:
        return ''
    rows = [
        ('$filter node limit of the emulator', lambda r: r['node_limit']),
        ('machines (ids + names)', lambda r: '%d (%d + %d)' % (r['machines'], r['ids'], r['names'])),
        ('reads used (GET)', lambda r: r['reads']),
        ('  of which refused for size (400) and split', lambda r: r['reads_refused']),
        ('read floor (the same lookups packed to the limit)', lambda r: r['reads_floor']),
        ('reads the module plans (60-node batches)', lambda r: r['reads_planned_at_module_budget']),
        ('extra batches of the 60-node margin (vs floor at 100)', lambda r: r['extra_batches']),
        ('reads used / floor', lambda r: round(r['reads'] / float(r['reads_floor']), 2)),
        ('isolate requests (distinct machines)', lambda r: '%d (%d)' % (r['writes'], r['distinct_writes'])),
        ('wall time (s), whole ansible-playbook run', lambda r: r['wall_seconds']),
        ('isolate floor (s) = isolate requests / rate', lambda r: r['isolate_floor_seconds']),
        ('summary', lambda r: r['summary']),
    ]
    width = max(len(row[0]) for row in rows)
    lines = ['', '', '## Mixed ids/names fleet under the node limit', '',
             '| %s | %s |' % ('metric'.ljust(width), ' | '.join('limit %d' % r['node_limit'] for r in results)),
             '|%s|%s' % ('-' * (width + 2), '---:|' * len(results))]
    for label, value in rows:
        lines.append('| %s | %s |' % (label.ljust(width), ' | '.join(str(value(r)) for r in results)))
    lines.append('')
    lines.append('Floor: ceil(ids / k) + ceil(names / k) + the history (one listing above 30 machines), with k = (limit + 1) '
                 '// 5 comparisons a filter. 0.1.0 failed this task on its first read (60 ids in one 299-node filter).')
    return '\n'.join(lines)


def within_target(results):
    """Reads grew by no more than the extra batches (plus the refused requests under a smaller limit); one write each."""
    for r in results:
        allowed = r['reads_floor'] + r['extra_batches'] if r['node_limit'] >= MODULE_NODE_BUDGET else \
            r['reads_floor'] + r['reads_refused']
        if r['reads'] > allowed or r['writes'] != r['machines'] or r['distinct_writes'] != r['machines']:
            return False
    return True
