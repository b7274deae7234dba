# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Building OData ``$filter`` expressions safely.

Every value that reaches a filter goes through ``literal()``: a machine name such as
``x' or id ne '`` must never widen a match, so quotes are doubled as OData requires and field
names are checked against a strict pattern.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError

_FIELD_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')
COMPARISONS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')

# The Defender API is ASP.NET OData: its validator refuses a $filter of more than ODataValidationSettings.MaxNodeCount
# nodes, 100 by default (mde-api.md, "Facts added on review"; whether Defender raised it is not documented).
DEFAULT_MAX_NODE_COUNT = 100
_BINARY_OPERATORS = frozenset(('eq', 'ne', 'gt', 'ge', 'lt', 'le', 'and', 'or', 'has', 'add', 'sub', 'mul', 'div', 'mod'))
_CONSTANTS = frozenset(('true', 'false', 'null'))
_NODE_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'?)
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?(?![\w:.-]))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
""", re.X)


def quote(value):
    """An OData string literal: single-quoted, with embedded single quotes doubled."""
    return "'%s'" % str(value).replace("'", "''")


def format_datetime(value):
    """ISO 8601 UTC literal (unquoted, as OData date-time literals are written)."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    text = value.strftime('%Y-%m-%dT%H:%M:%S')
    if value.microsecond:
        text += '.%06d' % value.microsecond
    return text + 'Z'


def literal(value):
    """Render a Python value as an OData literal."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, int) or isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError('cannot use %r of type %s in an OData filter' % (value, type(value).__name__))


def field_name(name):
    if not isinstance(name, str) or not _FIELD_RE.match(name):
        raise ValueError('invalid OData field name %r' % (name,))
    return name


def compare(field, op, value):
    """``field op literal``, e.g. ``compare('status', 'eq', 'New')`` -> ``status eq 'New'``."""
    if op not in COMPARISONS:
        raise ValueError('unknown OData comparison %r' % (op,))
    return '%s %s %s' % (field_name(field), op, literal(value))


def eq(field, value):
    return compare(field, 'eq', value)


def any_of(field, values):
    """Match any of ``values`` with documented operators only (``eq`` joined by ``or``).

    ``in (...)`` is not documented for every Defender collection, so it is not relied on.
    """
    values = list(values)
    if not values:
        raise ValueError('any_of() needs at least one value for %s' % field)
    clauses = [eq(field, v) for v in values]
    return clauses[0] if len(clauses) == 1 else '(%s)' % ' or '.join(clauses)


def startswith(field, prefix):
    return 'startswith(%s,%s)' % (field_name(field), quote(prefix))


def any_tag(field, value):
    """Collection membership, e.g. ``machineTags/any(t: t eq 'x')``."""
    return '%s/any(t: t eq %s)' % (field_name(field), quote(value))


def and_(*clauses):
    """Join clauses with ``and``; empty ones are dropped, each one parenthesised when needed.

    A raw user filter is wrapped in parentheses so its own ``or`` can't escape the conjunction.
    """
    parts = [c.strip() for c in clauses if c and c.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return ' and '.join(p if _is_atomic(p) else '(%s)' % p for p in parts)


def check_raw_filter(text, option='filter'):
    """Reject a raw ``$filter`` that is empty or has unbalanced quotes or parentheses (before any request).

    A raw filter is ANDed in parentheses with the clauses a module builds; an unbalanced one such as
    ``a eq 'b') or (true`` would close that parenthesis and let its ``or`` match more than intended.
    Anything subtler is left to the API, whose own message is passed on.
    """
    if not isinstance(text, str) or not text.strip():
        raise AtpOptionError('%s is empty; give an OData expression such as "category eq \'Execution\'", or leave it out.'
                             % option)
    outside = re.sub(r"'(?:[^']|'')*'", '_', text)
    if "'" in outside:
        raise AtpOptionError('%s %r has an unclosed string literal: quote values with single quotes, and double a quote '
                             'inside a value (\'O\'\'Brien\').' % (option, text))
    depth = 0
    for char in outside:
        depth += {'(': 1, ')': -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise AtpOptionError('%s %r has unbalanced parentheses.' % (option, text))
    return text.strip()


def node_count(expression):
    """How many nodes ASP.NET OData's FilterQueryValidator counts in ``expression`` (checked against MaxNodeCount).

    Counted as OData/WebApi's FilterQueryValidator does (every node it visits counts one): a comparison
    ``p eq 'v'`` is 4 nodes (the binary operator, the property access, the range variable ``$it`` under it,
    the constant); ``and``/``or``/``not`` 1 each; a function call 1 plus its arguments (``startswith(p,'v')``: 4);
    ``tags/any(t: t eq 'v')`` 6 (any, the collection property and its ``$it``, the operator, ``t``, the constant).
    Parentheses count nothing. Unconfirmed: the server may add a convert node where operand types differ (an enum or
    Int64 property against a literal), so batches keep a wide margin under the limit instead of trusting this count.
    """
    tokens = [(m.lastgroup, m.group()) for m in _NODE_TOKEN_RE.finditer(expression or '') if m.lastgroup != 'space']
    lambda_variables = set()
    count = 0
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ''
        word = text.lower()
        if kind in ('string', 'datetime', 'guid', 'number'):
            count += 1
        elif kind != 'name':
            continue
        elif following == ':':
            lambda_variables.add(text)  # a lambda variable's declaration is part of the any/all node
        elif word in _BINARY_OPERATORS or word == 'not' or word in _CONSTANTS:
            count += 1
        elif following == '(':
            count += 1  # a function call, or any/all
        elif text in lambda_variables:
            count += 1  # a reference to the lambda variable
        else:
            count += 2  # a property access and the range variable ($it) it is read from
    return count


def _is_atomic(clause):
    """True when a clause is already safe to AND: one comparison or a fully parenthesised group."""
    if clause.startswith('(') and clause.endswith(')') and _balanced_outer(clause):
        return True
    outside = _strip_literals(clause)
    return not re.search(r'\b(or|and|not)\b', outside, re.IGNORECASE)


def _strip_literals(clause):
    return re.sub(r"'(?:[^']|'')*'", "''", clause)


def _balanced_outer(clause):
    """Whether the first '(' closes at the very end (ignoring parentheses inside literals)."""
    text = _strip_literals(clause)
    depth = 0
    for index, char in enumerate(text):
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0
