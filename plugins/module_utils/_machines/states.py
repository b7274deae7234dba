# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Isolation state of a machine, read from its Isolate/Unisolate machine actions.

Defender has no "is isolated" field on the machine entity (mde-api.md section 7), so the state is
derived from the machine's action history:

* the actions are sorted by ``creationDateTimeUtc`` here (the API's order is not documented, and
  is not chronological in practice); only ``Isolate`` and ``Unisolate`` actions count;
* newest action Pending or InProgress: the machine is on its way (``isolating``/``unisolating``);
* newest action Succeeded: ``isolated`` (Isolate) or ``unisolated`` (Unisolate);
* newest action Failed, TimeOut or Cancelled: nothing changed, so the state is that of the newest
  *Succeeded* action before it; no such action (or no history at all): ``unisolated``.

Statuses are compared case-insensitively and both ``Cancelled`` and ``Canceled`` are understood;
both ``lastUpdateDateTimeUtc`` and ``lastUpdateTimeUtc`` are read.

``plan()`` turns a state and a desired state into what to do (``isolation_action.IsolationSpec``
turns that into the orchestrator's decisions). Nothing here sends a request by itself.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._machines import history as actions_mod
from ansible_collections.defender.atp.plugins.module_utils._machines.history import (
    ACTIVE_STATUSES, CONFLICT, NOOP, SEND, SUCCEEDED, UNSUCCESSFUL_STATUSES, status_of)

ISOLATED = 'isolated'
UNISOLATED = 'unisolated'
ISOLATING = 'isolating'
UNISOLATING = 'unisolating'
STATES = (ISOLATED, UNISOLATED, ISOLATING, UNISOLATING)

ISOLATE = 'Isolate'
UNISOLATE = 'Unisolate'
ACTION_TYPES = (ISOLATE, UNISOLATE)

ISOLATION_TYPES = ('Full', 'Selective', 'UnManagedDevice')

_TYPE_ALIASES = {'isolate': ISOLATE, 'unisolate': UNISOLATE}

# What each direction is called, per action type.
TARGET_STATE = {ISOLATE: ISOLATED, UNISOLATE: UNISOLATED}
TRANSITIONAL_STATE = {ISOLATE: ISOLATING, UNISOLATE: UNISOLATING}
ACTION_FOR_STATE = {ISOLATED: ISOLATE, UNISOLATED: UNISOLATE}


# -- reading one action ------------------------------------------------------------------------

def action_type(action):
    """``Isolate``, ``Unisolate`` or None for any other action type."""
    if not isinstance(action, dict):
        return None
    return _TYPE_ALIASES.get(str(action.get('type') or '').strip().lower())


def isolation_actions(actions):
    """The Isolate/Unisolate actions of ``actions``, newest first (by creation time, whatever the input order)."""
    return actions_mod.newest_first(actions, action_type)


def summarize_action(action):
    """The action as a module returns it: snake_case keys, canonical status, both update-time spellings read."""
    return actions_mod.summarize(action, action_type(action))


# -- the state model ---------------------------------------------------------------------------

class IsolationInfo(object):
    """The isolation state of one machine and the actions it was derived from.

    ``state``: one of STATES. ``isolation_type``: the scope (Full/Selective/...) of the isolation in
    force or under way, when known. ``newest``: the newest Isolate/Unisolate action (any status).
    ``basis``: the action the state comes from (the active one, or the newest Succeeded one; None
    with no successful history). ``stale_active``: older actions still Pending/InProgress behind a
    newer one (they may still run; reported as a warning). ``unknown_status``: the newest action
    has a status this code does not know (treated like an unsuccessful one).
    """

    def __init__(self, state, newest=None, basis=None, stale_active=None, unknown_status=None, actions=None):
        self.state = state
        self.newest = newest
        self.basis = basis
        self.stale_active = stale_active or []
        self.unknown_status = unknown_status
        self.actions = actions or []

    @property
    def isolation_type(self):
        if self.state in (ISOLATED, ISOLATING) and self.basis is not None:
            return self.basis.get('scope') or None
        return None

    @property
    def active(self):
        """The Pending/InProgress action the machine is waiting for, if any."""
        if self.state in (ISOLATING, UNISOLATING):
            return self.basis
        return None

    def as_dict(self):
        return dict(state=self.state, isolation_type=self.isolation_type, action=summarize_action(self.newest))


def evaluate(actions):
    """Return the IsolationInfo of a machine from its machine actions (any order, any types)."""
    ordered = isolation_actions(actions)
    if not ordered:
        return IsolationInfo(UNISOLATED, actions=ordered)
    newest = ordered[0]
    status = status_of(newest)
    kind = action_type(newest)
    stale = [a for a in ordered[1:] if status_of(a) in ACTIVE_STATUSES]
    if status in ACTIVE_STATUSES:
        return IsolationInfo(TRANSITIONAL_STATE[kind], newest=newest, basis=newest, stale_active=stale, actions=ordered)
    if status == SUCCEEDED:
        return IsolationInfo(TARGET_STATE[kind], newest=newest, basis=newest, stale_active=stale, actions=ordered)
    # Failed, TimeOut, Cancelled (or a status we do not know): the state did not change.
    unknown = status if status not in UNSUCCESSFUL_STATUSES else None
    for action in ordered[1:]:
        if status_of(action) == SUCCEEDED:
            return IsolationInfo(TARGET_STATE[action_type(action)], newest=newest, basis=action, stale_active=stale,
                                 unknown_status=unknown, actions=ordered)
    return IsolationInfo(UNISOLATED, newest=newest, basis=None, stale_active=stale, unknown_status=unknown, actions=ordered)


def direction(state):
    """The settled state a state is at or heading for (``isolating`` -> ``isolated``)."""
    return {ISOLATING: ISOLATED, UNISOLATING: UNISOLATED}.get(state, state)


# -- deciding what to do -----------------------------------------------------------------------

class Plan(object):
    """What to do for one machine: ``op`` (none, send or conflict), why, and warnings."""

    def __init__(self, op, reason, warnings=None):
        self.op = op
        self.reason = reason
        self.warnings = warnings or []

    def __repr__(self):
        return 'Plan(%r, %r)' % (self.op, self.reason)


def describe_action(action):
    return actions_mod.describe(action, action_type(action))


def plan(info, desired, isolation_type=None):
    """Decide for one machine: ``desired`` is ``isolated`` or ``unisolated``.

    An isolated machine whose isolation type differs from ``isolation_type`` is left as it is (with
    a warning): changing the type means releasing the machine first, which a task asking for
    isolation must never do on its own.
    """
    if desired not in (ISOLATED, UNISOLATED):
        raise ValueError('desired state must be isolated or unisolated, got %r' % (desired,))
    warnings = []
    for action in info.stale_active:
        warnings.append('an older %s is still %s and may still run' % (describe_action(action), status_of(action)))
    if info.unknown_status:
        warnings.append('the newest %s has a status this module does not know (%s); it was treated as not carried out'
                        % (describe_action(info.newest), info.unknown_status))
    current = info.state
    if current == desired:
        _scope_warning(info, desired, isolation_type, warnings)
        return Plan(NOOP, 'already %s' % desired, warnings)
    if direction(current) == desired:
        _scope_warning(info, desired, isolation_type, warnings)
        return Plan(NOOP, '%s is already under way' % describe_action(info.basis), warnings)
    if current in (ISOLATING, UNISOLATING):
        opposite = info.basis
        return Plan(CONFLICT, 'an %s is still %s in the opposite direction: it must finish (or be cancelled) before the '
                              'machine can be %s' % (describe_action(opposite), status_of(opposite), desired), warnings)
    return Plan(SEND, 'is %s' % current, warnings)


def _scope_warning(info, desired, isolation_type, warnings):
    current_type = info.isolation_type
    if desired == ISOLATED and isolation_type and current_type and current_type.lower() != isolation_type.lower():
        warnings.append('the machine is %s with isolation type %s, not %s; it was left as it is. To change the type, '
                        'release it (state: unisolated) and isolate it again'
                        % (info.state, current_type, isolation_type))
