# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security through real ansible-playbook runs: no secret in any output, TLS verified, unusable tokens refused.

* Leaks: every module runs at -vvvv, on success and on failure paths, with every way of authenticating (client secret,
  encrypted certificate key and its password, user name and password, a token from atp_token). The output, the task
  results (the callback's file), a dump of every registered result (``copy`` of ``to_nice_json``; atp_token's
  documented ``access_token`` is left out of it, as examples register it under ``no_log``), and the emulator's request
  log and its own output are searched for each secret, password, private key and token the emulator knows
  (``/_emulator/secrets``). The ``no-secrets`` nox session does the same for the integration targets; this
  one covers every module on purpose, failure paths included.
* TLS: verification is on by default; the emulator's certificate (its own CA) is refused without ca_path, with or
  without REQUESTS_CA_BUNDLE, naming ca_path and validate_certs; validate_certs=false works and warns.
* Tokens: a token of another tenant, for another audience, expired, or forged, given to each module, is refused
  with a message naming the check (atp_token's own checks are in tests/integration/targets/atp_token).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os

from support import assert_clean_failure, find_leaks, module_task

BASE = ('tenant_id', 'login_url', 'api_url', 'graph_url', 'ca_path')
SECRET = {'client_id': '{{ emulator.client_id }}', 'client_secret': '{{ emulator.client_secret }}'}
CERT = {'client_id': '{{ emulator.client_id }}', 'certificate_path': '{{ emulator.encrypted_certificate_path }}',
        'certificate_password': '{{ emulator.certificate_password }}'}
USER = {'client_id': '{{ emulator.public_client_id }}', 'username': '{{ emulator.username }}',
        'password': '{{ emulator.password }}'}
LIMITED = {'client_id': '{{ emulator.limited_client_id }}', 'client_secret': '{{ emulator.limited_client_secret }}'}


def task(name, module, auth, args=None, register=None, **keywords):
    merged = dict(auth)
    merged.update(args or {})
    result = module_task(name, module, merged, **keywords)
    result['register'] = register or name
    return result


def dump_task(path, registered, tokens):
    """Write every registered result to ``path``; tokens (atp_token results) without their access_token."""
    parts = ["'%s': %s" % (name, name) for name in registered]
    parts += ["'%s': (%s | dict2items | rejectattr('key', 'equalto', 'access_token') | items2dict)" % (name, name)
              for name in tokens]
    return {'name': 'dump the registered results', 'ansible.builtin.copy': {
        'content': '{{ {%s} | to_nice_json }}' % ', '.join(parts), 'dest': path, 'mode': '0600'}}


SUCCESS_TASKS = [
    task('token_secret', 'atp_token', SECRET, {'required_permissions': ['Machine.Isolate']}, no_log=True),
    task('token_graph', 'atp_token', CERT, {'api': 'graph', 'required_permissions': ['ThreatHunting.Read.All']},
         no_log=True),
    task('token_user', 'atp_token', USER, {'required_permissions': ['Machine.Isolate']}, no_log=True),
    task('alerts_given_token', 'atp_alert_info', {'access_token': '{{ token_secret.access_token }}'}, {'status': ['New']}),
    task('alert_by_id', 'atp_alert_info', SECRET, {'alert_id': 'da637472900382838869_1364969609'}),
    task('machines_cert', 'atp_machine_info', CERT, {'machines': ['ws-finance-01.contoso.com'], 'isolation_state': True}),
    task('isolate_user', 'atp_machine_isolate', USER, {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7'}),
    task('unisolate_given_token', 'atp_machine_isolate', dict(SECRET, access_token='{{ token_secret.access_token }}'),
         {'machines': ['srv-web-02.contoso.com'], 'state': 'unisolated', 'comment': 'IR-7', 'auth_method': 'access_token'}),
    task('query_graph_given_token', 'atp_query', {'access_token': '{{ token_graph.access_token }}'},
         {'query': 'DeviceInfo | take 2'}),
    task('query_defender_cert_dest', 'atp_query', CERT, {'api': 'defender', 'query': 'DeviceInfo | take 2',
                                                         'dest': '{{ playbook_dir }}/rows.csv'}),
]
SUCCESS_REGISTERED = [t['register'] for t in SUCCESS_TASKS if not t['register'].startswith('token_')]
SUCCESS_TOKENS = [t['register'] for t in SUCCESS_TASKS if t['register'].startswith('token_')]

FAILURE_TASKS = [
    task('token_limited_missing', 'atp_token', LIMITED, {'required_permissions': ['Machine.Isolate']}),
    task('token_limited', 'atp_token', LIMITED, no_log=True),
    task('token_endpoint_failing', 'atp_token', dict(SECRET, tenant_id='{{ emulator.tenant_domain }}'), {'max_retries': 0}),
    task('alerts_failing', 'atp_alert_info', SECRET, {'status': ['New'], 'max_retries': 0}),
    task('machines_bad_option', 'atp_machine_info', CERT, {'api_url': 'not a url'}),
    task('isolate_forbidden', 'atp_machine_isolate', {'access_token': '{{ token_limited.access_token }}'},
         {'machines': ['ws-it-01.contoso.com'], 'comment': 'IR-7'}),
    task('isolate_user_conflict', 'atp_machine_isolate', USER, {'machines': ['laptop-travel-07.contoso.com'],
                                                                'state': 'unisolated', 'comment': 'IR-7'}),
    task('query_bad_kql', 'atp_query', CERT, {'query': 'DeviceInfo | frobnicate'}),
    task('query_wrong_audience', 'atp_query', {'access_token': '{{ token_limited.access_token }}'}, {'query': 'DeviceInfo'}),
]
FAILURE_REGISTERED = [t['register'] for t in FAILURE_TASKS if t['register'] != 'token_limited']


def test_no_secret_in_any_output_at_vvvv(runner, emu):
    workdir = runner.workdir
    success = runner.play(SUCCESS_TASKS + [dump_task(os.path.join(workdir, 'registered-success.json'), SUCCESS_REGISTERED,
                                                     SUCCESS_TOKENS)], connection=BASE, verbosity=4)
    for name in SUCCESS_REGISTERED + SUCCESS_TOKENS:
        assert success.task(name)['status'] == 'ok', (name, success.task(name)['result'].get('msg'), success.tail())
    emu.add_fault(path=r'^/contoso\.onmicrosoft\.com/oauth2/v2\.0/token$', status=503)
    emu.add_fault(path=r'^/api/alerts$', status=503)
    failure = runner.play(FAILURE_TASKS + [dump_task(os.path.join(workdir, 'registered-failure.json'), FAILURE_REGISTERED,
                                                     ['token_limited'])], connection=BASE, verbosity=4)
    for name in FAILURE_REGISTERED:
        assert_clean_failure(failure.task(name))
    assert 'missing this permission: Machine.Isolate' in failure.task('token_limited_missing')['result']['msg']
    assert 'access_token' not in failure.task('token_limited_missing')['result']

    haystacks = {'-vvvv output (success)': success.output, '-vvvv output (failure)': failure.output}
    for name in sorted(os.listdir(workdir)):
        if name.endswith(('.results.jsonl', '.json')) and name != 'connection.json' or name == 'rows.csv':
            with open(os.path.join(workdir, name)) as handle:
                haystacks[name] = handle.read()
    with open(emu.log_file) as handle:
        haystacks['emulator request log file'] = handle.read()
    haystacks['emulator request log'] = json.dumps(emu.requests_log())
    haystacks['emulator output'] = emu.stderr_text()
    # The checks must have something to find: the dumps hold every result, the output shows censored arguments.
    registered = json.loads(haystacks['registered-success.json'])
    assert registered['alerts_given_token']['count'] > 0 and registered['token_secret']['permissions']
    assert 'access_token' not in registered['token_secret'] and len(json.loads(haystacks['registered-failure.json'])) == 9
    # Where ansible-playbook shows module invocations (up to 2.20 at -vvvv; 2.21 prints none), they are censored.
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in success.output or '"invocation"' not in success.output

    secrets = emu.secrets()
    tokens = [s for s in secrets if s.startswith('eyJ')]
    assert len(tokens) >= 5 and any('PRIVATE KEY' in s for s in secrets), 'the emulator reported too few secrets'
    leaks = find_leaks(secrets, haystacks)
    assert leaks == [], 'secrets leaked (kind, where, line): %s' % leaks


def test_the_leak_search_finds_secrets_in_every_form_they_take():
    secret = 'Pw!SS_gU ysY9/3oL+Vn#1'
    token = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.' + 'S' * 60
    pem = '-----BEGIN PRIVATE KEY-----\n' + 'K' * 64 + '\n' + 'L' * 20 + '\n-----END PRIVATE KEY-----\n'
    haystacks = {
        'plain': 'x %s y' % secret, 'json': json.dumps({'a': 'x"%s' % secret}), 'url': 'secret=Pw%21SS_gU%20ysY9%2F3oL%2BVn%231',
        'form': 'client_secret=Pw%21SS_gU+ysY9%2F3oL%2BVn%231', 'signature only': 'sig ' + 'S' * 60,
        'pem line': 'key: ' + 'K' * 64, 'clean': 'nothing to see', 'short pem line': 'L' * 20,
    }
    found = find_leaks([secret, token, pem, 'short'], haystacks)
    assert sorted(set(where for _kind, where, _line in found)) == ['form', 'json', 'pem line', 'plain', 'signature only', 'url']


def _option_specs(path, name):
    """``{option: {key: literal value}}`` of the ``name=dict(option=dict(...), ...)`` in a source file, read with ast
    (this suite runs without the collection on sys.path)."""
    import ast
    with open(path) as handle:
        tree = ast.parse(handle.read())
    specs = {}
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.keyword) and node.arg == name:
            value = node.value
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
        if isinstance(value, ast.Call):
            for option in value.keywords:
                if isinstance(option.value, ast.Call):
                    specs[option.arg] = dict((k.arg, k.value.value) for k in option.value.keywords
                                             if isinstance(k.value, ast.Constant))
    return specs


def test_every_secret_bearing_option_is_no_log():
    import glob
    plugins = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins')
    options = _option_specs(os.path.join(plugins, 'module_utils', '_connection.py'), 'CONNECTION_ARGSPEC')
    assert len(options) > 15, 'CONNECTION_ARGSPEC not found'
    for path in glob.glob(os.path.join(plugins, 'modules', '*.py')):
        for option, spec in _option_specs(path, 'argument_spec').items():
            options['%s:%s' % (os.path.basename(path), option)] = spec
    secret_words = ('secret', 'password', 'token', 'key', 'credential', 'assertion')
    checked = []
    for name, spec in options.items():
        if any(word in name.split(':')[-1] for word in secret_words) and spec.get('type') != 'bool':
            checked.append(name)
            assert spec.get('no_log') is True, '%s carries a secret but is not no_log' % name
    assert sorted(checked) == ['access_token', 'certificate_password', 'client_secret', 'password'], checked


# -- TLS ---------------------------------------------------------------------------------------------------------------

def test_tls_is_verified_by_default_and_the_message_names_ca_path_and_validate_certs(runner, emu):
    conn = dict((k, '{{ atp_conn.%s }}' % k) for k in ('tenant_id', 'login_url', 'api_url', 'graph_url'))
    conn.update(SECRET)
    tasks = [
        module_task('token endpoint without ca_path', 'atp_alert_info', conn),
        task('api without ca_path', 'atp_alert_info', {'access_token': '{{ given.access_token }}',
                                                       'api_url': '{{ atp_conn.api_url }}'}, register='r'),
        module_task('validate_certs false', 'atp_alert_info', dict(conn, validate_certs=False, status=['New'])),
    ]
    get_token = task('given', 'atp_token', dict(SECRET, ca_path='{{ atp_conn.ca_path }}', tenant_id='{{ atp_conn.tenant_id }}',
                                                login_url='{{ atp_conn.login_url }}'), no_log=True)
    for bundle in ('set', 'unset'):
        env = {} if bundle == 'set' else {'REQUESTS_CA_BUNDLE': '', 'CURL_CA_BUNDLE': ''}
        play = runner.play([get_token] + tasks, connection=False, env=env)
        for name in ('token endpoint without ca_path', 'api without ca_path'):
            message = assert_clean_failure(play.task(name), 'TLS certificate verification failed', 'ca_path', 'validate_certs')
            assert 'CERTIFICATE_VERIFY_FAILED' in message or 'certificate verify failed' in message, message
        insecure = play.task('validate_certs false')
        assert insecure['status'] == 'ok', insecure['result'].get('msg')
        warnings = ' '.join(str(w) for w in insecure['result'].get('warnings') or [])
        assert 'validate_certs is false' in warnings and 'Prefer ca_path' in warnings, (warnings, play.tail())
    assert 'REQUESTS_CA_BUNDLE' in os.environ, 'this machine sets REQUESTS_CA_BUNDLE; the "set" case needs it'


# -- unusable tokens ---------------------------------------------------------------------------------------------------

MODULE_ARGS = {
    'atp_token': {},
    'atp_alert_info': {'status': ['New']},
    'atp_machine_info': {'machines': ['ws-finance-01.contoso.com']},
    'atp_machine_isolate': {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7'},
    'atp_query': {'api': 'defender', 'query': 'DeviceInfo | take 1'},
    'atp_machine_action': {'machines': ['ws-finance-01.contoso.com'], 'action': 'av_scan', 'comment': 'IR-7'},
    'atp_app_restriction': {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7'},
    'atp_machine_tag': {'machines': ['ws-finance-01.contoso.com'], 'tags': ['IR-7']},
}


def test_every_module_refuses_an_unusable_token_naming_the_check(runner, emu):
    tokens = {
        'other tenant': (emu.mint_token(audience='https://api.securitycenter.microsoft.com', roles=['Machine.Isolate'],
                                        tenant_id=emu.info['other_tenant_id'], lifetime=600), ['tenant:', 'not ' + emu.info['tenant_id']]),
        'graph audience': (emu.mint_token(audience='https://graph.microsoft.com', roles=['ThreatHunting.Read.All'],
                                          lifetime=600), ['audience:', 'https://graph.microsoft.com']),
        'expired': (emu.mint_token(audience='https://api.securitycenter.microsoft.com', roles=['Machine.Isolate'],
                                   lifetime=-600), ['expiry:', 'expired at']),
    }
    good = emu.mint_token(audience='https://api.securitycenter.microsoft.com', roles=['Machine.Isolate'], lifetime=600)
    head, payload, signature = good.split('.')
    forged = '.'.join([head, payload, signature[:-6] + ('AAAAAA' if not signature.endswith('AAAAAA') else 'BBBBBB')])
    tasks = []
    for label, (token, _fragments) in tokens.items():
        for module, args in MODULE_ARGS.items():
            tasks.append(task('%s %s' % (module, label), module, {'access_token': token}, args, register='r'))
    for module, args in MODULE_ARGS.items():
        if module != 'atp_token':
            tasks.append(task('%s forged' % module, module, {'access_token': forged}, args, register='r'))
    tasks.append(task('atp_token forged, signature checked', 'atp_token', {'access_token': forged},
                      {'verify_signature': True}, register='r'))
    header = json.loads(base64.urlsafe_b64decode(head + '=' * (-len(head) % 4)))
    header['alg'] = 'HS256'
    confused = '.'.join([base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b'=').decode(), payload, signature])
    tasks.append(task('atp_token alg HS256, signature checked', 'atp_token', {'access_token': confused},
                      {'verify_signature': True}, register='r'))
    play = runner.play(tasks, connection=BASE)
    for label, (_token, fragments) in tokens.items():
        for module in MODULE_ARGS:
            assert_clean_failure(play.task('%s %s' % (module, label)), *fragments)
    for module in MODULE_ARGS:
        if module != 'atp_token':
            # Modules leave signatures to the API: its 401 reason is passed on.
            assert_clean_failure(play.task('%s forged' % module), 'HTTP 401', 'signature')
    assert_clean_failure(play.task('atp_token forged, signature checked'), 'signature:', 'invalid')
    assert_clean_failure(play.task('atp_token alg HS256, signature checked'), 'signature:', "signed with 'HS256'")
    api_calls = [e for e in emu.requests_log() if e['family'] not in ('token', 'metadata')]
    assert all(e['status'] == 401 for e in api_calls), api_calls
    assert len(api_calls) == len(MODULE_ARGS) - 1, 'only the forged tokens may reach the API'
