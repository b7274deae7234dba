# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""A desired state as an ``ActionSpec`` of the orchestrator: one spec for isolation (atp_machine_isolate) and app
execution restriction (atp_app_restriction), which differ only in their model's names and a few extras.

The state model itself (newest action of the model's two types -> state, and what to do about it) is
``states.TwoStates``; ``DesiredStateSpec`` turns it into Decisions, before the write, after it and after waiting.
``force`` sends even when the history says the machine is already in the desired state (a settled state only: an
action in the desired direction still under way is adopted, as the API would answer ActiveRequestAlreadyExists).

* ``IsolationSpec`` adds the isolation type (sent with Isolate, reported, and a machine isolated with another type is
  left as it is, with a warning) and ``state_source`` (the action the state was read from, and a warning when it is
  older than ``state_max_age_days``);
* ``RestrictionSpec`` adds its pages' platform limit: both directions are Windows only, so a machine known to run
  another platform gets an error, never a request.

Every method but ``read_actions`` is pure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.defender.atp.plugins.module_utils._http.ids import machine_path
from ansible_collections.defender.atp.plugins.module_utils._machines import history
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import (
    CONFLICT, ERROR, NOOP, SEND, Decision)
from ansible_collections.defender.atp.plugins.module_utils._machines.history import (
    ACTIVE_STATUSES, SUCCEEDED, UNSUCCESSFUL_STATUSES, status_of)
from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import ActionSpec
from ansible_collections.defender.atp.plugins.module_utils._machines.states import (
    ISOLATED, ISOLATION, RESTRICTED, RESTRICTION)

# Age in days past which the action a state was read from is reported as old (option state_max_age_days).
DEFAULT_STATE_MAX_AGE_DAYS = 30

# Why an old action may not tell the truth (mde-api.md, "Facts added on review"; respond-machine-alerts.md).
STALE_REASON = ('isolation can end without an Unisolate action (a Linux device released by an iptables change, the '
                "portal's force-release script, an offline isolation request expiring after three days) and how long "
                'machine actions are kept is not documented')


class DesiredStateSpec(ActionSpec):
    """``desired``: one of the model's settled states (``isolated``/``unisolated``...); ``comment`` goes with each
    request. Subclasses set ``model`` (a ``states.TwoStates``) and ``request``; the hooks below default to nothing."""

    model = None

    def __init__(self, desired, comment, force=False):
        model = self.model
        if desired not in (model.on_state, model.off_state):
            raise ValueError('desired state must be %s or %s, got %r' % (model.on_state, model.off_state, desired))
        self.desired = desired
        self.comment = comment
        self.force = force
        self.action_type = model.action_for[desired]
        self.verb = model.verbs[desired]
        self.unchanged_text = 'already %s or under way' % desired
        self.refusal_text = 'be %s' % desired

    # -- hooks ----------------------------------------------------------------------------------------

    def plan(self, info):
        """The model's plan for this machine (``IsolationSpec`` adds the isolation type)."""
        return self.model.plan(info, self.desired)

    def fields(self, info):
        """Extra result keys decided from the history (``isolation_type``, ``state_source``)."""
        return {}

    def history_warnings(self, info, plan):
        """Warnings about the history a machine is left as it is on (an old action)."""
        return []

    def refusal(self, machine):
        """Why no request may go to ``machine`` at all (a platform the action does not support), or None."""
        return None

    def planned_fields(self):
        """Extra result keys of a machine that gets a request, before the answer (and in check mode)."""
        return {}

    def written_fields(self, action):
        """Extra result keys from the action the API answered with."""
        return {}

    # -- reading and deciding -------------------------------------------------------------------------

    def read_actions(self, directory, machine_ids):
        return directory.machine_actions(machine_ids, self.model.action_types)

    def decide(self, machine, actions, force=None):
        decision = self._decide(actions, self.force if force is None else force)
        if decision.op == SEND:
            refusal = self.refusal(machine)
            if refusal:
                return Decision(ERROR, state=decision.updates.get('state'), reason=refusal)
        return decision

    def _decide(self, actions, force):
        info = self.model.evaluate(actions)
        plan = self.plan(info)
        fields = self.fields(info)
        if force and plan.op == NOOP and info.state == self.desired:
            plan = self.model.plan(info, self.desired)  # without the "left as it is" warning of another isolation type
            return Decision(SEND, state=info.state, warnings=plan.warnings, fields=fields,
                            reason='force: sent although the history says %s' % info.state)
        if plan.op != SEND:
            plan.warnings.extend(self.history_warnings(info, plan))
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

    def planned(self, result):
        return Decision(SEND, state=self.model.transitional[self.action_type], fields=self.planned_fields())

    # -- after the write and after waiting --------------------------------------------------------------

    def after_write(self, result, outcome):
        model = self.model
        if outcome.error:
            state = result.previous_state
            if outcome.actions is not None:
                state = model.evaluate(outcome.actions).state
            return Decision(error=outcome.error, changed=outcome.sent and outcome.action is not None, state=state)
        action = outcome.action
        status = status_of(action)
        kind = model.action_type(action) or self.action_type
        fields = self.written_fields(action)
        if kind != self.action_type:
            # The API has been seen to hand back an existing action instead of creating one: here, one in the other
            # direction. That is the same conflict as a pending action found before sending.
            state = model.transitional[kind] if status in ACTIVE_STATUSES else result.previous_state
            return Decision(action=action, changed=outcome.created, state=state, fields=fields,
                            error='the API answered the %s request with an existing %s' % (
                                self.action_type, model.describe(action)))
        if status in ACTIVE_STATUSES:
            return Decision(action=action, changed=outcome.created, state=model.transitional[kind],
                            track=action.get('id'), fields=fields)
        if status == SUCCEEDED:
            return Decision(action=action, changed=outcome.created, state=model.target[kind], fields=fields)
        return Decision(action=action, changed=outcome.created, state=result.previous_state, fields=fields,
                        error='the %s was answered with status %s' % (model.describe(action), status))

    def after_wait(self, result, actions, action):
        model = self.model
        info = model.evaluate(actions)
        status = status_of(action) if action else None
        found = dict(action=action) if action is not None else {}
        if status in UNSUCCESSFUL_STATUSES:
            return Decision(state=info.state, error='the %s ended with status %s' % (model.describe(action), status),
                            **found)
        if status == SUCCEEDED:
            warnings = []
            if info.state != self.desired:
                warnings.append('the action succeeded, but a newer action has since changed the state to %s' % info.state)
            return Decision(state=info.state, warnings=warnings, **found)
        return Decision(state=info.state if model.settled(info.state) == self.desired else result.state, **found)

    # -- reporting ------------------------------------------------------------------------------------

    def is_pending(self, result):
        return not result.error and result.state in self.model.direction

    def summarize(self, action):
        return self.model.summarize_action(action)


def state_source(action, now):
    """The action a state was read from, as returned in ``machines[].state_source`` (None without one)."""
    if not action:
        return None
    age = history.age_days(action, now)
    return dict(id=action.get('id'), type=ISOLATION.action_type(action) or action.get('type'),
                status=status_of(action), creation_time=action.get('creationDateTimeUtc'),
                age_days=round(age, 2) if age is not None else None)


class IsolationSpec(DesiredStateSpec):
    """``desired``: ``isolated`` or ``unisolated``; ``isolation_type`` for new isolate requests. ``max_age_days``: warn
    when a machine is left as it is on the word of an action older than that. ``now``: the time ages are measured from
    (aware UTC)."""

    model = ISOLATION

    def __init__(self, desired, comment, isolation_type='Full', force=False, max_age_days=DEFAULT_STATE_MAX_AGE_DAYS,
                 now=None):
        super(IsolationSpec, self).__init__(desired, comment, force=force)
        self.max_age_days = max_age_days
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.isolation_type = isolation_type if desired == ISOLATED else None

    def plan(self, info):
        return self.model.plan(info, self.desired, self.isolation_type)

    def fields(self, info):
        return dict(isolation_type=info.isolation_type, state_source=state_source(info.basis, self.now))

    def history_warnings(self, info, plan):
        source = state_source(info.basis, self.now)
        if source and source['age_days'] is not None and source['age_days'] > self.max_age_days:
            return ['the state %s was read from the %s, %d days old (more than state_max_age_days, %s): %s. If the '
                    'machine may have changed since, run with force: true' % (
                        info.state, self.model.describe(info.basis), int(source['age_days']), self.max_age_days,
                        STALE_REASON)]
        return []

    def planned_fields(self):
        return dict(isolation_type=self.isolation_type) if self.desired == ISOLATED else {}

    def written_fields(self, action):
        return dict(isolation_type=action.get('scope')) if action.get('scope') and self.desired == ISOLATED else {}

    def request(self, result):
        if self.desired == ISOLATED:
            return (machine_path(result.machine['id'], 'isolate'),
                    {'Comment': self.comment, 'IsolationType': self.isolation_type}, self.action_type)
        return machine_path(result.machine['id'], 'unisolate'), {'Comment': self.comment}, self.action_type

    def result_fields(self, result):
        in_force = result.state in (self.model.on_state, self.model.turning_on)
        return dict(isolation_type=result.fields.get('isolation_type') if in_force else None,
                    state_source=result.fields.get('state_source'))


class RestrictionSpec(DesiredStateSpec):
    """``desired``: ``restricted`` or ``unrestricted``."""

    model = RESTRICTION
    PATHS = {RESTRICTION.on: 'restrictCodeExecution', RESTRICTION.off: 'unrestrictCodeExecution'}
    # Both directions are Windows only (Windows 10 1709+ and 11) on their pages.
    PAGES = {RESTRICTION.on: 'restrict-code-execution.md', RESTRICTION.off: 'unrestrict-code-execution.md'}

    def refusal(self, machine):
        return history.windows_only_refusal(
            machine, 'app execution %s' % ('restriction' if self.desired == RESTRICTED else 'unrestriction'),
            self.PAGES[self.action_type])

    def request(self, result):
        return (machine_path(result.machine['id'], self.PATHS[self.action_type]), {'Comment': self.comment},
                self.action_type)
