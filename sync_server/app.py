"""The FastAPI application factory.

    create_app(settings=None) -> FastAPI

With no settings, SHIFT_* environment variables and defaults apply (SQLite file in
var/server); outside development mode (SHIFT_DEV=1) SHIFT_PUBLIC_BASE_URL is required.
The database schema is created / migrated and the signing key made on first start. Extensions (admin console, certificates) are mounted when their packages
exist: each may define `install(app: FastAPI) -> None` (see api/deps.py).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from app.core.errors import PackError, ShiftError
from sync_server import __version__
from sync_server.api import admin, devices, health, sync
from sync_server.api.deps import ServerState
from sync_server.db import open_repository
from sync_server.errors import (
    AlreadyExistsError,
    DatabaseError,
    DeviceIdTakenError,
    EnrolError,
    NotFoundError,
    QuotaExceededError,
    TooManyAttemptsError,
)
from sync_server.keyring import load_keyring
from sync_server.logs import log
from sync_server.middleware import AccessLogMiddleware, BodyLimitMiddleware, GZipExceptMiddleware
from sync_server.settings import Settings

logger = logging.getLogger("sync_server")
EXTENSIONS = ("sync_server.admin", "sync_server.certificates")
STREAMING_PREFIXES = ("/api/v1/admin/packs/upload",)
#: Answers any request with a body can get before it reaches its route.
BODY_ERRORS = {"400": "unreadable body (bad gzip, not UTF-8, bad Content-Length)",
               "413": "body too large (also after gzip inflation)",
               "415": "Content-Encoding other than gzip"}

DESCRIPTION = """Sync protocol of Shift Learning (docs/sync-protocol.md).

Devices enrol with a one-time code and then send `Authorization: Bearer <device token>`
on every call. Admin endpoints need `Authorization: Bearer <admin token>` from
`POST /api/v1/admin/login`. Request bodies may be gzip-compressed
(`Content-Encoding: gzip`); responses are gzip-compressed when the client accepts it."""


#: HTTP status of each ShiftError kind (first match wins; anything else is 400).
STATUS_OF: tuple[tuple[type[ShiftError], int], ...] = (
    (NotFoundError, 404), (AlreadyExistsError, 409), (DeviceIdTakenError, 409),
    (EnrolError, 403), (DatabaseError, 503),
    (TooManyAttemptsError, 429), (PackError, 422))


def _status_for(exc: ShiftError) -> int:
    return next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 400)


def _install_extensions(app: FastAPI) -> None:
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        install = getattr(module, "install", None)
        if callable(install):
            install(app)
            log(logger, logging.INFO, "extension installed", extension=name)


def _complete_openapi(app: FastAPI) -> None:
    """Add the models of bodies that routes parse themselves (the push chunk is parsed
    from bytes by the route for speed, so FastAPI does not see its model) to the schema."""
    from fastapi.openapi.utils import get_openapi

    from sync_server.api.models import ErrorBody, PushRequest

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        extra = PushRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in extra.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("PushRequest", extra)
        components.setdefault("ErrorBody", ErrorBody.model_json_schema())
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method in ("post", "put", "patch"):      # the body middleware may answer these
                    responses = operation.setdefault("responses", {})
                    for code, why in BODY_ERRORS.items():
                        responses.setdefault(code, {"description": why, **error})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.require_public_base_url()  # ConfigError before anything is created
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    repo = open_repository(settings.effective_database_url, pool_size=settings.db_pool_size)
    keyring = load_keyring(settings)
    from app.core.packs import BlobStore
    state = ServerState(settings=settings, repo=repo, keyring=keyring,
                        blobs=BlobStore(settings.blob_dir))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log(logger, logging.INFO, "server started", database=repo.dialect,
            data_dir=str(settings.data_dir), key_id=keyring.key_id, version=__version__)
        yield
        repo.close()

    # Swagger UI / ReDoc pages load their scripts from a CDN: only in development mode
    # (SHIFT_DEV, Settings.development of issue 12). /openapi.json is always served.
    development = settings.development
    app = FastAPI(title="Shift Learning sync server", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs" if development else None,
                  redoc_url="/redoc" if development else None)
    app.state.shift = state

    @app.exception_handler(ShiftError)
    async def shift_error(request: Request, exc: ShiftError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_for(exc))

    @app.exception_handler(QuotaExceededError)
    async def quota_exceeded(request: Request, exc: QuotaExceededError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "quota_exceeded", "quota": exc.quota,
                             "limit": exc.limit, "used": exc.used, "resets_at": exc.resets_at,
                             "retry_after": exc.retry_after}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})

    for router in (health.router, devices.router, sync.router, admin.router):
        app.include_router(router)
    from sync_server.api import admin_packs, packs
    app.include_router(packs.router)
    app.include_router(admin_packs.router)
    _install_extensions(app)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        """Someone who opens the server's address in a browser finds the admin console."""
        return RedirectResponse("/admin/", status_code=303)

    _complete_openapi(app)

    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes,
                       streaming_prefixes=STREAMING_PREFIXES)
    app.add_middleware(GZipExceptMiddleware, minimum_size=1024,
                       except_prefixes=("/api/v1/blobs/",))
    app.add_middleware(AccessLogMiddleware)
    return app


def create_worker_app() -> FastAPI:
    """Factory for `serve --workers N`: each worker process configures its own JSON logs."""
    from sync_server.logs import configure_logging
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
