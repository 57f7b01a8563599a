"""Devices: enrolment codes (admin), enrolment (a tablet trades a code for its token),
device authentication, revocation, and the admin's view of the tablets.

Codes and tokens are random and stored only as hashes (sync_server/security.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from app.core.clock import now_iso, now_utc
from app.core.events import format_at
from sync_server.db.devices import EnrolCodeRecord
from sync_server.db.repository import Device, Facility, InstalledPack, Repository
from sync_server.errors import NotFoundError
from sync_server.security import code_hash, new_enrol_code, new_token, token_hash
from sync_server.services import audit
from sync_server.services.facilities import facility_name, get_facility


@dataclass(frozen=True)
class EnrolCode:
    """A one-time code (shown once; only its hash is stored)."""

    code: str
    facility: Facility
    expires_at: str


@dataclass(frozen=True)
class Enrolment:
    device: Device
    facility_name: str
    token: str            # the device token, shown once


@dataclass(frozen=True)
class Revocation:
    device: Device        # as it is now (revoked)
    changed: bool         # False: it was revoked already


@dataclass
class DeviceOverview:
    """What the console's devices page shows."""

    facilities: list[Facility]
    devices: list[Device]
    installed: dict[str, list[InstalledPack]] = field(default_factory=dict)


def create_enrol_code(*, repo: Repository, facility_id: str, ttl_s: int, by: str) -> EnrolCode:
    """A one-time code for a facility (NotFoundError: no such facility)."""
    facility = get_facility(repo=repo, facility_id=facility_id)
    now = now_utc()
    code = new_enrol_code()
    expires = format_at(now + timedelta(seconds=ttl_s))
    repo.create_enrol_code(code_hash(code), facility.id, expires, by, format_at(now),
                           audit=audit.entry(by, "enrol_code.create", target=facility.id,
                                             expires_at=expires))
    return EnrolCode(code, facility, expires)


def open_enrol_codes(*, repo: Repository) -> list[EnrolCodeRecord]:
    """Enrolment codes that still work (not used, cancelled or expired), newest first:
    which facility, until when, made by whom. The codes themselves are not stored."""
    return repo.list_enrol_codes(open_at=now_iso())


def cancel_enrol_code(*, repo: Repository, code_hash: str, by: str) -> EnrolCodeRecord:
    """Cancel an open code (a leaked photo of its QR then enrols nothing); NotFoundError
    when no open code has this reference."""
    found = next((c for c in repo.list_enrol_codes(open_at=now_iso())
                  if c.code_hash == code_hash), None)
    if found is None or not repo.cancel_enrol_code(code_hash, by, now_iso()):
        raise NotFoundError("no open enrolment code with this reference (used, cancelled "
                            "or expired already)")
    audit.record(repo, by, "enrol_code.cancel", target=found.facility_id)
    return found


def enrol(*, repo: Repository, code: str, device_id: str, name: str,
          proof_token: str | None) -> Enrolment:
    """Trade a code for a device token. `proof_token`: the tablet's current token, which
    lets an enrolled device id re-enrol (otherwise DeviceIdTakenError, code unused);
    EnrolError when the code is unknown, used or expired (db/devices.py)."""
    token = new_token("dev")
    device = repo.enrol_device(code_hash(code), device_id, name, token_hash(token), now_iso(),
                               proof_hash=token_hash(proof_token) if proof_token else None)
    return Enrolment(device, facility_name(repo=repo, facility_id=device.facility_id), token)


def device_for_token(*, repo: Repository, token: str) -> Device | None:
    """The device of a device token (revoked ones included: the caller says why not)."""
    return repo.device_for_token(token_hash(token))


def list_devices(*, repo: Repository, facility_id: str | None = None) -> list[Device]:
    return repo.list_devices(facility_id)


def revoke_device(*, repo: Repository, device_id: str, by: str = audit.SERVER) -> Revocation:
    """Its token stops working at once (NotFoundError: no such device)."""
    if repo.get_device(device_id) is None:
        raise NotFoundError(f"device {device_id!r} does not exist")
    changed = repo.revoke_device(device_id, now_iso(),
                                 audit=audit.entry(by, "device.revoke", target=device_id))
    device = repo.get_device(device_id)
    assert device is not None
    return Revocation(device, changed)


def overview(*, repo: Repository) -> DeviceOverview:
    installed: dict[str, list[InstalledPack]] = defaultdict(list)
    for item in repo.installed_packs():
        installed[item.device_id].append(item)
    return DeviceOverview(repo.list_facilities(), repo.list_devices(), installed)
