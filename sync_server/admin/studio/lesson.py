"""Studio pages: the lesson editor (one Markdown file per language) with its live preview
at tablet widths, and image upload with alt text.

The preview is rendered on the server by the app's lesson pipeline
(sync_server/authoring/preview.py). Without JavaScript the "Preview" button posts the
text and the page comes back with it rendered (nothing saved); with studio.js the
preview follows the typing (a form post of the text to ``…/preview``, answered with the
rendered HTML fragment — same origin, no network beyond this server)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from app.core.errors import ShiftError
from sync_server.admin.console import CsrfForm, StudioMemberDep, redirect, render
from sync_server.admin.i18n import tr
from sync_server.admin.studio.common import failure, page
from sync_server.api.deps import StateDep
from sync_server.authoring.checks import Report
from sync_server.authoring.editors.lesson import MAX_IMAGE_BYTES, read_lesson
from sync_server.authoring.preview import MAX_PREVIEW_CHARS
from sync_server.services import studio

router = APIRouter(prefix="/admin/studio", include_in_schema=False)
ROUTE = "/{draft_id}/courses/{course_id}/lessons/{lesson}/{lang}"
BASE = "/admin/studio" + ROUTE


def _page(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
          course_id: str, lesson: str, lang: str, *, text: str | None = None,
          report: Report | None = None, error: str = "", note: str = "",
          status_code: int = 200) -> HTMLResponse:
    src = studio.source(repo=state.repo, settings=state.settings, draft_id=draft_id)
    if text is None:
        text = read_lesson(src, course_id, lesson, lang)
    preview = studio.preview(repo=state.repo, settings=state.settings, draft_id=draft_id,
                             course_id=course_id, lesson=lesson, lang=lang, markdown=text)
    report = report or studio.check(repo=state.repo, settings=state.settings,
                                    draft_id=draft_id)
    view = studio.overview(repo=state.repo, settings=state.settings, draft_id=draft_id)
    return page(request, "studio_lesson.html", admin=admin, title=tr(request).gettext("Lesson %(lesson)s", lesson=lesson) + f" ({lang})",
                report=report, error=error, note=note, status_code=status_code,
                course_id=course_id, lesson=lesson, lang=lang, text=text, preview=preview,
                path=f"courses/{course_id}/{lesson}.{lang}.md",
                action=BASE.format(draft_id=draft_id, course_id=course_id, lesson=lesson,
                                   lang=lang),
                max_image_mib=MAX_IMAGE_BYTES // (1024 * 1024), **view)


@router.get(ROUTE, response_class=HTMLResponse)
def lesson_page(request: Request, draft_id: str, course_id: str, lesson: str, lang: str,
                admin: StudioMemberDep, state: StateDep) -> HTMLResponse:
    return _page(request, admin, state, draft_id, course_id, lesson, lang)


@router.post(ROUTE, response_class=HTMLResponse)
async def save_lesson(request: Request, draft_id: str, course_id: str, lesson: str, lang: str,
                      admin: StudioMemberDep, form: CsrfForm, state: StateDep) -> Response:
    text = str(form.get("markdown") or "")
    if form.get("preview_only"):
        return _page(request, admin, state, draft_id, course_id, lesson, lang, text=text,
                     note=tr(request).gettext("Preview of the text below — not saved yet."))
    try:
        report = studio.save_lesson(repo=state.repo, settings=state.settings, by=admin,
                                    draft_id=draft_id, course_id=course_id, lesson=lesson,
                                    lang=lang, markdown=text)
    except ShiftError as exc:
        return _page(request, admin, state, draft_id, course_id, lesson, lang, text=text,
                     error=failure(exc), status_code=422)
    return _page(request, admin, state, draft_id, course_id, lesson, lang, report=report,
                 note=tr(request).gettext("Saved."))


@router.post(ROUTE + "/preview", response_class=HTMLResponse)
async def preview(request: Request, draft_id: str, course_id: str, lesson: str, lang: str,
                  admin: StudioMemberDep, form: CsrfForm, state: StateDep) -> HTMLResponse:
    """The rendered preview only (studio.js swaps it in as the author types)."""
    text = str(form.get("markdown") or "")[:MAX_PREVIEW_CHARS + 1]
    shown = studio.preview(repo=state.repo, settings=state.settings, draft_id=draft_id,
                           course_id=course_id, lesson=lesson, lang=lang, markdown=text)
    return render(request, "studio_preview.html", admin=admin, preview=shown)


@router.post(ROUTE + "/image", response_class=HTMLResponse)
async def upload_image(request: Request, draft_id: str, course_id: str, lesson: str,
                       lang: str, admin: StudioMemberDep, form: CsrfForm,
                       state: StateDep) -> Response:
    """Store an image (alt text required, bounded size and type) and add it to the end of
    the lesson as its own paragraph; the text being edited is kept."""
    upload = form.get("image")
    text = str(form.get("markdown") or "")
    try:
        if not isinstance(upload, UploadFile):
            raise ShiftError("image: choose a file")
        data = await upload.read(MAX_IMAGE_BYTES + 1)
        line = studio.add_image(repo=state.repo, settings=state.settings, by=admin,
                                draft_id=draft_id, course_id=course_id,
                                filename=upload.filename or "image", data=data,
                                alt=str(form.get("alt") or ""))
        if not text.strip():
            src = studio.source(repo=state.repo, settings=state.settings, draft_id=draft_id)
            text = read_lesson(src, course_id, lesson, lang)
        text = text.rstrip("\n") + "\n\n" + line + "\n"
        report = studio.save_lesson(repo=state.repo, settings=state.settings, by=admin,
                                    draft_id=draft_id, course_id=course_id, lesson=lesson,
                                    lang=lang, markdown=text)
    except ShiftError as exc:
        return _page(request, admin, state, draft_id, course_id, lesson, lang,
                     text=text or None, error=failure(exc), status_code=422)
    return _page(request, admin, state, draft_id, course_id, lesson, lang, report=report,
                 note=tr(request).gettext("Image added at the end of the lesson: %(line)s",
                                           line=line))


@router.get("/{draft_id}/courses/{course_id}/lessons/{lesson}")
def lesson_default(draft_id: str, course_id: str, lesson: str, admin: StudioMemberDep,
                   state: StateDep) -> Response:
    lang = studio.overview(repo=state.repo, settings=state.settings,
                           draft_id=draft_id)["default_language"]
    return redirect(BASE.format(draft_id=draft_id, course_id=course_id, lesson=lesson,
                                lang=lang))
