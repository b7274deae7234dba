# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures: the emulator over real HTTPS, connection options for it, and an in-process module runner."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import sys
import tempfile

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


_SHARED_EMULATOR = {}


def _shared_emulator():
    """The one emulator of this test process, started on first use; stopped by pytest_sessionfinish."""
    if 'process' not in _SHARED_EMULATOR:
        from emulator.harness import EmulatorProcess  # tests/emulator, outside the collection's plugins
        state_dir = tempfile.mkdtemp(prefix='defender-atp-unit-emulator-')
        process = EmulatorProcess(args=['--state-dir', state_dir, '--rate-scale', '0.05'])
        process.info = process.start()
        _SHARED_EMULATOR.update(process=process, state_dir=state_dir, pid=os.getpid())
    return _SHARED_EMULATOR['process']


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # ansible-test units runs every test in a fork of the pytest process (its ansible_forked plugin): a session
    # fixture set up in the fork dies with it, so the emulator would start again for every test (2-3x the run time).
    # Started here, before the fork, it is started once per pytest process, under ansible-test and plain pytest alike.
    if 'emulator' in getattr(item, 'fixturenames', ()):
        _shared_emulator()
    yield


def pytest_sessionfinish(session):
    if _SHARED_EMULATOR.get('pid') == os.getpid():  # never in a forked test process
        _SHARED_EMULATOR.pop('process').stop()
        shutil.rmtree(_SHARED_EMULATOR.pop('state_dir'), ignore_errors=True)


@pytest.fixture(scope='session')
def emulator():
    """One emulator for the whole session; tests reset what they change (see ``fresh_emulator``)."""
    return _shared_emulator()


@pytest.fixture
def fresh_emulator(emulator):
    """The session emulator with its log, data, config and faults reset before the test."""
    emulator.reset(all=True)
    return emulator


@pytest.fixture
def emu(fresh_emulator):
    return fresh_emulator.info


@pytest.fixture
def conn(emu, tmp_path):
    """Module options that reach the emulator with the full-permission application."""
    return dict(tenant_id=emu['tenant_id'], client_id=emu['client_id'], client_secret=emu['client_secret'],
                login_url=emu['url'], api_url=emu['url'], graph_url=emu['url'], ca_path=emu['ca_path'],
                token_cache=False)


@pytest.fixture(autouse=True)
def isolated_token_cache(tmp_path, monkeypatch):
    """Never read or write the developer's real token cache; never pick up their AZURE_* variables."""
    monkeypatch.setenv('DEFENDER_ATP_TOKEN_CACHE_DIR', str(tmp_path / 'token-cache'))
    for name in list(os.environ):
        if name.startswith('AZURE_') or (name.startswith('DEFENDER_ATP_') and name != 'DEFENDER_ATP_TOKEN_CACHE_DIR'):
            monkeypatch.delenv(name, raising=False)


class ModuleExit(BaseException):
    # BaseException, like the SystemExit that the real exit_json raises: AtpModule.run catches Exception.
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result.get('msg'))
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's ``main()`` in-process with ``args``; return its result dict (``failed`` set on failure)."""
    from ansible.module_utils import basic
    from ansible_collections.defender.atp.tests.unit.module_args import patch_module_args

    def fake_exit(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fake_fail(self, msg, **kwargs):
        kwargs['msg'] = msg
        kwargs['failed'] = True
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', fake_exit)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fake_fail)

    def run(main, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        with patch_module_args(args):
            try:
                main()
            except ModuleExit as done:
                # Round-trip through JSON, as Ansible would, so non-serialisable results fail here.
                return json.loads(json.dumps(done.result))
        raise AssertionError('the module returned without calling exit_json or fail_json')

    return run
