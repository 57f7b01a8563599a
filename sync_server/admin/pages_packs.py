"""Console pages: packs (upload, publish, roll back, who has what)."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import PackError, PackSourceError, ShiftError
from app.core.roles import is_role
from sync_server.admin.console import (
    check_csrf,
    console_admin,
    redirect,
    render,
)
from sync_server.api.deps import get_state, now_iso
from sync_server.db.repository import PackVersion
from sync_server.errors import ServerError
from sync_server.logs import log
from sync_server.services import packs as pack_service
from sync_server.uploads import CHUNK, save_upload

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


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


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


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
        path = await save_upload(_upload_chunks(upload_file), tmp_dir, "console-",
                                 state.settings.max_upload_bytes)
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
    from app.core.canonical import canonical_json
    from app.core.packs.builder import sign_manifest

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
