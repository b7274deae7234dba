# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the defender.atp.machines inventory plugin in-process against the emulator."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest
import yaml


def _install_collection_loader():
    """Install Ansible's collection loader, which the plugin loader needs (ansible-test units installs it itself).

    Under plain pytest (``PYTHONPATH=<dir holding ansible_collections> pytest``), modules of the collection may have
    been imported as ordinary packages already; they are dropped so the loader imports them again.
    """
    from ansible.utils.collection_loader import AnsibleCollectionConfig
    if AnsibleCollectionConfig.collection_finder is not None:
        return
    import ansible_collections
    roots = [os.path.dirname(path) for path in ansible_collections.__path__]
    for name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[name]
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader(roots)


_install_collection_loader()


@pytest.fixture(scope='session')
def plugin_loader():
    from ansible.plugins.loader import inventory_loader
    return inventory_loader


class InventoryRun(object):
    """Write a ``*.defender.yml`` file and parse it with the plugin, as ansible-inventory would."""

    def __init__(self, loader, directory, conn):
        self.loader = loader
        self.directory = directory
        self.conn = conn
        self.count = 0

    def write(self, name='test.defender.yml', connection=True, **options):
        config = dict(plugin='defender.atp.machines')
        if connection:
            config.update(self.conn)
        config.update(options)
        path = os.path.join(str(self.directory), name)
        with open(path, 'w') as handle:
            yaml.safe_dump(config, handle)
        return path

    def plugin(self):
        plugin = self.loader.get('defender.atp.machines')
        assert plugin is not None, 'the plugin defender.atp.machines cannot be loaded'
        return plugin

    def parse(self, path=None, cache=True, **options):
        """Parse with a fresh plugin; return the InventoryData (raises what the plugin raises)."""
        from ansible.inventory.data import InventoryData
        from ansible.parsing.dataloader import DataLoader
        path = path or self.write(**options)
        inventory = InventoryData()
        plugin = self.plugin()
        assert plugin.verify_file(path)
        plugin.parse(inventory, DataLoader(), path, cache=cache)
        try:
            plugin.update_cache_if_changed()
        except AttributeError:
            pass
        self.last_plugin = plugin
        return inventory

    def manager(self, path=None, **options):
        """Parse through InventoryManager (the path ansible-playbook takes): failures become warnings."""
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        path = path or self.write(**options)
        return InventoryManager(loader=DataLoader(), sources=[path])


@pytest.fixture
def inv(plugin_loader, tmp_path, conn):
    return InventoryRun(plugin_loader, tmp_path, conn)
