# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""extensions/awx/credential_type.yml injects exactly what the modules and the inventory plugin read."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.defender.atp.tests.unit.module_args import patch_module_args

from ansible_collections.defender.atp.plugins.module_utils._auth.authenticator import select_methods
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, ConnectionSettings

SECRET_OPTIONS = sorted(name for name, spec in CONNECTION_ARGSPEC.items() if spec.get('no_log'))
READ_ENV = dict((env, name) for name, spec in CONNECTION_ARGSPEC.items() if spec.get('fallback')
                for env in spec['fallback'][1])
# Inputs that hold secrets although no module option of that name exists (the PEM text behind certificate_path).
SECRET_INPUTS = ('certificate',)


def fields(credential_type):
    return dict((field['id'], field) for field in credential_type['inputs']['fields'])


def module_params(env, monkeypatch):
    """The connection options a module ends up with when AWX gives the job this environment."""
    for name in READ_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with patch_module_args({}):
        module = AnsibleModule(argument_spec=dict(CONNECTION_ARGSPEC))
    return module.params


def test_shape(credential_type):
    assert credential_type['kind'] == 'cloud'
    assert credential_type['name'] and credential_type['description']
    ids = [field['id'] for field in credential_type['inputs']['fields']]
    assert len(ids) == len(set(ids))
    assert set(credential_type['inputs']['required']) <= set(ids)
    for field in credential_type['inputs']['fields']:
        assert field['label'] and field['type'] in ('string', 'boolean'), field['id']
    assert set(credential_type['injectors']) <= {'env', 'file', 'extra_vars'}


def test_every_injected_variable_is_one_the_modules_read(credential_type):
    injected = set(credential_type['injectors']['env'])
    assert injected <= set(READ_ENV), sorted(injected - set(READ_ENV))
    # The credential covers every way to authenticate and every endpoint setting an operator picks.
    options = set(READ_ENV[name] for name in injected)
    assert options >= {'tenant_id', 'client_id', 'client_secret', 'certificate_path', 'certificate_password', 'username',
                       'password', 'cloud', 'region', 'api_url', 'login_url', 'graph_url', 'ca_path'}


def test_every_secret_input_is_secret(credential_type):
    by_id = fields(credential_type)
    for name in SECRET_OPTIONS + list(SECRET_INPUTS):
        if name in by_id:
            assert by_id[name].get('secret') is True, name
    assert 'access_token' not in by_id  # tokens expire within the hour: not something to store
    for name in ('certificate', 'ca_bundle'):
        assert by_id[name].get('multiline') is True
    # A boolean input is injected as False when left blank (AWX), so validate_certs must not be an input.
    assert not any(field['type'] == 'boolean' for field in credential_type['inputs']['fields'])


def test_templates_use_only_declared_inputs(credential_type):
    from jinja2 import Environment, meta
    declared = set(fields(credential_type)) | {'tower'}
    templates = list(credential_type['injectors']['env'].values()) + list(credential_type['injectors']['file'].values())
    for template in templates:
        assert meta.find_undeclared_variables(Environment().parse(template)) <= declared, template


def test_choices_match_the_options(credential_type):
    by_id = fields(credential_type)
    for name in ('cloud', 'region'):
        assert sorted(by_id[name]['choices']) == sorted(CONNECTION_ARGSPEC[name]['choices'])


def test_client_secret_credential(inject, monkeypatch):
    env = inject(tenant_id='t-1', client_id='c-1', client_secret='s3cr3t-value')
    assert env['AZURE_CLIENT_SECRET'] == 's3cr3t-value'
    assert env['AZURE_CLIENT_CERTIFICATE_PATH'] == '' and env['DEFENDER_ATP_CA_PATH'] == ''
    assert env['DEFENDER_ATP_CLOUD'] == 'commercial' and env['DEFENDER_ATP_REGION'] == ''
    params = module_params(env, monkeypatch)
    assert (params['tenant_id'], params['client_id'], params['client_secret']) == ('t-1', 'c-1', 's3cr3t-value')
    assert params['region'] is None and params['certificate_path'] is None and params['ca_path'] is None
    settings = ConnectionSettings(params)
    assert select_methods(settings.auth_params)[0].NAME == 'client_secret'
    assert settings.endpoints['api_url'] == 'https://api.security.microsoft.com'


def test_certificate_credential_writes_a_private_file(inject, monkeypatch, emu):
    with open(emu['encrypted_certificate_path']) as handle:
        pem = handle.read()
    env = inject(tenant_id='t-1', client_id='c-1', certificate=pem, certificate_password=emu['certificate_password'],
                 cloud='gcc_high')
    path = env['AZURE_CLIENT_CERTIFICATE_PATH']
    assert os.path.isfile(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        assert handle.read() == pem
    params = module_params(env, monkeypatch)
    settings = ConnectionSettings(params)
    method, _fallback = select_methods(settings.auth_params)
    assert method.NAME == 'certificate'
    method(settings.auth_params).validate()  # the key decrypts with the injected password
    assert settings.endpoints['login_url'] == 'https://login.microsoftonline.us'


def test_region_endpoints_and_ca_bundle(inject, monkeypatch, emu):
    with open(emu['ca_path']) as handle:
        ca = handle.read()
    env = inject(tenant_id='t-1', client_id='c-1', client_secret='s', region='eu', ca_bundle=ca,
                 graph_url='https://graph.example/v1.0')
    params = module_params(env, monkeypatch)
    settings = ConnectionSettings(params)
    assert settings.endpoints['api_url'] == 'https://eu.api.security.microsoft.com'
    assert settings.endpoints['graph_url'] == 'https://graph.example'
    assert settings.verify == env['DEFENDER_ATP_CA_PATH'] and os.path.isfile(settings.verify)


def test_user_credential(inject, monkeypatch):
    env = inject(tenant_id='contoso.onmicrosoft.com', client_id='public-app', username='analyst@contoso.com',
                 password='user-password')
    params = module_params(env, monkeypatch)
    assert select_methods(ConnectionSettings(params).auth_params)[0].NAME == 'password'


def test_a_blank_cloud_defaults_to_commercial(inject):
    assert inject(tenant_id='t', client_id='c', cloud='')['DEFENDER_ATP_CLOUD'] == 'commercial'


@pytest.mark.parametrize('name', ['DEFENDER_ATP_REGION', 'AZURE_CLIENT_CERTIFICATE_PATH', 'DEFENDER_ATP_CA_PATH',
                                  'DEFENDER_ATP_VALIDATE_CERTS', 'DEFENDER_ATP_TIMEOUT'])
def test_modules_treat_an_empty_variable_as_unset(name, monkeypatch):
    params = module_params({name: ''}, monkeypatch)
    option = READ_ENV[name]
    assert params[option] == CONNECTION_ARGSPEC[option].get('default')
