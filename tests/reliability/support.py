# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the reliability suites: writing and running playbooks, reading their results (see conftest.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = sys.executable
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(PYTHON), 'ansible-playbook')
CONNECTION_KEYS = ('tenant_id', 'client_id', 'client_secret', 'login_url', 'api_url', 'graph_url', 'ca_path')
GROUP = 'group/defender.atp.atp'

# Paths of the endpoint families, as fault rules match them (regular expressions searched in the request path).
FAMILY_PATHS = {
    'token': r'/oauth2/(v2\.0/)?token$',
    'alerts': r'^/api/alerts',
    'machines': r'^/api/machines$',
    'machineactions': r'^/api/machineactions',
    'isolate': r'^/api/machines/[0-9a-fA-F]{40}/(isolate|unisolate)$',
    'advancedqueries': r'^/api/advancedqueries/run$',
    'graph': r'^/v1\.0/security/runHuntingQuery$',
}
FAMILIES = tuple(FAMILY_PATHS)

FINANCE_01 = '958229471430993e9cde904f77fed63aeff7ceb4'  # ws-finance-01.contoso.com: online, never isolated
IT_01 = '4d20d4af9680b197d8941bdd7cc68a13dc68b01c'  # ws-it-01.contoso.com: online, never isolated


class PlayResult(object):
    """What one ansible-playbook run did: exit status, output, and every task result."""

    def __init__(self, rc, output, results, seconds, workdir):
        self.rc = rc
        self.output = output
        self.results = results
        self.seconds = seconds
        self.workdir = workdir

    def task(self, name, host=None):
        """The last result of the task called ``name`` (on ``host``)."""
        found = [r for r in self.results if r['task'] == name and (host is None or r['host'] == host)]
        assert found, 'no result for task %r%s; tasks seen: %s\n%s' % (
            name, ' on %s' % host if host else '', sorted(set(r['task'] for r in self.results)), self.tail())
        return found[-1]

    def by_host(self, name):
        return dict((r['host'], r) for r in self.results if r['task'] == name)

    def tail(self, lines=60):
        return '\n'.join(self.output.splitlines()[-lines:])


class Runner(object):
    """Writes and runs playbooks for one test."""

    def __init__(self, workdir, emulator, collections):
        self.workdir = workdir
        self.emulator = emulator
        self.collections = collections
        self.counter = 0
        os.makedirs(os.path.join(workdir, 'token-cache'), mode=0o700)
        self.vars_file = os.path.join(workdir, 'connection.json')
        info = emulator.info
        conn = dict(tenant_id=info['tenant_id'], client_id=info['client_id'], client_secret=info['client_secret'],
                    login_url=info['url'], api_url=info['url'], graph_url=info['url'], ca_path=info['ca_path'])
        with open(self.vars_file, 'w') as handle:
            json.dump({'atp_conn': conn, 'emulator': info}, handle)
        os.chmod(self.vars_file, 0o600)

    def env(self, extra=None):
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('AZURE_', 'DEFENDER_ATP_', 'ANSIBLE_')))
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': self.collections,
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'reliability_results',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.workdir, '.ansible-local'),
            'ANSIBLE_HOME': os.path.join(self.workdir, '.ansible-home'),
            'ANSIBLE_DEPRECATION_WARNINGS': '0',
            'DEFENDER_ATP_TOKEN_CACHE_DIR': os.path.join(self.workdir, 'token-cache'),
            'PYTHONUNBUFFERED': '1',
        })
        env.update(extra or {})
        return env

    def write_inventory(self, hosts):
        path = os.path.join(self.workdir, 'inventory.ini')
        with open(path, 'w') as handle:
            for host, host_vars in hosts.items():
                words = ['%s=%s' % (k, json.dumps(v) if not isinstance(v, str) else v) for k, v in sorted(host_vars.items())]
                handle.write('%s ansible_connection=local ansible_python_interpreter=%s %s\n' % (host, PYTHON, ' '.join(words)))
        return path

    def play(self, tasks, hosts=None, defaults=None, strategy='linear', forks=None, verbosity=0, env=None, timeout=300,
             connection=True, play_vars=None, check=False):
        """Run ``tasks`` (list of task dicts) in one play on ``hosts`` ({name: host vars}); return a PlayResult.

        ``defaults`` are extra module_defaults for the action group (for example max_retries); ``connection=False``
        leaves the connection out of module_defaults (tasks then give it themselves), a tuple of keys of
        CONNECTION_KEYS puts only those in.
        """
        self.counter += 1
        name = 'play%02d' % self.counter
        hosts = hosts or {'localhost': {}}
        group_defaults = {}
        if connection:
            keys = CONNECTION_KEYS if connection is True else connection
            group_defaults.update(dict((key, '{{ atp_conn.%s }}' % key) for key in keys))
        group_defaults.update(defaults or {})
        play = {'name': name, 'hosts': 'all', 'gather_facts': False, 'strategy': strategy, 'tasks': tasks}
        if group_defaults:
            play['module_defaults'] = {GROUP: group_defaults}
        if play_vars:
            play['vars'] = play_vars
        playbook = os.path.join(self.workdir, name + '.yml')
        with open(playbook, 'w') as handle:
            json.dump([play], handle, indent=1)
        results_file = os.path.join(self.workdir, name + '.results.jsonl')
        inventory = self.write_inventory(hosts)
        cmd = [ANSIBLE_PLAYBOOK, '-i', inventory, playbook, '-e', '@' + self.vars_file]
        if forks:
            cmd += ['--forks', str(forks)]
        if verbosity:
            cmd.append('-' + 'v' * verbosity)
        if check:
            cmd.append('--check')
        extra_env = {'RELIABILITY_RESULTS_FILE': results_file}
        extra_env.update(env or {})
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env(extra_env), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        output = proc.stdout.decode('utf-8', 'replace')
        with open(os.path.join(self.workdir, name + '.log'), 'w') as handle:
            handle.write(output)
        results = []
        if os.path.exists(results_file):
            with open(results_file) as handle:
                results = [json.loads(line) for line in handle if line.strip()]
        assert 'ERROR!' not in output[:2000] or results, 'ansible-playbook did not run the play:\n%s' % output[-3000:]
        return PlayResult(proc.returncode, output, results, seconds, self.workdir)

    def inventory(self, options, env=None, verbosity=0, timeout=300):
        """``ansible-inventory --list`` of a defender.atp.machines source with ``options`` (the connection added);
        returns (exit status, the inventory as a dict or None, output)."""
        self.counter += 1
        info = self.emulator.info
        source = dict(plugin='defender.atp.machines', tenant_id=info['tenant_id'], client_id=info['client_id'],
                      client_secret=info['client_secret'], login_url=info['url'], api_url=info['url'],
                      ca_path=info['ca_path'])
        source.update(options)
        path = os.path.join(self.workdir, 'source%02d.defender.yml' % self.counter)
        with open(path, 'w') as handle:
            json.dump(source, handle)
        os.chmod(path, 0o600)
        cmd = [os.path.join(os.path.dirname(PYTHON), 'ansible-inventory'), '-i', path, '--list']
        if verbosity:
            cmd.append('-' + 'v' * verbosity)
        extra = {'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true', 'ANSIBLE_PYTHON_INTERPRETER': PYTHON}
        extra.update(env or {})
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env(extra), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
        output = proc.stdout.decode('utf-8', 'replace')
        try:
            listing = json.loads(output)
        except ValueError:
            listing = None
        return proc.returncode, listing, output + proc.stderr.decode('utf-8', 'replace')


def module_task(name, module, args=None, **keywords):
    """A task calling ``defender.atp.<module>`` with ``args``, registering ``result`` and never stopping the play."""
    task = {'name': name, 'defender.atp.' + module: dict(args or {}), 'register': 'result', 'ignore_errors': True}
    task.update(keywords)
    return task


def api_log(emulator):
    """The emulator's request log without control calls (they are never logged anyway)."""
    return emulator.requests_log()


def assert_clean_failure(result, *fragments):
    """A failed task with one readable message holding ``fragments``, and no traceback of ours.

    ansible-core 2.19 adds ``exception`` to every failed result ("(traceback unavailable)" unless tracebacks are
    enabled); a module that crashed says "Unexpected error" (AtpModule.run) or leaves ``module_stderr``.
    """
    assert result['status'] == 'failed', result
    body = result['result']
    message = body.get('msg') or ''
    for fragment in fragments:
        assert fragment in message, '%r not in %r' % (fragment, message)
    assert 'Traceback' not in message and not message.startswith('Unexpected error'), message
    assert 'Traceback (most recent call last)' not in str(body.get('exception') or ''), body.get('exception')
    assert 'module_stderr' not in body, body.get('module_stderr')
    return message


# -- leak checks ---------------------------------------------------------------------------------------------------------

def secret_needles(value):
    """Forms a secret may take in output: as is, JSON-escaped, URL-encoded, each long line of a PEM body, and the
    signature of a JWT (the part that makes a token usable)."""
    from urllib.parse import quote, quote_plus  # pylint: disable=import-outside-toplevel
    needles = {value, json.dumps(value)[1:-1], quote(value, safe=''), quote_plus(value)}
    if '\n' in value:
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith('-----'):
                needles.add(line)
    parts = value.split('.')
    if len(parts) == 3 and len(parts[2]) >= 40:
        needles.add(parts[2])
    return set(needle for needle in needles if len(needle) >= 8)


def secret_kind(value):
    if 'PRIVATE KEY' in value:
        return 'private key'
    if value.count('.') == 2 and value.startswith('eyJ'):
        return 'token'
    return 'secret or password'


def find_leaks(secrets, haystacks):
    """``[(kind, where, line number)]`` for every secret found in ``haystacks`` ({name: text}); never the value."""
    leaks = []
    for value in secrets:
        if not isinstance(value, str) or len(value) < 8:
            continue
        needles = secret_needles(value)
        for where, text in sorted(haystacks.items()):
            positions = [text.find(needle) for needle in needles if needle in text]
            if positions:
                leaks.append((secret_kind(value), where, text.count('\n', 0, min(positions)) + 1))
    return leaks
