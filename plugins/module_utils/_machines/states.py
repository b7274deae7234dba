# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The two-state model: a machine's isolation or app restriction, read from its machine actions.

Defender has no "is isolated" (or "is restricted") field on the machine entity (mde-api.md section 7), so the state
is derived from the machine's history of the two action types that set it, one model for both (``ISOLATION``:
Isolate/Unisolate; ``RESTRICTION``: RestrictCodeExecution/UnrestrictCodeExecution):

* the actions are sorted by ``creationDateTimeUtc`` here (the API's order is not documented, and
  is not chronological in practice); only the model's two action types count;
* newest action Pending or InProgress: the machine is on its way (``isolating``/``unisolating``);
* newest action Succeeded: ``isolated`` (Isolate) or ``unisolated`` (Unisolate);
* newest action Failed, TimeOut or Cancelled: nothing changed, so the state is that of the newest
  *Succeeded* action before it; no such action (or no history at all): ``unisolated`` (the "off" state).

Statuses are compared case-insensitively and both ``Cancelled`` and ``Canceled`` are understood;
both ``lastUpdateDateTimeUtc`` and ``lastUpdateTimeUtc`` are read.

``plan()`` turns a state and a desired state into what to do (``desired_state.DesiredStateSpec`` turns that into the
orchestrator's decisions). Nothing here sends a request by itself: ``atp_machine_info`` reads states with it too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._machines import history
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import CONFLICT, NOOP, SEND, Decision
from ansible_collections.defender.atp.plugins.module_utils._machines.history import (
    ACTIVE_STATUSES, SUCCEEDED, UNSUCCESSFUL_STATUSES, status_of)

ISOLATED = 'isolated'
UNISOLATED = 'unisolated'
ISOLATING = 'isolating'
UNISOLATING = 'unisolating'
ISOLATION_TYPES = ('Full', 'Selective', 'UnManagedDevice')

RESTRICTED = 'restricted'
UNRESTRICTED = 'unrestricted'
RESTRICTING = 'restricting'
UNRESTRICTING = 'unrestricting'


class StateInfo(object):
    """The state of one machine in one model and the actions it was derived from.

    ``state``: one of the model's four states. ``newest``: the newest action of the model's types (any status).
    ``basis``: the action the state comes from (the active one, or the newest Succeeded one; None with no successful
    history). ``stale_active``: older actions still Pending/InProgress behind a newer one (they may still run;
    reported as a warning). ``unknown_status``: the newest action has a status this code does not know (treated like
    an unsuccessful one).
    """

    def __init__(self, model, state, newest=None, basis=None, stale_active=None, unknown_status=None, actions=None):
        self.model = model
        self.state = state
        self.newest = newest
        self.basis = basis
        self.stale_active = stale_active or []
        self.unknown_status = unknown_status
        self.actions = actions or []

    @property
    def scope(self):
        """The scope (``Full``/``Selective``...) of what is in force or under way in the "on" direction, when known:
        the isolation type."""
        if self.state in (self.model.on_state, self.model.turning_on) and self.basis is not None:
            return self.basis.get('scope') or None
        return None

    isolation_type = scope

    @property
    def active(self):
        """The Pending/InProgress action the machine is waiting for, if any."""
        if self.state in self.model.direction:
            return self.basis
        return None


class TwoStates(object):
    """One two-state model: ``on`` and ``off`` are the action types (``Isolate``, ``Unisolate``), each with the state
    it leads to and the state while it is under way, and the verb its requests are reported with."""

    def __init__(self, on, off, on_state, off_state, turning_on, turning_off, verbs):
        self.on, self.off = on, off
        self.on_state, self.off_state = on_state, off_state
        self.turning_on, self.turning_off = turning_on, turning_off
        self.action_types = (on, off)
        self.states = (on_state, off_state, turning_on, turning_off)
        self.target = {on: on_state, off: off_state}
        self.transitional = {on: turning_on, off: turning_off}
        self.action_for = {on_state: on, off_state: off}
        self.direction = {turning_on: on_state, turning_off: off_state}  # where a transitional state heads
        self.verbs = {on_state: verbs[0], off_state: verbs[1]}
        self._types = {on.lower(): on, off.lower(): off}

    # -- reading one action ----------------------------------------------------------------------

    def action_type(self, action):
        """``on``, ``off`` or None for any other action type (compared without case)."""
        if not isinstance(action, dict):
            return None
        return self._types.get(str(action.get('type') or '').strip().lower())

    def summarize_action(self, action):
        """The action as a module returns it: snake_case keys, canonical status, both update-time spellings read."""
        return history.summarize(action, self.action_type(action))

    def describe(self, action):
        return history.describe(action, self.action_type(action))

    # -- the state -------------------------------------------------------------------------------

    def evaluate(self, actions):
        """The StateInfo of a machine from its machine actions (any order, any types)."""
        ordered = history.newest_first(actions, self.action_type)
        if not ordered:
            return StateInfo(self, self.off_state, actions=ordered)
        newest = ordered[0]
        status = status_of(newest)
        kind = self.action_type(newest)
        stale = [a for a in ordered[1:] if status_of(a) in ACTIVE_STATUSES]
        if status in ACTIVE_STATUSES:
            return StateInfo(self, self.transitional[kind], newest=newest, basis=newest, stale_active=stale,
                             actions=ordered)
        if status == SUCCEEDED:
            return StateInfo(self, self.target[kind], newest=newest, basis=newest, stale_active=stale, actions=ordered)
        # Failed, TimeOut, Cancelled (or a status we do not know): the state did not change.
        unknown = status if status not in UNSUCCESSFUL_STATUSES else None
        for action in ordered[1:]:
            if status_of(action) == SUCCEEDED:
                return StateInfo(self, self.target[self.action_type(action)], newest=newest, basis=action,
                                 stale_active=stale, unknown_status=unknown, actions=ordered)
        return StateInfo(self, self.off_state, newest=newest, stale_active=stale, unknown_status=unknown,
                         actions=ordered)

    def settled(self, state):
        """The settled state a state is at or heading for (``isolating`` -> ``isolated``)."""
        return self.direction.get(state, state)

    # -- deciding what to do ---------------------------------------------------------------------

    def plan(self, info, desired, scope=None):
        """The Decision (NOOP, SEND or CONFLICT, a reason and warnings) for one machine; ``desired`` is a settled state.

        A machine in the "on" state whose scope (isolation type) differs from ``scope`` is left as it is (with a
        warning): changing the type means releasing the machine first, which a task asking for isolation must never
        do on its own.
        """
        if desired not in (self.on_state, self.off_state):
            raise ValueError('desired state must be %s or %s, got %r' % (self.on_state, self.off_state, desired))
        warnings = []
        for action in info.stale_active:
            warnings.append('an older %s is still %s and may still run' % (self.describe(action), status_of(action)))
        if info.unknown_status:
            warnings.append('the newest %s has a status this module does not know (%s); it was treated as not carried '
                            'out' % (self.describe(info.newest), info.unknown_status))
        current = info.state
        if self.settled(current) == desired:
            self._scope_warning(info, desired, scope, warnings)
            reason = 'already %s' % desired if current == desired else \
                '%s is already under way' % self.describe(info.basis)
            return Decision(NOOP, reason=reason, warnings=warnings)
        if current in self.direction:
            opposite = info.basis
            return Decision(CONFLICT, warnings=warnings, reason=(
                '%s is still %s in the opposite direction: it must finish (or be cancelled) before the machine can be %s'
                % (history.with_article(self.describe(opposite)), status_of(opposite), desired)))
        return Decision(SEND, reason='is %s' % current, warnings=warnings)

    def _scope_warning(self, info, desired, scope, warnings):
        current = info.scope
        if desired == self.on_state and scope and current and current.lower() != scope.lower():
            warnings.append('the machine is %s with isolation type %s, not %s; it was left as it is. To change the type, '
                            'release it (state: %s) and %s it again'
                            % (info.state, current, scope, self.off_state, self.verbs[self.on_state]))


ISOLATION = TwoStates('Isolate', 'Unisolate', ISOLATED, UNISOLATED, ISOLATING, UNISOLATING, ('isolate', 'unisolate'))
RESTRICTION = TwoStates('RestrictCodeExecution', 'UnrestrictCodeExecution', RESTRICTED, UNRESTRICTED, RESTRICTING,
                        UNRESTRICTING, ('restrict', 'unrestrict'))
