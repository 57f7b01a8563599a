"""The server's own bookkeeping: the identity of the database's history (`epoch`) and
the named cursors of background scans over the event log (the certificate issuer's)."""

from __future__ import annotations

import uuid
from typing import Protocol

from sync_server.db.base import SqlBase


def new_epoch() -> str:
    """A fresh value for `server_meta.epoch` (see MetaStore.server_epoch)."""
    return uuid.uuid4().hex


class MetaStore(Protocol):
    def server_epoch(self) -> str:
        """A random id of this database's history, sent with every pull: made the first
        time it is asked for, replaced by every restore from a backup (sync_server/backup).
        A tablet that sees it change knows the server may have lost events it had
        acknowledged, and offers its history again (docs/sync-protocol.md §4.5)."""
        ...

    def scan_cursor(self, name: str) -> int:
        """Where the named scan over the event log stopped (a seq; 0 = not started)."""
        ...

    def advance_scan_cursor(self, name: str, seq: int) -> None:
        """Move a named cursor forward (never back, whoever writes last)."""
        ...


class MetaSql(SqlBase):
    _epoch: str | None = None

    def server_epoch(self) -> str:
        # read once per process: a restore is done with the servers stopped
        if self._epoch is None:
            row = self._one("SELECT value FROM server_meta WHERE name = 'epoch'")
            if row is None:
                with self._write() as cur:
                    cur.execute(self._sql("INSERT INTO server_meta (name, value) VALUES "
                                          "('epoch', ?) ON CONFLICT (name) DO NOTHING"),
                                (new_epoch(),))
                row = self._one("SELECT value FROM server_meta WHERE name = 'epoch'")
            assert row is not None
            self._epoch = str(row[0])
        return self._epoch

    def scan_cursor(self, name: str) -> int:
        row = self._one("SELECT seq FROM certificate_cursor WHERE name = ?", (name,))
        return int(row[0]) if row else 0

    def advance_scan_cursor(self, name: str, seq: int) -> None:
        with self._write() as cur:
            cur.execute(self._sql(
                "INSERT INTO certificate_cursor (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = CASE WHEN certificate_cursor.seq > "
                "excluded.seq THEN certificate_cursor.seq ELSE excluded.seq END"), (name, seq))
