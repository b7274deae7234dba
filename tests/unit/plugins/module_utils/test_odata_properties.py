# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: no input string can make a filter match more than the intended value.

A filter is checked with a small, strict OData tokenizer: whatever the value, an ``eq`` clause built
by ``odata`` must tokenize to exactly field, operator and one string literal that decodes back to
the input, so no quote in the input can close the literal early and inject ``or ...``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from hypothesis import given, settings, strategies as st

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata

TOKEN_RE = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<word>[A-Za-z_][A-Za-z0-9_/]*)|(?P<punct>[(),:]))", re.S)


def tokenize(text):
    tokens = []
    position = 0
    while position < len(text):
        match = TOKEN_RE.match(text, position)
        assert match and match.end() > position, 'untokenizable filter at %d: %r' % (position, text[position:])
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def decode(literal):
    assert literal[0] == "'" and literal[-1] == "'"
    return literal[1:-1].replace("''", "'")


values = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=60)
quote_heavy = st.text(alphabet="'() orandeq,\\\"%&$#", max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.one_of(values, quote_heavy))
def test_eq_is_one_comparison_with_the_exact_value(value):
    tokens = tokenize(odata.eq('computerDnsName', value))
    assert tokens[:2] == [('word', 'computerDnsName'), ('word', 'eq')]
    assert len(tokens) == 3 and tokens[2][0] == 'string'
    assert decode(tokens[2][1]) == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(values, quote_heavy), min_size=1, max_size=6))
def test_any_of_matches_only_the_given_values(items):
    tokens = tokenize(odata.any_of('id', items))
    literals = [decode(text) for kind, text in tokens if kind == 'string']
    assert literals == items
    words = [text for kind, text in tokens if kind == 'word']
    # Only the field, eq and the joining ors: nothing a value could have injected.
    assert words == ['id', 'eq'] + ['or', 'id', 'eq'] * (len(items) - 1)


@settings(max_examples=200, deadline=None)
@given(st.one_of(values, quote_heavy), st.one_of(values, quote_heavy))
def test_and_keeps_both_conditions_binding(first, second):
    combined = odata.and_(odata.any_of('status', [first, second]), odata.eq('machineId', second))
    tokens = tokenize(combined)
    words = [text for kind, text in tokens if kind == 'word']
    # The top-level "and" is outside the parenthesised "or" group.
    depth = 0
    top_level = []
    for kind, text in tokens:
        if text == '(':
            depth += 1
        elif text == ')':
            depth -= 1
        elif kind == 'word' and depth == 0:
            top_level.append(text)
    assert 'and' in top_level and 'or' not in top_level
    assert words.count('and') == 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(values, quote_heavy))
def test_startswith_keeps_one_literal(value):
    for built in (odata.startswith('computerDnsName', value),):
        literals = [decode(text) for kind, text in tokenize(built) if kind == 'string']
        assert literals == [value]
