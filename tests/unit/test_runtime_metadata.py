# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml must list every module of the collection in the ``atp`` action group.

``module_defaults: {group/defender.atp.atp: {...}}`` only reaches the modules named in that group,
so a module missing from it silently ignores the connection settings of a playbook. The test
compares the group with the module files that really exist in ``plugins/modules/``.
"""

from __future__ import annotations

import os

import pytest
import yaml

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
RUNTIME_PATH = os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml')
MODULES_DIR = os.path.join(COLLECTION_ROOT, 'plugins', 'modules')
FQCN_PREFIX = 'defender.atp.'


def _load_runtime():
    with open(RUNTIME_PATH, encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


def _module_files():
    names = set()
    if not os.path.isdir(MODULES_DIR):
        return names
    for entry in os.listdir(MODULES_DIR):
        base, ext = os.path.splitext(entry)
        if ext == '.py' and not base.startswith('_') and os.path.isfile(os.path.join(MODULES_DIR, entry)):
            names.add(base)
    return names


def _group_members(runtime):
    members = []
    for item in (runtime.get('action_groups') or {}).get('atp') or []:
        if isinstance(item, dict):
            # a {metadata: {extend_group: [...]}} entry is not a module
            continue
        name = str(item)
        if name.startswith(FQCN_PREFIX):
            name = name[len(FQCN_PREFIX):]
        members.append(name)
    return members


def test_runtime_yml_declares_requires_ansible():
    runtime = _load_runtime()
    assert str(runtime.get('requires_ansible', '')).startswith('>='), 'meta/runtime.yml needs requires_ansible: ">=X.Y.Z"'


def test_atp_group_has_no_duplicates():
    members = _group_members(_load_runtime())
    duplicates = sorted({name for name in members if members.count(name) > 1})
    assert not duplicates, 'listed more than once in action_groups.atp: %s' % ', '.join(duplicates)


def test_atp_group_matches_module_files():
    members = set(_group_members(_load_runtime()))
    modules = _module_files()
    missing_from_group = sorted(modules - members)
    missing_module_file = sorted(members - modules)
    problems = []
    if missing_from_group:
        problems.append('modules missing from action_groups.atp in meta/runtime.yml: %s' % ', '.join(missing_from_group))
    if missing_module_file:
        problems.append('action_groups.atp lists modules with no file in plugins/modules/: %s' % ', '.join(missing_module_file))
    assert not problems, '; '.join(problems)


@pytest.mark.parametrize('name', sorted(_module_files()))
def test_every_module_is_in_atp_group(name):
    assert name in set(_group_members(_load_runtime())), '%s is not in action_groups.atp of meta/runtime.yml' % name
