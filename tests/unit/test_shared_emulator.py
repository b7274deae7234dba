# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unit tests' emulator is started once per pytest process, also when ansible-test forks for every test."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest


def parent_pid(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return int(handle.read().rsplit(')', 1)[1].split()[1])


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='reads the parent pid from /proc (Linux)')
def test_the_emulator_belongs_to_the_pytest_process_not_to_the_test(emulator):
    # ansible-test units loads its ansible_forked plugin and runs each test in a fork of the pytest process. An emulator
    # started in that fork would die with it and start again for the next test.
    forked = 'ansible_forked' in sys.modules
    owner = parent_pid(emulator.process.pid)
    assert owner == (os.getppid() if forked else os.getpid()), (forked, owner, os.getpid(), os.getppid())
