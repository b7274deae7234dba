# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nox sessions of defender.atp need that no tool does (noxfile.py imports it; make test runs ``report``).

- ``pins``: the exact versions of requirements-dev.txt, so each nox session installs the same versions as .venv.
- ``install_get_pip_stand_in``: ansible-test bootstraps pip in each venv it creates (``--venv``, and every sanity
  test's own venv) with a get-pip.py downloaded from ci-files.testing.ansible.com, which our machines and CI cannot
  reach. ansible-test reads that script from its cache first (~/.ansible/test/cache/get_pip_<version>.py, the
  workaround ansible-test's maintainers give in ansible/ansible#77304). The stand-in written there bootstraps pip
  from the standard library (ensurepip), then installs the pip version asked for from the configured index
  (pip.conf is honoured; ansible-test drops PIP_* variables).
- ``write_vars_file``: the emulator's address and credentials as a 0600 YAML vars file (no-secrets, make demo).
- ``python_interpreter``: the Python X.Y a session runs on, as nox should be given it: pyenv installs that are not
  exposed on PATH (``python3.12`` is a shim that refuses to run until PYENV_VERSION names 3.12) are found by path,
  so a fresh clone runs ``make test`` with nothing set.
- ``core_venv``: one venv per ansible-core release and interpreter on this machine, shared by every ansible-test
  session of that release in every checkout (a fresh clone builds none of them again).
- ``refresh_copy`` / ``locked``: the copy of the checkout at ``.../ansible_collections/defender/atp`` that ansible-test
  needs, kept at a fixed place per session so that ansible-test's ``--venv`` environment inside it
  (``tests/output/.tmp/delegation``, the pip, ansible-core and test requirements it installs) is reused by the next
  run instead of being built again; a lock keeps two runs of one session from sharing it at the same time.
- ``plan_lanes`` / ``run``: ``make test`` runs the selected sessions in two nox processes side by side (two cores;
  the integration targets mostly wait on the emulator), split by the durations of the last run; the sanity
  sessions stay in one lane (they share ansible-test's sanity venvs under ~/.ansible/test/venv, which two
  processes must not build at once).
- ``summarize`` / ``main``: turn nox's JSON report (``nox --report FILE``) into a table, slowest first, with the
  total time, a WARNING line when a run that has a budget overran it, and a last line ``N passed, M failed``;
  exit status 1 when a session did not pass.

Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

STAND_IN_MARK = 'defender.atp stand-in'

GET_PIP_STAND_IN = '''\
"""%(mark)s for get-pip.py %(version)s (written by scripts/noxsupport.py of defender.atp).

ansible-test runs this in each new venv with get-pip's arguments. The real script comes from a host this
machine cannot reach, so: bootstrap pip from the standard library, then let pip install the requested
version (pip.conf's index and mirrors apply).
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
code = subprocess.call([sys.executable, '-m', 'ensurepip', '--default-pip'])
if code == 0:
    code = subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)
sys.exit(code)
'''


def pins(path):
    """{normalized name: 'name==version'} of the ``name==version`` lines of a requirements file."""
    found = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            match = re.match(r'^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$', line)
            if match:
                found[normalize(match.group(1))] = line
    return found


def normalize(name):
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def ansible_test_pip_version(ansible_test_dir):
    """The pip version ansible-test bootstraps (the ``pip='X.Y'`` pin of _internal/python_requirements.py)."""
    with open(os.path.join(ansible_test_dir, '_internal', 'python_requirements.py'), encoding='utf-8') as handle:
        match = re.search(r"pip='([0-9][0-9.]*)'", handle.read())
    if not match:
        raise ValueError('no pip version pin in %s/_internal/python_requirements.py' % ansible_test_dir)
    return match.group(1)


def install_get_pip_stand_in(ansible_test_dir, cache_dir=None):
    """Write the stand-in for the pip version this ansible-test wants; return (path, what was done).

    A script already there that is not ours (a real get-pip.py someone downloaded) is kept.
    """
    version = ansible_test_pip_version(ansible_test_dir)
    cache_dir = cache_dir or os.path.expanduser('~/.ansible/test/cache')
    path = os.path.join(cache_dir, 'get_pip_%s.py' % version.replace('.', '_'))
    content = GET_PIP_STAND_IN % {'mark': STAND_IN_MARK, 'version': version}
    if os.path.exists(path):
        with open(path, encoding='utf-8', errors='replace') as handle:
            existing = handle.read()
        if existing == content:
            return path, 'present'
        if STAND_IN_MARK not in existing:
            return path, 'kept (not ours)'
    os.makedirs(cache_dir, exist_ok=True)
    temporary = path + '.%d.tmp' % os.getpid()
    with open(temporary, 'w', encoding='utf-8') as handle:
        handle.write(content)
    os.replace(temporary, path)  # sessions may run side by side: never leave a half-written script
    return path, 'written'


def write_vars_file(path, variables, writer='scripts/noxsupport.py'):
    """Variables as YAML (JSON values are YAML), readable by the owner only: they hold the emulator's secrets."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write('---\n# Written by %s from the emulator start-up JSON; holds secrets, do not commit.\n' % writer)
        for key in sorted(variables):
            handle.write('%s: %s\n' % (key, json.dumps(variables[key])))
    os.chmod(path, 0o600)


def _version_key(text):
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r'[.]', text))


def runs(executable):
    """Whether ``executable`` starts (pyenv shims of versions not selected do not)."""
    try:
        return subprocess.run([executable, '-c', ''], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def python_interpreter(version, path=None, pyenv_root=None, starts=runs):
    """The interpreter of Python ``version`` (``X.Y``) to give nox.

    ``X.Y`` itself when a ``pythonX.Y`` on PATH runs (nox finds it there). Otherwise the newest pyenv install of
    ``X.Y`` that runs, by its path (``$PYENV_ROOT/versions/X.Y.Z/bin/pythonX.Y``): pyenv puts a ``pythonX.Y`` shim
    on PATH for every installed version, but the shim refuses to run a version that PYENV_VERSION or the global
    version does not name. When neither exists, ``X.Y``: nox then reports the interpreter missing.
    """
    found = shutil.which('python' + version, path=path)
    if found and starts(found):
        return version
    root = pyenv_root or os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    versions = os.path.join(root, 'versions')
    try:
        names = os.listdir(versions)
    except OSError:
        names = []
    candidates = [name for name in names if re.match(r'^%s\.[0-9]+$' % re.escape(version), name)]
    for name in sorted(candidates, key=_version_key, reverse=True):
        executable = os.path.join(versions, name, 'bin', 'python' + version)
        if os.path.isfile(executable) and starts(executable):
            return executable
    return version


def checkout_files(root):
    """The checkout's files, relative to ``root``: git's tracked and untracked-but-not-ignored files in a git
    checkout (what antsibull-nox copies too), else every file but .git, .nox and .venv."""
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                             capture_output=True, check=True).stdout
        return [name for name in out.decode('utf-8', 'surrogateescape').split('\0')
                if name and os.path.lexists(os.path.join(root, name))]
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name not in ('.git', '.nox', '.venv')]
        found.extend(os.path.relpath(os.path.join(directory, name), root) for name in files)
    return found


def refresh_copy(root, dest, keep=('tests', 'output', '.tmp', 'delegation')):
    """Make ``dest`` a fresh copy of the checkout at ``root``, except for the directory ``keep`` (relative to
    ``dest``), which survives from the last copy: ansible-test's ``--venv`` environment lives there."""
    kept_from = os.path.join(dest, *keep)
    parked = dest.rstrip(os.sep) + '.kept'
    shutil.rmtree(parked, ignore_errors=True)
    if os.path.isdir(kept_from) and not os.path.islink(kept_from):
        os.replace(kept_from, parked)
    shutil.rmtree(dest, ignore_errors=True)
    for name in checkout_files(root):
        source, target = os.path.join(root, name), os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    if os.path.isdir(parked):
        os.makedirs(os.path.dirname(kept_from), exist_ok=True)
        os.replace(parked, kept_from)
    return dest


def private_directory(path):
    """Create ``path`` (mode 0700) or check it: a real directory, owned by this user, closed to group and others.
    Anything else (a symlink, another user's directory in a shared temp dir) is refused with RuntimeError."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    import stat  # pylint: disable=import-outside-toplevel
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError('%s is not a private directory of this user (a symlink, another owner, or open to others):'
                           ' remove it, or set TMPDIR to a directory of your own' % path)
    return path


def work_place(*key):
    """The directory of ``key`` (for example a session name, its ansible-core version and interpreter).

    It is the same for every checkout on this machine, so a fresh clone finds what the last run left there; it lies
    outside any checkout (a copy inside a git checkout is listed by the outer repository), in a directory private to
    this user, and its path is short (venv paths end up in script shebangs, at most 127 characters on Linux).
    """
    base = private_directory(os.path.join(tempfile.gettempdir(), 'defender-atp-%d' % os.getuid()))
    return os.path.join(base, hashlib.sha256('\0'.join(key).encode('utf-8')).hexdigest()[:12])


CORE_STAMP = '.defender-atp-installed'


def _build_core_venv(place, interpreter, version):
    subprocess.run([interpreter, '-m', 'venv', place], check=True, stdin=subprocess.DEVNULL)
    subprocess.run([os.path.join(place, 'bin', 'python'), '-m', 'pip', 'install', '--disable-pip-version-check', '-q',
                    'ansible-core==%s' % version], check=True, stdin=subprocess.DEVNULL)


def core_venv(version, interpreter, log=None, build=_build_core_venv, starts=runs):
    """The directory of a venv on ``interpreter`` holding ansible-core ``version`` and nothing else, built once per
    machine (a work_place of this user) and shared by every ansible-test session of that release and every checkout.

    A nox venv lives in its checkout's .nox, so a fresh clone built one per ansible-test session and installed
    ansible-core into it (~10 s each, 14 sessions), and a rerun still asked pip to check it (~3 s each). The stamp
    file, written last, names what was installed: a venv without it (a build that stopped half-way) or with another
    one is built again; a lock keeps two runs from building it at once. Nothing writes to it once built.
    """
    interpreter = os.path.realpath(shutil.which(interpreter) or interpreter)
    place = work_place('ansible-core', version, interpreter)
    stamp = os.path.join(place, CORE_STAMP)
    want = 'ansible-core==%s on %s\n' % (version, interpreter)

    def ready():
        try:
            with open(stamp, encoding='utf-8') as handle:
                if handle.read() != want:
                    return False
        except OSError:
            return False
        return starts(os.path.join(place, 'bin', 'python'))

    if ready():
        return place
    with locked(place + '.lock', log=log):
        if not ready():
            if log:
                log('building the ansible-core %s venv at %s' % (version, place))
            shutil.rmtree(place, ignore_errors=True)
            build(place, interpreter, version)
            temporary = stamp + '.%d.tmp' % os.getpid()
            with open(temporary, 'w', encoding='utf-8') as handle:
                handle.write(want)
            os.replace(temporary, stamp)
    return place


@contextlib.contextmanager
def locked(path, log=None):
    """Hold an exclusive lock on ``path`` (created) for the duration; say so when another process holds it."""
    import fcntl  # POSIX; the only platform ansible-test runs on
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a', encoding='utf-8') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if log:
                log('waiting for another run that holds %s' % path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- make test: lanes ---------------------------------------------------------------------------------------------------
# Seconds per session on an idle 2-core machine with warm caches (the testing guide's "Where the time goes"), for a
# first run; later runs plan with the durations of the last report. First match wins.
ESTIMATES = [
    (r'^ansible-test-integration-smoke-', 100),
    (r'^ansible-test-integration-', 420),
    (r'^no-secrets$', 420),
    (r'^ansible-test-units-', 150),
    (r'^ansible-test-sanity-2\.(16|21)$', 150),
    (r'^ansible-test-sanity-', 70),
    (r'^reliability$', 240),
    (r'^(molecule|ansible-lint|build-import-check|emulator)$', 60),
    (r'', 30),
]
META_SESSION = re.compile(r'^Meta session for triggering the following sessions: (.+)$')


def estimate(name, durations):
    if durations.get(name):
        return float(durations[name])
    for pattern, seconds in ESTIMATES:
        if re.search(pattern, name):
            return float(seconds)
    return 30.0


def meta_members(description):
    """The sessions an antsibull-nox meta session triggers, from its description ('a, b, and c')."""
    match = META_SESSION.match(description or '')
    if not match:
        return []
    return [part.strip() for part in re.split(r',\s*(?:and\s+)?|\s+and\s+', match.group(1).rstrip('.')) if part.strip()]


def session_name(entry):
    """The name nox's -e takes for an entry of nox --list --json."""
    return str(entry.get('name') or entry['session'])


def plan_lanes(sessions, durations, lanes):
    """Split ``sessions`` (nox's --list --json entries, in nox's order) into ``lanes`` lists of session names.

    Units that must share a lane: every session tagged ``sanity`` (one group), and a meta session with the sessions
    it triggers (else the other lane would run them a second time). Longest unit first, each to the lane that ends
    first; each lane keeps nox's order.
    """
    names = [session_name(entry) for entry in sessions]
    order = {name: index for index, name in enumerate(names)}
    unit_of = {}
    units = []
    for entry in sessions:
        name = session_name(entry)
        if name in unit_of:
            continue
        if 'sanity' in (entry.get('tags') or []):
            key = 'sanity'
        else:
            key = name
        unit = next((u for u in units if u['key'] == key), None)
        if unit is None:
            unit = {'key': key, 'names': []}
            units.append(unit)
        unit['names'].append(name)
        unit_of[name] = unit
        for member in meta_members(entry.get('description')):
            if member in order and member not in unit_of:
                unit['names'].append(member)
                unit_of[member] = unit
    for unit in units:
        unit['seconds'] = sum(estimate(name, durations) for name in unit['names'])
    lanes = max(1, min(lanes, len(units)))
    plan = [{'seconds': 0.0, 'names': []} for _lane in range(lanes)]
    for unit in sorted(units, key=lambda u: (-u['seconds'], order[u['names'][0]])):
        lane = min(plan, key=lambda item: item['seconds'])
        lane['seconds'] += unit['seconds']
        lane['names'].extend(unit['names'])
    return [sorted(lane['names'], key=order.get) for lane in plan if lane['names']]


def last_durations(path):
    """{session: seconds} of an earlier report, or {}."""
    try:
        with open(path, encoding='utf-8') as handle:
            report = json.load(handle)
        return {str(e['name']): float(e.get('duration') or 0) for e in report.get('sessions') or [] if e.get('name')}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
SESSION_STARTS = re.compile(r'^nox > Running session (\S+)')
SESSION_ENDS = re.compile(r'^nox > Session (\S+) (?:was successful|failed|aborted|skipped|was skipped)')


def process_cpu_seconds(pid):
    """CPU seconds of a live process and of every child it has waited for (Linux /proc/PID/stat: utime, stime, cutime,
    cstime), or None where that cannot be read."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / float(os.sysconf('SC_CLK_TCK'))
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """The CPU seconds of each session of one nox process, read as its output names them.

    Between ``nox > Running session NAME`` and the line that ends it, the nox process's own CPU and that of the
    commands it waited for (their children's too, when they waited for them) are the session's. A process that left its
    parent behind (the emulator that ``launch.py start`` starts, for one) is not counted: this is a floor, not all of it.
    """

    def __init__(self, pid, read=process_cpu_seconds):
        self.pid, self.read = pid, read
        self.seconds = {}
        self._current = self._started = None

    def line(self, raw):
        text = ANSI_ESCAPE.sub('', raw.decode('utf-8', 'replace')).strip()
        started = SESSION_STARTS.match(text)
        if started:
            self._close()
            self._current, self._started = started.group(1), self.read(self.pid)
            return
        ended = SESSION_ENDS.match(text)
        if ended and ended.group(1) == self._current:
            self._close()

    def _close(self):
        if self._current is not None:
            now = self.read(self.pid)
            if now is not None and self._started is not None:
                self.seconds[self._current] = self.seconds.get(self._current, 0.0) + max(0.0, now - self._started)
        self._current = self._started = None


def _pump(stream, prefix, log, lock, meter=None):
    for line in iter(stream.readline, b''):
        if meter is not None:
            meter.line(line)
        log.write(line)
        log.flush()
        with lock:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()
    stream.close()


def run_lanes(nox, lanes, report_dir, nox_args=(), env=None, meters=None):
    """Run one nox process per lane side by side; return [(lane report path, exit status)]. With ``meters`` (a list),
    a CpuMeter per lane is appended to it (the CPU seconds of each session)."""
    lock = threading.Lock()
    running = []
    for number, names in enumerate(lanes, 1):
        report = os.path.join(report_dir, 'nox-report-lane%d.json' % number)
        log_path = os.path.join(report_dir, 'nox-lane%d.log' % number)
        if os.path.exists(report):
            os.unlink(report)
        cmd = [nox, '--report', report] + list(nox_args) + ['-e'] + list(names)
        prefix = ('[%d] ' % number).encode() if len(lanes) > 1 else b''
        print('lane %d: %s' % (number, ' '.join(names)), flush=True)
        # closed when the lane's process has ended (below)
        log = open(log_path, 'wb')  # pylint: disable=consider-using-with
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env)
        meter = CpuMeter(process.pid)
        if meters is not None:
            meters.append(meter)
        pump = threading.Thread(target=_pump, args=(process.stdout, prefix, log, lock, meter), daemon=True)
        pump.start()
        running.append((report, process, pump, log))
    results = []
    try:
        for report, process, pump, log in running:
            # The output first, then the exit status: until it is waited for, the ended process can still be read in
            # /proc, so the CPU of its last session is measured.
            pump.join()
            status = process.wait()
            log.close()
            results.append((report, status))
    except KeyboardInterrupt:
        for _report, process, _pump_thread, _log in running:
            if process.poll() is None:
                process.terminate()
        raise
    return results


def merge_reports(paths, cpu=None):
    """One report from the lanes' reports (their sessions, in lane order); lanes with no report are left out.
    ``cpu``: per lane, {session: CPU seconds}, kept as each entry's ``cpu_seconds``."""
    merged = {'sessions': []}
    for number, path in enumerate(paths):
        seconds = cpu[number] if cpu and number < len(cpu) else {}
        try:
            with open(path, encoding='utf-8') as handle:
                report = json.load(handle)
        except (OSError, ValueError):
            continue
        for entry in report.get('sessions') or []:
            entry = dict(entry)
            entry.setdefault('lane', os.path.basename(path))
            if entry.get('name') in seconds:
                entry['cpu_seconds'] = round(seconds[entry['name']], 1)
            merged['sessions'].append(entry)
    return merged


def list_sessions(nox, nox_args=(), env=None):
    out = subprocess.run([nox, '--list', '--json'] + list(nox_args), capture_output=True, check=True, env=env).stdout
    return json.loads(out.decode('utf-8').strip() or '[]')


def run_main(args):
    started = time.monotonic()
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    selection = []
    if args.session:
        selection += ['-e'] + args.session
    if args.tag:
        selection += ['-t'] + args.tag
    try:
        sessions = list_sessions(args.nox, selection)
    except (OSError, subprocess.CalledProcessError, ValueError) as ex:
        print('nox could not list the sessions (%s)' % ex)
        print('0 passed, 1 failed')
        return 1
    if not sessions:
        print('no session ran (is the session name right? nox --list shows them)')
        print('0 passed, 1 failed')
        return 1
    lanes = plan_lanes(sessions, last_durations(args.report), args.jobs)
    meters = []
    results = run_lanes(args.nox, lanes, os.path.dirname(os.path.abspath(args.report)), args.nox_arg or (), meters=meters)
    merged = merge_reports([path for path, _status in results], cpu=[meter.seconds for meter in meters])
    with open(args.report, 'w', encoding='utf-8') as handle:
        json.dump(merged, handle, indent=1)
    wall = time.monotonic() - started
    lines, passed, failed = summarize(merged, wall_seconds=wall, budget_seconds=args.budget)
    problem = None
    ran = set(entry.get('name') for entry in merged['sessions'])
    missing = [session_name(entry) for entry in sessions if session_name(entry) not in ran]
    bad = [status for _path, status in results if status]
    if missing:
        problem = 'these sessions did not run (nox stopped early?): %s' % ', '.join(missing)
    elif not failed and bad:
        problem = 'every session passed, but nox exited with status %d' % bad[0]
    if problem:
        failed += 1
        lines[-1:] = [problem, '%d passed, %d failed' % (passed, failed)]
    print('\n'.join(lines))
    return 1 if failed else 0


def minutes(seconds):
    return '%.1f min' % (seconds / 60.0)


def summarize(report, wall_seconds=None, budget_seconds=None, slowest=3):
    """(lines to print, number passed, number failed) from nox's JSON report (a dict).

    The table lists the sessions slowest first, then the total of their times and, for a run with lanes side by
    side, the wall-clock time; where the report has them (``make test``), each session's CPU seconds too. When
    ``budget_seconds`` is given and the run took longer (the wall-clock time, else the total), a ``WARNING:`` line
    says by how much and names the slowest sessions: a warning, never a failure (a loaded machine must not fail the
    suite). The last line is ``N passed, M failed``.

    A session counts as passed only when nox reports ``success``; ``failed``, ``aborted`` and ``skipped``
    (for example a missing interpreter) count as failed, since the session was asked for and did not pass.
    """
    sessions = report.get('sessions') or []
    rows = []
    passed = failed = 0
    total_seconds = total_cpu = 0.0
    with_cpu = any(entry.get('cpu_seconds') is not None for entry in sessions)
    for entry in sessions:
        status = str(entry.get('result', 'unknown'))
        seconds = float(entry.get('duration') or 0.0)
        cpu = entry.get('cpu_seconds')
        total_seconds += seconds
        total_cpu += float(cpu or 0.0)
        if status == 'success':
            passed += 1
        else:
            failed += 1
        rows.append((str(entry.get('name', '?')), status, seconds, str(entry.get('reason') or ''), cpu))
    rows.sort(key=lambda row: -row[2])
    width = max([len(row[0]) for row in rows] + [len('session'), len('wall clock')])

    def line(name, status, seconds, reason, cpu=None):
        # The CPU column (CPU seconds of the session's commands, scripts/noxsupport.py CpuMeter) where it was measured.
        if not with_cpu:
            text = '{0:<{w}}  {1:<8}  {2:>8}  {3}'.format(name, status, seconds, reason, w=width)
        else:
            text = '{0:<{w}}  {1:<8}  {2:>8}  {3:>7}  {4}'.format(
                name, status, seconds, '' if cpu is None else cpu, reason, w=width)
        return text.rstrip()

    lines = [line('session', 'result', 'seconds', 'reason', 'cpu s')]
    for name, status, seconds, reason, cpu in rows:
        lines.append(line(name, status, '%.1f' % seconds, reason, None if cpu is None else '%.1f' % cpu))
    lines.append(line('total', '', '%.1f' % total_seconds, minutes(total_seconds), '%.1f' % total_cpu))
    if wall_seconds is not None:
        lines.append(line('wall clock', '', '%.1f' % wall_seconds, minutes(wall_seconds)))
    took = wall_seconds if wall_seconds is not None else total_seconds
    if budget_seconds and took > budget_seconds:
        names = ', '.join('%s (%s)' % (row[0], minutes(row[2])) for row in rows[:slowest])
        lines.append('WARNING: the default selection took %s, %s over its %s budget; slowest sessions: %s'
                     % (minutes(took), minutes(took - budget_seconds), minutes(budget_seconds), names))
    lines.append('%d passed, %d failed' % (passed, failed))
    return lines, passed, failed


def report_main(args):
    try:
        with open(args.report, encoding='utf-8') as handle:
            report = json.load(handle)
    except (OSError, ValueError) as ex:
        print('nox wrote no usable report (%s); see its messages above' % ex)
        print('0 passed, 1 failed')
        return 1
    lines, passed, failed = summarize(report)
    problem = None
    if not report.get('sessions'):
        problem = 'no session ran (is the session name right? nox --list shows them)'
    elif not failed and args.nox_status not in (None, 0):
        problem = 'every session passed, but nox exited with status %d' % args.nox_status
    if problem:
        failed += 1
        lines[-1:] = [problem, '%d passed, %d failed' % (passed, failed)]
    print('\n'.join(lines))
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    report = sub.add_parser('report', help="summarize nox's JSON report; the last line is 'N passed, M failed'")
    report.add_argument('report', help='the file given to nox --report')
    report.add_argument('--nox-status', type=int, default=None, help="nox's exit status (a failed nox run never passes)")
    run = sub.add_parser('run', help='run nox sessions in lanes side by side, then summarize them (make test)')
    run.add_argument('--nox', required=True, help='the nox executable')
    run.add_argument('--report', required=True, help='where to write the merged report (its durations plan the next run)')
    run.add_argument('--jobs', type=int, default=2, help='nox processes side by side (default 2)')
    run.add_argument('--budget', type=float, default=None, help='seconds the run should take; over it, a WARNING line')
    run.add_argument('-e', '--session', nargs='+', default=[], help='sessions to run (default: nox\'s default ones)')
    run.add_argument('-t', '--tag', nargs='+', default=[], help='run the sessions with these nox tags')
    run.add_argument('--nox-arg', action='append', help='an extra argument for each nox process (repeatable)')
    args = parser.parse_args(argv)
    if args.command == 'run':
        return run_main(args)
    return report_main(args)


if __name__ == '__main__':
    sys.exit(main())
