# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role defender.atp.response and its tokens, through real ansible-playbook runs (issue 11, sections 3 and 5).

* Recovery: the emulator rejects the checked token with 401 once on every endpoint family the role's actions use
  (alerts, Graph hunting, machine lookup, isolate). The role must still complete: the actions get the credentials
  next to the token and replace a rejected token once. 0.1.0 passed the token alone and failed the whole runbook.
* Cleanup: whatever the outcome (a failed permission check in main or validate, a failed action, success), no token
  is left in host variables after the role. 0.1.0 cleared them only at the end of a successful run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from support import FAMILY_PATHS, find_leaks

CONNECTION = {'tenant_id': '{{ atp_conn.tenant_id }}', 'client_id': '{{ atp_conn.client_id }}',
              'client_secret': '{{ atp_conn.client_secret }}', 'login_url': '{{ atp_conn.login_url }}',
              'api_url': '{{ atp_conn.api_url }}', 'graph_url': '{{ atp_conn.graph_url }}', 'ca_path': '{{ atp_conn.ca_path }}'}
LIMITED = dict(CONNECTION, client_id='{{ emulator.limited_client_id }}', client_secret='{{ emulator.limited_client_secret }}')
MACHINE = 'ws-finance-01.contoso.com'

# Nothing of the tokens may stay in host variables: the registered token results are null after the role.
TOKENS_GONE = {'name': 'no token is left in host variables', 'ansible.builtin.assert': {
    'that': ['__response_token_results is none',
             "emulator_tokens | length > 0",
             "(hostvars[inventory_hostname] | dict2items | rejectattr('key', 'in', ['emulator_tokens', 'emulator_secrets'])"
             " | items2dict | to_json) is not search(emulator_tokens | map('regex_escape') | join('|'))"],
    'fail_msg': 'tokens were left behind'}}


def role_task(entry='main', **role_vars):
    task = {'name': 'run the role (%s)' % entry, 'ansible.builtin.include_role': {'name': 'defender.atp.response'},
            'vars': role_vars}
    if entry != 'main':
        task['ansible.builtin.include_role']['tasks_from'] = entry
    return task


def rescued(task, label):
    """``task`` inside block/rescue: the rescue records the failed task, so the play goes on to the checks."""
    return {'name': 'guarded ' + label, 'block': [task], 'rescue': [
        {'name': 'record the failure of ' + label, 'ansible.builtin.set_fact': {
            'failure_' + label: {'task': '{{ ansible_failed_task.name }}', 'msg': '{{ ansible_failed_result.msg }}'}}}]}


def issued_tokens(emu):
    return [s for s in emu.secrets() if s.startswith('eyJ')]


def test_role_completes_when_the_api_rejects_the_checked_token_once(runner, emu):
    rejected = ('alerts', 'graph', 'machines', 'isolate')
    for family in rejected:
        emu.add_fault(path=FAMILY_PATHS[family], status=401, times=1)
    tasks = [
        role_task(response_auth=CONNECTION, response_alerts={'status': ['New']},
                  response_queries=[{'name': 'devices', 'query': 'DeviceInfo | take 2'}],
                  response_isolate=[MACHINE], response_comment='IR-11: token recovery'),
        {'name': 'keep the outcome', 'ansible.builtin.copy': {
            'content': '{{ response_result | to_nice_json }}', 'dest': '{{ playbook_dir }}/result.json', 'mode': '0600'}},
    ]
    result = runner.play(tasks, connection=False)
    assert result.rc == 0, result.tail()
    with open(runner.workdir + '/result.json') as handle:
        outcome = json.load(handle)
    assert outcome['errors'] == {} and outcome['failed'] is False
    assert outcome['alerts']['count'] >= 1
    assert outcome['queries']['devices']['row_count'] == 2
    assert outcome['isolate']['summary'].get('changed') == 1, outcome['isolate']
    log = emu.requests_log()
    for family in rejected:
        statuses = [entry['status'] for entry in log if re.search(FAMILY_PATHS[family], entry['path'])]
        # The first request got the 401, the same request with a fresh token went through.
        assert statuses[0] == 401 and statuses[1] in (200, 201), (family, statuses)
    # Two checked tokens (defender, graph), then one fresh token per rejection (each module is its own process).
    token_requests = [entry for entry in log if entry['family'] == 'token']
    assert len(token_requests) == 2 + len(rejected), [e['path'] for e in token_requests]
    assert find_leaks(emu.secrets(), {'output': result.output}) == []


def test_no_token_is_left_behind_when_the_permission_check_fails(runner, emu):
    tasks = [
        rescued(role_task('validate', response_auth=LIMITED, response_isolate=[MACHINE], response_comment='x'), 'validate'),
        {'name': 'read the tokens the emulator issued', 'ansible.builtin.uri': {
            'url': '{{ emulator.url }}/_emulator/secrets', 'ca_path': '{{ emulator.ca_path }}'},
         'register': 'emulator_secrets', 'no_log': True},
        {'name': 'remember them', 'ansible.builtin.set_fact': {
            'emulator_tokens': "{{ emulator_secrets.json.secrets | select('match', 'eyJ') | list }}"}, 'no_log': True},
        dict(TOKENS_GONE, name='no token left after validate'),
        rescued(role_task(response_auth=LIMITED, response_isolate=[MACHINE], response_comment='x'), 'main'),
        dict(TOKENS_GONE, name='no token left after main'),
        {'name': 'both failed at the permission check', 'ansible.builtin.assert': {'that': [
            "failure_validate.task == 'Fail naming every missing permission, before any action'",
            "failure_main.task == 'Fail naming every missing permission, before any action'",
            "'Machine.Isolate' in failure_main.msg"]}},
    ]
    result = runner.play(tasks, connection=False)
    assert result.rc == 0, result.tail()
    for name in ('no token left after validate', 'no token left after main', 'both failed at the permission check'):
        assert result.task(name)['status'] == 'ok', result.task(name)
    assert len(issued_tokens(emu)) >= 2
    # No isolate request was sent.
    assert not [e for e in emu.requests_log() if e['path'].endswith('/isolate')]


def test_no_token_is_left_behind_when_an_action_fails(runner, emu):
    """The checks pass, an action fails (a hunting query the API refuses): the role fails, the tokens are gone."""
    tasks = [
        rescued(role_task(response_auth=CONNECTION, response_queries=[{'name': 'bad', 'query': 'NoSuchTable | take 1'}]),
                'main'),
        {'name': 'read the tokens the emulator issued', 'ansible.builtin.uri': {
            'url': '{{ emulator.url }}/_emulator/secrets', 'ca_path': '{{ emulator.ca_path }}'},
         'register': 'emulator_secrets', 'no_log': True},
        {'name': 'remember them', 'ansible.builtin.set_fact': {
            'emulator_tokens': "{{ emulator_secrets.json.secrets | select('match', 'eyJ') | list }}"}, 'no_log': True},
        TOKENS_GONE,
        {'name': 'the role failed naming the query', 'ansible.builtin.assert': {'that': [
            "failure_main.task == 'Fail naming every action that failed'", "'query bad' in failure_main.msg"]}},
    ]
    result = runner.play(tasks, connection=False)
    assert result.rc == 0, result.tail()
    assert result.task('no token is left in host variables')['status'] == 'ok'
    assert result.task('the role failed naming the query')['status'] == 'ok'
