"""Enrolment codes and devices (tablets): a one-time code is traded for a device token;
only hashes of codes and tokens are stored (sync_server/security.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.errors import DeviceIdTakenError, EnrolError

_COLS = "id, facility_id, name, enrolled_at, revoked_at, last_seen_at"


@dataclass(frozen=True)
class Device:
    id: str
    facility_id: str
    name: str
    enrolled_at: str
    revoked_at: str | None = None
    last_seen_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class EnrolCodeRecord:
    """An enrolment code as the console lists it (the code itself is never stored)."""

    code_hash: str
    facility_id: str
    expires_at: str
    created_by: str
    created_at: str
    used_at: str | None = None
    used_by: str | None = None
    cancelled_at: str | None = None
    cancelled_by: str | None = None


_CODE_COLS = ("code_hash, facility_id, expires_at, created_by, created_at, used_at, used_by, "
              "cancelled_at, cancelled_by")


class DeviceStore(Protocol):
    def create_enrol_code(self, code_hash: str, facility_id: str, expires_at: str,
                          created_by: str, now: str, *, audit: AuditEntry | None = None) -> None:
        """NotFoundError for an unknown facility."""
        ...

    def enrol_device(self, code_hash: str, device_id: str, name: str, token_hash: str,
                     now: str, *, proof_hash: str | None = None) -> Device:
        """Consume the code and enrol the device in one transaction (EnrolError: the code
        is unknown, used or expired).

        An id that is enrolled already is re-enrolled (new token and facility, revocation
        cleared, the old token stops working at once) only when `proof_hash` is the hash
        of that device's current token — the tablet itself asking (moved to another
        facility, re-enrolled after a revocation). Anyone else naming the id gets
        DeviceIdTakenError and the code stays unused: enrolment never takes over
        another tablet."""
        ...

    def list_enrol_codes(self, *, open_at: str | None = None) -> list[EnrolCodeRecord]:
        """Codes, newest first; with `open_at`, only those still usable then (not used,
        not cancelled, not expired)."""
        ...

    def cancel_enrol_code(self, code_hash: str, by: str, now: str) -> bool:
        """Cancel an open code (False: unknown, used, cancelled or expired already)."""
        ...

    def device_for_token(self, token_hash: str) -> Device | None: ...
    def get_device(self, device_id: str) -> Device | None: ...
    def list_devices(self, facility_id: str | None = None) -> list[Device]: ...

    def revoke_device(self, device_id: str, now: str, *,
                      audit: AuditEntry | None = None) -> bool:
        """False when unknown or revoked already."""
        ...

    def touch_device(self, device_id: str, now: str) -> None:
        """Stamp `last_seen_at`."""
        ...


class DeviceSql(SqlBase):
    def create_enrol_code(self, code_hash: str, facility_id: str, expires_at: str,
                          created_by: str, now: str, *, audit: AuditEntry | None = None) -> None:
        self._require_facility(facility_id)
        with self._write() as cur:
            cur.execute(self._sql("INSERT INTO enrol_codes (code_hash, facility_id, expires_at, "
                                  "created_by, created_at) VALUES (?, ?, ?, ?, ?)"),
                        (code_hash, facility_id, expires_at, created_by, now))
            audit_in(cur, self.dialect, audit)

    def enrol_device(self, code_hash: str, device_id: str, name: str, token_hash: str,
                     now: str, *, proof_hash: str | None = None) -> Device:
        with self._write() as cur:
            cur.execute(self._sql("SELECT facility_id, expires_at, used_at, cancelled_at "
                                  "FROM enrol_codes WHERE code_hash = ?"), (code_hash,))
            row = cur.fetchone()
            if row is None:
                raise EnrolError("unknown")
            facility_id, expires_at, used_at, cancelled_at = row
            if cancelled_at is not None:
                raise EnrolError("cancelled")
            if used_at is not None:
                raise EnrolError("already used")
            if expires_at <= now:
                raise EnrolError("expired")
            cur.execute(self._sql("SELECT token_hash FROM devices WHERE id = ?"), (device_id,))
            holder = cur.fetchone()
            if holder is not None and (proof_hash is None or proof_hash != holder[0]):
                raise DeviceIdTakenError(
                    f"device id {device_id!r} is enrolled already; a tablet re-enrols itself "
                    "with its current token, any other device needs its own id")
            cur.execute(self._sql("UPDATE enrol_codes SET used_at = ?, used_by = ? "
                                  "WHERE code_hash = ? AND used_at IS NULL "
                                  "AND cancelled_at IS NULL"),
                        (now, device_id, code_hash))
            if cur.rowcount != 1:
                raise EnrolError("already used")
            cur.execute(self._sql(
                "INSERT INTO devices (id, facility_id, name, token_hash, enrolled_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "facility_id = excluded.facility_id, name = excluded.name, "
                "token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at, "
                "revoked_at = NULL"),
                (device_id, facility_id, name, token_hash, now))
        return Device(device_id, facility_id, name, now)

    def list_enrol_codes(self, *, open_at: str | None = None) -> list[EnrolCodeRecord]:
        if open_at is None:
            rows = self._all(f"SELECT {_CODE_COLS} FROM enrol_codes "
                             "ORDER BY created_at DESC, code_hash")
        else:
            rows = self._all(f"SELECT {_CODE_COLS} FROM enrol_codes WHERE used_at IS NULL "
                             "AND cancelled_at IS NULL AND expires_at > ? "
                             "ORDER BY created_at DESC, code_hash", (open_at,))
        return [EnrolCodeRecord(*r) for r in rows]

    def cancel_enrol_code(self, code_hash: str, by: str, now: str) -> bool:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE enrol_codes SET cancelled_at = ?, cancelled_by = ? "
                                  "WHERE code_hash = ? AND used_at IS NULL AND "
                                  "cancelled_at IS NULL AND expires_at > ?"),
                        (now, by, code_hash, now))
            return bool(cur.rowcount == 1)

    def device_for_token(self, token_hash: str) -> Device | None:
        row = self._one(f"SELECT {_COLS} FROM devices WHERE token_hash = ?", (token_hash,))
        return Device(*row) if row else None

    def get_device(self, device_id: str) -> Device | None:
        row = self._one(f"SELECT {_COLS} FROM devices WHERE id = ?", (device_id,))
        return Device(*row) if row else None

    def list_devices(self, facility_id: str | None = None) -> list[Device]:
        if facility_id is None:
            rows = self._all(f"SELECT {_COLS} FROM devices ORDER BY id")
        else:
            rows = self._all(f"SELECT {_COLS} FROM devices WHERE facility_id = ? ORDER BY id",
                             (facility_id,))
        return [Device(*r) for r in rows]

    def revoke_device(self, device_id: str, now: str, *,
                      audit: AuditEntry | None = None) -> bool:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE devices SET revoked_at = ? WHERE id = ? "
                                  "AND revoked_at IS NULL"), (now, device_id))
            changed = bool(cur.rowcount == 1)
            if changed:
                audit_in(cur, self.dialect, audit)
            return changed

    def touch_device(self, device_id: str, now: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE devices SET last_seen_at = ? WHERE id = ?"),
                        (now, device_id))
