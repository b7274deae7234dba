# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plugins and modules share one option model: one doc fragment, the modules' fallbacks, one connection setup."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible.errors import AnsibleError, AnsibleParserError

from ansible_collections.defender.atp.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.defender.atp.plugins.inventory import machines as machines_module
from ansible_collections.defender.atp.plugins.module_utils._connection import ApiConnection
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC, option_env_names
from ansible_collections.defender.atp.plugins.plugin_utils import _connection as plugin_connection

MODULE_OPTIONS = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
PLUGINS_FRAGMENT = yaml.safe_load(ModuleDocFragment.PLUGINS)


def test_the_inventory_extends_the_connection_fragment_instead_of_repeating_it():
    doc = yaml.safe_load(machines_module.DOCUMENTATION)
    assert doc['extends_documentation_fragment'][:2] == ['defender.atp.connection', 'defender.atp.connection.plugins']
    assert not set(doc['options']) & set(CONNECTION_ARGSPEC)
    # The plugins variant only adds notes: the options are documented once, for modules and plugins alike.
    assert not PLUGINS_FRAGMENT['options']
    assert set(MODULE_OPTIONS) == set(CONNECTION_ARGSPEC)


class FakePlugin(object):
    """A plugin whose configuration file set ``values`` (get_option returns them, as after _read_config_data)."""

    NAME = 'defender.atp.fake'

    def __init__(self, values, templar=None):
        self.values = values
        self.templar = templar

    def get_option(self, name):
        if name in self.values:
            return self.values[name]
        # Without an env entry in the docs, Ansible's config only knows the default.
        return CONNECTION_ARGSPEC[name].get('default')


class UpperTemplar(object):
    def template(self, value):
        return value.replace('{{ x }}', 'TEMPLATED')


def params_of(values, monkeypatch=None, templar=None):
    plugin = FakePlugin(values, templar=templar)
    return plugin_connection.connection_params(plugin, set(values))


def test_options_written_in_the_file_are_read_and_templated(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    params = params_of(dict(tenant_id='t', client_id='{{ x }}', ca_path='~/ca.pem', timeout=5.0), templar=UpperTemplar())
    assert set(params) == set(CONNECTION_ARGSPEC)
    assert params['client_id'] == 'TEMPLATED'
    assert params['tenant_id'] == 't'
    assert params['ca_path'] == str(tmp_path / 'ca.pem')
    assert params['timeout'] == 5.0 and params['auth_method'] == 'auto' and params['max_retries'] == 5


def test_the_environment_fills_what_the_file_does_not_set_and_is_never_templated(monkeypatch):
    monkeypatch.setenv('AZURE_CLIENT_SECRET', 's-{{ x }}')
    monkeypatch.setenv('AZURE_TENANT_ID', 'from-env')
    monkeypatch.setenv('DEFENDER_ATP_VALIDATE_CERTS', 'no')
    monkeypatch.setenv('DEFENDER_ATP_MAX_RETRIES', '2')
    monkeypatch.setenv('AZURE_AUTHORITY_HOST', 'https://login.example')
    params = params_of(dict(tenant_id='from-file', client_id='c'), templar=UpperTemplar())
    assert params['tenant_id'] == 'from-file'  # the file wins over the environment, as a module option does
    assert params['client_secret'] == 's-{{ x }}'  # from the environment: never templated
    assert params['validate_certs'] is False and params['max_retries'] == 2  # typed as the modules type them
    assert params['login_url'] == 'https://login.example'  # the second fallback of login_url


def test_an_empty_environment_variable_counts_as_unset(monkeypatch):
    # AWX credential types inject every variable they declare, '' for a blank input.
    for name in ('AZURE_CLIENT_CERTIFICATE_PATH', 'DEFENDER_ATP_REGION', 'DEFENDER_ATP_CLOUD', 'DEFENDER_ATP_TIMEOUT'):
        monkeypatch.setenv(name, '')
    params = params_of(dict(tenant_id='t'))
    assert params['certificate_path'] is None and params['region'] is None
    assert params['cloud'] == 'commercial' and params['timeout'] == 60


def test_an_option_set_to_null_in_the_file_falls_back_to_the_environment(monkeypatch):
    monkeypatch.setenv('AZURE_CLIENT_ID', 'from-env')
    assert params_of(dict(client_id=None))['client_id'] == 'from-env'


@pytest.mark.parametrize('variable, value, message', [
    ('DEFENDER_ATP_MAX_RETRIES', 'many', 'max_retries (from the environment variable DEFENDER_ATP_MAX_RETRIES) must be an integer, got \'many\'.'),
    ('DEFENDER_ATP_VALIDATE_CERTS', 'perhaps', 'validate_certs (from the environment variable DEFENDER_ATP_VALIDATE_CERTS) must be a boolean'),
    ('DEFENDER_ATP_REGION', 'mars', 'region (from the environment variable DEFENDER_ATP_REGION) must be one of us, eu'),
])
def test_a_bad_environment_value_is_an_option_error_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(AnsibleParserError) as caught:
        params_of(dict(tenant_id='t'))
    assert 'defender.atp.fake: ' + message in str(caught.value)


def all_defaults(**values):
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(values)
    return params


def test_plugin_connection_errors_become_ansible_errors():
    with pytest.raises(AnsibleParserError, match='defender.atp.fake: No credentials given'):
        plugin_connection.PluginConnection(all_defaults(), 'defender.atp.fake')
    with pytest.raises(AnsibleParserError, match='api_url must be an absolute'):
        plugin_connection.PluginConnection(all_defaults(tenant_id='t', client_id='c', client_secret='s', api_url='not a url'),
                                           'defender.atp.fake')


def test_identity_names_the_caller_and_the_authority_without_secrets():
    def identity(**values):
        connection = plugin_connection.PluginConnection(all_defaults(**values), 'defender.atp.fake')
        try:
            return connection.identity()
        finally:
            connection.close()

    first = identity(tenant_id='tenant', client_id='client', client_secret='very-secret-value')
    assert first['tenant_id'] == 'tenant' and first['client_id'] == 'client' and first['method'] == 'client_secret'
    assert first['authority'] == 'https://login.microsoftonline.com'
    assert 'very-secret-value' not in repr(first)
    # Another authority or API base is another identity (another cache entry), even with the same ids.
    other_authority = identity(tenant_id='tenant', client_id='client', client_secret='x', cloud='gcc_high')
    other_api = identity(tenant_id='tenant', client_id='client', client_secret='x', api_url='https://api.example')
    digests = set(plugin_connection.stable_digest(i) for i in (first, other_authority, other_api))
    assert len(digests) == 3
    # The secret is not part of it: the same caller with another secret has the same identity.
    assert identity(tenant_id='tenant', client_id='client', client_secret='another') == first


def test_validate_certs_false_warns_once_naming_the_plugin():
    warnings = []
    connection = plugin_connection.PluginConnection(all_defaults(tenant_id='t', client_id='c', client_secret='s',
                                                                 validate_certs=False), 'defender.atp.fake', warn=warnings.append)
    connection.settings  # pylint: disable=pointless-statement
    connection.close()
    assert warnings == ['defender.atp.fake: validate_certs is false: TLS certificates of the login and API servers are not '
                        'verified, so credentials and tokens could be intercepted. Prefer ca_path.']


def test_the_plugin_connection_is_the_modules_connection_setup():
    assert issubclass(plugin_connection.PluginConnection, ApiConnection)


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


def test_secret_options():
    from ansible_collections.defender.atp.plugins.module_utils._redaction import SECRET_OPTIONS
    assert SECRET_OPTIONS == ('access_token', 'certificate_password', 'client_secret', 'password')
    assert not set(SECRET_OPTIONS) & set(plugin_connection.IDENTITY_OPTIONS)
    assert option_env_names('login_url') == ['DEFENDER_ATP_LOGIN_URL', 'AZURE_AUTHORITY_HOST']
    assert os.environ.get('AZURE_CLIENT_SECRET') is None  # the autouse fixture keeps the developer's variables out


def test_inventory_connection_replaces_a_rejected_cached_token(emulator, conn):
    """The inventory's shared connection recovers from a rejected cached token as the modules do (issue 11).

    Here, not in tests/unit/plugins/modules: plugin_utils is controller code, which ansible-test units does not
    import in the modules' context."""
    from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC
    from ansible_collections.defender.atp.plugins.plugin_utils._connection import PluginConnection
    params = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    params.update(conn, token_cache=True)
    counts = []
    for fault in (False, True):
        if fault:
            emulator.add_fault(path=r'^/api/machines$', status=401, times=1)
        connection = PluginConnection(params, 'defender.atp.machines')
        try:
            machines, _truncated = connection.client.list_all('/api/machines')
            counts.append(connection.client.stats.token_requests)
        finally:
            connection.close()
        assert machines
    assert counts == [1, 1]
    assert [e['status'] for e in emulator.requests_log() if e['path'] == '/api/machines'] == [200, 401, 200]
