# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plugins and modules share one option model: the PLUGINS doc fragment matches CONNECTION_ARGSPEC."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible.errors import AnsibleError, AnsibleParserError

from ansible_collections.defender.atp.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.defender.atp.plugins.module_utils.connection_options import CONNECTION_ARGSPEC
from ansible_collections.defender.atp.plugins.plugin_utils import connection as plugin_connection

PLUGIN_OPTIONS = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']
MODULE_OPTIONS = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
# region has no choices for plugins: Ansible's config would reject the empty value an AWX credential injects for a
# blank region before the plugin sees it; ConnectionSettings checks the value instead (same message as the modules).
CHOICES_CHECKED_BY_SHARED_CODE = ('region',)


def test_plugins_fragment_documents_every_connection_option():
    assert set(PLUGIN_OPTIONS) == set(CONNECTION_ARGSPEC) == set(MODULE_OPTIONS)


@pytest.mark.parametrize('name', sorted(CONNECTION_ARGSPEC))
def test_plugin_option_matches_the_argspec(name):
    spec = CONNECTION_ARGSPEC[name]
    doc = PLUGIN_OPTIONS[name]
    assert doc['type'] == spec['type']
    assert doc.get('default') == spec.get('default')
    env = [entry['name'] for entry in doc.get('env', [])]
    assert env == plugin_connection.env_names(name), 'env of %s must be the modules\' fallbacks' % name
    if name in CHOICES_CHECKED_BY_SHARED_CODE:
        assert 'choices' not in doc
        for choice in spec['choices']:
            assert 'V(%s)' % choice in ' '.join(doc['description'])
    else:
        assert doc.get('choices') == spec.get('choices')


def test_secret_options():
    assert plugin_connection.SECRET_OPTIONS == ('access_token', 'certificate_password', 'client_secret', 'password')
    assert not set(plugin_connection.SECRET_OPTIONS) & set(plugin_connection.IDENTITY_OPTIONS)


class FakePlugin(object):
    NAME = 'defender.atp.fake'

    def __init__(self, values, origins=None, templar=None):
        self.values = values
        self.origins = origins or {}
        self.templar = templar

    def get_option_and_origin(self, name):
        if name in self.values:
            return self.values[name], self.origins.get(name, 'Direct')
        return CONNECTION_ARGSPEC[name].get('default'), 'default'


class UpperTemplar(object):
    def template(self, value):
        return value.replace('{{ x }}', 'TEMPLATED')


def test_connection_params_from_plugin_options(monkeypatch, tmp_path):
    monkeypatch.setenv('AZURE_CLIENT_CERTIFICATE_PATH', '')
    monkeypatch.setenv('DEFENDER_ATP_REGION', '')
    monkeypatch.setenv('HOME', str(tmp_path))
    plugin = FakePlugin(
        dict(tenant_id='t', client_secret='s-{{ x }}', client_id='{{ x }}', certificate_path=os.getcwd(), region='',
             ca_path='~/ca.pem'),
        origins=dict(client_secret='env: AZURE_CLIENT_SECRET', certificate_path='env: AZURE_CLIENT_CERTIFICATE_PATH',
                     region='env: DEFENDER_ATP_REGION'),
        templar=UpperTemplar())
    params = plugin_connection.connection_params(plugin)
    assert set(params) == set(CONNECTION_ARGSPEC)
    assert params['client_id'] == 'TEMPLATED'  # written in the inventory file: templated
    assert params['client_secret'] == 's-{{ x }}'  # from the environment: never templated
    assert params['certificate_path'] is None  # an empty variable (Ansible made it the current directory)
    assert params['region'] is None
    assert params['ca_path'] == str(tmp_path / 'ca.pem')
    assert params['timeout'] == 60 and params['auth_method'] == 'auto'


def test_plugin_connection_errors_become_ansible_errors():
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    with pytest.raises(AnsibleParserError, match='defender.atp.fake: No credentials given'):
        plugin_connection.PluginConnection(params, 'defender.atp.fake')
    params.update(tenant_id='t', client_id='c', client_secret='s', api_url='not a url')
    with pytest.raises(AnsibleParserError, match='api_url must be an absolute'):
        plugin_connection.PluginConnection(params, 'defender.atp.fake')


def test_identity_names_the_caller_without_secrets():
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(tenant_id='tenant', client_id='client', client_secret='very-secret-value')
    connection = plugin_connection.PluginConnection(params, 'defender.atp.fake')
    try:
        identity = connection.identity()
    finally:
        connection.close()
    assert identity['tenant_id'] == 'tenant' and identity['client_id'] == 'client' and identity['method'] == 'client_secret'
    assert 'very-secret-value' not in repr(identity)
    assert plugin_connection.stable_digest(identity) == plugin_connection.stable_digest(dict(identity))


def test_validate_certs_false_warns():
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(tenant_id='t', client_id='c', client_secret='s', validate_certs=False)
    warnings = []
    plugin_connection.PluginConnection(params, 'defender.atp.fake', warn=warnings.append).close()
    assert warnings and 'validate_certs is false' in warnings[0]


def test_missing_libraries_name_the_controller_python(monkeypatch):
    monkeypatch.setattr(plugin_connection, 'HAS_REQUESTS', False)
    with pytest.raises(AnsibleError, match='requests.*controller.*python'):
        plugin_connection.check_requirements('defender.atp.fake')


def test_plain_http_is_refused_for_plugins_and_warned_for_loopback():
    """The inventory shares the modules' URL check (issue 11 section 2; 0.1.0 accepted any http URL)."""
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(tenant_id='t', client_id='c', client_secret='s', login_url='http://login.example.com')
    with pytest.raises(AnsibleParserError, match='login_url is .*plain http is refused'):
        plugin_connection.PluginConnection(params, 'defender.atp.fake')
    params.update(login_url='http://127.0.0.1:8080')
    warnings = []
    plugin_connection.PluginConnection(params, 'defender.atp.fake', warn=warnings.append).close()
    assert warnings == ['defender.atp.fake: login_url is \'http://127.0.0.1:8080\': plain http to a loopback host; credentials '
                        'and tokens are sent unencrypted on this machine. Use https outside of local tests.']


class PluginBefore219(object):
    """An inventory plugin as ansible-core 2.16-2.18 make it: ``get_option`` has what the inventory file set, but
    ``get_option_and_origin`` asks the configuration again (environment, ansible.cfg, defaults) and ignores the file."""
    NAME = 'defender.atp.fake'

    def __init__(self, from_file, templar=None):
        self._options = dict(from_file)
        self.templar = templar

    def get_option(self, name):
        if name in self._options:
            return self._options[name]
        return CONNECTION_ARGSPEC[name].get('default')

    def get_option_and_origin(self, name):
        return CONNECTION_ARGSPEC[name].get('default'), 'default'


def test_options_from_the_inventory_file_count_before_ansible_core_2_19(monkeypatch):
    # ansible-core 2.16: 'No credentials given' although the file had them (the inventory failed on 2.16).
    for variable in ('AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'):
        monkeypatch.delenv(variable, raising=False)
    plugin = PluginBefore219(dict(tenant_id='t', client_id='c', client_secret='s-{{ x }}'), templar=UpperTemplar())
    params = plugin_connection.connection_params(plugin)
    assert (params['tenant_id'], params['client_id']) == ('t', 'c')
    assert params['client_secret'] == 's-TEMPLATED'  # written in the file, so templated
