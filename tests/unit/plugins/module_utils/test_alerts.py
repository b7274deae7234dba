# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _alerts as alerts
from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpOptionError

UTC = datetime.timezone.utc


def test_no_criteria_no_filter():
    assert alerts.build_filter() is None
    assert alerts.build_filter(status=[], severity=[]) is None


def test_one_value_is_a_plain_comparison():
    assert alerts.build_filter(status=['New']) == "status eq 'New'"


def test_several_values_are_ored_in_parentheses_not_in():
    text = alerts.build_filter(status=['New', 'InProgress'], severity=['High', 'Medium'])
    assert text == "(status eq 'New' or status eq 'InProgress') and (severity eq 'High' or severity eq 'Medium')"
    assert ' in ' not in text


def test_repeated_values_are_sent_once():
    assert alerts.build_filter(severity=['High', 'High']) == "severity eq 'High'"


def test_machine_id_is_never_a_filter():
    # get-alerts.md does not list machineId as filterable: a machine's alerts come from its own endpoint.
    with pytest.raises(TypeError):
        alerts.build_filter(machine_id='1e5bc9d7e413ddd7902c2932e418702b84d0cc07')  # pylint: disable=unexpected-keyword-arg


def test_matcher_keeps_what_the_filter_would():
    since = datetime.datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    keep = alerts.matcher(status=['New'], severity=['High', 'Low'], since=since)
    base = {'status': 'New', 'severity': 'High', 'lastUpdateTime': '2026-01-01T12:00:00.0000000Z'}
    assert keep(base)  # since is compared in whole seconds, like the filter sent to /api/alerts
    assert keep(dict(base, severity='Low', lastUpdateTime='2026-02-01T00:00:00Z'))
    assert not keep(dict(base, status='Resolved'))
    assert not keep(dict(base, severity='Medium'))
    assert not keep(dict(base, lastUpdateTime='2026-01-01T11:59:59.9999999Z'))
    assert not keep(dict(base, lastUpdateTime=None))
    assert not keep(dict(base, lastUpdateTime='not a time'))
    assert not keep('not an alert')
    assert alerts.matcher()({'status': 'whatever'})


def test_since_compares_last_update_time_in_utc():
    since = datetime.datetime(2026, 1, 31, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert alerts.build_filter(since=since) == 'lastUpdateTime ge 2026-01-31T08:00:00Z'


def test_raw_filter_is_parenthesised_so_its_or_cannot_escape():
    text = alerts.build_filter(severity=['High'], raw_filter="category eq 'Execution' or category eq 'Malware'")
    assert text == "severity eq 'High' and (category eq 'Execution' or category eq 'Malware')"


def test_raw_filter_alone_is_sent_unchanged():
    assert alerts.build_filter(raw_filter="  category eq 'Execution' ") == "category eq 'Execution'"


def test_everything_combined():
    text = alerts.build_filter(status=['New'], severity=['High', 'Low'],
                               since=datetime.datetime(2026, 1, 1, tzinfo=UTC), raw_filter="a eq 'b' or c eq 'd'")
    assert text == ("status eq 'New' and (severity eq 'High' or severity eq 'Low') "
                    "and lastUpdateTime ge 2026-01-01T00:00:00Z and (a eq 'b' or c eq 'd')")


@pytest.mark.parametrize('text', [
    "title eq 'it''s (not) a paren'",
    "(status eq 'New' or status eq 'InProgress') and category eq 'Execution'",
    "startswith(title,'Suspicious')",
])
def test_valid_raw_filters_pass(text):
    assert odata.check_raw_filter(text) == text


@pytest.mark.parametrize('text, fragment', [
    ('', 'filter is empty'),
    ('   ', 'filter is empty'),
    ("title eq 'x", 'unclosed string literal'),
    ("title eq 'it's'", 'unclosed string literal'),
    ("(status eq 'New'", 'unbalanced parentheses'),
    ("status eq 'New')", 'unbalanced parentheses'),
    (")status eq 'New'(", 'unbalanced parentheses'),
])
def test_broken_raw_filters_fail_before_any_request(text, fragment):
    with pytest.raises(AtpOptionError) as caught:
        odata.check_raw_filter(text)
    assert fragment in str(caught.value)


class FakeClient(object):
    """Records calls; answers list_all/get from canned data or raises a canned error."""

    def __init__(self, items=None, error=None, alert=None):
        self.items = items or []
        self.error = error
        self.alert = alert
        self.calls = []

    def list_all(self, path, params=None, limit=None):
        self.calls.append(('list_all', path, dict(params or {}), limit))
        if self.error:
            raise self.error
        items = list(self.items)
        if limit is not None and len(items) > limit:
            return items[:limit], True
        return items, False

    def get(self, path, what=None):
        self.calls.append(('get', path))
        if self.error:
            raise self.error
        return self.alert


def test_list_sends_filter_and_expand():
    client = FakeClient(items=[{'id': 'a'}, {'id': 'b'}])
    found, truncated = alerts.list_alerts(client, filter_text="status eq 'New'", limit=5, expand_evidence=True)
    assert found == [{'id': 'a'}, {'id': 'b'}] and truncated is False
    assert client.calls == [('list_all', '/api/alerts', {'$filter': "status eq 'New'", '$expand': 'evidence'}, 5)]


def test_list_without_criteria_sends_no_query_options():
    client = FakeClient()
    alerts.list_alerts(client)
    assert client.calls == [('list_all', '/api/alerts', {}, None)]


def test_an_alert_seen_on_two_pages_is_returned_once():
    client = FakeClient(items=[{'id': 'a'}, {'id': 'b'}, {'id': 'a'}, {'id': 'c'}])
    found, _truncated = alerts.list_alerts(client)
    assert [a['id'] for a in found] == ['a', 'b', 'c']


def test_a_rejected_filter_names_the_filter_and_keeps_the_api_message():
    error = AtpApiError("GET https://x/api/alerts: HTTP 400 ODataError: Invalid filter clause: Could not find a property "
                        "named 'nosuchfield'.", status=400, code='ODataError', api_message="Invalid filter clause")
    client = FakeClient(error=error)
    with pytest.raises(AtpApiError) as caught:
        alerts.list_alerts(client, filter_text="nosuchfield eq 1")
    assert '[nosuchfield eq 1]' in caught.value.message
    assert "Could not find a property named 'nosuchfield'" in caught.value.message
    assert caught.value.status == 400 and caught.value.code == 'ODataError'


def test_other_errors_pass_unchanged():
    error = AtpApiError('HTTP 403 Forbidden', status=403)
    client = FakeClient(error=error)
    with pytest.raises(AtpApiError) as caught:
        alerts.list_alerts(client, filter_text="status eq 'New'")
    assert caught.value is error


def test_get_alert_puts_the_id_in_the_path():
    client = FakeClient(alert={'id': 'x'})
    assert alerts.get_alert(client, ' da63_-88 ') == {'id': 'x'}
    assert client.calls == [('get', '/api/alerts/da63_-88')]


@pytest.mark.parametrize('alert_id', ['da63_-88/..?x', '..', "x' or id ne '", 'a b', 'x%2F'])
def test_get_alert_refuses_what_is_not_an_alert_id_before_any_request(alert_id):
    client = FakeClient(alert={'id': 'x'})
    with pytest.raises(AtpOptionError, match='is not an alert id'):
        alerts.get_alert(client, alert_id)
    assert client.calls == []


def test_get_alert_not_found_is_none():
    client = FakeClient(error=AtpApiError('not found', status=404, code='NotFound'))
    assert alerts.get_alert(client, 'nope') is None


def test_get_alert_other_error_raises():
    client = FakeClient(error=AtpApiError('forbidden', status=403))
    with pytest.raises(AtpApiError):
        alerts.get_alert(client, 'x')


def test_get_alert_empty_id():
    with pytest.raises(AtpOptionError):
        alerts.get_alert(FakeClient(), '  ')


def test_since_is_rounded_down_to_whole_seconds():
    since = datetime.datetime(2026, 1, 31, 8, 0, 5, 999999, tzinfo=UTC)
    assert alerts.build_filter(since=since) == 'lastUpdateTime ge 2026-01-31T08:00:05Z'
