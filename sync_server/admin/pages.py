"""The console pages (server-rendered HTML, docs/admin-guide.md)."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import segno
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import PackError, PackSourceError, ShiftError
from app.core.roles import ROLE_LABELS_EN, is_role
from sync_server.admin import charts, exports, stats
from sync_server.admin.console import (
    LOGIN_CSRF_COOKIE,
    check_csrf,
    console_admin,
    new_login_csrf,
    redirect,
    render,
    safe_next,
    set_session,
)
from sync_server.admin.learners_csv import parse_learners_csv
from sync_server.admin.state import console_state
from sync_server.admin.throttle import LoginThrottle
from sync_server.api.deps import ADMIN_COOKIE, get_state, login_admin, now_iso
from sync_server.db.repository import PackVersion
from sync_server.errors import ServerError
from sync_server.logs import log
from sync_server.security import token_hash
from sync_server.services import admin as admin_service
from sync_server.services import packs as pack_service

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
THROTTLE = LoginThrottle()
_FACILITY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# ----------------------------------------------------------------------------- login

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/admin/") -> HTMLResponse:
    token = new_login_csrf()
    # the login form's csrf field is a double-submit value (there is no session yet)
    response = render(request, "login.html", title="Log in", next=safe_next(next), csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/admin/login", httponly=True,
                        samesite="strict", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sent, cookie = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    name, password = str(form.get("name") or "")[:200], str(form.get("password") or "")[:1000]
    if not cookie or sent != cookie:
        raise HTTPException(403, "login form expired: reload the page and try again")
    state = get_state(request)
    address = request.client.host if request.client else "?"
    if THROTTLE.blocked(name, address):
        log(logger, logging.WARNING, "console login throttled", admin=name)
        return render(request, "login.html", title="Log in", status_code=429, login_name=name,
                      next=safe_next(str(form.get("next") or "")), csrf=cookie,
                      error="Too many failed logins. Wait a few minutes and try again.")
    found = await run_in_threadpool(login_admin, state.repo, state.settings, name, password)
    if found is None:
        THROTTLE.failed(name, address)
        log(logger, logging.WARNING, "console login failed", admin=name)
        response = render(request, "login.html", title="Log in", status_code=401, login_name=name,
                          next=safe_next(str(form.get("next") or "")),
                          error="Wrong name or password.", csrf=cookie)
        return response
    token, _ = found
    THROTTLE.succeeded(name)
    response = redirect(safe_next(str(form.get("next") or "")))
    set_session(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    log(logger, logging.INFO, "console login", admin=name)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    token = request.cookies.get(ADMIN_COOKIE)
    if token:
        get_state(request).repo.delete_admin_session(token_hash(token))
    response = redirect("/admin/login")
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


# ----------------------------------------------------------------------------- dashboard

def _manifests(repo: Any) -> list[dict[str, Any]]:
    """Manifest of the newest *published* version of every pack."""
    newest: dict[str, int] = {}
    for pub in repo.list_publications():
        newest[pub.pack_id] = max(newest.get(pub.pack_id, 0), pub.version)
    out = []
    for pack_id, version in sorted(newest.items()):
        pack = repo.get_pack_version(pack_id, version)
        if pack is not None:
            out.append(json.loads(pack.manifest))
    return out


def dashboard_data(repo: Any, cs: Any, facility: str, role: str) -> dict[str, Any]:
    """Everything the dashboard shows, for one facility / role filter ("" = all)."""
    facilities = repo.list_facilities()
    learners = [lr for lr in repo.list_learners()
                if (not facility or lr.facility_id == facility) and (not role or lr.role == role)]
    manifests = _manifests(repo)
    events = cs.queries.cached_events()
    progress = stats.fold_progress(events)
    courses = stats.courses_of(manifests)
    cells = stats.course_rates(courses, learners, progress)
    course_charts = []
    for course in courses:
        mine = [c for c in cells if c.course == course]
        if not mine:
            continue
        groups = [charts.BarGroup(f"{c.facility_id} · {ROLE_LABELS_EN.get(c.role, c.role)}", (
            charts.Bar("completion", c.completion_rate, f"{c.completed} of {c.population}"),
            charts.Bar("pass rate", c.pass_rate, f"{c.passed} of {c.tried}")))
            for c in mine]
        course_charts.append((course.title, charts.grouped_bars(
            f"{course.title}: completion and pass rate", groups, ("completion", "pass rate"))))
    fac_ids = [f.id for f in facilities if not facility or f.id == facility]
    gap = stats.gap_heat_map(manifests, learners, events, fac_ids)
    gap_svg = charts.heat_map("Mean self-assessment gap per duty and facility", gap.rows,
                              gap.columns, gap.values, max_gap=gap.max_gap) if gap.values else ""
    counts = {"facilities": len(facilities),
              "devices": sum(1 for d in repo.list_devices() if not d.revoked),
              "learners": len(repo.list_learners()), "events": repo.count_events().total,
              "certificates": len(cs.certs.list(limit=100_000))}
    return {"counts": counts, "facilities": facilities, "cells": cells,
            "course_charts": course_charts, "gap_svg": gap_svg}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, facility: str = "", role: str = "") -> HTMLResponse:
    admin = console_admin(request)
    data = dashboard_data(get_state(request).repo, console_state(request), facility,
                          role if is_role(role) else "")
    return render(request, "dashboard.html", admin=admin, nav="dashboard", title="Dashboard",
                  sel_facility=facility, sel_role=role, **data)


# ----------------------------------------------------------------------------- packs

def _publication_text(pub: Any) -> str:
    where = ", ".join(pub.facilities) or "all facilities"
    who = ", ".join(pub.roles) or "all roles"
    return f"{where} · {who} ({pub.published_at[:10]})"


def _packs_context(request: Request) -> dict[str, Any]:
    repo = get_state(request).repo
    pubs = repo.list_publications()
    by_pack: dict[str, list[dict[str, Any]]] = defaultdict(list)
    latest: dict[str, int] = {}
    for p in repo.list_pack_versions():
        title = json.loads(p.title) if p.title else {}
        by_pack[p.pack_id].append({
            "version": p.version, "title_text": title.get("en") or next(iter(title.values()), ""),
            "size": f"{p.total_bytes / 1024:.0f} KiB", "uploaded_at": p.uploaded_at,
            "uploaded_by": p.uploaded_by,
            "publications": [_publication_text(x) for x in pubs
                             if x.pack_id == p.pack_id and x.version == p.version]})
        latest[p.pack_id] = max(latest.get(p.pack_id, 0), p.version)
    for versions in by_pack.values():
        versions.sort(key=lambda v: -v["version"])
    newest_published: dict[str, int] = {}
    for pub in pubs:
        newest_published[pub.pack_id] = max(newest_published.get(pub.pack_id, 0), pub.version)
    devices = {d.id: d for d in repo.list_devices()}
    rows: dict[str, dict[str, Any]] = {}
    for item in repo.installed_packs():
        d = devices.get(item.device_id)
        row = rows.setdefault(item.device_id, {"device": d.name if d else item.device_id,
                                               "facility": item.facility_id, "versions": {}})
        row["versions"][item.pack_id] = item.version
    return {"packs": sorted(by_pack.items()), "latest": latest,
            "facilities": repo.list_facilities(), "installed_rows": list(rows.values()),
            "pack_ids": sorted({i.pack_id for i in repo.installed_packs()} | set(latest)),
            "newest_published": newest_published}


@router.get("/packs", response_class=HTMLResponse)
def packs_page(request: Request) -> HTMLResponse:
    admin = console_admin(request)
    return render(request, "packs.html", admin=admin, nav="packs", title="Packs",
                  **_packs_context(request))


async def _save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="console-", dir=folder)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := await upload.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ServerError(f"upload larger than {limit} bytes")
                handle.write(chunk)
        if size == 0:
            raise ServerError("the uploaded file is empty")
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _is_built_pack(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile:
        return True  # let the pack verifier name the problem
    return "manifest.json" in names and "manifest.sig" in names


def problems_of(exc: ShiftError) -> list[dict[str, Any]]:
    """Rows for the error table: file, line, field, message."""
    items = getattr(exc, "problems", None) or getattr(exc, "errors", None)
    if isinstance(items, list) and items and all(isinstance(i, ShiftError) for i in items):
        return [row for item in items for row in problems_of(item)]
    if isinstance(exc, PackSourceError) and exc.path:
        message = str(exc)
        where = exc.path or ""
        if exc.line is not None:
            where += f":{exc.line}"
        if exc.field:
            where += f" [{exc.field}]" if where else f"[{exc.field}]"
        if where and message.startswith(where + ": "):
            message = message[len(where) + 2:]
        return [{"path": _relative(exc.path), "line": exc.line, "field": exc.field,
                 "message": message}]
    text = _strip_tmp(str(exc))
    found = _WHERE.match(text)  # "file:line [field]: message" (the server re-words paths)
    if found:
        return [{"path": found["path"], "line": int(found["line"]) if found["line"] else None,
                 "field": found["field"], "message": found["message"]}]
    return [{"path": None, "line": None, "field": None, "message": text}]


_WHERE = re.compile(r"^(?P<path>[^\s:]+\.(?:toml|md|json|png|jpe?g|svg|webp|gif))"
                    r"(?::(?P<line>\d+))?(?: \[(?P<field>[^\]]+)\])?: (?P<message>.+)$", re.S)


_TMP_SRC = re.compile(r"\S*/source-[^/\s]+/src/")


def _relative(path: str | None) -> str | None:
    """A path inside the uploaded zip, without the server's temp folder."""
    return _TMP_SRC.sub("", path) if path else path


def _strip_tmp(text: str) -> str:
    return _TMP_SRC.sub("", text)


@router.post("/packs/upload", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    state = get_state(request)
    upload_file = form.get("file")
    kind = str(form.get("kind") or "auto")
    if not isinstance(upload_file, UploadFile):
        return redirect("/admin/packs", flash=("error", "Choose a file to upload."))
    tmp_dir = state.settings.data_dir / "tmp"
    try:
        path = await _save_upload(upload_file, tmp_dir, state.settings.max_upload_bytes)
        try:
            as_source = kind == "source" or (kind == "auto" and not _is_built_pack(path))
            if as_source:
                pack = await run_in_threadpool(pack_service.ingest_source_zip, state.repo,
                                               state.keyring, state.blobs, path, admin.name,
                                               tmp_dir)
            else:
                pack = await run_in_threadpool(pack_service.ingest_pack_file, state.repo,
                                               state.keyring, state.blobs, path, admin.name)
        finally:
            path.unlink(missing_ok=True)
    except (PackError, ServerError, ShiftError) as exc:
        log(logger, logging.INFO, "console upload refused", admin=admin.name, error=str(exc)[:300])
        return render(request, "packs.html", admin=admin, nav="packs", title="Packs",
                      status_code=422, problems=problems_of(exc), **_packs_context(request))
    log(logger, logging.INFO, "console upload", admin=admin.name, pack=pack.pack_id,
        version=pack.version)
    return redirect("/admin/packs", flash=("ok", f"Uploaded {pack.pack_id} version "
                                                 f"{pack.version}. Publish it to make it "
                                                 "reach devices."))


@router.post("/packs/{pack_id}/{version}/publish")
async def publish(request: Request, pack_id: str, version: int) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    facilities = [str(f) for f in form.getlist("facilities")]
    roles = [str(r) for r in form.getlist("roles")]
    bad = [r for r in roles if not is_role(r)]
    if bad:
        return redirect("/admin/packs", flash=("error", f"Unknown role(s): {', '.join(bad)}"))
    try:
        pub = get_state(request).repo.publish(pack_id, version, facilities, roles, admin.name,
                                              now_iso())
    except ShiftError as exc:
        return redirect("/admin/packs", flash=("error", str(exc)))
    log(logger, logging.INFO, "console publish", admin=admin.name, pack=pack_id, version=version)
    return redirect("/admin/packs", flash=("ok", f"Published {pack_id} v{version} to "
                                                 f"{_publication_text(pub)}."))


def rollback_pack(state: Any, pack_id: str, version: int, by: str) -> PackVersion:
    """Republish the content of ``version`` as a new, higher version (devices never go
    backwards): same files, manifest with the new version number, signed with the server
    key; published to the audience of the newest publication of the pack."""
    from app.core.packs.builder import sign_manifest
    from app.core.packs.source import canonical_json

    repo = state.repo
    old = repo.get_pack_version(pack_id, version)
    if old is None:
        raise ServerError(f"pack {pack_id!r} version {version} was not uploaded")
    newest = max(p.version for p in repo.list_pack_versions() if p.pack_id == pack_id)
    manifest = json.loads(old.manifest)
    manifest["version"] = newest + 1
    manifest_bytes = canonical_json(manifest)
    pack = PackVersion(pack_id=pack_id, version=newest + 1, manifest=manifest_bytes,
                       sig=sign_manifest(manifest_bytes, state.keyring.private_key),
                       title=old.title, total_bytes=old.total_bytes, uploaded_at=now_iso(),
                       uploaded_by=f"{by} (rollback to v{version})")
    repo.add_pack_version(pack)
    pubs = [p for p in repo.list_publications() if p.pack_id == pack_id]
    if pubs:
        last = max(pubs, key=lambda p: (p.version, p.id))
        repo.publish(pack_id, pack.version, list(last.facilities), list(last.roles), by,
                     now_iso())
    return pack


@router.post("/packs/{pack_id}/{version}/rollback")
async def rollback(request: Request, pack_id: str, version: int) -> Response:
    admin = console_admin(request)
    await check_csrf(request)
    try:
        pack = await run_in_threadpool(rollback_pack, get_state(request), pack_id, version,
                                       admin.name)
    except ShiftError as exc:
        return redirect("/admin/packs", flash=("error", str(exc)))
    log(logger, logging.INFO, "console rollback", admin=admin.name, pack=pack_id,
        to_content_of=version, new_version=pack.version)
    return redirect("/admin/packs", flash=("ok", f"Content of v{version} republished as "
                                                 f"{pack_id} v{pack.version}."))


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
    base = console_state(request).issuer.base_url(str(request.base_url))
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


@router.post("/learners")
async def create_learner(request: Request) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    values = {k: str(form.get(k) or "").strip() for k in
              ("staff_number", "name", "facility", "role", "language")}
    # the form is checked by the same rules as one CSV row
    rows, errors = parse_learners_csv(
        (",".join(["staff_number", "name", "facility", "role", "language"]) + "\n"
         + ",".join(_csv_cell(values[k]) for k in ("staff_number", "name", "facility", "role",
                                                   "language"))).encode(),
        facilities={f.id for f in get_state(request).repo.list_facilities()})
    if errors:
        return redirect("/admin/learners", flash=("error", "; ".join(
            f"{e.field}: {e.message}" if e.field else e.message for e in errors)))
    try:
        _create(request, rows[0])
    except ShiftError as exc:
        return redirect("/admin/learners", flash=("error", str(exc)))
    log(logger, logging.INFO, "console learner created", admin=admin.name)
    return redirect("/admin/learners", flash=("ok", f"Learner {rows[0].name} created."))


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _create(request: Request, row: Any) -> None:
    admin_service.create_learner(get_state(request).repo, staff_number=row.staff_number,
                                 display_name=row.name, role=row.role, language=row.language,
                                 facility_id=row.facility_id)


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
    from sync_server.admin.learners_csv import RowError

    created = 0
    for row in rows:
        try:
            await run_in_threadpool(_create, request, row)
            created += 1
        except ShiftError as exc:
            errors.append(RowError(row.line, "staff_number", str(exc)))
    errors.sort(key=lambda e: e.line)
    log(logger, logging.INFO, "console learners import", admin=admin.name, created=created,
        errors=len(errors))
    return _learners_page(request, admin, import_result={"created": created, "errors": errors},
                          status_code=200 if not errors else 422)


@router.post("/learners/{learner_id}/move")
async def move_learner(request: Request, learner_id: str) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    facility = str(form.get("facility") or "")
    try:
        await run_in_threadpool(console_state(request).queries.move_learner, learner_id,
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
    certs = console_state(request).certs.list()
    names = {lid: lr.display_name for lid, lr in
             repo.learners_by_ids(sorted({c.learner_id for c in certs})).items()}
    return render(request, "certificates.html", admin=admin, nav="certificates",
                  title="Certificates", certificates=certs, names=names)


@router.post("/certificates/{certificate_id}/revoke")
async def revoke_certificate(request: Request, certificate_id: str) -> Response:
    admin = console_admin(request)
    form = (await check_csrf(request))["form"]
    reason = str(form.get("reason") or "").strip()[:200] or "revoked by the issuer"
    done = console_state(request).certs.revoke(certificate_id, by=admin.name, reason=reason,
                                               now=now_iso())
    log(logger, logging.INFO, "certificate revoked", admin=admin.name, certificate=certificate_id)
    return redirect("/admin/certificates", flash=("ok", "Certificate revoked.") if done else
                    ("error", "No such certificate, or already revoked."))


# ----------------------------------------------------------------------------- exports

def _home_page(request: Request) -> str:
    return console_state(request).issuer.base_url(str(request.base_url))


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request) -> HTMLResponse:
    admin = console_admin(request)
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports")


def progress_response(request: Request) -> Response:
    """The progress CSV download (also served by the JSON admin API)."""
    repo, cs = get_state(request).repo, console_state(request)
    manifests = [json.loads(p.manifest) for p in repo.list_pack_versions()]
    progress = stats.fold_progress(cs.queries.report_events())
    certs = {(c.learner_id, c.pack_id, c.course_id): c.id for c in cs.certs.list(limit=10**7)}
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

    def work() -> tuple[exports.LrsResult, int]:
        statements, skipped = exports.xapi_statements(
            (e for _, e in cs.queries.iter_events()), home)
        return exports.push_to_lrs(statements, endpoint, username=str(form.get("username") or ""),
                                   password=str(form.get("password") or "")), len(skipped)

    try:
        result, skipped = await run_in_threadpool(work)
    except ImportError:
        return redirect("/admin/exports", flash=("error", "xAPI mapping is not installed."))
    log(logger, logging.INFO, "lrs push", admin=admin.name, sent=result.sent,
        already=result.already, failed=len(result.failed))
    return render(request, "exports.html", admin=admin, nav="exports", title="Exports",
                  lrs_result=result, skipped=skipped, endpoint=endpoint,
                  status_code=200 if result.ok else 502)


__all__ = ["router", "rollback_pack", "enrol_qr_payload", "problems_of"]
