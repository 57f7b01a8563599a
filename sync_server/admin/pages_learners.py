"""Console pages: one learner's upkeep — edit name / role / language, move (with a
confirmation, in pages_people.py), PIN reset, deactivate (a leaver) and reactivate — and
the CSV template of the import. Each action is one call of services/learners.py; a
refused edit comes back with what was typed and the reason."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.errors import ShiftError
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.admin.i18n import tr
from sync_server.admin.pages_people import LANGUAGES, pin_codes_page
from sync_server.admin.refusals import refusal_text
from sync_server.api.deps import RepoDep, StateDep
from sync_server.db.repository import Admin, Learner
from sync_server.logs import log
from sync_server.services import dashboard, facilities, learners
from sync_server.services.learners_csv import TEMPLATE

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/learners/template.csv")
def csv_template(admin: ConsoleAdminDep, repo: RepoDep) -> Response:
    """A sheet to fill in: the header and one example row (the first facility's id)."""
    first = next(iter(facilities.list_facilities(repo=repo)), None)
    body = "\ufeff" + TEMPLATE.format(facility=first.id if first else "facility-id")
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="learners-template.csv"',
        "Cache-Control": "no-store"})


def _page(request: Request, admin: Admin, repo: RepoDep, learner: Learner, *,
          status_code: int = 200, **extra: Any) -> HTMLResponse:
    every = facilities.list_facilities(repo=repo)
    languages = list(LANGUAGES)
    if learner.language not in {code for code, _ in languages}:
        languages.append((learner.language, learner.language))
    return render(request, "learner.html", admin=admin, nav="learners",
                  title=learner.display_name, learner=learner, facilities=every,
                  facility_names={f.id: f.name for f in every}, languages=languages,
                  courses=dashboard.learner_courses(repo=repo, learner=learner),
                  status_code=status_code, **extra)


def _back(learner_id: str) -> str:
    return f"/admin/learners/{quote(learner_id, safe='')}"


@router.get("/learners/{learner_id}", response_class=HTMLResponse)
def learner_page(request: Request, learner_id: str, admin: ConsoleAdminDep,
                 repo: RepoDep) -> Response:
    try:
        learner = learners.get_learner(repo=repo, learner_id=learner_id)
    except ShiftError:
        return redirect("/admin/learners",
                        flash=("error", tr(request).gettext("No such learner.")))
    return _page(request, admin, repo, learner)


@router.post("/learners/{learner_id}/edit", response_class=HTMLResponse)
async def edit(request: Request, learner_id: str, admin: ConsoleAdminDep, form: CsrfForm,
               repo: RepoDep) -> Response:
    typed = {"name": form_text(form, "name")[:200], "role": form_text(form, "role")[:64],
             "language": form_text(form, "language")[:20]}
    try:
        done = await run_in_threadpool(lambda: learners.edit_learner(
            repo=repo, learner_id=learner_id, display_name=typed["name"], role=typed["role"],
            language=typed["language"], by=admin.name))
    except ShiftError as exc:
        try:
            learner = learners.get_learner(repo=repo, learner_id=learner_id)
        except ShiftError:
            return redirect("/admin/learners",
                            flash=("error", tr(request).gettext("No such learner.")))
        return _page(request, admin, repo, learner, status_code=422, typed=typed,
                     error=refusal_text(tr(request), exc))
    log(logger, logging.INFO, "console learner edited", admin=admin.name, learner=learner_id)
    return redirect(_back(learner_id), flash=("ok", tr(request).gettext(
        "Saved %(name)s: tablets of the facility get it at their next sync.",
        name=done.display_name)))


@router.post("/learners/{learner_id}/deactivate")
async def deactivate(request: Request, learner_id: str, admin: ConsoleAdminDep,
                     form: CsrfForm, repo: RepoDep) -> Response:
    try:
        done = learners.deactivate_learner(repo=repo, learner_id=learner_id, by=admin.name)
    except ShiftError as exc:
        return redirect(_back(learner_id), flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console learner deactivated", admin=admin.name,
        learner=learner_id)
    return redirect(_back(learner_id), flash=("ok", tr(request).gettext(
        "%(name)s (%(staff)s) is deactivated: their PIN is removed, so no tablet lets them "
        "sign in after its next sync; their records and certificates are kept.",
        name=done.display_name, staff=done.staff_number)))


@router.post("/learners/{learner_id}/reactivate", response_class=HTMLResponse)
async def reactivate(request: Request, learner_id: str, admin: ConsoleAdminDep,
                     form: CsrfForm, state: StateDep) -> Response:
    try:
        made = await run_in_threadpool(lambda: learners.reactivate_learner(
            repo=state.repo, learner_id=learner_id,
            setup_ttl_s=state.settings.pin_setup_ttl_s, by=admin.name))
    except ShiftError as exc:
        return redirect(_back(learner_id), flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console learner reactivated", admin=admin.name,
        learner=learner_id)
    return pin_codes_page(request, admin, [made], created=False)
