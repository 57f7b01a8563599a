"""The studio's editors as services (issue 20): every save checks the author role, writes
the draft's source file through its editor (sync_server/authoring/editors/), records the
change in the audit log and answers with the checks of the whole draft (builder errors
and quiz quality warnings), which the console shows next to the fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync_server.authoring.checks import Report, check_source
from sync_server.authoring.editors import course as course_editor
from sync_server.authoring.editors import lesson as lesson_editor
from sync_server.authoring.editors import profile as profile_editor
from sync_server.authoring.editors import quiz as quiz_editor
from sync_server.authoring.editors.common import Form, langs_of
from sync_server.authoring.preview import Preview, render_lesson
from sync_server.db.repository import Admin, Repository
from sync_server.services import drafts
from sync_server.settings import Settings


def _src(repo: Repository, settings: Settings, by: Admin, draft_id: str) -> Path:
    drafts.require_author(repo=repo, by=by, draft_id=draft_id)
    return drafts.draft_source_dir(settings=settings, draft_id=draft_id)


def source(*, repo: Repository, settings: Settings, draft_id: str) -> Path:
    """The folder of an existing draft (reading needs no role beyond a console login)."""
    return drafts.draft_source_dir(settings=settings, draft_id=draft_id, repo=repo)


def check(*, repo: Repository, settings: Settings, draft_id: str) -> Report:
    return check_source(source(repo=repo, settings=settings, draft_id=draft_id))


def overview(*, repo: Repository, settings: Settings, draft_id: str) -> dict[str, Any]:
    src = source(repo=repo, settings=settings, draft_id=draft_id)
    langs = langs_of(src)
    courses = course_editor.courses(src)
    for c in courses:
        c["lessons"] = course_editor.course_form(src, c["id"])["lessons"]
    return {"draft": drafts.get_draft(repo=repo, draft_id=draft_id), "courses": courses,
            "languages": langs.all, "default_language": langs.default,
            "profiles": profile_editor.profiles(src)}


def add_course(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
               course_id: str, title: str) -> str:
    cid = course_editor.add_course(_src(repo, settings, by, draft_id), course_id, title)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"course {cid} added")
    return cid


def save_course(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                course_id: str, form: Form, roles: list[str]) -> Report:
    src = _src(repo, settings, by, draft_id)
    course_editor.save_course(src, course_id, form, roles)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"course {course_id}")
    return check_source(src)


def add_lesson(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
               course_id: str, lesson: str, title: str) -> str:
    stem = lesson_editor.add_lesson(_src(repo, settings, by, draft_id), course_id, lesson,
                                    title)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"lesson {course_id}/{stem} added")
    return stem


def save_lesson(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                course_id: str, lesson: str, lang: str, markdown: str) -> Report:
    src = _src(repo, settings, by, draft_id)
    lesson_editor.save_lesson(src, course_id, lesson, lang, markdown)
    drafts.saved(repo=repo, by=by, draft_id=draft_id,
                 what=f"lesson {course_id}/{lesson}.{lang}")
    return check_source(src)


def add_image(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
              course_id: str, filename: str, data: bytes, alt: str) -> str:
    """Store an image (alt text required); the Markdown line that shows it."""
    line = lesson_editor.add_image(_src(repo, settings, by, draft_id), course_id, filename,
                                   data, alt)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"image in {course_id}")
    return line


def preview(*, repo: Repository, settings: Settings, draft_id: str, course_id: str,
            lesson: str, lang: str, markdown: str) -> Preview:
    """The lesson text (as typed, not yet saved) as the tablet would show it."""
    src = source(repo=repo, settings=settings, draft_id=draft_id)
    lesson_editor.lesson_path(src, course_id, lesson, lang)     # known course/lesson/lang
    return render_lesson(markdown, course=course_id, lesson=lesson, lang=lang,
                         media_lookup=lesson_editor.media_lookup(src, course_id),
                         media_url=lambda path: f"/admin/studio/{draft_id}/media/{path}")


def media_file(*, repo: Repository, settings: Settings, draft_id: str, path: str) -> Path:
    return lesson_editor.media_file(source(repo=repo, settings=settings, draft_id=draft_id),
                                    path)


def save_quiz(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
              course_id: str, form: Form) -> Report:
    src = _src(repo, settings, by, draft_id)
    quiz_editor.save_quiz(src, course_id, form)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"quiz {course_id}")
    return check_source(src)


def add_profile(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                profile_id: str, title: str) -> str:
    pid = profile_editor.add_profile(_src(repo, settings, by, draft_id), profile_id, title)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"profile {pid} added")
    return pid


def save_profile(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                 profile_id: str, form: Form, roles: list[str]) -> Report:
    src = _src(repo, settings, by, draft_id)
    profile_editor.save_profile(src, profile_id, form, roles)
    drafts.saved(repo=repo, by=by, draft_id=draft_id, what=f"profile {profile_id}")
    return check_source(src)
