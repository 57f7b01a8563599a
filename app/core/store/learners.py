"""Where stored events live after the journal: one segment log per learner.

Part of the Store (app/core/store/store.py; called under its lock, not thread-safe on its
own). Local events are appended to the journal first (journal.py) and *folded* into their
learner's segments (segments.py) when a journal file is full or the store closes; pulled
events go to the segments directly. Around the segments:

* an index id → learner of every stored event, read once on first use, then kept current
  (it answers "is this id already stored?" for append and merge);
* a bounded cache of each learner's sorted history (history.py).

``folded`` names the events of the current journal file already copied into segments;
the rest (``unfolded()``) are read from the journal. After a crash the last journal file
may be partly folded: ``fold_current(dedupe=True)`` skips what the segments already hold.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.store.history import HistoryCache, SortKey, copy_json
from app.core.store.journal import Journal
from app.core.store.segments import LearnerLog, learner_key

Event = dict[str, Any]


class LearnerLogs:
    def __init__(self, folder: Path, journal: Journal, sort_key: SortKey,
                 history_cache_bytes: int) -> None:
        self.folder = folder              # <store>/learners
        self.journal = journal
        self.capacity = 0                 # events per segment: fixed per data folder
        self.logs: dict[str, LearnerLog] = {}
        self.folded: set[str] = set()     # ids of the current journal already in segments
        self._index: dict[str, str] | None = None   # every stored id -> learner (lazy)
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
        self._history.clear()

    # -- reading ------------------------------------------------------------------------
    def unfolded(self) -> list[Event]:
        current = self.journal.current
        if current is None:
            return []
        return [e for e in current.events if e["id"] not in self.folded]

    def index(self) -> dict[str, str]:
        """id -> learner of every stored event; read once, then kept up to date."""
        if self._index is None:
            index: dict[str, str] = {}
            for learner_id, learner in self.logs.items():
                for doc in learner.all_docs():
                    index[doc["event"]["id"]] = learner_id
            for event in self.unfolded():
                index[event["id"]] = event["learner"]
            self._index = index
        return self._index

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
        """Events just stored (appended or merged): into the index and the cache."""
        if self._index is not None:
            for event in events:
                self._index[event["id"]] = event["learner"]
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
                n = learner.add_chunk(rest)
                on_written([d["event"] for d in rest[:n]])
                rest = rest[n:]
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
            known: set[str] = set()
            for learner_id in {e["learner"] for e in todo}:
                learner = self.logs.get(learner_id)
                if learner is not None:
                    known.update(doc["event"]["id"] for doc in learner.all_docs())
            self.folded.update(e["id"] for e in todo if e["id"] in known)
            todo = [e for e in todo if e["id"] not in known]
        by_learner: dict[str, list[Event]] = {}
        for event in todo:
            by_learner.setdefault(event["learner"], []).append(event)
        for learner_id, group in by_learner.items():
            self.write(learner_id, [{"event": e, "local": True} for e in group],
                       on_written=lambda evs: self.folded.update(e["id"] for e in evs))
