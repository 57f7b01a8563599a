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
3. `take(aged events)` folds them, a segment at a time, and `keep()` makes what stays of
   them durable (the retained fold) — only if it returns are the learner's segments
   rewritten without the aged documents (segment_rewrite.py: crash-safe; a crash at any point leaves either the old
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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.errors import StoreError
from app.core.store import segment_rewrite
from app.core.store.atomic import fsync_dir
from app.core.store.segments import LearnerLog
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
            take: Callable[[list[Event]], None], keep: Callable[[], None], *,
            retained: str, then: Callable[[HistoryMark], None] | None = None,
            overdue: str | None = None) -> AgeReport:
    """Remove the learner's sent events with `at` < `cutoff` (module docstring). The
    aged events are handed to `take` a segment at a time (to fold them: the history is
    never held whole — 100,000 events are ≈ 230 MB as Python objects), then `keep()` must
    make what it took durable; only then does anything change. Every snapshot file of
    the learner but the retained fold `retained` is deleted before the segments change
    (they are caches naming positions); `then(mark)` hears the mark of the whole
    rewritten history (under the lock: a caller whose fold covered every document before
    may save it under that mark).

    With `overdue`, nothing is kept or changed unless at least a segment's worth of
    documents would go or one of them is older than `overdue`: a rewrite costs the whole
    history, so the events passing the cutoff day by day leave together, not one rewrite
    a day."""
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
        total, last_id = log_.count, None
        gone: set[int] = set()
        late = False
        for position, docs in _segments(log_):
            batch = []
            for offset, doc in enumerate(docs):
                event = doc["event"]
                last_id = event["id"]
                if position + offset < total - 1 and event["at"] < cutoff \
                        and event["id"] not in unsent:
                    gone.add(position + offset)
                    batch.append(event)
                    late = late or (overdue is not None and event["at"] < overdue)
            if batch:
                take(batch)
        report.kept = total
        if not gone or (overdue is not None and len(gone) < log_.capacity and not late):
            return report
        keep()                                           # durable before anything goes
        for snap in log_.folder.glob("*.snap"):
            if snap.name != f"{retained}.snap":
                snap.unlink()
        fsync_dir(log_.folder)
        kept = (doc for position, docs in _segments(log_)
                for offset, doc in enumerate(docs) if position + offset not in gone)
        segment_rewrite.rewrite(log_, total - len(gone), kept)
        learners._history.discard(learner_id)
        learners.ids.forget()
        report.aged, report.kept = len(gone), total - len(gone)
        if then is not None and last_id is not None:
            then(HistoryMark(report.kept, last_id))
        return report


def _segments(log_: LearnerLog) -> Iterator[tuple[int, list[Event]]]:
    """(position of the first document, the documents) of each segment, read one at a
    time."""
    for index, number in enumerate(list(log_.numbers)):
        yield index * log_.capacity, log_.read_docs(number)


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
