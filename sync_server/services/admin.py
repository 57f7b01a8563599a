"""Admin actions shared by the HTTP admin API and the CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.core.events import format_at
from app.core.roles import ROLES, is_role
from sync_server.db.repository import Admin, Learner, Repository
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.security import code_hash, hash_password, new_enrol_code

MIN_PASSWORD = 10


def now_iso() -> str:
    return format_at(datetime.now(UTC))


def create_admin(repo: Repository, name: str, password: str) -> Admin:
    if not name.strip() or len(name) > 64:
        raise ServerError("admin name: 1–64 characters")
    if len(password) < MIN_PASSWORD:
        raise ServerError(f"password: at least {MIN_PASSWORD} characters")
    return repo.create_admin(str(uuid.uuid4()), name.strip(), hash_password(password), now_iso())


def set_password(repo: Repository, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ServerError(f"password: at least {MIN_PASSWORD} characters")
    repo.set_admin_password(name, hash_password(password))


def create_enrol_code(repo: Repository, facility_id: str, ttl_seconds: int, by: str,
                      ) -> tuple[str, str]:
    """Make a one-time code; returns (code, expires_at). Only its hash is stored."""
    now = datetime.now(UTC)
    code = new_enrol_code()
    expires = format_at(now + timedelta(seconds=ttl_seconds))
    repo.create_enrol_code(code_hash(code), facility_id, expires, by, format_at(now))
    return code, expires


def create_learner(repo: Repository, *, staff_number: str, display_name: str, role: str,
                   language: str, facility_id: str, learner_id: str | None = None) -> Learner:
    """Register a learner from the admin side (no PIN: the learner sets it on a tablet)."""
    if not is_role(role):
        raise ServerError(f"role: unknown role {role!r}; known: {', '.join(ROLES)}")
    if repo.get_facility(facility_id) is None:
        raise NotFoundError(f"facility {facility_id!r} does not exist")
    learner = Learner(id=learner_id or str(uuid.uuid4()),
                      staff_number=staff_number.strip(), facility_id=facility_id, role=role,
                      language=language, display_name=display_name.strip(), pin_verifier=None,
                      updated_at=now_iso())
    result = repo.save_profile(learner)
    if result.status == "rejected":
        if result.reason == "staff_number_taken":
            raise AlreadyExistsError(f"staff number {staff_number!r} already belongs to learner "
                                     f"{result.existing_id}")
        raise AlreadyExistsError(f"learner {learner.id} already exists in another facility")
    if result.status != "registered":
        raise AlreadyExistsError(f"learner {learner.id} already exists")
    return repo.get_learner(learner.id) or learner
