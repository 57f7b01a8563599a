"""The FastAPI application factory: the server's composition root.

    create_app(settings=None) -> FastAPI

With no settings, SHIFT_* environment variables and defaults apply (SQLite file in
var/server); outside development mode (SHIFT_DEV=1) SHIFT_PUBLIC_BASE_URL is required.
Here, and only here, the parts are made and wired: the repository (the schema is created /
migrated), the signing key, the blob store, the certificate issuer — a push hook of the
sync service — and the event cache of the reports go into the `ServerState` the routes
get through their typed dependencies (api/deps.py); ROUTERS below is every router of the
server, JSON API and console alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.core.clock import now_utc
from app.core.packs import BlobStore
from sync_server import __version__
from sync_server.admin import (
    pages,
    pages_bulk,
    pages_exports,
    pages_learners,
    pages_packs,
    pages_people,
    pages_privacy,
    pages_progress,
    public_docs,
    verify,
)
from sync_server.admin.console import (
    STATIC_DIR,
    LoginRequired,
    StudioOnly,
    login_redirect,
    redirect,
)
from sync_server.admin.studio import course as studio_course
from sync_server.admin.studio import drafts as studio_drafts
from sync_server.admin.studio import lesson as studio_lesson
from sync_server.admin.studio import quiz as studio_quiz
from sync_server.admin.studio import translate as studio_translate
from sync_server.api import (
    admin,
    admin_certificates,
    admin_packs,
    admin_privacy,
    devices,
    health,
    packs,
    sync,
)
from sync_server.api.deps import ServerState
from sync_server.api.errors import add_error_handlers
from sync_server.api.openapi import DESCRIPTION, complete_openapi
from sync_server.db import open_repository
from sync_server.keyring import load_keyring
from sync_server.logs import configure_logging, log
from sync_server.middleware import AccessLogMiddleware, BodyLimitMiddleware, GZipExceptMiddleware
from sync_server.services import audit
from sync_server.services.issuing import CertificateIssuer, IssuerConfig
from sync_server.services.queries import Queries
from sync_server.services.retention import RetentionSchedule, run_retention
from sync_server.settings import Settings

logger = logging.getLogger("sync_server")
STREAMING_PREFIXES = ("/api/v1/admin/packs/upload",)

#: Every router of the server, in the order their routes are matched.
ROUTERS: tuple[APIRouter, ...] = (
    # JSON API (api/): devices, sync, packs, admin
    health.router, devices.router, sync.router, admin.router, packs.router, admin_packs.router,
    # admin console (admin/, HTML)
    pages.router, pages_progress.router, pages_packs.router, pages_people.router,
    pages_bulk.router, pages_learners.router,
    pages_exports.router,
    pages_privacy.router, admin_privacy.router,
    # the authoring studio (admin/studio/)
    studio_drafts.router, studio_course.router, studio_lesson.router, studio_quiz.router,
    studio_translate.router,
    # public certificate pages and documents, then the certificate admin API
    verify.router, public_docs.router, admin_certificates.router,
)


def create_state(settings: Settings) -> ServerState:
    """Open the repository and the keys, and make the parts of one server process."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    repo = open_repository(settings.effective_database_url, pool_size=settings.db_pool_size)
    keyring = load_keyring(settings)
    issuer = CertificateIssuer(repo, keyring.private_key,
                               IssuerConfig.from_env(settings.base_url))
    return ServerState(settings=settings, repo=repo, keyring=keyring,
                       blobs=BlobStore(settings.blob_dir), issuer=issuer, queries=Queries(repo),
                       push_hooks=[issuer])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.require_public_base_url()  # ConfigError before anything is created
    state = create_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log(logger, logging.INFO, "server started", database=state.repo.dialect,
            data_dir=str(settings.data_dir), key_id=state.keyring.key_id, version=__version__)
        # retention once a day, in the background (services/retention.py)
        schedule = RetentionSchedule(lambda now: run_retention(
            repo=state.repo, now=now, events_years=settings.retention_events_years,
            audit_years=settings.retention_audit_years, by=audit.SERVER,
            queries=state.queries), clock=now_utc)
        task = asyncio.create_task(schedule.run_forever())
        # Everything made so far (modules, routes, models, templates: ~10⁵–10⁶ objects)
        # lives as long as the process: out of the cyclic GC's reach, a full collection
        # no longer walks it — under a burst of pushes those walks took ~¼ of the time.
        gc.collect()
        gc.freeze()
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.repo.close()

    # Swagger UI / ReDoc pages load their scripts from a CDN: only in development mode
    # (SHIFT_DEV, Settings.development of issue 12). /openapi.json is always served.
    development = settings.development
    app = FastAPI(title="Shift Learning sync server", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs" if development else None,
                  redoc_url="/redoc" if development else None)
    app.state.shift = state
    add_error_handlers(app)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    @app.exception_handler(StudioOnly)
    async def _studio_only(request: Request, exc: StudioOnly) -> Response:
        return redirect("/admin/studio", flash=(
            "error", "Your account has studio roles only: that page needs a full "
                     "administrator."))

    app.mount("/admin/static", StaticFiles(directory=str(STATIC_DIR)), name="admin_static")
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        """Someone who opens the server's address in a browser finds the admin console."""
        return RedirectResponse("/admin/", status_code=303)

    complete_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes,
                       streaming_prefixes=STREAMING_PREFIXES)
    app.add_middleware(GZipExceptMiddleware, minimum_size=1024,
                       except_prefixes=("/api/v1/blobs/",))
    app.add_middleware(AccessLogMiddleware)

    try:  # issue what a crash left over (completions stored, no certificate yet)
        state.issuer.catch_up()
    except Exception:  # noqa: BLE001 - the server must start; retried after a push
        logger.exception("certificate catch-up at start failed")
    return app


def create_worker_app() -> FastAPI:
    """Factory for `serve --workers N`: each worker process configures its own JSON logs."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
