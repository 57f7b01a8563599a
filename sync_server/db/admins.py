"""Admin accounts and their bearer sessions (the login rules: services/admin_auth.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.errors import AlreadyExistsError, NotFoundError

_COLS = "id, name, password_hash, created_at, roles"


@dataclass(frozen=True)
class Admin:
    id: str
    name: str
    password_hash: str
    created_at: str
    #: console roles, comma-separated (schema 13): "admin" = every right (services/roles.py)
    roles: str = "admin"


class AdminStore(Protocol):
    def create_admin(self, admin_id: str, name: str, password_hash: str, now: str) -> Admin:
        """AlreadyExistsError when the name is taken."""
        ...

    def set_admin_password(self, name: str, password_hash: str, *,
                           end_sessions: bool = True) -> None:
        """A new password ends every open session of that admin; a re-hash of the same
        password (a stronger hash at login, `end_sessions=False`) does not.
        NotFoundError for an unknown name."""
        ...

    def get_admin_by_name(self, name: str) -> Admin | None: ...
    def list_admins(self) -> list[Admin]: ...

    def set_admin_roles(self, name: str, roles: str, *,
                        audit: AuditEntry | None = None) -> None:
        """Replace an admin's console roles (comma-separated); NotFoundError for an
        unknown name."""
        ...

    def create_admin_session(self, token_hash: str, admin_id: str, expires_at: str,
                             now: str, *, audit: AuditEntry | None = None) -> None:
        """Open a session (expired ones are dropped on the way)."""
        ...

    def admin_for_session(self, token_hash: str, now: str) -> Admin | None:
        """The admin of an unexpired session."""
        ...

    def delete_admin_session(self, token_hash: str) -> None: ...


class AdminSql(SqlBase):
    def create_admin(self, admin_id: str, name: str, password_hash: str, now: str) -> Admin:
        try:
            with self._write() as cur:
                cur.execute(self._sql("INSERT INTO admins (id, name, password_hash, created_at) "
                                      "VALUES (?, ?, ?, ?)"),
                            (admin_id, name, password_hash, now))
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"admin {name!r} already exists") from None
            raise
        return Admin(admin_id, name, password_hash, now)

    def set_admin_password(self, name: str, password_hash: str, *,
                           end_sessions: bool = True) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE admins SET password_hash = ? WHERE name = ?"),
                        (password_hash, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"admin {name!r} does not exist")
            if end_sessions:
                cur.execute(self._sql("DELETE FROM admin_sessions WHERE admin_id IN "
                                      "(SELECT id FROM admins WHERE name = ?)"), (name,))

    def get_admin_by_name(self, name: str) -> Admin | None:
        row = self._one(f"SELECT {_COLS} FROM admins WHERE name = ?", (name,))
        return Admin(*row) if row else None

    def list_admins(self) -> list[Admin]:
        return [Admin(*r) for r in self._all(f"SELECT {_COLS} FROM admins ORDER BY name")]

    def set_admin_roles(self, name: str, roles: str, *,
                        audit: AuditEntry | None = None) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE admins SET roles = ? WHERE name = ?"), (roles, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"admin {name!r} does not exist")
            audit_in(cur, self.dialect, audit)

    def create_admin_session(self, token_hash: str, admin_id: str, expires_at: str,
                             now: str, *, audit: AuditEntry | None = None) -> None:
        with self._write() as cur:
            audit_in(cur, self.dialect, audit)
            cur.execute(self._sql("DELETE FROM admin_sessions WHERE expires_at <= ?"), (now,))
            cur.execute(self._sql("INSERT INTO admin_sessions (token_hash, admin_id, expires_at, "
                                  "created_at) VALUES (?, ?, ?, ?)"),
                        (token_hash, admin_id, expires_at, now))

    def admin_for_session(self, token_hash: str, now: str) -> Admin | None:
        row = self._one("SELECT a.id, a.name, a.password_hash, a.created_at, a.roles "
                        "FROM admin_sessions s "
                        "JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = ? "
                        "AND s.expires_at > ?", (token_hash, now))
        return Admin(*row) if row else None

    def delete_admin_session(self, token_hash: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM admin_sessions WHERE token_hash = ?"),
                        (token_hash,))
