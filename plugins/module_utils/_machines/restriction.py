# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""App execution restriction as an ``ActionSpec``: what atp_app_restriction decides, sends and reports.

No machine field says whether app execution is restricted, so, as for isolation, the state is read
from the machine's RestrictCodeExecution / UnrestrictCodeExecution actions sorted by creation time:
newest Pending/InProgress -> ``restricting``/``unrestricting``; newest Succeeded -> ``restricted``/
``unrestricted``; newest Failed/TimeOut/Cancelled -> the state of the newest Succeeded one before it;
no such action -> ``unrestricted``. Every method but ``read_actions`` is pure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._machines import history as actions_mod
from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import ActionSpec, Decision
from ansible_collections.defender.atp.plugins.module_utils._machines.history import (
    ACTIVE_STATUSES, CONFLICT, ERROR, NOOP, SEND, SUCCEEDED, UNSUCCESSFUL_STATUSES)

RESTRICTED = 'restricted'
UNRESTRICTED = 'unrestricted'
RESTRICTING = 'restricting'
UNRESTRICTING = 'unrestricting'

RESTRICT = 'RestrictCodeExecution'
UNRESTRICT = 'UnrestrictCodeExecution'
ACTION_TYPES = (RESTRICT, UNRESTRICT)
_TYPES = dict((t.lower(), t) for t in ACTION_TYPES)

TARGET_STATE = {RESTRICT: RESTRICTED, UNRESTRICT: UNRESTRICTED}
TRANSITIONAL_STATE = {RESTRICT: RESTRICTING, UNRESTRICT: UNRESTRICTING}
ACTION_FOR_STATE = {RESTRICTED: RESTRICT, UNRESTRICTED: UNRESTRICT}
DIRECTION = {RESTRICTING: RESTRICTED, UNRESTRICTING: UNRESTRICTED}
PATHS = {RESTRICT: 'restrictCodeExecution', UNRESTRICT: 'unrestrictCodeExecution'}
# Both directions are Windows only (Windows 10 1709+ and 11) on their pages.
PAGES = {RESTRICT: 'restrict-code-execution.md', UNRESTRICT: 'unrestrict-code-execution.md'}


def action_type(action):
    if not isinstance(action, dict):
        return None
    return _TYPES.get(str(action.get('type') or '').strip().lower())


def evaluate(actions):
    """``(state, basis)``: the restriction state and the action it was read from (None without one)."""
    ordered = actions_mod.newest_first(actions, action_type)
    if not ordered:
        return UNRESTRICTED, None
    newest = ordered[0]
    status = actions_mod.status_of(newest)
    if status in ACTIVE_STATUSES:
        return TRANSITIONAL_STATE[action_type(newest)], newest
    if status == SUCCEEDED:
        return TARGET_STATE[action_type(newest)], newest
    for action in ordered[1:]:
        if actions_mod.status_of(action) == SUCCEEDED:
            return TARGET_STATE[action_type(action)], action
    return UNRESTRICTED, None


def describe(action):
    return actions_mod.describe(action, action_type(action))


class RestrictionSpec(ActionSpec):
    """``desired``: ``restricted`` or ``unrestricted``. ``force``: send even when the history says the machine is
    already in that state (a settled state only; an action in the desired direction under way is adopted)."""

    def __init__(self, desired, comment, force=False):
        if desired not in (RESTRICTED, UNRESTRICTED):
            raise ValueError('desired state must be restricted or unrestricted, got %r' % (desired,))
        self.desired = desired
        self.comment = comment
        self.force = force
        self.action_type = ACTION_FOR_STATE[desired]
        self.verb = 'restrict' if desired == RESTRICTED else 'unrestrict'
        self.unchanged_text = 'already %s or under way' % desired
        self.refusal_text = 'be %s' % desired

    def read_actions(self, directory, machine_ids):
        return directory.machine_actions(machine_ids, ACTION_TYPES)

    def decide(self, machine, actions, force=None):
        decision = self._decide(actions, self.force if force is None else force)
        if decision.op == SEND:
            refusal = actions_mod.windows_only_refusal(
                machine, 'app execution %s' % ('restriction' if self.desired == RESTRICTED else 'unrestriction'),
                PAGES[self.action_type])
            if refusal:
                return Decision(ERROR, state=decision.updates.get('state'), reason=refusal)
        return decision

    def _decide(self, actions, force):
        state, basis = evaluate(actions)
        if state == self.desired:
            if force:
                return Decision(SEND, state=state, reason='force: sent although the history says %s' % state)
            return Decision(NOOP, state=state, action=basis, reason='already %s' % state)
        if DIRECTION.get(state) == self.desired:
            return Decision(NOOP, state=state, action=basis, track=basis.get('id'),
                            reason='%s is already under way' % describe(basis))
        if state in DIRECTION:
            return Decision(CONFLICT, state=state, action=basis, reason=(
                'a %s is still %s in the opposite direction: it must finish (or be cancelled) before the machine can '
                'be %s' % (describe(basis), actions_mod.status_of(basis), self.desired)))
        return Decision(SEND, state=state, reason='is %s' % state)

    def reconsider(self, machine, actions):
        return self.decide(machine, actions, force=False)

    def request(self, result):
        return ('/api/machines/%s/%s' % (result.machine['id'], PATHS[self.action_type]), {'Comment': self.comment},
                self.action_type)

    def planned(self, result):
        return Decision(SEND, state=TRANSITIONAL_STATE[self.action_type])

    def after_write(self, result, outcome):
        if outcome.error:
            state = evaluate(outcome.actions)[0] if outcome.actions is not None else result.previous_state
            return Decision(error=outcome.error, changed=outcome.sent and outcome.action is not None, state=state)
        action = outcome.action
        status = actions_mod.status_of(action)
        kind = action_type(action) or self.action_type
        if kind != self.action_type:
            state = TRANSITIONAL_STATE[kind] if status in ACTIVE_STATUSES else result.previous_state
            return Decision(action=action, changed=outcome.created, state=state,
                            error='the API answered the %s request with an existing %s'
                            % (self.action_type, describe(action)))
        if status in ACTIVE_STATUSES:
            return Decision(action=action, changed=outcome.created, state=TRANSITIONAL_STATE[kind], track=action.get('id'))
        if status == SUCCEEDED:
            return Decision(action=action, changed=outcome.created, state=TARGET_STATE[kind])
        return Decision(action=action, changed=outcome.created, state=result.previous_state,
                        error='the %s was answered with status %s' % (describe(action), status))

    def after_wait(self, result, actions, action):
        state = evaluate(actions)[0]
        status = actions_mod.status_of(action) if action else None
        found = dict(action=action) if action is not None else {}
        if status in UNSUCCESSFUL_STATUSES:
            return Decision(state=state, error='the %s ended with status %s' % (describe(action), status), **found)
        if status == SUCCEEDED:
            return Decision(state=state, **found)
        return Decision(state=state if DIRECTION.get(state, state) == self.desired else result.state, **found)

    def is_pending(self, result):
        return not result.error and result.state in (RESTRICTING, UNRESTRICTING)

    def summarize(self, action):
        return actions_mod.summarize(action, action_type(action))
