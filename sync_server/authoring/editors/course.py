"""The course editor: pack.toml's course list and a course's course.toml (title,
summary, audience roles, level and workload, minutes, pass mark, learning outcomes,
lesson order). Tasks, skills and ESCO entries are kept as written (edited in the zipped
source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync_server.authoring.drafts import read_toml, write_text
from sync_server.authoring.editors.common import (
    Form,
    check_id,
    course_dir,
    langs_of,
    loc_value,
    localized,
    number,
    save_toml,
    text,
)
from sync_server.errors import AlreadyExistsError

FIRST_LESSON = "01-introduction"


def courses(src: Path) -> list[dict[str, Any]]:
    """The draft's courses in pack order: id and title (default language)."""
    pack = read_toml(src / "pack.toml")
    langs = langs_of(src)
    out = []
    for cid in pack.get("courses", []):
        path = src / "courses" / str(cid) / "course.toml"
        title = loc_value(read_toml(path), "title") if path.is_file() else {}
        out.append({"id": cid, "title": title.get(langs.default, cid)})
    return out


def add_course(src: Path, course: str, title: str) -> str:
    """A new course: course.toml (title in every language, to be translated), a first
    lesson in every language and an empty quiz (the checks then say what is missing)."""
    cid = check_id(course, "course id")
    langs = langs_of(src)
    pack = read_toml(src / "pack.toml")
    listed = [c for c in pack.get("courses", []) if isinstance(c, str)]
    if cid in listed or (src / "courses" / cid).exists():
        raise AlreadyExistsError(f"course {cid!r} exists already")
    title = title.strip() or cid
    folder = src / "courses" / cid
    save_toml(folder / "course.toml", {
        "title": {lang: title for lang in langs.all},
        "summary": {lang: title for lang in langs.all},
        "minutes": 30, "pass_mark": 70, "lessons": [FIRST_LESSON]})
    for lang in langs.all:
        write_text(folder / f"{FIRST_LESSON}.{lang}.md", f"# {title}\n\nWrite the first card "
                   "here.\n")
    save_toml(folder / "quiz.toml", {"max_attempts": 0, "draw": 0, "shuffle_questions": True,
                                     "shuffle_options": True})
    pack["courses"] = [*listed, cid]
    save_toml(src / "pack.toml", pack)
    return cid


def course_form(src: Path, course: str) -> dict[str, Any]:
    doc = read_toml(course_dir(src, course) / "course.toml")
    recognition = doc.get("recognition") if isinstance(doc.get("recognition"), dict) else {}
    assert isinstance(recognition, dict)
    outcomes = doc.get("outcomes") if isinstance(doc.get("outcomes"), dict) else {}
    assert isinstance(outcomes, dict)
    return {"title": loc_value(doc, "title"), "summary": loc_value(doc, "summary"),
            "roles": list(doc.get("roles", [])), "roles_set": "roles" in doc,
            "minutes": doc.get("minutes", ""), "pass_mark": doc.get("pass_mark", ""),
            "eqf_level": recognition.get("eqf_level", ""),
            "workload_hours": recognition.get("workload_hours", ""),
            "lessons": list(doc.get("lessons", [])),
            "outcomes": [{"id": k, "text": {lang: str(t) for lang, t in v.items()}}
                         for k, v in outcomes.items() if isinstance(v, dict)]}


def save_course(src: Path, course: str, form: Form, roles: list[str]) -> None:
    """Write the posted course form into course.toml (other fields kept)."""
    path = course_dir(src, course) / "course.toml"
    doc = read_toml(path)
    langs = langs_of(src)
    doc["title"] = localized(form, "title", langs)
    doc["summary"] = localized(form, "summary", langs)
    if roles:
        doc["roles"] = roles
    else:
        doc.pop("roles", None)          # the pack's audience
    doc["minutes"] = number(form, "minutes")
    doc["pass_mark"] = number(form, "pass_mark")
    order = [x.strip() for x in text(form, "lessons").split(",") if x.strip()]
    if order:
        doc["lessons"] = order
    recognition = dict(doc.get("recognition") or {})
    for key in ("eqf_level", "workload_hours"):
        value = number(form, key)
        if value == "":
            recognition.pop(key, None)
        else:
            recognition[key] = value
    if recognition:
        doc["recognition"] = recognition
    else:
        doc.pop("recognition", None)
    outcomes: dict[str, Any] = {}
    for i in range(int(form.get("outcome_count", "0") or 0) if
                   str(form.get("outcome_count", "0")).isdigit() else 0):
        oid = text(form, f"outcome{i}.id")
        if not oid or form.get(f"outcome{i}.delete"):
            continue
        outcomes[oid] = localized(form, f"outcome{i}.text", langs)
    new_id = text(form, "new_outcome.id")
    if new_id:
        outcomes[new_id] = localized(form, "new_outcome.text", langs)
    if outcomes:
        doc["outcomes"] = outcomes
    else:
        doc.pop("outcomes", None)
    save_toml(path, _ordered(doc))


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order of docs/pack-format.md, unknown ones after (stable files)."""
    order = ["title", "summary", "roles", "skills", "minutes", "pass_mark", "lessons",
             "outcomes", "certificate", "recognition", "tasks"]
    return {**{k: doc[k] for k in order if k in doc},
            **{k: v for k, v in doc.items() if k not in order}}
