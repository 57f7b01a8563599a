"""The one storage interface of the sync server.

Both implementations (SQLite in sqlite.py, PostgreSQL in postgres.py) share the SQL in
sql.py and pass the same test suite. Times are ISO-8601 UTC strings in the events'
`at` format (`2026-11-23T15:38:28.123Z`), which sort correctly as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

InsertStatus = Literal["stored", "duplicate", "conflict"]


@dataclass(frozen=True)
class Facility:
    id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class Admin:
    id: str
    name: str
    password_hash: str
    created_at: str


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
class Learner:
    """A learner profile. `pin_verifier` None = no PIN yet: the learner sets one on a
    tablet with the one-time set-up code whose verifier and expiry are kept here
    (app/core/pins.py)."""

    id: str
    staff_number: str
    facility_id: str
    role: str
    language: str
    display_name: str
    pin_verifier: str | None
    updated_at: str
    rev: int = 0
    pin_setup_verifier: str | None = None
    pin_setup_expires_at: str | None = None


@dataclass(frozen=True)
class ProfileResult:
    """Outcome of saving a learner profile pushed by a device.

    status: registered (new learner) | updated | unchanged (server copy is as new or
    newer) | rejected (reason: staff_number_taken, other_facility, unknown_role,
    bad_field, pin_not_proven); `existing_id` is the learner of the same facility that
    already holds the staff number, so the device can re-attribute; `detail` says what
    is wrong; `current` is the server's copy after a refused PIN change (same facility).
    """

    id: str
    status: Literal["registered", "updated", "unchanged", "rejected"]
    reason: str | None = None
    existing_id: str | None = None
    detail: str | None = None
    current: Learner | None = None


@dataclass(frozen=True)
class EventRow:
    id: str
    learner_id: str
    device_id: str
    facility_id: str
    type: str
    at: str
    content: str          # canonical JSON (app.core.events.content_of), no server stamps
    received_at: str
    received_from: str    # the device that pushed it


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    content: str
    received_at: str


@dataclass(frozen=True)
class PackVersion:
    pack_id: str
    version: int
    manifest: bytes
    sig: bytes
    title: str            # JSON object language → title
    total_bytes: int
    uploaded_at: str
    uploaded_by: str


@dataclass(frozen=True)
class Publication:
    id: int
    pack_id: str
    version: int
    facilities: tuple[str, ...]   # empty = every facility
    roles: tuple[str, ...]        # empty = every role
    published_at: str
    published_by: str

    def reaches(self, facility_id: str) -> bool:
        return not self.facilities or facility_id in self.facilities


@dataclass(frozen=True)
class InstalledPack:
    device_id: str
    facility_id: str
    pack_id: str
    version: int
    reported_at: str


@dataclass(frozen=True)
class CertificateRecord:
    """An issued certificate: the signed credential (a dict) and its bookkeeping.

    At most one per (learner, pack, course): the table's UNIQUE constraint makes issuing
    exactly-once even when two server processes see the same completion at once."""

    id: str
    learner_id: str
    pack_id: str
    pack_version: int
    course_id: str
    facility_id: str
    language: str
    issued_at: str
    source_event: str
    key_id: str
    credential: dict[str, Any]
    delivered_at: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    #: place in the revocation status list (docs/certificates.md); None before schema 4
    status_list: int | None = None
    status_index: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class DeviceUsage:
    """A device's push usage on one UTC day. `refused` names the quota that was already
    used up ("events_per_day" / "bytes_per_day") when a charge was refused, else None."""

    events: int
    bytes: int
    refused: str | None = None


@dataclass
class EventCounts:
    total: int = 0
    by_facility: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class Repository(Protocol):
    """Storage of facilities, admins, devices, learners, events and packs."""

    dialect: str

    def close(self) -> None: ...

    #: random id of the database's history; a restore from a backup replaces it
    def server_epoch(self) -> str: ...

    # facilities
    def create_facility(self, facility_id: str, name: str, now: str) -> Facility: ...
    def get_facility(self, facility_id: str) -> Facility | None: ...
    def list_facilities(self) -> list[Facility]: ...

    # admins and their bearer sessions
    def create_admin(self, admin_id: str, name: str, password_hash: str, now: str) -> Admin: ...
    def set_admin_password(self, name: str, password_hash: str, *,
                           end_sessions: bool = True) -> None: ...
    def get_admin_by_name(self, name: str) -> Admin | None: ...
    def list_admins(self) -> list[Admin]: ...
    def create_admin_session(self, token_hash: str, admin_id: str, expires_at: str,
                             now: str) -> None: ...
    def admin_for_session(self, token_hash: str, now: str) -> Admin | None: ...
    def delete_admin_session(self, token_hash: str) -> None: ...

    # enrolment and devices
    def create_enrol_code(self, code_hash: str, facility_id: str, expires_at: str,
                          created_by: str, now: str) -> None: ...
    def enrol_device(self, code_hash: str, device_id: str, name: str, token_hash: str,
                     now: str, *, proof_hash: str | None = None) -> Device: ...
    def device_for_token(self, token_hash: str) -> Device | None: ...
    def get_device(self, device_id: str) -> Device | None: ...
    def list_devices(self, facility_id: str | None = None) -> list[Device]: ...
    def revoke_device(self, device_id: str, now: str) -> bool: ...
    def touch_device(self, device_id: str, now: str) -> None: ...

    # learners
    def get_learner(self, learner_id: str) -> Learner | None: ...
    def learners_by_ids(self, ids: list[str]) -> dict[str, Learner]: ...
    def list_learners(self, facility_id: str | None = None) -> list[Learner]: ...
    def save_profile(self, profile: Learner) -> ProfileResult: ...
    def set_pin_verifier(self, learner_id: str, verifier: str, *, expected: str | None,
                         expected_setup: str | None) -> bool: ...
    def set_pin_setup(self, learner_id: str, verifier: str, expires_at: str) -> bool: ...
    def move_learner(self, learner_id: str, facility_id: str, now: str) -> None: ...
    def profiles_after(self, facility_id: str, after_rev: int, limit: int) -> list[Learner]: ...

    # events
    def insert_events(self, rows: list[EventRow]) -> dict[str, InsertStatus]: ...
    def events_after(self, facility_id: str, after_seq: int, limit: int) -> list[StoredEvent]: ...
    def count_events(self) -> EventCounts: ...
    def all_event_ids(self) -> list[str]: ...
    def scan_events(self, after_seq: int, limit: int,
                    types: tuple[str, ...] | None = None) -> list[StoredEvent]: ...
    def learner_events(self, learner_id: str,
                       types: tuple[str, ...] | None = None) -> list[StoredEvent]: ...
    def scan_cursor(self, name: str) -> int: ...
    def advance_scan_cursor(self, name: str, seq: int) -> None: ...

    # packs
    def add_pack_version(self, pack: PackVersion) -> None: ...
    def get_pack_version(self, pack_id: str, version: int) -> PackVersion | None: ...
    def list_pack_versions(self) -> list[PackVersion]: ...
    def publish(self, pack_id: str, version: int, facilities: list[str], roles: list[str],
                by: str, now: str) -> Publication: ...
    def list_publications(self) -> list[Publication]: ...
    def report_installed(self, device_id: str, packs: dict[str, int], now: str) -> None: ...
    def installed_packs(self, facility_id: str | None = None, *,
                        device_id: str | None = None) -> list[InstalledPack]: ...
    def blob_visible_to(self, sha256: str, facility_id: str) -> bool: ...

    # certificates
    def insert_certificate(self, record: CertificateRecord) -> bool: ...
    def get_certificate(self, certificate_id: str) -> CertificateRecord | None: ...
    def list_certificates(self, *, learner_id: str | None = None,
                          facility_id: str | None = None,
                          limit: int = 1000) -> list[CertificateRecord]: ...
    def certificate_exists(self, learner_id: str, pack_id: str, course_id: str) -> bool: ...
    def certificate_ids_by_course(self) -> dict[tuple[str, str, str], str]: ...
    def count_certificates(self) -> int: ...
    def undelivered_certificates(self, limit: int = 500) -> list[CertificateRecord]: ...
    def mark_certificate_delivered(self, certificate_id: str, now: str) -> None: ...
    def revoke_certificate(self, certificate_id: str, *, by: str, reason: str,
                           now: str) -> bool: ...
    def revoked_status_indexes(self, status_list: int) -> list[int]: ...
    def max_status_list(self) -> int: ...

    # per-device daily quotas (services/quota.py)
    def charge_usage(self, device_id: str, day: str, *, events: int, bytes_: int,
                     max_events: int, max_bytes: int) -> DeviceUsage: ...
    def device_usage(self, device_id: str, day: str) -> DeviceUsage: ...

    # failed admin logins (lock-out shared by every server process)
    def record_login_failure(self, keys: list[str], at: str, prune_before: str) -> None: ...
    def count_login_failures(self, key: str, since: str) -> int: ...
    def clear_login_failures(self, key: str) -> None: ...
    def remember_login(self, name_key: str, address: str, at: str) -> None: ...
    def known_login(self, name_key: str, address: str, since: str) -> bool: ...
