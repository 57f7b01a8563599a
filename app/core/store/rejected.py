"""Events the server rejected, kept with the reason (``rejected.json``) — never silently
dropped: an admin lists them with ``python -m app sync --rejected``. They have left the
outbox (the Store moves them here and out of the outbox under its lock).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.store.atomic import AtomicJSONStorage

MAX_REASON_CHARS = 1000
TABLE = "rejected"


class RejectedLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: TinyDB | None = None
        self.ids: set[str] = set()

    def load(self) -> None:
        self._db = TinyDB(self.path, storage=AtomicJSONStorage, kind="rejected")
        try:
            self.ids = {r["event"]["id"] for r in self._db.table(TABLE).all()}
        except (KeyError, TypeError):
            raise StoreError(f"{self.path}: rejected.event.id: missing") from None

    def record(self, events: Iterable[tuple[dict[str, Any], str]]) -> None:
        """Keep (event, reason) pairs; reasons are cut to MAX_REASON_CHARS."""
        assert self._db is not None
        at = now_iso()
        pairs = list(events)
        self._db.table(TABLE).insert_multiple(
            {"event": event, "reason": reason[:MAX_REASON_CHARS], "at": at}
            for event, reason in pairs)
        self.ids.update(str(event["id"]) for event, _reason in pairs)

    def rows(self) -> list[dict[str, Any]]:
        assert self._db is not None
        return [dict(r) for r in self._db.table(TABLE).all()]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
