# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one connection setup of modules and plugins: option resolution as AnsibleModule does it, lazy building."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

import contextlib
import json

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.defender.atp.plugins.module_utils import _connection as api_connection
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, connection_argspec
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError

try:
    from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19+
except ImportError:  # ansible-core < 2.19: the arguments AnsibleModule reads are basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


ENVIRONMENT = {
    'AZURE_TENANT_ID': 'tenant-from-env', 'AZURE_CLIENT_ID': 'client-from-env', 'AZURE_CLIENT_SECRET': 'secret {{ x }}',
    'DEFENDER_ATP_VALIDATE_CERTS': 'false', 'DEFENDER_ATP_TIMEOUT': '7.5', 'DEFENDER_ATP_MAX_RETRIES': '3',
    'DEFENDER_ATP_CLOUD': 'gcc', 'DEFENDER_ATP_REGION': '', 'AZURE_AUTHORITY_HOST': 'https://login.example',
    'DEFENDER_ATP_CA_PATH': '~/ca.pem',
}


@pytest.mark.parametrize('given', [{}, {'tenant_id': 'given', 'timeout': 3.0, 'cloud': 'dod'}])
def test_resolution_equals_ansible_modules(monkeypatch, tmp_path, given):
    """What resolve_connection_options makes of options and environment is exactly what AnsibleModule makes of them."""
    monkeypatch.setenv('HOME', str(tmp_path))
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with patch_module_args(given):
        module = AnsibleModule(argument_spec=connection_argspec())
    expected = dict((name, module.params[name]) for name in CONNECTION_ARGSPEC)
    assert api_connection.resolve_connection_options(given) == expected
    assert expected['ca_path'] == str(tmp_path / 'ca.pem') and expected['region'] is None


def test_defaults_without_anything_given():
    params = api_connection.resolve_connection_options({})
    assert params['auth_method'] == 'auto' and params['cloud'] == 'commercial' and params['validate_certs'] is True
    assert params['timeout'] == 60 and params['max_retries'] == 5 and params['token_cache'] is True
    assert params['tenant_id'] is None and params['client_secret'] is None


def test_a_given_value_of_the_wrong_type_is_an_option_error():
    with pytest.raises(AtpOptionError, match=r"^timeout must be a number, got 'soon'\.$"):
        api_connection.resolve_connection_options({'timeout': 'soon'})
    with pytest.raises(AtpOptionError, match='^cloud must be one of commercial, dod, gcc, gcc_high'):
        api_connection.resolve_connection_options({'cloud': 'moon'})


def test_the_connection_is_built_once_on_first_use_and_warns_once_about_tls():
    params = api_connection.resolve_connection_options(dict(tenant_id='t', client_id='c', client_secret='s',
                                                            validate_certs=False))
    warnings = []
    connection = api_connection.ApiConnection(params, warn=warnings.append)
    assert connection.built_client is None and connection.built_authenticator is None
    client = connection.client
    assert connection.client is client and connection.built_client is client
    assert connection.authenticator is connection.built_authenticator and connection.authenticator.name == 'client_secret'
    connection.close()
    assert warnings == [api_connection.TLS_UNVERIFIED_WARNING]


def test_a_bad_option_surfaces_on_first_use():
    connection = api_connection.ApiConnection(api_connection.resolve_connection_options({'api_url': 'ftp://x'}))
    with pytest.raises(AtpOptionError, match='api_url'):
        connection.client  # pylint: disable=pointless-statement


def test_modules_use_the_shared_setup_and_warn_once(monkeypatch):
    warnings = []
    with patch_module_args(dict(tenant_id='t', client_id='c', client_secret='s', validate_certs=False)):
        module = AtpModule()
    monkeypatch.setattr(module.module, 'warn', warnings.append)
    assert isinstance(module.connection, api_connection.ApiConnection)
    assert module.client is module.connection.client and module.settings is module.connection.settings
    module.prepare()
    assert warnings == [api_connection.TLS_UNVERIFIED_WARNING]
