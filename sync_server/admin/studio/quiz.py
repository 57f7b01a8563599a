"""Studio pages: the quiz editor (quiz.toml) and the DACUM profile editor
(profiles/<id>.toml). Both are one form per file; a save answers with the draft's
checks, shown next to the question, option, duty or task they concern."""

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
from sync_server.authoring.editors.profile import profile_form
from sync_server.authoring.editors.quiz import TYPES, quiz_form
from sync_server.services import studio

router = APIRouter(prefix="/admin/studio", include_in_schema=False)


def _quiz(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
          course_id: str, *, report: Report | None = None, error: str = "", note: str = "",
          status_code: int = 200) -> HTMLResponse:
    src = studio.source(repo=state.repo, settings=state.settings, draft_id=draft_id)
    view = studio.overview(repo=state.repo, settings=state.settings, draft_id=draft_id)
    report = report or studio.check(repo=state.repo, settings=state.settings,
                                    draft_id=draft_id)
    return page(request, "studio_quiz.html", admin=admin, title=tr(request).gettext("Quiz: %(course)s", course=course_id),
                report=report, error=error, note=note, status_code=status_code,
                course_id=course_id, quiz=quiz_form(src, course_id), types=TYPES,
                outcomes=[o["id"] for o in course_form(src, course_id)["outcomes"]],
                path=f"courses/{course_id}/quiz.toml", **view)


@router.get("/{draft_id}/courses/{course_id}/quiz", response_class=HTMLResponse)
def quiz_page(request: Request, draft_id: str, course_id: str, admin: StudioMemberDep,
              state: StateDep) -> HTMLResponse:
    return _quiz(request, admin, state, draft_id, course_id)


@router.post("/{draft_id}/courses/{course_id}/quiz", response_class=HTMLResponse)
async def save_quiz(request: Request, draft_id: str, course_id: str, admin: StudioMemberDep,
                    form: CsrfForm, state: StateDep) -> Response:
    try:
        report = studio.save_quiz(repo=state.repo, settings=state.settings, by=admin,
                                  draft_id=draft_id, course_id=course_id, form=plain_form(form))
    except ShiftError as exc:
        return _quiz(request, admin, state, draft_id, course_id, error=failure(exc),
                     status_code=422)
    return _quiz(request, admin, state, draft_id, course_id, report=report, note=tr(request).gettext("Saved."))


# ----------------------------------------------------------------------- DACUM profiles

@router.post("/{draft_id}/profiles")
async def add_profile(request: Request, draft_id: str, admin: StudioMemberDep, form: CsrfForm,
                      state: StateDep) -> Response:
    try:
        pid = studio.add_profile(repo=state.repo, settings=state.settings, by=admin,
                                 draft_id=draft_id, profile_id=form_text(form, "profile_id"),
                                 title=form_text(form, "title"))
    except ShiftError as exc:
        return redirect(f"/admin/studio/{draft_id}", flash=("error", failure(exc)))
    return redirect(f"/admin/studio/{draft_id}/profiles/{pid}", flash=(
        "ok", tr(request).gettext("Profile %(profile)s added with a two-level scale and one duty.",
                                  profile=pid)))


def _profile(request: Request, admin: StudioMemberDep, state: StateDep, draft_id: str,
             profile_id: str, *, report: Report | None = None, error: str = "",
             note: str = "", status_code: int = 200) -> HTMLResponse:
    src = studio.source(repo=state.repo, settings=state.settings, draft_id=draft_id)
    view = studio.overview(repo=state.repo, settings=state.settings, draft_id=draft_id)
    report = report or studio.check(repo=state.repo, settings=state.settings,
                                    draft_id=draft_id)
    return page(request, "studio_profile.html", admin=admin, title=tr(request).gettext("Profile %(profile)s", profile=profile_id),
                report=report, error=error, note=note, status_code=status_code,
                profile_id=profile_id, profile=profile_form(src, profile_id),
                path=f"profiles/{profile_id}.toml", all_roles=ROLES, **view)


@router.get("/{draft_id}/profiles/{profile_id}", response_class=HTMLResponse)
def profile_page(request: Request, draft_id: str, profile_id: str, admin: StudioMemberDep,
                 state: StateDep) -> HTMLResponse:
    return _profile(request, admin, state, draft_id, profile_id)


@router.post("/{draft_id}/profiles/{profile_id}", response_class=HTMLResponse)
async def save_profile(request: Request, draft_id: str, profile_id: str,
                       admin: StudioMemberDep, form: CsrfForm, state: StateDep) -> Response:
    try:
        report = studio.save_profile(repo=state.repo, settings=state.settings, by=admin,
                                     draft_id=draft_id, profile_id=profile_id,
                                     form=plain_form(form), roles=texts(form, "roles"))
    except ShiftError as exc:
        return _profile(request, admin, state, draft_id, profile_id, error=failure(exc),
                        status_code=422)
    return _profile(request, admin, state, draft_id, profile_id, report=report, note=tr(request).gettext("Saved."))
