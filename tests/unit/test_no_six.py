# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's code imports nothing from ansible.module_utils.six.

ansible-core 2.21's sanity test (pylint, ansible-bad-import-from) refuses six imports, and six is on its way out of
ansible-core (a deprecation is planned for 2.22): the standard library has every name the code used (str, int,
urllib.parse).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIX = re.compile(r'^\s*(from\s+ansible\.module_utils(\.six|\s+import\s+six)\b|import\s+ansible\.module_utils\.six\b)', re.M)


def python_files():
    for top in ('plugins', 'extensions', 'roles'):
        for directory, _dirs, files in os.walk(os.path.join(COLLECTION, top)):
            for name in files:
                if name.endswith('.py'):
                    yield os.path.relpath(os.path.join(directory, name), COLLECTION)


@pytest.mark.parametrize('path', sorted(python_files()))
def test_no_six_import(path):
    with open(os.path.join(COLLECTION, path), encoding='utf-8') as handle:
        found = [match.group(0).strip() for match in SIX.finditer(handle.read())]
    assert not found, '%s imports six: %s' % (path, found)
