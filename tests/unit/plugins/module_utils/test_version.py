# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The User-Agent carries the collection's version, and module_utils say they are internal."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible_collections.defender.atp.plugins.module_utils._http import client as http_client
from ansible_collections.defender.atp.plugins.module_utils._version import COLLECTION_VERSION

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULE_UTILS = os.path.join(COLLECTION_ROOT, 'plugins', 'module_utils')
PLUGIN_UTILS = os.path.join(COLLECTION_ROOT, 'plugins', 'plugin_utils')
INTERNAL_MARK = '# Internal to defender.atp, not a public API'


def test_collection_version_is_the_version_in_galaxy_yml():
    with open(os.path.join(COLLECTION_ROOT, 'galaxy.yml')) as handle:
        galaxy = yaml.safe_load(handle)
    assert COLLECTION_VERSION == str(galaxy['version'])


def test_user_agent_names_the_collection_version():
    assert http_client.USER_AGENT == 'defender.atp-ansible-collection/' + COLLECTION_VERSION


def test_every_module_utils_file_says_it_is_internal():
    """Every file under module_utils and plugin_utils, in the private packages too, and every name private (``_``).

    A package's ``__init__.py`` is empty (ansible-test's empty-init sanity test requires it): the package's name and
    the header of every file in it say it is internal."""
    names = []
    for top in (MODULE_UTILS, PLUGIN_UTILS):
        for directory, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(directory, name)
                if name == '__init__.py':
                    assert os.path.getsize(path) == 0, path
                elif name.endswith('.py'):
                    names.append(os.path.relpath(path, COLLECTION_ROOT))
    assert len(names) > 30, names
    unmarked = []
    for name in sorted(names):
        with open(os.path.join(COLLECTION_ROOT, name)) as handle:
            head = handle.read(2000)
        if INTERNAL_MARK not in head:
            unmarked.append(name)
    assert unmarked == []
    public = [name for name in names if not name.split(os.sep)[2].startswith('_')]
    assert public == []
