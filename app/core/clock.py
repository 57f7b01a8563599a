"""The one clock helper: wall-clock time as the event `at` text, and the clock seams.

* :func:`now_iso` — "now" in UTC as the `at` format of the event envelope
  (``2026-11-23T15:38:28.123Z``, app/core/events.py ``format_at``). Every timestamp the
  device and the server write (events, settings, profiles, server rows) comes from here.
* :data:`MonotonicClock` — what the application layer measures durations with (idle lock,
  PIN wait, reading time). It is passed in (``Device.open(clock=…)``), so tests drive
  time by hand instead of sleeping; the real one is :func:`awake_or_asleep`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from app.core.events import format_at

#: Seconds from an arbitrary start that never go back (``time.monotonic``).
MonotonicClock = Callable[[], float]


def awake_or_asleep() -> float:
    """Seconds that never go back and go on while the device sleeps: CLOCK_BOOTTIME on
    Linux and Android. ``time.monotonic`` stops during suspend there, so a tablet put
    down signed in and woken hours later by a colleague would still be the first
    learner's for the rest of the idle time — the screen's own timeout (often 30 s) is
    shorter than the idle lock. Elsewhere ``time.monotonic`` (Windows and macOS count
    sleep in it)."""
    return time.clock_gettime(_BOOTTIME) if _BOOTTIME is not None else time.monotonic()


_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_iso() -> str:
    """The current UTC time in the `at` format: millisecond precision, 'Z' suffix."""
    return format_at(now_utc())
