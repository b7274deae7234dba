# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment: its definition, and the build context `ansible-builder create` generates from it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'scripts', 'ee_context.py')
# ansible-test units installs only tests/unit/requirements.txt; the awx nox session installs ansible-builder and runs this.
HAS_BUILDER = os.path.exists(os.path.join(os.path.dirname(sys.executable), 'ansible-builder'))


def load(rel):
    with open(os.path.join(ROOT, rel)) as handle:
        return yaml.safe_load(handle)


def requirement_lines(rel):
    with open(os.path.join(ROOT, rel)) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith('#')]


def test_collection_metadata_names_the_runtime_requirements():
    meta = load('meta/execution-environment.yml')
    assert meta['version'] == 1
    assert meta['dependencies']['python'] == 'requirements.txt'
    names = [line.split('>')[0].split('=')[0].split('[')[0].lower() for line in requirement_lines('requirements.txt')]
    assert names == ['requests', 'pyjwt']
    assert 'pyjwt[crypto]' in requirement_lines('requirements.txt')[1]


def test_execution_environment_definition():
    ee = load('execution-environment.yml')
    assert ee['version'] == 3
    deps = ee['dependencies']
    assert deps['python'] == 'requirements.txt'
    assert deps['ansible_core']['package_pip'].startswith('ansible-core')
    assert deps['ansible_runner']['package_pip'].startswith('ansible-runner')
    assert deps['galaxy']['collections'][0]['type'] == 'file'


@pytest.mark.skipif(not os.path.isfile(SCRIPT), reason='scripts/ is not part of an installed collection')
@pytest.mark.skipif(not HAS_BUILDER, reason='ansible-builder is not installed here (the awx session runs this test)')
def test_ansible_builder_create_generates_a_complete_context(tmp_path):
    """`ansible-builder create` (a container engine is not available, so the context is what is tested)."""
    proc = subprocess.run([sys.executable, SCRIPT, '--context', str(tmp_path / 'ctx'), '--check'], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout
    assert 'introspect: pyjwt, requests' in proc.stdout
    with open(str(tmp_path / 'ctx' / 'Containerfile')) as handle:
        containerfile = handle.read()
    assert 'FROM $EE_BASE_IMAGE' in containerfile and 'ansible-galaxy collection install' in containerfile
    with open(str(tmp_path / 'ctx' / '_build' / 'requirements.txt')) as handle:
        requirements = handle.read()
    assert 'requests' in requirements and 'pyjwt[crypto]' in requirements
