"""Console pages: facilities, devices (enrolment codes, revoke), learners, certificates.

Each action is one service call (sync_server/services/); a refusal is shown as the
service's message.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import ShiftError
from app.core.i18n import N_, UI_LOCALES, language_name
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.admin.i18n import tr
from sync_server.admin.refusals import refusal_text
from sync_server.api.deps import RepoDep, StateDep
from sync_server.db.repository import Admin
from sync_server.logs import log
from sync_server.services import certificates, devices, facilities, learners
from sync_server.services.learners_csv import MAX_BYTES

#: The languages a learner's profile can take: the app's UI languages (app/core/i18n.py).
LANGUAGES = [(code, f"{language_name(code)} ({code})") for code in UI_LOCALES]

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


# ----------------------------------------------------------------------------- devices

def _devices_page(request: Request, admin: Admin, repo: RepoDep, *, status_code: int = 200,
                  **extra: Any) -> HTMLResponse:
    view = devices.overview(repo=repo)
    return render(request, "devices.html", admin=admin, nav="devices", title=N_("Devices"),
                  facilities=view.facilities, devices=view.devices, installed=view.installed,
                  codes=devices.open_enrol_codes(repo=repo),
                  facility_names={f.id: f.name for f in view.facilities},
                  facility_id_pattern=facilities.FACILITY_ID_HTML, status_code=status_code,
                  **extra)


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, admin: ConsoleAdminDep, repo: RepoDep) -> HTMLResponse:
    return _devices_page(request, admin, repo)


@router.post("/facilities", response_class=HTMLResponse)
async def create_facility(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                          repo: RepoDep) -> Response:
    fid, name = form_text(form, "id"), form_text(form, "name")
    try:
        facilities.create_facility(repo=repo, facility_id=fid, name=name, by=admin.name)
    except ShiftError as exc:  # the form comes back with what was typed
        return _devices_page(request, admin, repo, status_code=422,
                             typed={"id": fid[:64], "name": name[:200], "error": refusal_text(tr(request), exc)})
    log(logger, logging.INFO, "console facility created", admin=admin.name, facility=fid)
    return redirect("/admin/devices", flash=(
        "ok", tr(request).gettext("Facility %(name)s created.", name=name)))


@router.post("/facilities/{facility_id}/rename")
async def rename_facility(request: Request, facility_id: str, admin: ConsoleAdminDep,
                          form: CsrfForm, repo: RepoDep) -> Response:
    try:
        done = facilities.rename_facility(repo=repo, facility_id=facility_id,
                                          name=form_text(form, "name"), by=admin.name)
    except ShiftError as exc:
        return redirect("/admin/devices#facilities", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console facility renamed", admin=admin.name, facility=done.id)
    return redirect("/admin/devices#facilities",
                    flash=("ok", tr(request).gettext("Facility %(id)s is now called %(name)s.",
                                                     id=done.id, name=done.name)))


@router.post("/devices/enrol-codes/{code_hash}/cancel")
async def cancel_enrol_code(request: Request, code_hash: str, admin: ConsoleAdminDep,
                            form: CsrfForm, repo: RepoDep) -> Response:
    try:
        code = devices.cancel_enrol_code(repo=repo, code_hash=code_hash, by=admin.name)
    except ShiftError as exc:
        return redirect("/admin/devices#enrol-codes", flash=("error", refusal_text(tr(request), exc)))
    name = facilities.facility_name(repo=repo, facility_id=code.facility_id)
    log(logger, logging.INFO, "console enrol code cancelled", admin=admin.name,
        facility=code.facility_id)
    return redirect("/admin/devices#enrol-codes",
                    flash=("ok", tr(request).gettext(
                        "Enrolment code for %(name)s (made %(made)s UTC by %(who)s) cancelled.",
                        name=name, made=code.created_at[:16], who=code.created_by)))


def enrol_qr_payload(base_url: str, code: str) -> str:
    """What the QR code of an enrolment code holds (docs/admin-guide.md)."""
    return f"SHIFT-ENROL {base_url.rstrip('/')} {code}"


@router.post("/devices/enrol-code", response_class=HTMLResponse)
async def enrol_code(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                     state: StateDep) -> Response:
    try:
        made = devices.create_enrol_code(repo=state.repo, facility_id=form_text(form, "facility"),
                                         ttl_s=state.settings.enrol_code_ttl_s, by=admin.name)
    except ShiftError as exc:
        return redirect("/admin/devices", flash=("error", refusal_text(tr(request), exc)))
    base = state.settings.base_url  # never the request's Host header
    qr = segno.make(enrol_qr_payload(base, made.code), error="m")
    svg = qr.svg_inline(scale=6, border=2, title=f"Enrolment code {made.code}")
    log(logger, logging.INFO, "console enrol code", admin=admin.name, facility=made.facility.id)
    return render(request, "enrol_code.html", admin=admin, nav="devices",
                  title=N_("Enrolment code"), facility=made.facility, code=made.code, expires=made.expires_at, qr_svg=svg,
                  base_url=base)


@router.post("/devices/{device_id}/revoke")
async def revoke_device(request: Request, device_id: str, admin: ConsoleAdminDep,
                        form: CsrfForm, repo: RepoDep) -> Response:
    try:
        done = devices.revoke_device(repo=repo, device_id=device_id, by=admin.name).changed
    except ShiftError:
        done = False
    log(logger, logging.INFO, "console device revoked", admin=admin.name, device=device_id)
    t = tr(request)
    return redirect("/admin/devices", flash=(
        "ok", t.gettext("Device revoked. It erases its learners' data at its next contact."))
        if done else ("error", t.gettext("No such device, or already revoked.")))


# ----------------------------------------------------------------------------- learners

def _learners_page(request: Request, admin: Admin, repo: RepoDep, facility: str = "",
                   q: str = "", status: str = "active", page: int = 1,
                   **extra: Any) -> HTMLResponse:
    status = status if status in ("active", "deactivated", "all") else "active"
    found = learners.find_learners(repo=repo, facility_id=facility or None, query=q,
                                   status=status, page=page)
    every = facilities.list_facilities(repo=repo)
    return render(request, "learners.html", admin=admin, nav="learners", title=N_("Learners"),
                  facilities=every, facility_names={f.id: f.name for f in every},
                  sel_facility=facility, q=q[:100], sel_status=status, found=found,
                  back_url=f"/admin/learners?q={quote(q[:100])}&facility={quote(facility)}"
                           f"&status={status}&page={found.page}",
                  learners=found.learners, languages=LANGUAGES, **extra)


@router.get("/learners", response_class=HTMLResponse)
def learners_page(request: Request, admin: ConsoleAdminDep, repo: RepoDep,
                  facility: str = "", q: str = "", status: str = "active",
                  page: int = 1) -> HTMLResponse:
    return _learners_page(request, admin, repo, facility, q, status, page)


def _slip(made: learners.Registered) -> dict[str, str]:
    """What is printed and handed to the learner: name, staff number, facility and the
    one-time PIN set-up code."""
    learner, setup = made.learner, made.setup
    return {"name": learner.display_name, "staff_number": learner.staff_number,
            "facility": learner.facility_id, "code": setup.code, "expires": setup.expires_at}


def pin_codes_page(request: Request, admin: Admin, made: list[learners.Registered], *,
                created: bool) -> HTMLResponse:
    """The one-time PIN set-up codes, shown once (only their verifiers are stored)."""
    return render(request, "pin_codes.html", admin=admin, nav="learners",
                  title=N_("PIN set-up codes"), slips=[_slip(m) for m in made], created=created)


@router.post("/learners", response_class=HTMLResponse)
async def create_learner(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                         state: StateDep) -> Response:
    try:
        made = await run_in_threadpool(lambda: learners.create_learner(
            repo=state.repo, staff_number=form_text(form, "staff_number"),
            display_name=form_text(form, "name"), facility_id=form_text(form, "facility"),
            role=form_text(form, "role"), language=form_text(form, "language") or "en",
            setup_ttl_s=state.settings.pin_setup_ttl_s, by=admin.name))
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console learner created", admin=admin.name)
    return pin_codes_page(request, admin, [made], created=True)


@router.post("/learners/import", response_class=HTMLResponse)
async def import_learners(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                          state: StateDep) -> Response:
    upload_file = form.get("file")
    if not isinstance(upload_file, UploadFile):
        return redirect("/admin/learners",
                        flash=("error", tr(request).gettext("Choose a CSV file.")))
    data = await upload_file.read(MAX_BYTES + 1)
    result = await run_in_threadpool(lambda: learners.import_learners(
        repo=state.repo, data=data, setup_ttl_s=state.settings.pin_setup_ttl_s,
        by=admin.name))
    log(logger, logging.INFO, "console learners import", admin=admin.name,
        created=len(result.registered), errors=len(result.errors))
    return _learners_page(request, admin, state.repo,
                          import_result={"created": len(result.registered),
                                         "errors": result.errors,
                                         "slips": [_slip(m) for m in result.registered]},
                          status_code=200 if not result.errors else 422)


@router.post("/learners/{learner_id}/pin-setup", response_class=HTMLResponse)
async def pin_setup(request: Request, learner_id: str, admin: ConsoleAdminDep, form: CsrfForm,
                    state: StateDep) -> Response:
    """Reset a learner's PIN: a new one-time set-up code (shown once)."""
    try:
        made = await run_in_threadpool(lambda: learners.reset_pin(
            repo=state.repo, learner_id=learner_id, setup_ttl_s=state.settings.pin_setup_ttl_s,
            by=admin.name))
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console learner PIN reset", admin=admin.name, learner=learner_id)
    return pin_codes_page(request, admin, [made], created=False)


@router.post("/learners/{learner_id}/move", response_class=HTMLResponse)
async def move_learner(request: Request, learner_id: str, admin: ConsoleAdminDep,
                       form: CsrfForm, repo: RepoDep) -> Response:
    """A confirmation page naming the person and both facilities, then the move."""
    facility = str(form.get("facility") or "")
    back = f"/admin/learners/{quote(learner_id, safe='')}"
    try:
        if not form.get("confirmed"):
            plan = learners.plan_move(repo=repo, learner_id=learner_id, facility_id=facility)
            return render(request, "move_confirm.html", admin=admin, nav="learners",
                          title=N_("Move?"), move=plan, facility=facility, back=back)
        done = await run_in_threadpool(lambda: learners.move_learner(
            repo=repo, learner_id=learner_id, facility_id=facility, by=admin.name))
    except ShiftError as exc:
        return redirect(back, flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console learner moved", admin=admin.name, facility=facility)
    return redirect(back, flash=("ok", tr(request).gettext(
        "Moved %(name)s (%(staff)s) from %(src)s to %(to)s.", name=done.learner.display_name,
        staff=done.learner.staff_number, src=done.from_name, to=done.to_name)))


# ----------------------------------------------------------------------------- certificates

@router.get("/certificates", response_class=HTMLResponse)
def certificates_page(request: Request, admin: ConsoleAdminDep, repo: RepoDep) -> HTMLResponse:
    found = certificates.with_names(repo=repo)
    return render(request, "certificates.html", admin=admin, nav="certificates",
                  title=N_("Certificates"), certificates=found.certificates, names=found.names)


@router.post("/certificates/{certificate_id}/revoke")
async def revoke_certificate(request: Request, certificate_id: str, admin: ConsoleAdminDep,
                             form: CsrfForm, repo: RepoDep) -> Response:
    try:
        certificates.revoke_certificate(repo=repo, certificate_id=certificate_id, by=admin.name,
                                        reason=form_text(form, "reason")
                                        or "revoked by the issuer")
    except ShiftError as exc:
        return redirect("/admin/certificates", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "certificate revoked", admin=admin.name, certificate=certificate_id)
    return redirect("/admin/certificates",
                    flash=("ok", tr(request).gettext("Certificate revoked.")))
