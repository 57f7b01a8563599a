"""Rewriting one learner's segments without some of their documents, crash-safely
(tablet retention: app/core/store/ageing.py).

Segments are otherwise append-only, and a document's position is its place in them, so a
rewrite writes the documents that stay into *new* segment files numbered after the old
ones, then deletes the old ones. A marker file, ``learners/<key>/rewrite.json``
``{"old_last": n, "new_segments": m}``, is written (atomically, fsync'd) before the first
new segment and deleted after the last old one is gone; `recover` — called whenever a
learner folder is loaded — finishes or undoes a rewrite a crash interrupted:

* all `m` new segments are there (each was written atomically: whole or absent) → the
  old ones (numbers ≤ n) are deleted: the rewrite is done;
* fewer → the new ones are deleted: the old segments, untouched, are the history.

Either way no document is lost or doubled, and the marker goes last. Positions change,
so the caller drops what names positions (the id index, the fold snapshot's mark: both
are checked against the segments and rebuilt — idindex.py, snapshots.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from app.core.errors import StoreError
from app.core.store.atomic import (
    AtomicJSONStorage,
    atomic_write_bytes,
    fsync_dir,
    read_file_bytes,
)

MARKER = "rewrite.json"
KIND = "segment"


class LearnerLog(Protocol):
    """What a rewrite changes of a learner's segments (segments.LearnerLog)."""

    folder: Path
    learner_id: str
    capacity: int
    numbers: list[int]
    last_count: int

    def path_of(self, number: int) -> Path: ...

    def close(self) -> None: ...


def recover(folder: Path, numbers: list[int]) -> list[int]:
    """Finish or undo an interrupted rewrite in `folder` (module docstring); returns the
    segment numbers that remain."""
    marker = folder / MARKER
    if not marker.exists():
        return numbers
    try:
        raw = read_file_bytes(marker)      # the plaintext, in an encrypted store too
        if raw is None:                    # did not open: moved aside, as if never written
            raise ValueError("the marker does not open")
        plan = json.loads(raw)
        old_last, wanted = int(plan["old_last"]), int(plan["new_segments"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{marker}: unreadable rewrite marker ({exc}); the segments are "
                         "left as they are") from None
    new = [n for n in numbers if n > old_last]
    doomed = [n for n in numbers if n <= old_last] if len(new) == wanted else new
    for number in doomed:
        with contextlib.suppress(FileNotFoundError):
            (folder / f"{number:06d}.json").unlink()
    fsync_dir(folder)
    marker.unlink()
    fsync_dir(folder)
    return [n for n in numbers if n not in doomed]


def rewrite(learner: LearnerLog, count: int, docs: Iterable[dict[str, Any]]) -> None:
    """Replace the learner's segments by segments holding exactly `docs` — `count` of
    them, at least one — in order, written a segment at a time as `docs` yields them
    (it may read the old segments: they go only at the end). StoreError when a write
    fails, or `docs` does not hold `count`: undone at once (or by the next load)."""
    if count < 1:
        raise StoreError("a rewrite keeps at least one document")
    learner.close()                      # the open TinyDB of the last segment
    capacity = learner.capacity
    segments = -(-count // capacity)
    old_last, old_count = learner.numbers[-1], learner.last_count
    written = 0
    try:
        atomic_write_bytes(learner.folder / MARKER, json.dumps(
            {"old_last": old_last, "new_segments": segments}).encode())
        chunk: list[dict[str, Any]] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) == capacity:
                written += _write(learner, old_last + written // capacity + 1, chunk)
                chunk = []
        if chunk:
            written += _write(learner, old_last + written // capacity + 1, chunk)
        if written != count:          # not what was planned: the new ones go, not the old
            for number in range(old_last + 1, old_last + segments + 1):
                with contextlib.suppress(FileNotFoundError):
                    learner.path_of(number).unlink()
            raise StoreError(f"{learner.folder}: a rewrite got {written} documents, "
                             f"expected {count}")
    finally:      # done, or undone after a failed write: the log matches the files again
        numbers = sorted(int(p.stem) for p in learner.folder.glob("*.json")
                         if p.stem.isdigit())
        learner.numbers = recover(learner.folder, numbers)
        done = learner.numbers[-1] > old_last
        learner.last_count = (count - (segments - 1) * capacity) if done else old_count


def _write(learner: LearnerLog, number: int, chunk: list[dict[str, Any]]) -> int:
    AtomicJSONStorage(learner.path_of(number), KIND).write(
        {"meta": {"1": {"learner": learner.learner_id}},
         "events": {str(i + 1): dict(d) for i, d in enumerate(chunk)}})
    return len(chunk)
