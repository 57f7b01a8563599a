"""Console pages: facilities, devices (enrolment codes, revoke), learners, certificates."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import ShiftError
from sync_server.admin.console import (
    check_csrf,
    console_admin,
    redirect,
    render,
)
from sync_server.admin.learners_csv import RowError, parse_learners_csv
from sync_server.api.deps import get_state, now_iso
from sync_server.logs import log
from sync_server.services import admin as admin_service
from sync_server.services import profiles as profile_service

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
_FACILITY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# ----------------------------------------------------------------------------- devices

@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request) -> HTMLResponse:
    admin = console_admin(request)
    repo = get_state(request).repo
    installed: dict[str, list[Any]] = defaultdict(list)
    for item in repo.installed_packs():
        installed[item.device_id].append(item)
    return render(request, "devices.html", admin=admin, nav="devices", title="Devices",
                  facilities=repo.list_facilities(), devices=repo.list_devices(),
                  installed=installed)


@router.post("/facilities")
async def create_facility(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    fid, name = str(form.get("id") or "").strip(), str(form.get("name") or "").strip()
    if not _FACILITY_RE.match(fid) or not name or len(name) > 200:
        return redirect("/admin/devices", flash=("error", "Facility id: lower-case letters, "
                                                          "digits, - and _; name: 1–200 characters."))
    try:
        get_state(request).repo.create_facility(fid, name, now_iso())
    except ShiftError as exc:
        return redirect("/admin/devices", flash=("error", str(exc)))
    log(logger, logging.INFO, "console facility created", admin=admin.name, facility=fid)
    return redirect("/admin/devices", flash=("ok", f"Facility {name} created."))


def enrol_qr_payload(base_url: str, code: str) -> str:
    """What the QR code of an enrolment code holds (docs/admin-guide.md)."""
    return f"SHIFT-ENROL {base_url.rstrip('/')} {code}"


@router.post("/devices/enrol-code", response_class=HTMLResponse)
async def enrol_code(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    state = get_state(request)
    facility = state.repo.get_facility(str(form.get("facility") or ""))
    if facility is None:
        return redirect("/admin/devices", flash=("error", "Choose an existing facility."))
    code, expires = admin_service.create_enrol_code(state.repo, facility.id,
                                                    state.settings.enrol_code_ttl_s, admin.name)
    base = state.settings.base_url  # never the request's Host header
    qr = segno.make(enrol_qr_payload(base, code), error="m")
    svg = qr.svg_inline(scale=6, border=2, title=f"Enrolment code {code}")
    log(logger, logging.INFO, "console enrol code", admin=admin.name, facility=facility.id)
    return render(request, "enrol_code.html", admin=admin, nav="devices", title="Enrolment code",
                  facility=facility, code=code, expires=expires, qr_svg=svg)


@router.post("/devices/{device_id}/revoke")
async def revoke_device(request: Request, device_id: str) -> Response:
    admin = console_admin(request)
    await check_csrf(request)
    done = get_state(request).repo.revoke_device(device_id, now_iso())
    log(logger, logging.INFO, "console device revoked", admin=admin.name, device=device_id)
    return redirect("/admin/devices", flash=("ok", "Device revoked.") if done else
                    ("error", "No such device, or already revoked."))


# ----------------------------------------------------------------------------- learners

def _learners_page(request: Request, admin: Any, facility: str = "", **extra: Any) -> HTMLResponse:
    repo = get_state(request).repo
    return render(request, "learners.html", admin=admin, nav="learners", title="Learners",
                  facilities=repo.list_facilities(), sel_facility=facility,
                  learners=repo.list_learners(facility or None), **extra)


@router.get("/learners", response_class=HTMLResponse)
def learners_page(request: Request, facility: str = "") -> HTMLResponse:
    return _learners_page(request, console_admin(request), facility)


@router.post("/learners", response_class=HTMLResponse)
async def create_learner(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    values = {k: str(form.get(k) or "").strip() for k in
              ("staff_number", "name", "facility", "role", "language")}
    # the form is checked by the same rules as one CSV row (app/core/profile_rules.py)
    rows, errors = parse_learners_csv(
        (",".join(["staff_number", "name", "facility", "role", "language"]) + "\n"
         + ",".join(_csv_cell(values[k]) for k in ("staff_number", "name", "facility", "role",
                                                   "language"))).encode(),
        facilities={f.id for f in get_state(request).repo.list_facilities()})
    if errors:
        return redirect("/admin/learners", flash=("error", "; ".join(
            f"{e.field}: {e.message}" if e.field else e.message for e in errors)))
    try:
        slip = await run_in_threadpool(_create, request, rows[0])
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", str(exc)))
    log(logger, logging.INFO, "console learner created", admin=admin.name)
    return _codes_page(request, admin, [slip], created=True)


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _create(request: Request, row: Any) -> dict[str, str]:
    """Register one learner; returns the slip (name, staff number, facility, one-time PIN
    set-up code) to print and hand over."""
    state = get_state(request)
    learner, setup = profile_service.create_learner(
        state.repo, staff_number=row.staff_number, display_name=row.name, role=row.role,
        language=row.language, facility_id=row.facility_id,
        setup_ttl_s=state.settings.pin_setup_ttl_s)
    return _slip(learner, setup)


def _slip(learner: Any, setup: profile_service.PinSetup) -> dict[str, str]:
    return {"name": learner.display_name, "staff_number": learner.staff_number,
            "facility": learner.facility_id, "code": setup.code, "expires": setup.expires_at}


def _codes_page(request: Request, admin: Any, slips: list[dict[str, str]], *,
                created: bool) -> HTMLResponse:
    """The one-time PIN set-up codes, shown once (only their verifiers are stored)."""
    return render(request, "pin_codes.html", admin=admin, nav="learners",
                  title="PIN set-up codes", slips=slips, created=created)


@router.post("/learners/import", response_class=HTMLResponse)
async def import_learners(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    upload_file = form.get("file")
    if not isinstance(upload_file, UploadFile):
        return redirect("/admin/learners", flash=("error", "Choose a CSV file."))
    data = await upload_file.read(2 * 1024 * 1024 + 1)
    repo = get_state(request).repo
    rows, errors = parse_learners_csv(data, facilities={f.id for f in repo.list_facilities()})
    slips = []
    for row in rows:
        try:
            slips.append(await run_in_threadpool(_create, request, row))
        except ShiftError as exc:
            errors.append(RowError(row.line, "staff_number", str(exc)))
    errors.sort(key=lambda e: e.line)
    log(logger, logging.INFO, "console learners import", admin=admin.name, created=len(slips),
        errors=len(errors))
    return _learners_page(request, admin,
                          import_result={"created": len(slips), "errors": errors,
                                         "slips": slips},
                          status_code=200 if not errors else 422)


@router.post("/learners/{learner_id}/pin-setup", response_class=HTMLResponse)
async def pin_setup(request: Request, learner_id: str) -> Response:
    """Reset a learner's PIN: a new one-time set-up code (shown once)."""
    admin = console_admin(request)
    await check_csrf(request)
    state = get_state(request)
    learner = state.repo.get_learner(learner_id)
    if learner is None:
        return redirect("/admin/learners", flash=("error", "No such learner."))
    setup = await run_in_threadpool(profile_service.reset_pin, state.repo, learner_id,
                                    setup_ttl_s=state.settings.pin_setup_ttl_s)
    log(logger, logging.INFO, "console learner PIN reset", admin=admin.name, learner=learner_id)
    return _codes_page(request, admin, [_slip(learner, setup)], created=False)


@router.post("/learners/{learner_id}/move")
async def move_learner(request: Request, learner_id: str) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    facility = str(form.get("facility") or "")
    try:
        # the repository moves the profile AND the learner's past events (new seqs at the
        # end of the log), so the new facility's tablets pull the whole history
        await run_in_threadpool(get_state(request).repo.move_learner, learner_id,
                                facility, now_iso())
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", str(exc)))
    log(logger, logging.INFO, "console learner moved", admin=admin.name, facility=facility)
    return redirect("/admin/learners", flash=("ok", f"Learner moved to {facility}."))


# ----------------------------------------------------------------------------- certificates

@router.get("/certificates", response_class=HTMLResponse)
def certificates_page(request: Request) -> HTMLResponse:
    admin = console_admin(request)
    repo = get_state(request).repo
    certs = repo.list_certificates()
    names = {lid: lr.display_name for lid, lr in
             repo.learners_by_ids(sorted({c.learner_id for c in certs})).items()}
    return render(request, "certificates.html", admin=admin, nav="certificates",
                  title="Certificates", certificates=certs, names=names)


@router.post("/certificates/{certificate_id}/revoke")
async def revoke_certificate(request: Request, certificate_id: str) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    reason = str(form.get("reason") or "").strip()[:200] or "revoked by the issuer"
    done = get_state(request).repo.revoke_certificate(certificate_id, by=admin.name,
                                                       reason=reason, now=now_iso())
    log(logger, logging.INFO, "certificate revoked", admin=admin.name, certificate=certificate_id)
    return redirect("/admin/certificates", flash=("ok", "Certificate revoked.") if done else
                    ("error", "No such certificate, or already revoked."))
