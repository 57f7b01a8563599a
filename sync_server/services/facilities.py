"""Facilities: created by an admin (JSON API, console, CLI), listed everywhere."""

from __future__ import annotations

import re

from app.core.clock import now_iso
from app.core.profile_rules import has_forbidden_characters
from sync_server.db.repository import Facility, Repository
from sync_server.errors import NotFoundError, ServerError
from sync_server.services import audit
from sync_server.services.gap_mapping import ensure_gap_mapping

#: The form of a facility id (and of a pack id), as an HTML ``pattern`` attribute: valid
#: in the ``v`` flag mode browsers compile it in (a ``-`` in a class must be escaped there;
#: an unescaped one makes Chromium ignore the whole pattern).
FACILITY_ID_HTML = r"[a-z0-9][a-z0-9_\-]{0,63}"
#: The same rule on the server: the API models' SLUG_PATTERN is this.
SLUG_PATTERN = "^" + FACILITY_ID_HTML + "$"
FACILITY_ID = re.compile(SLUG_PATTERN)
MAX_NAME = 200


def check_name(name: str) -> str:
    """A facility name, stripped: 1–200 characters, no control characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ServerError(f"facility name: 1–{MAX_NAME} characters",
                          refusal="facility_name_length", max=MAX_NAME)
    if has_forbidden_characters(name):
        raise ServerError("facility name: contains control or invisible characters",
                          refusal="facility_name_characters")
    return name


def create_facility(*, repo: Repository, facility_id: str, name: str,
                    by: str = audit.SERVER) -> Facility:
    """A new facility; ServerError names a malformed id or name, AlreadyExistsError a
    taken id."""
    if not FACILITY_ID.match(facility_id):
        raise ServerError(f"facility id {facility_id!r}: use lower-case letters, digits, "
                          "- and _ (at most 64)", refusal="facility_id_format",
                          id=facility_id[:64])
    made = repo.create_facility(facility_id, check_name(name), now_iso(),
                                audit=audit.entry(by, "facility.create", target=facility_id))
    ensure_gap_mapping(repo)        # publications to "every facility" now reach it
    return made


def rename_facility(*, repo: Repository, facility_id: str, name: str,
                    by: str = audit.SERVER) -> Facility:
    """A new name for a facility (its id stays: devices, learners and publications refer
    to it). ServerError for a bad name, NotFoundError for an unknown facility."""
    old = get_facility(repo=repo, facility_id=facility_id)
    if not repo.rename_facility(old.id, check_name(name)):
        raise NotFoundError(f"facility {facility_id!r} does not exist")
    audit.record(repo, by, "facility.rename", target=facility_id)
    return get_facility(repo=repo, facility_id=facility_id)


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
