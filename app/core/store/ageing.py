"""Tablet retention: a learner's raw events older than a cutoff leave the segments once
the server has them (docs/privacy.md §5). The learning layer decides what stays of them
(app/core/learning/retention.py folds them into the learner's *retained fold*); this
module does the store's part, under the store's lock:

1. every event goes into the segments (the current journal is folded, a new one started),
   so the segments are the whole history;
2. the aged documents are picked: `at` before the cutoff, and **sent** — merged from the
   server, or appended here and acknowledged by it. An event still in the outbox, or one
   the server rejected, never ages out. The learner's last document always stays (a
   learner folder keeps at least one segment, which names the learner);
3. `keep(aged events)` runs — it must make what stays of them durable (the retained fold)
   — and only if it returns are the learner's segments rewritten without the aged
   documents (segment_rewrite.py: crash-safe; a crash at any point leaves either the old
   or the new segments, never a mix, and a retained fold that already holds the aged
   events is harmless: folds ignore an id seen before);
4. what names positions is dropped: the learner's fold snapshots (deleted *before* the
   rewrite: a snapshot whose mark happened to fit the new segments would miss the aged
   events; the caller saves a new one), the history cache, the id index (rebuilt from
   the segments on first use).

A journal file is deleted once all its events are answered by the server; an aged event
in one that still holds an unsent event goes with that file.

The retained fold is stored like a fold snapshot (``learners/<key>/retained.snap``,
written atomically and fsync'd) but is not a cache: it is the only copy of what aged
out. Its header's mark is not used (`RETAINED_MARK`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.errors import StoreError
from app.core.store import segment_rewrite
from app.core.store.atomic import fsync_dir
from app.core.store.snapshots import HistoryMark, Snapshot, check_name, meta_of

if TYPE_CHECKING:
    from app.core.store.store import Store

Event = dict[str, Any]
#: the mark written in a retained fold's header (a retained fold names no positions)
RETAINED_MARK = HistoryMark(1, "retained")


@dataclass
class AgeReport:
    learner: str
    aged: int = 0          # documents removed from the segments
    kept: int = 0          # documents left


def age_out(store: Store, learner_id: str, cutoff: str,
            keep: Callable[[list[Event]], None], *, retained: str,
            then: Callable[[HistoryMark], None] | None = None,
            overdue: str | None = None) -> AgeReport:
    """Remove the learner's sent events with `at` < `cutoff` (module docstring). Every
    snapshot file of the learner but the retained fold `retained` is deleted before the
    segments change (they are caches naming positions); `then(mark)` hears the mark of
    the whole rewritten history (under the lock: a caller whose fold covered every
    document before may save it under that mark).

    With `overdue`, nothing is done unless at least a segment's worth of documents would
    go or one of them is older than `overdue`: a rewrite costs the whole history, so the
    events passing the cutoff day by day leave together, not one rewrite a day."""
    check_name(retained)
    report = AgeReport(learner_id)
    with store._lock:
        store._check_open()
        learners, journal = store._learners, store._journal
        if journal.current is not None and journal.current.events:
            learners.fold_current(dedupe=False)
            store._close_journal()
        log_ = learners.logs.get(learner_id)
        if log_ is None:
            return report
        unsent = set(store._outbox_index().pending) | store._rejected.ids
        docs = log_.all_docs()
        aged = [i for i, doc in enumerate(docs[:-1])
                if doc["event"]["at"] < cutoff and doc["event"]["id"] not in unsent]
        report.kept = len(docs)
        if not aged or (overdue is not None and len(aged) < log_.capacity
                        and all(docs[i]["event"]["at"] >= overdue for i in aged)):
            return report
        gone = set(aged)
        keep([docs[i]["event"] for i in aged])          # durable before anything goes
        for snap in log_.folder.glob("*.snap"):
            if snap.name != f"{retained}.snap":
                snap.unlink()
        fsync_dir(log_.folder)
        segment_rewrite.rewrite(log_, [d for i, d in enumerate(docs) if i not in gone])
        learners._history.discard(learner_id)
        learners.ids.forget()
        report.aged, report.kept = len(aged), len(docs) - len(aged)
        if then is not None:
            then(HistoryMark(report.kept, docs[-1]["event"]["id"]))
        return report


def write_retained(store: Store, learner_id: str, name: str, version: str,
                   payload: bytes) -> None:
    """Save the learner's retained fold `name` (atomic, fsync'd)."""
    check_name(name)
    with store._lock:
        store._check_open()
        log_ = store._learners.logs.get(learner_id)
        if log_ is None:
            raise StoreError(f"{learner_id!r} has no stored events")
        meta = meta_of(store.device_id, learner_id, name,
                       Snapshot(RETAINED_MARK, version, payload))
        log_.write_snapshot(name, meta, payload)
