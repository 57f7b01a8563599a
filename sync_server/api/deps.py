"""Typed FastAPI dependencies: what a route needs, said in its signature.

    StateDep     the ServerState of this process (app.state.shift, made by create_app)
    RepoDep      the repository        SettingsDep   the settings
    DeviceDep    the enrolled, not revoked device of `Authorization: Bearer <device token>`
    AdminDep     the admin of a valid admin token (bearer header or the console's cookie)

Only wiring lives here: who is who is decided by services/devices.py and
services/admin_auth.py. The console's pages use `ConsoleAdminDep` (admin/console.py),
which sends a browser to the login page instead of answering 401.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.packs import BlobStore
from sync_server.db.repository import Admin, Device, Repository
from sync_server.errors import DeviceRevokedError
from sync_server.keyring import Keyring
from sync_server.services import admin_auth, devices, roles
from sync_server.services.issuing import CertificateIssuer
from sync_server.services.queries import Queries
from sync_server.services.sync import PushHook
from sync_server.settings import Settings

ADMIN_COOKIE = "shift_admin"


@dataclass
class ServerState:
    """What one server process holds (app.state.shift), made by create_app."""

    settings: Settings
    repo: Repository
    keyring: Keyring
    blobs: BlobStore
    #: issues certificates after pushes; also serves the status lists and issuer profile
    issuer: CertificateIssuer
    #: cached event reads of the dashboard and the exports
    queries: Queries
    #: parts that follow every push (services/sync.py PushHook): the issuer
    push_hooks: list[PushHook] = field(default_factory=list)
    #: Concurrent push chunks being processed (see api/sync.py push).
    work_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


def get_state(request: Request) -> ServerState:
    return request.app.state.shift  # type: ignore[no-any-return]


def get_repo(request: Request) -> Repository:
    return get_state(request).repo


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def admin_token(request: Request) -> str | None:
    """The admin token of a request: the bearer header, else the console's cookie."""
    return bearer_token(request) or request.cookies.get(ADMIN_COOKIE)


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
    device = devices.device_for_token(repo=get_repo(request), token=token)
    if device is None:
        raise _unauthorized("unknown device token")
    if device.revoked:
        raise DeviceRevokedError()
    request.state.device_id = device.id
    return device


def require_admin(request: Request, _creds: AdminCreds) -> Admin:
    """The admin whose bearer token (header or `shift_admin` cookie) is valid and unexpired."""
    token = admin_token(request)
    if not token:
        raise _unauthorized("missing admin token (Authorization: Bearer …)")
    admin = admin_auth.admin_for_token(repo=get_repo(request), token=token)
    if admin is None:
        raise _unauthorized("unknown or expired admin token; log in again")
    if not roles.is_full_admin(admin):       # studio-only accounts use the console studio
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=(
            f"{admin.name!r} has the console roles {admin.roles!r} only; the JSON API needs "
            "a full administrator"))
    request.state.admin = admin.name
    return admin


# The route dependencies below are `async def` on purpose: FastAPI runs a plain `def`
# dependency in the thread pool, a hop there and back for an attribute lookup that, under
# a burst of pulls, waits in the pool's queue behind the other requests' work (measured:
# a sequential pull 1.56–1.72 → 1.32–1.35 ms; tests/unit/test_api_deps.py). The device
# and admin look-ups read the database, so they stay `def`: off the event loop.
async def _state_dep(request: Request) -> ServerState:
    return get_state(request)


async def _repo_dep(request: Request) -> Repository:
    return get_repo(request)


async def _settings_dep(request: Request) -> Settings:
    return get_state(request).settings


RepoDep = Annotated[Repository, Depends(_repo_dep)]
StateDep = Annotated[ServerState, Depends(_state_dep)]
SettingsDep = Annotated[Settings, Depends(_settings_dep)]
DeviceDep = Annotated[Device, Depends(require_device)]
AdminDep = Annotated[Admin, Depends(require_admin)]
