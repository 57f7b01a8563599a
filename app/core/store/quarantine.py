"""Quarantine: pulled items the tablet refused to store (a malformed or hostile event).

One bad event must never stop a facility: the sync client stores the good events of a
pull page, moves the cursor past the page, and records each refused item here with the
reason — for a supervisor (`python -m app sync --quarantined`), never silently dropped,
never parsed again. The item is kept as *text* (at most MAX_TEXT_CHARS), because a value
nested too deep cannot even be written back as JSON safely.

Each distinct (id, text) is recorded once (a page re-pulled after a crash adds nothing),
and at most MAX_QUARANTINED rows are kept (oldest dropped), so a hostile server cannot
fill the tablet's disk through this log. The file is crash-safe like every store file.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.store.atomic import AtomicJSONStorage
from app.core.store.history import copy_json

MAX_QUARANTINED = 200
MAX_TEXT_CHARS = 2000
MAX_REASON_CHARS = 500
KIND = "quarantine"
TABLE = "quarantine"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()


class QuarantineLog:
    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.path = path
        self._lock = lock
        self._storage = AtomicJSONStorage(path, KIND)
        try:
            self._seen = {(r["id"], r["digest"]) for r in self._rows()}
        except (KeyError, TypeError):
            raise StoreError(f"{path}: quarantine.id/digest: missing") from None

    def _rows(self) -> list[dict[str, Any]]:
        table = (self._storage.read() or {}).get(TABLE, {})
        if not isinstance(table, dict):
            raise StoreError(f"{self.path}: {TABLE}: expected a table")
        return [table[k] for k in sorted(table, key=int)]

    def record(self, items: list[tuple[str | None, str, str]]) -> int:
        """Record (id or None, reason, text) items not recorded before; returns how many
        were new. Raises StoreError (e.g. disk full) with the log unchanged."""
        with self._lock:
            rows: list[dict[str, Any]] = []
            for event_id, reason, text in items:
                if event_id is not None and (not isinstance(event_id, str) or len(event_id) > 200):
                    event_id = None
                text = str(text)[:MAX_TEXT_CHARS]
                key = (event_id, _digest(text))
                if key in self._seen or any((r["id"], r["digest"]) == key for r in rows):
                    continue
                rows.append({"id": event_id, "reason": str(reason)[:MAX_REASON_CHARS],
                             "text": text, "digest": key[1], "at": now_iso()})
            if not rows:
                return 0
            keep = (self._rows() + rows)[-MAX_QUARANTINED:]
            self._storage.write({TABLE: {str(i + 1): r for i, r in enumerate(keep)}})
            self._seen = {(r["id"], r["digest"]) for r in keep}
            return len(rows)

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def all(self) -> list[dict[str, Any]]:
        """``[{"id", "reason", "text", "digest", "at"}]``, oldest first."""
        with self._lock:
            return [copy_json(r) for r in self._rows()]
