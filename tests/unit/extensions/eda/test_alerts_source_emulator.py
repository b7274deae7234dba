# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Full runs of the event source's ``main(queue, args)`` on a real asyncio queue, against the emulator over HTTPS."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import itertools
import json
import os
import stat

import pytest

from ansible_collections.defender.atp.tests.unit.extensions.eda.eda_runs import (
    ago, alert_requests, iso7, machine, quiet_for, stop, take)

MACHINES = [machine('ws-eda-01.contoso.com'), machine('ws-eda-02.contoso.com')]


def alert(alert_id, severity, updated_min, created_min=None, status='New', machine_index=0):
    return {'id': alert_id, 'severity': severity, 'status': status, 'title': 'EDA test %s' % alert_id,
            'machineId': MACHINES[machine_index]['id'], 'computerDnsName': MACHINES[machine_index]['computerDnsName'],
            'alertCreationTime': iso7(ago(created_min if created_min is not None else updated_min)),
            'lastUpdateTime': iso7(ago(updated_min))}


@pytest.fixture
def args(conn, tmp_path):
    return dict(conn, interval=0.3, severities=['High', 'Medium'], since='1h', state_file=str(tmp_path / 'state.json'))


def test_a_full_run_sends_each_alert_version_once_through_faults_and_token_expiry(
        source_module, fresh_emulator, args, monkeypatch, caplog, tmp_path):
    caplog.set_level('DEBUG')
    monkeypatch.setattr(source_module, 'PAGE_SIZE', 2)  # page a small data set with $top/$skip
    emulator = fresh_emulator
    alerts = [alert('da1_high', 'High', 5, created_min=10), alert('da2_medium', 'Medium', 20),
              alert('da3_high', 'High', 30, machine_index=1), alert('da4_low', 'Low', 3),
              alert('da5_old', 'High', 120)]
    emulator.set_data(machines=MACHINES, alerts=alerts)
    emulator.set_config(token_lifetime=3)  # tokens expire during the run and must be renewed
    emulator.add_fault(path='^/api/alerts$', status=429, retry_after=1, times=1)
    emulator.add_fault(path='^/api/alerts$', status=503, times=1, skip=2)
    emulator.add_fault(path='^/api/alerts$', drop=True, times=1, skip=4)
    emulator.add_fault(path='^/api/alerts$', status=401, times=1, skip=6)  # a token the API no longer accepts

    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.create_task(source_module.main(queue, args))
        first = await take(queue, 3, timeout=30)
        # Same alerts on every poll: nothing more. Then one alert is updated and one is added.
        await quiet_for(queue, 2.0)
        alerts[0] = dict(alerts[0], status='InProgress', lastUpdateTime=iso7(ago(0)))
        alerts.append(alert('da6_new', 'High', 0))
        await asyncio.to_thread(emulator.set_data, machines=MACHINES, alerts=alerts)
        second = await take(queue, 2, timeout=20)
        await asyncio.sleep(3.5)  # past the token lifetime: the next polls need a renewed token
        await quiet_for(queue, 1.5)
        assert not task.done()
        return first, second, await stop(task)

    first, second, stop_seconds = asyncio.run(scenario())

    # Oldest change first; Low (not asked for) and the 2-hour-old alert (before since) are left out.
    assert [e['alert']['id'] for e in first] == ['da3_high', 'da2_medium', 'da1_high']
    assert [e['alert']['id'] for e in second] == ['da1_high', 'da6_new']
    assert second[0]['alert']['status'] == 'InProgress'
    assert [e['meta']['defender_atp']['change'] for e in second] == ['updated', 'new']
    for event in first + second:
        assert set(event) == {'alert', 'meta'}
        assert event['alert']['machineId'] in [m['id'] for m in MACHINES]
        assert event['meta']['defender_atp']['alert_id'] == event['alert']['id']
        assert event['meta']['defender_atp']['last_update_time'] == event['alert']['lastUpdateTime']
    versions = [(e['alert']['id'], e['alert']['lastUpdateTime']) for e in first + second]
    assert len(versions) == len(set(versions))
    assert stop_seconds < 5

    requests = alert_requests(emulator)
    assert any(entry['query'].get('$skip') == '2' for entry in requests)  # paged
    # After a poll of several pages, the next poll reads the same window again (then the watermark moves on).
    windows = [entry['query']['$filter'] for entry in requests if entry['status'] == 200 and '$skip' not in entry['query']]
    runs = [len(list(group)) for _window, group in itertools.groupby(windows)]
    assert len(runs) > 1 and all(length >= 2 for length in runs[:-1]), runs
    assert all(entry['query'].get('$top') == '2' for entry in requests)
    assert all('lastUpdateTime ge ' in entry['query']['$filter'] and "severity eq 'High'" in entry['query']['$filter']
               for entry in requests)
    statuses = [entry['status'] for entry in requests]
    assert 429 in statuses and 503 in statuses and 401 in statuses and None in statuses  # None: the dropped connection
    status, faults, _headers = emulator.call('GET', '/_emulator/faults')
    assert status == 200 and all(rule['applied'] == 1 for rule in faults)
    token_requests = [entry for entry in emulator.requests_log() if entry.get('grant_type')]
    assert len(token_requests) >= 2  # renewed at least once

    with open(args['state_file']) as handle:
        state = json.load(handle)
    assert stat.S_IMODE(os.stat(args['state_file']).st_mode) == 0o600
    assert ['da6_new', second[1]['alert']['lastUpdateTime']] in state['seen']

    logged = caplog.text
    for secret in emulator.secrets():
        assert secret not in logged


def test_a_restart_with_the_state_file_goes_on_where_it_stopped(source_module, fresh_emulator, args):
    emulator = fresh_emulator
    alerts = [alert('da1_high', 'High', 5), alert('da2_high', 'High', 4, machine_index=1)]
    emulator.set_data(machines=MACHINES, alerts=alerts)

    async def run(expect, then=None):
        queue = asyncio.Queue()
        task = asyncio.create_task(source_module.main(queue, args))
        events = await take(queue, expect, timeout=20) if expect else []
        if then is not None:
            await asyncio.to_thread(then)
            events += await take(queue, 1, timeout=20)
        await quiet_for(queue, 1.5)
        await stop(task)
        return [e['alert']['id'] for e in events]

    assert asyncio.run(run(2)) == ['da1_high', 'da2_high']
    # A new process with the same state file: nothing again, but a new alert comes through.
    alerts.append(alert('da3_high', 'High', 0))
    assert asyncio.run(run(0, then=lambda: emulator.set_data(machines=MACHINES, alerts=alerts))) == ['da3_high']
    # Unpatched, the source asks for the API's largest page.
    assert set(entry['query'].get('$top') for entry in alert_requests(emulator)) == {'10000'}


def test_rejected_credentials_stop_the_source_with_a_message_and_no_secret(source_module, fresh_emulator, args):
    args = dict(args, client_secret='wrong-secret-value')

    async def run():
        return await asyncio.wait_for(source_module.main(asyncio.Queue(), args), 30)

    with pytest.raises(source_module.SourceError) as error:
        asyncio.run(run())
    assert 'AADSTS7000215' in str(error.value)
    assert 'wrong-secret-value' not in str(error.value)


def test_a_missing_permission_stops_the_source(source_module, fresh_emulator, args, emu):
    token = fresh_emulator.mint_token(roles=['Machine.Read.All'], lifetime=600)
    args = dict(args, client_id=None, client_secret=None, access_token=token)

    async def run():
        return await asyncio.wait_for(source_module.main(asyncio.Queue(), args), 30)

    with pytest.raises(source_module.SourceError) as error:
        asyncio.run(run())
    assert '403' in str(error.value) or 'Alert.Read' in str(error.value)
    assert token not in str(error.value)


def test_an_outage_longer_than_the_retries_is_logged_and_polling_goes_on(source_module, fresh_emulator, args, caplog):
    emulator = fresh_emulator
    emulator.set_data(machines=MACHINES, alerts=[alert('da1_high', 'High', 5)])
    emulator.add_fault(path='^/api/alerts$', status=500, times=3)
    args = dict(args, max_retries=1, max_retry_wait=2)

    async def run():
        queue = asyncio.Queue()
        task = asyncio.create_task(source_module.main(queue, args))
        events = await take(queue, 1, timeout=30)
        await stop(task)
        return events

    events = asyncio.run(run())
    assert [e['alert']['id'] for e in events] == ['da1_high']
    assert 'Polling alerts failed (1 in a row)' in caplog.text


def test_more_than_10000_changed_alerts_page_with_top_and_skip(source_module, fresh_emulator, args):
    emulator = fresh_emulator
    emulator.set_data(generate={'machines': 20, 'alerts': 10050, 'seed': 7})
    args = dict(args, since='31d', severities=None, interval=30)
    emulator.reset()  # clear the log

    async def run():
        queue = asyncio.Queue()
        task = asyncio.create_task(source_module.main(queue, args))
        first = await take(queue, 1, timeout=120)
        # The whole first poll is on the queue before the source sleeps: wait for the log to show it done.
        await asyncio.to_thread(emulator.wait_for, lambda: len(alert_requests(emulator)) >= 2, 120)
        await asyncio.sleep(1.0)
        events = first + [queue.get_nowait() for _index in range(queue.qsize())]
        await stop(task)
        return events

    events = asyncio.run(run())
    requests = alert_requests(emulator)
    pages = [(entry['query']['$top'], entry['query'].get('$skip')) for entry in requests[:2]]
    assert pages == [('10000', None), ('10000', '10000')]
    ids = [event['alert']['id'] for event in events]
    assert len(ids) == len(set(ids))
    # Every alert updated in the last 31 days (the 60 default alerts and the generated ones): past the first page.
    assert len(ids) > 10000
