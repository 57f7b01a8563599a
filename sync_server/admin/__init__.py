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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.admin.certstore import CertificateStore
from sync_server.admin.console import LoginRequired, login_redirect
from sync_server.admin.issuing import CertificateIssuer, IssuerConfig
from sync_server.admin.queries import Queries
from sync_server.admin.state import ConsoleState

logger = logging.getLogger("sync_server.console")
PUSH_PATH = "/api/v1/sync/push"


class IssueAfterPush:
    """ASGI middleware: after a successful push, issue certificates for new completions
    *before* the answer goes out, so the device's next pull already carries them. Other
    requests pass straight through (no buffering, no extra work)."""

    def __init__(self, app: ASGIApp, issuer: CertificateIssuer) -> None:
        self.app = app
        self.issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PUSH_PATH:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, receive, hold)
        finally:
            if held and held[0].get("status") == 200:
                try:
                    await run_in_threadpool(self.issuer.process, _base_url(scope))
                except Exception:  # noqa: BLE001 - issuing must never break a sync
                    logger.exception("certificate issuing failed; retried after the next push")
            for message in held:
                await send(message)


def _base_url(scope: Scope) -> str:
    scheme = scope.get("scheme", "http")
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}{scope.get('root_path', '')}"


def install(app: FastAPI) -> None:
    from sync_server.admin import api, pages, pages_exports, pages_packs, pages_people, verify

    shift = app.state.shift
    certs = CertificateStore(shift.repo)
    issuer = CertificateIssuer(shift.repo, certs, shift.keyring.private_key,
                               IssuerConfig.from_env())
    app.state.console = ConsoleState(certs=certs, issuer=issuer, queries=Queries(shift.repo))

    app.mount("/admin/static", StaticFiles(directory=str(Path(__file__).parent / "static")),
              name="admin_static")
    for module in (pages, pages_packs, pages_people, pages_exports):
        app.include_router(module.router)
    app.include_router(verify.router)
    app.include_router(api.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    app.add_middleware(IssueAfterPush, issuer=issuer)
    if issuer.config.public_base_url:  # catch up after a crash without waiting for a push
        try:
            issuer.process(issuer.config.public_base_url)
        except Exception:  # noqa: BLE001 - the server must start; retried after a push
            logger.exception("certificate catch-up at start failed")

    @app.get("/admin", include_in_schema=False)
    def _admin_root() -> Response:
        return login_redirect("/admin/")
