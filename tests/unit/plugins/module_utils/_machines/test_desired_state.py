# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired-state spec for app restriction without HTTP (isolation's: test_states.py, test_orchestrator.py):
the state from the newest Restrict/Unrestrict action, force, the request, and the platform limit."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import types

from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import CONFLICT, NOOP, SEND
from ansible_collections.defender.atp.plugins.module_utils._machines.desired_state import RestrictionSpec
from ansible_collections.defender.atp.tests.unit.plugins.module_utils._machines.test_one_shot import MID, act


def test_restriction_state_comes_from_the_newest_restrict_or_unrestrict_action():
    spec = RestrictionSpec('restricted', 'c')
    assert spec.decide({}, []).op == SEND
    done = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1)])
    assert done.op == NOOP and done.updates['state'] == 'restricted'
    lifted = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1), act('UnrestrictCodeExecution', 'Succeeded', 2)])
    assert lifted.op == SEND and lifted.updates['state'] == 'unrestricted'
    failed = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1), act('UnrestrictCodeExecution', 'Failed', 2)])
    assert failed.op == NOOP and failed.updates['state'] == 'restricted'
    running = spec.decide({}, [act('RestrictCodeExecution', 'Pending', 3)])
    assert running.op == NOOP and running.updates['track'] == 'RestrictCodeExecution-3'
    opposite = spec.decide({}, [act('UnrestrictCodeExecution', 'InProgress', 3)])
    assert opposite.op == CONFLICT and 'opposite direction' in opposite.reason
    # Other action types never count.
    assert spec.decide({}, [act('Isolate', 'Succeeded', 4)]).op == SEND


def test_restriction_force_sends_to_a_settled_machine_but_adopts_one_under_way():
    spec = RestrictionSpec('restricted', 'c', force=True)
    assert spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == SEND
    assert spec.decide({}, [act('RestrictCodeExecution', 'Pending', 1)]).op == NOOP
    assert spec.reconsider({}, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == NOOP
    result = types.SimpleNamespace(machine={'id': MID})
    assert RestrictionSpec('unrestricted', 'c').request(result) == (
        '/api/machines/%s/unrestrictCodeExecution' % MID, {'Comment': 'c'}, 'UnrestrictCodeExecution')


def test_restriction_is_not_planned_for_a_known_other_platform():
    mac = {'osPlatform': 'macOS'}
    refused = RestrictionSpec('restricted', 'c').decide(mac, [])
    assert refused.op == 'error' and 'restrict-code-execution.md' in refused.reason
    assert refused.updates['state'] == 'unrestricted'
    assert RestrictionSpec('unrestricted', 'c').decide(mac, []).op == NOOP  # already unrestricted: nothing to send
    assert RestrictionSpec('restricted', 'c').decide({'osPlatform': None}, []).op == SEND
    assert RestrictionSpec('restricted', 'c', force=True).decide(
        mac, [act('RestrictCodeExecution', 'Succeeded', 1)]).op == 'error'


def test_restriction_warns_about_its_history_as_isolation_does():
    """One DesiredStateSpec: an older action still under way and a status the module does not know are warned about
    for app restriction too (restriction's own copy of the state model said nothing of them)."""
    spec = RestrictionSpec('restricted', 'c')
    stale = spec.decide({}, [act('RestrictCodeExecution', 'Pending', 1), act('UnrestrictCodeExecution', 'Succeeded', 2)])
    assert stale.op == SEND and any('older' in w and 'may still run' in w for w in stale.warnings), stale.warnings
    unknown = spec.decide({}, [act('RestrictCodeExecution', 'Succeeded', 1), act('UnrestrictCodeExecution', 'Exploded', 2)])
    assert unknown.op == NOOP and any('does not know (Exploded)' in w for w in unknown.warnings), unknown.warnings
