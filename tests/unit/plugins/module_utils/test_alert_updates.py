# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alert update logic without HTTP: what differs, the newest comment, grouping into batches."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils import _alerts as updates


def test_newest_comment_by_time_not_by_position():
    alert = {'comments': [{'comment': 'new', 'createdTime': '2026-01-02T00:00:00Z'},
                          {'comment': 'old', 'createdTime': '2026-01-01T00:00:00Z'}]}
    assert updates.newest_comment(alert) == 'new'
    assert updates.newest_comment({'comments': None}) is None


def test_plan_sends_only_what_differs():
    alert = {'status': 'Resolved', 'assignedTo': 'SecOp@Contoso.com', 'classification': 'Informational, expected activity',
             'determination': 'ConfirmedUserActivity', 'comments': [{'comment': 'done', 'createdTime': '1'}]}
    desired = {'status': 'Resolved', 'assignedTo': 'secop@contoso.com', 'classification': 'InformationalExpectedActivity',
               'determination': 'ConfirmedActivity'}
    assert updates.plan_change(alert, desired, 'done') == {}
    assert updates.plan_change(alert, dict(desired, status='InProgress'), 'more') == {'status': 'InProgress', 'comment': 'more'}


def test_grouping_batches_same_changes_and_patches_singles():
    same = {'status': 'Resolved'}
    planned = [('a', same), ('b', {'status': 'New'}), ('c', dict(same)), ('d', same)]
    batches, singles = updates.group_changes(planned)
    assert batches == [(['a', 'c', 'd'], same)]
    assert singles == [('b', {'status': 'New'})]


def test_big_groups_are_split(monkeypatch):
    monkeypatch.setattr(updates, 'BATCH_SIZE', 2)
    batches, singles = updates.group_changes([(str(n), {'status': 'New'}) for n in range(5)])
    assert [ids for ids, _change in batches] == [['0', '1'], ['2', '3'], ['4']] and singles == []


class SizeLimitedClient(object):
    """Answers an alert filter of more than ``limit`` comparisons with ASP.NET OData's 400 for its node count."""

    def __init__(self, alerts, limit):
        self.alerts = dict((a['id'], a) for a in alerts)
        self.limit = limit
        self.filters = []
        self.gets = []

    def list_all(self, path, params=None, **kwargs):
        from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError
        text = params['$filter']
        self.filters.append(text)
        ids = [part.split("'")[1] for part in text.split(' eq ')[1:]]
        if len(ids) > self.limit:
            raise AtpApiError('HTTP 400', status=400, code='ODataError',
                              api_message="The node count limit of '%d' has been exceeded." % (4 * self.limit + 2))
        return [self.alerts[i] for i in ids if i in self.alerts], False

    def get(self, path, **kwargs):
        self.gets.append(path)
        return self.alerts.get(path.rsplit('/', 1)[-1])


def test_an_id_filter_refused_for_its_size_is_split_not_read_one_by_one():
    """The alert ids are read through the filter batcher: a filter the API refuses for its size is split and the
    smaller size kept (before, a hand-made batch of 12 fell back to one GET per alert on any 400)."""
    alerts = [{'id': 'da%04d_1' % n, 'status': 'New'} for n in range(25)]
    client = SizeLimitedClient(alerts, limit=5)
    found = updates.read_alerts(client, [a['id'] for a in alerts])
    assert sorted(found) == sorted(a['id'] for a in alerts)
    assert client.gets == []
    refused = [f for f in client.filters if f.count(' eq ') > 5]
    assert len(refused) == 1  # one refusal; every later filter is planned within the size it taught
