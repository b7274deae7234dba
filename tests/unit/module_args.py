# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``patch_module_args`` on every supported ansible-core: the module arguments an AnsibleModule built in a test reads.

ansible-core 2.19 added ``ansible.module_utils.testing.patch_module_args`` (and its AnsibleModule refuses the old
way, "No serialization profile was specified"). ansible-core 2.16-2.18 have no such helper: there AnsibleModule reads
the JSON in ``ansible.module_utils.basic._ANSIBLE_ARGS``, which this stand-in sets for the ``with`` block.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401  pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        from ansible.module_utils import basic
        from ansible.module_utils.common.text.converters import to_bytes
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': dict(args or {})}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved
