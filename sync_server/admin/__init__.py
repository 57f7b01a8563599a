"""Admin console (server-rendered Jinja2 pages, bundled CSS) and certificate issuing.

``install(app)`` is called by ``sync_server.app.create_app`` (its EXTENSIONS hook): it
mounts the console under /admin, the public certificate routes (/verify/{id},
/certificates/{id}.pdf|.json, and the documents behind a credential's ids: /issuer,
/achievements/{pack}/{course}, /status/{n}), and registers the certificate issuer as an
on-events-stored hook of the push service (see issuing.py). The certificate tables are
part of the repository's schema (sync_server/db/schema.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from sync_server.admin.console import LoginRequired, login_redirect
from sync_server.admin.issuing import CertificateIssuer, IssuerConfig
from sync_server.admin.queries import Queries
from sync_server.admin.state import ConsoleState

logger = logging.getLogger("sync_server.console")


def install(app: FastAPI) -> None:
    from sync_server.admin import (
        api,
        pages,
        pages_exports,
        pages_packs,
        pages_people,
        public_docs,
        verify,
    )

    shift = app.state.shift
    issuer = CertificateIssuer(shift.repo, shift.keyring.private_key,
                               IssuerConfig.from_env(shift.settings.base_url))
    app.state.console = ConsoleState(issuer=issuer, queries=Queries(shift.repo))
    shift.on_events_stored.append(issuer.on_stored)
    shift.server_made.append(issuer.is_own_event)

    app.mount("/admin/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="admin_static")
    for module in (pages, pages_packs, pages_people, pages_exports):
        app.include_router(module.router)
    app.include_router(verify.router)
    app.include_router(public_docs.router)
    app.include_router(api.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    try:  # issue what a crash left over (completions stored, no certificate yet)
        issuer.catch_up()
    except Exception:  # noqa: BLE001 - the server must start; retried after a push
        logger.exception("certificate catch-up at start failed")

    @app.get("/admin", include_in_schema=False)
    def _admin_root() -> Response:
        return login_redirect("/admin/")
