#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the checks of the defender.atp collection, step by step.

Usage (from anywhere; run it with the project's venv python):

    .venv/bin/python scripts/run_checks.py                 # every step
    .venv/bin/python scripts/run_checks.py --steps units,sanity
    .venv/bin/python scripts/run_checks.py --skip molecule  # reported as skipped
    .venv/bin/python scripts/run_checks.py --list

Each step's output is streamed and also kept in build/logs/<step>.log. A failed step does not stop
the run. A step whose content does not exist yet fails and says why; only --skip skips a step.
The run ends with a table and one last line "N passed, M failed"; the exit status is 1 when a
step failed (2 for a usage error).

ansible-test needs the collection at .../ansible_collections/defender/atp as a real directory, so
the run first syncs the checkout into build/collections/ansible_collections/defender/atp (the "work
copy") and runs ansible-test, ansible-doc, antsibull-docs and the build there. Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
from emulator_session import EmulatorError, EmulatorSession, connection_vars, write_vars_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE, NAME = 'defender', 'atp'
PYTHON_VERSION = '%d.%d' % sys.version_info[:2]
VENV_BIN = os.path.join(sys.prefix, 'bin')
BUILD = os.path.join(ROOT, 'build')
LOGS = os.path.join(BUILD, 'logs')
COLLECTIONS = os.path.join(BUILD, 'collections')
WORK = os.path.join(COLLECTIONS, 'ansible_collections', NAMESPACE, NAME)
EMULATOR_STATE = os.path.join(BUILD, 'emulator')

# Never copied into the work copy (besides what .gitignore ignores).
SYNC_EXCLUDE_DIRS = {'.git', '.venv', 'build', '__pycache__', '.pytest_cache', '.hypothesis', '.ansible',
                     '.emulator', '.tox', '.mypy_cache', '.ruff_cache', '.molecule'}
SYNC_EXCLUDE_PATHS = {'tests/output', 'tests/integration/inventory', 'tests/integration/integration_config.yml',
                      'changelogs/.plugin-cache.yaml', 'benchmarks/results'}
SYNC_EXCLUDE_SUFFIXES = ('.pyc', '.pyo', '.tar.gz', '.retry')
# Written in the work copy by the tools; the sync leaves them alone.
WORK_GENERATED = ('tests/output', 'tests/integration/inventory', 'tests/integration/integration_config.yml',
                  'changelogs/.plugin-cache.yaml', '.ansible')

# What the built tarball must never contain (build_ignore in galaxy.yml).
FORBIDDEN_IN_TARBALL = ('tests/emulator', '.venv', 'build', 'benchmarks', 'scripts', '.ci', 'Makefile', '.git',
                        'tests/output', 'tests/integration/inventory', 'tests/integration/integration_config.yml',
                        'changelogs/.plugin-cache.yaml', 'requirements-dev.txt', '.pytest_cache', '.hypothesis',
                        '.ansible', '.emulator', '__pycache__')

# ansible-doc plugin types, by directory of plugins/ (module_utils, doc_fragments, action plugins have no docs).
DOC_PLUGIN_TYPES = {
    'modules': 'module', 'inventory': 'inventory', 'lookup': 'lookup', 'callback': 'callback',
    'connection': 'connection', 'become': 'become', 'cache': 'cache', 'vars': 'vars', 'strategy': 'strategy',
    'shell': 'shell', 'cliconf': 'cliconf', 'httpapi': 'httpapi', 'netconf': 'netconf', 'filter': 'filter',
    'test': 'test',
}


class IntegrationEcho:
    """What of the -vvvv integration output reaches the terminal (the log file keeps all of it).

    Connection chatter is dropped, and a task result longer than a screen is cut (a hunting query result
    can be thousands of lines): the first lines are shown, then a note.
    """

    QUIET = re.compile(r'^(<[^>\s]+> |Using module file |Pipelining is |redirecting \(type: |'
                       r'Loading collection |Loading callback plugin |Skipping callback |Attempting to )')
    RESULT_START = re.compile(r'^(ok|changed|fatal|failed|skipping|included|ignored|rescued): \[.*=> \{$')
    MAX_RESULT_LINES = 60
    MAX_FAILED_RESULT_LINES = 400

    def __init__(self):
        self.hidden = 0
        self.in_result = False
        self.result_lines = 0
        self.result_limit = 0
        self.cut = 0

    def __call__(self, line):
        """Return the lines to print for this output line (maybe none)."""
        if self.in_result:
            if line.rstrip('\n') == '}':
                self.in_result = False
                if self.cut:
                    note = '    ... %d more lines of this result in the log file\n' % self.cut
                    self.cut = 0
                    return [note, line]
                return [line]
            self.result_lines += 1
            if self.result_lines > self.result_limit:
                self.cut += 1
                self.hidden += 1
                return []
            return [line]
        if self.QUIET.search(line):
            self.hidden += 1
            return []
        match = self.RESULT_START.match(line.rstrip('\n'))
        if match:
            self.in_result = True
            self.result_lines = 0
            self.result_limit = self.MAX_FAILED_RESULT_LINES if match.group(1) in ('fatal', 'failed') else self.MAX_RESULT_LINES
        return [line]


class StepFailed(Exception):
    """The step failed for a reason worth one line in the summary."""


class Result:
    def __init__(self, name, status, seconds=0.0, detail=''):
        self.name = name
        self.status = status
        self.seconds = seconds
        self.detail = detail


class Context:
    """State shared by the steps of one run."""

    def __init__(self, args):
        self.args = args
        self.selected = []
        self.sync_error = None
        self.emulator = None  # EmulatorSession kept alive from integration to no-secrets
        self.integration_log = None
        self.integration_started = 0.0
        self.results = {}
        self.emulator_info = None
        self.emulator_request_file = None
        self.current_log = None
        self.current_proc = None

    # -- environment ------------------------------------------------------------------------------
    def env(self, collections=False, **extra):
        env = dict(os.environ)
        env['PATH'] = VENV_BIN + os.pathsep + env.get('PATH', '')
        # The work copy lies inside the checkout; without this ansible-test walks up to the checkout's .git,
        # asks git for its files, and finds none (build/ is ignored): "Cannot run unit tests without tests/unit/".
        env['ANSIBLE_TEST_CONTENT_ROOT'] = WORK
        env['ANSIBLE_NOCOLOR'] = env.get('ANSIBLE_NOCOLOR', '1')
        env['PY_COLORS'] = env.get('PY_COLORS', '0')
        env['NO_COLOR'] = env.get('NO_COLOR', '1')
        env.pop('VIRTUAL_ENV', None)
        if collections:
            env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def tool(self, name):
        return os.path.join(VENV_BIN, name)

    # -- running commands -------------------------------------------------------------------------
    def log(self, text):
        sys.stdout.write(text + '\n')
        sys.stdout.flush()
        if self.current_log is not None:
            self.current_log.write((text + '\n').encode('utf-8', 'replace'))
            self.current_log.flush()

    def run(self, cmd, cwd, env=None, timeout=None, echo_filter=None, check=True):
        """Run cmd, stream its output (stdout+stderr) to the terminal and the step log. Returns the exit status."""
        self.log('$ (cd %s && %s)' % (os.path.relpath(cwd, ROOT) if cwd.startswith(ROOT) else cwd,
                                      ' '.join(_quote(part) for part in cmd)))
        timeout = timeout or self.args.timeout
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                cmd, cwd=cwd, env=env or self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as ex:
            raise StepFailed('cannot run %s: %s' % (cmd[0], ex)) from None
        self.current_proc = proc
        timed_out = threading.Event()

        def on_timeout():
            timed_out.set()
            _kill_group(proc)

        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            for raw in iter(proc.stdout.readline, b''):
                if self.current_log is not None:
                    self.current_log.write(raw)
                line = raw.decode('utf-8', 'replace')
                for shown in (echo_filter(line) if echo_filter is not None else (line,)):
                    sys.stdout.write(shown)
                sys.stdout.flush()
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
            proc.stdout.close()
            self.current_proc = None
            if self.current_log is not None:
                self.current_log.flush()
        if getattr(echo_filter, 'hidden', 0):
            self.log('(%d lines not echoed here: connection details and long results; all are in the log file)' % echo_filter.hidden)
        if timed_out.is_set():
            raise StepFailed('%s timed out after %d s' % (os.path.basename(cmd[0]), timeout))
        if check and proc.returncode != 0:
            raise StepFailed('%s exited with status %d%s' % (_command_name(cmd), proc.returncode,
                                                             ' (no tests collected)' if 'pytest' in cmd and proc.returncode == 5 else ''))
        return proc.returncode

    def output(self):
        """Everything the current step has logged so far."""
        if self.current_log is None:
            return ''
        self.current_log.flush()
        return _read_text(self.current_log.name)

    def need_work_copy(self):
        if self.sync_error:
            raise StepFailed('work copy not available: %s' % self.sync_error)


def _quote(part):
    return part if re.match(r'^[\w./,=:@%+-]+$', part) else "'%s'" % part.replace("'", "'\\''")


def _command_name(cmd):
    """'ansible-test units' for ansible-test, 'pytest' for python -m pytest."""
    if len(cmd) > 2 and cmd[1] == '-m':
        return cmd[2]
    words = [os.path.basename(cmd[0])]
    if len(cmd) > 1 and not cmd[1].startswith('-') and '/' not in cmd[1]:
        words.append(cmd[1])
    return ' '.join(words)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _rel(path):
    return os.path.relpath(path, ROOT)


# ------------------------------------------------------------------------------------------------
# work copy
# ------------------------------------------------------------------------------------------------

class BuildLock:
    """Serialize runs that use build/ (other people run make test in the same checkout)."""

    def __init__(self, purpose, name='.lock'):
        self.purpose = purpose
        self.name = name
        self.handle = None

    def __enter__(self):
        import fcntl  # pylint: disable=import-outside-toplevel
        os.makedirs(BUILD, exist_ok=True)
        self.handle = open(os.path.join(BUILD, self.name), 'a+', encoding='utf-8')  # pylint: disable=consider-using-with
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or 'another run'
            print('waiting for %s to finish with build/ ...' % holder, flush=True)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write('%s (pid %d)\n' % (self.purpose, os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        import fcntl  # pylint: disable=import-outside-toplevel
        self.handle.truncate(0)
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _excluded(rel_path):
    parts = rel_path.split('/')
    if any(part in SYNC_EXCLUDE_DIRS for part in parts[:-1]) or parts[-1] in SYNC_EXCLUDE_DIRS:
        return True
    if any(rel_path == path or rel_path.startswith(path + '/') for path in SYNC_EXCLUDE_PATHS):
        return True
    return rel_path.endswith(SYNC_EXCLUDE_SUFFIXES)


def source_files():
    """Files of the checkout that belong in the work copy: tracked or untracked, minus what git ignores."""
    files = None
    if os.path.isdir(os.path.join(ROOT, '.git')) and shutil.which('git'):
        try:
            out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                                 cwd=ROOT, check=True, capture_output=True).stdout
            files = [name for name in out.decode('utf-8', 'surrogateescape').split('\0') if name]
        except (subprocess.CalledProcessError, OSError):
            files = None
    if files is None:
        files = []
        for dirpath, dirnames, filenames in os.walk(ROOT):
            rel_dir = os.path.relpath(dirpath, ROOT)
            rel_dir = '' if rel_dir == '.' else rel_dir + '/'
            dirnames[:] = [d for d in dirnames if not _excluded(rel_dir + d)]
            files.extend(rel_dir + f for f in filenames)
    return sorted(f for f in set(files) if not _excluded(f) and os.path.lexists(os.path.join(ROOT, f)))


def sync_work_copy(work=WORK):
    """Mirror the checkout into work (copy changed files, delete stale ones); return (copied, deleted)."""
    os.makedirs(work, exist_ok=True)
    wanted = set(source_files())
    copied = deleted = 0
    for rel in wanted:
        src = os.path.join(ROOT, rel)
        dst = os.path.join(work, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            target = os.readlink(src)
            if not (os.path.islink(dst) and os.readlink(dst) == target):
                _remove(dst)
                os.symlink(target, dst)
                copied += 1
            continue
        try:
            src_stat = os.stat(src)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(src_stat.st_mode):
            continue
        try:
            dst_stat = os.lstat(dst)
            same = (stat.S_ISREG(dst_stat.st_mode) and dst_stat.st_size == src_stat.st_size
                    and int(dst_stat.st_mtime) == int(src_stat.st_mtime) and dst_stat.st_mode == src_stat.st_mode)
        except FileNotFoundError:
            same = False
        if not same:
            _remove(dst)
            shutil.copy2(src, dst)
            copied += 1
    for dirpath, dirnames, filenames in os.walk(work, topdown=True):
        rel_dir = os.path.relpath(dirpath, work)
        rel_dir = '' if rel_dir == '.' else rel_dir + '/'
        dirnames[:] = [d for d in dirnames if (rel_dir + d) not in WORK_GENERATED and d not in ('__pycache__',)]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = rel_dir + name
            if rel not in wanted and rel not in WORK_GENERATED:
                _remove(os.path.join(work, rel))
                deleted += 1
    for dirpath, _dirnames, _filenames in os.walk(work, topdown=False):
        rel = os.path.relpath(dirpath, work)
        if rel != '.' and not os.listdir(dirpath) and not any(rel == g or rel.startswith(g + '/') for g in WORK_GENERATED):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    return copied, deleted


def _remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


# ------------------------------------------------------------------------------------------------
# steps
# ------------------------------------------------------------------------------------------------

def step_emulator(ctx):
    """pytest of the emulator's own suite (tests/emulator/tests)."""
    suite = os.path.join(ROOT, 'tests', 'emulator', 'tests')
    if not os.path.isdir(suite):
        raise StepFailed('tests/emulator/tests does not exist yet (the emulator test suite is not written)')
    ctx.run([ctx.tool('python'), '-m', 'pytest', 'tests/emulator/tests', '-q', '-p', 'no:cacheprovider'], cwd=ROOT)


def step_units(ctx):
    """ansible-test units (pytest, -n auto) in the work copy."""
    ctx.need_work_copy()
    unit_dir = os.path.join(WORK, 'tests', 'unit')
    if not _has_files(unit_dir, lambda n: n.startswith('test_') and n.endswith('.py')):
        raise StepFailed('tests/unit/ has no test_*.py files yet')
    if ctx.run([ctx.tool('ansible-test'), 'units', '--python', PYTHON_VERSION, '--local', '--color', 'no'], cwd=WORK, check=False):
        counts = collections.Counter()
        for summary in re.findall(r'^=+ (.*) in [\d.]+s =+$', ctx.output(), re.M):
            for number, kind in re.findall(r'(\d+) (failed|passed|errors?|skipped)', summary):
                counts['error' if kind.startswith('error') else kind] += int(number)
        detail = ', '.join('%d %s' % (counts[kind], kind) for kind in ('failed', 'error', 'passed', 'skipped') if counts[kind])
        raise StepFailed('ansible-test units failed' + (': %s' % detail if detail else ''))


def install_get_pip_stand_in(ctx):
    """ansible-test bootstraps pip in its sanity venvs with get-pip.py from a host we cannot reach.

    Write a stand-in in its cache: it installs pip from the standard library (ensurepip), then runs
    pip install with get-pip's arguments (pip.conf's mirrors apply; ansible-test drops PIP_* variables).
    """
    import ansible_test  # pylint: disable=import-outside-toplevel
    requirements_py = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
    with open(requirements_py, encoding='utf-8') as handle:
        match = re.search(r"pip='([0-9][0-9.]*)'", handle.read())
    if not match:
        raise StepFailed('cannot find the pip version ansible-test wants in %s' % requirements_py)
    version = match.group(1)
    path = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % version.replace('.', '_'))
    content = GET_PIP_STAND_IN % {'version': version}
    if os.path.exists(path):
        with open(path, encoding='utf-8', errors='replace') as handle:
            existing = handle.read()
        if existing == content:
            return path
        if 'defender.atp stand-in' not in existing:
            ctx.log('keeping the existing pip bootstrap script %s' % path)
            return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(content)
    ctx.log('wrote the offline pip bootstrap stand-in %s (pip %s)' % (path, version))
    return path


GET_PIP_STAND_IN = '''\
"""defender.atp stand-in for get-pip.py %(version)s, written by scripts/run_checks.py.

ansible-test runs this in each new sanity venv with get-pip's arguments. The real script comes from a
host this machine cannot reach, so: bootstrap pip from the standard library, then let pip install
the requested version (pip.conf's index and mirrors apply).
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
code = subprocess.call([sys.executable, '-m', 'ensurepip', '--default-pip'])
if code == 0:
    code = subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)
sys.exit(code)
'''


def step_sanity(ctx):
    """ansible-test sanity (every test, no ignore file) in the work copy."""
    ctx.need_work_copy()
    ignores = [name for name in _listdir(os.path.join(WORK, 'tests', 'sanity')) if name.startswith('ignore-')]
    non_empty = [name for name in ignores if os.path.getsize(os.path.join(WORK, 'tests', 'sanity', name))]
    install_get_pip_stand_in(ctx)
    if ctx.run([ctx.tool('ansible-test'), 'sanity', '--python', PYTHON_VERSION, '--local', '--color', 'no'], cwd=WORK, check=False):
        output = ctx.output()
        failed = re.search(r'^FATAL: The \d+ sanity test\(s\) listed below.*\n((?:[\w.-]+\n)+)', output, re.M)
        if failed:
            raise StepFailed('failed sanity tests: %s' % ', '.join(failed.group(1).split()))
        raise StepFailed('ansible-test sanity failed')
    if non_empty:
        raise StepFailed('sanity passed, but only thanks to ignore entries in tests/sanity/%s' % ', '.join(non_empty))


def integration_targets():
    targets_dir = os.path.join(WORK, 'tests', 'integration', 'targets')
    return [name for name in _listdir(targets_dir)
            if os.path.isdir(os.path.join(targets_dir, name)) and not name.startswith(('setup_', 'prepare_'))]


def step_integration(ctx):
    """Start the emulator, write integration_config.yml, run ansible-test integration -vvvv, keep the log."""
    ctx.need_work_copy()
    if not integration_targets():
        raise StepFailed('tests/integration/targets/ has no test targets yet (only setup_* ones)')
    if not os.path.isfile(os.path.join(ROOT, 'tests', 'emulator', 'run.py')):
        raise StepFailed('tests/emulator/run.py does not exist yet; integration needs the emulator')
    info = start_emulator(ctx, 'integration')
    config = os.path.join(WORK, 'tests', 'integration', 'integration_config.yml')
    write_vars_file(config, connection_vars(info))
    ctx.log('emulator at %s (pid %s); wrote %s' % (info['url'], info.get('pid'), _rel(config)))
    # One run at -vvvv: the step log (build/logs/integration.log) keeps all of it for no-secrets; the
    # terminal gets it without the per-task connection chatter.
    ctx.integration_log = os.path.join(LOGS, 'integration.log')
    ctx.integration_started = time.time()
    try:
        ctx.run([ctx.tool('ansible-test'), 'integration', '--python', PYTHON_VERSION, '--local', '--color', 'no', '-vvvv'],
                cwd=WORK, echo_filter=IntegrationEcho())
    finally:
        if 'no-secrets' not in ctx.selected or 'no-secrets' in ctx.args.skip:
            stop_emulator(ctx)
        else:
            ctx.log('emulator left running for the no-secrets step')


def start_emulator(ctx, purpose):
    stop_emulator(ctx)
    state_dir = os.path.join(EMULATOR_STATE, purpose)
    shutil.rmtree(state_dir, ignore_errors=True)
    request_log = os.path.join(LOGS, 'emulator-requests-%s.jsonl' % purpose)
    for path in (request_log, os.path.join(LOGS, 'emulator-%s.log' % purpose)):
        if os.path.exists(path):
            os.unlink(path)
    session = EmulatorSession(ROOT, state_dir, os.path.join(LOGS, 'emulator-%s.log' % purpose), port=0,
                              python=ctx.tool('python'), request_log=request_log)
    try:
        info = session.start()
    except EmulatorError as ex:
        raise StepFailed('emulator did not start: %s' % str(ex).replace(ROOT + os.sep, '')) from None
    ctx.emulator = session
    return info


def stop_emulator(ctx):
    if ctx.emulator is not None:
        code = ctx.emulator.stop()
        ctx.log('emulator stopped (status %s)' % code)
        ctx.emulator = None


def secret_leaves(data, path=''):
    """(kind, value) for every string leaf of the /_emulator/secrets answer; kind is its JSON path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from secret_leaves(value, '%s.%s' % (path, key) if path else str(key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from secret_leaves(value, '%s[%d]' % (path or 'secrets', index))
    elif isinstance(data, str):
        yield path, data


SECRET_KEYS = ('client_secret', 'limited_client_secret', 'other_client_secret', 'password', 'certificate_password')
JWT = re.compile(r'^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$')


def secret_kind(path, value, info):
    """What a secret is, for the report (the value itself is never printed)."""
    for key in SECRET_KEYS:
        if info.get(key) == value:
            return key
    if 'PRIVATE KEY' in value:
        return 'private key'
    if JWT.match(value):
        return 'token'
    if re.search(r'[A-Za-z_]', re.sub(r'\[\d+\]', '', path.replace('secrets', ''))):
        return re.sub(r'\[\d+\]', '[]', path)  # a named field of the answer
    return 'other secret'


def secret_needles(value):
    """Forms a secret may take in a log: as is, JSON-escaped, URL-encoded, and each long line of a PEM body."""
    needles = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=''), urllib.parse.quote_plus(value)}
    if '\n' in value:
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith('-----'):
                needles.add(line)
    return {needle for needle in needles if len(needle) >= 8}


def step_no_secrets(ctx):
    """Grep the -vvvv integration output and the emulator's request log for every secret the emulator knows."""
    try:
        integration = ctx.results.get('integration')
        if integration is None or integration.status == 'skipped':
            raise StepFailed('not checked: the integration step did not run')
        if ctx.emulator is None or not ctx.emulator.alive():
            if integration.status == 'failed' and not ctx.integration_log:
                raise StepFailed('not checked: integration failed before running (%s)' % integration.detail)
            raise StepFailed('not checked: the emulator of the integration step is no longer running')
        if not ctx.integration_log or not os.path.isfile(ctx.integration_log) or not os.path.getsize(ctx.integration_log):
            raise StepFailed('no integration output to check')
        ctx.emulator_info = ctx.emulator.info
        ctx.emulator_request_file = ctx.emulator.request_log
        try:
            secrets = ctx.emulator.get_json('/_emulator/secrets')
            requests_log = ctx.emulator.get_json('/_emulator/requests')
        except Exception as ex:  # pylint: disable=broad-except
            raise StepFailed('cannot read the emulator secrets/request log: %s' % ex) from None
    finally:
        stop_emulator(ctx)
    info = ctx.emulator_info or {}
    leaves = [(secret_kind(path, value, info), value) for path, value in secret_leaves(secrets) if len(value) >= 8]
    # The emulator also records credentials it was shown, such as the deliberately wrong ones of the
    # negative tests ("not-the-secret"). A value written verbatim in the targets is test data, not a secret.
    sources = _tree_text(os.path.join(WORK, 'tests', 'integration', 'targets'))
    test_data = [value for _kind, value in leaves if value in sources]
    if test_data:
        ctx.log('%d value(s) the emulator saw are written in tests/integration/targets/ (wrong credentials of negative '
                'tests): not treated as secrets' % len(test_data))
        leaves = [(kind, value) for kind, value in leaves if value not in sources]
    if not leaves:
        raise StepFailed('the emulator reported no secrets, so the check would prove nothing')
    haystacks = {'integration output': _read_text(ctx.integration_log),
                 'emulator request log': json.dumps(requests_log) + '\n' + json.dumps(requests_log, ensure_ascii=False)}
    if ctx.emulator_request_file and os.path.isfile(ctx.emulator_request_file):
        # the whole history: targets reset the in-memory log
        haystacks['emulator request log file'] = _read_text(ctx.emulator_request_file)
    junit_dir = os.path.join(WORK, 'tests', 'output', 'junit')
    for name in _listdir(junit_dir):
        if os.path.getmtime(os.path.join(junit_dir, name)) < ctx.integration_started - 1:
            continue  # an earlier run's report
        haystacks['junit %s' % name] = _read_text(os.path.join(junit_dir, name))
    kinds = collections.Counter(kind for kind, _value in leaves)
    ctx.log('checking %d secrets (%s) against: %s' % (len(leaves), ', '.join('%s x%d' % item for item in sorted(kinds.items())),
                                                      ', '.join(sorted(haystacks))))
    leaks = {}
    for kind, value in leaves:
        needles = secret_needles(value)
        for where, text in haystacks.items():
            positions = [text.find(needle) for needle in needles if needle in text]
            if positions:
                leaks.setdefault(kind, set()).add(where)
                # where to look, never the value: its length, a hash prefix, and the line of the first hit
                line = text.count('\n', 0, min(positions)) + 1
                ctx.log('LEAK: %s (%d chars, sha256 %s...) in %s, line %d'
                        % (kind, len(value), hashlib.sha256(value.encode('utf-8')).hexdigest()[:12], where, line))
    if leaks:
        raise StepFailed('secrets leaked: %s' % ', '.join(sorted(leaks)))
    ctx.log('no secret found in %d bytes of output' % sum(len(text) for text in haystacks.values()))


def step_reliability(ctx):
    """pytest tests/reliability in the work copy: faults, security, bad input and a 12 s load run, through ansible-playbook."""
    ctx.need_work_copy()
    suite = os.path.join(WORK, 'tests', 'reliability')
    if not _has_files(suite, lambda n: n.startswith('test_') and n.endswith('.py')):
        raise StepFailed('tests/reliability/ has no test_*.py files yet')
    report_dir = os.path.join(LOGS, 'reliability')
    shutil.rmtree(report_dir, ignore_errors=True)
    os.makedirs(report_dir)
    # The playbooks run the work copy's collection (ANSIBLE_COLLECTIONS_PATH), as ansible-test does; unlike
    # ansible-test, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE stay as the user has them. Artifacts of the last run (playbooks,
    # -vvvv logs, task results) stay in build/reliability.
    env = ctx.env(collections=True, RELIABILITY_REPORT_DIR=report_dir)
    code = ctx.run([ctx.tool('python'), '-m', 'pytest', 'tests/reliability', '-q', '-p', 'no:cacheprovider', '-rfE',
                    '--durations=8', '--basetemp', os.path.join(BUILD, 'reliability')], cwd=WORK, env=env, check=False)
    counts = collections.Counter()
    for summary in re.findall(r'^=* ?(\d+ (?:failed|passed|errors?|skipped|warnings?|deselected).*) in [\d.]+s(?: \([\d:]+\))?(?: =+)?$',
                              ctx.output(), re.M):
        for number, kind in re.findall(r'(\d+) (failed|passed|errors?|skipped)', summary):
            counts['error' if kind.startswith('error') else kind] += int(number)
    detail = ', '.join('%d %s' % (counts[kind], kind) for kind in ('failed', 'error', 'passed', 'skipped') if counts[kind])
    load = os.path.join(report_dir, 'load.json')
    if os.path.isfile(load):
        with open(load, encoding='utf-8') as handle:
            figures = json.load(handle)
        ctx.log(_read_text(os.path.join(report_dir, 'load.md')))
        detail += '; load (%d forks, %.0f s): %d module runs, %d failed, %s req/s, %d/%d requests accounted' % (
            figures['forks'], figures['duration'], figures['module_runs'], figures['failed_runs'],
            figures['requests_per_second'], figures['requests_reported'], figures['requests_logged'])
    if code:
        raise StepFailed('pytest tests/reliability %s' % (
            'found no tests' if code == 5 else 'failed' + (': %s' % detail if detail else ' (status %d)' % code)))
    return detail


def step_molecule(ctx):
    """molecule test --all from the repository root (scenarios in extensions/molecule/)."""
    ctx.need_work_copy()
    scenarios_dir = os.path.join(ROOT, 'extensions', 'molecule')
    scenarios = [name for name in _listdir(scenarios_dir)
                 if os.path.isfile(os.path.join(scenarios_dir, name, 'molecule.yml'))]
    if not scenarios:
        raise StepFailed('extensions/molecule/ has no scenario (<name>/molecule.yml) yet')
    # Scenarios start their own emulator (extensions/molecule/resources/create.yml); defender.atp
    # resolves from the work copy through ANSIBLE_COLLECTIONS_PATH.
    ctx.run([ctx.tool('molecule'), 'test', '--all'], cwd=ROOT, env=ctx.env(collections=True))


def step_lint(ctx):
    """ansible-lint --profile production (offline; .ansible-lint), defender.atp resolved from the work copy."""
    ctx.need_work_copy()
    ctx.run([ctx.tool('ansible-lint'), '--profile', 'production'], cwd=ROOT, env=ctx.env(collections=True))


def step_changelog(ctx):
    """antsibull-changelog lint (fragments) and lint-changelog-yaml (changelogs/changelog.yaml)."""
    ctx.need_work_copy()
    if not os.path.isfile(os.path.join(WORK, 'changelogs', 'config.yaml')):
        raise StepFailed('changelogs/config.yaml does not exist')
    failures = []
    if ctx.run([ctx.tool('antsibull-changelog'), 'lint'], cwd=WORK, check=False):
        failures.append('fragments')
    changelog_yaml = os.path.join(WORK, 'changelogs', 'changelog.yaml')
    if not os.path.isfile(changelog_yaml):
        failures.append('changelogs/changelog.yaml missing')
    elif ctx.run([ctx.tool('antsibull-changelog'), 'lint-changelog-yaml', 'changelogs/changelog.yaml'], cwd=WORK, check=False):
        failures.append('changelog.yaml')
    if failures:
        raise StepFailed('antsibull-changelog lint failed: %s' % ', '.join(failures))


def documented_plugins():
    """(type, fqcn) of every plugin with documentation in the work copy, and every role."""
    found = []
    plugins_dir = os.path.join(WORK, 'plugins')
    for directory, plugin_type in sorted(DOC_PLUGIN_TYPES.items()):
        if plugin_type in ('filter', 'test'):
            continue  # one file may hold several; listed through ansible-doc below
        for entry in sorted(_listdir(os.path.join(plugins_dir, directory))):
            base, ext = os.path.splitext(entry)
            if ext == '.py' and not base.startswith('_'):
                found.append((plugin_type, '%s.%s.%s' % (NAMESPACE, NAME, base)))
    for entry in sorted(_listdir(os.path.join(WORK, 'roles'))):
        if os.path.isdir(os.path.join(WORK, 'roles', entry)):
            found.append(('role', '%s.%s.%s' % (NAMESPACE, NAME, entry)))
    return found


def step_docs(ctx):
    """antsibull-docs lint-collection-docs --plugin-docs, then ansible-doc of every plugin and role."""
    ctx.need_work_copy()
    env = ctx.env(collections=True)
    failures = []
    if ctx.run([ctx.tool('antsibull-docs'), 'lint-collection-docs', '--plugin-docs', '.'], cwd=WORK, env=env, check=False):
        failures.append('antsibull-docs lint-collection-docs')
    items = documented_plugins()
    for plugin_type in ('filter', 'test'):
        if _listdir(os.path.join(WORK, 'plugins', plugin_type)):
            out = subprocess.run([ctx.tool('ansible-doc'), '-t', plugin_type, '--list', '--json', '%s.%s' % (NAMESPACE, NAME)],
                                 cwd=WORK, env=env, capture_output=True, text=True, check=False)
            try:
                items.extend((plugin_type, name) for name in sorted(json.loads(out.stdout or '{}')))
            except ValueError:
                failures.append('ansible-doc --list -t %s' % plugin_type)
    if not any(kind == 'module' for kind, _name in items):
        failures.append('no module in plugins/modules/ to document')

    def render(item):
        plugin_type, fqcn = item
        proc = subprocess.run([ctx.tool('ansible-doc'), '-t', plugin_type, fqcn], cwd=WORK, env=env,
                              capture_output=True, text=True, check=False)
        return item, proc

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for (plugin_type, fqcn), proc in pool.map(render, items):
            if proc.returncode != 0 or not proc.stdout.strip():
                ctx.log('FAILED  ansible-doc -t %s %s (status %d)' % (plugin_type, fqcn, proc.returncode))
                for line in (proc.stderr.strip() or proc.stdout.strip() or '(no output)').splitlines()[-15:]:
                    ctx.log('    ' + line)
                hint = ''
                if plugin_type == 'role' and not os.path.isfile(os.path.join(WORK, 'roles', fqcn.rsplit('.', 1)[1], 'meta', 'argument_specs.yml')):
                    hint = ' (no meta/argument_specs.yml)'
                failures.append('ansible-doc -t %s %s%s' % (plugin_type, fqcn, hint))
            else:
                ctx.log('ok      ansible-doc -t %s %s (%d lines)' % (plugin_type, fqcn, len(proc.stdout.splitlines())))
    if failures:
        raise StepFailed('; '.join(failures))


def step_build(ctx):
    """ansible-galaxy collection build of the work copy into build/, then check what the tarball holds."""
    ctx.need_work_copy()
    galaxy = _read_text(os.path.join(WORK, 'galaxy.yml'))
    version = re.search(r'^version:\s*["\']?([^"\'\s]+)', galaxy, re.M)
    if not version:
        raise StepFailed('galaxy.yml has no version')
    tarball = os.path.join(BUILD, '%s-%s-%s.tar.gz' % (NAMESPACE, NAME, version.group(1)))
    if os.path.exists(tarball):
        os.unlink(tarball)
    ctx.run([ctx.tool('ansible-galaxy'), 'collection', 'build', WORK, '--output-path', BUILD, '--force'], cwd=ROOT)
    if not os.path.isfile(tarball):
        raise StepFailed('ansible-galaxy did not write %s' % _rel(tarball))
    with tarfile.open(tarball) as archive:
        names = [member.name.lstrip('./') for member in archive.getmembers()]
    problems = []
    readme = re.search(r'^readme:\s*["\']?([^"\'\s]+)', galaxy, re.M)
    for required in ('MANIFEST.json', 'FILES.json', 'meta/runtime.yml', 'LICENSE') + ((readme.group(1),) if readme else ()):
        if required not in names:
            problems.append('%s missing' % required)
    if not any(name.startswith('plugins/') for name in names):
        problems.append('plugins/ missing')
    for name in names:
        parts = name.split('/')
        for forbidden in FORBIDDEN_IN_TARBALL:
            if name == forbidden or name.startswith(forbidden + '/') or forbidden in parts or name.endswith('.pyc'):
                problems.append('must not contain %s' % name)
                break
    size = os.path.getsize(tarball)
    ctx.log('%s: %d entries, %d bytes' % (_rel(tarball), len(names), size))
    if problems:
        for problem in problems[:50]:
            ctx.log('  ' + problem)
        raise StepFailed('tarball content is wrong: %d problem(s), first: %s' % (len(problems), problems[0]))


STEPS = [
    ('emulator', step_emulator),
    ('units', step_units),
    ('sanity', step_sanity),
    ('integration', step_integration),
    ('no-secrets', step_no_secrets),
    ('reliability', step_reliability),
    ('molecule', step_molecule),
    ('lint', step_lint),
    ('changelog', step_changelog),
    ('docs', step_docs),
    ('build', step_build),
]
STEP_NAMES = [name for name, _func in STEPS]


# ------------------------------------------------------------------------------------------------
# helpers and main
# ------------------------------------------------------------------------------------------------

def _listdir(path):
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _has_files(path, predicate):
    for _dirpath, _dirnames, filenames in os.walk(path):
        if any(predicate(name) for name in filenames):
            return True
    return False


def _tree_text(path):
    """The text of every file under path, concatenated (binary files decode with replacement characters)."""
    chunks = []
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                chunks.append(_read_text(os.path.join(dirpath, name)))
            except OSError:
                pass
    return '\n'.join(chunks)


def _read_text(path):
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def _names(value):
    names = [item.strip() for item in (value or '').replace(' ', ',').split(',') if item.strip()]
    unknown = [name for name in names if name not in STEP_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError('unknown step(s): %s (steps: %s)' % (', '.join(unknown), ', '.join(STEP_NAMES)))
    return names


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='steps, in order:\n' + '\n'.join(
                                         '  %-12s %s' % (name, (func.__doc__ or '').strip().splitlines()[0]) for name, func in STEPS))
    parser.add_argument('--steps', type=_names, default=None, help='comma-separated steps to run (default: all)')
    parser.add_argument('--skip', type=_names, default=[], help='comma-separated steps to report as skipped')
    parser.add_argument('--list', action='store_true', help='list the steps and exit')
    parser.add_argument('--timeout', type=int, default=int(os.environ.get('CHECK_STEP_TIMEOUT', '3600')),
                        help='seconds one command may run (default 3600, env CHECK_STEP_TIMEOUT)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for name, func in STEPS:
            print('%-12s %s' % (name, (func.__doc__ or '').strip().splitlines()[0]))
        return 0
    with BuildLock('scripts/run_checks.py'):
        return run(args)


def run(args):
    ctx = Context(args)
    selected = args.steps or list(STEP_NAMES)
    if 'no-secrets' in selected and 'integration' not in selected and 'no-secrets' not in args.skip:
        print('note: no-secrets checks the output of the integration step, so integration runs too')
        selected.append('integration')
    ctx.selected = [name for name in STEP_NAMES if name in selected]
    os.makedirs(LOGS, exist_ok=True)

    def on_signal(signum, _frame):
        if ctx.current_proc is not None:
            _kill_group(ctx.current_proc)
        stop_emulator(ctx)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    run_started = time.monotonic()
    needs_work_copy = any(name not in ('emulator',) and name not in args.skip for name in ctx.selected)
    if needs_work_copy:
        started = time.monotonic()
        try:
            copied, deleted = sync_work_copy()
            print('==> work copy %s: %d file(s) copied, %d removed (%.1f s)'
                  % (_rel(WORK), copied, deleted, time.monotonic() - started), flush=True)
        except OSError as ex:
            ctx.sync_error = str(ex)
            print('==> work copy sync failed: %s' % ex, flush=True)

    results = []
    funcs = dict(STEPS)
    try:
        for name in ctx.selected:
            if name in args.skip:
                results.append(Result(name, 'skipped', 0.0, 'skipped by --skip'))
                ctx.results[name] = results[-1]
                continue
            print('\n==> [%s] %s' % (name, (funcs[name].__doc__ or '').strip().splitlines()[0]), flush=True)
            started = time.monotonic()
            log_path = os.path.join(LOGS, '%s.log' % name)
            with open(log_path, 'wb') as ctx.current_log:
                try:
                    detail = funcs[name](ctx)  # a step may return a one-line account of what it found
                    result = Result(name, 'passed', detail=detail or '')
                except StepFailed as ex:
                    result = Result(name, 'failed', detail=str(ex))
                except Exception as ex:  # pylint: disable=broad-except
                    result = Result(name, 'failed', detail='internal error: %s: %s' % (type(ex).__name__, ex))
                    import traceback  # pylint: disable=import-outside-toplevel
                    ctx.log(traceback.format_exc())
                result.seconds = time.monotonic() - started
                if result.status == 'failed':
                    ctx.log('==> [%s] FAILED: %s' % (name, result.detail))
                else:
                    ctx.log('==> [%s] passed' % name)
            ctx.current_log = None
            print('==> [%s] %s in %.1f s (log: %s)' % (name, result.status, result.seconds, _rel(log_path)), flush=True)
            results.append(result)
            ctx.results[name] = result
    except KeyboardInterrupt:
        print('\ninterrupted', flush=True)
        results.append(Result('(interrupted)', 'failed', 0.0, 'interrupted by the user'))
    finally:
        stop_emulator(ctx)

    passed = sum(1 for r in results if r.status == 'passed')
    failed = sum(1 for r in results if r.status == 'failed')
    width = max([len(r.name) for r in results] + [4])
    print('\n' + f"{'step':<{width}}  {'result':<7}  {'seconds':>8}  detail")
    for r in results:
        print(f'{r.name:<{width}}  {r.status:<7}  {r.seconds:>8.1f}  {r.detail}'.rstrip())
    print(f"{'total':<{width}}  {'':<7}  {time.monotonic() - run_started:>8.1f}")
    print('%d passed, %d failed' % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
