"""Console pages: packs (upload, publish, roll back, who has what). The actions are
services/packs.py; this module turns a refused upload into the table of problems (file,
line, field, message) an author can act on."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import PackSourceError, ShiftError
from app.core.i18n import N_
from app.core.packs.quality import RULES, QualityFinding
from app.core.roles import ROLE_LABELS_EN
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, PublisherDep, redirect, render
from sync_server.admin.i18n import tr
from sync_server.admin.refusals import refusal_text
from sync_server.api.deps import RepoDep, StateDep
from sync_server.db.repository import Publication, Repository
from sync_server.errors import NotFoundError
from sync_server.logs import log
from sync_server.services import facilities, packs, publishing
from sync_server.uploads import CHUNK, save_upload

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


def _publication_text(pub: Publication, names: dict[str, str]) -> str:
    """Who a publication reaches, by facility name and role label."""
    where = ", ".join(names.get(f, f) for f in pub.facilities) or "all facilities"
    who = ", ".join(ROLE_LABELS_EN.get(r, r) for r in pub.roles) or "all roles"
    return f"{where} · {who}"


def _packs_context(repo: Repository) -> dict[str, Any]:
    view = packs.overview(repo=repo)
    names = {f.id: f.name for f in view.facilities}
    listed: list[tuple[str, list[dict[str, Any]]]] = []
    for pack_id, versions in sorted(view.versions.items()):
        rows = []
        for p, pubs in versions:
            title = json.loads(p.title) if p.title else {}
            rows.append({"version": p.version,
                         "title_text": title.get("en") or next(iter(title.values()), ""),
                         "size": f"{p.total_bytes / 1024:.0f} KiB",
                         "uploaded_at": p.uploaded_at, "uploaded_by": p.uploaded_by,
                         "publications": [
                             {"text": f"{_publication_text(x, names)} "
                                      f"({x.published_at[:10]})",
                              "withdrawn": x.withdrawn_at} for x in pubs]})
        listed.append((pack_id, rows))
    active = {}
    for pack_id in view.versions:
        pub = packs.rollback_audience(repo=repo, pack_id=pack_id)
        if pub is not None:
            active[pack_id] = {"version": pub.version, "text": _publication_text(pub, names)}
    return {"packs": listed, "latest": {pid: rows[0]["version"] for pid, rows in listed},
            "facilities": view.facilities, "active_audience": active,
            "installed_rows": [{"device": name, "facility": facility, "versions": versions}
                               for name, facility, versions in view.installed],
            "pack_ids": view.pack_ids, "newest_published": view.newest_published,
            "device_rows": view.devices, "facility_names": names}


@router.get("/packs", response_class=HTMLResponse)
def packs_page(request: Request, admin: PublisherDep, repo: RepoDep) -> HTMLResponse:
    return render(request, "packs.html", admin=admin, nav="packs", title=N_("Packs"),
                  **_packs_context(repo))


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


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
async def upload(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                 state: StateDep) -> Response:
    upload_file = form.get("file")
    kind = str(form.get("kind") or "auto")
    if not isinstance(upload_file, UploadFile):
        return redirect("/admin/packs",
                        flash=("error", tr(request).gettext("Choose a file to upload.")))
    tmp_dir = state.settings.data_dir / "tmp"
    try:
        path = await save_upload(_upload_chunks(upload_file), tmp_dir, "console-",
                                 state.settings.max_upload_bytes)
        try:
            report = await run_in_threadpool(lambda: packs.upload_pack_with_report(
                repo=state.repo, keyring=state.keyring, blobs=state.blobs, path=path,
                by=admin.name, work_dir=tmp_dir,
                kind="source" if kind == "source" else "auto" if kind == "auto" else "pack"))
        finally:
            path.unlink(missing_ok=True)
    except ShiftError as exc:
        log(logger, logging.INFO, "console upload refused", admin=admin.name, error=str(exc)[:300])
        return render(request, "packs.html", admin=admin, nav="packs", title=N_("Packs"),
                      status_code=422, problems=problems_of(exc), **_packs_context(state.repo))
    pack = report.pack
    log(logger, logging.INFO, "console upload", admin=admin.name, pack=pack.pack_id,
        version=pack.version, quality_findings=len(report.quality))
    done = tr(request).gettext("Uploaded %(pack)s version %(version)s. Publish it to make it "
                               "reach devices.", pack=pack.pack_id, version=pack.version)
    if not report.quality:
        return redirect("/admin/packs", flash=("ok", done))
    # the quiz quality report (docs/authoring.md "Quiz quality rules"): shown, not refused
    return render(request, "packs.html", admin=admin, nav="packs", title=N_("Packs"),
                  uploaded=done, quality=[_quality_row(f) for f in report.quality],
                  **_packs_context(state.repo))


def _quality_row(finding: QualityFinding) -> dict[str, Any]:
    return {"path": _relative(finding.path), "line": finding.line, "field": finding.field,
            "course": finding.course, "lang": finding.lang or "", "rule": finding.rule,
            "explained": RULES.get(finding.rule, ""), "message": _strip_tmp(finding.message)}


@router.post("/packs/{pack_id}/publish", response_class=HTMLResponse)
async def publish(request: Request, pack_id: str, admin: PublisherDep, form: CsrfForm,
                  repo: RepoDep) -> Response:
    """One publish form per pack: version + an explicit audience → a confirmation page
    naming it (facilities and roles by name) → published. Nothing ticked is an error
    shown next to the form, with the choices kept."""
    facilities = [str(f) for f in form.getlist("facilities")]
    roles = [str(r) for r in form.getlist("roles")]
    all_facilities, all_roles = bool(form.get("all_facilities")), bool(form.get("all_roles"))
    version_text = str(form.get("version") or "")
    try:
        version = int(version_text) if version_text.isdigit() else 0
        audience = packs.check_audience(repo=repo, facilities=facilities, roles=roles,
                                        all_facilities=all_facilities, all_roles=all_roles)
        if not form.get("confirmed"):
            if packs.find_version(repo=repo, pack_id=pack_id, version=version) is None:
                raise NotFoundError(f"pack {pack_id!r} version {version_text[:20]!r} "
                                    "was not uploaded")
            return render(request, "publish_confirm.html", admin=admin, nav="packs",
                          title=N_("Publish?"), pack_id=pack_id, version=version,
                          audience=audience)
        pub = publishing.publish_as(repo=repo, actor=admin, pack_id=pack_id, version=version,
                                    audience=audience)
    except ShiftError as exc:
        selection = {"pack_id": pack_id, "version": version, "facilities": facilities,
                     "roles": roles, "all_facilities": all_facilities,
                     "all_roles": all_roles, "error": refusal_text(tr(request), exc)}
        return render(request, "packs.html", admin=admin, nav="packs", title=N_("Packs"),
                      status_code=422, selection=selection, **_packs_context(repo))
    log(logger, logging.INFO, "console publish", admin=admin.name, pack=pack_id, version=version,
        facilities=list(pub.facilities), roles=list(pub.roles))
    return redirect("/admin/packs", flash=("ok", tr(request).gettext(
        "Published %(pack)s v%(version)s to %(audience)s.", pack=pack_id, version=version,
        audience=audience.text())))


@router.post("/packs/{pack_id}/withdraw")
async def withdraw(request: Request, pack_id: str, admin: ConsoleAdminDep, form: CsrfForm,
                   repo: RepoDep) -> Response:
    try:
        ended = packs.withdraw(repo=repo, pack_id=pack_id, by=admin.name)
    except ShiftError as exc:
        return redirect("/admin/packs", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console withdraw", admin=admin.name, pack=pack_id,
        publications=ended)
    return redirect("/admin/packs", flash=("ok", tr(request).gettext(
        "Withdrew %(pack)s: devices hide it at their next sync; learners' progress is kept.",
        pack=pack_id)))


@router.post("/packs/{pack_id}/{version}/rollback")
async def rollback(request: Request, pack_id: str, version: int, admin: ConsoleAdminDep,
                   form: CsrfForm, state: StateDep) -> Response:
    names = {f.id: f.name for f in facilities.list_facilities(repo=state.repo)}
    target = packs.rollback_audience(repo=state.repo, pack_id=pack_id)
    try:
        pack = await run_in_threadpool(lambda: packs.rollback(
            repo=state.repo, keyring=state.keyring, pack_id=pack_id, version=version,
            by=admin.name))
    except ShiftError as exc:
        return redirect("/admin/packs", flash=("error", refusal_text(tr(request), exc)))
    log(logger, logging.INFO, "console rollback", admin=admin.name, pack=pack_id,
        to_content_of=version, new_version=pack.version)
    t = tr(request)
    where = (t.gettext("published to %(audience)s", audience=_publication_text(target, names))
             if target is not None else t.gettext("not published (nothing of the pack was)"))
    return redirect("/admin/packs", flash=("ok", t.gettext(
        "Content of v%(old)s republished as %(pack)s v%(new)s, %(where)s.", old=version,
        pack=pack_id, new=pack.version, where=where)))
