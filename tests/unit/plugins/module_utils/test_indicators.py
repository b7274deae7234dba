# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Indicator logic without HTTP: validation, keys, comparison, plans, the tenant limit, filters."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _indicators as iocs
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError

SHA1 = '220e7d15b011d7fac48f2bd61114db1022197f7f'
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('kind,value,canonical', [
    ('FileSha1', SHA1.upper(), SHA1),
    ('FileMd5', 'D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e'),
    ('CertificateThumbprint', ' ' + SHA1 + ' ', SHA1),
    ('IpAddress', '2001:DB8:0:0::1', '2001:db8::1'),
    ('IpAddress', '203.0.113.7', '203.0.113.7'),
    ('DomainName', 'Malicious.Example.COM.', 'malicious.example.com'),
    ('Url', 'HTTPS://Evil.Example.com/Path?Q=1', 'https://evil.example.com/Path?Q=1'),
    ('Url', 'evil.example.com/x', 'evil.example.com/x'),
    ('Url', 'http://[2001:db8::1]:8080/a', 'http://[2001:db8::1]:8080/a'),
])
def test_canonical_values(kind, value, canonical):
    assert iocs.canonical_value(kind, value) == canonical


@pytest.mark.parametrize('kind,value,words', [
    ('FileSha1', SHA1[:-1], '40 hexadecimal'), ('FileSha256', 'g' * 64, 'not all hexadecimal'),
    ('FileMd5', SHA1, '32 hexadecimal'), ('IpAddress', '10.0.0.0/8', 'CIDR'), ('IpAddress', '1.2.3', 'not an IPv4'),
    ('DomainName', 'https://x.com', 'no scheme'), ('DomainName', 'localhost', 'two labels'),
    ('DomainName', 'bad_label.com', 'not valid'), ('Url', 'ftp://x.com/a', 'only http'), ('Url', 'http://x y', 'spaces'),
    ('Url', 'http://-bad-.com/', 'host'), ('FileSha1', '', 'empty'),
])
def test_invalid_values(kind, value, words):
    with pytest.raises(iocs.IndicatorError) as caught:
        iocs.canonical_value(kind, value)
    assert words in str(caught.value)


def entry(**fields):
    base = dict(value=SHA1, type='FileSha1', action='Block', title='t', description=None, severity=None, expiration=None,
                generate_alert=None, recommended_actions=None, rbac_group_names=None)
    base.update(fields)
    return base


def test_validation_collects_every_problem_naming_the_entry():
    entries = [entry(), entry(value=SHA1.upper()), entry(type='FileMd5', value='abc'), entry(value='1' * 40, action=None),
               entry(value='2' * 40, action='Audit', generate_alert=False), entry(value='3' * 40, expiration='soon')]
    with pytest.raises(AtpOptionError) as caught:
        iocs.validate_entries(entries, 'present', 'defender.atp', now=NOW)
    message = str(caught.value)
    assert 'indicators[1] repeats indicators[0]' in message
    assert "indicators[2].value 'abc' is not a valid FileMd5" in message
    assert 'indicators[3].action' in message
    assert 'indicators[4]: action Audit requires generate_alert true' in message
    assert 'indicators[5].expiration' in message
    assert message.startswith('indicators has 5 invalid entries, nothing was sent')


def test_body_for_the_api():
    desired, warnings = iocs.validate_entries([entry(action='Audit', expiration='2027-01-01T10:00:00+02:00',
                                                     rbac_group_names=[' Servers '], severity='High')],
                                              'present', 'soc', now=NOW)
    assert desired[0].body == {'indicatorValue': SHA1, 'indicatorType': 'FileSha1', 'action': 'Audit', 'title': 't',
                               'description': 't', 'application': 'soc', 'severity': 'High',
                               'expirationTime': '2027-01-01T08:00:00Z', 'generateAlert': True,
                               'rbacGroupNames': ['Servers']}
    assert warnings == [] and desired[0].expired is None


def existing(value=SHA1, kind='FileSha1', number='1', **fields):
    base = {'id': number, 'indicatorValue': value, 'indicatorType': kind, 'action': 'Block', 'title': 't',
            'description': 't', 'application': 'defender.atp', 'severity': 'Informational',
            'expirationTime': None, 'generateAlert': False, 'rbacGroupNames': [], 'recommendedActions': None}
    base.update(fields)
    return base


def test_plan_compares_only_given_fields_case_insensitively():
    desired = iocs.validate_entries([entry(value=SHA1.upper()), entry(value='a' * 40, severity='High'),
                                    entry(value='b' * 40)], 'present', 'defender.atp', now=NOW)[0]
    tenant = [existing(), existing('A' * 40, number='2', severity='Low'),
              existing('c' * 40, number='3'), existing('d' * 40, number='4', application='other')]
    plan = iocs.plan(desired, tenant, 'present', 'defender.atp', purge=True)
    assert [e.value for e, _c in plan.unchanged] == [SHA1.upper()]
    assert [(e.value, changed) for e, _c, changed in plan.update] == [('a' * 40, ['severity'])]
    assert [e.value for e in plan.create] == ['b' * 40]
    assert [i['id'] for i in plan.delete] == ['3'], 'purge deletes only unlisted indicators of its own application'


def test_plan_absent_deletes_listed_whatever_their_application():
    desired = iocs.validate_entries([entry(value='d' * 40), entry(value='e' * 40)], 'absent', 'defender.atp')[0]
    plan = iocs.plan(desired, [existing('d' * 40, number='4', application='other')], 'absent', 'defender.atp', False)
    assert [i['id'] for i in plan.delete] == ['4'] and len(plan.unchanged) == 1


def test_differences_understand_the_api_shapes():
    body = {'expirationTime': '2026-12-31T00:00:00Z', 'rbacGroupNames': ['B', 'a'], 'generateAlert': True}
    assert iocs.differences(body, {'expirationTime': '2026-12-31T00:00:00.0000000Z', 'rbacGroupNames': 'A,b',
                                   'generateAlert': True}) == []
    assert iocs.differences(body, {'expirationTime': None, 'rbacGroupNames': [], 'generateAlert': None}) == [
        'expirationTime', 'generateAlert', 'rbacGroupNames']
    # A field the listing does not report at all cannot be compared (get-ti-indicators-collection.md's example has
    # no generateAlert): it does not count as a difference, or every run would re-submit the indicator.
    assert iocs.differences(body, {'expirationTime': '2026-12-31T00:00:00Z', 'rbacGroupNames': ['a', 'b']}) == []


def test_tenant_limit():
    plan = iocs.Plan()
    plan.create = [object()] * 10
    plan.delete = [object()] * 4
    assert iocs.check_tenant_limit(14994, plan) == 15000
    with pytest.raises(AtpOptionError) as caught:
        iocs.check_tenant_limit(14995, plan)
    assert 'would make 15001, more than the limit of 15000' in str(caught.value)
    plan.create = []
    assert iocs.check_tenant_limit(20000, plan) == 19996, 'deleting alone is never refused'


def test_filter_uses_documented_properties_quoted():
    assert iocs.build_filter(types=['FileSha1', 'FileMd5'], actions=['Block'], application="o'brien") == (
        "(indicatorType eq 'FileSha1' or indicatorType eq 'FileMd5') and action eq 'Block' and application eq 'o''brien'")
    assert iocs.build_filter() is None


def test_import_results_pair_by_position_or_value():
    chunk = [{'indicatorValue': 'a'}, {'indicatorValue': 'b'}]
    results = {}
    iocs._match_import_results(chunk, [{'id': '2', 'indicator': 'B', 'isFailed': False},
                                       {'id': None, 'indicator': 'a', 'isFailed': True, 'failureReason': 'bad'}], 0, results)
    assert results == {0: (None, 'refused by the API: bad'), 1: ('2', None)}


# -- issue 19: what the import answers -------------------------------------------------------------------------------

from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpApiError, AtpWriteOutcomeUnknown)  # noqa: E402


class FakeImports(object):
    """Answers /api/indicators/import as import-ti-indicators.md does: 400 for the whole call when it holds a bad item."""

    def __init__(self, bad=(), other_error=None):
        self.bad = set(bad)
        self.other_error = other_error
        self.sent = []

    def post(self, path, body, what=None):
        values = [item['indicatorValue'] for item in body['Indicators']]
        self.sent.append(values)
        if self.other_error is not None:
            raise self.other_error
        if self.bad & set(values):
            raise AtpApiError('HTTP 400 InvalidRequestBody: Request body is incorrect.', status=400,
                              code='InvalidRequestBody')
        return {'value': [{'id': str(1000 + int(v, 16)), 'indicator': v, 'isFailed': False, 'failureReason': None}
                          for v in values]}


def bodies(count):
    return [{'indicatorValue': '%040x' % n} for n in range(count)]


def test_a_400_for_one_item_is_split_until_it_is_named_and_the_rest_are_written():
    client = FakeImports(bad=['%040x' % 321])
    results, calls = iocs.import_indicators(client, bodies(600))
    failed = dict((i, error) for i, (_id, error) in results.items() if error)
    assert list(failed) == [321] and 'HTTP 400' in failed[321] and 'Request body is incorrect' in failed[321]
    assert all(results[i][0] == str(1000 + i) for i in range(600) if i != 321)
    assert calls == len(client.sent) and calls <= 2 + 2 * 9, 'a bisection, not one call an indicator'
    assert ['%040x' % 321] in client.sent, 'the bad one went alone in the end'


def test_several_bad_items_are_each_named():
    bad = ['%040x' % n for n in (0, 7, 499)]
    results, _calls = iocs.import_indicators(FakeImports(bad=bad), bodies(500))
    assert sorted(i for i, (_id, error) in results.items() if error) == [0, 7, 499]


def test_the_split_stops_at_its_call_budget_and_says_so():
    client = FakeImports(bad=['%040x' % n for n in range(0, 500, 5)])  # a hundred bad ones
    results, calls = iocs.import_indicators(client, bodies(500), split_calls=10)
    assert calls == 11
    unresolved = [error for _id, error in results.values() if error and 'not split further' in error]
    assert unresolved and all('10 extra import calls' in error for error in unresolved)
    assert all(error for i, (_id, error) in results.items() if i % 5 == 0), 'a bad one is never reported written'


@pytest.mark.parametrize('error', [AtpApiError('HTTP 404: gone', status=404),
                                   AtpWriteOutcomeUnknown('Importing 3 indicators: timed out.')])
def test_other_failures_are_not_split(error):
    client = FakeImports(other_error=error)
    results, calls = iocs.import_indicators(client, bodies(3))
    assert calls == 1 and all(error_text for _id, error_text in results.values())


@pytest.mark.parametrize('item, error', [
    ({'id': None, 'indicator': 'a', 'isFailed': None, 'failureReason': 'Invalid hash'}, 'refused by the API: Invalid hash'),
    ({'id': '9', 'indicator': 'a', 'isFailed': 'True', 'failureReason': None}, 'refused by the API: no reason given'),
    ({'id': '9', 'indicator': 'a', 'isFailed': 'true'}, 'refused by the API: no reason given'),
    ({'id': '9', 'indicator': 'a', 'isFailed': 'false', 'failureReason': None}, None),
    ({'id': '9', 'indicator': 'a', 'isFailed': False, 'failureReason': 'null'}, None),
    ({'id': '9', 'indicator': 'a', 'isFailed': False, 'failureReason': ''}, None),
    ({'id': '9', 'indicator': 'a', 'isFailed': 1, 'failureReason': 'Quota'}, 'refused by the API: Quota'),
])
def test_every_form_of_a_failed_item_is_an_error_never_a_creation(item, error):
    results = {}
    iocs._match_import_results([{'indicatorValue': 'a'}], [item], 0, results)
    assert results[0][1] == error
    if error:
        assert results[0][0] is None, 'a failed item has no id to report'


@pytest.mark.parametrize('action, instead', [('Alert', 'Audit'), ('AlertAndBlock', 'BlockAndRemediate')])
def test_actions_supported_until_january_2022_are_refused_naming_the_entry(action, instead):
    # ti-indicator.md: "The prior response actions (AlertAndBlock, and Alert) will be supported until January 2022."
    with pytest.raises(AtpOptionError) as caught:
        iocs.validate_entries([entry(), entry(value='1' * 40, action=action)], 'present', 'defender.atp', now=NOW)
    message = str(caught.value)
    assert 'indicators[1].action %s' % action in message and 'January 2022' in message and instead in message
    assert 'nothing was sent' in message and 'indicators[0]' not in message
    # Named for deletion only, the action is not looked at.
    assert iocs.validate_entries([entry(action=action)], 'absent', 'defender.atp', now=NOW)[0]


def test_an_expired_entry_is_never_sent_and_never_purged():
    # get-ti-indicators-collection.md lists active indicators only: an expired one would look missing on every run.
    entries = [entry(expiration='2026-05-31T23:59:59Z'), entry(value='a' * 40, expiration='2026-05-31'),
               entry(value='b' * 40, expiration='2026-06-02')]
    desired, warnings = iocs.validate_entries(entries, 'present', 'defender.atp', now=NOW)
    assert [d.expired is not None for d in desired] == [True, True, False]
    assert len(warnings) == 2 and 'indicators[0] (FileSha1:%s) expired at 2026-05-31T23:59:59Z' % SHA1 in warnings[0]
    assert 'not sent' in warnings[0]
    # An indicator of the same key still active (a listing older than the expiry) is left alone, and never purged.
    tenant = [existing('A' * 40, number='7'), existing('c' * 40, number='8')]
    plan = iocs.plan(desired, tenant, 'present', 'defender.atp', purge=True)
    assert [e.value for e in plan.create] == ['b' * 40]
    assert plan.update == [] and plan.unchanged == []
    assert [(e.value, current and current['id']) for e, current in plan.expired] == [(SHA1, None), ('a' * 40, '7')]
    assert [i['id'] for i in plan.delete] == ['8']


def test_deletions_past_max_deletions_are_refused_before_any_write():
    plan = iocs.Plan()
    plan.delete = [existing(number=str(n)) for n in range(101)]
    with pytest.raises(AtpOptionError) as caught:
        iocs.check_deletions(plan, 100)
    assert 'would delete 101 indicators, more than max_deletions (100)' in str(caught.value)
    assert 'Nothing was sent' in str(caught.value)
    iocs.check_deletions(plan, 101)
    plan.delete = []
    iocs.check_deletions(plan, 0)


def test_a_401_while_splitting_stops_every_call_after_it():
    class Revoked(FakeImports):
        def post(self, path, body, what=None):
            if len(self.sent) >= 2:
                self.sent.append([item['indicatorValue'] for item in body['Indicators']])
                raise AtpApiError('HTTP 401: the token was revoked.', status=401)
            return FakeImports.post(self, path, body, what)

    client = Revoked(bad=['%040x' % 321])
    results, calls = iocs.import_indicators(client, bodies(600))
    assert calls == len(client.sent) == 3, 'nothing is sent after the 401'
    assert all(results[i] == (str(1000 + i), None) for i in range(250)), 'the half written before the 401 stays written'
    assert all(results[i][1] for i in range(250, 600)), 'whatever was not written has an error'
    assert 'not sent' in results[599][1] and '401' in results[599][1]
