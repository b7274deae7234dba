# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of scripts/no_secrets.py: which forms of a secret it finds, and that it never prints one."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import no_secrets  # noqa: E402  pylint: disable=wrong-import-position

SECRET = 'Zq8~s3cr3t/with+odd&"chars\\'
PEM = '-----BEGIN PRIVATE KEY-----\n' + 'A' * 64 + '\n' + 'B' * 64 + '\n-----END PRIVATE KEY-----\n'


def test_finds_a_secret_as_is_json_escaped_and_url_encoded():
    leaves = [('client_secret', SECRET)]
    json_form = json.dumps({'secret': SECRET})  # quote and backslash escaped
    url_form = 'client_secret=' + urllib.parse.quote_plus(SECRET)
    assert SECRET not in json_form and SECRET not in url_form
    for form in (SECRET, json_form, url_form):
        leaks = no_secrets.find_leaks(leaves, {'log': 'line one\nsomething ' + form + '\n'})
        assert [(kind, where, line) for kind, _length, _digest, where, line in leaks] == [('client_secret', 'log', 2)], form


def test_finds_one_line_of_a_private_key():
    leaks = no_secrets.find_leaks([('private key', PEM)], {'log': 'x\ny\n' + 'B' * 64 + '\n'})
    assert leaks and leaks[0][0] == 'private key' and leaks[0][4] == 3


def test_clean_output_has_no_leak():
    assert no_secrets.find_leaks([('client_secret', SECRET), ('private key', PEM)], {'log': 'client_secret: ********\n'}) == []


def test_a_leak_report_never_holds_the_value():
    leaks = no_secrets.find_leaks([('password', SECRET)], {'log': SECRET})
    assert all(SECRET not in str(field) for field in leaks[0])


def test_kinds_of_secrets():
    info = {'client_secret': SECRET}
    assert no_secrets.secret_kind('secrets.apps[0].secret', SECRET, info) == 'client_secret'
    assert no_secrets.secret_kind('secrets.keys[1]', PEM, info) == 'private key'
    assert no_secrets.secret_kind('secrets.tokens[3]', 'eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln', info) == 'token'
    assert sorted(no_secrets.secret_leaves({'a': ['x', {'b': 'y'}], 'c': 1})) == [('a[0]', 'x'), ('a[1].b', 'y')]
