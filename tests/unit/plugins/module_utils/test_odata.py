# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata


def test_quote_doubles_single_quotes():
    assert odata.quote("o'brien") == "'o''brien'"
    assert odata.quote("'") == "''''"


def test_literal_types():
    assert odata.literal('New') == "'New'"
    assert odata.literal(True) == 'true'
    assert odata.literal(None) == 'null'
    assert odata.literal(5) == '5'
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert odata.literal(when) == '2026-01-02T03:04:05Z'
    local = datetime.datetime(2026, 1, 2, 5, 4, 5, 120000, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert odata.literal(local) == '2026-01-02T03:04:05.120000Z'
    with pytest.raises(TypeError):
        odata.literal(object())


def test_field_names_are_checked():
    assert odata.eq('machineTags/any', 'x') == "machineTags/any eq 'x'"
    for bad in ("id eq 'x' or id", 'status)', '', "a'b", 'a b'):
        with pytest.raises(ValueError):
            odata.eq(bad, 'x')


def test_compare_rejects_unknown_operator():
    with pytest.raises(ValueError):
        odata.compare('status', 'like', 'x')


def test_any_of_uses_documented_operators():
    assert odata.any_of('status', ['New']) == "status eq 'New'"
    assert odata.any_of('status', ['New', 'InProgress']) == "(status eq 'New' or status eq 'InProgress')"
    with pytest.raises(ValueError):
        odata.any_of('status', [])


def test_and_parenthesises_compound_clauses():
    assert odata.and_(None, '', "status eq 'New'") == "status eq 'New'"
    assert odata.and_() is None
    combined = odata.and_(odata.any_of('severity', ['High', 'Medium']), "status eq 'New' or status eq 'Resolved'")
    assert combined == "(severity eq 'High' or severity eq 'Medium') and (status eq 'New' or status eq 'Resolved')"
    # A literal that merely contains the word "or" is not a compound clause.
    assert odata.and_("title eq 'this or that'", "id eq '1'") == "title eq 'this or that' and id eq '1'"
    # "(a) or (b)" starts and ends with parentheses but is not one group.
    assert odata.and_("(id eq '1') or (id eq '2')", "x eq 1") == "((id eq '1') or (id eq '2')) and x eq 1"


def test_helpers_for_functions():
    assert odata.startswith('computerDnsName', "ws'") == "startswith(computerDnsName,'ws''')"
