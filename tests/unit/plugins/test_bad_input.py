# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input, table-driven: every option of every module, wrong in every way worth trying.

Each case runs the module in-process against the emulator and must end in a failure whose message
names the option, without a traceback, and without a single request in the emulator's log.

* Connection options are shared by every module, so each of their cases runs against every module.
* Module options have their own table per module.
* Not errors, on purpose (tested elsewhere): a machine name that matches nothing (reported per machine
  after the lookup); a ``machines`` list longer than ``max_machines`` (machines already in the desired
  state do not count, so the machines are read first and the task is refused before any write,
  see ``test_a_huge_machine_list_is_refused_before_any_write``); ``required_permissions`` naming a
  permission the token lacks (that is what atp_token checks).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.defender.atp.plugins.modules import (
    atp_alert, atp_alert_info, atp_app_restriction, atp_indicator, atp_indicator_info, atp_machine_action,
    atp_machine_info, atp_machine_isolate, atp_machine_tag, atp_query, atp_token)

MODULES = {
    'atp_token': (atp_token.main, {}),
    'atp_alert_info': (atp_alert_info.main, {}),
    'atp_machine_info': (atp_machine_info.main, {}),
    'atp_machine_isolate': (atp_machine_isolate.main, {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7'}),
    'atp_query': (atp_query.main, {'query': 'DeviceInfo | take 1'}),
    'atp_alert': (atp_alert.main, {'alert_ids': ['da637472900382838869_1364969609'], 'status': 'Resolved'}),
    'atp_indicator': (atp_indicator.main, {'indicators': [{'type': 'FileSha1', 'value': '1' * 40, 'action': 'Block',
                                                          'title': 't'}]}),
    'atp_indicator_info': (atp_indicator_info.main, {}),
    'atp_machine_action': (atp_machine_action.main, {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7',
                                                     'action': 'av_scan'}),
    'atp_app_restriction': (atp_app_restriction.main, {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7'}),
    'atp_machine_tag': (atp_machine_tag.main, {'machines': ['ws-finance-01.contoso.com'], 'tags': ['IR-7']}),
}

HOSTILE = "x' or id ne '"
EXPIRED, OTHER_TENANT, GRAPH_AUDIENCE = 'expired', 'other-tenant', 'graph-audience'


@pytest.fixture
def files(tmp_path, emu):
    """Certificate and CA files that are wrong in various ways."""
    paths = {}
    paths['not_pem'] = tmp_path / 'not-pem.pem'
    paths['not_pem'].write_text('this is not a certificate\n')
    paths['binary'] = tmp_path / 'binary.pfx'
    paths['binary'].write_bytes(os.urandom(512))
    with open(emu['certificate_path']) as handle:
        pem = handle.read()
    cert_only = pem[pem.index('-----BEGIN CERTIFICATE-----'):pem.index('-----END CERTIFICATE-----') + len('-----END CERTIFICATE-----')]
    paths['cert_only'] = tmp_path / 'cert-only.pem'
    paths['cert_only'].write_text(cert_only + '\n')
    paths['key_only'] = tmp_path / 'key-only.pem'
    paths['key_only'].write_text(pem.replace(cert_only, ''))
    paths['empty'] = tmp_path / 'empty.pem'
    paths['empty'].write_text('')
    paths['dir'] = tmp_path
    return dict((name, str(path)) for name, path in paths.items())


# (id, options to set (values may name a fixture file as 'file:NAME' or a token as 'token:KIND'), options to
# remove, fragments the message must hold)
CONNECTION_CASES = [
    # types
    ('timeout-not-a-number', {'timeout': 'soon'}, (), ['timeout']),
    ('max-retries-not-int', {'max_retries': 'many'}, (), ['max_retries']),
    ('max-retry-wait-not-number', {'max_retry_wait': 'long'}, (), ['max_retry_wait']),
    ('validate-certs-not-bool', {'validate_certs': 'perhaps'}, (), ['validate_certs']),
    ('token-cache-not-bool', {'token_cache': 'sometimes'}, (), ['token_cache']),
    ('tenant-id-a-list', {'tenant_id': ['a', 'b']}, (), ['tenant_id']),
    # bounds
    ('timeout-zero', {'timeout': 0}, (), ['timeout must be a positive number']),
    ('timeout-negative', {'timeout': -5}, (), ['timeout must be a positive number']),
    ('max-retries-negative', {'max_retries': -1}, (), ['max_retries must be 0 or more']),
    ('max-retry-wait-negative', {'max_retry_wait': -1}, (), ['max_retry_wait must be 0 or more']),
    # choices
    ('auth-method-unknown', {'auth_method': 'kerberos'}, (), ['auth_method', 'kerberos']),
    ('cloud-unknown', {'cloud': 'azure'}, (), ['cloud', 'azure']),
    ('region-unknown', {'region': 'mars'}, (), ['region', 'mars']),
    ('region-outside-commercial', {'cloud': 'gcc', 'region': 'eu'}, (), ['region', 'commercial']),
    # empty or missing credentials
    ('tenant-id-empty', {'tenant_id': ''}, (), ['tenant_id']),
    ('client-id-empty', {'client_id': ''}, (), ['client_id']),
    ('client-secret-empty', {'client_secret': ''}, (), ['client_secret']),
    ('no-credentials', {}, ('client_secret',), ['No credentials', 'client_secret']),
    ('username-without-password', {'username': 'analyst@contoso.onmicrosoft.com'}, ('client_secret',), ['password']),
    ('auth-method-without-its-options', {'auth_method': 'certificate'}, (), ['auth_method=certificate', 'certificate_path']),
    # malformed ids
    ('tenant-id-with-a-path', {'tenant_id': 'contoso.onmicrosoft.com/../common'}, (), ['tenant_id']),
    ('tenant-id-with-spaces', {'tenant_id': 'contoso onmicrosoft com'}, (), ['tenant_id']),
    ('tenant-id-with-a-query', {'tenant_id': 'contoso?x=1'}, (), ['tenant_id']),
    # conflicting auth
    ('two-auth-methods', {'certificate_path': 'file:cert_only'}, (), ['Ambiguous credentials', 'auth_method']),
    ('secret-and-password', {'username': 'u@contoso.com', 'password': 'p'}, (), ['Ambiguous credentials']),
    # certificates
    ('certificate-missing', {'certificate_path': '/nonexistent/cert.pem'}, ('client_secret',), ['certificate_path', 'cannot be read']),
    ('certificate-a-directory', {'certificate_path': 'file:dir'}, ('client_secret',), ['certificate_path']),
    ('certificate-not-pem', {'certificate_path': 'file:not_pem'}, ('client_secret',), ['certificate_path']),
    ('certificate-binary', {'certificate_path': 'file:binary'}, ('client_secret',), ['certificate_path']),
    ('certificate-empty-file', {'certificate_path': 'file:empty'}, ('client_secret',), ['certificate_path']),
    ('certificate-without-key', {'certificate_path': 'file:cert_only'}, ('client_secret',), ['private key', 'certificate_path']),
    ('key-without-certificate', {'certificate_path': 'file:key_only'}, ('client_secret',), ['certificate_path']),
    ('certificate-wrong-password', {'certificate_path': 'emu:encrypted_certificate_path', 'certificate_password': 'wrong'},
     ('client_secret',), ['certificate_password does not decrypt']),
    ('certificate-encrypted-no-password', {'certificate_path': 'emu:encrypted_certificate_path'}, ('client_secret',),
     ['certificate_password']),
    ('certificate-password-for-a-plain-key', {'certificate_path': 'emu:certificate_path', 'certificate_password': 'x'},
     ('client_secret',), ['certificate_password', 'not encrypted']),
    # tokens
    ('access-token-not-a-jwt', {'access_token': 'not-a-token'}, ('client_secret',), ['access_token', 'JWT']),
    ('access-token-expired', {'access_token': 'token:' + EXPIRED}, ('client_secret',), ['expiry']),
    ('access-token-other-tenant', {'access_token': 'token:' + OTHER_TENANT}, ('client_secret',), ['tenant']),
    # URLs
    ('api-url-not-a-url', {'api_url': 'not a url'}, (), ['api_url', 'absolute https URL']),
    ('api-url-ftp', {'api_url': 'ftp://api.example.com'}, (), ['api_url']),
    ('api-url-no-host', {'api_url': 'https://'}, (), ['api_url']),
    ('api-url-with-query', {'api_url': 'https://api.example.com/?x=1'}, (), ['api_url', 'query']),
    ('api-url-with-space', {'api_url': 'https://api example.com'}, (), ['api_url']),
    ('api-url-bad-ipv6', {'api_url': 'https://[::1'}, (), ['api_url']),
    ('api-url-bad-port', {'api_url': 'https://api.example.com:99999'}, (), ['api_url']),
    ('login-url-not-a-url', {'login_url': 'login.microsoftonline.com'}, (), ['login_url']),
    ('graph-url-not-a-url', {'graph_url': 'graph'}, (), ['graph_url']),
    # TLS
    ('ca-path-missing', {'ca_path': '/nonexistent/ca.pem'}, (), ['ca_path', 'does not exist']),
    ('ca-path-a-directory', {'ca_path': 'file:dir'}, (), ['ca_path']),
    ('ca-path-not-pem', {'ca_path': 'file:not_pem'}, (), ['ca_path']),
]

# Connection cases whose check needs a token but no request: atp_query uses the Graph audience, so the
# Defender-audience expired token is refused the same way; every module reads the token before its first call.


def _resolve(value, files, emu, emulator):
    if isinstance(value, str) and value.startswith('file:'):
        return files[value[5:]]
    if isinstance(value, str) and value.startswith('emu:'):
        return emu[value[4:]]
    if isinstance(value, str) and value.startswith('token:'):
        kind = value[6:]
        spec = dict(audience='https://api.securitycenter.microsoft.com', roles=['Alert.Read.All'], lifetime=600)
        if kind == EXPIRED:
            spec['lifetime'] = -600
        elif kind == OTHER_TENANT:
            spec['tenant_id'] = emu['other_tenant_id']
        elif kind == GRAPH_AUDIENCE:
            spec['audience'] = 'https://graph.microsoft.com'
        return emulator.mint_token(**spec)
    return value


def _short(result):
    text = repr(dict((k, v) for k, v in result.items() if k not in ('alerts', 'machines', 'rows', 'access_token')))
    return text if len(text) < 1500 else text[:1500] + '...'


def assert_clean_failure(result, fragments, emulator):
    assert result.get('failed') is True, 'expected a failure, got %s' % _short(result)
    message = result['msg']
    for fragment in fragments:
        assert fragment in message, '%r not in %r' % (fragment, message)
    assert 'Traceback' not in message and not message.startswith('Unexpected error'), message
    assert 'exception' not in result, result.get('exception')
    # The client's own count also sees requests that never reached the emulator's log (a TLS handshake that failed).
    assert result.get('http_stats', {}).get('requests', 0) == 0, 'requests were attempted: %s' % _short(result)
    assert emulator.requests_log() == [], 'requests were sent: %r' % emulator.requests_log()


@pytest.mark.parametrize('module_name', sorted(MODULES))
@pytest.mark.parametrize('case_id, given, removed, fragments', CONNECTION_CASES, ids=[c[0] for c in CONNECTION_CASES])
def test_connection_option(run_module, fresh_emulator, emu, conn, files, module_name, case_id, given, removed, fragments):
    main, required = MODULES[module_name]
    args = dict(conn)
    args.update(required)
    if module_name == 'atp_query' and case_id.startswith('access-token-'):
        args['api'] = 'defender'  # the minted tokens are Defender tokens
    for name in removed:
        args.pop(name, None)
    for name, value in given.items():
        args[name] = _resolve(value, files, emu, fresh_emulator)
    fresh_emulator.reset()  # minting a token is a control call, not logged; be sure anyway
    assert_clean_failure(run_module(main, args), fragments, fresh_emulator)


MODULE_CASES = [
    # atp_token
    ('atp_token', 'api-unknown', {'api': 'mde'}, ['api', 'mde']),
    ('atp_token', 'required-permissions-empty-entry', {'required_permissions': ['Machine.Isolate', '']}, ['required_permissions']),
    ('atp_token', 'fail-on-missing-not-bool', {'fail_on_missing': 'later'}, ['fail_on_missing']),
    ('atp_token', 'verify-signature-not-bool', {'verify_signature': 'yes please'}, ['verify_signature']),
    # atp_alert_info
    ('atp_alert_info', 'alert-id-empty', {'alert_id': ''}, ['alert_id']),
    ('atp_alert_info', 'alert-id-blank', {'alert_id': '   '}, ['alert_id']),
    ('atp_alert_info', 'alert-id-with-a-path', {'alert_id': '../machines'}, ['alert_id']),
    ('atp_alert_info', 'alert-id-with-odata', {'alert_id': HOSTILE}, ['alert_id']),
    ('atp_alert_info', 'alert-id-with-filters', {'alert_id': 'da637472900382838869_1364969609', 'status': ['New']},
     ['mutually exclusive', 'alert_id']),
    ('atp_alert_info', 'alert-id-with-limit', {'alert_id': 'da637472900382838869_1364969609', 'limit': 3}, ['mutually exclusive']),
    ('atp_alert_info', 'status-unknown', {'status': ['Open']}, ['status', 'Open']),
    ('atp_alert_info', 'status-empty-list', {'status': []}, ['status']),
    ('atp_alert_info', 'severity-unknown', {'severity': ['Critical']}, ['severity', 'Critical']),
    ('atp_alert_info', 'severity-empty-list', {'severity': []}, ['severity']),
    ('atp_alert_info', 'machine-id-empty', {'machine_id': ''}, ['machine_id']),
    ('atp_alert_info', 'machine-id-malformed', {'machine_id': 'ws-finance-01.contoso.com'}, ['machine_id']),
    ('atp_alert_info', 'machine-id-odata', {'machine_id': HOSTILE}, ['machine_id']),
    ('atp_alert_info', 'since-empty', {'since': ''}, ['since']),
    ('atp_alert_info', 'since-garbage', {'since': 'yesterday'}, ['since']),
    ('atp_alert_info', 'since-impossible-date', {'since': '2026-02-30'}, ['since']),
    ('atp_alert_info', 'filter-empty', {'filter': ''}, ['filter']),
    ('atp_alert_info', 'filter-unclosed-quote', {'filter': "title eq 'x"}, ['filter']),
    ('atp_alert_info', 'filter-unbalanced', {'filter': "status eq 'New') or (true"}, ['filter']),
    ('atp_alert_info', 'limit-zero', {'limit': 0}, ['limit']),
    ('atp_alert_info', 'limit-not-int', {'limit': 'all'}, ['limit']),
    ('atp_alert_info', 'expand-evidence-not-bool', {'expand_evidence': 'full'}, ['expand_evidence']),
    ('atp_alert_info', 'unknown-option', {'alert': 'x'}, ['alert']),
    # atp_machine_info
    ('atp_machine_info', 'machines-empty-list', {'machines': []}, ['machines']),
    ('atp_machine_info', 'machines-empty-entry', {'machines': ['ws-1', '']}, ['machines']),
    ('atp_machine_info', 'machines-odata', {'machines': [HOSTILE]}, ['machines']),
    ('atp_machine_info', 'machines-with-filters', {'machines': ['ws-1'], 'tags': ['prod']}, ['machines', 'tags']),
    ('atp_machine_info', 'filter-empty', {'filter': ''}, ['filter']),
    ('atp_machine_info', 'filter-unclosed-quote', {'filter': "computerDnsName eq 'x"}, ['filter']),
    ('atp_machine_info', 'filter-unbalanced', {'filter': "healthStatus eq 'Active') or (true"}, ['filter']),
    ('atp_machine_info', 'health-status-unknown', {'health_status': ['Healthy']}, ['health_status', 'Healthy']),
    ('atp_machine_info', 'health-status-empty-list', {'health_status': []}, ['health_status']),
    ('atp_machine_info', 'os-platform-empty-list', {'os_platform': []}, ['os_platform']),
    ('atp_machine_info', 'os-platform-empty-entry', {'os_platform': ['']}, ['os_platform']),
    ('atp_machine_info', 'tags-empty-list', {'tags': []}, ['tags']),
    ('atp_machine_info', 'tags-empty-entry', {'tags': ['']}, ['tags']),
    ('atp_machine_info', 'limit-negative', {'limit': -1}, ['limit']),
    ('atp_machine_info', 'isolation-state-not-bool', {'isolation_state': 'maybe'}, ['isolation_state']),
    # atp_machine_isolate
    ('atp_machine_isolate', 'machines-missing', {'machines': None}, ['machines']),
    ('atp_machine_isolate', 'machines-empty-list', {'machines': []}, ['machines']),
    ('atp_machine_isolate', 'machines-empty-entry', {'machines': ['ws-finance-01.contoso.com', ' ']}, ['machines', 'item 2']),
    ('atp_machine_isolate', 'machines-odata', {'machines': ['ws-finance-01.contoso.com', HOSTILE]}, ['machines', 'item 2']),
    ('atp_machine_isolate', 'machines-quote', {'machines': ["bob's-pc"]}, ['machines']),
    ('atp_machine_isolate', 'machines-control-character', {'machines': ['ws-\x001']}, ['machines']),
    ('atp_machine_isolate', 'machines-too-long', {'machines': ['a' * 300]}, ['machines']),
    ('atp_machine_isolate', 'machines-10000-with-a-bad-one', {'machines': ['ws-%05d' % i for i in range(9999)] + ['']},
     ['machines', 'item 10000']),
    ('atp_machine_isolate', 'state-unknown', {'state': 'contained'}, ['state', 'contained']),
    ('atp_machine_isolate', 'isolation-type-unknown', {'isolation_type': 'Partial'}, ['isolation_type', 'Partial']),
    ('atp_machine_isolate', 'comment-missing', {'comment': None}, ['comment']),
    ('atp_machine_isolate', 'comment-empty', {'comment': ''}, ['comment']),
    ('atp_machine_isolate', 'comment-blank', {'comment': '   '}, ['comment']),
    ('atp_machine_isolate', 'wait-not-bool', {'wait': 'a bit'}, ['wait']),
    ('atp_machine_isolate', 'wait-timeout-negative', {'wait_timeout': -1}, ['wait_timeout']),
    ('atp_machine_isolate', 'wait-timeout-not-int', {'wait_timeout': 'long'}, ['wait_timeout']),
    ('atp_machine_isolate', 'poll-interval-zero', {'poll_interval': 0}, ['poll_interval']),
    ('atp_machine_isolate', 'max-machines-zero', {'max_machines': 0}, ['max_machines']),
    ('atp_machine_isolate', 'max-machines-not-int', {'max_machines': 'few'}, ['max_machines']),
    ('atp_machine_isolate', 'allow-partial-not-bool', {'allow_partial': 'sure'}, ['allow_partial']),
    ('atp_machine_isolate', 'force-not-bool', {'force': 'sometimes'}, ['force']),
    ('atp_machine_isolate', 'state-max-age-zero', {'state_max_age_days': 0}, ['state_max_age_days']),
    ('atp_machine_isolate', 'state-max-age-negative', {'state_max_age_days': -3}, ['state_max_age_days']),
    ('atp_machine_isolate', 'state-max-age-not-number', {'state_max_age_days': 'old'}, ['state_max_age_days']),
    # atp_machine_action
    ('atp_machine_action', 'machines-empty-list', {'machines': []}, ['machines']),
    ('atp_machine_action', 'machines-odata', {'machines': [HOSTILE]}, ['machines']),
    ('atp_machine_action', 'action-unknown', {'action': 'reboot'}, ['action', 'reboot']),
    ('atp_machine_action', 'action-missing', {'action': None}, ['action']),
    ('atp_machine_action', 'comment-blank', {'comment': ' '}, ['comment']),
    ('atp_machine_action', 'scan-type-unknown', {'scan_type': 'Deep'}, ['scan_type', 'Deep']),
    ('atp_machine_action', 'scan-type-with-collect', {'action': 'collect_investigation_package', 'scan_type': 'Full'},
     ['scan_type']),
    ('atp_machine_action', 'sha1-missing', {'action': 'stop_and_quarantine_file'}, ['sha1', 'required']),
    ('atp_machine_action', 'sha1-too-short', {'action': 'stop_and_quarantine_file', 'sha1': '87662bc3d60e4200ceaf7aae249d1c343f4b83c'}, ['sha1', '40']),
    ('atp_machine_action', 'sha1-too-long', {'action': 'stop_and_quarantine_file', 'sha1': '87662bc3d60e4200ceaf7aae249d1c343f4b83c9a'}, ['sha1', '40']),
    ('atp_machine_action', 'sha1-with-scan', {'sha1': '87662bc3d60e4200ceaf7aae249d1c343f4b83c9'}, ['sha1', 'stop_and_quarantine_file']),
    ('atp_machine_action', 'dest-not-a-directory', {'action': 'collect_investigation_package', 'wait': True,
                                                    'dest': 'file:dir/missing'}, ['dest']),
    ('atp_machine_action', 'dest-without-wait', {'action': 'collect_investigation_package', 'dest': 'file:dir/'},
     ['dest', 'wait']),
    ('atp_machine_action', 'dest-with-scan', {'dest': 'file:dir/'}, ['dest']),
    ('atp_machine_action', 'max-package-mb-zero', {'action': 'collect_investigation_package', 'wait': True,
                                                   'dest': 'file:dir/', 'max_package_mb': 0}, ['max_package_mb']),
    ('atp_machine_action', 'max-package-mb-not-int', {'max_package_mb': 'big'}, ['max_package_mb']),
    ('atp_machine_action', 'download-timeout-negative', {'download_timeout': -5}, ['download_timeout']),
    ('atp_machine_action', 'wait-not-bool', {'wait': 'a bit'}, ['wait']),
    ('atp_machine_action', 'wait-timeout-negative', {'wait_timeout': -1}, ['wait_timeout']),
    ('atp_machine_action', 'poll-interval-zero', {'poll_interval': 0}, ['poll_interval']),
    ('atp_machine_action', 'max-machines-zero', {'max_machines': 0}, ['max_machines']),
    ('atp_machine_action', 'allow-partial-not-bool', {'allow_partial': 'sure'}, ['allow_partial']),
    # atp_app_restriction
    ('atp_app_restriction', 'machines-empty-list', {'machines': []}, ['machines']),
    ('atp_app_restriction', 'state-unknown', {'state': 'locked'}, ['state', 'locked']),
    ('atp_app_restriction', 'comment-missing', {'comment': None}, ['comment']),
    ('atp_app_restriction', 'force-not-bool', {'force': 'always'}, ['force']),
    ('atp_app_restriction', 'wait-not-bool', {'wait': 'a bit'}, ['wait']),
    ('atp_app_restriction', 'wait-timeout-negative', {'wait_timeout': -1}, ['wait_timeout']),
    ('atp_app_restriction', 'poll-interval-zero', {'poll_interval': 0}, ['poll_interval']),
    ('atp_app_restriction', 'max-machines-zero', {'max_machines': 0}, ['max_machines']),
    ('atp_app_restriction', 'allow-partial-not-bool', {'allow_partial': 'sure'}, ['allow_partial']),
    # atp_machine_tag
    ('atp_machine_tag', 'machines-empty-list', {'machines': []}, ['machines']),
    ('atp_machine_tag', 'tags-missing', {'tags': None}, ['tags']),
    ('atp_machine_tag', 'tags-empty-list', {'tags': []}, ['tags']),
    ('atp_machine_tag', 'tags-empty-entry', {'tags': ['ok', '']}, ['tags', 'item 2']),
    ('atp_machine_tag', 'tags-too-long', {'tags': ['x' * 201]}, ['tags', '200']),
    ('atp_machine_tag', 'state-unknown', {'state': 'gone'}, ['state', 'gone']),
    ('atp_machine_tag', 'max-machines-zero', {'max_machines': 0}, ['max_machines']),
    ('atp_machine_tag', 'allow-partial-not-bool', {'allow_partial': 'sure'}, ['allow_partial']),
    # atp_query
    ('atp_query', 'query-missing', {'query': None}, ['query']),
    ('atp_query', 'query-empty', {'query': ''}, ['query']),
    ('atp_query', 'query-blank', {'query': ' \n '}, ['query']),
    ('atp_query', 'api-unknown', {'api': 'kusto'}, ['api', 'kusto']),
    ('atp_query', 'timespan-empty', {'timespan': ''}, ['timespan']),
    ('atp_query', 'timespan-garbage', {'timespan': 'last week'}, ['timespan']),
    ('atp_query', 'timespan-with-defender', {'api': 'defender', 'timespan': '7d'}, ['timespan']),
    ('atp_query', 'timeout-zero', {'timeout': 0}, ['timeout']),
    ('atp_query', 'dest-empty', {'dest': ''}, ['dest']),
    ('atp_query', 'dest-a-directory', {'dest': 'file:dir'}, ['dest']),
    ('atp_query', 'dest-in-a-missing-directory', {'dest': '/nonexistent/dir/rows.json'}, ['dest']),
    ('atp_query', 'format-unknown', {'dest': 'file:dir/rows.out', 'format': 'xml'}, ['format', 'xml']),
    ('atp_query', 'format-without-dest', {'format': 'csv'}, ['format', 'dest']),
    ('atp_query', 'mode-without-dest', {'mode': '0640'}, ['mode', 'dest']),
    ('atp_query', 'mode-unreadable', {'dest': 'file:dir/rows.csv', 'mode': 'rw-r-----'}, ['mode', 'octal']),
    ('atp_query', 'mode-out-of-range', {'dest': 'file:dir/rows.csv', 'mode': '17777'}, ['mode', 'out of range']),
    ('atp_query', 'csv-escape-formulas-not-bool', {'dest': 'file:dir/rows.csv', 'csv_escape_formulas': 'sometimes'},
     ['csv_escape_formulas']),
    # atp_alert
    ('atp_alert', 'alert-ids-missing', {'alert_ids': None}, ['alert_ids']),
    ('atp_alert', 'alert-ids-empty', {'alert_ids': []}, ['alert_ids']),
    ('atp_alert', 'alert-ids-odata', {'alert_ids': ['da637472900382838869_1364969609', HOSTILE]}, ['alert_ids', 'item 2']),
    ('atp_alert', 'alert-ids-path', {'alert_ids': ['../machines']}, ['alert_ids']),
    ('atp_alert', 'nothing-to-change', {'status': None}, ['status', 'comment']),
    ('atp_alert', 'status-unknown', {'status': 'Closed'}, ['status', 'Closed']),
    ('atp_alert', 'status-unknown-cannot-be-set', {'status': 'Unknown'}, ['status', 'Unknown']),
    ('atp_alert', 'assigned-to-empty', {'assigned_to': ' '}, ['assigned_to']),
    ('atp_alert', 'classification-unknown', {'classification': 'Benign'}, ['classification', 'Benign']),
    ('atp_alert', 'determination-unknown', {'determination': 'Apt'}, ['determination', 'Apt']),
    ('atp_alert', 'determination-of-another-classification', {'classification': 'FalsePositive', 'determination': 'Malware'},
     ['determination', 'classification']),
    ('atp_alert', 'comment-empty', {'comment': ''}, ['comment']),
    ('atp_alert', 'allow-partial-not-bool', {'allow_partial': 'sure'}, ['allow_partial']),
    # atp_indicator
    ('atp_indicator', 'indicators-missing', {'indicators': None}, ['indicators']),
    ('atp_indicator', 'indicators-empty', {'indicators': []}, ['indicators']),
    ('atp_indicator', 'indicator-unknown-key', {'indicators': [{'type': 'FileMd5', 'value': 'a' * 32, 'colour': 'red'}]},
     ['indicators', 'colour']),
    ('atp_indicator', 'indicator-type-unknown', {'indicators': [{'type': 'Hash', 'value': 'a'}]}, ['type', 'Hash']),
    ('atp_indicator', 'indicator-value-missing', {'indicators': [{'type': 'FileMd5'}]}, ['value']),
    ('atp_indicator', 'indicator-sha256-short', {'indicators': [{'type': 'FileSha256', 'value': 'a' * 63, 'action': 'Block',
                                                                 'title': 't'}]}, ['indicators[0].value', '64']),
    ('atp_indicator', 'indicator-cidr', {'indicators': [{'type': 'IpAddress', 'value': '10.0.0.0/8', 'action': 'Block',
                                                         'title': 't'}]}, ['indicators[0].value', 'CIDR']),
    ('atp_indicator', 'indicator-url-ftp', {'indicators': [{'type': 'Url', 'value': 'ftp://x.example.com/', 'action': 'Block',
                                                            'title': 't'}]}, ['indicators[0].value', 'http']),
    ('atp_indicator', 'indicator-action-missing', {'indicators': [{'type': 'FileMd5', 'value': 'a' * 32, 'title': 't'}]},
     ['indicators[0].action']),
    ('atp_indicator', 'indicator-expiration-garbage', {'indicators': [{'type': 'FileMd5', 'value': 'a' * 32, 'action': 'Block',
                                                                       'title': 't', 'expiration': 'next year'}]},
     ['indicators[0].expiration']),
    ('atp_indicator', 'indicator-duplicate', {'indicators': [{'type': 'FileMd5', 'value': 'a' * 32, 'action': 'Block', 'title': 't'},
                                                             {'type': 'FileMd5', 'value': 'A' * 32, 'action': 'Block', 'title': 't'}]},
     ['indicators[1] repeats indicators[0]']),
    ('atp_indicator', 'state-unknown', {'state': 'blocked'}, ['state', 'blocked']),
    ('atp_indicator', 'application-empty', {'application': ''}, ['application']),
    ('atp_indicator', 'purge-with-absent', {'state': 'absent', 'purge': True}, ['purge']),
    ('atp_indicator', 'purge-not-bool', {'purge': 'everything'}, ['purge']),
    ('atp_indicator', 'purge-empty-list', {'indicators': [], 'purge': True}, ['indicators is empty and purge is true']),
    ('atp_indicator', 'indicator-action-retired', {'indicators': [{'type': 'FileMd5', 'value': 'a' * 32, 'action': 'Alert',
                                                                   'title': 't'}]}, ['indicators[0].action Alert', '2022']),
    ('atp_indicator', 'max-deletions-negative', {'max_deletions': -1}, ['max_deletions', '-1']),
    ('atp_indicator', 'max-deletions-not-int', {'max_deletions': 'many'}, ['max_deletions']),
    # atp_indicator_info
    ('atp_indicator_info', 'type-unknown', {'type': ['Hash']}, ['type', 'Hash']),
    ('atp_indicator_info', 'type-empty-list', {'type': []}, ['type']),
    ('atp_indicator_info', 'action-unknown', {'action': ['Quarantine']}, ['action', 'Quarantine']),
    ('atp_indicator_info', 'application-blank', {'application': ' '}, ['application']),
    ('atp_indicator_info', 'value-empty', {'value': ''}, ['value']),
    ('atp_indicator_info', 'limit-zero', {'limit': 0}, ['limit']),
]


@pytest.mark.parametrize('module_name, case_id, given, fragments', MODULE_CASES, ids=['%s-%s' % c[:2] for c in MODULE_CASES])
def test_module_option(run_module, fresh_emulator, emu, conn, files, module_name, case_id, given, fragments):
    main, required = MODULES[module_name]
    args = dict(conn)
    args.update(required)
    for name, value in given.items():
        if isinstance(value, str) and value.startswith('file:dir/'):
            value = os.path.join(files['dir'], value[len('file:dir/'):])
        else:
            value = _resolve(value, files, emu, fresh_emulator)
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    assert_clean_failure(run_module(main, args), fragments, fresh_emulator)


def test_every_option_of_every_module_is_in_a_table():
    """A new option must get its bad-input cases here."""
    from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC
    covered = set()
    for _case_id, given, removed, _fragments in CONNECTION_CASES:
        covered.update(given)
        covered.update(removed)
    # Options whose only wrong value is another option's conflict, or that take any string.
    covered.update(['api_audience', 'graph_audience'])
    missing = sorted(set(CONNECTION_ARGSPEC) - covered)
    assert not missing, 'connection options without a bad-input case: %s' % missing
    import ast
    import inspect
    for name, (main, _required) in MODULES.items():
        source = inspect.getsource(inspect.getmodule(main))
        tree = ast.parse(source)
        options = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == 'argument_spec' and isinstance(node.value, ast.Call):
                options.update(k.arg for k in node.value.keywords)
                if getattr(node.value.func, 'id', None) == 'machine_argument_spec':  # the options shared by action modules
                    from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import (
                        machine_argument_spec)
                    options.update(machine_argument_spec())
        cased = set()
        for module_name, _case_id, given, _fragments in MODULE_CASES:
            if module_name == name:
                cased.update(given)
        assert options, name
        assert not options - cased, '%s options without a bad-input case: %s' % (name, sorted(options - cased))


def test_a_huge_machine_list_is_refused_before_any_write(run_module, fresh_emulator, conn):
    """10,000 names, max_machines left at 25: the machines are read (those already isolated would not count), in a
    few paged listings, and the task is refused before any write."""
    fresh_emulator.set_data(generate={'machines': 10000, 'alerts': 0, 'seed': 7})
    fresh_emulator.reset()
    names = ['gen-%05d.scale.contoso.com' % i for i in range(10000)]
    result = run_module(atp_machine_isolate.main, dict(conn, machines=names, comment='IR-7'))
    assert result['failed'] is True and 'max_machines (25)' in result['msg'] and 'Nothing was changed' in result['msg']
    log = fresh_emulator.requests_log()
    assert [e for e in log if e['method'] == 'POST' and '/api/machines/' in e['path']] == []
    assert len([e for e in log if e['path'].startswith('/api/')]) <= 6, [e['path'] for e in log]
