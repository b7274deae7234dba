# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""atp_machine_tag, run in-process against the emulator, which compares tags by exact spelling (add-or-remove-machine-tags.md
does not say the service compares them case-insensitively): each machine gets its own spelling, and tags_after is what
the server holds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.modules import atp_machine_tag

FINANCE_01 = '958229471430993e9cde904f77fed63aeff7ceb4'
FINANCE_02 = 'd2f09bfcf456f93cca92743dce5902a8b550de36'
IT_01 = '4d20d4af9680b197d8941bdd7cc68a13dc68b01c'
REIMAGED = ('744a2d6bfb65292193245b09362096e4079af052', 'fc82a70282c83b4ea21f5b989cd41871b6c42418')


def run(run_module, conn, check_mode=False, diff=False, **args):
    merged = dict(conn)
    merged.update(args)
    return run_module(atp_machine_tag.main, merged, check_mode=check_mode, diff=diff)


def api_call(emulator, method, path, body=None):
    status, payload, _headers = emulator.call(method, path, body, headers={'Authorization': 'Bearer ' + emulator.token()})
    assert status == 200, payload
    return payload


def server_tags(emulator, machine_id):
    return api_call(emulator, 'GET', '/api/machines/%s' % machine_id)['machineTags']


def tag(emulator, machine_id, value):
    api_call(emulator, 'POST', '/api/machines/%s/tags' % machine_id, {'Value': value, 'Action': 'Add'})


def test_each_machine_loses_the_tag_in_its_own_spelling(run_module, conn, fresh_emulator):
    for machine_id, spelling in ((FINANCE_01, 'IR-1'), (FINANCE_02, 'ir-1'), (IT_01, 'Ir-1')):
        tag(fresh_emulator, machine_id, spelling)
    fresh_emulator.reset()  # the log only
    result = run(run_module, conn, machines=[FINANCE_01, FINANCE_02, IT_01], tags=['IR-1'], state='absent')
    assert not result.get('failed'), result['msg']
    for machine_id in (FINANCE_01, FINANCE_02, IT_01):
        assert not any(t.lower() == 'ir-1' for t in server_tags(fresh_emulator, machine_id))
    for entry in result['machines']:
        assert entry['changed'] and entry['tags_after'] == server_tags(fresh_emulator, entry['machine_id'])
    sent = sorted(e['path'] for e in fresh_emulator.requests_log() if e['method'] == 'POST' and e['path'].startswith('/api/'))
    assert len(sent) == 3  # one spelling each: three requests, no bulk call mixing spellings


def test_one_spelling_for_many_machines_is_still_one_bulk_call(run_module, conn, fresh_emulator):
    for machine_id in (FINANCE_01, FINANCE_02):
        tag(fresh_emulator, machine_id, 'IR-2')
    tag(fresh_emulator, IT_01, 'ir-2')
    fresh_emulator.reset()
    result = run(run_module, conn, machines=[FINANCE_01, FINANCE_02, IT_01], tags=['ir-2'], state='absent')
    assert not result.get('failed'), result['msg']
    posts = [e['path'] for e in fresh_emulator.requests_log() if e['method'] == 'POST' and e['path'].startswith('/api/')]
    assert sorted(posts) == sorted(['/api/machines/AddOrRemoveTagForMultipleMachines', '/api/machines/%s/tags' % IT_01])
    for entry in result['machines']:
        assert entry['tags_after'] == server_tags(fresh_emulator, entry['machine_id'])
        assert not any(t.lower() == 'ir-2' for t in entry['tags_after'])


def test_a_tag_the_server_still_holds_after_the_write_is_an_error(run_module, conn, fresh_emulator):
    tag(fresh_emulator, FINANCE_01, 'IR-3')
    # The API acknowledges the removal but the machine, as it answers, still holds the tag.
    machine = api_call(fresh_emulator, 'GET', '/api/machines/%s' % FINANCE_01)
    machine.pop('@odata.context', None)
    fresh_emulator.add_fault(path=r'^/api/machines/%s/tags$' % FINANCE_01, method='POST', status=200, body=machine,
                             times=1)
    result = run(run_module, conn, machines=[FINANCE_01], tags=['IR-3'], state='absent')
    entry = result['machines'][0]
    assert result['failed'] and 'still holds' in entry['error'] and "'IR-3'" in entry['error']
    assert 'IR-3' in entry['tags_after']


def test_diff_is_keyed_by_machine_id(run_module, conn, fresh_emulator):
    result = run(run_module, conn, check_mode=True, diff=True, machines=list(REIMAGED), tags=['IR-4'])
    assert sorted(result['diff']['before']) == sorted(REIMAGED)
    assert result['diff']['after'] == dict((i, ['IR-4']) for i in REIMAGED)
