# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

from ansible_collections.defender.atp.plugins.module_utils.token_cache import TokenCache


def test_round_trip_is_encrypted_and_private(tmp_path):
    cache = TokenCache(str(tmp_path / 'c'), clock=lambda: 1000)
    cache.put('client_secret|t|c|', 'aud', b'secret-material', 'header.payload.signature', 5000)
    assert cache.get('client_secret|t|c|', 'aud', b'secret-material') == ('header.payload.signature', 5000)
    files = os.listdir(str(tmp_path / 'c'))
    assert len(files) == 1
    raw = (tmp_path / 'c' / files[0]).read_bytes()
    assert b'header.payload.signature' not in raw and b'secret' not in raw
    assert stat.S_IMODE(os.stat(str(tmp_path / 'c' / files[0])).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / 'c')).st_mode) == 0o700


def test_other_secret_audience_or_identity_misses(tmp_path):
    cache = TokenCache(str(tmp_path), clock=lambda: 1000)
    directory = tmp_path / 'tokens'
    cache = TokenCache(str(directory), clock=lambda: 1000)
    cache.put('id', 'aud', b'right', 'tok', 5000)
    assert cache.get('id', 'aud', b'wrong') is None
    assert cache.get('id', 'other-aud', b'right') is None
    assert cache.get('other-id', 'aud', b'right') is None


def test_expiring_tokens_are_not_returned(tmp_path):
    now = [1000]
    cache = TokenCache(str(tmp_path / 'c'), clock=lambda: now[0])
    cache.put('id', 'aud', b's', 'tok', 1100)
    assert cache.get('id', 'aud', b's', min_valid=60) == ('tok', 1100)
    now[0] = 1050
    assert cache.get('id', 'aud', b's', min_valid=60) is None


def test_drop_and_unsafe_directory(tmp_path):
    directory = tmp_path / 'c'
    cache = TokenCache(str(directory), clock=lambda: 0)
    cache.put('id', 'aud', b's', 'tok', 100)
    cache.drop('id', 'aud', b's')
    assert cache.get('id', 'aud', b's') is None
    cache.put('id', 'aud', b's', 'tok', 100)
    # A directory others can read is never trusted.
    os.chmod(str(directory), 0o755)
    assert cache.get('id', 'aud', b's') is None
