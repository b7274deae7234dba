# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import CLOUDS, resolve_endpoints
from ansible_collections.defender.atp.plugins.module_utils._connection import (
    CONNECTION_ARGSPEC, ConnectionSettings, connection_argspec)
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError


def settings(**params):
    base = dict((name, spec.get('default')) for name, spec in CONNECTION_ARGSPEC.items())
    base.update(params)
    return ConnectionSettings(base)


@pytest.mark.parametrize('cloud, login, api, graph, audience', [
    ('commercial', 'https://login.microsoftonline.com', 'https://api.security.microsoft.com', 'https://graph.microsoft.com',
     'https://api.securitycenter.microsoft.com'),
    ('gcc', 'https://login.microsoftonline.com', 'https://api-gcc.securitycenter.microsoft.us', 'https://graph.microsoft.com',
     'https://api-gcc.securitycenter.microsoft.us'),
    ('gcc_high', 'https://login.microsoftonline.us', 'https://api-gov.securitycenter.microsoft.us', 'https://graph.microsoft.us',
     'https://api-gov.securitycenter.microsoft.us'),
    ('dod', 'https://login.microsoftonline.us', 'https://api-gov.securitycenter.microsoft.us', 'https://dod-graph.microsoft.us',
     'https://api-gov.securitycenter.microsoft.us'),
])
def test_cloud_table(cloud, login, api, graph, audience):
    endpoints = resolve_endpoints(cloud)
    assert endpoints['login_url'] == login
    assert endpoints['api_url'] == api
    assert endpoints['graph_url'] == graph
    assert endpoints['defender_audience'] == audience


def test_every_cloud_has_every_endpoint():
    for cloud in CLOUDS:
        assert set(resolve_endpoints(cloud)) == {'login_url', 'api_url', 'graph_url', 'defender_audience', 'graph_audience'}


def test_region_and_overrides():
    assert resolve_endpoints('commercial', region='eu')['api_url'] == 'https://eu.api.security.microsoft.com'
    assert resolve_endpoints('commercial', region='eu')['defender_audience'] == 'https://api.securitycenter.microsoft.com'
    with pytest.raises(ValueError, match='only applies to the commercial cloud'):
        resolve_endpoints('gcc_high', region='us')
    endpoints = resolve_endpoints('commercial', api_url='https://proxy.example/api/', graph_url='https://g.example/v1.0')
    assert endpoints['api_url'] == 'https://proxy.example' and endpoints['graph_url'] == 'https://g.example'


@pytest.mark.parametrize('name, value', [('api_url', 'api.security.microsoft.com'), ('login_url', 'ftp://x'),
                                         ('graph_url', 'https://'), ('api_url', 'https://x/?a=1'),
                                         ('api_url', 'https://api example.com'), ('api_url', 'https://[::1'),
                                         ('api_url', 'https://x:99999'), ('login_url', 'https://user:pw@login.example'),
                                         ('graph_url', 'https://-bad-.example'), ('api_url', 'https://a..b')])
def test_bad_urls_are_rejected_before_any_request(name, value):
    with pytest.raises(AtpOptionError, match=name):
        settings(**{name: value})


@pytest.mark.parametrize('value', ['https://127.0.0.1:8443', 'https://[::1]:8443', 'https://api.security.microsoft.com/',
                                   'https://proxy_host.local:8080/api', 'https://xn--bcher-kva.example'])
def test_good_urls_pass(value):
    assert settings(api_url=value).base_url('defender')


@pytest.mark.parametrize('tenant', ['contoso.onmicrosoft.com/../common', 'contoso?x=1', 'a b', "['a', 'b']", 'x/', '.x'])
def test_tenant_ids_that_would_change_the_token_url_are_rejected(tenant):
    with pytest.raises(AtpOptionError, match='tenant_id'):
        settings(tenant_id=tenant)


def test_tls_options(tmp_path):
    assert settings().verify is True
    assert settings(validate_certs=False).verify is False
    bundle = tmp_path / 'ca.pem'
    bundle.write_text('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    assert settings(ca_path=str(bundle)).verify == str(bundle)
    with pytest.raises(AtpOptionError, match='ca_path'):
        settings(ca_path=str(tmp_path / 'missing.pem'))
    not_pem = tmp_path / 'not-pem.pem'
    not_pem.write_text('x')
    with pytest.raises(AtpOptionError, match='ca_path .* holds no PEM certificate'):
        settings(ca_path=str(not_pem))


@pytest.mark.parametrize('params, fragment', [({'timeout': 0}, 'timeout'), ({'max_retries': -1}, 'max_retries'),
                                              ({'max_retry_wait': -5}, 'max_retry_wait')])
def test_numeric_bounds(params, fragment):
    with pytest.raises(AtpOptionError, match=fragment):
        settings(**params)


def test_secrets_are_no_log_and_module_can_override_defaults():
    for name in ('client_secret', 'certificate_password', 'password', 'access_token'):
        assert CONNECTION_ARGSPEC[name].get('no_log') is True
    spec = connection_argspec(timeout=dict(default=210), query=dict(type='str', required=True))
    assert spec['timeout'] == dict(type='float', default=210, fallback=CONNECTION_ARGSPEC['timeout']['fallback'])
    assert spec['query']['required'] is True
    assert CONNECTION_ARGSPEC['timeout']['default'] == 60


# -- issue 11, section 2: no secret or token over plain http (these failed on 0.1.0, which accepted any http URL) --

@pytest.mark.parametrize('name', ['api_url', 'login_url', 'graph_url'])
@pytest.mark.parametrize('value', ['http://login.example.com', 'HTTP://api.example.com/api', 'http://10.0.0.5:8080',
                                   'http://127.example.com', 'http://127.0.0.1.nip.io', 'http://[::ffff:8.8.8.8]',
                                   'http://localhost.example.com'])
def test_plain_http_is_refused_naming_the_option(name, value):
    with pytest.raises(AtpOptionError) as caught:
        settings(**{name: value})
    message = caught.value.message
    assert message.startswith(name + ' ')
    assert 'plain http is refused' in message and 'https' in message


def test_authority_host_environment_variable_is_checked_too(monkeypatch):
    """AZURE_AUTHORITY_HOST reaches login_url through its fallback; the error names both."""
    from ansible.module_utils.basic import AnsibleFallbackNotFound
    fallback, names = CONNECTION_ARGSPEC['login_url']['fallback']
    monkeypatch.setenv('AZURE_AUTHORITY_HOST', 'http://login.example.com')
    try:
        value = fallback(*names)
    except AnsibleFallbackNotFound:  # pragma: no cover
        pytest.fail('AZURE_AUTHORITY_HOST is not a fallback of login_url')
    with pytest.raises(AtpOptionError, match='login_url is .* plain http is refused.*AZURE_AUTHORITY_HOST'):
        settings(login_url=value)


@pytest.mark.parametrize('value', ['http://localhost:8080', 'http://LOCALHOST', 'http://127.0.0.1:8443',
                                   'http://127.10.20.30', 'http://[::1]:8443', 'http://[0:0:0:0:0:0:0:1]'])
def test_plain_http_to_loopback_is_accepted_with_a_warning(value):
    result = settings(api_url=value, login_url=value, graph_url=value)
    assert len(result.warnings) == 3
    assert all('plain http to a loopback host' in warning for warning in result.warnings)
    assert [w.split(' ', 1)[0] for w in result.warnings] == ['api_url', 'login_url', 'graph_url']


def test_https_gives_no_warning():
    assert settings(api_url='https://127.0.0.1:8443', login_url='https://login.example.com').warnings == []


@pytest.mark.parametrize('value', ['https://user:s3cr3t-pw@api example.com', 'https://user:s3cr3t-pw@[::1',
                                   'ftp://user:s3cr3t-pw@x', 'https://user:s3cr3t-pw@x:99999', 'https://x/?sig=s3cr3t-pw',
                                   'http://user:s3cr3t-pw@api.example.com', 'user:s3cr3t-pw@api.example.com',
                                   'https://x/#s3cr3t-pw'])
def test_errors_never_echo_a_password_or_query_from_the_url(value):
    """0.1.0 echoed the whole value in every check that ran before the user:password@ check."""
    with pytest.raises(AtpOptionError) as caught:
        settings(api_url=value)
    assert 's3cr3t-pw' not in caught.value.message
    assert 'api_url' in caught.value.message


def test_redact_url():
    from ansible_collections.defender.atp.plugins.module_utils._connection import redact_url
    assert redact_url('https://u:p@host:1/path?x=1#f') == 'https://<redacted>@host:1/path?<redacted>'
    assert redact_url('u:p@host/a') == '<redacted>@host/a'
    assert redact_url('https://host/a') == 'https://host/a'
