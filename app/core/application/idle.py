"""Idle auto-lock of a shared tablet: pure bookkeeping with an injected clock.

The UI calls :meth:`IdleLock.touch` on every sign of a person at the screen — a tap, a
key, a scroll while reading (the page reports scrolling at most once a second) — and
the page's ticker polls :meth:`IdleLock.state` once a second:

* ``ACTIVE`` — nothing to do;
* ``WARNING`` — the last :data:`WARNING_SECONDS` (20 s) before the lock: the screen asks
  "Still there?" with the seconds left (:meth:`IdleLock.remaining`); any activity ends it;
* ``EXPIRED`` — the session forgets the learner (Session.check_idle).

For very short timeouts (kiosk tests) the warning is at most half the timeout, so a
learner always has some quiet time before being asked. Tests drive the clock by hand
(no sleeping).

The timeout is the admin setting ``idle_lock_seconds`` (default 3 minutes); the
environment variable SHIFT_IDLE_LOCK_SECONDS overrides it (kiosk set-ups, e2e tests).
Every value is clamped to 5 s … 1 h, whatever was stored or typed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from enum import StrEnum

from app.core.clock import MonotonicClock, awake_or_asleep

DEFAULT_IDLE_LOCK_SECONDS = 180
MIN_IDLE_LOCK_SECONDS = 5
MAX_IDLE_LOCK_SECONDS = 3600
ENV_VARIABLE = "SHIFT_IDLE_LOCK_SECONDS"
#: How long before the lock the "Still there?" prompt appears.
WARNING_SECONDS = 20


class IdleState(StrEnum):
    ACTIVE = "active"
    WARNING = "warning"
    EXPIRED = "expired"


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
        self.clock: MonotonicClock = clock or awake_or_asleep
        self.timeout = clamp_idle_seconds(timeout_seconds)
        self.last_activity = self.clock()

    def touch(self) -> None:
        self.last_activity = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.timeout - (self.clock() - self.last_activity))

    def expired(self) -> bool:
        return self.clock() - self.last_activity >= self.timeout

    @property
    def warning_seconds(self) -> float:
        """The length of the "Still there?" window (20 s; at most half the timeout)."""
        return min(float(WARNING_SECONDS), self.timeout / 2)

    def state(self) -> IdleState:
        left = self.remaining()
        if left <= 0:
            return IdleState.EXPIRED
        return IdleState.WARNING if left <= self.warning_seconds else IdleState.ACTIVE

    def seconds_left(self) -> int:
        """Whole seconds until the lock, rounded up (what the prompt counts down)."""
        return math.ceil(self.remaining())
