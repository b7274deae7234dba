# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Reading a collection for many values at once: ``clause or clause or ...`` filters sized in OData nodes.

The Defender API is ASP.NET OData. Its validator refuses a ``$filter`` of more than ``MaxNodeCount`` nodes (100 by
default; users of ASP.NET OData services meet it at about 17 ``or`` clauses), and a URL can be too long for the
front end (414, or a 400 that says so). Neither limit is documented for Defender (mde-api.md, "Facts added on
review"), so:

* batches are planned well under the default: at most ``MAX_FILTER_NODES`` nodes counted as ASP.NET counts them
  (``odata.node_count``) and ``MAX_FILTER_CHARS`` URL-encoded characters;
* when the server still refuses a batch for its size, the batch is split in halves and each half is read (again
  split if need be), and the smaller size is kept for the rest of the run. Only reads go through here: nothing is
  ever sent twice that could change anything.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import threading

from urllib.parse import quote_plus

from ansible_collections.defender.atp.plugins.module_utils import odata
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpApiError

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
    return odata.and_(prefix, group) if prefix else group


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

    def fits(self, clauses, prefix=None):
        text = join(clauses, prefix)
        return odata.node_count(text) <= self.max_nodes and len(quote_plus(text)) <= self.max_chars

    def take(self, clauses, prefix=None):
        """How many of ``clauses`` (at least one) the next batch holds."""
        prefix_nodes = odata.node_count(prefix) + 1 if prefix else 0
        base_chars = len(quote_plus(prefix + ' and ()')) if prefix else 2
        nodes, chars, count = prefix_nodes, base_chars, 0
        for clause in clauses:
            clause_nodes = odata.node_count(clause) + (1 if count else 0)  # each further clause adds an "or"
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
                refused = odata.node_count(refused_filter)
                target = odata.node_count(half_filter)
                match = _NODE_LIMIT_VALUE_RE.search(' '.join(str(p) for p in (error.api_message, error.message) if p))
                if match and int(match.group(1)) < refused:
                    target = int(match.group(1))
                self.max_nodes = min(self.max_nodes, max(1, target))
            else:
                self.max_chars = min(self.max_chars, max(1, len(quote_plus(half_filter))))
