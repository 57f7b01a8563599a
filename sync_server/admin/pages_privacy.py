"""Console pages for privacy: the audit log (filters, CSV), erasing a learner (a page
that names the person and asks for their staff number), and a learner's record as a zip.
Each action is one service call (sync_server/services/)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.errors import ShiftError
from app.core.i18n import N_
from app.core.profile_rules import staff_key
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.admin.i18n import tr
from sync_server.api.deps import RepoDep, StateDep
from sync_server.logs import log
from sync_server.services import access_export, audit, erasure, learners

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, admin: ConsoleAdminDep, repo: RepoDep, actor: str = "",
               action: str = "", learner: str = "", date_from: str = "",
               date_to: str = "") -> HTMLResponse:
    form = {"actor": actor[:200], "action": action[:60], "learner": learner[:200],
            "date_from": date_from[:10], "date_to": date_to[:10]}
    try:
        filters = audit.query(actor=actor, action=action, learner_id=learner,
                              date_from=date_from, date_to=date_to)
        rows, error = audit.entries(repo=repo, filters=filters), ""
    except ShiftError as exc:
        rows, error = [], str(exc)
    return render(request, "audit.html", admin=admin, nav="audit", title=N_("Audit log"),
                  rows=rows, actions=audit.ACTIONS, form=form, error=error,
                  status_code=400 if error else 200)


@router.get("/audit.csv")
def audit_csv(request: Request, admin: ConsoleAdminDep, repo: RepoDep, actor: str = "",
              action: str = "", learner: str = "", date_from: str = "",
              date_to: str = "") -> Response:
    try:
        filters = audit.query(actor=actor, action=action, learner_id=learner,
                              date_from=date_from, date_to=date_to)
    except ShiftError as exc:
        return redirect("/admin/audit", flash=("error", str(exc)))
    body = audit.csv_text(repo=repo, filters=filters, by=admin.name)
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


@router.get("/learners/{learner_id}/erase", response_class=HTMLResponse)
def erase_confirm(request: Request, learner_id: str, admin: ConsoleAdminDep,
                  repo: RepoDep) -> Response:
    """The confirmation page: names the person, asks for their staff number."""
    try:
        person = learners.get_learner(repo=repo, learner_id=learner_id)
    except ShiftError:
        return redirect("/admin/learners",
                        flash=("error", tr(request).gettext("No such learner.")))
    return render(request, "erase.html", admin=admin, nav="learners",
                  title=N_("Erase a learner"), person=person)


@router.post("/learners/{learner_id}/erase")
async def erase(request: Request, learner_id: str, admin: ConsoleAdminDep, form: CsrfForm,
                state: StateDep) -> Response:
    t = tr(request)
    try:
        person = learners.get_learner(repo=state.repo, learner_id=learner_id)
    except ShiftError:
        return redirect("/admin/learners",
                        flash=("error", t.gettext("No such learner (erased already?).")))
    if staff_key(form_text(form, "confirm")) != staff_key(person.staff_number):
        return redirect(f"/admin/learners/{learner_id}/erase",
                        flash=("error", t.gettext(
                            "Type the staff number of the person to confirm.")))
    try:
        done = await run_in_threadpool(lambda: erasure.erase_learner(
            repo=state.repo, learner_id=learner_id, by=admin.name, queries=state.queries))
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", str(exc)))
    log(logger, logging.INFO, "console learner erased", admin=admin.name, learner=learner_id)
    return redirect("/admin/learners", flash=("ok", t.gettext(
        "%(name)s was erased: %(events)s event(s) deleted, %(certificates)s certificate(s) "
        "revoked. Tablets purge them at their next sync.", name=person.display_name,
        events=done.events, certificates=done.certificates)))


@router.get("/learners/{learner_id}/export.zip")
def export(learner_id: str, admin: ConsoleAdminDep, repo: RepoDep) -> Response:
    try:
        body = access_export.export_zip(repo=repo, learner_id=learner_id, by=admin.name)
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", str(exc)))
    return Response(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="learner-{learner_id[:36]}.zip"'})
