# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _time as time_spans
from ansible_collections.defender.atp.plugins.module_utils._time import (
    TimeSpanError, format_time, normalize_timespan, parse_api_time, parse_instant, parse_span, resolve_since,
    span_to_iso_duration)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize('text, expected', [
    ('30m', datetime.timedelta(minutes=30)),
    ('24h', datetime.timedelta(hours=24)),
    ('7d', datetime.timedelta(days=7)),
    ('2w', datetime.timedelta(weeks=2)),
    ('90s', datetime.timedelta(seconds=90)),
    ('1d12h', datetime.timedelta(days=1, hours=12)),
    ('1H30M', datetime.timedelta(hours=1, minutes=30)),
    (' 24h ', datetime.timedelta(hours=24)),
])
def test_short_spans(text, expected):
    assert parse_span(text) == expected


@pytest.mark.parametrize('text', ['24', 'h', '24x', '-24h', '1.5h', '24 h', 'P1D', '', None, 24])
def test_not_short_spans(text):
    assert parse_span(text) is None


@pytest.mark.parametrize('text, expected', [
    ('24h', datetime.datetime(2026, 1, 30, 12, 0, tzinfo=UTC)),
    ('7d', datetime.datetime(2026, 1, 24, 12, 0, tzinfo=UTC)),
    ('P7D', datetime.datetime(2026, 1, 24, 12, 0, tzinfo=UTC)),
    ('PT1H30M', datetime.datetime(2026, 1, 31, 10, 30, tzinfo=UTC)),
    ('P1W', datetime.datetime(2026, 1, 24, 12, 0, tzinfo=UTC)),
    ('2026-01-01', datetime.datetime(2026, 1, 1, tzinfo=UTC)),
    ('2026-01-31T08:00:00Z', datetime.datetime(2026, 1, 31, 8, 0, tzinfo=UTC)),
    ('2026-01-31t08:00:00z', datetime.datetime(2026, 1, 31, 8, 0, tzinfo=UTC)),
    ('2026-01-31 08:00', datetime.datetime(2026, 1, 31, 8, 0, tzinfo=UTC)),
    ('2026-01-31T10:00:00+02:00', datetime.datetime(2026, 1, 31, 8, 0, tzinfo=UTC)),
    ('2026-01-31T03:00:00-0500', datetime.datetime(2026, 1, 31, 8, 0, tzinfo=UTC)),
    # Defender's own times have 7 fractional digits: copying one from an alert must work.
    ('2020-07-20T10:53:50.1234567Z', datetime.datetime(2020, 7, 20, 10, 53, 50, 123456, tzinfo=UTC)),
    ('2020-07-20T10:53:50.19Z', datetime.datetime(2020, 7, 20, 10, 53, 50, 190000, tzinfo=UTC)),
])
def test_resolve_since(text, expected):
    value = resolve_since(text, now=NOW)
    assert value == expected
    assert value.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize('text, fragment', [
    ('yesterday', "since 'yesterday' is not understood; use a span such as 30m"),
    ('', 'since must not be empty'),
    ('0h', 'zero-length'),
    ('PT0S', 'zero-length'),
    ('P1M', 'years or months'),
    ('2026-13-01', 'not a valid time'),
    ('2026-02-30T00:00:00Z', 'not a valid time'),
    ('2026-01-31T25:00:00Z', 'not a valid time'),
    ('2026-01-31T08:00:00+25:00', 'not a valid UTC offset'),
    ('31/01/2026', 'is not understood'),
    ('24 hours', 'is not understood'),
])
def test_resolve_since_errors(text, fragment):
    with pytest.raises(TimeSpanError) as caught:
        resolve_since(text, now=NOW)
    assert fragment in str(caught.value)


def test_resolve_since_defaults_to_the_current_time():
    before = datetime.datetime.now(UTC)
    value = resolve_since('1h')
    after = datetime.datetime.now(UTC)
    assert before - datetime.timedelta(hours=1) <= value <= after - datetime.timedelta(hours=1)


@pytest.mark.parametrize('seconds, expected', [
    (7 * 86400, 'P7D'), (3600, 'PT1H'), (5400, 'PT1H30M'), (86400 + 1, 'P1DT1S'), (0, 'PT0S'), (45, 'PT45S'),
])
def test_span_to_iso_duration(seconds, expected):
    assert span_to_iso_duration(datetime.timedelta(seconds=seconds)) == expected


@pytest.mark.parametrize('text, expected', [
    ('P7D', 'P7D'),
    ('p7d', 'P7D'),
    ('PT12H', 'PT12H'),
    ('P90D', 'P90D'),
    ('P1M', 'P1M'),  # passed on to Graph as is: months are Graph's business there
    ('7d', 'P7D'),
    ('24h', 'P1D'),
    ('12h', 'PT12H'),
    ('90m', 'PT1H30M'),
    ('2024-02-01T08:00:00Z', '2024-02-01T08:00:00Z'),
    ('2024-02-01T08:00:00Z/2024-02-15T08:00:00Z', '2024-02-01T08:00:00Z/2024-02-15T08:00:00Z'),
    ('P30D/2024-02-15T08:00:00Z', 'P30D/2024-02-15T08:00:00Z'),
    ('2024-02-01T08:00:00Z/P30D', '2024-02-01T08:00:00Z/P30D'),
])
def test_normalize_timespan_accepts_the_graph_forms(text, expected):
    assert normalize_timespan(text) == expected


@pytest.mark.parametrize('text, fragment', [
    ('', 'must not be empty'),
    ('last week', 'is not understood'),
    ('P', 'is not understood'),
    ('PT', 'is not understood'),
    ('0d', 'zero-length'),
    ('P1D/P2D', 'two durations'),
    ('a/b/c', 'more than two parts'),
    ('2024-02-15T08:00:00Z/2024-02-01T08:00:00Z', 'ends before it starts'),
    ('2024-02-30T08:00:00Z', 'not a valid time'),
])
def test_normalize_timespan_errors(text, fragment):
    with pytest.raises(TimeSpanError) as caught:
        normalize_timespan(text)
    assert fragment in str(caught.value)


def test_error_messages_list_the_accepted_forms():
    with pytest.raises(TimeSpanError) as caught:
        normalize_timespan('soon')
    assert time_spans.TIMESPAN_FORMS in str(caught.value)


@pytest.mark.parametrize('text, expected', [
    ('2017-12-04T12:12:18.9725659Z', datetime.datetime(2017, 12, 4, 12, 12, 18, 972565, tzinfo=UTC)),
    ('2017-12-04t12:12:18z', datetime.datetime(2017, 12, 4, 12, 12, 18, tzinfo=UTC)),
    (' 2017-12-04T14:12:18+02 ', datetime.datetime(2017, 12, 4, 12, 12, 18, tzinfo=UTC)),
    ('2017-12-04T12:12:18 Z', datetime.datetime(2017, 12, 4, 12, 12, 18, tzinfo=UTC)),
    ('2017-13-45T00:00:00Z', None), ('2017-12-04T12:12:18+25:00', None), ('yesterday', None), ('', None), (None, None),
    (12, None),
])
def test_parse_api_time_is_the_lenient_form_of_the_one_parser(text, expected):
    """API data is untrusted: anything unreadable is unknown (None), never an error; the same forms as parse_instant."""
    assert parse_api_time(text) == expected
    if expected is not None:
        assert parse_instant(text) == expected


def test_parse_api_time_keeps_datetimes():
    aware = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert parse_api_time(aware) is aware
    assert parse_api_time(datetime.datetime(2026, 1, 5, 8, 0)) == aware


@pytest.mark.parametrize('value, fraction, expected', [
    (datetime.datetime(2026, 1, 5, 10, 0, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), True,
     '2026-01-05T08:00:01Z'),
    (datetime.datetime(2026, 1, 5, 8, 0, 1, 5000, tzinfo=UTC), True, '2026-01-05T08:00:01.005000Z'),
    (datetime.datetime(2026, 1, 5, 8, 0, 1, 5000, tzinfo=UTC), False, '2026-01-05T08:00:01Z'),
    (datetime.datetime(2026, 1, 5, 8, 0, 1), True, '2026-01-05T08:00:01Z'),  # naive: taken as UTC
])
def test_format_time_writes_utc_as_the_api_does(value, fraction, expected):
    assert format_time(value, fraction=fraction) == expected
    assert parse_api_time(expected) == (value if value.tzinfo else value.replace(tzinfo=UTC)).replace(
        microsecond=value.microsecond if fraction else 0)


@pytest.mark.parametrize('text', ['2027-01-01T10:00:00+02', '2027-01-01t08:00:00z', '2027-01-01T08:00:00.12345678Z',
                                  '2027-01-01T10:00:00 +02:00'])
def test_every_reader_of_times_reads_what_the_one_parser_reads(text):
    """Indicator expirations, the alert matcher and the EDA tracker read times with parse_api_time, so an ISO 8601
    form it reads is read everywhere (before, the indicators had a parser of their own that refused these)."""
    from ansible_collections.defender.atp.plugins.module_utils import _alerts, _indicators
    desired, _warnings = _indicators.validate_entries([dict(value='a' * 40, type='FileSha1', action='Block', title='t',
                                                            expiration=text)], 'present', 'defender.atp',
                                                      now=datetime.datetime(2026, 1, 1, tzinfo=UTC))
    assert desired[0].body['expirationTime'] == '2027-01-01T08:00:00Z'
    keep = _alerts.matcher(since=datetime.datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    assert keep({'lastUpdateTime': text}) and not keep({'lastUpdateTime': text.replace('2027', '2026')})
