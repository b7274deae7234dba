# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX credential type of the collection, and how AWX turns a credential into a job's environment."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import tempfile

import pytest
import yaml

TESTS_UNIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(TESTS_UNIT))
CREDENTIAL_TYPE = os.path.join(COLLECTION_ROOT, 'extensions', 'awx', 'credential_type.yml')


@pytest.fixture(scope='session')
def credential_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


class _Namespace(object):
    pass


def awx_inject(credential_type, inputs, private_data_dir):
    """Render a credential's injectors as AWX does (``CredentialType.inject_credential``); return the env dict.

    AWX puts only non-empty inputs into the template namespace, renders every file injector into a private file
    under ``<private_data_dir>/env`` (``tower.filename.<name>``), then renders every env injector, blank inputs
    giving empty strings, in an immutable Jinja2 sandbox.
    """
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    sandbox = ImmutableSandboxedEnvironment()
    namespace = dict((name, value) for name, value in inputs.items() if value not in (None, ''))
    tower = _Namespace()
    namespace['tower'] = tower
    env_dir = os.path.join(str(private_data_dir), 'env')
    if not os.path.isdir(env_dir):
        os.makedirs(env_dir)
    for label, template in credential_type['injectors'].get('file', {}).items():
        data = sandbox.from_string(template).render(**namespace)
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as stream:
            stream.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' not in label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
    return dict((name, sandbox.from_string(template).render(**namespace))
                for name, template in credential_type['injectors'].get('env', {}).items())


@pytest.fixture
def inject(credential_type, tmp_path):
    """``inject(**inputs)`` -> the environment AWX gives a job for a credential with these inputs."""
    def run(**inputs):
        return awx_inject(credential_type, inputs, tmp_path / 'awx-private-data')
    return run


@pytest.fixture(scope='session')
def awx_injector():
    """The function ``awx_inject(credential_type, inputs, private_data_dir)``, for tests that build a whole job."""
    return awx_inject
