"""Sliding-window quotas per (tenant, application, endpoint family), per minute and per hour."""

import bisect
import math

WINDOWS = (("per_minute", 60.0), ("per_hour", 3600.0))


def format_window(seconds):
    seconds = max(1, int(round(seconds)))
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class Throttled:
    def __init__(self, limit, window_seconds, retry_after):
        self.limit = limit
        self.window_seconds = window_seconds
        self.retry_after = retry_after  # whole seconds, >= 1
        self.plain = False  # config throttle_message "plain": a message that names no numbers

    @property
    def message(self):
        if self.plain:
            return "Rate limit is exceeded. Try again later."
        return "API calls quota exceeded! maximum allowed %d per %s. Try again in %d seconds." % (
            self.limit, format_window(self.window_seconds), self.retry_after)


class RateLimiter:
    """Not thread-safe on its own: the emulator calls it under its single state lock."""

    def __init__(self):
        self._hits = {}  # (tenant, app, family) -> sorted list of accepted-call times

    def reset(self):
        self._hits.clear()

    def check(self, key, limits, scale, now):
        """Count a call and return None, or return Throttled (the call is not counted: only served calls use quota)."""
        if not limits:
            return None
        hits = self._hits.setdefault(key, [])
        longest = max(window[1] for window in WINDOWS) * scale
        drop = bisect.bisect_right(hits, now - longest)
        if drop:
            del hits[:drop]
        worst = None
        for name, seconds in WINDOWS:
            limit = limits.get(name)
            if not limit:
                continue
            window = seconds * scale
            start = bisect.bisect_right(hits, now - window)
            count = len(hits) - start
            if count >= limit:
                # The call fits again once the (count - limit + 1)-th oldest call in the window has left it.
                expires = hits[start + count - limit] + window
                retry = max(1, int(math.ceil(expires - now)))
                if worst is None or retry > worst.retry_after:
                    worst = Throttled(limit, window, retry)
        if worst:
            return worst
        hits.append(now)
        return None
