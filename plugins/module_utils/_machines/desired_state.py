# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Isolation as an ``ActionSpec`` of the orchestrator: what atp_machine_isolate decides, sends and reports.

The state model itself (newest Isolate/Unisolate action -> state, and what to do about it) is in
``isolation``; this file turns it into Decisions. Every method but ``read_actions`` is pure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.defender.atp.plugins.module_utils._machines import history as actions_mod
from ansible_collections.defender.atp.plugins.module_utils._machines import states as isolation
from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import ActionSpec, Decision
from ansible_collections.defender.atp.plugins.module_utils._machines.history import (
    ACTIVE_STATUSES, CONFLICT, NOOP, SEND, SUCCEEDED)
from ansible_collections.defender.atp.plugins.module_utils._machines.history import UNSUCCESSFUL_STATUSES


# Age in days past which the action a state was read from is reported as old (option state_max_age_days).
DEFAULT_STATE_MAX_AGE_DAYS = 30

# Why an old action may not tell the truth (mde-api.md, "Facts added on review"; respond-machine-alerts.md).
STALE_REASON = ('isolation can end without an Unisolate action (a Linux device released by an iptables change, the '
                "portal's force-release script, an offline isolation request expiring after three days) and how long "
                'machine actions are kept is not documented')


def state_source(action, now):
    """The action a state was read from, as returned in ``machines[].state_source`` (None without one)."""
    if not action:
        return None
    age = actions_mod.age_days(action, now)
    return dict(id=action.get('id'), type=isolation.action_type(action) or action.get('type'),
                status=isolation.status_of(action), creation_time=action.get('creationDateTimeUtc'),
                age_days=round(age, 2) if age is not None else None)


class IsolationSpec(ActionSpec):
    """``desired``: ``isolated`` or ``unisolated``; ``isolation_type`` for new isolate requests.

    ``force``: send even when the history says the machine is already in the desired state (a settled
    state only: an action in the desired direction still under way is adopted, as the API would answer
    ActiveRequestAlreadyExists). ``max_age_days``: warn when a machine is left as it is on the word of
    an action older than that. ``now``: the time ages are measured from (aware UTC).
    """

    def __init__(self, desired, comment, isolation_type='Full', force=False, max_age_days=DEFAULT_STATE_MAX_AGE_DAYS,
                 now=None):
        if desired not in (isolation.ISOLATED, isolation.UNISOLATED):
            raise ValueError('desired state must be isolated or unisolated, got %r' % (desired,))
        self.desired = desired
        self.force = force
        self.max_age_days = max_age_days
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.comment = comment
        self.isolation_type = isolation_type if desired == isolation.ISOLATED else None
        self.action_type = isolation.ACTION_FOR_STATE[desired]
        self.verb = 'isolate' if desired == isolation.ISOLATED else 'unisolate'
        self.unchanged_text = 'already %s or under way' % desired
        self.refusal_text = 'be %s' % desired

    # -- reading and deciding ---------------------------------------------------------------------

    def read_actions(self, directory, machine_ids):
        return directory.isolation_actions(machine_ids)

    def decide(self, machine, actions, force=None):
        force = self.force if force is None else force
        info = isolation.evaluate(actions)
        plan = isolation.plan(info, self.desired, self.isolation_type)
        source = state_source(info.basis, self.now)
        fields = dict(isolation_type=info.isolation_type, state_source=source)
        if force and plan.op == NOOP and info.state == self.desired:
            plan = isolation.plan(info, self.desired)  # without the "left as it is" warning of another isolation type
            return Decision(SEND, state=info.state, warnings=plan.warnings, fields=fields,
                            reason='force: sent although the history says %s' % info.state)
        if plan.op != SEND and source and source['age_days'] is not None and source['age_days'] > self.max_age_days:
            plan.warnings.append(
                'the state %s was read from the %s, %d days old (more than state_max_age_days, %s): %s. If the machine '
                'may have changed since, run with force: true' % (info.state, isolation.describe_action(info.basis),
                                                                  int(source['age_days']), self.max_age_days, STALE_REASON))
        if plan.op == NOOP:
            active = info.active
            return Decision(NOOP, state=info.state, action=info.basis or info.newest,
                            track=active.get('id') if active is not None else None, warnings=plan.warnings,
                            fields=fields, reason=plan.reason)
        if plan.op == CONFLICT:
            return Decision(CONFLICT, state=info.state, action=info.basis, warnings=plan.warnings, fields=fields,
                            reason=plan.reason)
        return Decision(SEND, state=info.state, warnings=plan.warnings, fields=fields, reason=plan.reason)

    def reconsider(self, machine, actions):
        # After ActiveRequestAlreadyExists, an action in the desired direction exists: adopt it, even with force.
        return self.decide(machine, actions, force=False)

    def request(self, result):
        if self.desired == isolation.ISOLATED:
            return ('/api/machines/%s/isolate' % result.machine['id'],
                    {'Comment': self.comment, 'IsolationType': self.isolation_type}, self.action_type)
        return '/api/machines/%s/unisolate' % result.machine['id'], {'Comment': self.comment}, self.action_type

    def planned(self, result):
        fields = dict(isolation_type=self.isolation_type) if self.desired == isolation.ISOLATED else {}
        return Decision(SEND, state=isolation.TRANSITIONAL_STATE[self.action_type], fields=fields)

    # -- after the write and after waiting --------------------------------------------------------

    def after_write(self, result, outcome):
        if outcome.error:
            state = result.previous_state
            if outcome.actions is not None:
                state = isolation.evaluate(outcome.actions).state
            return Decision(error=outcome.error, changed=outcome.sent and outcome.action is not None, state=state)
        action = outcome.action
        status = isolation.status_of(action)
        kind = isolation.action_type(action) or self.action_type
        fields = {}
        if action.get('scope') and self.desired == isolation.ISOLATED:
            fields['isolation_type'] = action.get('scope')
        if kind != self.action_type:
            # The API has been seen to hand back an existing action instead of creating one: here, one in the other
            # direction. That is the same conflict as a pending action found before sending.
            state = isolation.TRANSITIONAL_STATE[kind] if status in ACTIVE_STATUSES else result.previous_state
            return Decision(action=action, changed=outcome.created, state=state, fields=fields,
                            error='the API answered the %s request with an existing %s' % (
                                self.action_type, isolation.describe_action(action)))
        if status in ACTIVE_STATUSES:
            return Decision(action=action, changed=outcome.created, state=isolation.TRANSITIONAL_STATE[kind],
                            track=action.get('id'), fields=fields)
        if status == SUCCEEDED:
            return Decision(action=action, changed=outcome.created, state=isolation.TARGET_STATE[kind], fields=fields)
        return Decision(action=action, changed=outcome.created, state=result.previous_state, fields=fields,
                        error='the %s was answered with status %s' % (isolation.describe_action(action), status))

    def after_wait(self, result, actions, action):
        info = isolation.evaluate(actions)
        status = isolation.status_of(action) if action else None
        found = dict(action=action) if action is not None else {}
        if status in UNSUCCESSFUL_STATUSES:
            return Decision(state=info.state, error='the %s ended with status %s' % (isolation.describe_action(action), status),
                            **found)
        if status == SUCCEEDED:
            warnings = []
            if info.state != self.desired:
                warnings.append('the action succeeded, but a newer action has since changed the state to %s' % info.state)
            return Decision(state=info.state, warnings=warnings, **found)
        return Decision(state=info.state if isolation.direction(info.state) == self.desired else result.state, **found)

    # -- reporting --------------------------------------------------------------------------------

    def is_pending(self, result):
        return not result.error and result.state in (isolation.ISOLATING, isolation.UNISOLATING)

    def summarize(self, action):
        return isolation.summarize_action(action)

    def result_fields(self, result):
        in_force = result.state in (isolation.ISOLATED, isolation.ISOLATING)
        return dict(isolation_type=result.fields.get('isolation_type') if in_force else None,
                    state_source=result.fields.get('state_source'))
