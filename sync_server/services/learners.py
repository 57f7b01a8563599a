"""Learners from the admin side (JSON API, console, CLI): register one or a CSV sheet of
them, reset a PIN, move one to another facility, list them.

A learner an admin registers has no PIN but a one-time PIN set-up code, shown once to the
admin (only its verifier is stored, app/core/pins.py); the learner types it on a tablet
with the PIN they choose. Fields are checked by the shared rules
(app/core/profile_rules.py), the same the tablets and the CSV import use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.core import pins, profile_rules
from app.core.clock import now_iso, now_utc
from app.core.errors import ProfileFieldError, ShiftError
from app.core.events import format_at
from sync_server.db.repository import Learner, Repository
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.services import audit
from sync_server.services.facilities import get_facility
from sync_server.services.learners_csv import RowError, parse_learners_csv


@dataclass(frozen=True)
class PinSetup:
    """A one-time PIN set-up code: shown to the admin once, stored only as a verifier."""

    learner_id: str
    code: str
    expires_at: str


@dataclass(frozen=True)
class Registered:
    learner: Learner
    setup: PinSetup


@dataclass
class ImportResult:
    """A CSV import: who was registered (with their codes) and the rows refused."""

    registered: list[Registered] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _new_setup(ttl_s: int, now: datetime) -> tuple[str, str, str]:
    """(code, its verifier, expires_at)."""
    code = pins.new_setup_code()
    return code, pins.make_setup_verifier(code), format_at(now + timedelta(seconds=ttl_s))


def create_learner(*, repo: Repository, staff_number: str, display_name: str, role: str,
                   language: str, facility_id: str, setup_ttl_s: int,
                   learner_id: str | None = None, now: datetime | None = None,
                   by: str = audit.SERVER) -> Registered:
    """Register a learner: ServerError names a bad field, NotFoundError an unknown
    facility, AlreadyExistsError a staff number taken in that facility."""
    try:
        fields = profile_rules.check_fields({"display_name": display_name,
                                             "staff_number": staff_number, "role": role,
                                             "language": language})
        lid = profile_rules.learner_id(learner_id or str(uuid.uuid4()))
    except ProfileFieldError as exc:
        raise ServerError(str(exc)) from None
    get_facility(repo=repo, facility_id=facility_id)
    moment = now or now_utc()
    code, verifier, expires = _new_setup(setup_ttl_s, moment)
    learner = Learner(id=lid, facility_id=facility_id, staff_number=fields["staff_number"],
                      role=fields["role"], language=fields["language"],
                      display_name=fields["display_name"], pin_verifier=None,
                      updated_at=format_at(moment), pin_setup_verifier=verifier,
                      pin_setup_expires_at=expires)
    result = repo.save_profile(learner, audit=audit.entry(
        by, "learner.create", target=lid, learner_id=lid, facility=facility_id))
    if result.status == "rejected":
        if result.reason == "staff_number_taken":
            raise AlreadyExistsError(f"staff number {fields['staff_number']!r} already belongs "
                                     f"to learner {result.existing_id} in {facility_id}")
        raise AlreadyExistsError(f"learner {lid} already exists in another facility")
    if result.status != "registered":
        raise AlreadyExistsError(f"learner {lid} already exists")
    return Registered(repo.get_learner(lid) or learner, PinSetup(lid, code, expires))


def import_learners(*, repo: Repository, data: bytes, setup_ttl_s: int,
                    by: str = audit.SERVER) -> ImportResult:
    """Register every good row of a CSV sheet (format: learners_csv.py); a bad row, or one
    the registration refuses, is reported with its line and registers nothing."""
    facilities = {f.id for f in repo.list_facilities()}
    rows, errors = parse_learners_csv(data, facilities=facilities)
    result = ImportResult(errors=errors)
    for row in rows:
        try:
            result.registered.append(create_learner(
                repo=repo, staff_number=row.staff_number, display_name=row.name, role=row.role,
                language=row.language, facility_id=row.facility_id, setup_ttl_s=setup_ttl_s,
                by=by))
        except ShiftError as exc:
            result.errors.append(RowError(row.line, "staff_number", str(exc)))
    result.errors.sort(key=lambda e: e.line)
    return result


def reset_pin(*, repo: Repository, learner_id: str, setup_ttl_s: int,
              now: datetime | None = None, by: str = audit.SERVER) -> Registered:
    """The learner's PIN is removed on the server (tablets drop it at their next sync)
    and a new one-time set-up code replaces any earlier one (NotFoundError: no such
    learner)."""
    learner = get_learner(repo=repo, learner_id=learner_id)
    code, verifier, expires = _new_setup(setup_ttl_s, now or now_utc())
    if not repo.set_pin_setup(learner_id, verifier, expires, audit=audit.entry(
            by, "learner.pin_reset", target=learner_id, learner_id=learner_id)):
        raise NotFoundError(f"learner {learner_id!r} does not exist")
    return Registered(learner, PinSetup(learner_id, code, expires))


def move_learner(*, repo: Repository, learner_id: str, facility_id: str,
                 by: str = audit.SERVER) -> None:
    """Move a learner and their past events to another facility: its tablets then pull
    the whole history (db/learners.py); AlreadyExistsError when the staff number is taken
    there, NotFoundError for an unknown learner or facility."""
    before = repo.get_learner(learner_id)
    repo.move_learner(learner_id, facility_id, now_iso(), audit=audit.entry(
        by, "learner.move", target=learner_id, learner_id=learner_id, to=facility_id,
        **({"from": before.facility_id} if before else {})))


def get_learner(*, repo: Repository, learner_id: str) -> Learner:
    learner = repo.get_learner(learner_id)
    if learner is None:
        raise NotFoundError(f"learner {learner_id!r} does not exist")
    return learner


def list_learners(*, repo: Repository, facility_id: str | None = None) -> list[Learner]:
    return repo.list_learners(facility_id)
