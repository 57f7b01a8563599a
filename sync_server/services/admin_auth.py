"""Admin accounts and admin login: passwords, bearer sessions, lock-out.

The JSON API (POST /api/v1/admin/login), the console's login form and the CLI
(`admin create|passwd|list`) all come here. A session is a random bearer token stored
only as its SHA-256 (sync_server/security.py); the console keeps the same token in its
cookie. Passwords are argon2id hashes; a hash of an older server is replaced at the next
successful login. Failed logins are counted by the login throttle (login_throttle.py),
in the database, so every server process shares the lock-out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from app.core.clock import now_iso, now_utc
from app.core.events import format_at
from sync_server.db.repository import Admin, Repository
from sync_server.errors import ServerError
from sync_server.security import (
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_dummy,
    verify_password,
)
from sync_server.services import audit
from sync_server.services.login_throttle import LoginThrottle, _clean

MIN_PASSWORD = 10
MAX_NAME = 64


@dataclass(frozen=True)
class AdminSession:
    """A bearer token (shown once, to the one who logged in) and when it expires."""

    token: str
    expires_at: str


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ServerError(f"password: at least {MIN_PASSWORD} characters")


def create_admin(*, repo: Repository, name: str, password: str,
                 by: str = audit.SERVER) -> Admin:
    if not name.strip() or len(name) > MAX_NAME:
        raise ServerError(f"admin name: 1–{MAX_NAME} characters")
    _check_password(password)
    made = repo.create_admin(str(uuid.uuid4()), name.strip(), hash_password(password),
                             now_iso())
    audit.record(repo, by, "admin.create", target=made.name)
    return made


def set_password(*, repo: Repository, name: str, password: str,
                 by: str = audit.SERVER) -> None:
    """A new password; it ends every open session of that admin."""
    _check_password(password)
    repo.set_admin_password(name, hash_password(password))
    audit.record(repo, by, "admin.password", target=name)


def list_admins(*, repo: Repository) -> list[Admin]:
    return repo.list_admins()


def login(*, repo: Repository, name: str, password: str, session_ttl_s: int,
          address: str = "?") -> AdminSession | None:
    """Check a password; on success open a session.

    None for a wrong name or password — both take the same time (an unknown name is
    checked against a dummy hash). TooManyAttemptsError (HTTP 429) by the lock-out rules
    of login_throttle.py (per name + address, per address, and a name-wide limit that
    never locks out an address the admin used before).
    """
    throttle = LoginThrottle(repo)
    throttle.check(name, address)
    # a name with control characters (NUL breaks PostgreSQL text) is never an admin's
    admin = repo.get_admin_by_name(name) if name.isprintable() and len(name) <= MAX_NAME \
        else None
    # the name as typed (cut, control characters removed), never the password
    typed = _clean(name, 64)
    refused = audit.entry(typed, "admin.login_failed", outcome="refused", address=_clean(address, 100))
    if admin is None:
        verify_dummy(password)
        throttle.failed(name, address, audit=refused)
        return None
    if not verify_password(password, admin.password_hash):
        throttle.failed(name, address, audit=refused)
        return None
    throttle.succeeded(name, address)
    if needs_rehash(admin.password_hash):
        repo.set_admin_password(admin.name, hash_password(password), end_sessions=False)
    token = new_token("adm")
    now = now_utc()
    expires = format_at(now + timedelta(seconds=session_ttl_s))
    repo.create_admin_session(token_hash(token), admin.id, expires, format_at(now),
                              audit=audit.entry(admin.name, "admin.login",
                                                address=_clean(address, 100)))
    return AdminSession(token, expires)


def admin_for_token(*, repo: Repository, token: str) -> Admin | None:
    """The admin of an unexpired session token (bearer header or console cookie)."""
    return repo.admin_for_session(token_hash(token), now_iso())


def logout(*, repo: Repository, token: str) -> None:
    """End the session of this token (nothing happens for an unknown token)."""
    repo.delete_admin_session(token_hash(token))
