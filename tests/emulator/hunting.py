"""Advanced hunting: the tables and a small KQL subset, shared by /api/advancedqueries/run and Graph runHuntingQuery.

Supported: ``<Table>`` then any of ``| where <cond>`` (==, !=, =~, !~, contains, !contains, contains_cs, has, !has,
startswith, endswith, in, !in, in~, <, <=, >, >=, and/or/not, ago(), datetime(), now()), ``| take N``/``| limit N``,
``| project a, b, c = d``, ``| count``, ``| order by``/``| sort by X [asc|desc]``, ``| top N by X [asc|desc]``,
``| summarize [name =] count() [by a, b]``, ``| distinct a, b``. ``//`` comments and line breaks are fine. Any
other operator is a 400 (never silently ignored), as is an unknown table or column.
"""

import json
import operator
import random
import re
import threading

from .util import TICKS_PER_SECOND, parse_ticks, ticks_to_iso

MAX_ROWS = 100000  # run-advanced-query-api.md: at most 100,000 rows


class HuntingError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# -- tables ---------------------------------------------------------------------------------------------------------
PROCESS_COLUMNS = [("Timestamp", "DateTime"), ("DeviceId", "String"), ("DeviceName", "String"), ("ActionType", "String"),
                   ("FileName", "String"), ("FolderPath", "String"), ("ProcessId", "Int64"),
                   ("ProcessCommandLine", "String"), ("AccountName", "String"), ("InitiatingProcessFileName", "String"),
                   ("ReportId", "Int64")]
DEVICE_COLUMNS = [("Timestamp", "DateTime"), ("DeviceId", "String"), ("DeviceName", "String"), ("OSPlatform", "String"),
                  ("OSBuild", "Int64"), ("PublicIP", "String"), ("IsAzureADJoined", "Boolean"),
                  ("OnboardingStatus", "String"), ("MachineGroup", "String"), ("ExposureLevel", "String")]
ALERT_COLUMNS = [("Timestamp", "DateTime"), ("AlertId", "String"), ("Title", "String"), ("Category", "String"),
                 ("Severity", "String"), ("ServiceSource", "String"), ("DetectionSource", "String"),
                 ("AttackTechniques", "String")]

# FileName, FolderPath, ProcessCommandLine ({u} user, {n} number), InitiatingProcessFileName. Command lines carry
# commas, double quotes and line breaks so CSV and JSON writers get exercised.
WINDOWS_PROCESSES = [
    ("csc.exe", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
     '"csc.exe" /noconfig /fullpaths @"C:\\Users\\{u}\\AppData\\Local\\Temp\\{n}.cmdline"', "powershell.exe"),
    ("cmd.exe", "C:\\Windows\\System32\\cmd.exe", 'cmd.exe /c "echo alpha,beta,gamma > C:\\temp\\out-{n}.csv"', "powershell.exe"),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     'powershell.exe -NoProfile -Command "Get-Process | Where-Object { $_.CPU -gt {n} } | Select-Object Name, Id"', "explorer.exe"),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     'powershell.exe -ExecutionPolicy Bypass -Command "Write-Output \\"line 1\\"\nWrite-Output \\"line 2, {n}\\""', "cmd.exe"),
    ("rundll32.exe", "C:\\Windows\\SysWOW64\\rundll32.exe", "rundll32.exe  c:\\temp\\suspicious.dll,RepeatAfterMe", "rundll32.exe"),
    ("notepad.exe", "C:\\Windows\\System32\\notepad.exe", 'notepad.exe "C:\\Users\\{u}\\Documents\\notes, draft {n}.txt"', "explorer.exe"),
    ("conhost.exe", "C:\\Windows\\System32\\conhost.exe", "conhost.exe 0xffffffff -ForceV1", "powershell.exe"),
    ("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "userinit.exe"),
]
UNIX_PROCESSES = [
    ("bash", "/usr/bin/bash", 'bash -c "curl -s https://example.invalid/install.sh | sh"', "sshd"),
    ("python3", "/usr/bin/python3", "python3 -c 'print(\"a,b,{n}\")'", "bash"),
    ("zsh", "/bin/zsh", "zsh -l", "launchd"),
    ("sudo", "/usr/bin/sudo", "sudo iptables -L -n\n--line-numbers", "bash"),
]
USERS = ("alice", "bob", "carol", "dave", "erin", "system", "svc-backup")


class Table:
    def __init__(self, name, columns, rows_fn):
        self.name = name
        self.columns = columns
        self._rows_fn = rows_fn
        self._rows = None
        self._lock = threading.Lock()

    @property
    def rows(self):
        """Rows as tuples in column order (timestamps as ticks); built on first use, then cached."""
        if self._rows is None:
            with self._lock:
                if self._rows is None:
                    self._rows = self._rows_fn()
        return self._rows


def process_events(machines, count, seed, now):
    """``count`` DeviceProcessEvents rows over the last 30 days, newest first."""
    rng = random.Random(seed * 7919 + count)
    rand = rng.random
    devices = [(m["id"], m["computerDnsName"].split(".")[0].lower(), m["osPlatform"].startswith("Windows"))
               for m in machines if m.get("onboardingStatus") == "Onboarded"][:5000] or [("0" * 40, "unknown", True)]
    span = 30 * 86400 * TICKS_PER_SECOND
    now_ticks = int(now * TICKS_PER_SECOND)
    step = span // max(count, 1)
    rows = []
    ndev, nwin, nunix, nusers = len(devices), len(WINDOWS_PROCESSES), len(UNIX_PROCESSES), len(USERS)
    for i in range(count):
        device_id, device_name, windows = devices[int(rand() * ndev)]
        if windows:
            file_name, folder, command, parent = WINDOWS_PROCESSES[int(rand() * nwin)]
        else:
            file_name, folder, command, parent = UNIX_PROCESSES[int(rand() * nunix)]
        user = USERS[int(rand() * nusers)]
        if "{" in command:
            command = command.replace("{u}", user).replace("{n}", str(i))
        rows.append((now_ticks - i * step - int(rand() * step), device_id, device_name, "ProcessCreated", file_name, folder,
                     1000 + int(rand() * 60000), command, user, parent, 10000 + i))
    return rows


def device_info(machines):
    rows = []
    for m in machines:
        rows.append((parse_ticks(m.get("lastSeen")), m.get("id"), m.get("computerDnsName"), m.get("osPlatform"),
                     m.get("osBuild"), m.get("lastExternalIpAddress"), m.get("isAadJoined"), m.get("onboardingStatus"),
                     m.get("rbacGroupName"), m.get("exposureLevel")))
    return rows


def alert_info(alerts):
    return [(parse_ticks(a.get("alertCreationTime")), a.get("id"), a.get("title"), a.get("category"), a.get("severity"),
             "Microsoft Defender for Endpoint", a.get("detectionSource"), json.dumps(a.get("mitreTechniques") or []))
            for a in alerts]


def rows_from_documents(columns, documents):
    """Rows from a data file's row objects (missing columns are null; DateTime columns accept ISO text)."""
    out = []
    for doc in documents:
        row = []
        for name, kind in columns:
            value = doc.get(name)
            row.append(parse_ticks(value) if kind == "DateTime" and isinstance(value, str) else value)
        out.append(tuple(row))
    return out


def build_tables(dataset, machines, alerts, now):
    files = dataset.hunting
    tables = {}
    for name, columns, default in (
            ("DeviceProcessEvents", PROCESS_COLUMNS, lambda: process_events(machines, dataset.process_rows, dataset.seed, now)),
            ("DeviceInfo", DEVICE_COLUMNS, lambda: device_info(machines)),
            ("AlertInfo", ALERT_COLUMNS, lambda: alert_info(alerts))):
        if name in files:
            docs = files[name]
            tables[name] = Table(name, columns, lambda c=columns, d=docs: rows_from_documents(c, d))
        else:
            tables[name] = Table(name, columns, default)
    return tables


# -- tokenizer --------------------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>@?"(?:[^"\\]|\\.)*"|@?'(?:[^'\\]|\\.)*')
  | (?P<datetime>datetime\(\s*[^)]*\))
  | (?P<timespan>\d+(?:\.\d+)?(?:ms|d|h|m|s)\b)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<op>==|!=|=~|!~|>=|<=|>|<|=)
  | (?P<word>!?[A-Za-z_][A-Za-z0-9_\-]*~?)
  | (?P<punct>[(),])
""", re.X)
_SPAN_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def _tokens(text):
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise HuntingError("Syntax error: unexpected character '%s' in '%s'." % (text[pos], text.strip()))
        if match.lastgroup != "space":
            out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


def _string_value(token):
    raw = token
    verbatim = raw.startswith("@")
    body = raw[2:-1] if verbatim else raw[1:-1]
    if verbatim:
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


def _span_ticks(text):
    number, unit = re.match(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)", text).groups()
    return int(float(number) * _SPAN_UNITS[unit] * TICKS_PER_SECOND)


def split_pipes(query):
    """Split on ``|`` outside string literals, dropping ``//`` comments."""
    parts, current, quote, i = [], [], None, 0
    while i < len(query):
        ch = query[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(query):
                current.append(query[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == "/" and query[i:i + 2] == "//":
            while i < len(query) and query[i] != "\n":
                i += 1
            continue
        elif ch == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise HuntingError("Syntax error: unterminated string literal.")
    parts.append("".join(current))
    return [p.strip() for p in parts]


# -- where expressions ------------------------------------------------------------------------------------------------
def _either(first, second):
    return lambda row: first(row) or second(row)


def _both(first, second):
    return lambda row: first(row) and second(row)


class _Where:
    def __init__(self, tokens, columns, now_ticks):
        self.t = tokens
        self.i = 0
        self.index = {name: (n, kind) for n, (name, kind) in enumerate(columns)}
        self.now = now_ticks

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("end", "")

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def parse(self):
        fn = self.or_()
        if self.peek()[0] != "end":
            raise HuntingError("Syntax error near '%s' in the where clause." % self.peek()[1])
        return fn

    def or_(self):
        left = self.and_()
        while self.peek() == ("word", "or"):
            self.take()
            left = _either(left, self.and_())
        return left

    def and_(self):
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            left = _both(left, self.unary())
        return left

    def unary(self):
        if self.peek() == ("word", "not"):
            self.take()
            self.expect("(")
            inner = self.or_()
            self.expect(")")
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_()
            self.expect(")")
            return inner
        return self.comparison()

    def expect(self, value):
        token = self.take()
        if token[1] != value:
            raise HuntingError("Syntax error: expected '%s' but found '%s'." % (value, token[1] or "end of query"))

    def operand(self):
        kind, value = self.take()
        if kind == "string":
            return ("const", _string_value(value))
        if kind == "number":
            return ("const", float(value) if "." in value else int(value))
        if kind == "timespan":
            return ("const", _span_ticks(value))
        if kind == "datetime":
            text = value[value.index("(") + 1:-1].strip().strip("\"'")
            ticks = parse_ticks(text)
            if ticks is None:
                raise HuntingError("datetime(%s) is not a valid date." % text)
            return ("const", ticks)
        if kind == "word":
            lowered = value.lower()
            if lowered in ("true", "false"):
                return ("const", lowered == "true")
            if self.peek() == ("punct", "("):
                return ("const", self.function(lowered))
            if value not in self.index:
                raise HuntingError("Failed to resolve scalar expression named '%s'" % value)
            return ("column",) + self.index[value]
        raise HuntingError("Syntax error: unexpected '%s' in the where clause." % (value or "end of query"))

    def function(self, name):
        self.take()
        if name == "ago":
            span = self.take()
            if span[0] != "timespan":
                raise HuntingError("ago() expects a timespan such as 7d or 12h.")
            self.expect(")")
            return self.now - _span_ticks(span[1])
        if name == "now":
            self.expect(")")
            return self.now
        raise HuntingError("The function '%s' is not supported by the emulator's KQL subset." % name)

    def comparison(self):
        left = self.operand()
        op_kind, op = self.take()
        if op_kind not in ("op", "word"):
            raise HuntingError("Syntax error: expected a comparison operator, found '%s'." % (op or "end of query"))
        if op in ("in", "!in", "in~", "!in~"):
            self.expect("(")
            values = [self.operand()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.operand())
            self.expect(")")
            if any(v[0] != "const" for v in values):
                raise HuntingError("in() accepts constants only.")
            return self.membership(left, op, [v[1] for v in values])
        right = self.operand()
        return self.binary(left, op, right)

    @staticmethod
    def getter(operand):
        if operand[0] == "const":
            value = operand[1]
            return lambda r: value
        index = operand[1]
        return lambda r: r[index]

    def coerce(self, left, right):
        """A DateTime column compared with a string literal compares as a date (KQL would need datetime())."""
        if left[0] == "column" and left[2] == "DateTime" and right[0] == "const" and isinstance(right[1], str):
            ticks = parse_ticks(right[1])
            if ticks is None:
                raise HuntingError("Cannot compare DateTime column with '%s'." % right[1])
            return ("const", ticks)
        return right

    def binary(self, left, op, right):
        coerced_right = self.coerce(left, right)
        coerced_left = self.coerce(coerced_right, left)
        a, b = self.getter(coerced_left), self.getter(coerced_right)
        if op == "==":
            return lambda r: a(r) == b(r)
        if op == "!=":
            return lambda r: a(r) != b(r)
        if op in ("=~", "!~"):
            neg = op == "!~"
            return lambda r: (str(a(r)).lower() == str(b(r)).lower()) != neg
        if op in (">", ">=", "<", "<="):
            fn = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}[op]

            def ordered(r):
                x, y = a(r), b(r)
                if x is None or y is None:
                    return False
                try:
                    return fn(x, y)
                except TypeError:
                    return False
            return ordered
        text_ops = {"contains": lambda x, y: y.lower() in x.lower(), "contains_cs": lambda x, y: y in x,
                    "startswith": lambda x, y: x.lower().startswith(y.lower()),
                    "endswith": lambda x, y: x.lower().endswith(y.lower()),
                    "startswith_cs": lambda x, y: x.startswith(y), "endswith_cs": lambda x, y: x.endswith(y),
                    "has": lambda x, y: re.search(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(y), x, re.I) is not None,
                    "has_cs": lambda x, y: re.search(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(y), x) is not None}
        negate = op.startswith("!")
        base = op[1:] if negate else op
        if base in text_ops:
            fn = text_ops[base]
            return lambda r: (isinstance(a(r), str) and isinstance(b(r), str) and fn(a(r), b(r))) != negate
        raise HuntingError("The operator '%s' is not supported by the emulator's KQL subset." % op)

    def membership(self, left, op, values):
        a = self.getter(left)
        negate = op.startswith("!")
        if op.endswith("~"):
            lowered = {str(v).lower() for v in values}
            return lambda r: (str(a(r)).lower() in lowered) != negate
        frozen = set(values)
        return lambda r: (a(r) in frozen) != negate


# -- the pipeline -----------------------------------------------------------------------------------------------------
def _column_list(text, columns, allow_assign=False):
    names = {column[0]: n for n, column in enumerate(columns)}
    picks = []
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            raise HuntingError("Syntax error: empty column name in '%s'." % text)
        alias, source = raw.partition("=")[::2] if allow_assign and "=" in raw else (raw, raw)
        alias, source = alias.strip(), source.strip()
        if source not in names:
            raise HuntingError("Failed to resolve scalar expression named '%s'" % source)
        picks.append((alias, names[source], columns[names[source]][1]))
    return picks


def _order_keys(text, columns):
    keys = []
    for clause in (c.strip() for c in text.split(",")):
        words = clause.split()
        if not words or len(words) > 4:
            raise HuntingError("Syntax error in order by clause '%s'." % clause)
        names = [column[0] for column in columns]
        if words[0] not in names:
            raise HuntingError("Failed to resolve scalar expression named '%s'" % words[0])
        keys.append((names.index(words[0]), not (len(words) > 1 and words[1].lower() == "asc")))
    return keys


def _sort(rows, keys):
    for index, descending in reversed(keys):
        rows.sort(key=lambda r: (r[index] is not None, r[index] if r[index] is not None else 0), reverse=descending)
    return rows


def run(query, tables, now, timespan_seconds=None):
    """Run ``query``; returns (columns, rows, scanned_rows). Rows are tuples, DateTime values as ticks."""
    if not isinstance(query, str) or not query.strip():
        raise HuntingError("The query is empty.")
    stages = split_pipes(query)
    head = stages[0].strip().rstrip(";")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head or ""):
        raise HuntingError("Query could not be parsed: expected a table name, found '%s'. The emulator supports "
                           "'<Table> | operator | ...' queries only (no let statements or joins)." % head[:80])
    table = tables.get(head)
    if table is None:
        raise HuntingError("Failed to resolve table or column expression named '%s'" % head)
    columns = list(table.columns)
    now_ticks = int(now * TICKS_PER_SECOND)
    rows = table.rows
    scanned = len(rows)
    if timespan_seconds is not None and columns and columns[0][0] == "Timestamp":
        floor = now_ticks - int(timespan_seconds * TICKS_PER_SECOND)
        rows = [r for r in rows if r[0] is not None and r[0] >= floor]
    copied = False
    for stage in stages[1:]:
        match = re.match(r"([A-Za-z][A-Za-z\-]*)(?:\s+(by)\b)?\s*(.*)$", stage, re.S)
        if not match:
            raise HuntingError("Query could not be parsed at '%s'." % stage[:80])
        word, rest = match.group(1).lower(), match.group(3).strip()
        if match.group(2) and word in ("order", "sort"):
            word = "order"
        if word == "where":
            predicate = _Where(_tokens(rest), columns, now_ticks).parse()
            rows = [r for r in rows if predicate(r)]
            copied = True
        elif word in ("take", "limit"):
            if not re.fullmatch(r"\d+", rest):
                raise HuntingError("%s expects a row count, found '%s'." % (word, rest))
            rows = rows[:int(rest)]
            copied = True
        elif word == "project":
            picks = _column_list(rest, columns, allow_assign=True)
            rows = [tuple(r[pick[1]] for pick in picks) for r in rows]
            columns = [(pick[0], pick[2]) for pick in picks]
            copied = True
        elif word == "count":
            if rest:
                raise HuntingError("Syntax error: count takes no arguments.")
            rows, columns = [(len(rows),)], [("Count", "Int64")]
        elif word == "order":
            if not copied:
                rows, copied = list(rows), True
            rows = _sort(rows, _order_keys(rest, columns))
        elif word == "top":
            top = re.fullmatch(r"(\d+)\s+by\s+(.+)", rest, re.S)
            if not top:
                raise HuntingError("Syntax error: expected 'top N by Column [asc|desc]'.")
            rows = _sort(list(rows), _order_keys(top.group(2), columns))[:int(top.group(1))]
            copied = True
        elif word == "summarize":
            rows, columns = _summarize(rest, rows, columns)
            copied = True
        elif word == "distinct":
            picks = _column_list(rest, columns)
            seen, out = set(), []
            for r in rows:
                key = tuple(r[pick[1]] for pick in picks)
                if key not in seen:
                    seen.add(key)
                    out.append(key)
            rows, columns = out, [(pick[0], pick[2]) for pick in picks]
            copied = True
        else:
            raise HuntingError("Query could not be parsed: the operator '%s' is not supported by the emulator's KQL "
                               "subset (where, take, limit, project, count, order by, sort by, top, summarize count(), "
                               "distinct)." % match.group(1))
    return columns, rows[:MAX_ROWS], scanned


def _summarize(text, rows, columns):
    match = re.fullmatch(r"(?:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?count\(\s*\)(?:\s+by\s+(.+))?", text.strip(), re.S)
    if not match:
        raise HuntingError("Syntax error: the emulator supports 'summarize [Name =] count() [by Column, ...]' only.")
    alias = match.group(1) or "count_"
    if not match.group(2):
        return [(len(rows),)], [(alias, "Int64")]
    picks = _column_list(match.group(2), columns)
    counts = {}
    for r in rows:
        key = tuple(r[pick[1]] for pick in picks)
        counts[key] = counts.get(key, 0) + 1
    return [key + (n,) for key, n in counts.items()], [(pick[0], pick[2]) for pick in picks] + [(alias, "Int64")]


def results(columns, rows):
    """Rows as JSON-ready objects (DateTime ticks rendered as the API's ISO text)."""
    names = [column[0] for column in columns]
    dates = [i for i, column in enumerate(columns) if column[1] == "DateTime"]
    out = []
    if dates:
        for r in rows:
            values = list(r)
            for i in dates:
                if values[i] is not None:
                    values[i] = ticks_to_iso(values[i])
            out.append(dict(zip(names, values)))
    else:
        out = [dict(zip(names, r)) for r in rows]
    return out


def schema(columns, case):
    """``[{"Name", "Type"}]`` or ``[{"name", "type"}]`` as ``case`` says ("upper" or "lower")."""
    if case == "upper":
        return [{"Name": n, "Type": k} for n, k in columns]
    return [{"name": n, "type": k} for n, k in columns]


def stats(elapsed, scanned, size):
    cpu = "00:00:%010.7f" % min(elapsed, 59.0)
    return {"ExecutionTime": round(elapsed, 6),
            "resource_usage": {"cache": {"memory": {"hits": scanned // 10, "misses": 0, "total": scanned // 10},
                                         "disk": {"hits": 0, "misses": 0, "total": 0}},
                               "cpu": {"user": cpu, "kernel": "00:00:00", "total cpu": cpu},
                               "memory": {"peak_per_node": 3146640 + size}},
            "dataset_statistics": [{"table_row_count": scanned, "table_size": scanned * 180}]}
