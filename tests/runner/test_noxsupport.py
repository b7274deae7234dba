# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the test runner's own logic: scripts/noxsupport.py (summary line, pins, pip bootstrap stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'scripts', 'noxsupport.py')
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import noxsupport  # noqa: E402  pylint: disable=wrong-import-position


def session(name, result, duration=1.0, reason=None):
    return {'name': name, 'result': result, 'result_code': 0, 'duration': duration, 'reason': reason, 'args': {}, 'signatures': []}


def run_report(tmp_path, report, *extra):
    path = tmp_path / 'report.json'
    if report is not None:
        path.write_text(json.dumps(report) if not isinstance(report, str) else report)
    return subprocess.run([sys.executable, SCRIPT, 'report', str(path)] + list(extra), capture_output=True, text=True, check=False)


def test_summary_counts_sessions_and_ends_with_the_count_line():
    lines, passed, failed = noxsupport.summarize({'result': 0, 'sessions': [
        session('ansible-test-units-2.16', 'success', 12.5),
        session('ansible-test-sanity-2.16', 'failed', 30.0, 'exit code 1'),
        session('molecule', 'skipped', 0.0, 'Python interpreter 3.11 not found'),
        session('lint', 'success', 3.0),
    ]})
    assert (passed, failed) == (2, 2)
    assert lines[-1] == '2 passed, 2 failed'
    table = '\n'.join(lines)
    assert 'ansible-test-sanity-2.16  failed' in table and 'exit code 1' in table
    assert 'molecule' in table and 'skipped' in table
    assert lines[-2].split()[:2] == ['total', '45.5']


@pytest.mark.parametrize('result', ['failed', 'aborted', 'skipped'])
def test_anything_but_success_counts_as_failed(result):
    _lines, passed, failed = noxsupport.summarize({'sessions': [session('x', result)]})
    assert (passed, failed) == (0, 1)


def test_report_command_exit_status_follows_the_sessions(tmp_path):
    ok = run_report(tmp_path, {'result': 1, 'sessions': [session('a', 'success'), session('b', 'success')]}, '--nox-status', '0')
    assert ok.returncode == 0 and ok.stdout.splitlines()[-1] == '2 passed, 0 failed'
    bad = run_report(tmp_path, {'result': 0, 'sessions': [session('a', 'success'), session('b', 'failed')]}, '--nox-status', '1')
    assert bad.returncode == 1 and bad.stdout.splitlines()[-1] == '1 passed, 1 failed'


def test_a_failed_nox_run_never_passes(tmp_path):
    # nox failed (for example a noxfile error after the sessions ran) although every listed session passed
    proc = run_report(tmp_path, {'result': 1, 'sessions': [session('a', 'success')]}, '--nox-status', '2')
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == '1 passed, 1 failed'
    assert 'nox exited with status 2' in proc.stdout


def test_no_session_or_no_report_is_a_failure(tmp_path):
    empty = run_report(tmp_path, {'result': 1, 'sessions': []}, '--nox-status', '0')
    assert empty.returncode == 1 and empty.stdout.splitlines()[-1] == '0 passed, 1 failed'
    assert 'no session ran' in empty.stdout
    missing = run_report(tmp_path, None)
    assert missing.returncode == 1 and missing.stdout.splitlines()[-1] == '0 passed, 1 failed'
    broken = run_report(tmp_path, '{"sessions": [')
    assert broken.returncode == 1 and broken.stdout.splitlines()[-1] == '0 passed, 1 failed'


def test_pins_reads_exact_versions_and_normalizes_names(tmp_path):
    req = tmp_path / 'req.txt'
    req.write_text('# comment\nansible-core==2.19.14\nPyJWT[crypto]==2.15.1  # runtime\npytest_xdist==3.8.0\nrequests>=2.25\n\n')
    found = noxsupport.pins(str(req))
    assert found == {'ansible-core': 'ansible-core==2.19.14', 'pyjwt': 'PyJWT[crypto]==2.15.1', 'pytest-xdist': 'pytest_xdist==3.8.0'}


def test_pins_of_the_project_cover_what_the_noxfile_installs():
    found = noxsupport.pins(os.path.join(ROOT, 'requirements-dev.txt'))
    for name in ('ansible-core', 'pytest', 'requests', 'pyjwt', 'cryptography', 'hypothesis', 'antsibull-changelog',
                 'ansible-runner', 'ansible-builder', 'nox', 'antsibull-nox'):
        assert name in found, name


def fake_ansible_test(tmp_path, pin="pip='24.2'"):
    internal = tmp_path / 'ansible_test' / '_internal'
    internal.mkdir(parents=True)
    (internal / 'python_requirements.py').write_text("def get_packages():\n    return dict(%s, setuptools=None)\n" % pin)
    return str(tmp_path / 'ansible_test')


def test_stand_in_is_written_for_the_pip_version_ansible_test_pins(tmp_path):
    cache = tmp_path / 'cache'
    path, action = noxsupport.install_get_pip_stand_in(fake_ansible_test(tmp_path), str(cache))
    assert action == 'written' and path == str(cache / 'get_pip_24_2.py')
    assert noxsupport.install_get_pip_stand_in(fake_ansible_test(tmp_path / 'again'), str(cache))[1] == 'present'


def test_a_real_get_pip_in_the_cache_is_kept(tmp_path):
    cache = tmp_path / 'cache'
    cache.mkdir()
    real = cache / 'get_pip_24_2.py'
    real.write_text('# the real get-pip.py\n')
    path, action = noxsupport.install_get_pip_stand_in(fake_ansible_test(tmp_path), str(cache))
    assert action == 'kept (not ours)' and real.read_text() == '# the real get-pip.py\n' and path == str(real)


def test_no_pip_pin_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        noxsupport.install_get_pip_stand_in(fake_ansible_test(tmp_path, pin="wheel='1'"), str(tmp_path / 'cache'))


def test_stand_in_bootstraps_pip_into_an_empty_venv(tmp_path):
    """What ansible-test does with it: run it with the venv's python and get-pip's arguments."""
    cache = tmp_path / 'cache'
    path, _action = noxsupport.install_get_pip_stand_in(fake_ansible_test(tmp_path), str(cache))
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    # No network needed: '--no-index' with no links installs nothing more than ensurepip's own pip.
    proc = subprocess.run([python, path, '--no-index', '--no-setuptools', '--no-wheel', 'pip'], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert subprocess.run([python, '-m', 'pip', '--version'], capture_output=True, check=False).returncode == 0


def test_vars_file_is_private_and_holds_every_value(tmp_path):
    path = tmp_path / 'sub' / 'integration_config.yml'
    variables = {'emulator_url': 'https://127.0.0.1:1', 'emulator_client_secret': 'a"b\\c: d', 'emulator_pid': 42}
    noxsupport.write_vars_file(str(path), variables, writer='a test')
    assert (path.stat().st_mode & 0o777) == 0o600
    lines = path.read_text().splitlines()
    assert lines[0] == '---' and 'a test' in lines[1]
    found = dict((key, json.loads(value)) for key, value in (line.split(': ', 1) for line in lines[2:]))
    assert found == variables


# -- make test: the table, the budget ------------------------------------------------------------------------------------
def test_the_table_lists_the_slowest_first_with_the_total_and_the_wall_clock():
    lines, passed, failed = noxsupport.summarize({'sessions': [
        session('lint', 'success', 15.0), session('no-secrets', 'success', 600.0), session('units', 'success', 200.0)]},
        wall_seconds=610.0, budget_seconds=1800)
    assert [line.split()[0] for line in lines[1:4]] == ['no-secrets', 'units', 'lint']
    assert lines[4].split()[:2] == ['total', '815.0'] and '13.6 min' in lines[4]
    assert lines[5].split()[:3] == ['wall', 'clock', '610.0']
    assert not any(line.startswith('WARNING') for line in lines)
    assert (passed, failed) == (3, 0) and lines[-1] == '3 passed, 0 failed'


def test_over_the_budget_a_warning_names_the_overrun_and_the_slowest_sessions():
    lines, passed, failed = noxsupport.summarize({'sessions': [
        session('a', 'success', 100.0), session('b', 'success', 1500.0), session('c', 'failed', 900.0),
        session('d', 'success', 1200.0)]}, wall_seconds=2100.0, budget_seconds=1800)
    warning = [line for line in lines if line.startswith('WARNING')]
    assert warning == ['WARNING: the default selection took 35.0 min, 5.0 min over its 30.0 min budget; slowest sessions:'
                       ' b (25.0 min), d (20.0 min), c (15.0 min)']
    # a warning, not a failure: only the failed session counts
    assert (passed, failed) == (3, 1) and lines[-1] == '3 passed, 1 failed'


def test_without_a_wall_clock_the_budget_applies_to_the_total():
    lines, _passed, _failed = noxsupport.summarize({'sessions': [session('a', 'success', 1900.0)]}, budget_seconds=1800)
    assert any(line.startswith('WARNING: the default selection took 31.7 min, 1.7 min over') for line in lines)
    lines, _passed, _failed = noxsupport.summarize({'sessions': [session('a', 'success', 1900.0)]})
    assert not any(line.startswith('WARNING') for line in lines)


def test_the_cpu_column_appears_when_the_report_has_cpu_seconds():
    entries = [session('no-secrets', 'success', 600.0), session('lint', 'success', 15.0)]
    entries[0]['cpu_seconds'] = 512.5
    lines, _passed, _failed = noxsupport.summarize({'sessions': entries}, wall_seconds=610.0)
    assert lines[0].split() == ['session', 'result', 'seconds', 'cpu', 's', 'reason']
    assert lines[1].split() == ['no-secrets', 'success', '600.0', '512.5']
    assert lines[2].split() == ['lint', 'success', '15.0']
    assert lines[3].split()[:3] == ['total', '615.0', '512.5'] and lines[3].endswith('10.2 min')
    assert lines[4].split()[:3] == ['wall', 'clock', '610.0']


def test_the_cpu_meter_charges_each_session_what_nox_used_between_its_lines():
    readings = iter([10.0, 25.5, 25.5, 30.0, 31.0, 40.0])
    meter = noxsupport.CpuMeter(1, read=lambda _pid: next(readings))
    for line in (b'nox > Running session a\n', b'output of a\n', b'nox > Session a was successful in 2 seconds.\n',
                 b'\x1b[1mnox > Running session b\x1b[0m\n', b'nox > Session b failed.\n',
                 b'nox > Running session c\n', b'nox > Session c was successful.\n', b'nox > Ran multiple sessions:\n'):
        meter.line(line)
    assert meter.seconds == {'a': 15.5, 'b': 4.5, 'c': 9.0}


def test_the_cpu_of_a_live_process_is_read_from_proc():
    if not os.path.exists('/proc/self/stat'):
        pytest.skip('no /proc')
    assert noxsupport.process_cpu_seconds(os.getpid()) > 0
    assert noxsupport.process_cpu_seconds(2 ** 22 + 12345) is None


def test_merged_reports_keep_each_lanes_cpu_seconds(tmp_path):
    first, second = tmp_path / 'one.json', tmp_path / 'two.json'
    first.write_text(json.dumps({'sessions': [session('a', 'success')]}))
    second.write_text(json.dumps({'sessions': [session('b', 'success')]}))
    merged = noxsupport.merge_reports([str(first), str(second)], cpu=[{'a': 1.234}, {}])
    assert [(entry['name'], entry.get('cpu_seconds')) for entry in merged['sessions']] == [('a', 1.2), ('b', None)]


# -- make test: lanes ------------------------------------------------------------------------------------------------------
def listed(name, tags=(), description=''):
    return {'session': name, 'name': name, 'description': description, 'python': None, 'tags': list(tags), 'call_spec': {}}


def test_lanes_balance_the_durations_and_keep_nox_order():
    sessions = [listed('a'), listed('b'), listed('c'), listed('d')]
    lanes = noxsupport.plan_lanes(sessions, {'a': 100, 'b': 600, 'c': 500, 'd': 50}, 2)
    # longest first, each to the lane that ends first: b | c, then a joins c (600), d joins b (650); nox order inside
    assert sorted(lanes) == [['a', 'c'], ['b', 'd']]
    assert noxsupport.plan_lanes(sessions, {}, 1) == [['a', 'b', 'c', 'd']]
    assert noxsupport.plan_lanes([listed('a')], {}, 2) == [['a']]


def test_sanity_sessions_share_a_lane_and_a_meta_session_keeps_its_members():
    meta = 'Meta session for triggering the following sessions: codeqa, yamllint, and antsibull-nox-config'
    sessions = [listed('lint', description=meta), listed('codeqa'), listed('yamllint'), listed('antsibull-nox-config'),
                listed('ansible-test-sanity-2.16', ['sanity']), listed('integration', ['integration']),
                listed('ansible-test-sanity-2.21', ['sanity'])]
    durations = {'ansible-test-sanity-2.16': 300, 'ansible-test-sanity-2.21': 300, 'integration': 500, 'lint': 1,
                 'codeqa': 10, 'yamllint': 10, 'antsibull-nox-config': 1}
    lanes = noxsupport.plan_lanes(sessions, durations, 2)
    lane_of = {name: number for number, lane in enumerate(lanes) for name in lane}
    assert lane_of['ansible-test-sanity-2.16'] == lane_of['ansible-test-sanity-2.21']
    assert lane_of['lint'] == lane_of['codeqa'] == lane_of['yamllint'] == lane_of['antsibull-nox-config']
    assert lane_of['integration'] != lane_of['ansible-test-sanity-2.16']


def test_meta_members_reads_antsibull_nox_descriptions():
    assert noxsupport.meta_members('Meta session for triggering the following sessions: codeqa, yamllint, and '
                                   'antsibull-nox-config') == ['codeqa', 'yamllint', 'antsibull-nox-config']
    assert noxsupport.meta_members('Meta session for triggering the following sessions: a and b') == ['a', 'b']
    assert noxsupport.meta_members('Run code QA: flake8') == []


def test_estimates_come_from_the_last_report_else_the_table(tmp_path):
    path = tmp_path / 'report.json'
    path.write_text(json.dumps({'sessions': [session('no-secrets', 'success', 123.0)]}))
    durations = noxsupport.last_durations(str(path))
    assert noxsupport.estimate('no-secrets', durations) == 123.0
    assert noxsupport.estimate('ansible-test-integration-smoke-2.17', durations) == 100.0
    assert noxsupport.last_durations(str(tmp_path / 'missing.json')) == {}


def fake_nox(tmp_path, sessions, fail=()):
    """A stand-in for nox: --list --json prints ``sessions``; a run writes its --report with the -e sessions."""
    script = tmp_path / 'nox'
    script.write_text('''#!%s
import json, sys, time
args = sys.argv[1:]
sessions = %r
fail = %r
if '--list' in args:
    print(json.dumps(sessions))
    sys.exit(0)
report = args[args.index('--report') + 1]
names = args[args.index('-e') + 1:]
results = []
for name in names:
    print('nox > Running session', name, flush=True)
    print('running', name, flush=True)
    time.sleep(0.2)
    print('nox > Session', name, 'failed.' if name in fail else 'was successful.', flush=True)
    results.append({'name': name, 'result': 'failed' if name in fail else 'success', 'duration': 0.2})
with open(report, 'w') as handle:
    json.dump({'sessions': results}, handle)
sys.exit(1 if any(name in fail for name in names) else 0)
''' % (sys.executable, sessions, list(fail)))
    script.chmod(0o755)
    return str(script)


def run_lanes_command(tmp_path, nox, *extra):
    report = tmp_path / 'build' / 'nox-report.json'
    return subprocess.run([sys.executable, SCRIPT, 'run', '--nox', nox, '--report', str(report)] + list(extra),
                          capture_output=True, text=True, check=False, timeout=120), report


def test_run_runs_every_session_in_two_lanes_side_by_side_and_merges_the_reports(tmp_path):
    nox = fake_nox(tmp_path, [listed(name) for name in ('a', 'b', 'c', 'd')])
    proc, report = run_lanes_command(tmp_path, nox, '--jobs', '2', '--budget', '1800')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == '4 passed, 0 failed'
    assert sum(1 for line in proc.stdout.splitlines() if line.startswith('lane ')) == 2
    assert '[1] running' in proc.stdout and '[2] running' in proc.stdout
    merged = json.loads(report.read_text())
    assert sorted(entry['name'] for entry in merged['sessions']) == ['a', 'b', 'c', 'd']
    if os.path.exists('/proc/self/stat'):
        assert all(entry['cpu_seconds'] >= 0 for entry in merged['sessions'])
        header = next(line for line in proc.stdout.splitlines() if line.startswith('session '))
        assert header.split()[:4] == ['session', 'result', 'seconds', 'cpu']
    assert (tmp_path / 'build' / 'nox-lane1.log').read_text().startswith('nox > Running session')


def test_run_fails_when_a_session_fails_or_does_not_run(tmp_path):
    nox = fake_nox(tmp_path, [listed(name) for name in ('a', 'b', 'c')], fail=['b'])
    proc, _report = run_lanes_command(tmp_path, nox)
    assert proc.returncode == 1 and proc.stdout.splitlines()[-1] == '2 passed, 1 failed'
    nothing = fake_nox(tmp_path, [])
    proc, _report = run_lanes_command(tmp_path, nothing, '-e', 'nope')
    assert proc.returncode == 1 and proc.stdout.splitlines()[-1] == '0 passed, 1 failed'


# -- interpreters ----------------------------------------------------------------------------------------------------------
def test_a_python_on_path_that_runs_is_given_by_version(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'python3.12').write_text('#!/bin/sh\nexit 0\n')
    (bin_dir / 'python3.12').chmod(0o755)
    assert noxsupport.python_interpreter('3.12', path=str(bin_dir), pyenv_root=str(tmp_path / 'none')) == '3.12'


def test_a_pyenv_shim_that_refuses_falls_back_to_the_newest_pyenv_install(tmp_path):
    shims = tmp_path / 'shims'
    shims.mkdir()
    (shims / 'python3.12').write_text('#!/bin/sh\necho "pyenv: python3.12: command not found" >&2\nexit 127\n')
    (shims / 'python3.12').chmod(0o755)
    root = tmp_path / 'pyenv'
    for version in ('3.12.1', '3.12.10', '3.12.9', '3.13.0', '3.1.2'):
        binary = root / 'versions' / version / 'bin' / ('python' + version.rsplit('.', 1)[0])
        binary.parent.mkdir(parents=True)
        binary.write_text('#!/bin/sh\nexit 0\n')
        binary.chmod(0o755)
    found = noxsupport.python_interpreter('3.12', path=str(shims), pyenv_root=str(root))
    assert found == str(root / 'versions' / '3.12.10' / 'bin' / 'python3.12')
    assert noxsupport.python_interpreter('3.14', path=str(shims), pyenv_root=str(root)) == '3.14'


# -- the copy ansible-test works in --------------------------------------------------------------------------------------
def test_the_copy_is_fresh_but_keeps_ansible_tests_venv(tmp_path):
    root = tmp_path / 'checkout'
    (root / 'plugins').mkdir(parents=True)
    (root / 'plugins' / 'a.py').write_text('a')
    (root / 'galaxy.yml').write_text('g')
    dest = tmp_path / 'place' / 'ansible_collections' / 'defender' / 'atp'
    noxsupport.refresh_copy(str(root), str(dest))
    venv = dest / 'tests' / 'output' / '.tmp' / 'delegation' / 'python3.11'
    venv.mkdir(parents=True)
    (venv / 'marker.txt').write_text('')
    (dest / 'tests' / 'output' / 'junit.xml').write_text('old output')
    (root / 'plugins' / 'a.py').unlink()
    (root / 'plugins' / 'b.py').write_text('b')
    noxsupport.refresh_copy(str(root), str(dest))
    assert sorted(p.name for p in (dest / 'plugins').iterdir()) == ['b.py']
    assert (venv / 'marker.txt').exists()
    assert not (dest / 'tests' / 'output' / 'junit.xml').exists()


def test_the_work_place_is_private_to_this_user(tmp_path, monkeypatch):
    monkeypatch.setattr(noxsupport.tempfile, 'gettempdir', lambda: str(tmp_path))
    place = noxsupport.work_place('ansible-test-units-2.16', '2.16.19', '/usr/bin/python3.11')
    base = os.path.dirname(place)
    assert (os.stat(base).st_mode & 0o777) == 0o700
    assert place == noxsupport.work_place('ansible-test-units-2.16', '2.16.19', '/usr/bin/python3.11')
    assert place != noxsupport.work_place('ansible-test-units-2.16', '2.16.20', '/usr/bin/python3.11')
    os.chmod(base, 0o755)
    with pytest.raises(RuntimeError):
        noxsupport.work_place('x')
    os.rmdir(base)
    os.symlink(str(tmp_path), base)
    with pytest.raises(RuntimeError):
        noxsupport.work_place('x')


def test_the_lock_makes_a_second_holder_wait(tmp_path):
    path = str(tmp_path / 'place.lock')
    messages = []
    with noxsupport.locked(path):
        waiter = subprocess.Popen([sys.executable, '-c', 'import sys; sys.path.insert(0, %r); import noxsupport\n'
                                   'with noxsupport.locked(%r, log=print):\n    print("got it")' % (os.path.dirname(SCRIPT), path)],
                                  stdout=subprocess.PIPE, text=True)
        import time
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting
    out, _err = waiter.communicate(timeout=30)
    assert out.splitlines() == ['waiting for another run that holds %s' % path, 'got it']
    with noxsupport.locked(path, log=messages.append):
        pass
    assert messages == []


# -- ansible-core venvs shared by the sessions of a release -----------------------------------------------------------------
def test_the_core_venv_is_built_once_and_then_shared(tmp_path, monkeypatch):
    monkeypatch.setattr(noxsupport.tempfile, 'gettempdir', lambda: str(tmp_path))
    built = []

    def build(place, interpreter, version):
        built.append((place, interpreter, version))
        os.makedirs(os.path.join(place, 'bin'))

    first = noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: True)
    again = noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: True)
    assert first == again and len(built) == 1
    assert built[0][1:] == (os.path.realpath(sys.executable), '2.16.19')
    assert first.startswith(os.path.join(str(tmp_path), 'defender-atp-%d' % os.getuid()) + os.sep)
    other = noxsupport.core_venv('2.21.5', sys.executable, build=build, starts=lambda _python: True)
    assert other != first and len(built) == 2


def test_a_core_venv_without_its_stamp_or_that_does_not_start_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setattr(noxsupport.tempfile, 'gettempdir', lambda: str(tmp_path))
    built = []

    def build(place, _interpreter, _version):
        built.append(place)
        os.makedirs(os.path.join(place, 'bin'))
        (open(os.path.join(place, 'leftover'), 'w')).close()

    place = noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: True)
    os.unlink(os.path.join(place, noxsupport.CORE_STAMP))  # a build that stopped before the stamp
    noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: True)
    noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: False)  # its Python is gone
    assert len(built) == 3


def test_a_build_that_fails_leaves_no_stamp(tmp_path, monkeypatch):
    monkeypatch.setattr(noxsupport.tempfile, 'gettempdir', lambda: str(tmp_path))

    def build(place, _interpreter, _version):
        os.makedirs(place)
        raise subprocess.CalledProcessError(1, ['pip'])

    with pytest.raises(subprocess.CalledProcessError):
        noxsupport.core_venv('2.16.19', sys.executable, build=build, starts=lambda _python: True)
    place = noxsupport.work_place('ansible-core', '2.16.19', os.path.realpath(sys.executable))
    assert not os.path.exists(os.path.join(place, noxsupport.CORE_STAMP))
