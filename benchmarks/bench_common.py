# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the benchmarks (no main: make bench does not run this file)."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def collection_path(work):
    """A directory holding ansible_collections/defender/atp -> this checkout, for ANSIBLE_COLLECTIONS_PATH."""
    base = os.path.join(work, 'collections')
    target = os.path.join(base, 'ansible_collections', 'defender')
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, 'atp')
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return base
