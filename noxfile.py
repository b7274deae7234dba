# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nox sessions of defender.atp: `nox --list` shows them, `make test` runs the default ones.

antsibull-nox.toml adds antsibull-nox's own sessions (lint, docs-check, extra-checks, build-import-check,
ansible-lint, molecule). This file adds ansible-test on every supported ansible-core (with --venv: there is no
container engine here), and the suites that are ours: the emulator's tests, reliability, the no-secrets scan, the
ansible-runner/AWX tests, the changelog lint and the tests of this runner.
"""

from __future__ import annotations

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

# Every ansible-core release meta/runtime.yml claims (requires_ansible), pinned to the release tested.
ANSIBLE_CORE = {
    '2.16': '2.16.19',
    '2.17': '2.17.14',
    '2.18': '2.18.19',
    '2.19': '2.19.14',
}
OLDEST, NEWEST = min(ANSIBLE_CORE, key=lambda v: tuple(map(int, v.split('.')))), max(
    ANSIBLE_CORE, key=lambda v: tuple(map(int, v.split('.'))))
# Python 3.11 is a controller Python of all four releases, and the only Python on our machines.
PYTHON = '3.11'
PINS = noxsupport.pins(os.path.join(ROOT, 'requirements-dev.txt'))
RUNTIME_REQUIREMENTS = os.path.join(ROOT, 'requirements.txt')

nox.options.reuse_venv = 'yes'  # installs are pinned; a rerun only checks them
nox.options.error_on_missing_interpreters = True
nox.options.error_on_external_run = True


def pinned(*names):
    """The pinned requirement (name==version) of each package, as in requirements-dev.txt."""
    return [PINS[noxsupport.normalize(name)] for name in names]


def ansible_test_env():
    """Environment for ansible-test: no colours (CI logs), and the stand-in for get-pip in place."""
    return {'ANSIBLE_NOCOLOR': '1', 'PY_COLORS': '0', 'NO_COLOR': '1'}


def install_ansible_core(session, version):
    session.install('ansible-core==%s' % version)
    ansible_test_dir = session.run(
        'python', '-c', 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))', silent=True).strip()
    path, action = noxsupport.install_get_pip_stand_in(ansible_test_dir)
    session.log('pip bootstrap for ansible-test: %s (%s)' % (path, action))


def collection_copy(session):
    """A copy of the collection at .../ansible_collections/defender/atp (ansible-test needs one, not a symlink)."""
    prepared = prepare_collections(session, install_in_site_packages=False, install_out_of_tree=True)
    if prepared is None:
        session.error('could not prepare the ansible_collections tree')
    return prepared


def run_ansible_test(session, version, command, *args):
    install_ansible_core(session, version)
    prepared = collection_copy(session)
    with session.chdir(str(prepared.current_path)):
        try:
            session.run('ansible-test', command, '--venv', '--python', PYTHON, '--color', 'no', *args, *session.posargs,
                        env=ansible_test_env())
        finally:
            output = os.path.join(str(prepared.current_path), 'tests', 'output')
            if os.path.isdir(output):
                keep = os.path.join(ROOT, 'tests', 'output', session.name)
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(output, keep, ignore=shutil.ignore_patterns('.tmp'), dirs_exist_ok=True)
    return prepared


def define_matrix():
    """ansible-test sessions for every supported ansible-core.

    What `nox` (and make test) runs by default fits the 30-minute budget on 2 cores: sanity on every version; units and
    every integration target on the oldest and the newest (there in the no-secrets session); the inventory targets (inventory_machines, inventory_unsafe:
    the inventory plugin relies on ansible-core's Constructable and its unsafe-text handling) on every version. The other
    sessions run when named (nox -e ansible-test-units-2.17) or with their tag (nox -t units, make test-all).
    """
    for minor, version in ANSIBLE_CORE.items():
        edge = minor in (OLDEST, NEWEST)

        def sanity(session, version=version):
            """ansible-test sanity (every test, no ignore file)."""
            ignores = [name for name in os.listdir(os.path.join(ROOT, 'tests', 'sanity')) if name.startswith('ignore-')]
            run_ansible_test(session, version, 'sanity')
            if ignores:
                session.error('sanity passed, but tests/sanity/ has ignore files (%s): fix the code instead'
                              % ', '.join(ignores))

        def units(session, version=version):
            """ansible-test units (tests/unit; requirements: tests/unit/requirements.txt)."""
            run_ansible_test(session, version, 'units')

        def integration(session, version=version):
            """ansible-test integration: every target; setup_emulator starts the emulator itself."""
            run_ansible_test(session, version, 'integration')

        def inventory(session, version=version):
            """ansible-test integration of the inventory targets (inventory_*)."""
            run_ansible_test(session, version, 'integration', 'inventory_.*')

        # On the newest, the no-secrets session runs every integration target (at -vvvv, then scans the output).
        sessions = [('sanity', sanity, ['sanity'], True),
                    ('units', units, ['units'], edge),
                    ('integration', integration, ['integration'], minor == OLDEST)]
        if not edge:
            sessions.append(('integration-inventory', inventory, ['integration', 'inventory'], True))
        for kind, func, tags, default in sessions:
            name = 'ansible-test-%s-%s' % (kind, minor)
            func.__doc__ = '%s, ansible-core %s' % (func.__doc__.rstrip('.'), version)
            nox.session(name=name, python=PYTHON, default=default, tags=tags + ['ansible-%s' % minor])(func)


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


@nox.session(name='no-secrets', python=PYTHON, default=True, tags=['integration'])
def no_secrets(session):
    """ansible-test integration at -vvvv against one emulator, then look for its secrets in all the output."""
    install_ansible_core(session, ANSIBLE_CORE[NEWEST])
    prepared = collection_copy(session)
    work = str(prepared.current_path)
    state_dir = os.path.join(session.create_tmp(), 'emulator')
    shutil.rmtree(state_dir, ignore_errors=True)
    request_log = os.path.join(session.create_tmp(), 'emulator-requests.jsonl')
    if os.path.exists(request_log):
        os.unlink(request_log)
    info_file, info = launch_emulator(session, state_dir, '--log-file', request_log)
    output = os.path.join(ROOT, 'tests', 'output', 'no-secrets-integration.log')
    os.makedirs(os.path.dirname(output), exist_ok=True)
    try:
        # The targets use this emulator (setup_emulator starts none when emulator_url is given).
        noxsupport.write_vars_file(os.path.join(work, 'tests', 'integration', 'integration_config.yml'),
                                   {'emulator_' + key: value for key, value in info.items()}, writer='noxfile.py')
        session.log('ansible-test integration -vvvv: output in %s' % os.path.relpath(output, ROOT))
        with open(output, 'w', encoding='utf-8') as log, session.chdir(work):
            try:
                session.run('ansible-test', 'integration', '--venv', '--python', PYTHON, '--color', 'no', '-vvvv',
                            *session.posargs, env=ansible_test_env(), stdout=log, stderr=subprocess.STDOUT)
            except CommandFailed:
                log.flush()
                with open(output, encoding='utf-8', errors='replace') as handle:
                    session.log('integration failed; the end of its output:\n' + ''.join(handle.readlines()[-60:]))
                raise
        session.run(sys.executable, os.path.join(ROOT, 'scripts', 'no_secrets.py'), '--info', info_file, '--output', output,
                    '--request-log', request_log, '--test-data', os.path.join(work, 'tests', 'integration', 'targets'),
                    '--junit-dir', os.path.join(work, 'tests', 'output', 'junit'), external=True)
    finally:
        stop_emulator(session, state_dir)


@nox.session(name='emulator', python=PYTHON, default=True)
def emulator(session):
    """pytest of the emulator's own suite (tests/emulator/tests), the launcher's tests included."""
    session.install(*pinned('pytest', 'requests', 'PyJWT', 'cryptography', 'hypothesis'))
    session.run('python', '-m', 'pytest', 'tests/emulator/tests', '-q', '-p', 'no:cacheprovider', *session.posargs)


@nox.session(name='reliability', python=PYTHON, default=True)
def reliability(session):
    """pytest tests/reliability: faults, security, bad input and a 12 s load run, through ansible-playbook."""
    session.install('ansible-core==%s' % ANSIBLE_CORE[NEWEST], *pinned('pytest', 'requests', 'PyJWT', 'cryptography'))
    prepared = collection_copy(session)
    report_dir = os.path.join(ROOT, 'tests', 'output', 'reliability')
    shutil.rmtree(report_dir, ignore_errors=True)
    os.makedirs(report_dir)
    with session.chdir(str(prepared.current_path)):
        session.run('python', '-m', 'pytest', 'tests/reliability', '-q', '-p', 'no:cacheprovider', '-rfE', '--durations=8',
                    '--basetemp', os.path.join(session.create_tmp(), 'reliability'), *session.posargs,
                    env={'ANSIBLE_COLLECTIONS_PATH': str(prepared.current_place), 'RELIABILITY_REPORT_DIR': report_dir})
    load = os.path.join(report_dir, 'load.md')
    if os.path.isfile(load):
        with open(load, encoding='utf-8') as handle:
            session.log('load run (tests/output/reliability/load.md):\n' + handle.read())


@nox.session(name='awx', python=PYTHON, default=True)
def awx(session):
    """tests/unit/awx with ansible-runner and ansible-builder: the AWX credential type, runner and EE context."""
    session.install(*pinned('ansible-core', 'ansible-runner', 'ansible-builder', 'pytest', 'requests', 'PyJWT', 'cryptography'))
    prepared = collection_copy(session)
    with session.chdir(str(prepared.current_path)):
        session.run('python', '-m', 'pytest', 'tests/unit/awx', '-q', '-p', 'no:cacheprovider', '-rfEs', *session.posargs,
                    env={'ANSIBLE_COLLECTIONS_PATH': str(prepared.current_place),
                         'PYTHONPATH': str(prepared.current_place)})


@nox.session(name='changelog', python=PYTHON, default=True)
def changelog(session):
    """antsibull-changelog lint (fragments) and lint-changelog-yaml (changelogs/changelog.yaml)."""
    session.install(*pinned('antsibull-changelog'))
    session.run('antsibull-changelog', 'lint')
    session.run('antsibull-changelog', 'lint-changelog-yaml', 'changelogs/changelog.yaml')


@nox.session(name='runner', python=PYTHON, default=True)
def runner(session):
    """Tests of this test runner (scripts/noxsupport.py, scripts/no_secrets.py)."""
    session.install(*pinned('pytest'))
    session.run('python', '-m', 'pytest', 'tests/runner', '-q', '-p', 'no:cacheprovider', *session.posargs)


@nox.session(name='eda', python=PYTHON, default=True)
def eda(session):
    """End to end: ansible-rulebook (Java 17+) runs extensions/eda/rulebooks/isolate_on_high_alert.yml from the built
    collection against the emulator, and the machine of a new High alert ends up isolated (tests/eda)."""
    if shutil.which('java') is None:
        session.error('the eda session needs a Java 17+ runtime for ansible-rulebook: apt-get install -y openjdk-17-jre-headless')
    session.install('-r', 'tests/eda/requirements.txt')
    session.run('python', '-m', 'pytest', 'tests/eda', '-q', '-p', 'no:cacheprovider', '-rfE', *session.posargs)
