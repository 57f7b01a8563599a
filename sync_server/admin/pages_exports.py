"""Console pages: exports (progress CSV, xAPI lines, push to an LRS). The downloads are the
same as the JSON API's (api/downloads.py); the data comes from services/reports.py."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.api.deps import StateDep
from sync_server.api.downloads import progress_download, xapi_download
from sync_server.logs import log
from sync_server.services import reports

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
#: skipped / refused statements listed on the page (all of them are in the log)
SHOWN = 20


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, admin: ConsoleAdminDep) -> HTMLResponse:
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports")


@router.get("/exports/progress.csv")
def export_progress(admin: ConsoleAdminDep, state: StateDep) -> Response:
    return progress_download(state, admin.name)


@router.get("/exports/xapi.jsonl")
def export_xapi(admin: ConsoleAdminDep, state: StateDep) -> Response:
    return xapi_download(state, admin.name)


@router.post("/exports/lrs", response_class=HTMLResponse)
async def push_lrs(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                   state: StateDep) -> Response:
    endpoint = form_text(form, "endpoint")
    if not endpoint.startswith(("http://", "https://")):
        return redirect("/admin/exports", flash=("error", "LRS endpoint: an http(s) URL."))
    try:
        result, skipped = await run_in_threadpool(lambda: reports.push_lrs(
            queries=state.queries, home_page=state.settings.base_url, endpoint=endpoint,
            username=str(form.get("username") or ""), password=str(form.get("password") or ""),
            by=admin.name))
    except ImportError:
        return redirect("/admin/exports", flash=("error", "xAPI mapping is not installed."))
    log(logger, logging.INFO, "lrs push", admin=admin.name, sent=result.sent,
        already=result.already, rejected=len(result.rejected), skipped=len(skipped),
        failed=len(result.failed))
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports",
                  lrs_result=result, skipped=len(skipped), skipped_reasons=skipped[:SHOWN],
                  endpoint=endpoint, status_code=200 if result.ok else 502)
