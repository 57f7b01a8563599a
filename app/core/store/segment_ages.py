"""The oldest `at` of each full segment of a learner, so that the daily retention check
reads only the segments that may hold an event past the cutoff (ageing.py).

Without it the check read the learner's whole history every day to find, most days,
nothing to age (≈ 0.3 s per 100,000 events here, several times that on a tablet). A
full segment is never written again (segments.py), so its oldest `at` never changes;
the history's oldest events sit in a few segments, and the others are skipped until
the cutoff reaches them.

``learners/<key>/segment-ages.json``: ``{"<number>": [size, mtime_ns, inode, oldest]}``
— a cache, written atomically (sealed in an encrypted folder) and checked on use: an
entry counts only while the segment file's size, modification time and inode are the
ones it was taken from (a rewritten, restored or re-encrypted segment is read again).
A missing or unreadable cache is an empty one; the file goes with the learner's folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.store.atomic import atomic_write_bytes, read_file_bytes

FILE = "segment-ages.json"

Stamp = tuple[int, int, int]        # size, mtime_ns, inode


def stamp_of(path: Path) -> Stamp | None:
    """(size, mtime_ns, inode) of a segment file, None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


class SegmentAges:
    """The cache of one learner folder (module docstring)."""

    def __init__(self, folder: Path, entries: dict[int, tuple[Stamp, str]]) -> None:
        self.folder = folder
        self._entries = entries
        self._changed = False

    @classmethod
    def load(cls, folder: Path) -> SegmentAges:
        entries: dict[int, tuple[Stamp, str]] = {}
        with contextlib.suppress(StoreError, ValueError, TypeError, AttributeError):
            raw = read_file_bytes(folder / FILE)
            for key, value in (json.loads(raw) if raw else {}).items():
                size, mtime, inode, oldest = value
                if type(oldest) is str and all(type(v) is int for v in (size, mtime, inode)):
                    entries[int(key)] = ((size, mtime, inode), oldest)
        return cls(folder, entries)

    def oldest(self, path: Path, number: int) -> str | None:
        """The oldest `at` in segment `number` (at `path`), if known and still valid."""
        entry = self._entries.get(number)
        if entry is None or entry[0] != stamp_of(path):
            return None
        return entry[1]

    def note(self, path: Path, number: int, docs: list[dict[str, Any]], stamp: Stamp | None
             ) -> None:
        """Remember the oldest `at` of a full segment read at `stamp` (taken before the
        read: a file replaced meanwhile then fails the check on use)."""
        ats = [d["event"]["at"] for d in docs if isinstance(d.get("event"), dict)
               and type(d["event"].get("at")) is str]
        if stamp is None or not ats:
            return
        self._entries[number] = (stamp, min(ats))
        self._changed = True

    def save(self, keep: list[int]) -> None:
        """Write the cache when it changed, with the entries of `keep` only (the learner's
        segments now). A failure is no error: the next check reads those segments again."""
        wanted = set(keep)
        kept = {n: e for n, e in self._entries.items() if n in wanted}
        if not self._changed and len(kept) == len(self._entries):
            return
        data = {str(n): [*stamp, oldest] for n, (stamp, oldest) in sorted(kept.items())}
        with contextlib.suppress(StoreError):
            atomic_write_bytes(self.folder / FILE, json.dumps(data).encode())
        self._entries, self._changed = kept, False
