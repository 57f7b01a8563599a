"""Facilities: created by an admin (JSON API, console, CLI), listed everywhere."""

from __future__ import annotations

import re

from app.core.clock import now_iso
from sync_server.db.repository import Facility, Repository
from sync_server.errors import NotFoundError, ServerError
from sync_server.services import audit

#: The form of a facility id (and of a pack id): the API models' SLUG_PATTERN is this.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
FACILITY_ID = re.compile(SLUG_PATTERN)
MAX_NAME = 200


def create_facility(*, repo: Repository, facility_id: str, name: str,
                    by: str = audit.SERVER) -> Facility:
    """A new facility; ServerError names a malformed id or name, AlreadyExistsError a
    taken id."""
    if not FACILITY_ID.match(facility_id):
        raise ServerError(f"facility id {facility_id!r}: use lower-case letters, digits, "
                          "- and _ (at most 64)")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ServerError(f"facility name: 1–{MAX_NAME} characters")
    return repo.create_facility(facility_id, name, now_iso(),
                                audit=audit.entry(by, "facility.create", target=facility_id))


def list_facilities(*, repo: Repository) -> list[Facility]:
    return repo.list_facilities()


def get_facility(*, repo: Repository, facility_id: str) -> Facility:
    """NotFoundError for an unknown id."""
    facility = repo.get_facility(facility_id)
    if facility is None:
        raise NotFoundError(f"facility {facility_id!r} does not exist")
    return facility


def facility_name(*, repo: Repository, facility_id: str) -> str:
    """The facility's name, or its id when it is gone."""
    facility = repo.get_facility(facility_id)
    return facility.name if facility else facility_id
