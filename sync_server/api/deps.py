"""FastAPI dependencies shared by every router — also the hook for the admin console.

Extension point: `sync_server.app.create_app` imports `sync_server.admin` and
`sync_server.certificates` when they exist and calls their `install(app)` function (see
EXTENSIONS there). Inside their routes they use these dependencies:

    from sync_server.api.deps import get_repo, get_state, require_admin, require_device

`require_admin` accepts `Authorization: Bearer <token>` or the `shift_admin` cookie (same
token, for the HTML console); tokens come from POST /api/v1/admin/login or
`login_admin()` below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.clock import now_iso
from app.core.events import format_at
from app.core.packs import BlobStore
from sync_server.db.repository import Admin, Device, Repository
from sync_server.keyring import Keyring
from sync_server.security import (
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_dummy,
    verify_password,
)
from sync_server.settings import Settings
from sync_server.throttle import LoginThrottle

ADMIN_COOKIE = "shift_admin"


@dataclass
class ServerState:
    """What one server process holds (app.state.shift)."""

    settings: Settings
    repo: Repository
    keyring: Keyring
    blobs: BlobStore
    #: Called after each push with the events it newly stored (duplicates and rejected
    #: events excluded); see services/sync.py.
    on_events_stored: list[Callable[[list[dict[str, Any]]], object]] = field(
        default_factory=list)
    #: Checks that a pushed server-only event (``certificate.received``) is exactly one
    #: this server made — a tablet offers those back after a restore from a backup; any
    #: other is refused (services/sync.py SERVER_ONLY_TYPES).
    server_made: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    #: Concurrent push chunks being processed (see api/sync.py push).
    work_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


def get_state(request: Request) -> ServerState:
    return request.app.state.shift  # type: ignore[no-any-return]


def get_repo(request: Request) -> Repository:
    return get_state(request).repo


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


#: OpenAPI security schemes (the parsing itself is done below, with clear 401 messages).
device_scheme = HTTPBearer(auto_error=False, scheme_name="deviceToken",
                           description="Device token from POST /api/v1/devices/enrol")
admin_scheme = HTTPBearer(auto_error=False, scheme_name="adminToken",
                          description="Admin token from POST /api/v1/admin/login")
DeviceCreds = Annotated[HTTPAuthorizationCredentials | None, Security(device_scheme)]
AdminCreds = Annotated[HTTPAuthorizationCredentials | None, Security(admin_scheme)]


def require_device(request: Request, _creds: DeviceCreds) -> Device:
    """The enrolled, not revoked device that sent `Authorization: Bearer <device token>`."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing device token (Authorization: Bearer …)")
    device = get_repo(request).device_for_token(token_hash(token))
    if device is None:
        raise _unauthorized("unknown device token")
    if device.revoked:
        raise _unauthorized("device token revoked; enrol the device again")
    request.state.device_id = device.id
    return device


def require_admin(request: Request, _creds: AdminCreds) -> Admin:
    """The admin whose bearer token (header or `shift_admin` cookie) is valid and unexpired."""
    token = bearer_token(request) or request.cookies.get(ADMIN_COOKIE)
    if not token:
        raise _unauthorized("missing admin token (Authorization: Bearer …)")
    admin = get_repo(request).admin_for_session(token_hash(token), now_iso())
    if admin is None:
        raise _unauthorized("unknown or expired admin token; log in again")
    request.state.admin = admin.name
    return admin


def login_admin(repo: Repository, settings: Settings, name: str, password: str,
                address: str = "?") -> tuple[str, str] | None:
    """Check a password; on success open a session and return (token, expires_at).

    None for a wrong name or password — both take the same time (an unknown name is
    checked against a dummy hash). TooManyAttemptsError (HTTP 429) by the lock-out rules
    of sync_server/throttle.py (per name + address, per address, and a name-wide limit
    that never locks out an address the admin used before), counted in the database
    across every server process. A hash of an older server is replaced on success.
    """
    throttle = LoginThrottle(repo)
    throttle.check(name, address)
    # a name with control characters (NUL breaks PostgreSQL text) is never an admin's
    admin = repo.get_admin_by_name(name) if name.isprintable() and len(name) <= 64 else None
    if admin is None:
        verify_dummy(password)
        throttle.failed(name, address)
        return None
    if not verify_password(password, admin.password_hash):
        throttle.failed(name, address)
        return None
    throttle.succeeded(name, address)
    if needs_rehash(admin.password_hash):
        repo.set_admin_password(admin.name, hash_password(password), end_sessions=False)
    token = new_token("adm")
    now = datetime.now(UTC)
    expires = format_at(now + timedelta(seconds=settings.admin_session_ttl_s))
    repo.create_admin_session(token_hash(token), admin.id, expires, format_at(now))
    return token, expires


RepoDep = Annotated[Repository, Depends(get_repo)]
StateDep = Annotated[ServerState, Depends(get_state)]
DeviceDep = Annotated[Device, Depends(require_device)]
AdminDep = Annotated[Admin, Depends(require_admin)]
