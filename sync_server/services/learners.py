"""Learners from the admin side (JSON API, console, CLI): register one or a CSV sheet of
them, reset a PIN, move one to another facility, list them.

A learner an admin registers has no PIN but a one-time PIN set-up code, shown once to the
admin (only its verifier is stored, app/core/pins.py); the learner types it on a tablet
with the PIN they choose. Fields are checked by the shared rules
(app/core/profile_rules.py), the same the tablets and the CSV import use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from app.core import pins, profile_rules
from app.core.clock import now_iso, now_utc
from app.core.errors import EventError, ProfileFieldError, ShiftError
from app.core.events import format_at, parse_at
from sync_server.db.repository import Learner, Repository
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.services import audit
from sync_server.services.facilities import facility_name, get_facility
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
                                     f"to {_who(repo, result.existing_id)} in "
                                     f"{facility_name(repo=repo, facility_id=facility_id)}")
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
    if not learner.active:
        raise ServerError(f"{learner.display_name} is deactivated: reactivate them first "
                          "(that makes a new PIN set-up code)", refusal="learner_deactivated",
                          name=learner.display_name)
    code, verifier, expires = _new_setup(setup_ttl_s, now or now_utc())
    if not repo.set_pin_setup(learner_id, verifier, expires, audit=audit.entry(
            by, "learner.pin_reset", target=learner_id, learner_id=learner_id)):
        raise NotFoundError(f"learner {learner_id!r} does not exist")
    return Registered(learner, PinSetup(learner_id, code, expires))


def _who(repo: Repository, learner_id: str | None) -> str:
    """A person as an admin knows them: "Name (staff number)", never an internal id."""
    learner = repo.get_learner(learner_id) if learner_id else None
    return f"{learner.display_name} ({learner.staff_number})" if learner else "another learner"


@dataclass(frozen=True)
class Move:
    """What a move did (or would do): the person and both facilities by name."""

    learner: Learner
    from_name: str
    to_name: str

    def text(self) -> str:
        return (f"{self.learner.display_name} ({self.learner.staff_number}) from "
                f"{self.from_name} to {self.to_name}")


def plan_move(*, repo: Repository, learner_id: str, facility_id: str) -> Move:
    """The move a confirmation names; NotFoundError for an unknown learner or facility,
    ServerError when the learner is there already."""
    learner = get_learner(repo=repo, learner_id=learner_id)
    target = get_facility(repo=repo, facility_id=facility_id)
    if learner.facility_id == target.id:
        raise ServerError(f"{learner.display_name} is in {target.name} already",
                          refusal="learner_there_already", name=learner.display_name,
                          facility=target.name)
    return Move(learner, facility_name(repo=repo, facility_id=learner.facility_id), target.name)


def move_learner(*, repo: Repository, learner_id: str, facility_id: str,
                 by: str = audit.SERVER) -> Move:
    """Move a learner and their past events to another facility: its tablets then pull
    the whole history (db/learners.py); AlreadyExistsError when the staff number is taken
    there, NotFoundError for an unknown learner or facility."""
    move = plan_move(repo=repo, learner_id=learner_id, facility_id=facility_id)
    try:
        repo.move_learner(learner_id, facility_id, now_iso(), audit=audit.entry(
            by, "learner.move", target=learner_id, learner_id=learner_id, to=facility_id,
            **{"from": move.learner.facility_id}))
    except AlreadyExistsError:
        raise AlreadyExistsError(f"{move.to_name} already has a learner with staff number "
                                 f"{move.learner.staff_number!r}") from None
    return move


def edit_learner(*, repo: Repository, learner_id: str, display_name: str, role: str,
                 language: str, now: datetime | None = None,
                 by: str = audit.SERVER) -> Learner:
    """Change a learner's name, role and language (checked by the shared profile rules);
    the profile gets a new revision, so tablets pull it at their next sync. ServerError
    names a bad field, NotFoundError an unknown learner."""
    learner = get_learner(repo=repo, learner_id=learner_id)
    try:
        fields = profile_rules.check_fields({"display_name": display_name, "role": role,
                                             "staff_number": learner.staff_number,
                                             "language": language})
    except ProfileFieldError as exc:
        raise ServerError(str(exc)) from None
    moment = now or now_utc()
    try:
        stored = parse_at(learner.updated_at)
        if moment <= stored:     # the last change was stamped by a clock ahead of ours
            moment = stored + timedelta(milliseconds=1)
    except EventError:
        pass                     # an unreadable stamp: ours is newer by the text order
    stamp = format_at(moment)
    changed = replace(learner, display_name=fields["display_name"], role=fields["role"],
                      language=fields["language"], updated_at=stamp)
    result = repo.save_profile(changed)
    if result.status != "updated":
        raise ServerError(f"{learner.display_name}: not changed ({result.reason or result.status})")
    audit.record(repo, by, "learner.edit", target=learner_id, learner_id=learner_id)
    return repo.get_learner(learner_id) or changed


def deactivate_learner(*, repo: Repository, learner_id: str,
                       by: str = audit.SERVER) -> Learner:
    """A leaver: the learner is kept (their records and certificates stay) but their PIN
    and any set-up code are removed, so no tablet lets them sign in after its next sync,
    and reports do not count them among those still to train. ServerError when
    deactivated already, NotFoundError for an unknown learner."""
    learner = get_learner(repo=repo, learner_id=learner_id)
    if not repo.set_deactivated(learner_id, now_iso()):
        raise ServerError(f"{learner.display_name} is deactivated already",
                          refusal="learner_deactivated_already", name=learner.display_name)
    audit.record(repo, by, "learner.deactivate", target=learner_id, learner_id=learner_id)
    return get_learner(repo=repo, learner_id=learner_id)


def reactivate_learner(*, repo: Repository, learner_id: str, setup_ttl_s: int,
                       by: str = audit.SERVER) -> Registered:
    """Undo a deactivation; the learner gets a new one-time PIN set-up code (shown once),
    as their PIN was removed. ServerError when the learner is active."""
    learner = get_learner(repo=repo, learner_id=learner_id)
    if not repo.set_deactivated(learner_id, None):
        raise ServerError(f"{learner.display_name} is active", refusal="learner_active",
                          name=learner.display_name)
    audit.record(repo, by, "learner.reactivate", target=learner_id, learner_id=learner_id)
    return reset_pin(repo=repo, learner_id=learner_id, setup_ttl_s=setup_ttl_s, by=by)


@dataclass(frozen=True)
class LearnerPage:
    """One page of the console's learner list."""

    learners: list[Learner]
    total: int          # matching learners on every page
    page: int           # 1-based
    pages: int


def find_learners(*, repo: Repository, facility_id: str | None = None, query: str = "",
                  status: str = "active", page: int = 1, per_page: int = 50) -> LearnerPage:
    """Learners matching a search (name or staff number, no case; staff numbers also
    without spaces) and a status ("active", "deactivated", "all"), one page of them."""
    words = " ".join(query.split())[:100].casefold()
    key = profile_rules.staff_key(words) if words else ""
    found = [lr for lr in repo.list_learners(facility_id)
             if (status == "all" or (status == "deactivated") == (not lr.active))
             and (not words or words in lr.display_name.casefold()
                  or key in profile_rules.staff_key(lr.staff_number))]
    pages = max(1, -(-len(found) // per_page))
    page = min(max(1, page), pages)
    return LearnerPage(found[(page - 1) * per_page:page * per_page], len(found), page, pages)


def get_learner(*, repo: Repository, learner_id: str) -> Learner:
    learner = repo.get_learner(learner_id)
    if learner is None:
        raise NotFoundError(f"learner {learner_id!r} does not exist")
    return learner


def list_learners(*, repo: Repository, facility_id: str | None = None) -> list[Learner]:
    return repo.list_learners(facility_id)
