# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the defender.atp.alerts event source from its file, as ansible-rulebook does (it is not a Python package)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import sys

import pytest

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SOURCE_PATH = os.path.join(COLLECTION, 'extensions', 'eda', 'plugins', 'event_source', 'alerts.py')


def load_source(name='defender_atp_eda_alerts'):
    spec = importlib.util.spec_from_file_location(name, SOURCE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def source_module():
    module = load_source()
    assert module.IMPORT_ERROR is None, module.IMPORT_ERROR
    return module
