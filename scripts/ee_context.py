#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the execution environment build context (ansible-builder create) and check it.

    python scripts/ee_context.py [--context build/ee-context] [--check]

1. Builds the collection from this checkout (ansible-galaxy collection build) into build/ee/defender-atp.tar.gz,
   the file execution-environment.yml installs into the image.
2. Runs `ansible-builder create` into the context directory (default build/ee-context). Building the image
   needs a container engine: `podman build -t defender-atp-ee build/ee-context` or `ansible-builder build`.
3. With --check, verifies the context: the Containerfile's base image, Python, ansible-core and runner steps,
   the collection's Python requirements in _build/requirements.txt, the collection tarball and its
   meta/execution-environment.yml, and what `ansible-builder introspect` finds in the installed collection.

Standard library only; ansible-galaxy and ansible-builder are taken from the Python running this script (its bin
directory) or PATH. Exit status 0 when everything passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EE_FILE = os.path.join(ROOT, 'execution-environment.yml')
TARBALL = os.path.join(ROOT, 'build', 'ee', 'defender-atp.tar.gz')
DEFAULT_CONTEXT = os.path.join(ROOT, 'build', 'ee-context')


class CheckFailed(Exception):
    pass


def tool(name):
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if not found:
        raise CheckFailed('%s is not installed (pip install -r requirements-dev.txt)' % name)
    return found


def run(cmd, cwd=ROOT, capture=False):
    print('$ %s' % ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, check=False, text=True,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if proc.returncode != 0:
        if capture:
            print(proc.stdout)
        raise CheckFailed('%s exited with status %d' % (os.path.basename(cmd[0]), proc.returncode))
    return proc.stdout if capture else ''


def galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        match = re.search(r'^version:\s*["\']?([^"\'\s]+)', handle.read(), re.M)
    if not match:
        raise CheckFailed('galaxy.yml has no version')
    return match.group(1)


def build_collection():
    """Build the collection tarball and put it where execution-environment.yml expects it."""
    out = os.path.dirname(TARBALL)
    os.makedirs(out, exist_ok=True)
    built = os.path.join(out, 'defender-atp-%s.tar.gz' % galaxy_version())
    if os.path.exists(built):
        os.unlink(built)
    run([tool('ansible-galaxy'), 'collection', 'build', ROOT, '--output-path', out, '--force'], capture=True)
    if not os.path.isfile(built):
        raise CheckFailed('ansible-galaxy did not write %s' % built)
    shutil.copyfile(built, TARBALL)
    print('collection: %s' % os.path.relpath(TARBALL, ROOT))
    return TARBALL


def create_context(context):
    if os.path.isdir(context):
        shutil.rmtree(context)
    run([tool('ansible-builder'), 'create', '--file', EE_FILE, '--context', context, '--output-filename', 'Containerfile'],
        capture=True)
    print('context: %s' % os.path.relpath(context, ROOT) if context.startswith(ROOT) else context)


def requirement_names(text):
    names = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            names.append(re.split(r'[<>=!~;\[ ]', line, 1)[0].lower())
    return names


def check_context(context):
    """Return a list of problems with the generated context (empty when it is usable)."""
    problems = []

    def read(rel):
        path = os.path.join(context, rel)
        if not os.path.isfile(path):
            problems.append('%s is missing' % rel)
            return ''
        with open(path, encoding='utf-8') as handle:
            return handle.read()

    containerfile = read('Containerfile')
    for needle, what in (('quay.io/centos/centos:stream9', 'the base image'),
                         ('python3.11', 'the Python interpreter'),
                         ('ansible-core', 'ansible-core'), ('ansible-runner', 'ansible-runner'),
                         ('COPY _build /build', 'the copy of the collection tarball'),
                         ('ansible-galaxy collection install', 'the collection install'),
                         ('requirements.yml', 'the galaxy requirements'),
                         ('introspect', 'the dependency introspection')):
        if needle not in containerfile:
            problems.append('Containerfile lacks %s (%r)' % (what, needle))

    wanted = requirement_names(_read(os.path.join(ROOT, 'requirements.txt')))
    python_reqs = requirement_names(read('_build/requirements.txt'))
    for name in wanted:
        if name not in python_reqs:
            problems.append('_build/requirements.txt lacks %s' % name)
    if not {'requests', 'pyjwt'} <= set(wanted):
        problems.append('requirements.txt must name requests and pyjwt[crypto], the runtime requirements')

    galaxy = read('_build/requirements.yml')
    if '/build/collections/defender-atp.tar.gz' not in galaxy:
        problems.append('_build/requirements.yml does not install the collection tarball')

    tarball = os.path.join(context, '_build', 'collections', 'defender-atp.tar.gz')
    if not os.path.isfile(tarball):
        problems.append('_build/collections/defender-atp.tar.gz is missing')
    else:
        with tarfile.open(tarball) as archive:
            names = set(m.name.lstrip('./') for m in archive.getmembers())
            manifest = json.load(archive.extractfile('MANIFEST.json')) if 'MANIFEST.json' in names else {}
        info = manifest.get('collection_info', {})
        if (info.get('namespace'), info.get('name')) != ('defender', 'atp'):
            problems.append('the tarball is not the defender.atp collection')
        for required in ('meta/execution-environment.yml', 'requirements.txt', 'plugins/inventory/machines.py',
                         'extensions/awx/credential_type.yml'):
            if required not in names:
                problems.append('the collection tarball lacks %s' % required)
        problems.extend(check_introspection(tarball, wanted))
    return problems


def check_introspection(tarball, wanted):
    """Install the tarball in a scratch directory and ask ansible-builder what the image would need."""
    scratch = tempfile.mkdtemp(prefix='defender-atp-ee-')
    try:
        run([tool('ansible-galaxy'), 'collection', 'install', tarball, '-p', scratch, '--force'], capture=True)
        out = run([tool('ansible-builder'), 'introspect', '--sanitize', scratch], capture=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = [match.group(1).lower() for match in re.finditer(
        r"^\s*-\s*'?([A-Za-z0-9_.-]+)[^\n]*# from collection defender\.atp", out, re.M)]
    missing = [name for name in wanted if name not in found]
    if missing:
        return ['ansible-builder introspect does not find %s in the installed collection (meta/execution-environment.yml)'
                % ', '.join(missing)]
    print('introspect: %s' % ', '.join(sorted(set(found))))
    return []


def _read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--context', default=DEFAULT_CONTEXT, help='where to write the build context (default build/ee-context)')
    parser.add_argument('--check', action='store_true', help='verify the generated context')
    parser.add_argument('--skip-build', action='store_true', help='reuse build/ee/defender-atp.tar.gz')
    args = parser.parse_args(argv)
    context = os.path.abspath(args.context)
    try:
        if not (args.skip_build and os.path.isfile(TARBALL)):
            build_collection()
        create_context(context)
        if args.check:
            problems = check_context(context)
            if problems:
                for problem in problems:
                    print('PROBLEM: %s' % problem)
                return 1
            print('the execution environment context in %s is complete' % context)
    except CheckFailed as exc:
        print('FAILED: %s' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
