# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The one reader and writer of times: the ISO 8601 instants and durations users and the API write, short spans
such as ``24h``, and times as the API writes them.

What users write is validated here, before any request, so a typo costs no API quota and the message says
which forms are accepted (``parse_instant``, ``resolve_since``, ``normalize_timespan``). What the API writes is
untrusted, so its reader never fails (``parse_api_time``: None for anything unreadable). ``format_time`` writes
every time the collection sends or stores (OData literals, indicator expirations, the EDA state).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

UTC = datetime.timezone.utc

SPAN_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_SPAN_RE = re.compile(r'^(?:\d+[smhdw])+$', re.IGNORECASE)
_SPAN_PART_RE = re.compile(r'(\d+)([smhdw])', re.IGNORECASE)

# ISO 8601 durations as the Defender/Graph services write them: PnYnMnWnDTnHnMnS (each part optional,
# seconds may be fractional). Years and months have no fixed length, so they are only accepted where
# the text is passed on unchanged (a Graph timespan), never turned into a time locally.
_DURATION_RE = re.compile(
    r'^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?'
    r'(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$', re.IGNORECASE)

# ISO 8601 instants: a date, or a date and time with optional fraction (Defender writes 7 digits)
# and offset. A space may separate date and time, as many tools print it.
_INSTANT_RE = re.compile(
    r'^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})'
    r'(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?'
    r'\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?$', re.IGNORECASE)

SINCE_FORMS = ('a span such as 30m, 24h, 7d, 2w or 1d12h; an ISO 8601 duration such as PT12H or P7D; '
               'or an ISO 8601 time such as 2026-01-31, 2026-01-31T08:00:00Z or 2026-01-31T10:00:00+02:00')


class TimeSpanError(ValueError):
    """A time or duration the user wrote that cannot be understood; the message says what is accepted."""


def parse_span(text):
    """``30m``, ``24h``, ``7d``, ``2w``, ``1d12h`` -> ``timedelta``; None if ``text`` is not such a span."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not _SPAN_RE.match(text):
        return None
    seconds = sum(int(number) * SPAN_UNITS[unit.lower()] for number, unit in _SPAN_PART_RE.findall(text))
    return datetime.timedelta(seconds=seconds)


def match_duration(text):
    """The regex match of an ISO 8601 duration (``P7D``, ``PT1H30M``), or None."""
    if not isinstance(text, str):
        return None
    match = _DURATION_RE.match(text.strip())
    if match is None or not any(match.groupdict().values()):
        return None
    return match


def parse_duration(text):
    """An ISO 8601 duration without years or months -> ``timedelta``; None if it is not a duration.

    Raises TimeSpanError for a duration with years or months, whose length depends on the calendar.
    """
    match = match_duration(text)
    if match is None:
        return None
    parts = match.groupdict()
    if parts['years'] or parts['months']:
        raise TimeSpanError('%r uses years or months, which have no fixed length; write it in weeks or days (for example P30D).'
                            % text)
    seconds = float((parts['seconds'] or '0').replace(',', '.'))
    return datetime.timedelta(weeks=int(parts['weeks'] or 0), days=int(parts['days'] or 0), hours=int(parts['hours'] or 0),
                              minutes=int(parts['minutes'] or 0), seconds=seconds)


def parse_instant(text):
    """An ISO 8601 date or date-time -> aware UTC ``datetime``; None if ``text`` does not look like one.

    A time without an offset is taken as UTC (the API's own times are all UTC). Raises TimeSpanError
    for something shaped like a time but impossible (month 13, 25:00).
    """
    if not isinstance(text, str):
        return None
    match = _INSTANT_RE.match(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    fraction = (parts['fraction'] or '')[:6].ljust(6, '0')
    try:
        value = datetime.datetime(int(parts['year']), int(parts['month']), int(parts['day']),
                                  int(parts['hour'] or 0), int(parts['minute'] or 0), int(parts['second'] or 0),
                                  int(fraction), tzinfo=_offset(parts['offset']))
    except ValueError as exc:
        raise TimeSpanError('%r is not a valid time: %s.' % (text, exc))
    return value.astimezone(UTC)


def parse_api_time(value):
    """A time the API wrote (``creationDateTimeUtc``, ``lastSeen``...) -> aware UTC ``datetime``, or None.

    The same parser as ``parse_instant`` (one ISO 8601 reader for the collection), but lenient: API data is
    untrusted, so an unreadable or impossible value is unknown (None), never an error. A ``datetime`` is
    returned as it is (naive ones taken as UTC).
    """
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return parse_instant(value)
    except (TimeSpanError, OverflowError):
        return None


def format_time(value, fraction=True):
    """A ``datetime`` as the API writes times: ISO 8601 in UTC with a ``Z`` (a naive one is taken as UTC).

    Microseconds are written when there are any and ``fraction`` is true; ``fraction=False`` writes whole seconds.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = value.strftime('%Y-%m-%dT%H:%M:%S')
    if fraction and value.microsecond:
        text += '.%06d' % value.microsecond
    return text + 'Z'


def _offset(text):
    if not text or text.upper() == 'Z':
        return UTC
    sign = -1 if text[0] == '-' else 1
    digits = text[1:].replace(':', '')
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimeSpanError('%r is not a valid UTC offset.' % text)
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


def resolve_since(text, now=None):
    """The start time ``since`` stands for, as an aware UTC ``datetime``.

    ``text`` is a span back from ``now`` (``24h``, ``P7D``) or an ISO 8601 time. Raises TimeSpanError
    with the accepted forms when it is neither.
    """
    now = now or datetime.datetime.now(UTC)
    if not isinstance(text, str) or not text.strip():
        raise TimeSpanError('since must not be empty; use %s.' % SINCE_FORMS)
    span = parse_span(text)
    if span is None:
        span = parse_duration(text)
    if span is not None:
        if not span:
            raise TimeSpanError('since %r is a zero-length span; use %s.' % (text, SINCE_FORMS))
        return now - span
    try:
        instant = parse_instant(text)
    except TimeSpanError as exc:
        raise TimeSpanError('since %s' % exc)
    if instant is None:
        raise TimeSpanError('since %r is not understood; use %s.' % (text, SINCE_FORMS))
    return instant


def span_to_iso_duration(span):
    """A ``timedelta`` as a compact ISO 8601 duration: 7 days -> ``P7D``, 90 minutes -> ``PT1H30M``."""
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = 'P%dD' % days if days else 'P'
    clock = ''.join('%d%s' % (value, unit) for value, unit in ((hours, 'H'), (minutes, 'M'), (seconds, 'S')) if value)
    if clock:
        text += 'T' + clock
    return text if text != 'P' else 'PT0S'


TIMESPAN_FORMS = ('an ISO 8601 duration such as P7D or PT12H (back from now), a start time such as 2026-01-31T08:00:00Z, '
                  'start/end (2026-01-01T00:00:00Z/2026-01-31T00:00:00Z), start/duration or duration/end, '
                  'or a short span such as 24h or 7d')


def normalize_timespan(text):
    """Check a Graph hunting ``Timespan`` and return the text to send.

    Graph accepts a duration, a start time, or an interval of two of start, end and duration. Short spans
    (``7d``) are turned into durations (``P7D``). Raises TimeSpanError naming the accepted forms.
    """
    if not isinstance(text, str) or not text.strip():
        raise TimeSpanError('timespan must not be empty; use %s.' % TIMESPAN_FORMS)
    text = text.strip()
    span = parse_span(text)
    if span is not None:
        if not span:
            raise TimeSpanError('timespan %r is zero-length; use %s.' % (text, TIMESPAN_FORMS))
        return span_to_iso_duration(span)
    parts = text.split('/')
    if len(parts) > 2:
        raise TimeSpanError('timespan %r has more than two parts; use %s.' % (text, TIMESPAN_FORMS))
    kinds = [_timespan_part_kind(part, text) for part in parts]
    if kinds == ['duration', 'duration']:
        raise TimeSpanError('timespan %r gives two durations; an interval needs a start or an end time.' % text)
    if kinds == ['instant', 'instant'] and parse_instant(parts[0]) >= parse_instant(parts[1]):
        raise TimeSpanError('timespan %r ends before it starts.' % text)
    # ISO 8601 designators are upper case (p7d -> P7D, ...t08:00z -> ...T08:00Z); the service may insist on it.
    return text.upper()


def _timespan_part_kind(part, whole):
    if match_duration(part) is not None:
        return 'duration'
    try:
        if parse_instant(part) is not None:
            return 'instant'
    except TimeSpanError as exc:
        raise TimeSpanError('timespan %r: %s' % (whole, exc))
    raise TimeSpanError('timespan %r is not understood (%r is neither an ISO 8601 duration nor a time); use %s.'
                        % (whole, part, TIMESPAN_FORMS))
