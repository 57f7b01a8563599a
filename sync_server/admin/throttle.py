"""Slow down password guessing on the console login (per server process).

After MAX_FAILURES failed logins for the same admin name, or 4 × MAX_FAILURES from the
same client address (several admins may share one office address), within WINDOW_S
seconds, further tries for that name / address are refused (HTTP 429) until the window
has passed. A successful login clears the name's record.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

MAX_FAILURES = 5
WINDOW_S = 300.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def blocked(self, name: str, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return (len(self._recent(f"name:{name.lower()}", now)) >= self.max_failures
                    or len(self._recent(f"addr:{address}", now)) >= 4 * self.max_failures)

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in (f"name:{name.lower()}", f"addr:{address}"):
                self._failures[key].append(now)
            if len(self._failures) > 10_000:  # bounded memory under a spray of names
                oldest = min(self._failures, key=lambda k: self._failures[k][-1])
                del self._failures[oldest]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{name.lower()}", None)
