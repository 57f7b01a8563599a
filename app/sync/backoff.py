"""Retry policy: exponential backoff with full jitter.

Why full jitter: after a facility's Wi-Fi comes back, every docked tablet retries at
once; a random delay in ``[0, min(cap, base * factor**n)]`` spreads them out (the AWS
"exponential backoff and jitter" result) instead of having them hit the server in waves.
`sleep` and `rand` are injectable so tests run without waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RetryPolicy:
    attempts: int = 4             # tries in total (1 = no retry)
    base: float = 0.5             # seconds, first delay cap
    factor: float = 2.0
    cap: float = 10.0             # longest delay between two tries
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("base and cap must be >= 0, factor >= 1")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based). A server's Retry-After
        is honoured but never beyond `cap`."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.cap)
        ceiling = min(self.cap, self.base * self.factor ** retry)
        return ceiling * self.rand()

    def wait(self, retry: int, retry_after: float | None = None) -> float:
        seconds = self.delay(retry, retry_after)
        if seconds > 0:
            self.sleep(seconds)
        return seconds


NO_RETRY = RetryPolicy(attempts=1)
