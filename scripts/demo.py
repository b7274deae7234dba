#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the incident response playbook against a local emulator (`make demo`).

Starts the emulator on a free port (tests/emulator/harness.py), writes the connection variables to
build/demo/vars.yml, links the checkout as build/demo/collections/ansible_collections/defender/atp (found
through ANSIBLE_COLLECTIONS_PATH), runs ansible-playbook playbooks/incident_response.yml on localhost, prints
a summary (with the API calls the emulator saw), stops the emulator and exits with the playbook's
status. Extra arguments go to ansible-playbook: scripts/demo.py -- -v --check
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

# pylint: disable=wrong-import-position
from emulator.harness import EmulatorError, EmulatorProcess  # noqa: E402
from noxsupport import write_vars_file  # noqa: E402  (scripts/, next to this file)

VENV_BIN = os.path.join(sys.prefix, 'bin')
DEMO_DIR = os.path.join(ROOT, 'build', 'demo')
# ansible-playbook finds defender.atp through ANSIBLE_COLLECTIONS_PATH: a link to the checkout is enough (only
# ansible-test needs a real copy).
DEMO_COLLECTIONS = os.path.join(DEMO_DIR, 'collections')
DEMO_LINK = os.path.join(DEMO_COLLECTIONS, 'ansible_collections', 'defender', 'atp')
ID_SEGMENT = re.compile(r'/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{16,}|\d+)(?=/|$)')


def link_collection():
    os.makedirs(os.path.dirname(DEMO_LINK), exist_ok=True)
    if os.path.islink(DEMO_LINK) and os.readlink(DEMO_LINK) == ROOT:
        return
    if os.path.isdir(DEMO_LINK) and not os.path.islink(DEMO_LINK):
        shutil.rmtree(DEMO_LINK)  # a work copy of an older demo
    elif os.path.lexists(DEMO_LINK):
        os.unlink(DEMO_LINK)
    os.symlink(ROOT, DEMO_LINK)


def playbook_vars(info):
    """Connection variables of the playbook, plus every emulator_* key for playbooks that want more."""
    variables = {'emulator_' + key: value for key, value in info.items()}
    variables.update(
        tenant_id=info['tenant_id'],
        client_id=info['client_id'],
        client_secret=info['client_secret'],
        login_url=info['url'],
        api_url=info['url'],
        graph_url=info['url'],
        ca_path=info['ca_path'],
        # playbooks/incident_response.yml: the machines to contain (in the emulator's default data ws-eng-05 is not
        # isolated yet, ws-finance-03 already is); alerts of the playbook's default span, the last 24 hours.
        ir_machines=['ws-eng-05.contoso.com', 'ws-finance-03.contoso.com'],
        ir_comment='make demo: contain the machines of the demo incident',
    )
    return variables


def summarize_requests(entries):
    """Count the emulator's logged requests by method and path (ids folded), control calls left out."""
    counts = collections.Counter()
    if isinstance(entries, dict):
        entries = entries.get('requests', entries.get('value', []))
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        path = str(entry.get('path') or entry.get('url') or '?').split('?', 1)[0]
        path = re.sub(r'^https?://[^/]+', '', path)
        if path.startswith('/_emulator'):
            continue
        counts['%s %s' % (entry.get('method', '?'), ID_SEGMENT.sub('/{id}', path))] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--playbook', default='playbooks/incident_response.yml', help='playbook to run (from the repository root)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('DEMO_EMULATOR_PORT', '0')), help='emulator port (0: any free port)')
    parser.add_argument('ansible_args', nargs='*', help='extra ansible-playbook arguments (after --)')
    args = parser.parse_args(argv)

    playbook = os.path.join(ROOT, args.playbook)
    if not os.path.isfile(playbook):
        print('demo: %s does not exist' % args.playbook, file=sys.stderr)
        return 2
    link_collection()
    state_dir = os.path.join(DEMO_DIR, 'emulator')
    os.makedirs(state_dir, exist_ok=True)
    session = EmulatorProcess(args=['--state-dir', state_dir], port=args.port, python=os.path.join(VENV_BIN, 'python'))
    try:
        info = session.start()
    except EmulatorError as ex:
        print('demo: the emulator did not start: %s' % ex, file=sys.stderr)
        return 2

    status = 1
    started = time.monotonic()
    try:
        vars_file = os.path.join(DEMO_DIR, 'vars.yml')
        write_vars_file(vars_file, playbook_vars(info), writer='scripts/demo.py')
        inventory = os.path.join(DEMO_DIR, 'inventory.ini')
        with open(inventory, 'w', encoding='utf-8') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % os.path.join(VENV_BIN, 'python'))
        print('demo: emulator at %s (pid %s); variables in %s' % (info['url'], info.get('pid'), os.path.relpath(vars_file, ROOT)))

        env = dict(os.environ)
        env['PATH'] = VENV_BIN + os.pathsep + env.get('PATH', '')
        env['ANSIBLE_COLLECTIONS_PATH'] = DEMO_COLLECTIONS
        cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, '-e', '@' + vars_file, playbook] + args.ansible_args
        print('demo: $ %s\n' % ' '.join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in cmd), flush=True)
        status = subprocess.call(cmd, cwd=ROOT, env=env)
        elapsed = time.monotonic() - started

        calls, calls_error = None, ''
        try:
            calls = summarize_requests(session.requests_log())
        except Exception as ex:  # pylint: disable=broad-except
            calls_error = str(ex)
        print('\n' + '=' * 72)
        print('demo summary')
        print('  playbook   %s' % args.playbook)
        print('  result     %s (exit status %d) in %.1f s' % ('succeeded' if status == 0 else 'FAILED', status, elapsed))
        print('  emulator   %s (tenant %s)' % (info['url'], info['tenant_id']))
        if calls is None:
            print('  API calls  unknown (request log not readable: %s)' % calls_error)
        else:
            print('  API calls  %d' % sum(calls.values()))
            for name, count in sorted(calls.items(), key=lambda item: (-item[1], item[0])):
                print('    %4d  %s' % (count, name))
        print('=' * 72)
    except KeyboardInterrupt:
        status = 130
    finally:
        session.stop()
        stderr = session.stderr_text()
        if status != 0 and stderr:
            print('demo: the emulator said:\n' + stderr[-3000:], file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
