# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docs once.

The options the machine-action modules share are documented once, in the ``defender.atp.machine_action`` doc
fragment, and the return keys several modules share have one canonical text, in the ``RETURN`` of the fragment the
modules extend (``defender.atp.connection``: ``auth_method``, ``http_stats``; ``defender.atp.machine_action``:
``machines[]``, ``summary``, ``msg``). ansible-core merges RETURN fragments only from 2.20 on and our floor is 2.16,
so every module keeps its own copy of those keys; this test keeps each copy equal to the canonical text.

The rule for a copy: every field the canonical entry has is there with the same value; under ``contains`` a module
may add keys of its own (``machines[].state`` means something else in each module); and a ``sample`` the canonical
entry leaves out is the module's to give (``msg`` reads differently in each module). Nothing else may differ.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import glob
import os

import pytest
import yaml

from ansible_collections.defender.atp.plugins.doc_fragments import connection, machine_action

MODULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'plugins', 'modules')
FRAGMENTS = {
    'defender.atp.connection': connection.ModuleDocFragment,
    'defender.atp.machine_action': machine_action.ModuleDocFragment,
}

# The modules that act on machines, and the sections of defender.atp.machine_action each of them extends.
MACHINE_ACTION_MODULES = {
    'atp_machine_isolate': ['defender.atp.machine_action', 'defender.atp.machine_action.actions',
                            'defender.atp.machine_action.desired_state'],
    'atp_app_restriction': ['defender.atp.machine_action', 'defender.atp.machine_action.actions',
                            'defender.atp.machine_action.desired_state'],
    'atp_machine_action': ['defender.atp.machine_action', 'defender.atp.machine_action.actions'],
    'atp_machine_tag': ['defender.atp.machine_action'],
}

# A module may document a fragment option again only where its behaviour really differs; each entry says why, and
# such an entry may carry nothing but a description. None is needed today.
OPTION_OVERRIDES = {}


def _module_docs():
    docs = {}
    for path in sorted(glob.glob(os.path.join(MODULES_DIR, 'atp_*.py'))):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        strings = dict((node.targets[0].id, node.value.value) for node in tree.body
                       if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                       and node.targets[0].id in ('DOCUMENTATION', 'RETURN'))
        name = os.path.basename(path)[:-3]
        docs[name] = (yaml.safe_load(strings['DOCUMENTATION']), yaml.safe_load(strings['RETURN']))
    return docs


MODULE_DOCS = _module_docs()


def _fragment_section(slug):
    """The YAML of a fragment reference (``defender.atp.machine_action.actions``), or None if it is not ours."""
    for name, fragment in FRAGMENTS.items():
        if slug == name:
            return yaml.safe_load(fragment.DOCUMENTATION)
        if slug.startswith(name + '.'):
            return yaml.safe_load(getattr(fragment, slug[len(name) + 1:].upper()))
    return None


def _canonical_returns(module):
    """(key, canonical entry, fragment) for every shared return key of the fragments ``module`` extends."""
    doc = MODULE_DOCS[module][0]
    found = []
    for slug in doc.get('extends_documentation_fragment', []):
        fragment = FRAGMENTS.get(slug)
        if fragment is not None and getattr(fragment, 'RETURN', None):
            found.extend((key, entry, slug) for key, entry in sorted(yaml.safe_load(fragment.RETURN).items()))
    return found


SHARED_RETURNS = [(module, key, entry, slug) for module in sorted(MODULE_DOCS)
                  for key, entry, slug in _canonical_returns(module)]


def _differences(canonical, copy, where):
    if not isinstance(copy, dict):
        return ['%s: not a mapping' % where]
    found = []
    for field in sorted(set(canonical) | set(copy)):
        if field == 'contains':
            contains = copy.get('contains') or {}
            for key in sorted(canonical.get('contains') or {}):
                if key not in contains:
                    found.append('%s.%s: missing' % (where, key))
                else:
                    found.extend(_differences(canonical['contains'][key], contains[key], '%s.%s' % (where, key)))
        elif field not in canonical:
            if field != 'sample':
                found.append('%s: has %s, which the canonical text does not' % (where, field))
        elif canonical[field] != copy.get(field):
            found.append('%s: %s is %r, the canonical text says %r' % (where, field, copy.get(field), canonical[field]))
    return found


def test_every_module_shares_the_connection_return_keys():
    # Every module reports auth_method and http_stats (AtpModule adds them to every result).
    assert len(MODULE_DOCS) >= 11
    for module in MODULE_DOCS:
        assert set(key for key, _entry, _slug in _canonical_returns(module)) >= set(['auth_method', 'http_stats']), module


@pytest.mark.parametrize('module, key, canonical, slug', SHARED_RETURNS,
                         ids=['%s-%s' % (module, key) for module, key, _entry, _slug in SHARED_RETURNS])
def test_each_copy_of_a_shared_return_key_is_the_canonical_text(module, key, canonical, slug):
    returns = MODULE_DOCS[module][1]
    assert key in returns, '%s extends %s but does not document %s' % (module, slug, key)
    assert _differences(canonical, returns[key], key) == [], (
        'Copy the RETURN text of %s from plugins/doc_fragments/%s.py' % (key, slug.split('.')[-1]))


@pytest.mark.parametrize('module', sorted(MACHINE_ACTION_MODULES))
def test_machine_action_modules_take_the_shared_options_from_the_fragment(module):
    doc = MODULE_DOCS[module][0]
    extended = doc.get('extends_documentation_fragment', [])
    assert [slug for slug in extended if slug.startswith('defender.atp.machine_action')] == MACHINE_ACTION_MODULES[module]
    shared = {}
    for slug in MACHINE_ACTION_MODULES[module]:
        shared.update(_fragment_section(slug)['options'])
    for option in sorted(set(shared) & set(doc.get('options') or {})):
        assert (module, option) in OPTION_OVERRIDES, (
            '%s documents %s again: it comes from the defender.atp.machine_action fragment' % (module, option))
        assert set(doc['options'][option]) == set(['description']), '%s %s: an override changes only the text' % (
            module, option)


def test_the_rule_finds_a_changed_word():
    canonical = dict(description='One entry per machine.', type='list', contains=dict(
        machine_id=dict(description='The machine id.', type='str')))
    copy = dict(description='One entry per machine.', type='list', sample=[], contains=dict(
        machine_id=dict(description='The machine ID.', type='str'), own=dict(description='Mine.', type='str')))
    assert _differences(canonical, copy, 'machines') == [
        "machines.machine_id: description is 'The machine ID.', the canonical text says 'The machine id.'"]
    assert 'machines: has returned, which the canonical text does not' in _differences(
        canonical, dict(copy, returned='always'), 'machines')
