"""Small shared helpers: time formats, ids and JSON."""

import calendar
import functools
import json
import re
import time
import uuid

TICKS_PER_SECOND = 10_000_000  # the API's timestamps carry 100 ns precision (7 fractional digits)


def iso7(epoch_seconds):
    """Epoch seconds -> ``2024-01-02T03:04:05.1234567Z`` (the API's own format)."""
    ticks = int(round(epoch_seconds * TICKS_PER_SECOND))
    return ticks_to_iso(ticks)


def ticks_to_iso(ticks):
    secs, frac = divmod(ticks, TICKS_PER_SECOND)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%07dZ" % frac


_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


@functools.lru_cache(maxsize=262144)
def parse_ticks(text):
    """ISO 8601 text -> integer 100 ns ticks since the epoch (UTC); None when it isn't a valid date.

    Cached: filters over thousands of entities parse the same timestamps again and again.
    """
    if not isinstance(text, str):
        return None
    match = _ISO_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        parts = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        if not (1 <= parts[1] <= 12 and 1 <= parts[2] <= 31 and parts[3] < 24 and parts[4] < 60 and parts[5] < 61):
            return None
        time.strptime("%04d-%02d-%02d" % parts[:3], "%Y-%m-%d")  # rejects 2024-02-31
    except ValueError:
        return None
    seconds = calendar.timegm(parts + (0, 0, 0))
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds * TICKS_PER_SECOND + int((frac or "0")[:7].ljust(7, "0"))


def new_guid():
    return str(uuid.uuid4())


GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(text):
    return isinstance(text, str) and bool(GUID_RE.match(text))


def dumps(obj):
    """Compact JSON as UTF-8 bytes (the services answer without whitespace)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
