# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Machine tags as an ``ActionSpec`` (what atp_machine_tag decides) and the orchestrator that writes them.

The state is the machine entity's ``machineTags``, already read when the machines were resolved, so a
tag task reads nothing more before writing. Tags compare case-insensitively (as the portal does): only
missing tags are added (in the spelling given), only present ones removed, each machine in its own
spelling. The API pages do not say the service compares tags case-insensitively, so a removal is sent
in the exact spelling the machine holds, grouped by that spelling (a machine holding ``IR-1`` and one
holding ``ir-1`` are two requests).

Writes: one spelling for many machines is one ``POST /api/machines/AddOrRemoveTagForMultipleMachines``
per 500 machines (add-or-remove-multiple-machine-tags.md: it answers "the updated machines"); a
spelling only one machine needs is one ``POST /api/machines/{id}/tags``, which answers the updated
machine. Adding a tag that is there, or removing one that is not, changes nothing, so both writes are
safe to repeat after an answer that never came (they are sent as idempotent requests).

``tags_after`` is what the server holds afterwards: the newest answer, or the machines read again (one
batched read) when an answer did not list them; never the prediction (check mode excepted). A change the
answer does not show is an error for that machine; one a read-back does not show yet is a warning.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools

from ansible_collections.defender.atp.plugins.module_utils._errors import (
    BULK, STOPPED, AtpApiError, AtpError, AtpOptionError, bulk_or_each, not_sent, stops_the_rest)
from ansible_collections.defender.atp.plugins.module_utils._http.ids import machine_path, shown
from ansible_collections.defender.atp.plugins.module_utils._machines.decisions import NOOP, SEND, Decision
from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import ActionSpec, Orchestrator

PRESENT = 'present'
ABSENT = 'absent'
MAX_TAG_LENGTH = 200
BULK_PATH = '/api/machines/AddOrRemoveTagForMultipleMachines'
BULK_MAX_MACHINES = 500  # documented limit of one bulk call
BULK_MIN_MACHINES = 2  # from two machines needing the same tag, one bulk call replaces one call each


def validate_tags(tags):
    """The tags without case-insensitive duplicates; AtpOptionError naming ``tags`` for anything unusable."""
    if not tags:
        raise AtpOptionError('tags is empty: give at least one tag.')
    cleaned = []
    seen = set()
    for position, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag.strip():
            raise AtpOptionError('tags item %d is empty: every tag needs at least one character.' % (position + 1))
        if len(tag) > MAX_TAG_LENGTH:
            raise AtpOptionError('tags item %d is %d characters long; Defender accepts tags of at most %d characters.'
                                 % (position + 1, len(tag), MAX_TAG_LENGTH))
        if tag.lower() not in seen:
            seen.add(tag.lower())
            cleaned.append(tag)
    return cleaned


def machine_tags(machine):
    """The machine's tags as a list of strings (anything else the API returns there is ignored)."""
    tags = (machine or {}).get('machineTags')
    if not isinstance(tags, list):
        return []
    return [t for t in tags if isinstance(t, str)]


def apply_change(tags, action, value):
    """``tags`` after one Add (unless present in any spelling) or Remove (of that exact spelling): the prediction of
    check mode and of the plan, never what is reported after a write."""
    if action == 'Add':
        lowered = value.lower()
        return tags if any(t.lower() == lowered for t in tags) else tags + [value]
    return [t for t in tags if t != value]


class TagSpec(ActionSpec):
    verb = 'tag'
    refusal_text = 'have their tags changed'

    def __init__(self, tags, state=PRESENT):
        self.tags = list(tags)
        self.state = state
        self.unchanged_text = 'already tagged as asked' if state == PRESENT else 'already without those tags'

    def read_actions(self, directory, machine_ids):
        return {}  # the tags are in the machine entities read to resolve the machines

    def changes(self, current):
        """``[(Action, Value)]`` the machine needs."""
        lowered = set(t.lower() for t in current)
        if self.state == PRESENT:
            return [('Add', t) for t in self.tags if t.lower() not in lowered]
        wanted = set(t.lower() for t in self.tags)
        return [('Remove', t) for t in current if t.lower() in wanted]

    def decide(self, machine, actions):
        current = machine_tags(machine)
        changes = self.changes(current)
        fields = dict(tags_before=current, changes=changes)
        if not changes:
            return Decision(NOOP, fields=fields, reason='no tag to change')
        return Decision(SEND, fields=fields)

    def request(self, result):
        raise NotImplementedError('tags are written by TagOrchestrator')

    def planned(self, result):
        after = list(result.fields['tags_before'])
        for action, value in result.fields['changes']:
            after = apply_change(after, action, value)
        return Decision(SEND, fields=dict(tags_after=after))

    def is_pending(self, result):
        return False

    def result_fields(self, result):
        before = result.fields.get('tags_before')
        after = result.fields.get('tags_after', before)
        return dict(tags_before=before, tags_after=after)

    def diff_value(self, result, when):
        return self.result_fields(result)['tags_before' if when == 'before' else 'tags_after']


def answered_machines(answer):
    """``{lowercase id: machine}`` from a bulk answer: "the updated machines in the response body"
    (add-or-remove-multiple-machine-tags.md), as ``{"value": [...]}`` or a bare list; machines without a
    ``machineTags`` list are left out (their tags are read again)."""
    items = answer.get('value') if isinstance(answer, dict) else answer
    found = {}
    for machine in items if isinstance(items, list) else []:
        if isinstance(machine, dict) and isinstance(machine.get('machineTags'), list) and machine.get('id'):
            found[str(machine['id']).lower()] = machine
    return found


def unapplied(tags, changes):
    """The ``(Action, Value)`` of ``changes`` that ``tags`` do not show: an added tag missing (in any spelling: the
    service may keep its own), a removed spelling still there."""
    lowered = set(t.lower() for t in tags)
    return [(action, value) for action, value in changes
            if (action == 'Add' and value.lower() not in lowered) or (action == 'Remove' and value in tags)]


class TagOrchestrator(Orchestrator):
    """The orchestrator with tag writes: grouped by the exact spelling sent, in bulk where several machines need the
    same one; ``tags_after`` is what the server holds afterwards (its answer, else the machine read again)."""

    def _send(self, to_send):
        for result in to_send:
            result.fields['applied'] = []
            result.fields['answered'] = None
        groups = []
        index = {}
        for result in to_send:
            for action, value in result.fields['changes']:
                # The exact spelling: a machine holding IR-1 and one holding ir-1 are two requests, each removing its
                # own (the service is not documented to compare tags case-insensitively).
                key = (action, value)
                if key not in index:
                    index[key] = len(groups)
                    groups.append((action, value, []))
                groups[index[key]][2].append(result)
        refused = None
        for action, value, results in groups:
            if refused:
                for result in results:
                    self._fail(result, not_sent('request of this task', refused))
                continue
            singles = results
            if len(results) >= BULK_MIN_MACHINES:
                singles = []
                for start in range(0, len(results), BULK_MAX_MACHINES):
                    chunk = results[start:start + BULK_MAX_MACHINES]
                    try:
                        # One bad machine may refuse the whole call (a 404, or a 403 for its device group): each
                        # machine is then tried on its own, so the others still get the tag and the bad one is named.
                        how, answer = bulk_or_each(functools.partial(self._bulk, action, value, chunk),
                                                   each=functools.partial(singles.extend, chunk),
                                                   fall_back_on=AtpApiError)
                    except AtpError as error:
                        for result in chunk:
                            self._fail(result, error.message)
                        continue
                    if how == STOPPED:
                        refused = answer.message
                        for result in chunk:
                            self._fail(result, answer.message)
                        break
                    if how == BULK:
                        answered = answered_machines(answer)
                        for result in chunk:
                            self._applied(result, action, value, answered.get(result.machine_id))
            for result in singles:
                if refused:
                    self._fail(result, not_sent('request of this task', refused))
                    continue
                try:
                    machine = self.client.post(machine_path(result.machine['id'], 'tags'),
                                               {'Value': value, 'Action': action}, expected=(200, 201, 204),
                                               idempotent=True, what='%s of tag %r on machine %s' % (
                                                   action, value, result.label))
                except AtpError as error:
                    if stops_the_rest(error):
                        refused = error.message
                    self._fail(result, error.message)
                    continue
                answered = answered_machines([machine]).get(result.machine_id) if isinstance(machine, dict) else None
                self._applied(result, action, value, answered)
        self._confirm(to_send)
        for result in to_send:
            result.changed = bool(result.fields.pop('applied'))

    def _confirm(self, to_send):
        """Set each machine's ``tags_after`` from what the server holds: the newest answer when it came after the last
        write, else one batched read of those machines; a change the server does not show is an error (an answer) or
        a warning (a read, which may lag)."""
        unanswered = [r for r in to_send if r.fields['applied'] and r.fields['answered'] is None]
        read = {}
        if unanswered:
            try:
                read = self.directory.machines_by_ids([r.machine['id'] for r in unanswered])
            except AtpError as error:
                for result in unanswered:
                    result.warnings.append('the tags could not be read back after the write (%s), so tags_after is '
                                           'null' % error.message)
        for result in to_send:
            answered = result.fields.pop('answered')
            applied = result.fields['applied']
            if not applied:
                result.fields['tags_after'] = list(result.fields['tags_before'])  # nothing was changed
                continue
            machine = read.get(result.machine_id)
            if answered is not None:
                tags, source = machine_tags(answered), 'as the API answered'
            elif isinstance(machine, dict) and isinstance(machine.get('machineTags'), list):
                tags, source = machine_tags(machine), 'as read again after the write'
            else:
                result.fields['tags_after'] = None
                continue
            result.fields['tags_after'] = tags
            missing = unapplied(tags, applied)
            if not missing:
                continue
            text = '; '.join('%s tag %s' % ('still holds' if action == 'Remove' else 'does not hold',
                                            shown(value)) for action, value in missing)
            if answered is not None:
                self._fail(result, 'the API accepted the change, but the machine, %s, %s' % (source, text))
            else:
                result.warnings.append('the machine, %s, %s (a change can take a while to show in the device list)'
                                       % (source, text))

    def _bulk(self, action, value, chunk):
        body = {'Value': value, 'Action': action, 'MachineIds': [r.machine['id'] for r in chunk]}
        return self.client.post(BULK_PATH, body, expected=(200, 201, 204), idempotent=True,
                                what='%s of tag %r on %d machines' % (action, value, len(chunk)))

    @staticmethod
    def _applied(result, action, value, machine):
        result.fields['applied'].append((action, value))
        # The newest answer describes the machine after every earlier write too; a write without one makes any
        # earlier answer stale.
        result.fields['answered'] = machine

    @staticmethod
    def _fail(result, message):
        if not result.error:
            result.error = message
