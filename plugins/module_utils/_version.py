# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The version of this collection, for the User-Agent of its requests.

A module runs on its own (packed by AnsiballZ) without galaxy.yml or MANIFEST.json, so the version is a constant
here; tests/unit/plugins/module_utils/test_version.py fails when it differs from galaxy.yml's version.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

COLLECTION_VERSION = '0.1.0'
