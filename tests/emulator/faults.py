"""Injected faults: 5xx answers (with or without Retry-After), chosen error answers (such as 403 DisallowedOperation or
DisabledFeature for one operation, common-errors.md), slow answers and dropped connections."""

import itertools
import re


class FaultError(ValueError):
    pass


class FaultRule:
    _ids = itertools.count(1)

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise FaultError("a fault rule must be a JSON object")
        unknown = set(spec) - {"path", "method", "status", "retry_after", "body", "code", "message", "delay", "drop",
                               "times", "skip"}
        if unknown:
            raise FaultError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
        try:
            self.path = re.compile(spec.get("path") or ".*")
        except (re.error, TypeError) as exc:
            raise FaultError("path must be a regular expression: %s" % exc) from None
        self.method = (spec.get("method") or "").upper() or None
        self.status = spec.get("status")
        self.retry_after = spec.get("retry_after")
        self.body = spec.get("body")
        # The error code and message of the answer in the backend's error shape (instead of a whole ``body``).
        self.code = spec.get("code")
        self.message = spec.get("message")
        self.delay = float(spec.get("delay") or 0)
        self.drop = bool(spec.get("drop"))
        self.times = spec.get("times")
        self.skip = int(spec.get("skip") or 0)
        if self.status is not None and (not isinstance(self.status, int) or not 100 <= self.status <= 599):
            raise FaultError("status must be an HTTP status code")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 0):
            raise FaultError("times must be a non-negative integer or null")
        for name in ("code", "message"):
            value = spec.get(name)
            if value is not None and (not isinstance(value, str) or not value):
                raise FaultError("%s must be a non-empty string" % name)
        if (self.code or self.message) and (self.status is None or self.body is not None):
            raise FaultError("code and message need a status and no body")
        if self.status is None and not self.drop and not self.delay:
            raise FaultError("a fault needs at least one of status, drop or delay")
        self.id = next(self._ids)
        self.spec = dict(spec)
        self.seen = 0
        self.applied = 0

    def describe(self):
        return dict(self.spec, id=self.id, seen=self.seen, applied=self.applied)


class Faults:
    """Rules in insertion order; the first rule that applies to a request wins. Called under the state lock."""

    def __init__(self):
        self.rules = []

    def add(self, spec):
        rule = FaultRule(spec)
        self.rules.append(rule)
        return rule

    def clear(self):
        self.rules = []

    def match(self, method, path):
        for rule in self.rules:
            if rule.method and rule.method != method:
                continue
            if not rule.path.search(path):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            if rule.times is not None and rule.applied >= rule.times:
                continue
            rule.applied += 1
            return rule
        return None
