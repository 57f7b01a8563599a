"""Admin console (server-rendered Jinja2 pages, bundled CSS) and certificate issuing.

``install(app)`` is called by ``sync_server.app.create_app`` (its EXTENSIONS hook): it
mounts the console under /admin, the public certificate routes (/verify/{id},
/certificates/{id}.pdf|.json), creates the certificate tables, and adds a middleware
that issues certificates after every successful push (see issuing.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from sync_server.admin.certstore import CertificateStore
from sync_server.admin.console import LoginRequired, login_redirect
from sync_server.admin.issuing import CertificateIssuer, IssuerConfig
from sync_server.admin.queries import Queries
from sync_server.admin.state import ConsoleState

logger = logging.getLogger("sync_server.console")
PUSH_PATH = "/api/v1/sync/push"


def install(app: FastAPI) -> None:
    from sync_server.admin import api, pages, verify

    shift = app.state.shift
    certs = CertificateStore(shift.repo)
    issuer = CertificateIssuer(shift.repo, certs, shift.keyring.private_key,
                               IssuerConfig.from_env())
    app.state.console = ConsoleState(certs=certs, issuer=issuer, queries=Queries(shift.repo))

    app.mount("/admin/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="admin_static")
    app.include_router(pages.router)
    app.include_router(verify.router)
    app.include_router(api.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    @app.middleware("http")
    async def _issue_after_push(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if request.method == "POST" and request.url.path == PUSH_PATH \
                and response.status_code == 200:
            try:
                await run_in_threadpool(issuer.process, str(request.base_url))
            except Exception:  # noqa: BLE001 - issuing must never break a sync
                logger.exception("certificate issuing failed; retried after the next push")
        return response

    @app.get("/admin", include_in_schema=False)
    def _admin_root() -> Response:
        return login_redirect("/admin/")
