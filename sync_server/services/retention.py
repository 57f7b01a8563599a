"""Retention: how long the server keeps raw learning events and audit entries
(docs/privacy.md "How long").

* Raw events whose `at` is more than `SHIFT_RETENTION_EVENTS_YEARS` (default 6) years
  ago are folded into the anonymous per-course summary (services/summary.py) and
  deleted, a batch per transaction. Certificates are not touched: they are the learner's
  own record and stay until the learner is erased.
* Audit entries older than `SHIFT_RETENTION_AUDIT_YEARS` (default 6) years are deleted.
* 0 turns a rule off.

Run by `python -m sync_server retention run` and, inside the server, by
`RetentionSchedule` once a day (a background task started by create_app). Every
transaction that removes something is itself audited (actor `server` or the CLI user),
with the count it removed — a run of events works a group of learners per transaction,
so a run stopped half-way leaves every deletion it committed audited; a command-line
run is recorded even when it removed nothing (the scheduled daily run then stays
quiet).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.events import format_at
from sync_server.db.repository import AuditEntry, Repository
from sync_server.services import audit, summary
from sync_server.services.queries import Queries

logger = logging.getLogger("sync_server.retention")
DEFAULT_EVENTS_YEARS = 6
DEFAULT_AUDIT_YEARS = 6
#: how often the server runs retention by itself
INTERVAL = timedelta(days=1)


@dataclass(frozen=True)
class RetentionResult:
    events_cutoff: str | None     # events with `at` before this went (None: rule off)
    events_deleted: int
    audit_cutoff: str | None
    audit_deleted: int


def years_before(moment: datetime, years: int) -> datetime:
    """`moment` minus whole calendar years (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def run_retention(*, repo: Repository, now: datetime, events_years: int, audit_years: int,
                  by: str, queries: Queries | None = None) -> RetentionResult:
    """Apply both rules as of `now` (module docstring)."""
    events_cutoff = format_at(years_before(now, events_years)) if events_years > 0 else None
    audit_cutoff = format_at(years_before(now, audit_years)) if audit_years > 0 else None
    at = format_at(now)
    quiet = by == audit.SERVER     # the daily run records only what it removed

    def entry(action: str, target: str, n: int) -> AuditEntry | None:
        if quiet and n == 0:
            return None
        return audit.entry(by, action, at=at, target=target, deleted=n)

    events = 0
    if events_cutoff is not None:
        events = repo.fold_events_before(
            events_cutoff, fold=summary.fold,
            audit=lambda n: entry("retention.events", events_cutoff, n))
        if events and queries is not None:
            queries.forget()
    removed = 0
    if audit_cutoff is not None:
        removed = repo.delete_audit_before(
            audit_cutoff, audit=lambda n: entry("retention.audit", audit_cutoff, n))
    return RetentionResult(events_cutoff, events, audit_cutoff, removed)


class RetentionSchedule:
    """Runs retention when due: at the first `tick` and then once per `interval` of the
    injected clock. `tick` does the work and says whether it ran; `run_forever` is the
    server's background loop (it only calls `tick` and waits), so tests drive `tick`
    with a clock they set by hand and never sleep."""

    def __init__(self, run: Callable[[datetime], object], clock: Callable[[], datetime],
                 interval: timedelta = INTERVAL) -> None:
        self._run = run
        self._clock = clock
        self.interval = interval
        self.next_at: datetime | None = None

    def tick(self) -> bool:
        now = self._clock()
        if self.next_at is not None and now < self.next_at:
            return False
        try:
            self._run(now)
        except Exception:  # noqa: BLE001 - a failed run is retried at the next interval
            logger.exception("retention run failed")
        self.next_at = now + self.interval
        return True

    async def run_forever(self, poll_s: float = 3600.0) -> None:
        while True:
            await asyncio.to_thread(self.tick)
            await asyncio.sleep(poll_s)
