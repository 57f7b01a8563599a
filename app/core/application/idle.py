"""Idle auto-lock of a shared tablet: pure bookkeeping with an injected clock.

The UI calls :meth:`IdleLock.touch` on every tap and the page's ticker polls
:meth:`IdleLock.expired` once a second; on expiry the session forgets the learner
(Session.check_idle). Tests drive the clock by hand (no sleeping).

The timeout is the admin setting ``idle_lock_seconds`` (default 3 minutes); the
environment variable SHIFT_IDLE_LOCK_SECONDS overrides it (kiosk set-ups, e2e tests).
Every value is clamped to 5 s … 1 h, whatever was stored or typed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from app.core.clock import MonotonicClock

DEFAULT_IDLE_LOCK_SECONDS = 180
MIN_IDLE_LOCK_SECONDS = 5
MAX_IDLE_LOCK_SECONDS = 3600
ENV_VARIABLE = "SHIFT_IDLE_LOCK_SECONDS"


def clamp_idle_seconds(value: object) -> int:
    """Whole seconds within the bounds; anything unreadable is the default."""
    if not isinstance(value, int | float | str):
        return DEFAULT_IDLE_LOCK_SECONDS
    try:
        seconds = int(value)
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_IDLE_LOCK_SECONDS
    return max(MIN_IDLE_LOCK_SECONDS, min(MAX_IDLE_LOCK_SECONDS, seconds))


def idle_lock_seconds(setting: object, env: Mapping[str, str] | None = None) -> int:
    """The timeout: SHIFT_IDLE_LOCK_SECONDS when set, else the stored setting."""
    override = (os.environ if env is None else env).get(ENV_VARIABLE)
    return clamp_idle_seconds(override if override else setting)


class IdleLock:
    """When was the last activity, and is the idle time over?"""

    def __init__(self, timeout_seconds: float = DEFAULT_IDLE_LOCK_SECONDS,
                 clock: MonotonicClock | None = None) -> None:
        self.clock: MonotonicClock = clock or time.monotonic
        self.timeout = clamp_idle_seconds(timeout_seconds)
        self.last_activity = self.clock()

    def touch(self) -> None:
        self.last_activity = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.timeout - (self.clock() - self.last_activity))

    def expired(self) -> bool:
        return self.clock() - self.last_activity >= self.timeout
