"""Conflict log: a pulled event whose id is already stored with different content.

The store keeps the first copy of an id (union by id, so merge stays idempotent and
order-independent) — but two different bodies under one id means a device or server bug,
or tampering, and an admin should see it. Each distinct (id, received content) pair is
recorded once in ``conflicts.json`` (crash-safe like every store file): the copy kept,
the copy received, and when. At most MAX_CONFLICTS rows are kept (oldest dropped), so a
hostile server cannot fill the tablet's disk through this log.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.events import content_of
from app.core.store.atomic import AtomicJSONStorage
from app.core.store.history import copy_json

MAX_CONFLICTS = 200   # × 2 events ≤ 16 KiB each: the file stays ≤ ~6 MB even when hostile
KIND = "conflicts"
TABLE = "conflicts"

Event = dict[str, Any]


def _digest(event: Event) -> str:
    return hashlib.sha256(content_of(event)).hexdigest()


def differs(kept: Event, received: Event) -> bool:
    """Same id, different content? (server stamps such as `received_at` do not count)"""
    return content_of(kept) != content_of(received)


class ConflictLog:
    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.path = path
        self._lock = lock
        self._storage = AtomicJSONStorage(path, KIND)
        try:
            self._seen = {(r["id"], r["digest"]) for r in self._rows()}
        except (KeyError, TypeError):
            raise StoreError(f"{path}: conflicts.id/digest: missing") from None

    def _rows(self) -> list[dict[str, Any]]:
        table = (self._storage.read() or {}).get(TABLE, {})
        if not isinstance(table, dict):
            raise StoreError(f"{self.path}: {TABLE}: expected a table")
        return [table[k] for k in sorted(table, key=int)]

    def record(self, pairs: list[tuple[Event, Event]]) -> int:
        """Record (kept, received) pairs not recorded before; returns how many were new.
        Raises StoreError (e.g. disk full) with the log unchanged."""
        with self._lock:
            rows: list[dict[str, Any]] = []
            for kept, received in pairs:
                key = (received["id"], _digest(received))
                if key in self._seen or any((r["id"], r["digest"]) == key for r in rows):
                    continue
                rows.append({"id": received["id"], "learner": kept["learner"],
                             "digest": key[1], "kept": kept, "received": received,
                             "at": now_iso()})
            if not rows:
                return 0
            keep = (self._rows() + rows)[-MAX_CONFLICTS:]
            # one atomic write of the whole (small, bounded) log: old or new, never half
            self._storage.write({TABLE: {str(i + 1): r for i, r in enumerate(keep)}})
            self._seen = {(r["id"], r["digest"]) for r in keep}
            return len(rows)

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def all(self) -> list[dict[str, Any]]:
        """``[{"id", "learner", "kept", "received", "at", "digest"}]``, oldest first."""
        with self._lock:
            return [copy_json(r) for r in self._rows()]


def find_conflicts(known: list[Event], fresh: dict[str, Event], unfolded: dict[str, Event],
                   stored_events: Callable[[list[str]], dict[str, Event]]
                   ) -> list[tuple[Event, Event]]:
    """(kept, received) pairs for received events whose id is stored with other content:
    `known` are received events whose id is stored (in the current journal: `unfolded`,
    or in the segments: read by `stored_events`, only the segments that hold them) or
    came twice in this batch (`fresh`: the first copy)."""
    if not known:
        return []
    stored = stored_events([e["id"] for e in known
                            if e["id"] not in fresh and e["id"] not in unfolded])
    pairs: list[tuple[Event, Event]] = []
    for event in known:
        kept = fresh.get(event["id"]) or unfolded.get(event["id"]) or stored.get(event["id"])
        if kept is not None and differs(kept, event):
            pairs.append((copy_json(kept), event))
    return pairs
