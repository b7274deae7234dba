# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_indicator and atp_indicator_info run in-process against the emulator."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils import basic

from ansible_collections.defender.atp.plugins.modules import atp_indicator, atp_indicator_info


def sha1(number):
    return '%040x' % number


def hashes(count, start=0, **fields):
    items = []
    for number in range(start, start + count):
        item = dict(type='FileSha1', value=sha1(number), action='Block', title='hash %d' % number)
        item.update(fields)
        items.append(item)
    return items


def calls(emulator, path):
    return [e for e in emulator.requests_log() if e['path'] == path]


def test_apply_from_empty_then_nothing_then_one_change(run_module, emulator, conn):
    wanted = hashes(1100) + [dict(type='DomainName', value='Evil.Example.com', action='Warn', title='phish',
                                  severity='High', rbac_group_names=['Servers'])]
    result = run_module(atp_indicator.main, dict(conn, indicators=wanted))
    assert not result.get('failed'), result['msg']
    assert result['created']['count'] == 1101 and result['summary']['import_calls'] == 3
    assert len(calls(emulator, '/api/indicators/import')) == 3
    assert all(v['id'] for v in result['created']['indicators'])
    tenant = run_module(atp_indicator_info.main, dict(conn))
    assert tenant['count'] == 1101 and all(i['application'] == 'defender.atp' for i in tenant['indicators'])

    emulator.reset()
    again = run_module(atp_indicator.main, dict(conn, indicators=[dict(i, value=i['value'].upper()) for i in wanted]))
    assert again['changed'] is False and again['unchanged']['count'] == 1101
    assert [e['method'] for e in emulator.requests_log() if e['path'].startswith('/api/')] == ['GET']

    emulator.reset()
    wanted[5]['action'] = 'Audit'
    changed = run_module(atp_indicator.main, dict(conn, indicators=wanted), diff=True)
    updated = changed['updated']['indicators']
    assert updated == [dict(type='FileSha1', value=sha1(5), id=updated[0]['id'], fields=['action', 'generateAlert'])]
    assert len(calls(emulator, '/api/indicators/import')) == 1
    label = 'FileSha1:' + sha1(5)
    assert changed['diff']['before'][label]['action'] == 'Block' and changed['diff']['after'][label]['action'] == 'Audit'


def test_check_mode_predicts_exactly(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(3)))
    emulator.reset()
    args = dict(conn, indicators=hashes(2, start=1, action='Warn') + hashes(2, start=10), purge=True)
    predicted = run_module(atp_indicator.main, args, check_mode=True, diff=True)
    assert [e['method'] for e in emulator.requests_log() if e['path'].startswith('/api/indicators')].count('POST') == 0
    real = run_module(atp_indicator.main, args, diff=True)
    for key in ('changed', 'diff'):
        assert predicted[key] == real[key]
    for key in ('created', 'updated', 'deleted', 'unchanged'):
        assert predicted[key]['count'] == real[key]['count']
        assert [(v['type'], v['value']) for v in predicted[key]['indicators']] == [(v['type'], v['value']) for v in real[key]['indicators']]
    assert (real['created']['count'], real['updated']['count'], real['deleted']['count']) == (2, 2, 1)
    assert predicted['summary']['tenant_after'] == real['summary']['tenant_after'] == 4


def test_purge_never_touches_other_applications(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(2), application='other-tool'))
    run_module(atp_indicator.main, dict(conn, indicators=hashes(2, start=5)))
    emulator.reset()
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(1, start=5), purge=True))
    assert [v['value'] for v in result['deleted']['indicators']] == [sha1(6)]
    assert len(calls(emulator, '/api/indicators/BatchDelete')) == 1
    left = run_module(atp_indicator_info.main, dict(conn))
    assert sorted(i['indicatorValue'] for i in left['indicators']) == [sha1(0), sha1(1), sha1(5)]
    other = run_module(atp_indicator_info.main, dict(conn, application='other-tool'))
    assert other['count'] == 2 and other['filter'] == "application eq 'other-tool'"


def test_state_absent(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(3)))
    result = run_module(atp_indicator.main, dict(conn, state='absent', indicators=[
        dict(type='FileSha1', value=sha1(1).upper()), dict(type='FileSha1', value=sha1(99))]))
    assert result['deleted']['count'] == 1 and result['unchanged']['count'] == 1
    assert run_module(atp_indicator_info.main, dict(conn))['count'] == 2
    assert run_module(atp_indicator.main, dict(conn, state='absent', indicators=[
        dict(type='FileSha1', value=sha1(1))]))['changed'] is False


def test_tenant_limit_is_checked_before_any_write(run_module, emulator, conn):
    emulator.set_config(indicator_limit=15000)
    run_module(atp_indicator.main, dict(conn, indicators=hashes(2)))
    emulator.reset()  # the log only; the indicators stay
    # The module knows the documented limit (15,000); a tenant that holds 2 can take 14,998 more, not 14,999.
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(14999, start=2)), check_mode=True)
    assert result['failed'] and 'more than the limit of 15000' in result['msg']
    assert calls(emulator, '/api/indicators/import') == []


def test_invalid_entries_fail_before_any_request(run_module, emulator, conn):
    result = run_module(atp_indicator.main, dict(conn, indicators=[
        dict(type='FileSha256', value='abc', action='Block', title='x'),
        dict(type='IpAddress', value='10.0.0.0/8', action='Block', title='y')]))
    assert result['failed'] and 'indicators[0].value' in result['msg'] and 'CIDR' in result['msg']
    assert [e for e in emulator.requests_log() if e['path'].startswith('/api')] == []
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(1), state='absent', purge=True))
    assert result['failed'] and 'purge applies to state=present' in result['msg']


def test_refused_indicators_are_reported_and_fail_the_task(run_module, emulator, conn):
    emulator.set_config(indicator_limit=1)
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(1)))
    assert not result.get('failed')
    # The module checks the documented 15,000; this emulator refuses the second one, and the task says so.
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(2)))
    assert result['failed'] is True and result['errors']['count'] == 1
    assert result['summary']['failed'] == 1 and 'refused by the API' in result['msg']


def test_info_filters_and_limit(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(3) + [
        dict(type='Url', value='https://evil.example.com/x', action='Warn', title='u')]))
    result = run_module(atp_indicator_info.main, dict(conn, type=['Url', 'DomainName'], action=['Warn']))
    assert [i['indicatorValue'] for i in result['indicators']] == ['https://evil.example.com/x']
    assert result['filter'] == "(indicatorType eq 'Url' or indicatorType eq 'DomainName') and action eq 'Warn'"
    limited = run_module(atp_indicator_info.main, dict(conn, limit=2))
    assert limited['count'] == 2 and limited['truncated'] is True
    bad = run_module(atp_indicator_info.main, dict(conn, type=[]))
    assert bad['failed'] and 'type is an empty list' in bad['msg']


def test_refused_batch_delete_falls_back_to_one_delete_each(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(3)))
    emulator.add_fault(path='/api/indicators/BatchDelete', status=404, times=1)
    emulator.reset()
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(1), purge=True))
    assert not result.get('failed'), result['msg']
    assert result['deleted']['count'] == 2
    deletes = [e for e in emulator.requests_log() if e['method'] == 'DELETE']
    assert len(deletes) == 2 and all(e['status'] == 204 for e in deletes)
    assert run_module(atp_indicator_info.main, dict(conn))['count'] == 1


def test_an_import_without_a_clear_answer_is_reported_not_repeated(run_module, emulator, conn):
    emulator.add_fault(path='/api/indicators/import', status=503, times=1)
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(2)))
    assert result['failed'] and result['errors']['count'] == 2
    assert 'Run the task again' in result['errors']['indicators'][0]['error']
    assert len(calls(emulator, '/api/indicators/import')) == 1, 'a write is never sent twice blindly'
    again = run_module(atp_indicator.main, dict(conn, indicators=hashes(2)))
    assert not again.get('failed') and again['created']['count'] == 2


# -- issue 19: what the import answers, and guards against a list that is not what was meant ---------------------------

def test_a_400_for_one_indicator_names_it_and_creates_the_others(run_module, emulator, conn):
    # import-ti-indicators.md: a 400 for the whole call; nothing in it says which indicator was at fault.
    emulator.set_config(indicator_bad_request_values=[sha1(321)])
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(600)))
    assert result['failed'] is True
    assert [(e['value'], 'HTTP 400' in e['error']) for e in result['errors']['indicators']] == [(sha1(321), True)]
    assert result['created']['count'] == 599 and sha1(321) not in [v['value'] for v in result['created']['indicators']]
    assert all(v['id'] for v in result['created']['indicators'])
    imports = calls(emulator, '/api/indicators/import')
    assert result['summary']['import_calls'] == len(imports) <= 2 + 2 * 9
    tenant = run_module(atp_indicator_info.main, dict(conn))
    assert tenant['count'] == 599 and sha1(321) not in [i['indicatorValue'] for i in tenant['indicators']]


def test_retired_actions_fail_before_any_request(run_module, emulator, conn):
    result = run_module(atp_indicator.main, dict(conn, indicators=hashes(1) + hashes(1, start=1, action='AlertAndBlock')))
    assert result['failed'] and 'indicators[1].action AlertAndBlock' in result['msg'] and 'January 2022' in result['msg']
    assert [e for e in emulator.requests_log() if e['path'].startswith('/api')] == []


def test_an_expired_entry_is_not_sent_and_a_re_run_sends_nothing(run_module, emulator, conn, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    wanted = hashes(2) + hashes(1, start=2, expiration='2020-12-12T00:00:00Z')
    first = run_module(atp_indicator.main, dict(conn, indicators=wanted))
    assert not first.get('failed'), first['msg']
    assert first['created']['count'] == 2 and first['expired']['count'] == 1
    assert first['expired']['indicators'] == [dict(type='FileSha1', value=sha1(2), id=None,
                                                   expiration='2020-12-12T00:00:00Z')]
    assert any('expired at 2020-12-12T00:00:00Z' in w for w in warnings), warnings
    emulator.reset()
    again = run_module(atp_indicator.main, dict(conn, indicators=wanted))
    assert again['changed'] is False and again['expired']['count'] == 1 and again['summary']['expired'] == 1
    assert [e['method'] for e in emulator.requests_log() if e['path'].startswith('/api/')] == ['GET']


def test_an_empty_list_with_purge_is_refused(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(3)))
    emulator.reset()
    for check_mode in (True, False):
        result = run_module(atp_indicator.main, dict(conn, indicators=[], purge=True), check_mode=check_mode)
        assert result['failed'] and 'indicators is empty and purge is true' in result['msg']
        assert 'every indicator of application defender.atp' in result['msg']
    assert [e for e in emulator.requests_log() if e['path'].startswith('/api')] == []
    assert run_module(atp_indicator_info.main, dict(conn))['count'] == 3


def test_max_deletions_refuses_the_whole_run_before_any_write(run_module, emulator, conn):
    run_module(atp_indicator.main, dict(conn, indicators=hashes(5)))
    emulator.reset()
    args = dict(conn, indicators=hashes(1) + hashes(1, start=10), purge=True, max_deletions=3)
    for check_mode in (True, False):
        result = run_module(atp_indicator.main, args, check_mode=check_mode)
        assert result['failed'] and 'would delete 4 indicators, more than max_deletions (3)' in result['msg']
        assert result['deletions'] == 4 and result['max_deletions'] == 3
    writes = [e for e in emulator.requests_log() if e['path'].startswith('/api') and e['method'] != 'GET']
    assert writes == [], 'not even the creation was sent'
    absent = run_module(atp_indicator.main, dict(conn, state='absent', indicators=hashes(5), max_deletions=4))
    assert absent['failed'] and 'more than max_deletions (4)' in absent['msg']
    allowed = run_module(atp_indicator.main, dict(args, max_deletions=4))
    assert not allowed.get('failed'), allowed['msg']
    assert allowed['deleted']['count'] == 4 and allowed['created']['count'] == 1
    negative = run_module(atp_indicator.main, dict(args, max_deletions=-1))
    assert negative['failed'] and 'max_deletions must be 0 or more' in negative['msg']
