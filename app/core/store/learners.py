"""Where stored events live after the journal: one segment log per learner.

Part of the Store (app/core/store/store.py; called under its lock, not thread-safe on its
own). Local events are appended to the journal first (journal.py) and *folded* into their
learner's segments (segments.py) when a journal file is full or the store closes; pulled
events go to the segments directly. Around the segments:

* the id index (idindex.py): id → (learner, position) of every event in the segments,
  two small files loaded on first use and kept current by every segment write (it
  answers "is this id already stored, and where?" for append, merge and a crash
  repair's dedupe without reading the segments);
* a bounded cache of each learner's sorted history (history.py);
* the learners' fold snapshots (snapshots.py) and `history_since`, which hands over the
  events stored beyond a snapshot's mark.

``folded`` names the events of the current journal file already copied into segments;
the rest (``unfolded()``) are read from the journal. After a crash the last journal file
may be partly folded: ``fold_current(dedupe=True)`` skips what the segments already hold.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.errors import StoreError, StoreReadError, StoreSyncError
from app.core.store.conflicts import differs, find_conflicts
from app.core.store.history import HistoryCache, SortKey, copy_json
from app.core.store.idindex import IdIndex
from app.core.store.journal import Journal
from app.core.store.segments import LearnerLog, learner_key
from app.core.store.snapshots import HistoryMark, Snapshot, meta_of, snapshot_of

log = logging.getLogger("app.core.store.store")

Event = dict[str, Any]
Batch = Callable[[list[Event]], Any]


class LearnerLogs:
    def __init__(self, folder: Path, index_folder: Path, journal: Journal, sort_key: SortKey,
                 history_cache_bytes: int) -> None:
        self.folder = folder              # <store>/learners
        self.journal = journal
        self.capacity = 0                 # events per segment: fixed per data folder
        self.logs: dict[str, LearnerLog] = {}
        self.folded: set[str] = set()     # ids of the current journal already in segments
        self.ids = IdIndex(index_folder)  # id -> (learner, position); loaded on use
        self._history = HistoryCache(sort_key, history_cache_bytes)   # learner -> events
        self._sort_key = sort_key

    def load(self, capacity: int) -> None:
        """Find every learner's segments (on open)."""
        self.capacity = capacity
        for folder in sorted(self.folder.iterdir()):
            if folder.is_dir():
                learner = LearnerLog.load(folder, capacity)
                if learner is not None:
                    self.logs[learner.learner_id] = learner

    def close(self) -> None:
        for learner in self.logs.values():
            learner.close()
        self.ids.close()
        self._history.clear()

    # -- reading ------------------------------------------------------------------------
    def unfolded(self) -> list[Event]:
        current = self.journal.current
        if current is None:
            return []
        return [e for e in current.events if e["id"] not in self.folded]

    def index(self) -> IdIndex:
        """The id index of every event in the segments (loaded on first use: two small
        files, checked against the segments), kept up to date by `write`."""
        if not self.ids.loaded:
            self.ids.load(self.logs)
        return self.ids

    def is_stored(self, event_id: str) -> bool:
        """Is this id stored (segments or the current journal)?"""
        if any(e["id"] == event_id for e in self.unfolded()):
            return True
        return self.index().find(event_id) is not None

    def stored_events(self, ids: list[str]) -> dict[str, Event]:
        """{id: event} of these ids as the segments hold them (found by the id index;
        only the segments that hold them are read)."""
        index = self.index()
        wanted: dict[str, dict[int, str]] = {}
        for event_id in ids:
            where = index.find(event_id)
            if where is not None:
                wanted.setdefault(where[0], {})[where[1]] = event_id
        out: dict[str, Event] = {}
        for learner_id, positions in wanted.items():
            learner = self.logs.get(learner_id)
            if learner is None:
                continue
            for position, event in learner.events_at(list(positions)).items():
                if event.get("id") == positions[position]:
                    out[positions[position]] = event
        return out

    def sort_out(self, batch: list[Event]) -> tuple[dict[str, Event], list[tuple[Event, Event]]]:
        """A pulled batch → (the events not stored yet, by id — the first copy of an id
        that came twice; (kept, received) pairs of ids stored or received with other
        content)."""
        unfolded = {e["id"]: e for e in self.unfolded()}
        index = self.index()
        fresh: dict[str, Event] = {}
        known: list[Event] = []
        for event in batch:
            if event["id"] in unfolded or index.find(event["id"]) is not None:
                known.append(event)
            elif event["id"] in fresh:
                if differs(fresh[event["id"]], event):
                    known.append(event)
            else:
                fresh[event["id"]] = event
        return fresh, find_conflicts(known, fresh, unfolded, self.stored_events)

    def history_of(self, learner_id: str) -> list[Event]:
        """The learner's sorted events: a fresh list the caller owns."""
        cached = self._history.get(learner_id)
        if cached is not None:
            return cached
        out: list[Event] = []
        log_ = self.logs.get(learner_id)
        if log_ is not None:
            out.extend(doc["event"] for doc in log_.all_docs())
        out.extend(copy_json(e) for e in self.unfolded() if e["learner"] == learner_id)
        out.sort(key=self._sort_key)
        self._history.put(learner_id, out)
        return out

    def learner_ids(self) -> set[str]:
        return set(self.logs) | {e["learner"] for e in self.unfolded()}

    def count(self, learner_id: str | None = None) -> int:
        unfolded = self.unfolded()
        if learner_id is None:
            return sum(lg.count for lg in self.logs.values()) + len(unfolded)
        learner = self.logs.get(learner_id)
        return ((learner.count if learner else 0)
                + sum(1 for e in unfolded if e["learner"] == learner_id))

    # -- writing --------------------------------------------------------------------------
    def stored(self, events: list[Event]) -> None:
        """Events just stored (appended or merged): into the history cache (the id index
        hears of segment writes in `write`)."""
        for learner_id in {e["learner"] for e in events}:
            self._history.add(learner_id, [copy_json(e) for e in events
                                           if e["learner"] == learner_id])

    def write(self, learner_id: str, docs: list[dict[str, Any]],
              on_written: Callable[[list[Event]], None]) -> None:
        """Add documents to a learner's segments, a chunk at a time; `on_written` hears
        of each chunk once it is on disk."""
        learner = self.logs.get(learner_id)
        if learner is None:
            learner = LearnerLog(self.folder / learner_key(learner_id), learner_id,
                                 self.capacity)
            self.logs[learner_id] = learner
        rest = docs
        try:
            while rest:
                start = learner.count
                unsynced: StoreSyncError | None = None
                try:
                    n = learner.add_chunk(rest)
                except StoreSyncError as exc:   # on disk all the same: counted, then raised
                    n, unsynced = exc.written, exc
                done = [d["event"] for d in rest[:n]]
                self.ids.record(learner_id, start, [e["id"] for e in done])
                on_written(done)
                if unsynced is not None:
                    raise unsynced
                rest = rest[n:]
            if self.ids.wants_load:
                self.index()
        finally:
            if not learner.numbers:  # nothing ever written for this learner
                self.logs.pop(learner_id, None)

    def fold_current(self, *, dedupe: bool) -> None:
        """Copy the current journal's events into the learner segments."""
        current = self.journal.current
        if current is None:
            return
        todo = [e for e in current.events if e["id"] not in self.folded]
        if dedupe and todo:
            # after a crash the fold may have been half done: skip what is already there
            index = self.index()
            known = {e["id"] for e in todo if index.find(e["id"]) is not None}
            self.folded.update(known)
            todo = [e for e in todo if e["id"] not in known]
        by_learner: dict[str, list[Event]] = {}
        for event in todo:
            by_learner.setdefault(event["learner"], []).append(event)
        for learner_id, group in by_learner.items():
            self.write(learner_id, [{"event": e, "local": True} for e in group],
                       on_written=lambda evs: self.folded.update(e["id"] for e in evs))

    # -- fold snapshots (snapshots.py) ----------------------------------------------------
    def history_since(self, learner_id: str, mark: HistoryMark | None,
                      apply: Batch) -> HistoryMark | None:
        """Store.history_since, under the store's lock."""
        learner = self.logs.get(learner_id)
        count = learner.count if learner is not None else 0
        start, last_id = 0, None
        if mark is not None and mark.count > 0:
            if mark.count > count or learner is None or mark.last_id is None \
                    or not _same_generation(mark, learner):
                return None
            start, last_id = mark.count, mark.last_id
        if learner is not None and (start < count or last_id is not None):
            docs_iter = learner.docs_from(start, after=last_id)
            try:
                first = next(docs_iter, None)
            except ValueError:      # another event where the mark's last one was
                return None
            for docs in itertools.chain([first] if first else [], docs_iter):
                apply([doc["event"] for doc in docs])
                last_id = docs[-1]["event"]["id"]
        unfolded = [copy_json(e) for e in self.unfolded() if e["learner"] == learner_id]
        if unfolded:
            apply(unfolded)
        return HistoryMark(count, last_id if count else None,
                           learner.generation if learner is not None else 0)

    def read_snapshot(self, device_id: str, learner_id: str, name: str, *,
                      cache: bool = True) -> Snapshot | None:
        """Store.read_snapshot, under the store's lock."""
        learner = self.logs.get(learner_id)
        if learner is None:
            return None
        try:
            found = learner.read_snapshot(name)
        except StoreError as exc:
            if cache:
                log.warning("snapshot ignored (it will be recomputed): %s", exc)
                return None
            if isinstance(exc, StoreReadError):   # not read at all: its content may be whole
                raise
            log.error("%s; what it held is missing", exc)
            learner.set_snapshot_aside(name)
            return None
        if found is None:
            return None
        snapshot = snapshot_of(device_id, learner_id, name, *found,
                               generation=learner.generation, any_device=not cache)
        if snapshot is None and not cache:      # its CRC covers the payload, not the header
            log.error("%s: the header does not name this learner's %r (%r); what it "
                      "held is missing", learner.snapshot_path(name), name, found[0])
            learner.set_snapshot_aside(name)
        return snapshot

    def write_snapshot(self, device_id: str, learner_id: str, name: str,
                       snapshot: Snapshot) -> None:
        """Store.write_snapshot, under the store's lock."""
        meta = meta_of(device_id, learner_id, name, snapshot)
        learner = self.logs.get(learner_id)
        mark = snapshot.mark
        if learner is None or not 0 < mark.count <= learner.count:
            raise StoreError(f"snapshot of {learner_id!r}: covers {mark.count} stored "
                             "events, which this history does not have")
        if not _same_generation(mark, learner):
            raise StoreError(f"snapshot of {learner_id!r}: made before its history was "
                             "rewritten (retention); the next sign-in recomputes it")
        learner.write_snapshot(name, meta, snapshot.payload)


def _same_generation(mark: HistoryMark, learner: LearnerLog) -> bool:
    """Whether `mark` may be of `learner`'s segments as they are: a mark taken before a
    rewrite (retention) may still match by count and last id — every aged document lay
    after it — while the state it belongs to never saw what aged out (snapshots.py)."""
    return mark.generation in (0, learner.generation)
