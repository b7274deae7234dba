# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nox sessions of defender.atp: `nox --list` shows them, `make test` runs the default ones (two nox processes side by
side, scripts/noxsupport.py run).

antsibull-nox.toml adds antsibull-nox's own sessions (lint, docs-check, extra-checks, build-import-check,
ansible-lint, molecule). This file adds ansible-test on every supported ansible-core, each on a controller Python it
supports (with --venv: there is no container engine here), and the suites that are ours: the emulator's tests,
reliability, the no-secrets scan, the ansible-runner/AWX tests, the changelog lint and the tests of this runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys

import nox
from nox.command import CommandFailed

try:
    import antsibull_nox
    from antsibull_nox.sessions import prepare_collections
except ImportError:
    print('You need to install antsibull-nox in the same Python environment as nox (make venv does).')
    sys.exit(1)

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import noxsupport  # noqa: E402  (scripts/ is not a package)

antsibull_nox.load_antsibull_nox_toml()

# Every ansible-core release meta/runtime.yml claims (requires_ansible), pinned to the release tested, with the
# controller Python it is tested on: 3.11 for 2.16-2.19 (a controller Python of all four), 3.12 for 2.20 and 2.21
# (they need 3.12 or later). Drop a release when ansible-core's end of life for it has passed (README, "Supported
# ansible-core versions"), with a changelog removed_features entry one collection release ahead.
ANSIBLE_CORE = {
    '2.16': ('2.16.19', '3.11'),
    '2.17': ('2.17.14', '3.11'),
    '2.18': ('2.18.19', '3.11'),
    '2.19': ('2.19.14', '3.11'),
    '2.20': ('2.20.10', '3.12'),
    '2.21': ('2.21.5', '3.12'),
}


def _minor_key(minor):
    return tuple(int(part) for part in minor.split('.'))


OLDEST, NEWEST = min(ANSIBLE_CORE, key=_minor_key), max(ANSIBLE_CORE, key=_minor_key)
# The Python of the sessions that are not tied to an ansible-core release (.venv's, requirements-dev.txt's pins).
PYTHON = '3.11'
# pyenv installs Pythons it does not put on PATH (python3.12 is a shim that refuses to run unless PYENV_VERSION names
# 3.12): give nox their paths, so that a fresh clone runs `make test` with nothing set.
INTERPRETERS = {version: noxsupport.python_interpreter(version)
                for version in sorted({PYTHON} | {python for _core, python in ANSIBLE_CORE.values()})}
# Sanity on the releases between the oldest and the newest: the tests whose verdict depends on the release.
SANITY_BETWEEN = ('compile', 'import', 'validate-modules', 'pylint')
# The integration targets of the releases between: the inventory (it builds on ansible-core's Constructable, option
# handling and unsafe text) and one real playbook per module family (smoke). The oldest runs every target; the newest
# too, in the no-secrets session.
SMOKE_TARGETS = ('smoke', 'inventory_machines', 'inventory_unsafe')
# What those sessions tell the targets (tests/integration/integration_config.yml): the light scale, at which a target
# that generates data at scale makes less of it and asserts the same (inventory_machines: 2,500 machines in pages of
# 1,000 instead of 20,000 in pages of 10,000, defaults/main.yml). The oldest and the newest run every target full.
SMOKE_VARS = {'integration_scale': 'light'}
PINS = noxsupport.pins(os.path.join(ROOT, 'requirements-dev.txt'))
RUNTIME_REQUIREMENTS = os.path.join(ROOT, 'requirements.txt')

nox.options.reuse_venv = 'yes'  # installs are pinned; a rerun only checks them
nox.options.error_on_missing_interpreters = True
nox.options.error_on_external_run = True


def pinned(*names):
    """The pinned requirement (name==version) of each package, as in requirements-dev.txt."""
    return [PINS[noxsupport.normalize(name)] for name in names]


def ansible_test_env():
    """Environment for ansible-test: no colours (CI logs)."""
    return {'ANSIBLE_NOCOLOR': '1', 'PY_COLORS': '0', 'NO_COLOR': '1'}


def python_executable(spec):
    """The executable of an INTERPRETERS value: a path as it is, a version X.Y as the pythonX.Y on PATH."""
    return spec if os.sep in spec else (shutil.which('python' + spec) or 'python' + spec)


def ansible_core(session, minor):
    """The bin directory of ansible-core's venv for the release ``minor`` (built once per machine, shared by every
    ansible-test session of that release and every checkout: noxsupport.core_venv), with the stand-in for get-pip that
    its ansible-test needs in place."""
    version, python = ANSIBLE_CORE[minor]
    interpreter = python_executable(INTERPRETERS[python])
    if not noxsupport.runs(interpreter):
        session.error('Python %s (%s) does not run: ansible-core %s is tested on it' % (python, interpreter, version))
    bin_dir = os.path.join(noxsupport.core_venv(version, interpreter, log=session.log), 'bin')
    ansible_test_dir = session.run(
        os.path.join(bin_dir, 'python'), '-c', 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))',
        silent=True, external=True).strip()
    path, action = noxsupport.install_get_pip_stand_in(ansible_test_dir)
    session.log('ansible-core %s in %s; pip bootstrap for ansible-test: %s (%s)'
                % (version, os.path.dirname(bin_dir), path, action))
    return bin_dir


def ansible_test_run(session, bin_dir, *args, **kwargs):
    """ansible-test of that venv, as if the venv were active (its bin directory first on PATH)."""
    env = dict(ansible_test_env(), PATH=bin_dir + os.pathsep + os.environ.get('PATH', ''),
               VIRTUAL_ENV=os.path.dirname(bin_dir))
    env.update(kwargs.pop('env', None) or {})
    return session.run(os.path.join(bin_dir, 'ansible-test'), *args, env=env, external=True, **kwargs)


def collection_copy(session):
    """A copy of the collection at .../ansible_collections/defender/atp for the sessions that are not ansible-test's."""
    prepared = prepare_collections(session, install_in_site_packages=False, install_out_of_tree=True)
    if prepared is None:
        session.error('could not prepare the ansible_collections tree')
    return prepared


@contextlib.contextmanager
def ansible_test_tree(session, version, bin_dir):
    """The checkout copied to .../ansible_collections/defender/atp (ansible-test needs a real copy there), as the cwd.

    The copy has a place of its own per session, ansible-core release and interpreter, private to this user
    (noxsupport.work_place), where ansible-test's --venv environment (tests/output/.tmp/delegation: pip, ansible-core's
    and the tests' requirements) survives from the last run, in this checkout or a fresh clone: ~20 s saved per
    ansible-test session. A lock keeps two runs from using one place at once. ansible-test's output is copied back to
    tests/output/<session>/.
    """
    interpreter = os.path.realpath(os.path.join(bin_dir, 'python'))
    place = noxsupport.work_place(session.name, version, interpreter)
    dest = os.path.join(place, 'ansible_collections', 'defender', 'atp')
    with noxsupport.locked(place + '.lock', log=session.log):
        noxsupport.refresh_copy(ROOT, dest)
        try:
            with session.chdir(dest):
                yield dest
        finally:
            output = os.path.join(dest, 'tests', 'output')
            if os.path.isdir(output):
                keep = os.path.join(ROOT, 'tests', 'output', session.name)
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(output, keep, ignore=shutil.ignore_patterns('.tmp'), dirs_exist_ok=True)


def run_ansible_test(session, minor, command, *args, integration_vars=None, **kwargs):
    """ansible-test ``command`` on the release ``minor``; ``integration_vars`` go to the targets through
    tests/integration/integration_config.yml (ansible-test's extra vars)."""
    version, python = ANSIBLE_CORE[minor]
    bin_dir = ansible_core(session, minor)
    with ansible_test_tree(session, version, bin_dir) as work:
        if integration_vars:
            noxsupport.write_vars_file(os.path.join(work, 'tests', 'integration', 'integration_config.yml'),
                                       integration_vars, writer='noxfile.py')
        ansible_test_run(session, bin_dir, command, '--venv', '--python', python, '--color', 'no', *args, *session.posargs,
                         **kwargs)


def define_matrix():
    """ansible-test sessions for every supported ansible-core.

    What `nox` (and make test) runs by default is the selection the 30-minute budget on 2 cores allows: sanity on every
    release (every test on the oldest and the newest; compile, import, validate-modules and pylint on the ones
    between); units and every integration target on the oldest and the newest (there in the no-secrets session); the
    inventory targets and the smoke target (SMOKE_TARGETS) on the releases between. The other sessions run when named
    (nox -e ansible-test-units-2.17) or with their tag (nox -t units; make test-all runs the whole cross product).
    """
    for minor, (version, python) in ANSIBLE_CORE.items():
        edge = minor in (OLDEST, NEWEST)

        def sanity(session, minor=minor):
            """ansible-test sanity, no ignore file allowed."""
            ignores = [name for name in os.listdir(os.path.join(ROOT, 'tests', 'sanity')) if name.startswith('ignore-')]
            full = minor in (OLDEST, NEWEST) or os.environ.get('SANITY_TESTS') == 'all'
            tests = [] if full else [arg for name in SANITY_BETWEEN for arg in ('--test', name)]
            run_ansible_test(session, minor, 'sanity', *tests)
            if ignores:
                session.error('sanity passed, but tests/sanity/ has ignore files (%s): fix the code instead'
                              % ', '.join(ignores))

        def units(session, minor=minor):
            """ansible-test units (tests/unit; requirements: tests/unit/requirements.txt)."""
            run_ansible_test(session, minor, 'units')

        def integration(session, minor=minor):
            """ansible-test integration: every target; setup_emulator starts the emulator itself."""
            run_ansible_test(session, minor, 'integration')

        def smoke(session, minor=minor):
            run_ansible_test(session, minor, 'integration', *SMOKE_TARGETS, integration_vars=SMOKE_VARS)

        sessions = [('sanity', sanity, ['sanity'], True),
                    ('units', units, ['units'], edge)]
        if minor == NEWEST:
            # Every target on the newest is the no-secrets session (at -vvvv, then the output is scanned), in the
            # default selection and with the integration tag: this one runs only when named.
            sessions.append(('integration', integration, [], False))
        else:
            sessions.append(('integration', integration, ['integration'], minor == OLDEST))
        if not edge:
            # make test-all runs every target here already (ansible-test-integration-X): the smoke tag is its own.
            sessions.append(('integration-smoke', smoke, ['smoke'], True))
        descriptions = {
            'sanity': ('ansible-test sanity, every test' if edge else
                       'ansible-test sanity --test %s (SANITY_TESTS=all: every test)' % ' --test '.join(SANITY_BETWEEN)),
            'units': 'ansible-test units (tests/unit; requirements: tests/unit/requirements.txt)',
            'integration': 'ansible-test integration, every target (setup_emulator starts the emulator)',
            'integration-smoke': ('ansible-test integration of the targets %s, at the light scale (SMOKE_VARS)'
                                  % ', '.join(SMOKE_TARGETS)),
        }
        for kind, func, tags, default in sessions:
            name = 'ansible-test-%s-%s' % (kind, minor)
            func.__doc__ = '%s; ansible-core %s on Python %s.' % (descriptions[kind], version, python)
            # No nox venv: ansible-test runs from the machine's ansible-core venv of the release (ansible_core()).
            nox.session(name=name, venv_backend='none', default=default, tags=tags + ['ansible-%s' % minor])(func)


define_matrix()


def launch_emulator(session, state_dir, *emulator_args):
    """Start an emulator through tests/emulator/launch.py; it stops when this nox process ends at the latest."""
    out = session.run(sys.executable, os.path.join(ROOT, 'tests', 'emulator', 'launch.py'), 'start', '--state-dir', state_dir,
                      '--watch-pid', str(os.getpid()), '--', *emulator_args, silent=True, external=True)
    info_file = json.loads(out.strip().splitlines()[-1])['info_file']
    with open(info_file, encoding='utf-8') as handle:
        return info_file, json.load(handle)


def stop_emulator(session, state_dir):
    session.run(sys.executable, os.path.join(ROOT, 'tests', 'emulator', 'launch.py'), 'stop', '--state-dir', state_dir,
                external=True)


@nox.session(name='no-secrets', venv_backend='none', default=True, tags=['integration', 'ansible-%s' % NEWEST])
def no_secrets(session):
    """Every integration target on the newest ansible-core at -vvvv against one emulator, then every secret of that
    emulator is looked for in all the output (the run of every target on the newest: no other session repeats it)."""
    version, python = ANSIBLE_CORE[NEWEST]
    bin_dir = ansible_core(session, NEWEST)
    state_dir = os.path.join(session.create_tmp(), 'emulator')
    shutil.rmtree(state_dir, ignore_errors=True)
    request_log = os.path.join(session.create_tmp(), 'emulator-requests.jsonl')
    if os.path.exists(request_log):
        os.unlink(request_log)
    output = os.path.join(ROOT, 'tests', 'output', 'no-secrets-integration.log')
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with ansible_test_tree(session, version, bin_dir) as work:
        info_file, info = launch_emulator(session, state_dir, '--log-file', request_log)
        config = os.path.join(work, 'tests', 'integration', 'integration_config.yml')
        try:
            # The targets use this emulator (setup_emulator starts none when emulator_url is given).
            noxsupport.write_vars_file(config, {'emulator_' + key: value for key, value in info.items()}, writer='noxfile.py')
            session.log('ansible-test integration -vvvv: output in %s' % os.path.relpath(output, ROOT))
            with open(output, 'w', encoding='utf-8') as log:
                try:
                    ansible_test_run(session, bin_dir, 'integration', '--venv', '--python', python, '--color', 'no',
                                     '-vvvv', *session.posargs, stdout=log, stderr=subprocess.STDOUT)
                except CommandFailed:
                    log.flush()
                    with open(output, encoding='utf-8', errors='replace') as handle:
                        session.log('integration failed; the end of its output:\n' + ''.join(handle.readlines()[-60:]))
                    raise
            session.run(sys.executable, os.path.join(ROOT, 'scripts', 'no_secrets.py'), '--info', info_file, '--output',
                        output, '--request-log', request_log, '--test-data',
                        os.path.join(work, 'tests', 'integration', 'targets'),
                        '--junit-dir', os.path.join(work, 'tests', 'output', 'junit'), external=True)
        finally:
            stop_emulator(session, state_dir)
            if os.path.exists(config):
                os.unlink(config)  # it holds the emulator's secrets


@nox.session(name='emulator', python=INTERPRETERS[PYTHON], default=True)
def emulator(session):
    """pytest of the emulator's own suite (tests/emulator/tests), the launcher's tests included."""
    session.install(*pinned('pytest', 'requests', 'PyJWT', 'cryptography', 'hypothesis'))
    session.run('python', '-m', 'pytest', 'tests/emulator/tests', '-q', '-p', 'no:cacheprovider', *session.posargs)


@nox.session(name='reliability', python=INTERPRETERS[ANSIBLE_CORE[NEWEST][1]], default=True)
def reliability(session):
    """pytest tests/reliability: faults, security, bad input and a 12 s load run, through ansible-playbook, on the
    newest ansible-core (the release most users get)."""
    session.install('ansible-core==%s' % ANSIBLE_CORE[NEWEST][0], *pinned('pytest', 'requests', 'PyJWT', 'cryptography'))
    prepared = collection_copy(session)
    report_dir = os.path.join(ROOT, 'tests', 'output', 'reliability')
    shutil.rmtree(report_dir, ignore_errors=True)
    os.makedirs(report_dir)
    # nox's temporary directory is relative to the checkout, and TMPDIR with it: ansible-core 2.21 puts its worker RPC
    # socket there and cannot start it from a relative path ('Local RPC server did not start'), so both are absolute.
    tmp = os.path.abspath(session.create_tmp())
    with session.chdir(str(prepared.current_path)):
        session.run('python', '-m', 'pytest', 'tests/reliability', '-q', '-p', 'no:cacheprovider', '-rfE', '--durations=8',
                    '--basetemp', os.path.join(tmp, 'reliability'), *session.posargs,
                    env={'ANSIBLE_COLLECTIONS_PATH': str(prepared.current_place), 'RELIABILITY_REPORT_DIR': report_dir,
                         'TMPDIR': tmp})
    load = os.path.join(report_dir, 'load.md')
    if os.path.isfile(load):
        with open(load, encoding='utf-8') as handle:
            session.log('load run (tests/output/reliability/load.md):\n' + handle.read())


@nox.session(name='awx', python=INTERPRETERS[PYTHON], default=True)
def awx(session):
    """tests/unit/awx with ansible-runner and ansible-builder: the AWX credential type, runner and EE context."""
    session.install(*pinned('ansible-core', 'ansible-runner', 'ansible-builder', 'pytest', 'requests', 'PyJWT', 'cryptography'))
    prepared = collection_copy(session)
    with session.chdir(str(prepared.current_path)):
        session.run('python', '-m', 'pytest', 'tests/unit/awx', '-q', '-p', 'no:cacheprovider', '-rfEs', *session.posargs,
                    env={'ANSIBLE_COLLECTIONS_PATH': str(prepared.current_place),
                         'PYTHONPATH': str(prepared.current_place)})


@nox.session(name='changelog', python=INTERPRETERS[PYTHON], default=True)
def changelog(session):
    """antsibull-changelog lint (fragments) and lint-changelog-yaml (changelogs/changelog.yaml)."""
    session.install(*pinned('antsibull-changelog'))
    session.run('antsibull-changelog', 'lint')
    session.run('antsibull-changelog', 'lint-changelog-yaml', 'changelogs/changelog.yaml')


@nox.session(name='runner', python=INTERPRETERS[PYTHON], default=True)
def runner(session):
    """Tests of this test runner (scripts/noxsupport.py, scripts/no_secrets.py)."""
    session.install(*pinned('pytest'))
    session.run('python', '-m', 'pytest', 'tests/runner', '-q', '-p', 'no:cacheprovider', *session.posargs)


@nox.session(name='eda', python=INTERPRETERS[PYTHON], default=True)
def eda(session):
    """End to end: ansible-rulebook (Java 17+) runs extensions/eda/rulebooks/isolate_on_high_alert.yml from the built
    collection against the emulator, and the machine of a new High alert ends up isolated (tests/eda)."""
    if shutil.which('java') is None:
        session.error('the eda session needs a Java 17+ runtime for ansible-rulebook: apt-get install -y openjdk-17-jre-headless')
    session.install('-r', 'tests/eda/requirements.txt')
    session.run('python', '-m', 'pytest', 'tests/eda', '-q', '-p', 'no:cacheprovider', '-rfE', *session.posargs)
