# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Attributes shared by defender.atp modules."""

    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
'''

    ACTION_GROUP = r'''
attributes:
  action_group:
    description: Use C(group/defender.atp.atp) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - defender.atp.atp
'''

    CHECK_MODE_READ_ONLY = r'''
attributes:
  check_mode:
    support: full
    details:
      - This module only reads, so it runs normally in check mode and never reports a change.
  diff_mode:
    support: none
'''
