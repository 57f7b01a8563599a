"""What a supervisor reads of a Store besides events: the conflict log, the quarantine of
refused pulled items, and files of an encrypted folder that did not open (a mixin of
Store, store.py; the same store lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from app.core.store.conflicts import ConflictLog
from app.core.store.quarantine import QuarantineLog
from app.core.store.sealing import SealState


class SupervisorLogs:
    _lock: threading.RLock
    _conflicts: ConflictLog
    _quarantine: QuarantineLog
    _seal: SealState | None

    def _check_open(self) -> None:
        raise NotImplementedError

    def conflicts(self) -> list[dict[str, Any]]:
        """Pulled events whose id was already stored with different content (the first
        copy is kept): ``[{"id", "learner", "kept", "received", "at", "digest"}]``,
        oldest first, at most conflicts.MAX_CONFLICTS — for an admin / settings screen."""
        with self._lock:
            self._check_open()
            return self._conflicts.all()

    def conflict_count(self) -> int:
        """How many rows `conflicts()` has (no copying)."""
        with self._lock:
            self._check_open()
            return self._conflicts.count()

    def quarantine(self, items: Iterable[tuple[str | None, str, str]]) -> int:
        """Keep pulled items the tablet refused (malformed, too deep, too large) as
        (event id or None, reason, text) for a supervisor; nothing else changes. Each
        distinct item is kept once, at most quarantine.MAX_QUARANTINED rows. Returns how
        many were new."""
        rows = list(items)
        with self._lock:
            self._check_open()
            return self._quarantine.record(rows)

    def quarantined(self) -> list[dict[str, Any]]:
        """Pulled items refused by this tablet: ``[{"id", "reason", "text", "digest",
        "at"}]``, oldest first (`text` is the item as received, cut to 2,000 chars)."""
        with self._lock:
            self._check_open()
            return self._quarantine.all()

    def quarantine_count(self) -> int:
        """How many rows `quarantined()` has (no copying)."""
        with self._lock:
            self._check_open()
            return self._quarantine.count()

    def damaged_files(self) -> list[dict[str, str]]:
        """Files of an encrypted folder that did not open (tampered, damaged, copied
        from another name) or were plaintext there, since the store was opened:
        ``[{"path", "kept_as", "reason"}]`` (sealed.py: they were moved aside, not used)."""
        with self._lock:
            if self._seal is None:
                return []
            return [{"path": str(d.path), "kept_as": str(d.kept_as or ""),
                     "reason": d.reason} for d in self._seal.sealer.damaged]

    @property
    def encrypted(self) -> bool:
        """True when the folder is encrypted at rest (opened with a KeyProvider)."""
        return self._seal is not None

    @property
    def pin_lock_floor(self) -> float:
        """Unix time before which no PIN of this tablet may be tried (0: none): set when
        a lock-out file was tampered with or removed (sealing.py)."""
        return self._seal.lock_floor if self._seal is not None else 0.0
