# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""One run of a machine response action over a list of machines, whatever the action.

    resolve the entries -> read each machine's action history -> decide per machine -> refuse above
    max_machines -> send the writes (bounded, paced) -> optionally wait -> per-machine results + summary

The orchestrator owns the sequence and the per-machine results; everything that depends on the
action lives in an ``ActionSpec``, whose deciding methods are pure (machine and actions in,
``Decision`` out) so they are unit-tested without HTTP. A result changes in one place only:
``MachineResult.apply(decision)``.

The specs (each ``read_actions``, ``decide`` and ``request``, and what differs from the defaults):

* ``desired_state.IsolationSpec`` and ``RestrictionSpec`` (``DesiredStateSpec``): the state is read from the newest
  action of two types (``states.ISOLATION``, ``states.RESTRICTION``), and the result carries the state before and
  after;
* ``one_shot.OneShotSpec``: an action of the same type still under way means no new request; the action's status is
  the state; ``complete`` downloads collected packages;
* ``tags.TagSpec``: the state is the machine entity's ``machineTags``, already read when the machines were resolved
  (``read_actions`` reads nothing); ``tags.TagOrchestrator`` replaces the writes (bulk requests).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._machines import history
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import (
    CONFLICT, ERROR, NOOP, SEND, Decision)
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError, summary_counts
from ansible_collections.defender.atp.plugins.module_utils._machines.sender import (
    ADOPT, DEFAULT_WORKERS, FAIL, RESEND, ActionSender, Job)
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import (
    MachineDirectory, clean_entries, machine_summary)
from ansible_collections.defender.atp.plugins.module_utils._http.pacing import Pacer

# Defaults shared by every module built on the orchestrator (their argument specs read them from here).
DEFAULTS = dict(
    wait=False,
    wait_timeout=300,
    poll_interval=10.0,
    max_machines=25,
    allow_partial=False,
)
MAX_WARNINGS = 10


def machine_argument_spec(**extra):
    """The options every machine-action module shares (``machines``, ``comment``, ``wait``...), plus ``extra``."""
    spec = dict(
        machines=dict(type='list', elements='str', required=True),
        comment=dict(type='str', required=True),
        wait=dict(type='bool', default=DEFAULTS['wait']),
        wait_timeout=dict(type='int', default=DEFAULTS['wait_timeout']),
        poll_interval=dict(type='float', default=DEFAULTS['poll_interval']),
        max_machines=dict(type='int', default=DEFAULTS['max_machines']),
        allow_partial=dict(type='bool', default=DEFAULTS['allow_partial']),
    )
    spec.update(extra)
    return spec


def validate_options(params):
    """The valid entries of ``machines``; AtpOptionError naming the option for anything unusable (before any request)."""
    entries, invalid = clean_entries(params['machines'])
    if invalid:
        raise AtpOptionError('machines has invalid entries: %s. Give machine ids or computer DNS names.' % ', '.join(
            'item %d (%r: %s)' % (position + 1, value, reason) for position, value, reason in invalid))
    if not entries:
        raise AtpOptionError('machines is empty: give at least one machine id or computer DNS name.')
    if 'comment' in params and not (params['comment'] or '').strip():
        raise AtpOptionError('comment must not be empty: say why (it is recorded with the action in Defender).')
    if params['max_machines'] < 1:
        raise AtpOptionError('max_machines must be 1 or more, got %d.' % params['max_machines'])
    if params.get('wait_timeout', 0) < 0:
        raise AtpOptionError('wait_timeout must be 0 or more seconds, got %d.' % params['wait_timeout'])
    if params.get('poll_interval', 1) <= 0:
        raise AtpOptionError('poll_interval must be more than 0 seconds, got %s.' % params['poll_interval'])
    return entries


class MachineResult(object):
    """Everything known about one machine (or one unresolved entry) during a run."""

    def __init__(self, resolution):
        self.resolution = resolution
        self.machine = resolution.machine
        self.machine_id = str(resolution.machine_id or '').lower() or None
        self.actions = []
        self.op = None
        self.previous_state = None
        self.state = None
        self.action = None
        self.track = None
        self.changed = False
        self.error = resolution.error
        self.warnings = []
        self.fields = {}

    @property
    def label(self):
        return (self.machine or {}).get('computerDnsName') or self.machine_id or self.resolution.input

    def apply(self, decision):
        for name, value in decision.updates.items():
            setattr(self, name, value)
        self.warnings.extend(decision.warnings)
        self.fields.update(decision.fields)

    def as_dict(self, spec):
        result = dict(input=self.resolution.input, inputs=list(self.resolution.inputs))
        result.update(machine_summary(self.machine))
        result['machine_id'] = (self.machine or {}).get('id')
        result.update(matched_by=self.resolution.matched_by, previous_state=self.previous_state, state=self.state)
        result.update(spec.result_fields(self))
        result.update(changed=self.changed, action=spec.summarize(self.action), error=self.error,
                      warnings=list(self.warnings))
        if self.resolution.candidates:
            result['candidates'] = [machine_summary(c) for c in self.resolution.candidates]
        return result


class ActionSpec(object):
    """What the orchestrator needs to know about one kind of action. Subclasses set ``verb`` and implement
    ``read_actions``, ``decide`` and ``request``; the rest has defaults that suit a one-shot action."""

    verb = 'action'  # in messages: "sent <verb> requests for 2 machines"
    # Whether a plain 400 (no code) may mean "already running" (collect-investigation-package.md): the machine's
    # actions are read again and a running one is adopted.
    plain_duplicate_400 = False
    refusal_text = 'get a request'  # "Refusing to act: 30 machines would <refusal_text>"
    unchanged_text = 'already done or under way'

    def read_actions(self, directory, machine_ids):
        """``{lowercase machine id: [actions]}``: the history ``decide`` reads (one batched read for all)."""
        raise NotImplementedError

    def decide(self, machine, actions):
        """Pure: the Decision (NOOP, SEND, CONFLICT, ERROR) for one machine from its actions."""
        raise NotImplementedError

    def request(self, result):
        """``(path, body, action_type)`` of the write for one machine."""
        raise NotImplementedError

    def reconsider(self, machine, actions):
        """The decision after the API answered ActiveRequestAlreadyExists: by default ``decide`` again."""
        return self.decide(machine, actions)

    def planned(self, result):
        """Pure: what a machine that gets a request looks like before the answer (and in check mode)."""
        return Decision(SEND, action=None)

    def after_write(self, result, outcome):
        """Pure: the result once the write was answered (``outcome``: a ``sender.Outcome``)."""
        if outcome.error:
            return Decision(error=outcome.error, changed=outcome.sent and outcome.action is not None)
        action = outcome.action
        status = history.status_of(action)
        if status in history.UNSUCCESSFUL_STATUSES:
            return Decision(action=action, changed=outcome.created,
                            error='the %s was answered with status %s' % (history.describe(action), status))
        return Decision(action=action, changed=outcome.created, warnings=_unknown_status(action),
                        track=action.get('id') if status in history.ACTIVE_STATUSES else None)

    def after_wait(self, result, actions, action):
        """Pure: the result after waiting; ``action`` is the tracked action as last read (None if not found)."""
        if action is None:
            return Decision()
        status = history.status_of(action)
        if status in history.UNSUCCESSFUL_STATUSES:
            return Decision(action=action, error='the %s ended with status %s' % (history.describe(action), status))
        return Decision(action=action, warnings=_unknown_status(action))

    def is_pending(self, result):
        """Whether the machine's action is still Pending/InProgress at the end (or would be, in check mode)."""
        if result.error or not result.machine_id:
            return False
        if result.action is None:
            return result.changed
        return history.is_active(result.action)

    def complete(self, client, results):
        """After the writes (and the wait): work left per machine, such as downloading what an action produced
        (never in check mode). Sets ``result.error`` for a machine it failed for; by default nothing to do."""

    def summarize(self, action):
        return history.summarize(action)

    def result_fields(self, result):
        """Extra keys of each returned machine (always present, so every entry has the same keys)."""
        return dict(result.fields)

    def diff_value(self, result, when):
        return result.previous_state if when == 'before' else result.state


def _unknown_status(action):
    """A warning for an action whose status this code does not know (the API may add values): it is neither reported
    as done nor as failed."""
    status = history.status_of(action)
    if action and status not in history.ACTIVE_STATUSES | history.FINAL_STATUSES:
        return ['the %s has a status this module does not know (%s): it is not reported as done'
                % (history.describe(action), status)]
    return []


class Report(object):
    """The outcome of a run: the module's result dict, its message, warnings to show, and whether it failed."""

    def __init__(self, result, msg, failed, warnings):
        self.result = result
        self.msg = msg
        self.failed = failed
        self.warnings = warnings


class Orchestrator(object):
    """Runs one ActionSpec over a list of machine entries through an HttpClient (see the module docstring)."""

    def __init__(self, spec, client, max_machines=DEFAULTS['max_machines'], check_mode=False, wait=False,
                 wait_timeout=DEFAULTS['wait_timeout'], poll_interval=DEFAULTS['poll_interval'], diff=False,
                 allow_partial=False, workers=DEFAULT_WORKERS, directory=None, pacer=None):
        self.spec = spec
        self.client = client
        self.directory = directory or MachineDirectory(client)
        self.max_machines = max_machines
        self.check_mode = check_mode
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.diff = diff
        self.allow_partial = allow_partial
        self.workers = workers
        self.pacer = pacer
        self.wait_error = None  # why waiting stopped early, if it did

    def run(self, entries):
        results = [MachineResult(r) for r in self.directory.resolve(entries)]
        resolved = [r for r in results if r.machine_id]
        histories = self.spec.read_actions(self.directory, [r.machine_id for r in resolved])
        for result in resolved:
            result.actions = histories.get(result.machine_id, [])
            decision = self.spec.decide(result.machine, result.actions)
            result.op = decision.op
            result.apply(decision)
            result.previous_state = result.state
            if decision.op in (CONFLICT, ERROR):
                result.error = decision.reason
        to_send = [r for r in resolved if r.op == SEND]
        if len(to_send) > self.max_machines:
            return self._report(results, refused=len(to_send))
        for result in to_send:
            result.changed = True
            result.apply(self.spec.planned(result))
        if to_send and not self.check_mode:
            self._send(to_send)
        if self.wait and not self.check_mode:
            self._wait(resolved)
        if not self.check_mode:
            self.spec.complete(self.client, [r for r in resolved if not r.error])
        return self._report(results)

    # -- writes ---------------------------------------------------------------------------------

    def _send(self, to_send):
        by_id = dict((r.machine_id, r) for r in to_send)

        def read_one(machine_id):
            # Called from a worker thread: read through that worker's own client (its own HTTP session), unpaced.
            directory = MachineDirectory(sender.worker_client())
            return self.spec.read_actions(directory, [machine_id]).get(str(machine_id).lower(), [])

        def reconcile(job, actions):
            decision = self.spec.reconsider(by_id[job.machine_id].machine, actions)
            if decision.op == NOOP:
                return ADOPT, decision.updates.get('action')
            if decision.op in (CONFLICT, ERROR):
                return FAIL, decision.reason
            return RESEND, None

        pacer = self.pacer or Pacer(max_wait=self.client.settings.max_retry_wait)
        sender = ActionSender(self.client, read_one, reconcile, workers=self.workers, pacer=pacer)
        jobs = []
        for result in to_send:
            path, body, action_type = self.spec.request(result)
            jobs.append(Job(result.machine_id, path, body, action_type, label=result.label,
                            known_action_ids=[a.get('id') for a in result.actions],
                            plain_duplicate_400=self.spec.plain_duplicate_400))
        for machine_id, outcome in sender.send_all(jobs).items():
            result = by_id[machine_id]
            result.warnings.extend(outcome.notes)
            result.apply(self.spec.after_write(result, outcome))

    # -- waiting --------------------------------------------------------------------------------

    def _wait(self, resolved):
        tracked = dict((r.machine_id, r.track) for r in resolved if r.track and not r.error)
        if not tracked:
            return

        def read(machine_ids):
            return self.spec.read_actions(self.directory, machine_ids)

        latest, error = history.wait_for_actions(read, tracked, self.wait_timeout, self.poll_interval)
        self.wait_error = error
        by_id = dict((r.machine_id, r) for r in resolved)
        for machine_id, action_id in tracked.items():
            actions = latest.get(machine_id)
            if actions is None:
                continue
            result = by_id[machine_id]
            result.apply(self.spec.after_wait(result, actions, history.find_action(actions, action_id)))

    # -- the report -----------------------------------------------------------------------------

    def summarize(self, results):
        return summary_counts(results, pending=sum(1 for result in results if self.spec.is_pending(result)))

    def _report(self, results, refused=None):
        warnings = []
        if refused is not None:
            summary = self.summarize(results)
            msg = ('Refusing to act: %d machines would %s, more than max_machines (%d). Nothing was changed. '
                   'Raise max_machines if this is intended, or narrow the list.' % (refused, self.spec.refusal_text,
                                                                                    self.max_machines))
            return Report(dict(changed=False, machines=[r.as_dict(self.spec) for r in results], summary=summary), msg,
                          True, warnings)
        if self.wait_error:
            warnings.append('Waiting for the actions stopped early, so some machines may be reported as pending although '
                            'their action has completed since: %s' % self.wait_error)
        for result in results:
            if result.machine and self.spec.is_pending(result):
                health = result.machine.get('healthStatus')
                if health and health != 'Active':
                    result.warnings.append('the machine is %s: its action stays Pending until it connects to Defender '
                                           '(Defender retries for up to three days)' % health)
        summary = self.summarize(results)
        failed = [r for r in results if r.error]
        result = dict(changed=any(r.changed for r in results), machines=[r.as_dict(self.spec) for r in results],
                      summary=summary)
        if self.diff:
            # Keyed by machine id, never by DNS name: two machines may share a name (a re-imaged host, or an endpoint
            # that names itself after another), and each gets its own entry.
            resolved = [r for r in results if r.machine_id]
            result['diff'] = dict(before=dict((r.machine['id'], self.spec.diff_value(r, 'before')) for r in resolved),
                                  after=dict((r.machine['id'], self.spec.diff_value(r, 'after')) for r in resolved))
        lines = ['%s: %s' % (r.label, warning) for r in results for warning in r.warnings]
        warnings.extend(lines[:MAX_WARNINGS])
        if len(lines) > MAX_WARNINGS:
            warnings.append('%d more warnings are in machines[].warnings.' % (len(lines) - MAX_WARNINGS))
        msg = self.describe(summary, failed)
        return Report(result, msg, bool(failed) and not self.allow_partial, warnings)

    def describe(self, summary, failed):
        parts = []
        count = summary['changed']
        if count:
            plural = '' if count == 1 else 's'
            parts.append('%s %s request%s for %d machine%s' % (
                'would send' if self.check_mode else 'sent', self.spec.verb, plural, count, plural))
        if summary['unchanged']:
            parts.append('%d %s' % (summary['unchanged'], self.spec.unchanged_text))
        if summary['pending'] and not self.check_mode:
            parts.append('%d still pending' % summary['pending'])
        if failed:
            parts.append('%d failed: %s' % (len(failed), '; '.join('%s (%s)' % (r.label, r.error) for r in failed)))
        return (', '.join(parts) or 'nothing to do') + '.'


def run_action_module(module, spec, orchestrator_class=None):
    """The whole of a machine-action module's run: validate, connect, orchestrate, exit or fail (an AtpModule).
    A module without the wait options (atp_machine_tag) runs with the defaults; ``orchestrator_class`` replaces
    the Orchestrator for a module that writes differently (bulk requests)."""
    params = module.params
    entries = validate_options(params)
    client = module.prepare()
    orchestrator = (orchestrator_class or Orchestrator)(
        spec, client, max_machines=params['max_machines'], check_mode=module.check_mode,
        wait=params.get('wait', False), wait_timeout=params.get('wait_timeout', DEFAULTS['wait_timeout']),
        poll_interval=params.get('poll_interval', DEFAULTS['poll_interval']), diff=module.diff_mode,
        allow_partial=params['allow_partial'])
    report = orchestrator.run(entries)
    for warning in report.warnings:
        module.warn(warning)
    if report.failed:
        module.fail_json(msg=report.msg, **report.result)
    module.exit_json(msg=report.msg, **report.result)
