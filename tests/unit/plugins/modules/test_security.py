# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 11 through whole modules: URL options over plain http, and tokens the API rejects."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest

from ansible.module_utils import basic

from ansible_collections.defender.atp.plugins.modules import atp_alert_info


@pytest.mark.parametrize('option', ['login_url', 'api_url', 'graph_url'])
def test_module_refuses_plain_http_before_any_request(run_module, emulator, conn, option):
    result = run_module(atp_alert_info.main, dict(conn, **{option: 'http://defender.example.com'}))
    assert result['failed']
    assert result['msg'].startswith('%s is ' % option) and 'plain http is refused' in result['msg']
    assert emulator.requests_log() == []


def test_module_warns_about_plain_http_to_loopback(run_module, emulator, conn, monkeypatch):
    messages = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: messages.append(message))
    # Nothing listens on port 9 (discard): the call fails, but only after the option was accepted with a warning.
    result = run_module(atp_alert_info.main, dict(conn, api_url='http://127.0.0.1:9', max_retries=0))
    assert result['failed'] and 'plain http is refused' not in result['msg']
    assert any(m.startswith("api_url is 'http://127.0.0.1:9': plain http to a loopback host") for m in messages), messages


def test_symlinked_token_cache_falls_back_to_no_cache_with_a_warning(run_module, conn, tmp_path, monkeypatch):
    """issue 11 section 3: a cache directory planted as a symlink is never followed; the module still works."""
    from ansible_collections.defender.atp.plugins.modules import atp_token
    real = tmp_path / 'elsewhere'
    real.mkdir(mode=0o700)
    link = tmp_path / 'cache-link'
    link.symlink_to(real)
    monkeypatch.setenv('DEFENDER_ATP_TOKEN_CACHE_DIR', str(link))
    messages = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: messages.append(message))
    for attempt in (1, 2):
        result = run_module(atp_token.main, dict(conn, token_cache=True))
        assert not result.get('failed'), (attempt, result.get('msg'))
        assert result['token_source'] == 'endpoint'
    assert list(real.iterdir()) == []
    assert any('symbolic link' in m and 'fresh token' in m for m in messages), messages


REJECTING_CASES = [
    ('atp_alert_info', {'status': ['New'], 'limit': 2}, r'^/api/alerts$'),
    ('atp_machine_info', {'machines': ['ws-finance-01.contoso.com']}, r'^/api/machines$'),
    ('atp_query', {'query': 'DeviceInfo | take 1'}, r'^/v1\.0/security/runHuntingQuery$'),
    ('atp_query', {'api': 'defender', 'query': 'DeviceInfo | take 1'}, r'^/api/advancedqueries/run$'),
    ('atp_machine_isolate', {'machines': ['ws-finance-01.contoso.com'], 'comment': 'IR-11', '_check': True},
     r'^/api/machines$'),
]


@pytest.mark.parametrize('module_name, args, path', REJECTING_CASES, ids=[c[0] + '-' + c[2] for c in REJECTING_CASES])
def test_cached_token_the_api_rejects_is_dropped_and_replaced_once(run_module, emulator, conn, module_name, args, path):
    """Every module (Graph hunting included) shares one path: a 401 drops the cached token and gets one fresh token."""
    import importlib
    module = importlib.import_module('ansible_collections.defender.atp.plugins.modules.' + module_name)
    args = dict(args)
    check_mode = args.pop('_check', False)
    cached = dict(conn, token_cache=True, **args)
    first = run_module(module.main, cached, check_mode=check_mode)
    assert not first.get('failed'), first.get('msg')
    assert first['http_stats']['token_requests'] == 1
    emulator.add_fault(path=path, status=401, times=1)
    second = run_module(module.main, cached, check_mode=check_mode)
    assert not second.get('failed'), second.get('msg')
    # The cached token was used, rejected, and replaced by exactly one fresh token.
    assert second['http_stats']['token_requests'] == 1
    statuses = [e['status'] for e in emulator.requests_log() if re.search(path, e['path'])]
    assert 401 in statuses and statuses[-1] == 200
    # The fresh token replaced the rejected one in the cache: the next run asks for none.
    third = run_module(module.main, cached, check_mode=check_mode)
    assert not third.get('failed') and third['http_stats']['token_requests'] == 0
