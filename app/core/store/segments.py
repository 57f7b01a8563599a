"""Per-learner event history: TinyDB segment files that close at a fixed size.

``learners/<key>/<nnnnnn>.json``: the last segment of a learner takes new events until it
holds `capacity` of them; then the next one is started and the full one is never written
again. So a write touches at most `capacity` documents however long the history is, and
one learner's reads never open another learner's files (per-profile isolation).

Segment tables: ``meta`` (one document: the learner id) and ``events`` (documents
``{"event": {...}, "local": bool}``; `local` is true for events appended on this device).

A document's *position* (0, 1, 2 … in the order written) never changes, so "the first n
documents" names a fixed part of the history and (learner, position) names one event:
the store's id index (idindex.py) keeps that per id, and fold snapshots
(``<name>.snap``, snapshots.py) say how many documents they cover.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from app.core.errors import StoreError, StoreSyncError
from app.core.store import segment_rewrite
from app.core.store.atomic import (
    AtomicJSONStorage,
    clean_stale_temps,
    describe_os_error,
    fsync_dir,
    load_tables,
    read_binary_file,
    write_binary_file,
)
from app.core.store.sealed import DAMAGED, kept_beside

KIND = "segment"
SNAPSHOT_KIND = "snapshot"
log = logging.getLogger("app.core.store.store")


def learner_key(learner_id: str) -> str:
    """Folder name of a learner: a hash, so any id is a safe, short, case-proof name."""
    return hashlib.sha256(learner_id.encode()).hexdigest()[:32]


def _on_disk(folder: Path) -> tuple[list[int], dict[str, Any]]:
    """The learner's segment numbers in `folder` (an interrupted rewrite finished or
    undone first) and the tables of the last one ({} when there is none)."""
    numbers = segment_rewrite.recovered(folder)
    tables = (load_tables(folder / f"{numbers[-1]:06d}.json", KIND) or {}) if numbers else {}
    return numbers, tables


class LearnerLog:
    """The segment files of one learner."""

    def __init__(self, folder: Path, learner_id: str, capacity: int) -> None:
        self.folder = folder
        self.learner_id = learner_id
        self.capacity = capacity
        self.numbers: list[int] = []
        self.last_count = 0
        #: which generation of segments this is (a rewrite starts a new one)
        self.generation = segment_rewrite.next_generation()
        #: a staged rewrite's segment numbers start here (segment_rewrite.begin); a new
        #: segment that would take one first calls `release_reserved`, which abandons
        #: the rewrite — the staged files go before a segment of the log takes a number
        self.reserved_from: int | None = None
        self.release_reserved: Callable[[], None] | None = None
        #: a rewrite's recovery failed (segment_rewrite.commit): which files are the
        #: history is known again only once it succeeds — the next use tries (recover_now)
        self.broken = False
        self._db: TinyDB | None = None

    @classmethod
    def load(cls, folder: Path, capacity: int) -> LearnerLog | None:
        """Open an existing learner folder (reads only its last segment). None for a
        folder without segments (a crash or full disk right after creating it)."""
        clean_stale_temps(folder)
        numbers, tables = _on_disk(folder)          # a retention rewrite cut short: recovered
        if not numbers:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty: never deletes data
            return None
        meta = next(iter(tables.get("meta", {}).values()), None)
        if not isinstance(meta, dict) or not isinstance(meta.get("learner"), str):
            raise StoreError(f"{folder / f'{numbers[-1]:06d}.json'}: meta.learner: missing")
        learner = cls(folder, meta["learner"], capacity)
        learner.numbers = numbers
        learner.last_count = len(tables.get("events", {}))
        return learner

    @property
    def count(self) -> int:
        self.recover_now()
        if not self.numbers:
            return 0
        return (len(self.numbers) - 1) * self.capacity + self.last_count

    def recover_now(self) -> None:
        """After a rewrite's recovery failed (`broken`): try it again — the segments'
        count, reads and writes all start here, so none uses a list of files that may be
        gone. StoreError while it still fails (the next load tries too)."""
        if not self.broken:
            return
        try:
            numbers, tables = _on_disk(self.folder)
        except OSError as exc:
            raise StoreError(describe_os_error(exc, self.folder, "finishing a rewrite")) \
                from exc
        self._close_db()
        self.numbers, self.last_count = numbers, len(tables.get("events", {}))
        self.generation = segment_rewrite.next_generation()   # positions may have moved
        self.broken = False

    def path_of(self, number: int) -> Path:
        return self.folder / f"{number:06d}.json"

    def read_docs(self, number: int) -> list[dict[str, Any]]:
        """The documents of one segment, parsed fresh (safe for the caller to keep)."""
        tables = load_tables(self.path_of(number), KIND) or {}
        docs = tables.get("events", {})
        return [docs[k] for k in sorted(docs, key=int)]

    def all_docs(self) -> list[dict[str, Any]]:
        self.recover_now()
        out: list[dict[str, Any]] = []
        for number in self.numbers:
            out.extend(self.read_docs(number))
        return out

    def docs_from(self, start: int, *, after: str | None = None
                  ) -> Iterator[list[dict[str, Any]]]:
        """The documents at positions >= `start`, one list per segment read. With
        `after`, the document at start - 1 must have that event id, else ValueError is
        raised before anything is yielded (its segment is read once for both)."""
        self.recover_now()
        start = max(start, 0)
        first = (start - 1 if after is not None else start) // self.capacity
        for index in range(max(first, 0), len(self.numbers)):
            docs = self.read_docs(self.numbers[index])
            if after is not None:
                offset = start - 1 - index * self.capacity
                if not 0 <= offset < len(docs) or docs[offset].get("event", {}).get("id") \
                        != after:
                    raise ValueError(f"no event {after} at position {start - 1}")
                after = None
                if offset + 1 == len(docs):
                    continue
            docs = docs[max(start - index * self.capacity, 0):]
            if docs:
                yield docs

    def events_at(self, positions: list[int]) -> dict[int, dict[str, Any]]:
        """{position: event} for the positions that hold one (each segment read once)."""
        out: dict[int, dict[str, Any]] = {}
        by_segment: dict[int, list[int]] = {}
        for position in positions:
            if 0 <= position < self.count:
                by_segment.setdefault(position // self.capacity, []).append(position)
        for index, wanted in by_segment.items():
            docs = self.read_docs(self.numbers[index])
            for position in wanted:
                offset = position - index * self.capacity
                if offset < len(docs) and isinstance(docs[offset].get("event"), dict):
                    out[position] = docs[offset]["event"]
        return out

    def id_at(self, position: int) -> str | None:
        """The id of the event at `position` (None when there is none)."""
        found = self.events_at([position]).get(position, {}).get("id")
        return found if isinstance(found, str) else None

    # -- snapshots -------------------------------------------------------------------
    def snapshot_path(self, name: str) -> Path:
        return self.folder / f"{name}.snap"

    def read_snapshot(self, name: str) -> tuple[dict[str, Any], memoryview] | None:
        return read_binary_file(self.snapshot_path(name), SNAPSHOT_KIND)

    def set_snapshot_aside(self, name: str) -> None:
        """Keep a damaged snapshot file under another name (``….damaged-<time>``), out of
        the way of the next write (logged when even that fails)."""
        path = self.snapshot_path(name)
        kept = kept_beside(path, DAMAGED)
        try:
            os.replace(path, kept)
            fsync_dir(self.folder)
        except (OSError, StoreError) as exc:
            log.error("%s: could not be moved aside: %s", path, exc)
        else:
            log.error("%s: moved aside as %s", path, kept.name)

    def write_snapshot(self, name: str, meta: dict[str, Any],
                       payload: bytes | memoryview) -> None:
        write_binary_file(self.snapshot_path(name), SNAPSHOT_KIND, meta, payload)

    def last_docs(self) -> list[dict[str, Any]]:
        return self.read_docs(self.numbers[-1]) if self.numbers else []

    def add_chunk(self, docs: list[dict[str, Any]]) -> int:
        """Write the first documents of `docs` with one atomic replace: as many as fit in
        the open segment, or start a new segment. Returns how many were written (the
        caller loops); on StoreError nothing of this chunk was written — except a
        StoreSyncError, raised once they are counted (its `written`): the segment was
        replaced, only its folder's fsync failed, and a retry must not write them again."""
        if not docs:
            return 0
        self.recover_now()
        if self.numbers and self.last_count < self.capacity:
            chunk = docs[:self.capacity - self.last_count]
            try:
                self._open_db().table("events").insert_multiple(chunk)
            except StoreSyncError as exc:
                self.last_count += len(chunk)
                exc.written = len(chunk)
                raise
            self.last_count += len(chunk)
            return len(chunk)
        chunk = docs[:self.capacity]
        number = (self.numbers[-1] + 1) if self.numbers else 1
        if self.reserved_from is not None and number >= self.reserved_from \
                and self.release_reserved is not None:
            self.release_reserved()
        if not self.folder.is_dir():
            try:
                self.folder.mkdir(parents=True)
                fsync_dir(self.folder.parent)
            except OSError as exc:
                raise StoreError(describe_os_error(exc, self.folder, "creating")) from exc
        self._close_db()
        try:
            AtomicJSONStorage(self.path_of(number), KIND).write(
                {"meta": {"1": {"learner": self.learner_id}},
                 "events": {str(i + 1): dict(d) for i, d in enumerate(chunk)}})
        except StoreSyncError as exc:
            self.numbers.append(number)
            self.last_count = exc.written = len(chunk)
            raise
        self.numbers.append(number)
        self.last_count = len(chunk)
        return len(chunk)

    def _open_db(self) -> TinyDB:
        if self._db is None:
            self._db = TinyDB(self.path_of(self.numbers[-1]), storage=AtomicJSONStorage,
                              kind=KIND)
        return self._db

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def close(self) -> None:
        self._close_db()
