# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Sending machine actions (isolate, unisolate, ...) to many machines: concurrently, bounded, safely.

* A bounded pool of workers, each with its own HttpClient (``for_worker()``: its own
  ``requests.Session``; tokens and counters shared). A shared ``Pacer``, passed with each write,
  makes every worker pause when any one is throttled, so a 429 storm costs one wait, not one 429
  per worker; token requests and reads are never paced against the write quota.
* A write whose outcome is unknown (5xx, timeout, dropped connection: ``AtpWriteOutcomeUnknown``)
  is never re-sent blindly: the machine's actions are read again and the request is sent again
  only when no new action of that type appeared (at most ``max_resends`` times). After a timeout
  the server may still be working on the request, so the actions are read at doubling intervals
  for up to ``timeout`` seconds before that.
* ``ActiveRequestAlreadyExists`` is handed to ``reconcile`` (re-read, then classify) instead of
  failing the machine. So is a plain 400 for a Job with ``plain_duplicate_400`` (the package
  collection: collect-investigation-package.md answers a repeat with "400 Bad Request" and no code),
  but only to adopt an action found running: otherwise that 400 is the machine's error.
* A repeat may also be answered with the pending action itself (run-av-scan.md and others: it
  "returns pending machine action"): an answered action that is not new (an id known before sending,
  or another requestor comment than ours) is followed, never counted as created.
* A 404 ``ResourceNotFound`` for a machine that was just found is retried once after a short wait
  (the API is known to answer 404 intermittently).
* A 401, or a 403 that names a missing permission, means every other request would be refused too
  (``_errors.stops_the_rest``): the remaining machines are not sent, and each one says why. Any other
  403 (a user's device groups, ``DisallowedOperation``, ``DisabledFeature``) fails that machine alone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from concurrent.futures import ThreadPoolExecutor


from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpApiError, AtpError, AtpWriteOutcomeUnknown, not_sent, stops_the_rest)
from ansible_collections.defender.atp.plugins.module_utils._machines.history import EPOCH, created as created_at

ACTIVE_REQUEST_CODE = 'ActiveRequestAlreadyExists'
DEFAULT_WORKERS = 10
NOT_FOUND_RETRY_DELAY = 2.0
# After a timeout or a dropped connection the server may still be working on the request: let it finish before
# reading the machine's actions again (a 5xx was a complete answer, so it needs no pause).
UNKNOWN_OUTCOME_SETTLE = 1.0

# What ``reconcile`` decides after ActiveRequestAlreadyExists: take the action found, send again, or fail the machine.
ADOPT = 'adopt'
RESEND = 'resend'
FAIL = 'fail'


def is_active_request_error(error):
    if not isinstance(error, AtpApiError):
        return False
    if error.code == ACTIVE_REQUEST_CODE:
        return True
    text = (error.api_message or '').lower()
    return error.status == 400 and ('already in progress' in text or 'pending machine action' in text)


class Job(object):
    """One write: ``path`` and ``body`` of the POST for ``machine_id``, the action type it creates, and the
    ids of the machine's actions known before sending (to recognise a new one)."""

    def __init__(self, machine_id, path, body, action_type, known_action_ids=(), label=None, plain_duplicate_400=False):
        self.machine_id = machine_id
        self.path = path
        self.body = body
        self.action_type = action_type
        self.known_action_ids = set(str(i).lower() for i in known_action_ids if i)
        self.label = label or machine_id
        self.plain_duplicate_400 = plain_duplicate_400

    def existing(self, action):
        """Why an answered action is not the one this request created (None when it is): an id known before sending,
        or a requestor comment other than ours (a repeat "returns pending machine action", run-av-scan.md)."""
        if str(action.get('id') or '').lower() in self.known_action_ids:
            return 'it was already known'
        theirs, ours = action.get('requestorComment'), (self.body or {}).get('Comment')
        if isinstance(theirs, str) and isinstance(ours, str) and theirs.strip() != ours.strip():
            return 'its comment is not this request\'s'
        return None


class Outcome(object):
    """What happened to one Job: the action created (or adopted), or an error.

    ``created`` is True when this run created the action (a change); False when an existing action
    was adopted after ``ActiveRequestAlreadyExists`` (or the API handed back an existing one).
    ``actions`` holds the machine's actions when they were read again on the way.
    """

    def __init__(self, job):
        self.job = job
        self.action = None
        self.created = False
        self.error = None
        self.attempts = 0
        self.notes = []
        self.actions = None
        self.sent = False


class ActionSender(object):
    """Sends Jobs concurrently.

    ``read_actions(machine_id)`` returns the machine's current actions (any order).
    ``reconcile(job, actions)`` decides after ``ActiveRequestAlreadyExists``: ``(ADOPT, action)``,
    ``(RESEND, None)`` or ``(FAIL, message)``.
    """

    def __init__(self, client, read_actions, reconcile, workers=DEFAULT_WORKERS, max_resends=None,
                 not_found_delay=NOT_FOUND_RETRY_DELAY, settle_delay=UNKNOWN_OUTCOME_SETTLE, pacer=None, sleep=time.sleep):
        self.client = client
        self.read_actions = read_actions
        self.reconcile = reconcile
        self.workers = max(1, int(workers))
        if max_resends is None:
            max_resends = getattr(getattr(client, 'settings', None), 'max_retries', 3)
        self.max_resends = max(0, int(max_resends))
        self.not_found_delay = not_found_delay
        self.settle_delay = settle_delay
        self.pacer = pacer
        self.sleep = sleep
        self._abort = None
        self._abort_lock = threading.Lock()
        self._local = threading.local()
        self._worker_clients = []

    def send_all(self, jobs):
        """Return ``{machine_id: Outcome}`` for every job; never raises for one machine's failure."""
        jobs = list(jobs)
        if not jobs:
            return {}
        try:
            if len(jobs) == 1 or self.workers == 1:
                return dict((job.machine_id, self._run(job)) for job in jobs)
            with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
                outcomes = list(pool.map(self._run, jobs))
        finally:
            for client in self._worker_clients:
                client.close()
            self._worker_clients = []
        return dict((outcome.job.machine_id, outcome) for outcome in outcomes)

    def worker_client(self):
        """The calling thread's own client (created on first use): requests does not promise a shared Session is
        thread-safe. A client without ``for_worker`` (a test double) is used as it is."""
        client = getattr(self._local, 'client', None)
        if client is None:
            if hasattr(self.client, 'for_worker'):
                client = self.client.for_worker()
                with self._abort_lock:
                    self._worker_clients.append(client)
            else:
                client = self.client
            self._local.client = client
        return client

    def _run(self, job):
        outcome = Outcome(job)
        try:
            self._send(job, outcome)
        except AtpError as error:
            outcome.error = error.message
        except Exception as error:  # pylint: disable=broad-except
            outcome.error = 'unexpected error: %s: %s' % (type(error).__name__, error)
        return outcome

    def _set_abort(self, error):
        with self._abort_lock:
            if self._abort is None:
                self._abort = error.message

    def _send(self, job, outcome):
        resends = 0
        not_found_retried = False
        reconciled = 0
        while True:
            if self._abort:
                outcome.error = not_sent('request of this task', self._abort)
                return
            if self.pacer is not None:
                self.pacer.acquire()
            outcome.attempts += 1
            try:
                action = self.worker_client().post(job.path, job.body, expected=(200, 201), pacer=self.pacer,
                                                   what='%s of machine %s' % (job.action_type, job.label))
            except AtpWriteOutcomeUnknown as error:
                outcome.sent = True
                actions, new = self._look_for_applied(job, error)
                outcome.actions = actions
                if new is not None:
                    outcome.notes.append('%s; the action was found applied when the machine\'s actions were read again'
                                         % error.message)
                    outcome.action = new
                    outcome.created = True
                    return
                if resends >= self.max_resends:
                    outcome.error = ('%s; no new action appeared when the machine\'s actions were read again, and the '
                                     'request was already sent %d time(s)' % (error.message, outcome.attempts))
                    return
                resends += 1
                outcome.notes.append('%s; no new action appeared, so it was sent again' % error.message)
                continue
            except AtpApiError as error:
                if job.plain_duplicate_400 and error.status == 400 and error.code in (None, 'BadRequest') \
                        and not is_active_request_error(error):
                    self._adopt_after_plain_400(job, outcome, error)
                    return
                if is_active_request_error(error) and reconciled < 2:
                    reconciled += 1
                    actions = self.read_actions(job.machine_id)
                    outcome.actions = actions
                    decision, value = self.reconcile(job, actions)
                    if decision == ADOPT:
                        outcome.action = value
                        outcome.created = bool(value) and str(value.get('id') or '').lower() not in job.known_action_ids \
                            and outcome.sent
                        outcome.notes.append('the API answered %s; the machine\'s actions were read again and the '
                                             'existing action was taken' % (error.code or 'that an action is already in progress'))
                        return
                    if decision == FAIL:
                        outcome.error = value
                        return
                    continue
                if error.status == 404 and not not_found_retried:
                    not_found_retried = True
                    outcome.notes.append('the API answered 404 for a machine that was just found; retried once')
                    self.sleep(self.not_found_delay)
                    continue
                if stops_the_rest(error):
                    self._set_abort(error)
                outcome.error = error.message
                return
            outcome.sent = True
            if not isinstance(action, dict) or not action.get('id'):
                outcome.error = 'the API accepted the %s request but returned no machine action' % job.action_type
                return
            outcome.action = action
            # A repeat may be answered with the existing pending action instead of a new one (run-av-scan.md,
            # restrict-code-execution.md, unisolate-machine.md: "returns pending machine action").
            existing = job.existing(action)
            outcome.created = existing is None
            if existing:
                outcome.notes.append('the API answered with an existing pending action (%s) instead of creating one; '
                                     'it was taken' % existing)
            return

    def _adopt_after_plain_400(self, job, outcome, error):
        """collect-investigation-package.md: "If a collection is already running, this returns 400 Bad Request". The
        actions are read again: a running one is adopted, else the 400 is the machine's error (never sent again)."""
        actions = self.read_actions(job.machine_id)
        outcome.actions = actions
        decision, value = self.reconcile(job, actions)
        if decision == ADOPT and value:
            outcome.action = value
            outcome.created = False
            outcome.notes.append('the API answered %s; collect-investigation-package.md answers a running collection '
                                 'so, and the running one was taken' % (error.code or 'HTTP 400'))
            return
        outcome.error = error.message if decision != FAIL else value

    def _look_for_applied(self, job, error):
        """Read the machine's actions after a write of unknown outcome; return ``(actions, the new action or None)``.

        A 5xx was a complete answer: one read. After a dropped connection the server gets ``settle_delay`` to finish.
        After a timeout the server had the request and may still be working on it: the actions are read again at
        doubling intervals until the new action shows, or until as long as the client waited for the answer
        (``timeout``) has passed again, before the caller may send the request once more.
        """
        if error.details.get('status') is not None:
            actions = self.read_actions(job.machine_id)
            return actions, self._new_action(job, actions)
        window = self.settle_delay
        if error.details.get('timed_out'):
            window = max(window, float(getattr(getattr(self.client, 'settings', None), 'timeout', 0) or 0))
        pause = self.settle_delay
        waited = 0.0
        while True:
            if pause > 0:
                self.sleep(pause)
                waited += pause
            actions = self.read_actions(job.machine_id)
            new = self._new_action(job, actions)
            if new is not None or pause <= 0 or waited >= window:
                return actions, new
            pause = min(pause * 2, window - waited)

    def _new_action(self, job, actions):
        wanted = job.action_type.lower()
        fresh = [a for a in actions or [] if str(a.get('type') or '').lower() == wanted
                 and str(a.get('id') or '').lower() not in job.known_action_ids]
        if not fresh:
            return None
        return sorted(fresh, key=lambda a: (created_at(a) or EPOCH, str(a.get('id'))))[-1]
