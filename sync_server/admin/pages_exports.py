"""Console pages: exports (progress CSV, xAPI lines, push to an LRS)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sync_server.admin import exports, stats
from sync_server.admin.console import (
    check_csrf,
    console_admin,
    redirect,
    render,
)
from sync_server.admin.state import console_state
from sync_server.api.deps import get_state
from sync_server.logs import log

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
#: skipped / refused statements listed on the page (all of them are in the log)
SHOWN = 20


# ----------------------------------------------------------------------------- exports

def _home_page(request: Request) -> str:
    return get_state(request).settings.base_url  # never the request's Host header


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request) -> HTMLResponse:
    admin = console_admin(request)
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports")


def progress_response(request: Request) -> Response:
    """The progress CSV download (also served by the JSON admin API)."""
    repo, cs = get_state(request).repo, console_state(request)
    manifests = [json.loads(p.manifest) for p in repo.list_pack_versions()]
    progress = stats.fold_progress(cs.queries.report_events())
    certs = repo.certificate_ids_by_course()
    body = exports.progress_csv(repo.list_learners(), stats.courses_of(manifests), progress, certs)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="progress-{stamp}.csv"'})


def xapi_response(request: Request) -> Response:
    """Every stored event as an xAPI statement, one JSON object per line (streamed)."""
    cs = console_state(request)
    try:
        exports.statement_function()
    except ImportError:
        return PlainTextResponse("xAPI mapping (app.core.learning.xapi) is not installed",
                                 status_code=503)
    home = _home_page(request)

    def lines() -> Any:
        for _, event in cs.queries.iter_events():
            yield from exports.xapi_lines([event], home)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="xapi-{stamp}.jsonl"'})


@router.get("/exports/progress.csv")
def export_progress(request: Request) -> Response:
    console_admin(request)
    return progress_response(request)


@router.get("/exports/xapi.jsonl")
def export_xapi(request: Request) -> Response:
    console_admin(request)
    return xapi_response(request)


@router.post("/exports/lrs", response_class=HTMLResponse)
async def push_lrs(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    endpoint = str(form.get("endpoint") or "").strip()
    if not endpoint.startswith(("http://", "https://")):
        return redirect("/admin/exports", flash=("error", "LRS endpoint: an http(s) URL."))
    cs = console_state(request)
    home = _home_page(request)

    def work() -> tuple[exports.LrsResult, list[str]]:
        statements, skipped = exports.xapi_statements(
            (e for _, e in cs.queries.iter_events()), home)
        for reason in skipped:
            logger.warning("xAPI export: event skipped: %s", reason)
        return exports.push_to_lrs(statements, endpoint, username=str(form.get("username") or ""),
                                   password=str(form.get("password") or "")), skipped

    try:
        result, skipped = await run_in_threadpool(work)
    except ImportError:
        return redirect("/admin/exports", flash=("error", "xAPI mapping is not installed."))
    log(logger, logging.INFO, "lrs push", admin=admin.name, sent=result.sent,
        already=result.already, rejected=len(result.rejected), skipped=len(skipped),
        failed=len(result.failed))
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports",
                  lrs_result=result, skipped=len(skipped), skipped_reasons=skipped[:SHOWN],
                  endpoint=endpoint,
                  status_code=200 if result.ok else 502)
