"""Tablet retention: a learner's raw events older than a cutoff leave the segments once
the server has them (docs/privacy.md §5). The learning layer decides what stays of them
(app/core/learning/retention.py folds them into the learner's *retained fold*); this
module does the store's part. It reads and writes the whole history, so it holds the
store's lock only in short steps — a tap that records an answer meanwhile waits for one
step, not for the whole rewrite (docs/store.md, "Retention"):

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
4. what names positions is dropped: the learner's fold snapshots and the id index
   (deleted, durably, *before* the old segments can go: a snapshot or an index whose
   counts happened to fit the new segments would be trusted; the caller saves a new
   snapshot, the index is rebuilt from the segments on first use), and the history
   cache (once the rewrite has begun, even if it failed).

The steps: (1) under the lock, the journal is folded and the learner's segments as they
are then — their numbers and document count, the *prefix* — are noted; (2) without it,
the prefix is read a segment at a time and the aged documents picked — a full segment
whose oldest `at` is known to be at or after the cutoff is skipped (segment_ages.py) —
and the daily check that finds too few to rewrite ends here; (3) the documents that stay are staged into
new segments (segment_rewrite.begin / write_next), the lock taken for each segment
written, after checking that the learner's log is the same and its prefix untouched;
(4) under the lock, the documents appended since (1) follow the staged ones and the new
segments replace the old (segment_rewrite.commit). If the learner's log changed under
it (erased, rewritten), the staged segments are abandoned and nothing ages this time.

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
from app.core.store.segment_ages import SegmentAges, stamp_of
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


class _Changed(Exception):
    """The learner's log is no longer the one a rewrite was staged from."""


def age_out(store: Store, learner_id: str, cutoff: str,
            take: Callable[[list[Event]], None], keep: Callable[[], None], *,
            retained: str, then: Callable[[HistoryMark], None] | None = None,
            overdue: str | None = None) -> AgeReport:
    """Remove the learner's sent events with `at` < `cutoff` (module docstring). The
    aged events are handed to `take` a segment at a time (to fold them: the history is
    never held whole — 100,000 events are ≈ 230 MB as Python objects), then `keep()` must
    make what it took durable; only then does anything change. Every snapshot file of
    the learner but the retained fold `retained` is deleted before the segments change
    (they are caches naming positions); `then(mark)` hears the mark of the documents that
    were in the segments when the ageing began, as rewritten (under the lock: a caller
    whose fold covered at least those may save it under that mark; documents appended
    since follow them).

    `take` and `keep` are called without the store's lock held (the store's own methods
    take it).

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
        total = log_.count              # first: it finishes a rewrite a disk error cut short
        numbers = list(log_.numbers)
    last_id = None
    gone: set[int] = set()
    late = False
    ages = SegmentAges.load(log_.folder)
    for position, docs in _prefix(log_, numbers, total, (ages, cutoff)):
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
    with store._lock:                  # not while an erasure empties the folder
        if not store._closed and learners.logs.get(learner_id) is log_:
            ages.save(list(log_.numbers))
    report.kept = total
    if not gone or (overdue is not None and len(gone) < log_.capacity and not late):
        return report
    keep()                                               # durable before anything goes
    staged: segment_rewrite.Rewrite | None = None
    try:
        with store._lock:
            _same(store, learner_id, log_, numbers)
            staged = segment_rewrite.begin(log_)
        chunk: list[dict[str, Any]] = []
        for position, docs in _prefix(log_, numbers, total):
            for offset, doc in enumerate(docs):
                if position + offset not in gone:
                    chunk.append(doc)
                    if len(chunk) == log_.capacity:
                        with store._lock:
                            _same(store, learner_id, log_, numbers, staged)
                            segment_rewrite.write_next(staged, chunk)
                        chunk = []
        with store._lock:
            _same(store, learner_id, log_, numbers, staged)
            since = [doc for docs in log_.docs_from(total) for doc in docs]

            def drop_caches() -> None:
                """What names positions goes, durably, before the old segments can:
                after a power cut a stale snapshot or id index whose counts happen to
                fit the new segments would be trusted."""
                for snap in log_.folder.glob("*.snap"):
                    if snap.name != f"{retained}.snap":
                        snap.unlink()
                fsync_dir(log_.folder)
                learners.ids.forget()
            try:
                segment_rewrite.commit(staged, chunk + since, total - len(gone) + len(since),
                                       prepare=drop_caches)
            finally:           # begun, even if it raised: the segments may have changed
                if staged.committed:
                    learners._history.discard(learner_id)
            report.aged, report.kept = len(gone), total - len(gone) + len(since)
            if then is not None and last_id is not None:
                then(HistoryMark(total - len(gone), last_id, log_.generation))
            return report
    except _Changed:
        report.kept = total
        return report
    finally:
        if staged is not None and not staged.committed:
            _abandon(store, learner_id, log_, staged)


def _same(store: Store, learner_id: str, log_: LearnerLog, numbers: list[int],
          staged: segment_rewrite.Rewrite | None = None) -> None:
    """_Changed unless the learner's log is still `log_` with the segments `numbers` at
    its start and none reaching the staged ones (under the store's lock)."""
    store._check_open()
    if store._learners.logs.get(learner_id) is not log_ \
            or log_.numbers[:len(numbers)] != numbers \
            or (staged is not None and staged.clashes()):
        raise _Changed(learner_id)


def _abandon(store: Store, learner_id: str, log_: LearnerLog,
             staged: segment_rewrite.Rewrite) -> None:
    """Undo a staged rewrite while the store and the learner's folder are still the ones
    it was staged in; otherwise the folder is gone (an erasure), or the next load's
    `recover` undoes it (a closed store)."""
    with store._lock:
        if not store._closed and store._learners.logs.get(learner_id) is log_:
            segment_rewrite.abandon(staged)


def _prefix(log_: LearnerLog, numbers: list[int], total: int,
            skip_after: tuple[SegmentAges, str] | None = None
            ) -> Iterator[tuple[int, list[Event]]]:
    """(position of the first document, the documents) of each of the segments `numbers`,
    read one at a time, up to `total` documents in all: what a tap appends to the last of
    them meanwhile is not read (read without the store's lock; a segment file is only
    ever replaced whole).

    With `skip_after` (the learner's SegmentAges, a cutoff): a full segment whose oldest
    `at` is known to be at or after the cutoff is not read (nothing in it can age out);
    the oldest `at` of every full segment read is noted. The last segment is always read
    (its last document names the history's end)."""
    for index, number in enumerate(numbers):
        position = index * log_.capacity
        full = index < len(numbers) - 1
        if skip_after is not None and full:
            ages, cutoff = skip_after
            path = log_.path_of(number)
            oldest = ages.oldest(path, number)
            if oldest is not None and oldest >= cutoff:
                continue
            stamp = stamp_of(path)
            docs = log_.read_docs(number)
            ages.note(path, number, docs, stamp)
        else:
            docs = log_.read_docs(number)
        yield position, docs[:max(total - position, 0)]


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
