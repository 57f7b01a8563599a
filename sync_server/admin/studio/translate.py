"""Studio page: the translation workspace of a draft (docs/authoring.md "Translation
workspace"). Source and target side by side, string by string, with status; filter by
status; save a string; mark reviewed (the service refuses anyone but a reviewer or a full
admin); progress per language; XLIFF / PO export and import. Every action is a call of
services/translations.py, which checks the role and writes the audit log."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from app.core.errors import ShiftError
from sync_server.admin.console import CsrfForm, StudioMemberDep, form_text, redirect, render
from sync_server.admin.i18n import tr
from sync_server.admin.studio.common import failure, page
from sync_server.api.deps import StateDep
from sync_server.errors import ForbiddenError, NotFoundError
from sync_server.services import drafts, roles, translations

router = APIRouter(prefix="/admin/studio", include_in_schema=False)
PAGE_SIZE = 60
MAX_IMPORT = 8 * 1024 * 1024


def _back(draft_id: str, lang: str, status: str = "", page_no: int = 1, anchor: str = "") -> str:
    query = urlencode({k: v for k, v in (("lang", lang), ("status", status),
                                         ("page", page_no if page_no > 1 else "")) if v})
    return f"/admin/studio/{draft_id}/translate?{query}" + (f"#{anchor}" if anchor else "")


@router.get("/{draft_id}/translate", response_class=HTMLResponse)
def workspace(request: Request, draft_id: str, admin: StudioMemberDep, state: StateDep,
              lang: str = "", status: str = "", page: int = 1) -> HTMLResponse:
    try:
        return _page(request, admin, state, draft_id, lang, status, page)
    except NotFoundError:
        raise
    except ShiftError as exc:      # e.g. a pack.toml the workspace cannot read
        return render(request, "message.html", admin=admin, nav="studio", status_code=422,
                      title=tr(request).gettext("The translation workspace cannot open this draft"),
                      message=failure(exc), back=f"/admin/studio/{draft_id}")


def _page(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
          lang: str, status: str, page_no: int, *, error: str = "", report: object = None,
          status_code: int = 200) -> HTMLResponse:
    draft = drafts.get_draft(repo=state.repo, draft_id=draft_id)
    wv = translations.view(repo=state.repo, settings=state.settings, draft_id=draft_id,
                           lang=lang, status=status)
    pages = max(1, -(-len(wv.entries) // PAGE_SIZE))
    page_no = min(max(1, page_no), pages)
    first = (page_no - 1) * PAGE_SIZE
    rows = list(enumerate(wv.entries[first:first + PAGE_SIZE], start=first))
    return page(request, "studio_translate.html", admin=admin,
                title=tr(request).gettext("Translate %(pack)s (%(lang)s)", pack=wv.pack_id, lang=wv.lang), draft=draft, view=wv, rows=rows,
                page_no=page_no, pages=pages, status=status, error=error,
                import_report=report, status_code=status_code,
                can_translate=roles.has_role(admin, roles.AUTHOR)
                or roles.has_role(admin, roles.REVIEWER),
                can_review=roles.has_role(admin, roles.REVIEWER),
                statuses=["untranslated", "machine", "draft", "needs-review", "reviewed"],
                back=lambda **kw: _back(draft_id, wv.lang, **kw))


def _refused(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
             lang: str, exc: ShiftError, status: str = "", page_no: int = 1) -> HTMLResponse:
    code = 403 if isinstance(exc, ForbiddenError) else 422
    try:
        return _page(request, admin, state, draft_id, lang, status, page_no,
                     error=failure(exc), status_code=code)
    except ShiftError:            # the page itself cannot be shown (an unknown language)
        return render(request, "message.html", admin=admin, nav="studio", status_code=code,
                      title=tr(request).gettext("Not saved"), message=failure(exc),
                      back=f"/admin/studio/{draft_id}/translate")


def _where(form: CsrfForm) -> tuple[str, int]:
    page_no = form_text(form, "page")
    return form_text(form, "status"), int(page_no) if page_no.isdigit() else 1


@router.post("/{draft_id}/translate/{lang}/save", response_class=HTMLResponse)
async def save_string(request: Request, draft_id: str, lang: str, admin: StudioMemberDep,
                      form: CsrfForm, state: StateDep) -> Response:
    status, page_no = _where(form)
    string_id, anchor = form_text(form, "id"), form_text(form, "anchor")
    text = str(form.get("text") or "")
    try:
        translations.save_string(repo=state.repo, settings=state.settings, by=admin,
                                 draft_id=draft_id, lang=lang, string_id=string_id, text=text,
                                 machine=form_text(form, "machine") == "1")
        if form_text(form, "review") == "1":
            translations.mark_reviewed(repo=state.repo, settings=state.settings, by=admin,
                                       draft_id=draft_id, lang=lang, string_ids=[string_id])
    except ShiftError as exc:
        return _refused(request, admin, state, draft_id, lang, exc, status, page_no)
    return redirect(_back(draft_id, lang, status, page_no, anchor),
                    flash=("ok", tr(request).gettext("Saved %(id)s.", id=string_id)))


@router.post("/{draft_id}/translate/{lang}/review", response_class=HTMLResponse)
async def review(request: Request, draft_id: str, lang: str, admin: StudioMemberDep,
                 form: CsrfForm, state: StateDep) -> Response:
    """Mark the listed strings reviewed (the "mark every string shown" button)."""
    status, page_no = _where(form)
    ids = [str(v) for v in form.getlist("id") if isinstance(v, str)][:PAGE_SIZE]
    try:
        items = translations.mark_reviewed(repo=state.repo, settings=state.settings, by=admin,
                                           draft_id=draft_id, lang=lang, string_ids=ids)
    except ShiftError as exc:
        return _refused(request, admin, state, draft_id, lang, exc, status, page_no)
    whole = all(e.status.value == "reviewed" for e in items)
    return redirect(_back(draft_id, lang, status, page_no), flash=(
        "ok", tr(request).gettext("%(n)s string(s) marked reviewed.", n=len(ids)) + (
            " " + tr(request).gettext(
                "Every string of %(lang)s is reviewed: the pack records the review and no "
                "longer flags the language as machine-translated.", lang=lang) if whole else "")))


@router.get("/{draft_id}/translate/{lang}/export.{fmt}")
def export(draft_id: str, lang: str, fmt: str, admin: StudioMemberDep,
           state: StateDep) -> Response:
    name, data = translations.export_language(repo=state.repo, settings=state.settings,
                                              by=admin, draft_id=draft_id, lang=lang, fmt=fmt)
    kind = "application/xliff+xml" if fmt == "xliff" else "text/x-gettext-translation"
    return Response(data, media_type=kind, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.post("/{draft_id}/translate/{lang}/import", response_class=HTMLResponse)
async def import_file(request: Request, draft_id: str, lang: str, admin: StudioMemberDep,
                      form: CsrfForm, state: StateDep) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return redirect(_back(draft_id, lang), flash=("error", tr(request).gettext(
            "Choose an XLIFF or PO file.")))
    data = await upload.read(MAX_IMPORT + 1)
    name = (upload.filename or "").lower()
    fmt = form_text(form, "format") or ("po" if name.endswith((".po", ".pot")) else "xliff")
    try:
        report = translations.import_language(repo=state.repo, settings=state.settings,
                                              by=admin, draft_id=draft_id, lang=lang, fmt=fmt,
                                              data=data)
    except ShiftError as exc:
        return _refused(request, admin, state, draft_id, lang, exc)
    return _page(request, admin, state, draft_id, lang, "", 1, report=report)
