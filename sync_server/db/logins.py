"""The login throttle's memory (services/login_throttle.py): failed admin logins per key,
and the (admin name, address) pairs that logged in before. Kept in the database so every
server process shares it and a restart does not reset it."""

from __future__ import annotations

from typing import Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase


class LoginStore(Protocol):
    def record_login_failure(self, keys: list[str], at: str, prune_before: str, *,
                             audit: AuditEntry | None = None) -> None:
        """Log one failed login under each key (e.g. name and address); drop entries
        older than `prune_before` so the table stays small."""
        ...

    def count_login_failures(self, key: str, since: str) -> int: ...
    def clear_login_failures(self, key: str) -> None: ...

    def remember_login(self, name_key: str, address: str, at: str) -> None:
        """Record that `address` logged in successfully as this admin name."""
        ...

    def known_login(self, name_key: str, address: str, since: str) -> bool: ...


class LoginSql(SqlBase):
    def record_login_failure(self, keys: list[str], at: str, prune_before: str, *,
                             audit: AuditEntry | None = None) -> None:
        with self._write() as cur:
            audit_in(cur, self.dialect, audit)
            cur.execute(self._sql("DELETE FROM login_failures WHERE at < ?"), (prune_before,))
            cur.executemany(self._sql("INSERT INTO login_failures (key, at) VALUES (?, ?)"),
                            [(key, at) for key in keys])

    def count_login_failures(self, key: str, since: str) -> int:
        row = self._one("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?",
                        (key, since))
        return int(row[0]) if row else 0

    def clear_login_failures(self, key: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM login_failures WHERE key = ?"), (key,))

    def remember_login(self, name_key: str, address: str, at: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql(
                "INSERT INTO login_known (name_key, address, at) VALUES (?, ?, ?) "
                "ON CONFLICT (name_key, address) DO UPDATE SET at = excluded.at"),
                (name_key, address, at))

    def known_login(self, name_key: str, address: str, since: str) -> bool:
        return self._one("SELECT 1 FROM login_known WHERE name_key = ? AND address = ? "
                         "AND at >= ?", (name_key, address, since)) is not None
