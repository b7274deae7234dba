# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Finding machines by id or computer DNS name, and reading their machine actions, in batches.

Resolution rules (shared by every module that takes a ``machines`` list):

* an entry of 40 hexadecimal characters is a machine id (case-insensitive); anything else is a
  computer DNS name;
* names match case-insensitively (``casefold``) on the client: the server's ``eq`` may be
  case-sensitive, so the lookup asks for the given spelling and its lowercase form, and a name the
  quick lookup did not find is checked against the full machine list before it is called unknown.
  Known limit: on a case-sensitive server, a *second* record of a found name stored in a third
  spelling (neither the given one nor lowercase) is not seen by the quick lookup; lists above
  ``listing_threshold`` (one full listing) do not have this limit;
* a name without a dot also matches FQDNs that start with it (``ws-042`` matches
  ``ws-042.contoso.com``); exact and short-name matches are pooled, and more than one match is
  an error listing every candidate (id, lastSeen, healthStatus), never a guess;
* duplicates (the same id twice, a name and the id of the same machine) are merged.

``clean_entries`` refuses entries that cannot be a machine id or DNS name (quotes, spaces, OData
syntax), so a module fails on them before any request. Every value still reaches ``$filter`` through
``_odata`` (quotes doubled), so even a name containing a quote or OData syntax could only match itself. Lookups are
batched (``id eq 'a' or id eq 'b' ...``) by ``_odata.FilterBatcher``: each filter stays well under ASP.NET
OData's default limit of 100 nodes (12 comparisons at most) and 1,800 encoded characters, and a batch the API
still refuses for its size is split and read again. Lookups are paged; above ``listing_threshold`` entries one
paged listing of all machines (and of all actions of the types asked for) replaces the batches; the history of more
than 30 machines (``HISTORY_LISTING_BATCHES`` filtered requests) is read with that listing too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._odata import (
    MAX_FILTER_CHARS, MAX_FILTER_NODES, FilterBatcher)
from ansible_collections.defender.atp.plugins.module_utils._http.ids import is_machine_id, shown

MACHINES_PATH = '/api/machines'
ACTIONS_PATH = '/api/machineactions'
# Above this many entries (or machines), one paged listing is cheaper than batches of filters.
LISTING_THRESHOLD = 200
# A history read that needs more filtered requests than this (more than 30 machines at 10 a request) reads every
# action of the types asked for in one paged listing instead: it is polled while waiting, and the machineactions
# quota is 100 requests a minute (get-machineactions-collection.md).
HISTORY_LISTING_BATCHES = 3
# Characters of URL-encoded $filter per request (see _odata's filter batcher for why, and for the node budget).
FILTER_BUDGET = MAX_FILTER_CHARS
MAX_NAME_LENGTH = 255
# Besides letters and digits, what a computer DNS name (or a NetBIOS-style short name) holds. Quotes, spaces,
# parentheses and OData syntax cannot be part of a machine name, so such an entry is an input error, not a lookup.
NAME_PUNCTUATION = '-_.'


def name_key(name):
    """How names compare: case-folded, without surrounding spaces or a trailing dot."""
    return (name or '').strip().rstrip('.').casefold()


def carries_any_tag(machine, tags):
    """Whether ``machine`` carries at least one of ``tags`` in its ``machineTags``, compared case-insensitively as
    the portal and atp_machine_tag compare them (the API's own ``$filter`` may compare case-sensitively: its pages do
    not say, so the modules and the inventory select by tag here, on the controller). Anything but text in
    ``machineTags`` (null, numbers) matches nothing."""
    wanted = set(tag.lower() for tag in tags if isinstance(tag, str))
    values = (machine or {}).get('machineTags')
    if not wanted or not isinstance(values, list):
        return False
    return any(isinstance(value, str) and value.lower() in wanted for value in values)


class Entry(object):
    """One valid entry of a ``machines`` list."""

    def __init__(self, text):
        self.input = text
        self.kind = 'id' if is_machine_id(text) else 'name'
        self.key = text.lower() if self.kind == 'id' else name_key(text)

    def __repr__(self):
        return 'Entry(%r)' % self.input


def clean_entries(entries):
    """Split a ``machines`` list into ``(entries, invalid)``.

    ``entries`` are Entry objects in the given order with duplicates (same id, or same name
    case-insensitively) removed; ``invalid`` is a list of ``(position, value, reason)`` for entries
    that are not a non-empty string or cannot be a DNS name.
    """
    valid = []
    invalid = []
    seen = set()
    for position, value in enumerate(entries or []):
        if not isinstance(value, str):
            invalid.append((position, value, 'not a string (%s)' % type(value).__name__))
            continue
        text = value.strip()
        if not text or not text.rstrip('.'):
            invalid.append((position, value, 'empty'))
            continue
        if len(text) > MAX_NAME_LENGTH:
            invalid.append((position, value, 'longer than %d characters' % MAX_NAME_LENGTH))
            continue
        if any(ord(char) < 32 or ord(char) == 127 for char in text):
            invalid.append((position, value, 'contains control characters'))
            continue
        odd = sorted(set(char for char in text if not (char.isalnum() or char in NAME_PUNCTUATION)))
        if odd:
            invalid.append((position, value, 'not a machine id or computer DNS name: it holds %s (names hold letters, '
                                             'digits, -, _ and .)' % ' '.join(repr(char) for char in odd)))
            continue
        entry = Entry(text)
        if (entry.kind, entry.key) in seen:
            continue
        seen.add((entry.kind, entry.key))
        valid.append(entry)
    return valid, invalid


def machine_summary(machine):
    """The identifying facts of a machine entity, with snake_case keys."""
    machine = machine or {}
    return dict(machine_id=machine.get('id'), computer_dns_name=machine.get('computerDnsName'),
                health_status=machine.get('healthStatus'), last_seen=machine.get('lastSeen'),
                os_platform=machine.get('osPlatform'))


class NameIndex(object):
    """Name matching over a fixed pool of machines, indexed once: a list of 10,000 names against a fleet of 10,000
    machines costs 20,000 dictionary operations instead of 100 million name comparisons."""

    def __init__(self, machines):
        self.exact = {}
        self.by_first_label = {}
        for machine in machines:
            name = name_key(machine.get('computerDnsName'))
            if not name:
                continue
            self.exact.setdefault(name, []).append(machine)
            if '.' in name:
                self.by_first_label.setdefault(name.split('.', 1)[0], []).append(machine)

    def matches(self, entry_key):
        """Machines whose name matches ``entry_key`` exactly, or as a short name of their FQDN (a key without a dot).

        Returns ``(candidates, matched_by)``; ``matched_by`` is ``name`` when every candidate matched exactly,
        ``short_name`` otherwise.
        """
        exact = list(self.exact.get(entry_key, ()))
        short = [] if '.' in entry_key else list(self.by_first_label.get(entry_key, ()))
        candidates = _unique(exact + short)
        return candidates, ('short_name' if short and not exact else 'name')


def _unique(machines):
    seen = set()
    result = []
    for machine in machines:
        key = str(machine.get('id') or '').lower()
        if key in seen:
            continue
        seen.add(key)
        result.append(machine)
    return result


class Resolution(object):
    """What one entry (or several entries naming the same machine) resolved to."""

    def __init__(self, entry, machine=None, error=None, candidates=None, matched_by=None):
        self.entry = entry
        self.inputs = [entry.input]
        self.machine = machine
        self.error = error
        self.candidates = candidates or []
        self.matched_by = matched_by

    @property
    def input(self):
        return self.entry.input

    @property
    def machine_id(self):
        return (self.machine or {}).get('id')

    def __repr__(self):
        return 'Resolution(%r, %r, %r)' % (self.input, self.machine_id, self.error)


def describe_candidates(candidates):
    return '; '.join('%s (%s, lastSeen %s, healthStatus %s)' % (
        c.get('id'), c.get('computerDnsName'), c.get('lastSeen') or 'unknown', c.get('healthStatus') or 'unknown')
        for c in candidates)


class MachineDirectory(object):
    """Reads machines and their machine actions through an HttpClient, as few requests as it can."""

    def __init__(self, client, listing_threshold=LISTING_THRESHOLD, filter_budget=FILTER_BUDGET, max_nodes=MAX_FILTER_NODES):
        self.client = client
        self.listing_threshold = listing_threshold
        # One batcher for the run: a smaller batch size learnt from a refusal holds for every later read.
        self.batcher = FilterBatcher(client, max_nodes=max_nodes, max_chars=filter_budget)
        self._all_machines = None

    # -- machines -----------------------------------------------------------------------------

    def _list(self, path, filter_text):
        params = {'$filter': filter_text} if filter_text else None
        items, _truncated = self.client.list_all(path, params=params)
        return items

    def all_machines(self):
        if self._all_machines is None:
            self._all_machines = self._list(MACHINES_PATH, None)
        return self._all_machines

    def machines_by_ids(self, ids):
        """``{lowercase id: machine}`` for the given ids (asked for as given and in lowercase)."""
        wanted = _spellings(ids, lambda v: v.lower())
        found = {}
        for machine in self.batcher.read(MACHINES_PATH, [odata.eq('id', value) for value in wanted]):
            found[str(machine.get('id') or '').lower()] = machine
        return found

    def machines_by_names(self, names):
        """Machines whose name is one of ``names`` in the given or lowercase spelling, or starts with ``name.``
        for names without a dot. Matching is left to ``NameIndex``."""
        spellings = _spellings(names, lambda v: v.strip().rstrip('.').lower())
        found = self.batcher.read(MACHINES_PATH, [odata.eq('computerDnsName', value) for value in spellings])
        short = [s for s in spellings if '.' not in s]
        if short:
            found.extend(self.batcher.read(MACHINES_PATH, self._startswith_clauses(short)))
        return _unique(found)

    @staticmethod
    def _startswith_clauses(names):
        return [odata.startswith('computerDnsName', name + '.') for name in names]

    def resolve(self, entries):
        """Resolve Entry objects to machines; return one Resolution per distinct machine or failed entry, in order."""
        ids = [e.input.strip() for e in entries if e.kind == 'id']
        names = [e.input.strip() for e in entries if e.kind == 'name']
        if len(entries) > self.listing_threshold:
            pool = self.all_machines()
            by_id = dict((str(m.get('id') or '').lower(), m) for m in pool)
            name_pool = pool
        else:
            by_id = self.machines_by_ids(ids) if ids else {}
            name_pool = self.machines_by_names(names) if names else []
            quick = NameIndex(name_pool)
            if names and any(not quick.matches(e.key)[0] for e in entries if e.kind == 'name'):
                # Confirm unknown names against the full list: the server may compare case-sensitively.
                name_pool = _unique(name_pool + self.all_machines())
        index = NameIndex(name_pool)
        resolutions = []
        by_machine = {}
        for entry in entries:
            if entry.kind == 'id':
                machine = by_id.get(entry.key)
                if machine is None:
                    resolution = Resolution(entry, error='no machine has the id %s' % entry.input)
                else:
                    resolution = Resolution(entry, machine=machine, matched_by='id')
            else:
                candidates, matched_by = index.matches(entry.key)
                if not candidates:
                    resolution = Resolution(entry, error='no machine is named %s (names match case-insensitively; a name '
                                                         'without a dot also matches FQDNs starting with it)' % entry.input)
                elif len(candidates) > 1:
                    candidates = sorted(candidates, key=lambda m: str(m.get('lastSeen') or ''), reverse=True)
                    resolution = Resolution(entry, candidates=candidates, matched_by=matched_by, error=(
                        '%d machines match the name %s, so none was chosen: %s. Give the machine id of the one to act on.'
                        % (len(candidates), entry.input, describe_candidates(candidates))))
                elif not is_machine_id(candidates[0].get('id')):
                    # API data goes into URL paths (/api/machines/{id}/isolate): an id of another shape is never used.
                    resolution = Resolution(entry, error='the API returned the machine named %s with an id that is not 40 '
                                                         'hexadecimal characters (%s), so it is not acted on'
                                                         % (entry.input, shown(candidates[0].get('id'))))
                else:
                    resolution = Resolution(entry, machine=candidates[0], matched_by=matched_by)
            key = str(resolution.machine_id or '').lower()
            if key and key in by_machine:
                by_machine[key].inputs.append(entry.input)
                continue
            if key:
                by_machine[key] = resolution
            resolutions.append(resolution)
        return resolutions

    # -- machine actions ----------------------------------------------------------------------

    def machine_actions(self, machine_ids, action_types):
        """``{lowercase machine id: [actions of action_types]}`` for every id (an empty list when it has none)."""
        wanted = sorted(set(str(i).lower() for i in machine_ids if i))
        result = dict((machine_id, []) for machine_id in wanted)
        if not wanted:
            return result
        type_filter = odata.any_of('type', action_types)
        clauses = [odata.eq('machineId', value) for value in wanted]
        if len(wanted) > self.listing_threshold or len(self.batcher.plan(clauses, type_filter)) > HISTORY_LISTING_BATCHES:
            actions = self._list(ACTIONS_PATH, type_filter)
        else:
            # The type prefix may be dropped for a machine whose one clause is refused for size: types are checked here.
            actions = self.batcher.read(ACTIONS_PATH, clauses, prefix=type_filter, prefix_optional=True)
        types = set(t.lower() for t in action_types)
        seen = set()
        for action in actions:
            machine_id = str(action.get('machineId') or '').lower()
            action_id = action.get('id')
            if machine_id not in result or (action_id and action_id in seen) or str(action.get('type') or '').lower() not in types:
                continue
            seen.add(action_id)
            result[machine_id].append(action)
        return result


def _spellings(values, lower):
    """Each value as given and in its lowercase form, without duplicates, in order."""
    result = []
    seen = set()
    for value in values:
        for spelling in (value.strip().rstrip('.') if isinstance(value, str) else value, lower(value)):
            if spelling not in seen:
                seen.add(spelling)
                result.append(spelling)
    return result
