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
