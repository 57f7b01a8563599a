"""Console pages: exports (progress CSV, xAPI lines, push to an LRS). The downloads are the
same as the JSON API's (api/downloads.py); the data comes from services/reports.py."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.i18n import N_
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.admin.i18n import Tr, tr
from sync_server.api.deps import ServerState, StateDep
from sync_server.api.downloads import progress_download, xapi_download
from sync_server.db.repository import Admin
from sync_server.logs import log
from sync_server.services import facilities, progress_report, reports
from sync_server.services.progress_report import ExportFilterError

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
#: skipped / refused statements listed on the page (all of them are in the log)
SHOWN = 20


def _page(request: Request, admin: Admin, state: ServerState, *, status_code: int = 200,
          typed: dict[str, str] | None = None, **extra: Any) -> HTMLResponse:
    return render(request, "exports.html", admin=admin, nav="exports", title=N_("Exports"),
                  facilities=facilities.list_facilities(repo=state.repo),
                  typed=typed or {}, status_code=status_code, **extra)


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, admin: ConsoleAdminDep, state: StateDep) -> HTMLResponse:
    return _page(request, admin, state)


def _download(request: Request, admin: Admin, state: ServerState, kind: str) -> Response:
    """A download with the filters of the page's form (query), or the page again naming
    the wrong field (422) — nothing is exported or audited then."""
    q = request.query_params
    typed = {name: str(q.get(name) or "")[:100] for name in ("facility", "dates", "from", "to")}
    try:
        chosen = progress_report.parse_filter(
            repo=state.repo, facility=typed["facility"], basis=typed["dates"] or "activity",
            date_from=typed["from"], date_to=typed["to"])
    except ExportFilterError as exc:
        return _page(request, admin, state, status_code=422, typed=typed, filter_error=exc,
                     filter_message=filter_error_text(tr(request), exc, typed))
    log(logger, logging.INFO, "console export", admin=admin.name, kind=kind,
        **chosen.detail())
    if kind == "progress":
        return progress_download(state, admin.name, chosen)
    return xapi_download(state, admin.name, chosen)


def filter_error_text(t: Tr, exc: ExportFilterError, typed: dict[str, str]) -> str:
    """The admin's sentence for a wrong export filter, by its code."""
    field = {"from": t.gettext("From"), "to": t.gettext("To"), "facility": t.gettext("Facility"),
             "dates": t.gettext("Dates apply to")}.get(exc.field, exc.field)
    texts = {
        "bad_date": t.gettext("%(field)s: “%(value)s” is not a date. Write it as YYYY-MM-DD, "
                              "e.g. 2026-03-31.", field=field, value=exc.value),
        "date_range": t.gettext("%(field)s: %(value)s is outside the years 2000–2999.",
                                field=field, value=exc.value),
        "date_order": t.gettext("“To” (%(to)s) is before “From” (%(start)s).",
                                to=typed.get("to", ""), start=typed.get("from", "")),
        "unknown_facility": t.gettext("No facility has the id “%(value)s”.", value=exc.value),
        "bad_basis": t.gettext("Dates apply to: choose last activity or completion."),
    }
    return texts.get(exc.reason, str(exc))


@router.get("/exports/progress.csv")
def export_progress(request: Request, admin: ConsoleAdminDep, state: StateDep) -> Response:
    return _download(request, admin, state, "progress")


@router.get("/exports/xapi.jsonl")
def export_xapi(request: Request, admin: ConsoleAdminDep, state: StateDep) -> Response:
    return _download(request, admin, state, "xapi")


@router.post("/exports/lrs", response_class=HTMLResponse)
async def push_lrs(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                   state: StateDep) -> Response:
    endpoint = form_text(form, "endpoint")
    if not endpoint.startswith(("http://", "https://")):
        return redirect("/admin/exports", flash=(
            "error", tr(request).gettext("LRS endpoint: an http(s) URL.")))
    try:
        result, skipped = await run_in_threadpool(lambda: reports.push_lrs(
            queries=state.queries, home_page=state.settings.base_url, endpoint=endpoint,
            username=str(form.get("username") or ""), password=str(form.get("password") or ""),
            by=admin.name))
    except ImportError:
        return redirect("/admin/exports", flash=(
            "error", tr(request).gettext("xAPI mapping is not installed.")))
    log(logger, logging.INFO, "lrs push", admin=admin.name, sent=result.sent,
        already=result.already, rejected=len(result.rejected), skipped=len(skipped),
        failed=len(result.failed))
    return _page(request, admin, state, lrs_result=result, skipped=len(skipped), skipped_reasons=skipped[:SHOWN],
                  endpoint=endpoint, status_code=200 if result.ok else 502)
