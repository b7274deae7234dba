# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_alert run in-process against the emulator: reads first, batchUpdate or PATCH, idempotent, check mode exact."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.defender.atp.plugins.modules import atp_alert, atp_alert_info

FIRST = 'da637308392288907382_-880718168'   # New, assigned to secop123@contoso.com, TruePositive
SECOND = 'da637472900382838869_1364969609'  # New, unassigned, unclassified


def writes(emulator):
    return [(e['method'], e['path']) for e in emulator.requests_log()
            if e['path'].startswith('/api/alerts') and e['method'] in ('PATCH', 'POST')]


def test_same_change_for_two_alerts_is_one_batch_update_then_nothing(run_module, emulator, conn):
    args = dict(conn, alert_ids=[FIRST, SECOND], status='InProgress', assigned_to='secop2@contoso.com',
                comment='Taken by the SOC')
    result = run_module(atp_alert.main, args)
    assert not result.get('failed'), result['msg']
    assert result['changed'] is True
    assert writes(emulator) == [('POST', '/api/alerts/batchUpdate')]
    body = [e for e in emulator.requests_log() if e['path'] == '/api/alerts/batchUpdate']
    assert result['summary'] == dict(total=2, changed=2, unchanged=0, failed=0, batch_requests=1, patch_requests=0)
    assert [a['method'] for a in result['alerts']] == ['batchUpdate', 'batchUpdate']
    assert result['alerts'][0]['before']['status'] == 'New'
    assert result['alerts'][0]['after'] == dict(status='InProgress', assignedTo='secop2@contoso.com',
                                                classification='TruePositive', determination=None,
                                                comment='Taken by the SOC')
    assert body
    emulator.reset()
    again = run_module(atp_alert.main, args)
    assert again['changed'] is False and again['summary']['unchanged'] == 2
    assert writes(emulator) == []


def test_only_differing_fields_are_sent_and_different_changes_are_patched(run_module, emulator, conn):
    # FIRST is already TruePositive: only the determination differs. SECOND needs both: two different changes.
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST, SECOND], classification='TruePositive',
                                             determination='Malware'))
    assert not result.get('failed'), result['msg']
    assert writes(emulator) == [('PATCH', '/api/alerts/' + FIRST), ('PATCH', '/api/alerts/' + SECOND)]
    sent = dict((a['id'], a['sent']) for a in result['alerts'])
    assert sent == {FIRST: {'determination': 'Malware'}, SECOND: {'classification': 'TruePositive', 'determination': 'Malware'}}
    assert all(a['after']['determination'] == 'Malware' for a in result['alerts'])


def test_comment_already_newest_is_not_added_again(run_module, emulator, conn):
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST], comment='test comment for docs'))
    assert result['changed'] is False and writes(emulator) == []
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST], comment='  a new note '))
    assert result['changed'] is True and result['alerts'][0]['method'] == 'PATCH'
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST], comment='a new note'))
    assert result['changed'] is False


def test_check_mode_predicts_exactly_and_sends_nothing(run_module, emulator, conn):
    args = dict(conn, alert_ids=[FIRST, SECOND], status='Resolved', classification='FalsePositive',
                determination='NotMalicious', comment='approved admin tool')
    predicted = run_module(atp_alert.main, args, check_mode=True, diff=True)
    assert predicted['changed'] is True and writes(emulator) == []
    assert predicted['diff']['after'][SECOND]['status'] == 'Resolved'
    assert predicted['diff']['before'][SECOND]['status'] == 'New'
    real = run_module(atp_alert.main, args, diff=True)
    for key in ('changed', 'summary', 'diff'):
        assert predicted[key] == real[key]
    assert [a['after'] for a in predicted['alerts']] == [a['after'] for a in real['alerts']]


def test_unknown_id_is_an_error_for_that_alert_only(run_module, emulator, conn):
    args = dict(conn, alert_ids=[SECOND, 'da000000000000000000_1'], status='InProgress')
    result = run_module(atp_alert.main, args)
    assert result['failed'] and 'da000000000000000000_1' in result['msg']
    assert result['alerts'][0]['changed'] is True and result['alerts'][1]['error']
    assert result['summary']['failed'] == 1 and result['summary']['changed'] == 1
    partial = run_module(atp_alert.main, dict(args, status='Resolved', allow_partial=True))
    assert not partial.get('failed') and partial['summary']['failed'] == 1
    every = run_module(atp_alert.main, dict(conn, alert_ids=['da000000000000000000_1'], status='Resolved',
                                            allow_partial=True))
    assert every['failed'], 'allow_partial does not hide a task in which every alert failed'


def test_refused_batch_falls_back_to_patch_each(run_module, emulator, conn):
    emulator.add_fault(path='/api/alerts/batchUpdate', status=400, times=1)
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST, SECOND], status='InProgress'))
    assert not result.get('failed'), result['msg']
    assert writes(emulator) == [('POST', '/api/alerts/batchUpdate'), ('PATCH', '/api/alerts/' + FIRST),
                                ('PATCH', '/api/alerts/' + SECOND)]
    assert all(a['after']['status'] == 'InProgress' for a in result['alerts'])


def test_permission_error_stops_the_rest(run_module, emulator, conn):
    emu = emulator.info
    args = dict(tenant_id=emu['tenant_id'], client_id=emu['limited_client_id'], client_secret=emu['limited_client_secret'],
                login_url=emu['url'], api_url=emu['url'], ca_path=emu['ca_path'], token_cache=False,
                alert_ids=[FIRST, SECOND], status='Resolved', assigned_to='x@contoso.com')
    result = run_module(atp_alert.main, dict(args, alert_ids=[FIRST, SECOND]))
    assert result['failed'] and result['summary']['failed'] == 2
    assert 'Alert.ReadWrite.All' in result['alerts'][0]['error']


@pytest.mark.parametrize('args,words', [
    (dict(alert_ids=[]), 'alert_ids is empty'),
    (dict(alert_ids=["x' or id ne '"], status='New'), 'alert_ids has entries'),
    (dict(alert_ids=[FIRST]), 'Nothing to change'),
    (dict(alert_ids=[FIRST], comment='  '), 'comment is empty'),
    (dict(alert_ids=[FIRST], assigned_to=''), 'assigned_to is empty'),
    (dict(alert_ids=[FIRST], classification='FalsePositive', determination='Malware'), 'does not go with'),
])
def test_bad_input_fails_before_any_request(run_module, emulator, conn, args, words):
    result = run_module(atp_alert.main, dict(conn, **args))
    assert result['failed'] and words in result['msg']
    assert [e for e in emulator.requests_log() if e['path'].startswith('/api')] == []


def test_synonym_determination_is_unchanged(run_module, emulator, conn):
    first = run_module(atp_alert.main, dict(conn, alert_ids=[SECOND], classification='FalsePositive', determination='Clean'))
    assert first['changed'] is True
    again = run_module(atp_alert.main, dict(conn, alert_ids=[SECOND], classification='FalsePositive',
                                            determination='NotMalicious'))
    assert again['changed'] is False


def test_many_alerts_are_read_in_filter_batches_and_updated_in_one_batch(run_module, emulator, conn):
    from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
    everything = run_module(atp_alert_info.main, dict(conn))['alerts']
    ids = [a['id'] for a in everything][:25]
    assert len(ids) == 25, 'the default data should hold 25 alerts'
    emulator.reset()
    result = run_module(atp_alert.main, dict(conn, alert_ids=ids, comment='Bulk triage 2026-11'))
    assert not result.get('failed'), result['msg']
    reads = [e for e in emulator.requests_log() if e['method'] == 'GET' and e['path'] == '/api/alerts']
    per_read = odata.FilterBatcher(None).take([odata.eq('id', alert_id) for alert_id in ids])
    assert per_read == 12  # 12 comparisons, 59 of ASP.NET OData's 100 nodes
    assert len(reads) == -(-25 // per_read)
    assert all(e['query']['$filter'].count(' eq ') <= per_read for e in reads)
    assert writes(emulator) == [('POST', '/api/alerts/batchUpdate')]
    assert result['summary']['changed'] == 25


def test_a_refused_id_filter_falls_back_to_reading_each_alert(run_module, emulator, conn):
    emulator.add_fault(path='^/api/alerts$', method='GET', status=400, times=1)
    result = run_module(atp_alert.main, dict(conn, alert_ids=[FIRST, SECOND], status='InProgress'))
    assert not result.get('failed'), result['msg']
    singles = [e['path'] for e in emulator.requests_log() if e['method'] == 'GET' and e['path'].startswith('/api/alerts/')]
    assert singles == ['/api/alerts/' + FIRST, '/api/alerts/' + SECOND]
    assert result['summary']['changed'] == 2
