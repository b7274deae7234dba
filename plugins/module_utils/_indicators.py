# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Custom indicators (IoCs) as code: validate locally, read the tenant, plan, then import and batch-delete.

Indicators are keyed on (type, value). Values are compared in a canonical form: hashes, thumbprints
and domain names case-insensitively, IP addresses in their canonical text, URLs with the scheme and
host lower-cased and the rest as written (paths are case-sensitive). The API: ``GET /api/indicators``
($top/$skip, at most 10,000 a page), ``POST /api/indicators/import`` ({"Indicators": [..]}, at most
500), ``POST /api/indicators/BatchDelete`` ({"IndicatorIds": [..]}, at most 500, 204), and
``DELETE /api/indicators/{id}`` (204). A tenant holds at most 15,000 active indicators.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import functools
import ipaddress
import re

from urllib.parse import quote

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    BULK, STOPPED, AtpApiError, AtpError, AtpOptionError, AtpWriteOutcomeUnknown, bulk_or_each, not_sent,
    stops_the_rest)
from ansible_collections.defender.atp.plugins.module_utils._time import format_time, parse_api_time

INDICATORS_PATH = '/api/indicators'
IMPORT_PATH = '/api/indicators/import'
BATCH_DELETE_PATH = '/api/indicators/BatchDelete'
TYPES = ('FileSha1', 'FileSha256', 'FileMd5', 'CertificateThumbprint', 'IpAddress', 'DomainName', 'Url')
ACTIONS = ('Alert', 'Warn', 'Block', 'Audit', 'BlockAndRemediate', 'AlertAndBlock', 'Allowed')
# ti-indicator.md: "The prior response actions (AlertAndBlock, and Alert) will be supported until January 2022. After
# this date, all customers must be use one of the action types listed" (Allowed, Audit, Block, BlockAndRemediate,
# Warn). No page says what the service now does with them or maps them to: refused before any request, naming the
# documented action to use instead. They stay in ACTIONS, the enum the API may still report on older indicators.
RETIRED_ACTIONS = {'Alert': 'Audit (it raises an alert, generate_alert true)',
                   'AlertAndBlock': 'Block or BlockAndRemediate (with generate_alert true for an alert)'}
SEVERITIES = ('Informational', 'Low', 'Medium', 'High')
HEX_LENGTHS = {'FileSha1': 40, 'FileSha256': 64, 'FileMd5': 32, 'CertificateThumbprint': 40}
IMPORT_BATCH = 500  # import-ti-indicators.md: "Maximum batch size for one API call is 500"
DELETE_BATCH = 500  # batch-delete-ti-indicators.md: "Batch size limit of up to 500"
TENANT_LIMIT = 15000  # post-ti-indicator.md / import-ti-indicators.md: 15,000 active indicators per tenant
DEFAULT_APPLICATION = 'defender.atp'
MAX_VALUE_LENGTH = 2048
# Option name -> API field for the fields a user manages (application is module-wide).
FIELD_MAP = (('action', 'action'), ('title', 'title'), ('description', 'description'), ('severity', 'severity'),
             ('expiration', 'expirationTime'), ('generate_alert', 'generateAlert'),
             ('recommended_actions', 'recommendedActions'), ('rbac_group_names', 'rbacGroupNames'))
ENTRY_KEYS = frozenset(['value', 'type'] + [option for option, _api in FIELD_MAP])

_HEX_RE = re.compile(r'^[0-9A-Fa-f]+$')
_BLANK_RE = re.compile(r'[\x00-\x20\x7f]')
_LABEL_RE = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')
_URL_RE = re.compile(r'^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#\s\[\]@]+)'
                     r'(?::(?P<port>[0-9]{1,5}))?(?P<rest>[/?#][^\s]*)?$')


class IndicatorError(ValueError):
    """A value that cannot be an indicator of its type (the message says why)."""


# -- values ---------------------------------------------------------------------------------------------------------------

def _domain(text):
    name = text.rstrip('.')
    if not name or len(name) > 253:
        raise IndicatorError('a domain name has 1 to 253 characters')
    labels = name.split('.')
    if len(labels) < 2:
        raise IndicatorError('a domain name has at least two labels, such as contoso.com')
    for label in labels:
        if not _LABEL_RE.match(label):
            raise IndicatorError('label %r is not valid (letters, digits and -, 1 to 63 characters, no - at either end)'
                                 % label)
    if labels[-1].isdigit():
        raise IndicatorError('the last label is numeric; for an IP address use type IpAddress')
    return name.lower()


def canonical_value(indicator_type, value):
    """The value in the form it is compared in; raises IndicatorError when it is not valid for its type."""
    if not isinstance(value, str):
        raise IndicatorError('the value must be a string, got %s' % type(value).__name__)
    text = value.strip()
    if not text:
        raise IndicatorError('the value is empty')
    if len(text) > MAX_VALUE_LENGTH:
        raise IndicatorError('the value is longer than %d characters' % MAX_VALUE_LENGTH)
    if _BLANK_RE.search(text):
        raise IndicatorError('the value holds spaces or control characters')
    if indicator_type in HEX_LENGTHS:
        length = HEX_LENGTHS[indicator_type]
        if len(text) != length or not _HEX_RE.match(text):
            raise IndicatorError('a %s is %d hexadecimal characters, got %d character%s%s' % (
                indicator_type, length, len(text), '' if len(text) == 1 else 's',
                '' if _HEX_RE.match(text) else ' that are not all hexadecimal'))
        return text.lower()
    if indicator_type == 'IpAddress':
        if '/' in text:
            raise IndicatorError('CIDR ranges are not supported by Defender; give single addresses')
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise IndicatorError('not an IPv4 or IPv6 address')
    if indicator_type == 'DomainName':
        if '://' in text or '/' in text:
            raise IndicatorError('a domain name has no scheme or path; for a URL use type Url')
        return _domain(text)
    if indicator_type == 'Url':
        match = _URL_RE.match(text)
        if not match:
            raise IndicatorError('not a URL such as https://contoso.com/path')
        scheme = (match.group('scheme') or '').lower()
        if scheme and scheme not in ('http', 'https'):
            raise IndicatorError('only http and https URLs can be indicators, not %s' % scheme)
        host = match.group('host')
        if host.startswith('['):
            try:
                host = '[%s]' % ipaddress.IPv6Address(host[1:-1])
            except ValueError:
                raise IndicatorError('the host %s is not an IPv6 address' % host)
        else:
            try:
                host = str(ipaddress.IPv4Address(host))
            except ValueError:
                try:
                    host = _domain(host)
                except IndicatorError as exc:
                    raise IndicatorError('the host of the URL is not valid: %s' % exc)
        port = match.group('port')
        if port is not None and not 0 < int(port) < 65536:
            raise IndicatorError('the port %s is out of range' % port)
        return '%s%s%s%s' % (scheme + '://' if scheme else '', host, ':' + port if port else '', match.group('rest') or '')
    raise IndicatorError('unknown indicator type %s' % indicator_type)


def key_of(indicator_type, value):
    return (indicator_type, canonical_value(indicator_type, value))


def label(key):
    return '%s:%s' % key


def api_key(indicator):
    """The key of an indicator read from the API, or None when its type or value is not one we know.

    Values written by other tools may not pass our stricter validation; they still get a key (the
    lower-cased text for hashes and domains, the text otherwise) so they are matched and never duplicated.
    """
    indicator_type = indicator.get('indicatorType')
    value = indicator.get('indicatorValue')
    if indicator_type not in TYPES or not isinstance(value, str):
        return None
    try:
        return key_of(indicator_type, value)
    except IndicatorError:
        lowered = indicator_type in HEX_LENGTHS or indicator_type == 'DomainName'
        return (indicator_type, value.strip().lower() if lowered else value.strip())


# -- desired indicators ---------------------------------------------------------------------------------------------------

class Desired(object):
    """One validated entry of ``indicators``: its key and the API body it stands for."""

    def __init__(self, position, key, body, expired=None):
        self.position = position
        self.key = key
        self.body = body
        # When its expiration is past: the time (get-ti-indicators-collection.md lists active indicators only, so an
        # expired indicator looks missing on every run; it is never sent). None otherwise.
        self.expired = expired

    @property
    def type(self):
        return self.key[0]

    @property
    def value(self):
        return self.body['indicatorValue']


def validate_entries(entries, state, application, now=None):
    """Check every entry before any request; returns ``(desired, warnings)``. Raises AtpOptionError naming each problem."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems = []
    desired = []
    warnings = []
    seen = {}
    if not isinstance(entries, list):
        raise AtpOptionError('indicators must be a list of indicators ({value, type, action, title, ...}).')
    for position, entry in enumerate(entries):
        where = 'indicators[%d]' % position
        if not isinstance(entry, dict):
            problems.append('%s is not a dictionary' % where)
            continue
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            problems.append('%s has unknown keys %s (known: %s)' % (where, ', '.join(unknown), ', '.join(sorted(ENTRY_KEYS))))
            continue
        indicator_type = entry.get('type')
        if indicator_type not in TYPES:
            problems.append('%s.type is %r; use one of %s' % (where, indicator_type, ', '.join(TYPES)))
            continue
        try:
            key = key_of(indicator_type, entry.get('value'))
        except IndicatorError as exc:
            problems.append('%s.value %r is not a valid %s: %s' % (where, entry.get('value'), indicator_type, exc))
            continue
        if key in seen:
            problems.append('%s repeats indicators[%d] (%s)' % (where, seen[key], label(key)))
            continue
        seen[key] = position
        body = {'indicatorValue': entry['value'].strip(), 'indicatorType': indicator_type}
        expired = None
        if state == 'present':
            body, entry_problems = _present_body(where, entry, body, application)
            problems.extend(entry_problems)
            expires = parse_api_time(body.get('expirationTime'))
            if expires is not None and expires <= now:
                expired = expires
                warnings.append('%s (%s) expired at %s: Defender lists active indicators only, so it is not sent (it '
                                'would be sent again on every run); remove it from the list'
                                % (where, label(key), format_time(expires, fraction=False)))
        desired.append(Desired(position, key, body, expired))
    if problems:
        shown = problems[:25]
        more = ' (and %d more)' % (len(problems) - len(shown)) if len(problems) > len(shown) else ''
        raise AtpOptionError('indicators has %d invalid entr%s, nothing was sent: %s%s.' % (
            len(problems), 'y' if len(problems) == 1 else 'ies', '; '.join(shown), more))
    return desired, warnings


def _present_body(where, entry, body, application):
    problems = []
    action = entry.get('action')
    if action in RETIRED_ACTIONS:
        problems.append('%s.action %s was supported until January 2022 (ti-indicator.md); use %s'
                        % (where, action, RETIRED_ACTIONS[action]))
    elif action not in ACTIONS:
        problems.append('%s.action is %r; use one of %s'
                        % (where, action, ', '.join(a for a in ACTIONS if a not in RETIRED_ACTIONS)))
    title = entry.get('title')
    if not isinstance(title, str) or not title.strip():
        problems.append('%s.title is required with state=present (the API requires a title)' % where)
    description = entry.get('description')
    if description is None:
        description = title  # the API requires a description; the title stands in when none is given
    elif not isinstance(description, str) or not description.strip():
        problems.append('%s.description is empty; give a text or leave it out to use the title' % where)
    severity = entry.get('severity')
    if severity is not None and severity not in SEVERITIES:
        problems.append('%s.severity is %r; use one of %s' % (where, severity, ', '.join(SEVERITIES)))
    generate_alert = entry.get('generate_alert')
    if generate_alert is not None and not isinstance(generate_alert, bool):
        problems.append('%s.generate_alert must be true or false' % where)
    if action == 'Audit':
        if generate_alert is False:
            problems.append('%s: action Audit requires generate_alert true (post-ti-indicator.md)' % where)
        generate_alert = True
    expiration = entry.get('expiration')
    expiration_text = None
    if expiration is not None:
        parsed = parse_api_time(expiration) if isinstance(expiration, str) else None
        if parsed is None:
            problems.append('%s.expiration %r is not an ISO 8601 time such as 2026-12-31 or 2026-12-31T23:59:59Z'
                            % (where, expiration))
        else:
            expiration_text = format_time(parsed, fraction=False)  # whole seconds, as the API writes them
    recommended = entry.get('recommended_actions')
    if recommended is not None and not isinstance(recommended, str):
        problems.append('%s.recommended_actions must be a string' % where)
    groups = entry.get('rbac_group_names')
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups)):
        problems.append('%s.rbac_group_names must be a list of device group names' % where)
    if problems:
        return body, problems
    body.update({'action': action, 'title': title.strip(), 'description': description.strip(),
                 'application': application})
    if severity is not None:
        body['severity'] = severity
    if expiration_text is not None:
        body['expirationTime'] = expiration_text
    if generate_alert is not None:
        body['generateAlert'] = generate_alert
    if recommended is not None:
        body['recommendedActions'] = recommended
    if groups is not None:
        body['rbacGroupNames'] = [g.strip() for g in groups]
    return body, problems


# -- comparison ------------------------------------------------------------------------------------------------------------

def differences(body, existing):
    """The API fields of ``body`` that ``existing`` does not hold (fields left out of the entry are not compared)."""
    changed = []
    for _option, field in FIELD_MAP:
        if field not in body:
            continue
        if field not in existing:
            # The listing did not report this field at all (Microsoft's own list example has no generateAlert):
            # nothing to compare with, and re-submitting on every run would never converge.
            continue
        wanted, current = body[field], existing.get(field)
        if field == 'expirationTime':
            current_time = parse_api_time(current) if current else None
            same = current_time is not None and format_time(current_time, fraction=False) == wanted
        elif field == 'rbacGroupNames':
            if isinstance(current, str):
                current = current.split(',')  # the doc calls it a comma-separated string
            same = sorted(g.strip().lower() for g in (current or [])) == sorted(g.lower() for g in wanted)
        elif field == 'generateAlert':
            same = current is not None and str(current).lower() == str(wanted).lower()
        elif field == 'title' or field == 'description' or field == 'recommendedActions':
            same = (current or '').strip() == wanted.strip()
        else:
            same = (current or '').lower() == str(wanted).lower()
        if not same:
            changed.append(field)
    return changed


def view(indicator):
    """What before/after show of an indicator."""
    if indicator is None:
        return None
    fields = ['id', 'indicatorType', 'indicatorValue', 'application'] + [api for _option, api in FIELD_MAP]
    return dict((field, indicator.get(field)) for field in fields if field in indicator)


class Plan(object):
    def __init__(self):
        self.create = []     # Desired
        self.update = []     # (Desired, existing, changed fields)
        self.unchanged = []  # (Desired, existing)
        self.delete = []     # existing indicators
        self.expired = []    # (Desired, existing or None): expiration past, never sent
        self.warnings = []


def index_existing(indicators, application):
    """``{key: indicator}``; when several share a key, the one of ``application`` (then the newest id) wins."""
    by_key = {}
    for indicator in indicators:
        if not isinstance(indicator, dict):
            continue
        key = api_key(indicator)
        if key is None:
            continue
        current = by_key.get(key)
        if current is None or _preference(indicator, application) > _preference(current, application):
            by_key[key] = indicator
    return by_key


def _preference(indicator, application):
    mine = (indicator.get('application') or '') == application
    try:
        number = int(indicator.get('id'))
    except (TypeError, ValueError):
        number = -1
    return (mine, number)


def plan(desired, existing, state, application, purge):
    result = Plan()
    by_key = index_existing(existing, application)
    if state == 'absent':
        for entry in desired:
            current = by_key.get(entry.key)
            if current is not None:
                result.delete.append(current)
            else:
                result.unchanged.append((entry, None))
        return result
    for entry in desired:
        current = by_key.get(entry.key)
        if entry.expired is not None:
            # Not sent: the listing would not show it, so it would be created again on every run. An indicator of
            # that key that is still listed (the listing older than the expiry) is left as it is, and not purged.
            result.expired.append((entry, current))
            continue
        if current is None:
            result.create.append(entry)
            continue
        changed = differences(entry.body, current)
        other_application = current.get('application') or None
        if other_application != application:
            result.warnings.append(
                '%s already exists with application %r: the API keeps that application on update, so purge with '
                'application %r will not see it' % (label(entry.key), other_application, application))
        if changed:
            result.update.append((entry, current, changed))
        else:
            result.unchanged.append((entry, current))
    if purge:
        wanted = set(entry.key for entry in desired)
        for indicator in existing:
            if not isinstance(indicator, dict) or (indicator.get('application') or '') != application:
                continue
            key = api_key(indicator)
            if key not in wanted:
                result.delete.append(indicator)
    return result


def check_deletions(plan_, max_deletions):
    """Refuse, before any write, a run that would delete more than ``max_deletions`` indicators."""
    count = len(plan_.delete)
    if count > max_deletions:
        raise AtpOptionError(
            'Refusing to write: this run would delete %d indicators, more than max_deletions (%d). Nothing was sent. '
            'Check the list (a template or file that rendered fewer entries than meant deletes the rest with purge); '
            'if the deletions are meant, set max_deletions to %d or more.' % (count, max_deletions, count),
            deletions=count, max_deletions=max_deletions)


def check_tenant_limit(current_count, plan_, limit=TENANT_LIMIT):
    """Refuse, before any write, a run that would leave more than ``limit`` active indicators."""
    after = current_count - len(plan_.delete) + len(plan_.create)
    if plan_.create and after > limit:
        raise AtpOptionError(
            'Refusing to write: the tenant holds %d indicators; creating %d (and deleting %d) would make %d, more than '
            'the limit of %d active indicators per tenant. Nothing was sent. Remove indicators (state=absent, purge) or '
            'shorten the list.' % (current_count, len(plan_.create), len(plan_.delete), after, limit),
            tenant_indicators=current_count, limit=limit)
    return after


# -- requests -------------------------------------------------------------------------------------------------------------

def build_filter(types=None, actions=None, application=None, value=None):
    """``$filter`` over documented properties only (get-ti-indicators-collection.md): indicatorType, action, application."""
    clauses = []
    if types:
        clauses.append(odata.any_of('indicatorType', types))
    if actions:
        clauses.append(odata.any_of('action', actions))
    if application is not None:
        clauses.append(odata.eq('application', application))
    if value is not None:
        clauses.append(odata.eq('indicatorValue', value))
    return odata.and_(*clauses)


def list_indicators(client, filter_text=None, limit=None):
    """``(indicators, truncated)``, paged with $top/$skip (10,000 a page) past any number of indicators."""
    params = {'$filter': filter_text} if filter_text else {}
    with odata.naming_the_filter('indicator', filter_text):
        return client.list_all(INDICATORS_PATH, params=params, limit=limit)


def import_indicators(client, bodies, split_calls=None):
    """Send ``bodies`` through /api/indicators/import, 500 a call.

    import-ti-indicators.md answers a call that holds one incorrect indicator with a 400 for the whole call, naming
    none: such a call is split in halves and each half sent again, until the refused indicators are alone and the
    others written (a bisection: about 2 log2(n) more calls for one bad indicator among n). ``split_calls`` (default
    SPLIT_CALLS) caps those extra calls a run; indicators left unresolved then get the 400 as their error.

    Returns ``(results, calls)`` where results maps the index of each body to ``(id, error)``.
    """
    results = {}
    calls = 0
    cap = SPLIT_CALLS if split_calls is None else split_calls
    budget = dict(left=cap, cap=cap)
    for start in range(0, len(bodies), IMPORT_BATCH):
        chunk = bodies[start:start + IMPORT_BATCH]
        calls += 1
        _answered, error = _post(client, chunk, start, results)
        if error is not None:
            if _bad_request(error):
                calls += _split(client, chunk, start, error, results, budget)
                error = budget.get('stopped')  # a 401 or a missing permission while splitting
                if error is None:
                    continue
            else:
                for offset in range(len(chunk)):
                    results[start + offset] = (None, error.message)
            if stops_the_rest(error):
                for offset in range(start + len(chunk), len(bodies)):
                    results[offset] = (None, not_sent('import', error.message))
                return results, calls
    return results, calls


# At most this many extra import calls a run to find the indicators a 400 refuses: one bad indicator among 500 takes
# about 18, and the API allows 30 import calls a minute (import-ti-indicators.md).
SPLIT_CALLS = 60


def _bad_request(error):
    return isinstance(error, AtpApiError) and error.status == 400


def _post(client, part, start, results):
    """One import call for ``part``: ``(answered, error)``.

    When the API answered, the results of ``part`` are recorded (``answered`` true). A write whose outcome is unknown
    (a timeout) is recorded as such, never sent again blindly. Any other failure is returned for the caller to judge.
    """
    try:
        answer = client.post(IMPORT_PATH, {'Indicators': part}, what='Importing %d indicators' % len(part))
    except AtpWriteOutcomeUnknown as error:
        for offset in range(len(part)):
            results[start + offset] = (None, 'unknown: %s Run the task again to see the state.' % error.message)
        return False, None
    except AtpError as error:
        return False, error
    items = answer.get('value') if isinstance(answer, dict) else None
    _match_import_results(part, items if isinstance(items, list) else [], start, results)
    return True, None


def _split(client, chunk, start, refusal, results, budget):
    """Bisect ``chunk``, which the API refused with the 400 ``refusal``; returns the number of calls sent.

    When the first half goes through, the second holds what was refused: it is split without being sent whole.
    """
    if len(chunk) == 1:
        results[start] = (None, 'refused by the API: %s' % refusal.message)
        return 0
    calls = 0
    middle = len(chunk) // 2
    second_known_refused = False
    for half_start, half in ((start, chunk[:middle]), (start + middle, chunk[middle:])):
        stopped = budget.get('stopped')
        if stopped is not None:
            for offset in range(len(half)):
                results[half_start + offset] = (None, not_sent('import', stopped.message))
            continue
        if second_known_refused:
            calls += _split(client, half, half_start, refusal, results, budget)
            continue
        if budget['left'] <= 0:
            for offset in range(len(half)):
                results[half_start + offset] = (None, '%s (HTTP 400 for a call of %d indicators holding this one; not split '
                                                      'further: the %d extra import calls a run may take to find the '
                                                      'refused ones are spent)' % (refusal.message, len(half), budget['cap']))
            continue
        budget['left'] -= 1
        calls += 1
        answered, failure = _post(client, half, half_start, results)
        if failure is not None and _bad_request(failure):
            calls += _split(client, half, half_start, failure, results, budget)
        elif failure is not None:
            for offset in range(len(half)):
                results[half_start + offset] = (None, failure.message)
            if stops_the_rest(failure):
                budget['stopped'] = failure  # a 401 or a missing permission: no further call can succeed
        # The first half went through: the second holds what the API refused.
        second_known_refused = answered and half_start == start
    return calls


def _match_import_results(chunk, items, start, results):
    """Pair each sent body with its result: by position when the counts agree, else by value."""
    by_value = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get('indicator'), str):
            by_value.setdefault(item['indicator'].strip().lower(), []).append(item)
    for offset, body in enumerate(chunk):
        item = None
        if len(items) == len(chunk) and isinstance(items[offset], dict):
            candidate = items[offset]
            if str(candidate.get('indicator') or '').strip().lower() in ('', body['indicatorValue'].lower()):
                item = candidate
        if item is None:
            matches = by_value.get(body['indicatorValue'].lower())
            item = matches.pop(0) if matches else None
        if item is None:
            # Not documented: an answer without this indicator. Say so rather than guess.
            results[start + offset] = (None, 'the import answer did not mention this indicator')
            continue
        failed, reason = _item_failure(item)
        if failed:
            results[start + offset] = (None, 'refused by the API: %s' % (reason or 'no reason given'))
        else:
            results[start + offset] = (item.get('id'), None)


_NO_TEXT = ('', 'null', 'none')


def _item_failure(item):
    """``(failed, reason)`` of one import result, whatever form its fields take.

    import-ti-indicators.md shows ``isFailed`` as a boolean and ``failureReason`` as null or text. Real payloads also
    carry ``"null"``/``"None"`` as strings and nulls anywhere (mde-api.md): a result fails when ``isFailed`` is true in
    any spelling, or when it gives a reason without saying it succeeded (``isFailed`` null or missing).
    """
    flag = item.get('isFailed')
    reason = item.get('failureReason')
    reason = reason.strip() if isinstance(reason, str) and reason.strip().lower() not in _NO_TEXT else (
        None if reason is None or isinstance(reason, str) else str(reason))
    if isinstance(flag, str):
        flag = {'true': True, 'false': False}.get(flag.strip().lower())
    elif flag is not None and not isinstance(flag, bool):
        flag = bool(flag) if isinstance(flag, (int, float)) else None
    if flag is None:
        return reason is not None, reason
    return flag, reason


def delete_indicators(client, ids):
    """Delete by id with BatchDelete (500 a call); returns ``(errors, calls)`` with ``errors`` ``{id: message}``."""
    errors = {}
    calls = 0
    for start in range(0, len(ids), DELETE_BATCH):
        chunk = [str(i) for i in ids[start:start + DELETE_BATCH]]
        calls += 1
        # 404 when any id is gone already, 400 for an invalid one, 403 when one indicator's device groups are not the
        # user's (batch-delete-ti-indicators.md): one DELETE each tells which, and a 404 there means the indicator is
        # gone, which is what was wanted. Without an answer, the same: each DELETE is safe to repeat.
        one_by_one = functools.partial(_delete_one_by_one, client, chunk, errors)
        how, value = bulk_or_each(functools.partial(_batch_delete, client, chunk), each=one_by_one, unknown=one_by_one)
        if how == BULK:
            continue
        if how == STOPPED:
            for indicator_id in [str(i) for i in ids[start:]]:
                errors[indicator_id] = value.message
            return errors, calls
        sent, refused = value
        calls += sent
        if refused is not None:
            for indicator_id in [str(i) for i in ids[start + len(chunk):]]:
                errors[indicator_id] = not_sent('delete', refused)
            return errors, calls
    return errors, calls


def _batch_delete(client, ids):
    client.request('POST', BATCH_DELETE_PATH, json_body={'IndicatorIds': ids}, expected=(200, 204),
                   what='Deleting %d indicators' % len(ids))


def _delete_one_by_one(client, ids, errors):
    """DELETE each id; returns ``(calls, message)``, message set when an error stopped the rest (``stops_the_rest``)."""
    calls = 0
    refused = None
    for indicator_id in ids:
        if refused is not None:
            errors[indicator_id] = not_sent('delete', refused)
            continue
        calls += 1
        try:
            client.request('DELETE', '%s/%s' % (INDICATORS_PATH, quote(indicator_id, safe='')), expected=(200, 204),
                           what='Deleting indicator %s' % indicator_id)
        except AtpError as error:
            if isinstance(error, AtpApiError) and error.status == 404:
                continue
            errors[indicator_id] = error.message
            if stops_the_rest(error):
                refused = error.message
    return calls, refused
