# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 11 through whole modules: URL options over plain http, and tokens the API rejects."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
    for _ in range(2):
        result = run_module(atp_token.main, dict(conn, token_cache=True))
        assert not result.get('failed'), result.get('msg')
        assert result['token_source'] == 'endpoint'
    assert list(real.iterdir()) == []
    assert any('symbolic link' in m and 'fresh token' in m for m in messages), messages
