# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suites: an emulator per test module, and real ``ansible-playbook`` runs against it.

* ``ANSIBLE_COLLECTIONS_PATH``, when it holds ``ansible_collections/defender/atp``, is the collection under test
  (the ``reliability`` nox session points it at its copy); otherwise a symlink to this checkout is made.
* Playbooks are written per test from Python (lists of task dicts, dumped as JSON, which is YAML). The connection
  reaches every module through ``module_defaults`` of the ``group/defender.atp.atp`` action group, templated from an
  extra-vars file, as a user's playbook would do it.
* Every task result lands in a JSON-lines file through the ``reliability_results`` callback (next to this file),
  so a test reads what each task returned, failed or not, without extra tasks.
* The environment is the user's, on purpose: ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` stay set (ansible-test strips
  them; real runs don't). ``AZURE_*`` and ``DEFENDER_ATP_*`` variables are removed, and the token cache is private to
  the test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTS_DIR = os.path.dirname(HERE)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from support import Runner  # noqa: E402  pylint: disable=wrong-import-position


def _collections_path(tmp_path_factory):
    for entry in (os.environ.get('ANSIBLE_COLLECTIONS_PATH') or '').split(os.pathsep):
        if entry and os.path.isdir(os.path.join(entry, 'ansible_collections', 'defender', 'atp', 'plugins')):
            return entry
    base = tmp_path_factory.mktemp('collections')
    os.makedirs(str(base / 'ansible_collections' / 'defender'))
    os.symlink(ROOT, str(base / 'ansible_collections' / 'defender' / 'atp'))
    return str(base)


@pytest.fixture(scope='session')
def collections_path(tmp_path_factory):
    return _collections_path(tmp_path_factory)


def start_emulator(tmp_path_factory, *args):
    state = tmp_path_factory.mktemp('emulator')
    process = EmulatorProcess(args=['--state-dir', str(state), '--log-file', str(state / 'requests.jsonl')] + list(args))
    process.start()
    process.log_file = str(state / 'requests.jsonl')
    return process


@pytest.fixture(scope='module')
def emulator(tmp_path_factory):
    """One emulator per test module (actions go Pending 1 s, InProgress 1 s, then Succeeded)."""
    process = start_emulator(tmp_path_factory, '--action-delays', '1,1')
    yield process
    process.stop()


@pytest.fixture
def emu(emulator):
    """The module's emulator with its log, data, config, faults and rate counters reset."""
    emulator.reset(all=True)
    emulator.set_config(pending_seconds=1, inprogress_seconds=1)
    return emulator


@pytest.fixture
def runner(tmp_path, emulator, collections_path):
    return Runner(str(tmp_path), emulator, collections_path)
