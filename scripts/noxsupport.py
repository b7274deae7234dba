# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nox sessions of defender.atp need that no tool does (noxfile.py imports it; make test runs ``report``).

- ``pins``: the exact versions of requirements-dev.txt, so each nox session installs the same versions as .venv.
- ``install_get_pip_stand_in``: ansible-test bootstraps pip in each venv it creates (``--venv``, and every sanity
  test's own venv) with a get-pip.py downloaded from ci-files.testing.ansible.com, which our machines and CI cannot
  reach. ansible-test reads that script from its cache first (~/.ansible/test/cache/get_pip_<version>.py, the
  workaround ansible-test's maintainers give in ansible/ansible#77304). The stand-in written there bootstraps pip
  from the standard library (ensurepip), then installs the pip version asked for from the configured index
  (pip.conf is honoured; ansible-test drops PIP_* variables).
- ``write_vars_file``: the emulator's address and credentials as a 0600 YAML vars file (no-secrets, make demo).
- ``summarize`` / ``main``: turn nox's JSON report (``nox --report FILE``) into a table and a last line
  ``N passed, M failed``; exit status 1 when a session did not pass.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

STAND_IN_MARK = 'defender.atp stand-in'

GET_PIP_STAND_IN = '''\
"""%(mark)s for get-pip.py %(version)s (written by scripts/noxsupport.py of defender.atp).

ansible-test runs this in each new venv with get-pip's arguments. The real script comes from a host this
machine cannot reach, so: bootstrap pip from the standard library, then let pip install the requested
version (pip.conf's index and mirrors apply).
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
code = subprocess.call([sys.executable, '-m', 'ensurepip', '--default-pip'])
if code == 0:
    code = subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)
sys.exit(code)
'''


def pins(path):
    """{normalized name: 'name==version'} of the ``name==version`` lines of a requirements file."""
    found = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            match = re.match(r'^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$', line)
            if match:
                found[normalize(match.group(1))] = line
    return found


def normalize(name):
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def ansible_test_pip_version(ansible_test_dir):
    """The pip version ansible-test bootstraps (the ``pip='X.Y'`` pin of _internal/python_requirements.py)."""
    with open(os.path.join(ansible_test_dir, '_internal', 'python_requirements.py'), encoding='utf-8') as handle:
        match = re.search(r"pip='([0-9][0-9.]*)'", handle.read())
    if not match:
        raise ValueError('no pip version pin in %s/_internal/python_requirements.py' % ansible_test_dir)
    return match.group(1)


def install_get_pip_stand_in(ansible_test_dir, cache_dir=None):
    """Write the stand-in for the pip version this ansible-test wants; return (path, what was done).

    A script already there that is not ours (a real get-pip.py someone downloaded) is kept.
    """
    version = ansible_test_pip_version(ansible_test_dir)
    cache_dir = cache_dir or os.path.expanduser('~/.ansible/test/cache')
    path = os.path.join(cache_dir, 'get_pip_%s.py' % version.replace('.', '_'))
    content = GET_PIP_STAND_IN % {'mark': STAND_IN_MARK, 'version': version}
    if os.path.exists(path):
        with open(path, encoding='utf-8', errors='replace') as handle:
            existing = handle.read()
        if existing == content:
            return path, 'present'
        if STAND_IN_MARK not in existing:
            return path, 'kept (not ours)'
    os.makedirs(cache_dir, exist_ok=True)
    temporary = path + '.%d.tmp' % os.getpid()
    with open(temporary, 'w', encoding='utf-8') as handle:
        handle.write(content)
    os.replace(temporary, path)  # sessions may run side by side: never leave a half-written script
    return path, 'written'


def write_vars_file(path, variables, writer='scripts/noxsupport.py'):
    """Variables as YAML (JSON values are YAML), readable by the owner only: they hold the emulator's secrets."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write('---\n# Written by %s from the emulator start-up JSON; holds secrets, do not commit.\n' % writer)
        for key in sorted(variables):
            handle.write('%s: %s\n' % (key, json.dumps(variables[key])))
    os.chmod(path, 0o600)


def summarize(report):
    """(lines to print, number passed, number failed) from nox's JSON report (a dict).

    A session counts as passed only when nox reports ``success``; ``failed``, ``aborted`` and ``skipped``
    (for example a missing interpreter) count as failed, since the session was asked for and did not pass.
    """
    sessions = report.get('sessions') or []
    rows = []
    passed = failed = 0
    total_seconds = 0.0
    for entry in sessions:
        status = str(entry.get('result', 'unknown'))
        seconds = float(entry.get('duration') or 0.0)
        total_seconds += seconds
        if status == 'success':
            passed += 1
        else:
            failed += 1
        rows.append((str(entry.get('name', '?')), status, seconds, str(entry.get('reason') or '')))
    width = max([len(name) for name, _status, _seconds, _reason in rows] + [len('session')])
    lines = ['{0:<{w}}  {1:<8}  {2:>8}  {3}'.format('session', 'result', 'seconds', 'reason', w=width)]
    for name, status, seconds, reason in rows:
        lines.append('{0:<{w}}  {1:<8}  {2:>8.1f}  {3}'.format(name, status, seconds, reason, w=width).rstrip())
    lines.append('{0:<{w}}  {1:<8}  {2:>8.1f}'.format('total', '', total_seconds, w=width))
    lines.append('%d passed, %d failed' % (passed, failed))
    return lines, passed, failed


def report_main(args):
    try:
        with open(args.report, encoding='utf-8') as handle:
            report = json.load(handle)
    except (OSError, ValueError) as ex:
        print('nox wrote no usable report (%s); see its messages above' % ex)
        print('0 passed, 1 failed')
        return 1
    lines, passed, failed = summarize(report)
    problem = None
    if not report.get('sessions'):
        problem = 'no session ran (is the session name right? nox --list shows them)'
    elif not failed and args.nox_status not in (None, 0):
        problem = 'every session passed, but nox exited with status %d' % args.nox_status
    if problem:
        failed += 1
        lines[-1:] = [problem, '%d passed, %d failed' % (passed, failed)]
    print('\n'.join(lines))
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    report = sub.add_parser('report', help="summarize nox's JSON report; the last line is 'N passed, M failed'")
    report.add_argument('report', help='the file given to nox --report')
    report.add_argument('--nox-status', type=int, default=None, help="nox's exit status (a failed nox run never passes)")
    args = parser.parse_args(argv)
    return report_main(args)


if __name__ == '__main__':
    sys.exit(main())
