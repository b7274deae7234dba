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

from ansible.module_utils.six import string_types, integer_types

from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError

_FIELD_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')
COMPARISONS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')


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
    if isinstance(value, integer_types) or isinstance(value, float):
        return repr(value)
    if isinstance(value, string_types):
        return quote(value)
    raise TypeError('cannot use %r of type %s in an OData filter' % (value, type(value).__name__))


def field_name(name):
    if not isinstance(name, string_types) or not _FIELD_RE.match(name):
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
    if not isinstance(text, string_types) or not text.strip():
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
