# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults on every endpoint family, through real ansible-playbook runs against the emulator's fault injection.

The "family tour" is one play on six local hosts with the free strategy, so the families are exercised in parallel:

==================  ====================================================  ==========================================
host                task                                                  families it reaches first
==================  ====================================================  ==========================================
fam_token           atp_token, tenant given as its domain                 token (only this host's token URL is faulted)
fam_alerts          atp_alert_info, status New                            alerts
fam_machines        atp_machine_info by id, with isolation_state          machines, machineactions
fam_isolate         atp_machine_isolate of ws-finance-01                  machines, machineactions, isolate
fam_hunting         atp_query, api defender                               advancedqueries
fam_graph           atp_query, api graph                                  token (Graph audience), graph
==================  ====================================================  ==========================================

Transient faults (fewer than max_retries) must be retried and every task succeed; persistent ones must fail each
task with one message naming what failed, the status and what to try, never a traceback; a write is never done twice.
In-process tests of the same client logic live in tests/unit (_http/test_client.py, test_atp_machine_isolate.py);
these prove it through Ansible: module_defaults, the module processes, the token cache shared between them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import re

import pytest

from support import FAMILY_PATHS, FINANCE_01, IT_01, assert_clean_failure, module_task

TOKEN_DOMAIN_PATH = r'^/contoso\.onmicrosoft\.com/oauth2/v2\.0/token$'
TOUR = collections.OrderedDict([
    ('fam_token', module_task('token', 'atp_token', {'tenant_id': 'contoso.onmicrosoft.com',
                                                     'required_permissions': ['Machine.Isolate']})),
    ('fam_alerts', module_task('alerts', 'atp_alert_info', {'status': ['New']})),
    ('fam_machines', module_task('machines', 'atp_machine_info', {'machines': [IT_01], 'isolation_state': True})),
    ('fam_isolate', module_task('isolate', 'atp_machine_isolate', {'machines': ['ws-finance-01.contoso.com'],
                                                                   'comment': 'IR-7: reliability'})),
    ('fam_hunting', module_task('hunting', 'atp_query', {'api': 'defender', 'query': 'DeviceInfo | take 3'})),
    ('fam_graph', module_task('graph', 'atp_query', {'api': 'graph', 'query': 'DeviceInfo | take 3'})),
])
# The fault rule each family gets: the token family only on the domain-named token URL of fam_token.
TOUR_FAULT_PATHS = dict(FAMILY_PATHS, token=TOKEN_DOMAIN_PATH)
ALL_FAMILIES = ('token', 'alerts', 'machines', 'machineactions', 'isolate', 'advancedqueries', 'graph')


def tour(runner, hosts=None, defaults=None):
    hosts = hosts or list(TOUR)
    tasks = []
    for host in hosts:
        task = dict(TOUR[host])
        task['when'] = "inventory_hostname == '%s'" % host
        tasks.append(task)
    return runner.play(tasks, hosts=dict((h, {}) for h in hosts), strategy='free', forks=len(hosts), defaults=defaults)


def result_of(play, host):
    return play.task(TOUR[host]['name'], host)


def faults_applied(emulator):
    return dict((rule['id'], rule['applied']) for rule in emulator.call('GET', '/_emulator/faults')[1])


def add_family_faults(emulator, families, **rule):
    """One rule per family; returns {family: rule id}."""
    ids = {}
    for family in families:
        spec = dict(rule, path=TOUR_FAULT_PATHS[family])
        if family == 'machines':
            spec.setdefault('method', 'GET')
        ids[family] = emulator.add_fault(**spec)
    return ids


def statuses_by_family(emulator):
    seen = collections.defaultdict(list)
    for entry in emulator.requests_log():
        for family, path in TOUR_FAULT_PATHS.items():
            if re.search(path, entry['path']):
                seen[family].append(entry['status'])
    return seen


def isolate_actions(emulator, machine_id):
    return [a for a in emulator.machine_state(machine_id)['actions'] if a['type'] in ('Isolate', 'Unisolate')
            and a['requestor'] == emulator.info['client_id']]


def assert_tour_succeeded(play, emulator):
    for host in TOUR:
        result = result_of(play, host)
        assert result['status'] == 'ok', (host, result['result'].get('msg'), play.tail())
    assert len(isolate_actions(emulator, FINANCE_01)) == 1, 'the isolate request was applied more than once'


STATUSES = (500, 502, 503, 504)


@pytest.mark.parametrize('retry_after, times', [(None, 2), (1, 1)], ids=['backoff-twice', 'retry-after-once'])
def test_transient_5xx_on_every_family_is_retried_and_the_run_succeeds(runner, emu, retry_after, times):
    rules = {}
    for index, family in enumerate(ALL_FAMILIES):
        spec = dict(status=STATUSES[index % len(STATUSES)], times=times)
        if retry_after is not None:
            spec['retry_after'] = retry_after
        rules.update(add_family_faults(emu, [family], **spec))
    play = tour(runner, defaults={'max_retries': 2})
    assert_tour_succeeded(play, emu)
    applied = faults_applied(emu)
    assert dict((f, applied[rules[f]]) for f in ALL_FAMILIES) == dict((f, times) for f in ALL_FAMILIES)
    seen = statuses_by_family(emu)
    for index, family in enumerate(ALL_FAMILIES):
        assert seen[family].count(STATUSES[index % len(STATUSES)]) == times, (family, seen[family])
    # Tasks whose family no other task reaches retried exactly that often.
    for host, family in (('fam_alerts', 'alerts'), ('fam_hunting', 'advancedqueries')):
        assert result_of(play, host)['result']['http_stats']['retries'] == times, host
    # Nothing was sent twice: one 201 for the isolate, one request per retried read.
    assert seen['isolate'].count(201) == 1


@pytest.mark.parametrize('retry_after', [None, 1], ids=['backoff', 'retry-after'])
def test_persistent_5xx_fails_each_task_with_one_clear_message(runner, emu, retry_after):
    """Families a task reaches first: token, alerts, machines, advancedqueries, graph (machineactions and isolate
    need the machines family to work: see the next tests)."""
    families = ('token', 'alerts', 'machines', 'advancedqueries', 'graph')
    for index, family in enumerate(families):
        spec = dict(status=STATUSES[index % len(STATUSES)])
        if retry_after is not None:
            spec['retry_after'] = retry_after
        add_family_faults(emu, [family], **spec)
    play = tour(runner, hosts=['fam_token', 'fam_alerts', 'fam_machines', 'fam_hunting', 'fam_graph'],
                defaults={'max_retries': 1})
    expected = {
        'fam_token': ('Token request', 'HTTP 500'),
        'fam_alerts': ('/api/alerts', 'HTTP 502'),
        'fam_machines': ('/api/machines', 'HTTP 503'),
        'fam_hunting': ('Hunting query (Defender advancedqueries/run)', 'HTTP 504'),
        'fam_graph': ('Hunting query (Graph runHuntingQuery)', 'HTTP 500'),
    }
    for host, fragments in expected.items():
        message = assert_clean_failure(result_of(play, host), *fragments)
        assert 'after 2 attempt(s)' in message and 'raise max_retries' in message, message
    assert 'Traceback' not in play.output


def test_persistent_failure_of_machine_actions_stops_before_any_write(runner, emu):
    add_family_faults(emu, ['machineactions'], status=503)
    play = tour(runner, hosts=['fam_machines', 'fam_isolate'], defaults={'max_retries': 1})
    for host in ('fam_machines', 'fam_isolate'):
        assert_clean_failure(result_of(play, host), '/api/machineactions', 'HTTP 503', 'after 2 attempt(s)')
    assert statuses_by_family(emu)['isolate'] == []


def test_429_storm_on_every_family_is_waited_out(runner, emu):
    rules = add_family_faults(emu, ALL_FAMILIES, status=429, retry_after=1, times=2)
    play = tour(runner, defaults={'max_retries': 3})
    assert_tour_succeeded(play, emu)
    applied = faults_applied(emu)
    assert all(applied[rules[f]] == 2 for f in ALL_FAMILIES), applied
    for host in ('fam_alerts', 'fam_hunting'):
        stats = result_of(play, host)['result']['http_stats']
        assert stats['throttled'] == 2 and stats['waited_seconds'] >= 2, stats


def test_429_storm_beyond_max_retries_names_the_quota_and_what_to_do(runner, emu):
    add_family_faults(emu, ['alerts', 'token'], status=429, retry_after=1)
    play = tour(runner, hosts=['fam_token', 'fam_alerts'], defaults={'max_retries': 1})
    for host in ('fam_token', 'fam_alerts'):
        message = assert_clean_failure(result_of(play, host), 'HTTP 429')
        assert 'still throttled after 2 attempt(s)' in message.lower() and 'max_retries' in message, message


def test_dropped_connections_on_every_family_are_retried_and_nothing_is_done_twice(runner, emu):
    rules = add_family_faults(emu, ALL_FAMILIES, drop=True, times=1)
    play = tour(runner)
    assert_tour_succeeded(play, emu)
    applied = faults_applied(emu)
    assert all(applied[rules[f]] == 1 for f in ALL_FAMILIES), applied
    isolate = result_of(play, 'fam_isolate')['result']['machines'][0]
    # The dropped isolate request was not applied: the module read the actions again, then sent it once more.
    assert isolate['changed'] and any('sent again' in w for w in isolate['warnings']), isolate


def test_answers_slower_than_timeout_are_retried_and_a_late_write_is_not_repeated(runner, emu):
    """Every family answers once after the client gave up (timeout 2 s, answer after 3.5 s): reads are retried. The
    isolate request (timeout 3 s) is answered, and applied, 5 s after it was sent: reading the machine's actions once
    after 1 s would miss it; the module reads them again for up to ``timeout`` seconds (at 4 s and 6 s), finds the
    action and does not send the request again."""
    rules = add_family_faults(emu, [f for f in ALL_FAMILIES if f != 'isolate'], delay=3.5, times=1)
    rules.update(add_family_faults(emu, ['isolate'], delay=5, times=1))
    tour_hosts = list(TOUR)
    tasks = []
    for host in tour_hosts:
        task = dict(TOUR[host], when="inventory_hostname == '%s'" % host)
        if host == 'fam_isolate':
            task['defender.atp.atp_machine_isolate'] = dict(task['defender.atp.atp_machine_isolate'], timeout=3)
        tasks.append(task)
    play = runner.play(tasks, hosts=dict((h, {}) for h in tour_hosts), strategy='free', forks=len(tour_hosts),
                       defaults={'timeout': 2})
    assert_tour_succeeded(play, emu)
    applied = faults_applied(emu)
    assert all(applied[rules[f]] == 1 for f in ALL_FAMILIES), applied
    isolate = result_of(play, 'fam_isolate')['result']['machines'][0]
    assert isolate['changed'] and any('found applied' in w for w in isolate['warnings']), isolate
    assert statuses_by_family(emu)['isolate'] == [201], 'the isolate request was sent again'


# -- tokens expiring in the middle of a long run ---------------------------------------------------------------------

def token_requests(emulator):
    return [e for e in emulator.requests_log() if e['family'] == 'token']


def assert_renewed_only_when_due(emulator, lifetime):
    """Each token request came when the previous token was in its last tenth of life (or gone): never more often."""
    times = [e['time'] for e in token_requests(emulator)]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(gap >= lifetime * 0.85 - 1 for gap in gaps), (lifetime, gaps)
    return times


def test_a_token_expiring_during_a_long_wait_is_renewed_and_the_wait_completes(runner, emu):
    """Tokens live 4 s; the isolate action takes about 6 s to succeed (Pending 3 s, InProgress 3 s)."""
    emu.set_config(token_lifetime=4, pending_seconds=3, inprogress_seconds=3)
    play = runner.play([module_task('isolate and wait', 'atp_machine_isolate', {
        'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-7: wait', 'wait': True, 'wait_timeout': 30,
        'poll_interval': 1})])
    result = play.task('isolate and wait')
    assert result['status'] == 'ok', (result['result'].get('msg'), play.tail())
    body = result['result']
    entry = body['machines'][0]
    assert entry['state'] == 'isolated' and entry['action']['status'] == 'Succeeded', entry
    times = assert_renewed_only_when_due(emu, 4)
    assert len(times) >= 2 and body['http_stats']['token_requests'] == len(times), (times, body['http_stats'])
    assert [e for e in emu.requests_log() if e['status'] == 401] == []  # renewed before it expired
    assert len(isolate_actions(emu, FINANCE_01)) == 1


def test_a_token_expiring_in_the_middle_of_a_paging_run_is_renewed_once_and_no_page_is_lost(runner, emu):
    """10,142 machines, two pages of 10,000; tokens live 5 s; the second page is answered 5 s late, so the token it
    was sent with (still valid: the first page takes well under 3.5 s) has expired when the server reads it: 401.
    The token is renewed once and the page asked for again. check_mode: the 250 names are resolved through the full
    listing, and nothing is written."""
    emu.set_data(generate={'machines': 10100, 'alerts': 0, 'seed': 3})
    emu.reset()
    emu.set_config(token_lifetime=5)
    emu.add_fault(path=r'^/api/machines$', method='GET', delay=5, skip=1, times=1)
    names = ['gen-%05d.scale.contoso.com' % i for i in range(0, 10000, 40)]
    play = runner.play([module_task('resolve a fleet', 'atp_machine_isolate', {
        'machines': names, 'comment': 'IR-7: paging', 'state': 'unisolated', 'max_machines': 300})], check=True)
    result = play.task('resolve a fleet')
    assert result['status'] == 'ok', (result['result'].get('msg'), play.tail())
    body = result['result']
    assert body['summary'] == {'total': 250, 'changed': 0, 'unchanged': 250, 'failed': 0, 'pending': 0}, body['summary']
    pages = [e for e in emu.requests_log() if e['path'] == '/api/machines']
    assert [(e['query'].get('$skip'), e['status']) for e in pages] == [(None, 200), ('10000', 401), ('10000', 200)], pages
    assert body['http_stats']['token_requests'] == 2 and len(token_requests(emu)) == 2
    assert [e for e in emu.requests_log() if e['method'] != 'GET' and e['family'] != 'token'] == []


# -- a fleet run with failures -------------------------------------------------------------------------------------------

FLEET = ['ws-finance-01.contoso.com', 'ws-it-01.contoso.com', 'srv-web-02.contoso.com', 'laptop-travel-07.contoso.com',
         'nope.contoso.com', 'ws-reimaged.contoso.com', 'ws-finance-02.contoso.com']


def test_a_fleet_run_reports_every_machine_even_when_some_fail(runner, emu):
    """ws-it-01's isolate always answers 503, ws-finance-02's always 400; nope is unknown, ws-reimaged ambiguous;
    srv-web-02 is isolated already and laptop-travel-07 has an isolate pending. Only ws-finance-01 gets an action."""
    emu.add_fault(path=r'^/api/machines/%s/isolate$' % IT_01, method='POST', status=503)
    finance_02 = emu.machine_state('ws-finance-02.contoso.com')['machine']['id']
    emu.add_fault(path=r'^/api/machines/%s/isolate$' % finance_02, method='POST', status=400,
                  body={'error': {'code': 'InvalidRequestBody', 'message': 'Request body is incorrect', 'target': 'x'}})
    args = {'machines': FLEET, 'comment': 'IR-7: fleet'}
    play = runner.play([module_task('fleet', 'atp_machine_isolate', args),
                        module_task('fleet again, partial allowed', 'atp_machine_isolate', dict(args, allow_partial=True))],
                       defaults={'max_retries': 2})
    first = play.task('fleet')
    message = assert_clean_failure(first, '4 failed')
    body = first['result']
    by_input = dict((m['input'], m) for m in body['machines'])
    assert list(by_input) == FLEET, 'every entry is reported, in order'
    assert body['summary'] == {'total': 7, 'changed': 1, 'unchanged': 2, 'failed': 4, 'pending': 2}, body['summary']
    assert by_input['ws-finance-01.contoso.com']['state'] == 'isolating' and by_input['ws-finance-01.contoso.com']['changed']
    assert by_input['srv-web-02.contoso.com']['state'] == 'isolated' and not by_input['srv-web-02.contoso.com']['error']
    assert by_input['laptop-travel-07.contoso.com']['state'] == 'isolating'
    assert 'HTTP 503' in by_input['ws-it-01.contoso.com']['error']
    assert 'HTTP 400 InvalidRequestBody' in by_input['ws-finance-02.contoso.com']['error']
    assert 'no machine is named nope.contoso.com' in by_input['nope.contoso.com']['error']
    assert '2 machines match the name ws-reimaged.contoso.com' in by_input['ws-reimaged.contoso.com']['error']
    for name in ('ws-it-01', 'ws-finance-02', 'nope', 'ws-reimaged'):
        assert name in message, (name, message)
    # ws-it-01: the 503 was never applied, so it was read again and sent again, as often as max_retries allows.
    it_posts = [e for e in emu.requests_log() if e['path'] == '/api/machines/%s/isolate' % IT_01]
    assert len(it_posts) == 3 * 2, it_posts  # two tasks, three attempts each
    assert len(isolate_actions(emu, FINANCE_01)) == 1 and isolate_actions(emu, IT_01) == []
    second = play.task('fleet again, partial allowed')
    assert second['status'] == 'ok', second['result'].get('msg')
    assert second['result']['changed'] is False and second['result']['summary']['failed'] == 4
    assert len(isolate_actions(emu, FINANCE_01)) == 1, 'the second run sent the isolate again'
