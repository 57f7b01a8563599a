"""Studio pages: the drafts list, a new pack, a stored version opened as a draft, a
draft's overview with its checks, the zipped source out and back in, and the build
(then the packs page publishes it)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.core.errors import PackSourceError, ShiftError
from app.core.roles import ROLES
from sync_server.admin.console import CsrfForm, StudioMemberDep, form_text, redirect
from sync_server.admin.i18n import tr
from sync_server.admin.pages_packs import problems_of
from sync_server.admin.studio.common import failure, page, texts
from sync_server.api.deps import StateDep
from sync_server.logs import log
from sync_server.services import drafts, packs, studio
from sync_server.uploads import CHUNK, save_upload

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin/studio", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def drafts_page(request: Request, admin: StudioMemberDep, state: StateDep) -> HTMLResponse:
    return _list(request, admin, state)


def _list(request: Request, admin: StudioMemberDep, state: StateDep, *, error: str = "",
          status_code: int = 200) -> HTMLResponse:
    versions = packs.list_pack_versions(repo=state.repo)
    return page(request, "studio_drafts.html", admin=admin, title="Studio",
                drafts=drafts.list_drafts(repo=state.repo), error=error,
                versions=sorted(((v.pack_id, v.version) for v in versions), reverse=True),
                all_roles=ROLES, status_code=status_code)


@router.post("/new")
async def new_draft(request: Request, admin: StudioMemberDep, form: CsrfForm,
                    state: StateDep) -> Response:
    languages = [x.strip() for x in form_text(form, "languages").replace(",", " ").split()]
    try:
        draft = drafts.create_draft(
            repo=state.repo, settings=state.settings, by=admin,
            pack_id=form_text(form, "pack_id"), title=form_text(form, "title"),
            languages=languages, default_language=languages[0] if languages else "",
            audience_roles=texts(form, "roles"), licence=form_text(form, "licence") or
            "CC BY-SA 4.0")
    except ShiftError as exc:
        return _list(request, admin, state, error=failure(exc), status_code=422)
    log(logger, logging.INFO, "studio draft created", admin=admin.name, draft=draft.id)
    return redirect(f"/admin/studio/{draft.id}", flash=("ok", tr(request).gettext(
        "Draft of %(pack)s created.", pack=draft.pack_id)))


@router.post("/open")
async def open_version(request: Request, admin: StudioMemberDep, form: CsrfForm,
                       state: StateDep) -> Response:
    pack_id, _, version = form_text(form, "version").rpartition("@")
    try:
        draft = await run_in_threadpool(lambda: drafts.open_version_as_draft(
            repo=state.repo, settings=state.settings, blobs=state.blobs, by=admin,
            pack_id=pack_id, version=int(version) if version.isdigit() else 0))
    except ShiftError as exc:
        return _list(request, admin, state, error=failure(exc), status_code=422)
    return redirect(f"/admin/studio/{draft.id}", flash=(
        "ok", tr(request).gettext("%(pack)s v%(version)s opened as a draft.", pack=pack_id,
                                  version=version)))


@router.get("/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, draft_id: str, admin: StudioMemberDep,
               state: StateDep) -> HTMLResponse:
    return _draft(request, admin, state, draft_id)


def _draft(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str, *,
           problems: list[dict[str, object]] | None = None, error: str = "",
           status_code: int = 200) -> HTMLResponse:
    view = studio.overview(repo=state.repo, settings=state.settings, draft_id=draft_id)
    report = studio.check(repo=state.repo, settings=state.settings, draft_id=draft_id)
    return page(request, "studio_draft.html", admin=admin, title=tr(request).gettext("Draft %(pack)s", pack=view['draft'].pack_id),
                report=report, problems=problems, error=error, status_code=status_code,
                **view)


@router.get("/{draft_id}/source.zip")
def download(draft_id: str, admin: StudioMemberDep, state: StateDep) -> Response:
    draft = drafts.get_draft(repo=state.repo, draft_id=draft_id)
    path = drafts.export_draft_zip(repo=state.repo, settings=state.settings, by=admin,
                                   draft_id=draft_id)
    return FileResponse(path, media_type="application/zip",
                        filename=f"{draft.pack_id}-source.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


@router.post("/{draft_id}/upload", response_class=HTMLResponse)
async def upload(request: Request, draft_id: str, admin: StudioMemberDep, form: CsrfForm,
                 state: StateDep) -> Response:
    upload_file = form.get("file")
    if not isinstance(upload_file, UploadFile):
        return redirect(f"/admin/studio/{draft_id}", flash=("error", tr(request).gettext(
            "Choose a .zip file.")))
    tmp_dir = state.settings.data_dir / "tmp"
    path: Path | None = None
    try:
        path = await save_upload(_chunks(upload_file), tmp_dir, "studio-",
                                 state.settings.max_upload_bytes)
        saved = path
        await run_in_threadpool(lambda: drafts.import_draft_zip(
            repo=state.repo, settings=state.settings, by=admin, draft_id=draft_id,
            zip_path=saved))
    except ShiftError as exc:
        return _draft(request, admin, state, draft_id, error=failure(exc).replace(
            str(tmp_dir), "upload"), status_code=422)
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    return redirect(f"/admin/studio/{draft_id}", flash=("ok", tr(request).gettext(
        "The uploaded source replaced the draft.")))


@router.post("/{draft_id}/build", response_class=HTMLResponse)
async def build(request: Request, draft_id: str, admin: StudioMemberDep, form: CsrfForm,
                state: StateDep) -> Response:
    try:
        pack = await run_in_threadpool(lambda: drafts.build_draft(
            repo=state.repo, settings=state.settings, keyring=state.keyring,
            blobs=state.blobs, by=admin, draft_id=draft_id))
    except PackSourceError as exc:
        return _draft(request, admin, state, draft_id, problems=problems_of(exc),
                      error=tr(request).gettext(
                          "The draft has errors and was not built: fix them first."),
                      status_code=422)
    except ShiftError as exc:
        return _draft(request, admin, state, draft_id, error=failure(exc), status_code=422)
    log(logger, logging.INFO, "studio build", admin=admin.name, draft=draft_id,
        pack=pack.pack_id, version=pack.version)
    return redirect(f"/admin/packs#pack-{pack.pack_id}-{pack.version}", flash=(
        "ok", tr(request).gettext("Built %(pack)s version %(version)s, signed with the server key and "
                                  "verified. Publish it below to make it reach devices.",
                                  pack=pack.pack_id, version=pack.version)))


@router.get("/{draft_id}/media/{path:path}")
def media(draft_id: str, path: str, admin: StudioMemberDep, state: StateDep) -> Response:
    """An image of the draft for the lesson preview (only media files of the draft)."""
    found = studio.media_file(repo=state.repo, settings=state.settings, draft_id=draft_id,
                              path=path)
    suffix = found.suffix.lower()
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
            ".gif": "image/gif", ".webp": "image/webp"}.get(suffix, "application/octet-stream")
    return FileResponse(found, media_type=kind, headers={"X-Content-Type-Options": "nosniff"})


@router.post("/{draft_id}/delete")
async def delete(request: Request, draft_id: str, admin: StudioMemberDep, form: CsrfForm,
                 state: StateDep) -> Response:
    try:
        drafts.delete_draft(repo=state.repo, settings=state.settings, by=admin,
                            draft_id=draft_id)
    except ShiftError as exc:
        return redirect(f"/admin/studio/{draft_id}", flash=("error", failure(exc)))
    return redirect("/admin/studio", flash=("ok", tr(request).gettext(
        "Draft deleted (versions built from it stay on the Packs page).")))
