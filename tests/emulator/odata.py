"""OData query options for the Defender collections: $filter, $top, $skip, $orderby, $expand, $select, $count.

$filter has a small tokenizer and a recursive-descent parser (or < and < not < comparison), compiled into Python
closures checked against the entity's property types. Anything outside the supported subset is a 400 ODataError,
never a silent "match everything".
"""

import re

from .util import parse_ticks

MAX_TOP = 10000
# ASP.NET OData's ODataValidationSettings.MaxNodeCount default (mde-api.md, "Facts added on review").
DEFAULT_MAX_NODE_COUNT = 100
NODE_LIMIT_MESSAGE = ("The node count limit of '%d' has been exceeded. To increase the limit, set the 'MaxNodeCount' "
                      "property on EnableQueryAttribute or ODataValidationSettings.")

STRING, DATE, INT, BOOL, COLLECTION, NULL, GUID = "Edm.String", "Edm.DateTimeOffset", "Edm.Int64", "Edm.Boolean", \
    "Collection(Edm.String)", "null", "Edm.Guid"
CMP_OPS = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
           "le": "LessThanOrEqual"}
KNOWN_FUNCTIONS = {"contains", "endswith", "indexof", "length", "substring", "tolower", "toupper", "trim", "concat",
                   "year", "month", "day", "hour", "minute", "second", "date", "time", "now", "round", "floor",
                   "ceiling", "cast", "isof", "matchespattern"}


class ODataError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Prop:
    def __init__(self, name, edm=STRING, enum=None, filterable=False):
        self.name, self.edm, self.enum, self.filterable = name, edm, tuple(enum) if enum else None, filterable


class Schema:
    """Property types of one entity set; ``aliases`` maps extra accepted spellings to property names."""

    def __init__(self, type_name, props, aliases=None, expandable=()):
        self.type_name = type_name
        self.props = {p.name: p for p in props}
        self.aliases = dict(aliases or {})
        self.expandable = tuple(expandable)

    def lookup(self, name):
        return self.props.get(self.aliases.get(name, name))

    def no_such_property(self, name):
        return ODataError("Could not find a property named '%s' on type '%s'." % (name, self.type_name))


# -- tokenizer --------------------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?(?![\w:.-]))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),:/])
""", re.X)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            if text[pos] == "'":
                raise ODataError("Unterminated string literal at position %d in '%s'." % (pos, text))
            raise ODataError("Syntax error: character '%s' is not valid at position %d in '%s'." % (text[pos], pos, text))
        kind = match.lastgroup
        if kind != "space":
            tokens.append((kind, match.group(kind), pos))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


# -- parser -----------------------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset=0):
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, *words, offset=0):
        kind, value = self.peek(offset)[:2]
        return kind == "name" and value.lower() in words

    def expect(self, value):
        kind, got, pos = self.take()
        if got != value:
            found = "end of input" if kind == "end" else "'%s'" % got
            raise ODataError("Syntax error at position %d in '%s': expected '%s', found %s." % (pos, self.text, value, found))

    def error(self, token, what="an expression"):
        kind, value, pos = token
        found = "end of input" if kind == "end" else "'%s'" % value
        return ODataError("Syntax error at position %d in '%s': expected %s, found %s." % (pos, self.text, what, found))

    def parse(self):
        if self.peek()[0] == "end":
            raise ODataError("The $filter query option is empty: expected a boolean expression.")
        node = self.or_()
        if self.peek()[0] != "end":
            raise self.error(self.peek(), "'and', 'or' or the end of the expression")
        return node

    def or_(self):
        node = self.and_()
        while self.is_word("or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.is_word("and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.is_word("not"):
            self.take()
            return ("not", self.not_())
        return self.comparison()

    def comparison(self):
        left = self.primary()
        if self.peek()[0] == "name" and self.peek()[1].lower() in CMP_OPS:
            op = self.take()[1].lower()
            return ("cmp", op, left, self.primary())
        if self.is_word("in"):
            self.take()
            self.expect("(")
            items = [self.literal()]
            while self.peek()[1] == ",":
                self.take()
                items.append(self.literal())
            self.expect(")")
            return ("in", left, items)
        if self.peek()[0] == "name" and self.peek()[1].lower() in ("has", "add", "sub", "mul", "div", "mod"):
            raise ODataError("The operator '%s' is not supported in $filter by this API." % self.peek()[1])
        return left

    def literal(self):
        token = self.peek()
        node = self._literal(token)
        if node is None:
            raise self.error(token, "a literal value")
        self.take()
        return node

    @staticmethod
    def _literal(token):
        kind, value = token[:2]
        if kind == "string":
            return ("lit", STRING, value[1:-1].replace("''", "'"))
        if kind == "datetime":
            ticks = parse_ticks(value)
            if ticks is None:
                raise ODataError("The date/time literal '%s' is not valid." % value)
            return ("lit", DATE, ticks)
        if kind == "guid":
            return ("lit", GUID, value)
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return ("lit", INT, number)
        if kind == "name" and value.lower() in ("true", "false"):
            return ("lit", BOOL, value.lower() == "true")
        if kind == "name" and value.lower() == "null":
            return ("lit", NULL, None)
        return None

    def primary(self):
        token = self.peek()
        kind, value, pos = token
        if value == "(" and kind == "punct":
            self.take()
            node = self.or_()
            self.expect(")")
            return node
        literal = self._literal(token)
        if literal is not None:
            self.take()
            return literal
        if kind != "name":
            raise self.error(token)
        self.take()
        if self.peek()[1] == "(":
            self.take()
            args = []
            if self.peek()[1] != ")":
                args.append(self.or_())
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.or_())
            self.expect(")")
            return ("call", value, args, pos)
        if self.peek()[1] == "/":
            self.take()
            op_token = self.take()
            if op_token[0] != "name" or op_token[1].lower() not in ("any", "all"):
                raise self.error(op_token, "'any' or 'all' after '/'")
            self.expect("(")
            if self.peek()[1] == ")":
                self.take()
                return ("lambda", op_token[1].lower(), value, None, None)
            var = self.take()
            if var[0] != "name":
                raise self.error(var, "a lambda variable name")
            self.expect(":")
            body = self.or_()
            self.expect(")")
            return ("lambda", op_token[1].lower(), value, var[1], body)
        return ("ref", value, pos)


# -- compiler ---------------------------------------------------------------------------------------------------------
def _ordered(op, a, b):
    if a is None or b is None:
        return False
    try:
        if op == "gt":
            return a > b
        if op == "ge":
            return a >= b
        if op == "lt":
            return a < b
        return a <= b
    except TypeError:
        return False


class _Compiler:
    """AST -> (function(entity, lambda_value), edm type, enum values)."""

    def __init__(self, schema):
        self.schema = schema

    def boolean(self, node, scope=None):
        fn, edm = self.compile(node, scope or {})[:2]
        if edm != BOOL:
            raise ODataError("The $filter expression must evaluate to a single boolean value; found %s." % edm)
        return fn

    def compile(self, node, scope):
        kind = node[0]
        if kind in ("or", "and"):
            left, right = self.boolean(node[1], scope), self.boolean(node[2], scope)
            if kind == "or":
                return (lambda e, v: bool(left(e, v) or right(e, v))), BOOL, None
            return (lambda e, v: bool(left(e, v) and right(e, v))), BOOL, None
        if kind == "not":
            inner = self.boolean(node[1], scope)
            return (lambda e, v: not inner(e, v)), BOOL, None
        if kind == "lit":
            value = node[2]
            return (lambda e, v: value), node[1], None
        if kind == "ref":
            return self.reference(node[1], scope)
        if kind == "cmp":
            return self.comparison(node, scope)
        if kind == "in":
            return self.membership(node, scope)
        if kind == "call":
            return self.call(node, scope)
        if kind == "lambda":
            return self.lambda_(node, scope)
        raise ODataError("Unsupported expression in $filter.")

    def reference(self, name, scope):
        if name in scope:
            return (lambda e, v: v), STRING, None
        prop = self.schema.lookup(name)
        if prop is None:
            raise self.schema.no_such_property(name)
        if not prop.filterable:
            raise ODataError("The property '%s' cannot be used in the $filter query option." % name)
        key = prop.name
        if prop.edm == DATE:
            return (lambda e, v: parse_ticks(e.get(key))), DATE, None
        return (lambda e, v: e.get(key)), prop.edm, prop.enum

    def comparison(self, node, scope):
        op, left_node, right_node = node[1:]
        left, ltype, lenum = self.compile(left_node, scope)
        right, rtype, renum = self.compile(right_node, scope)
        self.check_types(op, ltype, rtype)
        self.check_enum(lenum, right_node)
        self.check_enum(renum, left_node)
        if op == "eq":
            return (lambda e, v: left(e, v) == right(e, v)), BOOL, None
        if op == "ne":
            return (lambda e, v: left(e, v) != right(e, v)), BOOL, None
        return (lambda e, v: _ordered(op, left(e, v), right(e, v))), BOOL, None

    @staticmethod
    def check_types(op, ltype, rtype):
        if COLLECTION in (ltype, rtype):
            raise ODataError("A collection property cannot be compared directly; use any(), e.g. machineTags/any(t: t eq 'x').")
        if NULL in (ltype, rtype):
            return
        norm = {GUID: STRING}
        a, b = norm.get(ltype, ltype), norm.get(rtype, rtype)
        if a != b:
            raise ODataError("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' "
                             "for operator kind '%s'." % (ltype, rtype, CMP_OPS[op]))
        if a == BOOL and op not in ("eq", "ne"):
            raise ODataError("Operator '%s' is not defined for Edm.Boolean operands." % op)

    @staticmethod
    def check_enum(enum, other_node):
        if enum and other_node[0] == "lit" and other_node[1] == STRING and other_node[2] not in enum:
            raise ODataError("The string '%s' is not a valid enumerated type constant. Valid values (case-sensitive): %s."
                             % (other_node[2], ", ".join(enum)))

    def membership(self, node, scope):
        left_node, items = node[1:]
        left, ltype, lenum = self.compile(left_node, scope)
        values = []
        for item in items:
            self.check_types("eq", ltype, item[1])
            self.check_enum(lenum, item)
            values.append(item[2])
        frozen = frozenset(v for v in values if v is not None)
        has_null = any(v is None for v in values)

        def member(e, v):
            value = left(e, v)
            return has_null if value is None else value in frozen
        return member, BOOL, None

    def call(self, node, scope):
        name, args, pos = node[1:]
        lowered = name.lower()
        if lowered == "startswith":
            if len(args) != 2:
                raise ODataError("The function 'startswith' takes exactly two arguments.")
            first, ftype = self.compile(args[0], scope)[:2]
            second, stype = self.compile(args[1], scope)[:2]
            if ftype not in (STRING, GUID) or stype not in (STRING, GUID):
                raise ODataError("No function signature for the function with name 'startswith' matches the specified "
                                 "arguments. The function signatures considered are: startswith(Edm.String, Edm.String).")

            def starts(e, v):
                a, b = first(e, v), second(e, v)
                return isinstance(a, str) and isinstance(b, str) and a.startswith(b)
            return starts, BOOL, None
        if lowered in KNOWN_FUNCTIONS:
            raise ODataError("The function '%s' is not supported in $filter by this API (supported: startswith)." % name)
        raise ODataError("An unknown function with name '%s' was found at position %d." % (name, pos))

    def lambda_(self, node, scope):
        op, field, var, body = node[1:]
        prop = self.schema.lookup(field)
        if prop is None:
            raise self.schema.no_such_property(field)
        if prop.edm != COLLECTION:
            raise ODataError("The '%s' operator can only be applied to a collection; '%s' is %s." % (op, field, prop.edm))
        if not prop.filterable:
            raise ODataError("The property '%s' cannot be used in the $filter query option." % field)
        key = prop.name
        if body is None:
            if op == "all":
                raise ODataError("all() requires a lambda expression.")
            return (lambda e, v: bool(e.get(key))), BOOL, None
        inner = self.boolean(body, dict(scope, **{var: True}))
        if op == "any":
            return (lambda e, v: any(inner(e, item) for item in (e.get(key) or ()))), BOOL, None
        return (lambda e, v: all(inner(e, item) for item in (e.get(key) or ()))), BOOL, None


def node_count(node, scope=frozenset()):
    """Nodes of a parsed ``$filter`` as ASP.NET OData's FilterQueryValidator counts them against MaxNodeCount.

    OData/WebApi's FilterQueryValidator.ValidateQueryNode counts every node it visits: a binary operator (eq, and,
    or, ...), a unary ``not``, a constant, a function call (then its arguments), an any/all node (then its source and
    body), and for a property both the property-access node and the range variable (``$it``) it is read from; a
    lambda variable is one range-variable node. So ``p eq 'v'`` is 4 and ``tags/any(t: t eq 'v')`` 6. ``in`` is one
    node there (its list is not visited). Convert nodes that ODL inserts between differently typed operands are not
    modelled (this parser has no such types).
    """
    kind = node[0]
    if kind in ("or", "and"):
        return 1 + node_count(node[1], scope) + node_count(node[2], scope)
    if kind == "not":
        return 1 + node_count(node[1], scope)
    if kind == "cmp":
        return 1 + node_count(node[2], scope) + node_count(node[3], scope)
    if kind == "lit":
        return 1
    if kind == "ref":
        return 1 if node[1] in scope else 2
    if kind == "in":
        return 1
    if kind == "call":
        return 1 + sum(node_count(arg, scope) for arg in node[2])
    if kind == "lambda":
        body = node[4]
        inner = 0 if body is None or body[0] == "lit" else node_count(body, scope | {node[3]})
        return 1 + 2 + inner
    return 1


def compile_filter(text, schema, max_node_count=None):
    """``$filter`` text -> predicate(entity) -> bool. Raises ODataError (a node count over ``max_node_count`` too)."""
    tree = _Parser(text).parse()
    fn = _Compiler(schema).boolean(tree)  # ODL binds properties while parsing; the validator counts nodes after
    if max_node_count is not None and node_count(tree) > max_node_count:
        raise ODataError(NODE_LIMIT_MESSAGE % max_node_count)
    return lambda entity: fn(entity, None)


# -- query options ----------------------------------------------------------------------------------------------------
class Query:
    def __init__(self):
        self.predicate = None
        self.top = None
        self.skip = 0
        self.orderby = []
        self.expand = set()
        self.select = None
        self.count = False
        self.total = 0


def _non_negative(name, value):
    if not re.fullmatch(r"\d+", value.strip()):
        raise ODataError("Invalid value '%s' for %s query option found. The %s query option requires a non-negative "
                         "integer value." % (value, name, name))
    return int(value)


def parse_query(pairs, schema, max_node_count=None):
    """Parse the ``$`` options of a collection request. Non-``$`` parameters are ignored, as OData does.

    ``max_node_count`` (None: no limit) refuses a ``$filter`` of more nodes, as ASP.NET OData's validator does.
    """
    query, seen = Query(), set()
    for raw_name, value in pairs:
        if not raw_name.startswith("$"):
            continue
        name = raw_name.lower()
        if name in seen:
            raise ODataError("Query option '%s' was specified more than once, but it must be specified at most once." % raw_name)
        seen.add(name)
        if name == "$filter":
            query.predicate = compile_filter(value, schema, max_node_count)
        elif name == "$top":
            top = _non_negative("$top", value)
            if top > MAX_TOP:
                raise ODataError("The limit of '%d' for Top query has been exceeded. The value from the incoming request "
                                 "is '%d'." % (MAX_TOP, top))
            query.top = top
        elif name == "$skip":
            query.skip = _non_negative("$skip", value)
        elif name == "$orderby":
            query.orderby = _orderby(value, schema)
        elif name == "$expand":
            for item in (v.strip() for v in value.split(",")):
                if item not in schema.expandable:
                    raise ODataError("Could not find a navigation property named '%s' on type '%s' to expand (expandable: "
                                     "%s)." % (item, schema.type_name, ", ".join(schema.expandable) or "none"))
                query.expand.add(item)
        elif name == "$select":
            query.select = []
            for item in (v.strip() for v in value.split(",")):
                prop = schema.lookup(item)
                if prop is None:
                    raise schema.no_such_property(item)
                query.select.append(prop.name)
        elif name == "$count":
            if value.lower() not in ("true", "false"):
                raise ODataError("'%s' is not a valid count option; use true or false." % value)
            query.count = value.lower() == "true"
        elif name == "$format":
            if value.lower() not in ("json", "application/json"):
                raise ODataError("The format '%s' is not supported; only json is." % value)
        else:
            raise ODataError("The query parameter '%s' is not supported." % raw_name)
    return query


def _orderby(value, schema):
    keys = []
    for clause in value.split(","):
        words = clause.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError("Syntax error in $orderby clause '%s': expected '<property> [asc|desc]'." % clause.strip())
        prop = schema.lookup(words[0])
        if prop is None:
            raise schema.no_such_property(words[0])
        if prop.edm not in (STRING, DATE, INT, BOOL):
            raise ODataError("The $orderby expression must evaluate to a single value of primitive type; '%s' is %s."
                             % (words[0], prop.edm))
        keys.append((prop, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def execute(items, query):
    """Apply filter, order, skip and top; returns (page, total_matching)."""
    matched = [item for item in items if query.predicate(item)] if query.predicate else list(items)
    for prop, descending in reversed(query.orderby):  # stable sorts, last key first
        key = prop.name
        if prop.edm == DATE:
            matched.sort(key=lambda item: (item.get(key) is not None, parse_ticks(item.get(key)) or 0), reverse=descending)
        else:
            matched.sort(key=lambda item: (item.get(key) is not None, _sortable(item.get(key))), reverse=descending)
    total = len(matched)
    top = MAX_TOP if query.top is None else query.top
    return matched[query.skip:query.skip + top], total


def _sortable(value):
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, "" if value is None else str(value))


def project(entity, select):
    return {key: entity.get(key) for key in select} if select else entity
