"""Studio pages: add a course, the course editor (course.toml), add a lesson."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.core.errors import ShiftError
from app.core.roles import ROLES
from sync_server.admin.console import CsrfForm, StudioMemberDep, form_text, redirect
from sync_server.admin.i18n import tr
from sync_server.admin.studio.common import failure, page, plain_form, texts
from sync_server.api.deps import StateDep
from sync_server.authoring.checks import Report
from sync_server.authoring.editors.course import course_form
from sync_server.services import studio

router = APIRouter(prefix="/admin/studio", include_in_schema=False)


@router.post("/{draft_id}/courses")
async def add_course(request: Request, draft_id: str, admin: StudioMemberDep, form: CsrfForm,
                     state: StateDep) -> Response:
    try:
        cid = studio.add_course(repo=state.repo, settings=state.settings, by=admin,
                                draft_id=draft_id, course_id=form_text(form, "course_id"),
                                title=form_text(form, "title"))
    except ShiftError as exc:
        return redirect(f"/admin/studio/{draft_id}", flash=("error", failure(exc)))
    return redirect(f"/admin/studio/{draft_id}/courses/{cid}", flash=(
        "ok", tr(request).gettext("Course %(course)s added with a first lesson and an empty quiz.",
                                  course=cid)))


def _page(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
          course_id: str, *, report: Report | None = None, error: str = "",
          status_code: int = 200) -> HTMLResponse:
    view = studio.overview(repo=state.repo, settings=state.settings, draft_id=draft_id)
    src = studio.source(repo=state.repo, settings=state.settings, draft_id=draft_id)
    report = report or studio.check(repo=state.repo, settings=state.settings,
                                    draft_id=draft_id)
    return page(request, "studio_course.html", admin=admin, title=tr(request).gettext("Course %(course)s", course=course_id),
                report=report, error=error, status_code=status_code, course_id=course_id,
                course=course_form(src, course_id), path=f"courses/{course_id}/course.toml",
                all_roles=ROLES, **view)


@router.get("/{draft_id}/courses/{course_id}", response_class=HTMLResponse)
def course_page(request: Request, draft_id: str, course_id: str, admin: StudioMemberDep,
                state: StateDep) -> HTMLResponse:
    return _page(request, admin, state, draft_id, course_id)


@router.post("/{draft_id}/courses/{course_id}", response_class=HTMLResponse)
async def save_course(request: Request, draft_id: str, course_id: str, admin: StudioMemberDep,
                      form: CsrfForm, state: StateDep) -> Response:
    try:
        report = studio.save_course(repo=state.repo, settings=state.settings, by=admin,
                                    draft_id=draft_id, course_id=course_id,
                                    form=plain_form(form), roles=texts(form, "roles"))
    except ShiftError as exc:
        return _page(request, admin, state, draft_id, course_id, error=failure(exc),
                     status_code=422)
    return _page(request, admin, state, draft_id, course_id, report=report)


@router.post("/{draft_id}/courses/{course_id}/lessons")
async def add_lesson(request: Request, draft_id: str, course_id: str, admin: StudioMemberDep, form: CsrfForm,
                     state: StateDep) -> Response:
    try:
        stem = studio.add_lesson(repo=state.repo, settings=state.settings, by=admin,
                                 draft_id=draft_id, course_id=course_id,
                                 lesson=form_text(form, "lesson"), title=form_text(form, "title"))
    except ShiftError as exc:
        return redirect(f"/admin/studio/{draft_id}/courses/{course_id}",
                        flash=("error", failure(exc)))
    lang = studio.overview(repo=state.repo, settings=state.settings,
                           draft_id=draft_id)["default_language"]
    return redirect(f"/admin/studio/{draft_id}/courses/{course_id}/lessons/{stem}/{lang}",
                    flash=("ok", tr(request).gettext("Lesson %(lesson)s added in every language.",
                                                      lesson=stem)))
