"""Console pages of the training figures (docs/admin-guide.md "Dashboard"): the dashboard,
the learners behind a number (drill-down), and the facility report as a print view and a
PDF. Every figure comes from services/dashboard.py; every link carries the filters as
query parameters, so a view can be bookmarked or sent."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.i18n import N_
from app.core.roles import is_role
from sync_server.admin import charts
from sync_server.admin.console import ConsoleAdminDep, render
from sync_server.admin.i18n import request_language, tr
from sync_server.api.deps import StateDep
from sync_server.db.repository import Repository
from sync_server.services import dashboard as dash
from sync_server.services.report_pdf import report_pdf

router = APIRouter(prefix="/admin", include_in_schema=False)
STATUSES = dash.STATUSES        # not started, in progress, passed the quiz, completed


def link(path: str, **params: Any) -> str:
    """A console URL with the non-empty query parameters (in a stable order)."""
    query = urlencode([(k, v) for k, v in params.items() if v not in ("", None)])
    return f"{path}?{query}" if query else path


def drill_url(facility: str, role: str, pack: str, course: str, status: str = "",
              page: int = 1) -> str:
    return link("/admin/progress", facility=facility, role=role, pack=pack, course=course,
                status=status, page=page if page > 1 else "")


def _role(role: str) -> str:
    return role if is_role(role) else ""


def _heat(gap: Any) -> dict[str, Any]:
    """The gap map as rows of (label, [(text, colour, tip)]) for an HTML table."""
    rows = []
    for r, label in enumerate(gap.rows):
        cells = []
        for c in range(len(gap.columns)):
            value, n = gap.values.get((r, c), (None, 0))
            cells.append(("–" if value is None else f"{value:+.1f}",
                          charts.gap_colour(value, gap.max_gap), n))
        rows.append((label, cells))
    return {"rows": rows, "columns": gap.columns}


def dashboard_context(repo: Repository, facility: str, role: str) -> dict[str, Any]:
    """Everything the dashboard shows for one filter ("" = all)."""
    data = dash.dashboard(repo=repo, facility=facility, role=role)
    names = {f.id: f.name for f in data.facilities}
    per_course = [(course, [c for c in data.cells if c.course == course])
                  for course in data.courses]
    return {"data": data, "tiles": data.tiles, "facilities": data.facilities,
            "per_course": per_course, "names": names, "statuses": STATUSES,
            "heat": _heat(data.gap) if data.gap.values else None,
            "drill_url": drill_url, "report_url": link("/admin/report", facility=facility,
                                                       role=role)}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, admin: ConsoleAdminDep, state: StateDep, facility: str = "",
              role: str = "") -> HTMLResponse:
    facility, role = facility[:64], _role(role)
    context = dashboard_context(state.repo, facility, role)
    return render(request, "dashboard.html", admin=admin, nav="dashboard", title=N_("Dashboard"),
                  sel_facility=facility, sel_role=role, **context)


@router.get("/progress", response_class=HTMLResponse)
def progress(request: Request, admin: ConsoleAdminDep, state: StateDep, pack: str = "",
             course: str = "", facility: str = "", role: str = "", status: str = "",
             page: int = 1) -> HTMLResponse:
    facility, role = facility[:64], _role(role)
    found = dash.drill_down(repo=state.repo, facility=facility, role=role, pack_id=pack[:64],
                            course_id=course[:64], status=status, page=min(max(page, 1), 10**6))
    names = {f.id: f.name for f in found.facilities}
    return render(request, "progress.html", admin=admin, nav="dashboard",
                  title=N_("Learners behind the numbers"), found=found, names=names,
                  statuses=STATUSES, drill_url=drill_url, pack=pack, course_id=course,
                  back_url=link("/admin/", facility=facility, role=role),
                  status_code=200 if found.course else 404)


@router.get("/report", response_class=HTMLResponse)
async def report(request: Request, admin: ConsoleAdminDep, state: StateDep,
                 facility: str = "", role: str = "", unfinished: int = 0) -> HTMLResponse:
    facility, role = facility[:64], _role(role)
    found = await run_in_threadpool(lambda: dash.facility_report(
        repo=state.repo, facility=facility, role=role, unfinished=bool(unfinished),
        by=admin.name, form="html"))
    words = tr(request)
    label = found.facility_label if found.facility else words.gettext("all facilities")
    title = words.gettext("Training progress — %(facility)s", facility=label)
    return render(request, "report.html", admin=admin, nav="dashboard", title=title,
                  report_title=title, facility_label=label,
                  report=found, statuses=STATUSES, sel_facility=facility, sel_role=role,
                  unfinished=bool(unfinished), back_url=link("/admin/", facility=facility, role=role),
                  names={f.id: f.name for f in found.dashboard.facilities},
                  pdf_url=link("/admin/report.pdf", facility=facility, role=role,
                               unfinished=int(bool(unfinished)) or ""),
                  toggle_url=link("/admin/report", facility=facility, role=role,
                                  unfinished="" if unfinished else 1))


@router.get("/report.pdf")
async def report_download(request: Request, admin: ConsoleAdminDep, state: StateDep,
                          facility: str = "",
                          role: str = "", unfinished: int = 0) -> Response:
    facility, role = facility[:64], _role(role)

    def make() -> tuple[str, bytes]:
        found = dash.facility_report(repo=state.repo, facility=facility, role=role,
                                     unfinished=bool(unfinished), by=admin.name, form="pdf")
        # the PDF speaks the console language of the admin who asks (like the HTML report)
        return found.generated_at, report_pdf(found, tr(request).gettext,
                                              request_language(request))

    at, pdf = await run_in_threadpool(make)
    name = f"report-{re.sub(r'[^A-Za-z0-9_-]', '_', facility) or 'all'}-{at[:10]}.pdf"
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
