"""Facilities (prisons, training centres): the unit every device, learner and
publication belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.errors import AlreadyExistsError


@dataclass(frozen=True)
class Facility:
    id: str
    name: str
    created_at: str


class FacilityStore(Protocol):
    def create_facility(self, facility_id: str, name: str, now: str, *,
                        audit: AuditEntry | None = None) -> Facility:
        """AlreadyExistsError when the id is taken."""
        ...

    def get_facility(self, facility_id: str) -> Facility | None: ...
    def list_facilities(self) -> list[Facility]: ...

    def rename_facility(self, facility_id: str, name: str) -> bool:
        """False for an unknown id (the id never changes: everything refers to it)."""
        ...


class FacilitySql(SqlBase):
    def create_facility(self, facility_id: str, name: str, now: str, *,
                        audit: AuditEntry | None = None) -> Facility:
        try:
            with self._write() as cur:
                cur.execute(self._sql("INSERT INTO facilities (id, name, created_at) "
                                      "VALUES (?, ?, ?)"), (facility_id, name, now))
                audit_in(cur, self.dialect, audit)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"facility {facility_id!r} already exists") from None
            raise
        return Facility(facility_id, name, now)

    def get_facility(self, facility_id: str) -> Facility | None:
        row = self._one("SELECT id, name, created_at FROM facilities WHERE id = ?",
                        (facility_id,))
        return Facility(*row) if row else None

    def list_facilities(self) -> list[Facility]:
        return [Facility(*r) for r in
                self._all("SELECT id, name, created_at FROM facilities ORDER BY id")]

    def rename_facility(self, facility_id: str, name: str) -> bool:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE facilities SET name = ? WHERE id = ?"),
                        (name, facility_id))
            return bool(cur.rowcount == 1)
