# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each module imports only what it runs (issue 21): checked in a fresh interpreter, as a module process starts.

An info module loads none of the machine-action code; no module loads PyJWT or cryptography's x509 unless it uses
certificate authentication or verifies a signature (benchmarks/startup.md measures what that saves)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

# The directory that holds ansible_collections/ (this file is <it>/ansible_collections/defender/atp/tests/unit/plugins/).
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), *(['..'] * 6)))
PREFIX = 'ansible_collections.defender.atp.plugins.module_utils.'
MODULES = ('atp_alert', 'atp_alert_info', 'atp_app_restriction', 'atp_indicator', 'atp_indicator_info',
           'atp_machine_action', 'atp_machine_info', 'atp_machine_isolate', 'atp_machine_tag', 'atp_query', 'atp_token')
PROBE = '''
import json, sys
import ansible_collections.defender.atp.plugins.modules.%s
print(json.dumps(sorted(sys.modules)))
'''


def loaded(module):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in sys.path if p]))
    out = subprocess.run([sys.executable, '-c', PROBE % module], env=env, check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize('module', MODULES)
def test_no_module_imports_pyjwt_or_x509_at_start(module):
    names = loaded(module)
    assert not [n for n in names if n == 'jwt' or n.startswith('jwt.') or n.startswith('cryptography.x509')], module


@pytest.mark.parametrize('module', ['atp_alert', 'atp_alert_info', 'atp_indicator', 'atp_indicator_info', 'atp_query',
                                    'atp_token'])
def test_modules_that_act_on_no_machine_import_no_machine_code(module):
    names = loaded(module)
    assert not [n for n in names if n.startswith(PREFIX + '_machines')], module


def test_atp_machine_info_reads_isolation_states_without_the_action_code():
    names = loaded('atp_machine_info')
    machines = sorted(n[len(PREFIX):] for n in names if n.startswith(PREFIX + '_machines'))
    assert machines == ['_machines', '_machines.decisions', '_machines.directory', '_machines.history',
                        '_machines.states'], machines
