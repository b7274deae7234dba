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
