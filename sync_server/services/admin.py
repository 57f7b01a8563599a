"""Admin actions shared by the HTTP admin API and the CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.core.clock import now_iso
from app.core.events import format_at
from sync_server.db.repository import Admin, Repository
from sync_server.errors import ServerError
from sync_server.security import code_hash, hash_password, new_enrol_code

MIN_PASSWORD = 10


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
