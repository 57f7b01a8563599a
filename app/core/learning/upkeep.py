"""Keeping fold snapshots current off the sign-in path.

A sign-in costs the snapshot's restore plus a fold of every event stored after the
snapshot's mark (app/core/learning/history.py). Restoring is cheap and flat (≈ 15 ms at
100,000 events); folding costs ≈ 35 µs per event here, several times that on a loaded
tablet — so what a sign-in pays is decided by how many events wait beyond the snapshot,
and that number is what this module keeps small. The events beyond a snapshot come
from two places, and each gets its snapshot refreshed where nobody waits for it:

* **the learner's own session** — `save_at_session_end` (LearnerWork.close: a lock,
  sign-out or reload) saves a new snapshot when the events not covered by the last one
  (those the sign-in folded plus those of the session) reach RESNAPSHOT_AFTER, not only
  when the sign-in found one due: a long session no longer leaves its whole length for
  the next sign-in to fold;
* **a sync** — events of the learner done on another tablet arrive by pull;
  `refresh_due` (called by the sync client after a sync, in its worker thread) folds
  them into the snapshot of each learner whose snapshot they made due.

So a sign-in folds fewer than about RESNAPSHOT_AFTER events plus what a session cut
short (a crash, the battery) left — the state the "new snapshot due" row of
benchmarks/device_history.py measures. Snapshots stay exactly what history.py writes
(atomic, checked, rebuilt on a fold version change): this module only decides *when*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from app.core.errors import StoreError
from app.core.learning.history import (
    RESNAPSHOT_AFTER,
    SAVE_NOW_AFTER,
    SNAPSHOT_NAME,
    HistorySource,
    LearnerHistory,
    fold_version,
    load_history,
    save_history,
)

log = logging.getLogger(__name__)


class CountingSource(HistorySource, Protocol):
    """A HistorySource that can also count a learner's stored events (the Store)."""

    def event_count(self, learner_id: str | None = None) -> int: ...


def unsaved_events(store: CountingSource, history: LearnerHistory) -> int:
    """About how many stored events of the learner no saved snapshot covers: those the
    sign-in folded beyond its snapshot (unless it saved a new one) plus those stored
    since the sign-in's mark."""
    since_mark = max(store.event_count(history.learner) - history.mark.count, 0)
    saved_at_sign_in = history.source != "snapshot" or history.folded >= SAVE_NOW_AFTER
    return since_mark + (0 if saved_at_sign_in else history.folded)


def save_at_session_end(store: CountingSource, history: LearnerHistory, *,
                        after: int = RESNAPSHOT_AFTER) -> bool:
    """The session of `history` ended: save its snapshot when the sign-in deferred one
    or `after` or more events are not covered by a saved one. False when nothing was
    saved (not due, or the write failed: logged by save_history)."""
    if not history.save_due:
        try:
            history.save_due = unsaved_events(store, history) >= after
        except StoreError as exc:       # the store closed meanwhile: nothing to save into
            log.info("no snapshot saved at the session's end: %s", exc)
            return False
    return save_history(store, history)


def refresh_due(store: CountingSource, learners: Iterable[str], *,
                after: int = RESNAPSHOT_AFTER) -> list[str]:
    """Refresh the snapshot of each of these learners that has a usable one and `after`
    or more stored events beyond it (restore + fold those + save). Learners without a
    snapshot of this fold version are left to their first sign-in (a fold of their whole
    history is a one-time cost that belongs to them, not to every sync). Returns the
    learners refreshed; a failure is logged and skipped (only a sign-in's cost changes)."""
    version = fold_version()
    done: list[str] = []
    for learner in dict.fromkeys(learners):
        try:
            snapshot = store.read_snapshot(learner, SNAPSHOT_NAME)
            if snapshot is None or snapshot.version != version:
                continue
            if store.event_count(learner) - snapshot.mark.count < after:
                continue
            # every segment event beyond the snapshot makes the save due (1): the count
            # above also holds journal events, which a snapshot's mark never covers
            history = load_history(store, learner, resnapshot_after=1)
        except StoreError as exc:
            log.warning("could not refresh the fold snapshot of %s: %s", learner, exc)
            continue
        if history.mark.count > snapshot.mark.count:
            done.append(learner)
    return done
