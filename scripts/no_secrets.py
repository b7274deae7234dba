#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Look for every secret the emulator knows in the output of a test run (the no-secrets nox session).

    python scripts/no_secrets.py --info EMULATOR/info.json --output integration.log [--request-log FILE]
                                 [--test-data tests/integration/targets] [--junit-dir tests/output/junit]

The emulator must still run: its secrets (client secrets, passwords, private keys, every token it issued) come
from GET /_emulator/secrets, its in-memory request log from GET /_emulator/requests. Each secret is looked for
as is, JSON-escaped, URL-encoded and, for PEM text, line by line. A leak is reported by kind, length, a hash
prefix and the line of the first hit, never by value. Exit status 1 on a leak or when there is nothing to check.

Values written verbatim under --test-data (the deliberately wrong credentials of negative tests) are test data,
not secrets. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import ssl
import sys
import urllib.parse
import urllib.request

SECRET_KEYS = ('client_secret', 'limited_client_secret', 'other_client_secret', 'password', 'certificate_password')
JWT = re.compile(r'^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$')


def secret_leaves(data, path=''):
    """(JSON path, value) for every string leaf of the /_emulator/secrets answer."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from secret_leaves(value, '%s.%s' % (path, key) if path else str(key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from secret_leaves(value, '%s[%d]' % (path or 'secrets', index))
    elif isinstance(data, str):
        yield path, data


def secret_kind(path, value, info):
    """What a secret is, for the report (the value itself is never printed)."""
    for key in SECRET_KEYS:
        if info.get(key) == value:
            return key
    if 'PRIVATE KEY' in value:
        return 'private key'
    if JWT.match(value):
        return 'token'
    if re.search(r'[A-Za-z_]', re.sub(r'\[\d+\]', '', path.replace('secrets', ''))):
        return re.sub(r'\[\d+\]', '[]', path)  # a named field of the answer
    return 'other secret'


def secret_needles(value):
    """Forms a secret may take in a log: as is, JSON-escaped, URL-encoded, and each long line of a PEM body."""
    needles = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=''), urllib.parse.quote_plus(value)}
    if '\n' in value:
        for line in value.splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith('-----'):
                needles.add(line)
    return {needle for needle in needles if len(needle) >= 8}


def find_leaks(leaves, haystacks):
    """[(kind, value length, sha256 prefix, where, line)] for every secret found in a haystack."""
    leaks = []
    for kind, value in leaves:
        needles = secret_needles(value)
        for where, text in sorted(haystacks.items()):
            positions = [text.find(needle) for needle in needles if needle in text]
            if positions:
                line = text.count('\n', 0, min(positions)) + 1
                leaks.append((kind, len(value), hashlib.sha256(value.encode('utf-8')).hexdigest()[:12], where, line))
    return leaks


def tree_text(path):
    """The text of every file under path, concatenated."""
    chunks = []
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            chunks.append(read_text(os.path.join(dirpath, name)))
    return '\n'.join(chunks)


def read_text(path):
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def get_json(info, path):
    context = ssl.create_default_context(cafile=info['ca_path'])
    request = urllib.request.Request(info['url'].rstrip('/') + path, headers={'Accept': 'application/json'})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:  # nosec - the local emulator
        return json.loads(response.read().decode('utf-8'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--info', required=True, help="the emulator's start-up JSON (launch.py's info.json)")
    parser.add_argument('--output', required=True, action='append', help='output of the run to check (repeatable)')
    parser.add_argument('--request-log', help="the emulator's --log-file (its whole request history)")
    parser.add_argument('--test-data', help='directory whose verbatim values are test data, not secrets')
    parser.add_argument('--junit-dir', help='also check the JUnit reports in this directory')
    args = parser.parse_args(argv)

    with open(args.info, encoding='utf-8') as handle:
        info = json.load(handle)
    try:
        secrets = get_json(info, '/_emulator/secrets')
        requests_log = get_json(info, '/_emulator/requests')
    except Exception as ex:  # pylint: disable=broad-except
        print('cannot read the secrets and request log of the emulator at %s: %s' % (info.get('url'), ex))
        return 1
    leaves = [(secret_kind(path, value, info), value) for path, value in secret_leaves(secrets) if len(value) >= 8]
    if args.test_data:
        sources = tree_text(args.test_data)
        test_data = [value for _kind, value in leaves if value in sources]
        if test_data:
            print('%d value(s) the emulator saw are written in %s (wrong credentials of negative tests): not secrets'
                  % (len(test_data), args.test_data))
            leaves = [(kind, value) for kind, value in leaves if value not in sources]
    if not leaves:
        print('the emulator reported no secrets, so the check would prove nothing')
        return 1
    haystacks = {}
    for path in args.output:
        haystacks['output %s' % os.path.basename(path)] = read_text(path)
    if not any(haystacks.values()):
        print('the output to check is empty')
        return 1
    haystacks['emulator request log'] = json.dumps(requests_log) + '\n' + json.dumps(requests_log, ensure_ascii=False)
    if args.request_log and os.path.isfile(args.request_log):
        haystacks['emulator request log file'] = read_text(args.request_log)
    if args.junit_dir and os.path.isdir(args.junit_dir):
        for name in sorted(os.listdir(args.junit_dir)):
            haystacks['junit %s' % name] = read_text(os.path.join(args.junit_dir, name))
    kinds = {}
    for kind, _value in leaves:
        kinds[kind] = kinds.get(kind, 0) + 1
    print('checking %d secrets (%s) against: %s' % (len(leaves), ', '.join('%s x%d' % item for item in sorted(kinds.items())),
                                                    ', '.join(sorted(haystacks))))
    leaks = find_leaks(leaves, haystacks)
    for kind, length, digest, where, line in leaks:
        print('LEAK: %s (%d chars, sha256 %s...) in %s, line %d' % (kind, length, digest, where, line))
    if leaks:
        print('secrets leaked: %s' % ', '.join(sorted({leak[0] for leak in leaks})))
        return 1
    print('no secret found in %d bytes of output' % sum(len(text) for text in haystacks.values()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
