"""Per-learner event history: TinyDB segment files that close at a fixed size.

``learners/<key>/<nnnnnn>.json``: the last segment of a learner takes new events until it
holds `capacity` of them; then the next one is started and the full one is never written
again. So a write touches at most `capacity` documents however long the history is, and
one learner's reads never open another learner's files (per-profile isolation).

Segment tables: ``meta`` (one document: the learner id) and ``events`` (documents
``{"event": {...}, "local": bool}``; `local` is true for events appended on this device).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from app.core.errors import StoreError
from app.core.store.atomic import (
    AtomicJSONStorage,
    clean_stale_temps,
    describe_os_error,
    fsync_dir,
    load_tables,
)

KIND = "segment"


def learner_key(learner_id: str) -> str:
    """Folder name of a learner: a hash, so any id is a safe, short, case-proof name."""
    return hashlib.sha256(learner_id.encode()).hexdigest()[:32]


class LearnerLog:
    """The segment files of one learner."""

    def __init__(self, folder: Path, learner_id: str, capacity: int) -> None:
        self.folder = folder
        self.learner_id = learner_id
        self.capacity = capacity
        self.numbers: list[int] = []
        self.last_count = 0
        self._db: TinyDB | None = None

    @classmethod
    def load(cls, folder: Path, capacity: int) -> LearnerLog | None:
        """Open an existing learner folder (reads only its last segment). None for a
        folder without segments (a crash or full disk right after creating it)."""
        clean_stale_temps(folder)
        numbers = sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())
        if not numbers:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty: never deletes data
            return None
        tables = load_tables(folder / f"{numbers[-1]:06d}.json", KIND) or {}
        meta = next(iter(tables.get("meta", {}).values()), None)
        if not isinstance(meta, dict) or not isinstance(meta.get("learner"), str):
            raise StoreError(f"{folder / f'{numbers[-1]:06d}.json'}: meta.learner: missing")
        log = cls(folder, meta["learner"], capacity)
        log.numbers = numbers
        log.last_count = len(tables.get("events", {}))
        return log

    @property
    def count(self) -> int:
        if not self.numbers:
            return 0
        return (len(self.numbers) - 1) * self.capacity + self.last_count

    def path_of(self, number: int) -> Path:
        return self.folder / f"{number:06d}.json"

    def read_docs(self, number: int) -> list[dict[str, Any]]:
        """The documents of one segment, parsed fresh (safe for the caller to keep)."""
        tables = load_tables(self.path_of(number), KIND) or {}
        docs = tables.get("events", {})
        return [docs[k] for k in sorted(docs, key=int)]

    def all_docs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for number in self.numbers:
            out.extend(self.read_docs(number))
        return out

    def last_docs(self) -> list[dict[str, Any]]:
        return self.read_docs(self.numbers[-1]) if self.numbers else []

    def add_chunk(self, docs: list[dict[str, Any]]) -> int:
        """Write the first documents of `docs` with one atomic replace: as many as fit in
        the open segment, or start a new segment. Returns how many were written (the
        caller loops); on StoreError nothing of this chunk was written."""
        if not docs:
            return 0
        if self.numbers and self.last_count < self.capacity:
            chunk = docs[:self.capacity - self.last_count]
            self._open_db().table("events").insert_multiple(chunk)
            self.last_count += len(chunk)
            return len(chunk)
        chunk = docs[:self.capacity]
        number = (self.numbers[-1] + 1) if self.numbers else 1
        if not self.folder.is_dir():
            try:
                self.folder.mkdir(parents=True)
                fsync_dir(self.folder.parent)
            except OSError as exc:
                raise StoreError(describe_os_error(exc, self.folder, "creating")) from exc
        self._close_db()
        AtomicJSONStorage(self.path_of(number), KIND).write(
            {"meta": {"1": {"learner": self.learner_id}},
             "events": {str(i + 1): dict(d) for i, d in enumerate(chunk)}})
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
