"""The request log: what was called, by whom, with what result. Never a body, secret or token."""

import json
import threading
import time

# Query parameters whose values must never be logged, whichever endpoint they reach.
SENSITIVE = frozenset({"client_secret", "client_assertion", "password", "access_token", "refresh_token", "code",
                       "assertion", "id_token", "token", "secret", "sig"})
MAX_ENTRIES = 100000


class RequestLog:
    def __init__(self, path=None):
        self._entries = []
        self._seq = 0
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if path else None

    def add(self, request, status, duration):
        query = {}
        for key, value in request.query_pairs:
            query[key] = "[redacted]" if key.lower() in SENSITIVE else value
        entry = {
            "time": round(time.time(), 6), "method": request.method, "path": request.path, "query": query,
            "status": status, "client": request.client, "family": request.family, "duration_ms": round(duration * 1000, 3),
        }
        if request.grant_type is not None:
            entry["grant_type"] = request.grant_type
        if request.audience is not None:
            entry["audience"] = request.audience
        if getattr(request, "assertion", None) is not None:
            entry["assertion"] = request.assertion
        if request.fault is not None:
            entry["fault"] = request.fault
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            if len(self._entries) > MAX_ENTRIES:
                del self._entries[:len(self._entries) - MAX_ENTRIES]
            if self._file:
                self._file.write(json.dumps(entry) + "\n")
                self._file.flush()

    def entries(self, since=0):
        with self._lock:
            return [e for e in self._entries if e["seq"] > since]

    def clear(self):
        with self._lock:
            self._entries = []

    def close(self):
        if self._file:
            self._file.close()
            self._file = None
