"""Retention on a tablet: raw events older than the retention period leave the tablet
once the server has them; what the learner's progress needs of them stays, folded.

The period is the server's (SHIFT_RETENTION_EVENTS_YEARS, sent in every pull answer's
``policy`` and kept in the store setting ``retention_events_years``: app/sync/policy.py);
a tablet never told uses DEFAULT_YEARS, the server's default. 0 keeps everything.

`age_out(store, learner, cutoff)`: the learner's events with `at` before the cutoff that
the server has (merged from it, or acknowledged by it — never one still in the outbox or
one it rejected) are folded into the learner's *retained fold* (history.RETAINED_NAME:
the fold of exactly the events that left, saved durably first), then removed from the
segments (app/core/store/ageing.py: crash-safe rewrite), and the fold snapshot is
rebuilt from the retained fold + the events that stay. Since the folds do not depend
on order and ignore an id seen before, the learner's progress, certificates,
self-assessment results and observed practice look exactly as before; what is gone is
the raw detail (which card was read when, each answer) — also from "My record", whose
activity lists start at the cutoff.

`run(store, now=…)`: once per day at most (store setting ``retention_checked_on``), every
learner of the tablet; the sync runs it after the events were exchanged, in its worker
thread (app/sync/housekeeping.py). A rewrite costs the learner's whole history, so events
past the period leave together: when a segment's worth (256) has gathered or the oldest
has waited GRACE_DAYS — nothing stays longer than the period + 30 days. The daily check
reads, for each learner, the segments that may hold an event past the cutoff (the store
keeps each full segment's oldest `at`), without holding the store's lock
(app/core/store/ageing.py; benchmarks/device_history.py has the figures).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.core.errors import StoreError
from app.core.events import format_at
from app.core.learning.history import (
    RETAINED_NAME,
    SNAPSHOT_NAME,
    LearnerHistory,
    fold_version,
    load_history,
    retained_fold,
)
from app.core.store import HistoryMark, Snapshot, Store, ageing

log = logging.getLogger(__name__)

#: the store setting holding the server's period (years; 0 = keep)
YEARS_SETTING = "retention_events_years"
#: when the tablet was never told (the server's own default, sync_server/services/retention.py)
DEFAULT_YEARS = 6
MAX_YEARS = 1000
#: events past the period wait for company up to this many days (ageing.age_out: a
#: rewrite costs the whole history, so not one a day for a few events)
GRACE_DAYS = 30
#: the store setting holding the day of the last run (YYYY-MM-DD, UTC)
CHECKED_SETTING = "retention_checked_on"


def valid_years(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_YEARS


def cutoff_for(now: datetime, years: int) -> str:
    """`now` minus whole calendar years (29 February → 28 February), in the `at` format:
    the same rule as the server's (sync_server/services/retention.years_before)."""
    try:
        moment = now.replace(year=now.year - years)
    except ValueError:
        moment = now.replace(year=now.year - years, day=28)
    return format_at(moment)


def period_years(store: Store) -> int:
    years = store.settings.get(YEARS_SETTING, None)
    return years if valid_years(years) else DEFAULT_YEARS


def age_out(store: Store, learner: str, cutoff: str, *, overdue: str | None = None) -> int:
    """Age out the learner's sent events before `cutoff` (module docstring; `overdue`:
    ageing.age_out); returns how many left the segments. Once the store decided that
    some go, the learner's fold is brought up to date (`keep`), so the snapshot after the
    rewrite is that state under the mark of the documents the ageing started from — all
    of which it covers; a tap's events appended meanwhile come after that mark and are
    folded again at the next sign-in (a fold ignores an id seen before): no recompute."""
    base = retained_fold(store, learner, to_update=True)    # raises rather than lose it
    folded: list[LearnerHistory] = []

    def keep() -> None:
        folded.append(load_history(store, learner, resnapshot_after=1))
        ageing.write_retained(store, learner, RETAINED_NAME, fold_version(), base.encode())

    def then(mark: HistoryMark) -> None:
        try:
            store.write_snapshot(learner, SNAPSHOT_NAME,
                                 Snapshot(mark, fold_version(), folded[0].encode()))
        except StoreError as exc:     # only the next sign-in's cost changes: it recomputes
            log.warning("retention: no fold snapshot of %s saved: %s", learner, exc)

    report = ageing.age_out(store, learner, cutoff, base.apply_batch, keep,
                            retained=RETAINED_NAME, then=then, overdue=overdue)
    return report.aged


def run(store: Store, *, now: datetime, force: bool = False) -> dict[str, int]:
    """Age out every learner's events older than the period, at most once per UTC day
    (unless `force`). Returns {learner: events aged out} of those that lost some; a
    failure is logged and leaves that learner as it was."""
    years = period_years(store)
    today = now.date().isoformat()
    if years == 0 or (not force and store.settings.get(CHECKED_SETTING, None) == today):
        return {}
    cutoff = cutoff_for(now, years)
    overdue = cutoff_for(now - timedelta(days=GRACE_DAYS), years)
    done: dict[str, int] = {}
    for learner in store.learner_ids():
        try:
            aged = age_out(store, learner, cutoff, overdue=overdue)
        except StoreError as exc:
            log.warning("retention: could not age out events of %s: %s", learner, exc)
            continue
        if aged:
            done[learner] = aged
    store.settings.set(CHECKED_SETTING, today)
    if done:
        log.info("retention: %d events before %s aged out (%d learners)",
                 sum(done.values()), cutoff, len(done))
    return done
