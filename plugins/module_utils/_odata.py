# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""OData ``$filter`` expressions, built safely, and read in batches.

Every value that reaches a filter goes through ``literal()``: a machine name such as
``x' or id ne '`` must never widen a match, so quotes are doubled as OData requires and field
names are checked against a strict pattern.

``FilterBatcher`` reads a collection for many values at once: ``clause or clause or ...`` filters sized in OData
nodes.

The Defender API is ASP.NET OData. Its validator refuses a ``$filter`` of more than ``MaxNodeCount`` nodes (100 by
default; users of ASP.NET OData services meet it at about 17 ``or`` clauses), and a URL can be too long for the
front end (414, or a 400 that says so). Neither limit is documented for Defender (mde-api.md, "Facts added on
review"), so:

* batches are planned well under the default: at most ``MAX_FILTER_NODES`` nodes counted as ASP.NET counts them
  (``node_count``) and ``MAX_FILTER_CHARS`` URL-encoded characters;
* when the server still refuses a batch for its size, the batch is split in halves and each half is read (again
  split if need be), and the smaller size is kept for the rest of the run. Only reads go through here: nothing is
  ever sent twice that could change anything.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import re
import threading

from urllib.parse import quote_plus

from ansible_collections.defender.atp.plugins.module_utils._errors import AtpApiError, AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._time import format_time

_FIELD_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')
COMPARISONS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')

# The Defender API is ASP.NET OData: its validator refuses a $filter of more than ODataValidationSettings.MaxNodeCount
# nodes, 100 by default (mde-api.md, "Facts added on review"; whether Defender raised it is not documented): see
# node_count and MAX_FILTER_NODES.
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


def literal(value):
    """Render a Python value as an OData literal."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, datetime.datetime):
        return format_time(value)  # ISO 8601 in UTC, unquoted, as OData date-time literals are written
    if isinstance(value, int) or isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError('cannot use %r of type %s in an OData filter' % (value, type(value).__name__))


@contextlib.contextmanager
def naming_the_filter(kind, filter_text):
    """Re-raise a 400 the API answers to a request with ``filter_text`` as one that names the filter: "The API
    rejected the alert filter [...]" (the API's own message may not say which part it refused)."""
    try:
        yield
    except AtpApiError as error:
        if error.status == 400 and filter_text:
            raise AtpApiError('The API rejected the %s filter [%s]: %s' % (kind, filter_text, error.message),
                              **error.details)
        raise


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


# -- reading in batches: the filter batcher ---------------------------------------------------------------------

# 60 of the default 100 nodes: 12 comparisons joined by "or", or 10 under a two-value prefix. The margin covers
# convert nodes a server may add (at 6 nodes a comparison, 12 of them still count 83) and servers counting otherwise.
MAX_FILTER_NODES = 60
# URL-encoded characters of one $filter: with the host, path, $top and $skip the query string stays under 2,048
# characters (the smallest common front-end default, IIS's maxQueryString; Defender's own limit is not documented).
MAX_FILTER_CHARS = 1800

# What a refusal for size says. Error messages are free text that can change (common-errors.md), so this only decides
# whether splitting is worth trying; a 414 always is.
_NODE_LIMIT_RE = re.compile(r'node count|maxnodecount|too many nodes|too complex', re.IGNORECASE)
# ASP.NET's wording names the limit ("The node count limit of '100' has been exceeded"): used only as a hint.
_NODE_LIMIT_VALUE_RE = re.compile(r"node count limit of '?(\d+)'?", re.IGNORECASE)
_LENGTH_LIMIT_RE = re.compile(r'too long|too large|length limit|exceeds? the (?:maximum|allowed) (?:length|size)|'
                              r'maxquerystring|max(?:imum)?\s*url|query string (?:is )?too', re.IGNORECASE)


def size_limit_kind(error):
    """``'nodes'``, ``'length'`` or None: whether ``error`` refused a request for the size of its query."""
    if not isinstance(error, AtpApiError):
        return None
    if error.status == 414:
        return 'length'
    if error.status not in (400, 404):  # IIS answers an over-long query string with 404.15
        return None
    text = ' '.join(str(part) for part in (error.api_message, error.message) if part)
    if _NODE_LIMIT_RE.search(text):
        return 'nodes'
    if _LENGTH_LIMIT_RE.search(text):
        return 'length'
    return None


def join(clauses, prefix=None):
    """``prefix and (c1 or c2 ...)``; without a prefix ``c1 or c2 ...`` (parenthesised when there is more than one)."""
    clauses = list(clauses)
    group = clauses[0] if len(clauses) == 1 else '(%s)' % ' or '.join(clauses)
    return and_(prefix, group) if prefix else group


class FilterBatcher(object):
    """Plans ``$filter`` batches within a node and a character budget, reads them, and learns smaller budgets.

    One batcher per run: the budgets it learns from a refusal apply to every later batch of the run. Thread-safe.
    """

    def __init__(self, client, max_nodes=MAX_FILTER_NODES, max_chars=MAX_FILTER_CHARS):
        self.client = client
        self.max_nodes = max(1, int(max_nodes))
        self.max_chars = max(1, int(max_chars))
        self.splits = 0
        self.requests = 0
        self._prefixes_too_big = set()
        self._lock = threading.Lock()

    # -- planning ------------------------------------------------------------------------------------------------

    def take(self, clauses, prefix=None):
        """How many of ``clauses`` (at least one) the next batch holds."""
        prefix_nodes = node_count(prefix) + 1 if prefix else 0
        base_chars = len(quote_plus(prefix + ' and ()')) if prefix else 2
        nodes, chars, count = prefix_nodes, base_chars, 0
        for clause in clauses:
            clause_nodes = node_count(clause) + (1 if count else 0)  # each further clause adds an "or"
            clause_chars = len(quote_plus(clause)) + (len(quote_plus(' or ')) if count else 0)
            if count and (nodes + clause_nodes > self.max_nodes or chars + clause_chars > self.max_chars):
                break
            nodes += clause_nodes
            chars += clause_chars
            count += 1
        return max(1, count)

    def plan(self, clauses, prefix=None):
        """The filters the current budgets give for ``clauses`` (for tests and estimates; ``read`` re-plans as it learns)."""
        clauses = list(clauses)
        filters = []
        while clauses:
            size = self.take(clauses, prefix)
            filters.append(join(clauses[:size], prefix))
            clauses = clauses[size:]
        return filters

    # -- reading -------------------------------------------------------------------------------------------------

    def read(self, path, clauses, prefix=None, prefix_optional=False):
        """Every item of ``path`` matching ``prefix`` and any of ``clauses``, read in as few requests as the budgets allow.

        ``prefix_optional``: when even one clause with the prefix is refused for its size, the prefix is left out from
        then on (the caller filters what the prefix would have, on its side).
        """
        items = []
        self._read_all(path, list(clauses), prefix, prefix_optional, items)
        return items

    def _read_all(self, path, clauses, prefix, prefix_optional, items):
        pending = clauses
        while pending:
            if prefix and prefix in self._prefixes_too_big:
                prefix = None
            size = self.take(pending, prefix)
            self._read(path, pending[:size], prefix, prefix_optional, items)
            pending = pending[size:]

    def _read(self, path, batch, prefix, prefix_optional, items):
        text = join(batch, prefix)
        try:
            with self._lock:
                self.requests += 1
            found, _truncated = self.client.list_all(path, params={'$filter': text})
        except AtpApiError as error:
            kind = size_limit_kind(error)
            if kind is None:
                raise
            if len(batch) > 1:
                # Learn a smaller size, then re-plan the whole batch with it: the second half is not sent at a size
                # already known to be refused.
                self._learn(kind, text, join(batch[:(len(batch) + 1) // 2], prefix), error)
                with self._lock:
                    self.splits += 1
                self._read_all(path, batch, prefix, prefix_optional, items)
                return
            if prefix and prefix_optional:
                with self._lock:
                    self._prefixes_too_big.add(prefix)
                self._read_all(path, batch, None, False, items)
                return
            raise AtpApiError('%s The API refused even one clause (%s) for its size; this filter cannot be split further.'
                              % (error.message, text), **error.details)
        items.extend(found)

    def _learn(self, kind, refused_filter, half_filter, error):
        """Keep the next batches smaller than ``refused_filter``: within the limit the message names when it names one
        below the refused size (a hint only: messages are free text), else within the size of ``half_filter``."""
        with self._lock:
            if kind == 'nodes':
                refused = node_count(refused_filter)
                target = node_count(half_filter)
                match = _NODE_LIMIT_VALUE_RE.search(' '.join(str(p) for p in (error.api_message, error.message) if p))
                if match and int(match.group(1)) < refused:
                    target = int(match.group(1))
                self.max_nodes = min(self.max_nodes, max(1, target))
            else:
                self.max_chars = min(self.max_chars, max(1, len(quote_plus(half_filter))))
