"""The quiz editor: a course's quiz.toml — bank settings (attempts, draw, shuffling) and
questions of the types single, multiple and true_false with their options, correct
marks, per-option feedback, explanation and outcome tag. Scenario questions are shown
and kept as written (their parts are edited in the zipped source).

Form names follow the file: ``q<i>.prompt.<lang>``, ``q<i>.o<j>.text.<lang>`` …, so a
builder error at ``questions[i].options[j].text.lt`` lands next to that field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync_server.authoring.drafts import read_toml
from sync_server.authoring.editors.common import (
    Form,
    Langs,
    course_dir,
    flag,
    langs_of,
    localized,
    number,
    save_toml,
    text,
)
from sync_server.errors import ServerError

TYPES = ("single", "multiple", "true_false")
MAX_QUESTIONS = 200
MAX_OPTIONS = 8


def quiz_form(src: Path, course: str) -> dict[str, Any]:
    """The quiz as the form shows it (every question with its index in the file)."""
    doc = read_toml(course_dir(src, course) / "quiz.toml")
    questions = [q for q in doc.get("questions", []) if isinstance(q, dict)]
    return {"max_attempts": doc.get("max_attempts", 0), "draw": doc.get("draw", 0),
            "shuffle_questions": doc.get("shuffle_questions", True),
            "shuffle_options": doc.get("shuffle_options", True), "questions": questions}


def _count(form: Form, name: str, limit: int) -> int:
    raw = str(form.get(name, "0"))
    value = int(raw) if raw.isdigit() else 0
    if value > limit:
        raise ServerError(f"{name}: at most {limit}")
    return value


def _optional(out: dict[str, Any], key: str, value: dict[str, str]) -> None:
    if value:
        out[key] = value
    else:
        out.pop(key, None)


def _question(form: Form, i: int, old: dict[str, Any], langs: Langs) -> dict[str, Any] | None:
    p = f"q{i}"
    if flag(form, f"{p}.delete"):
        return None
    if old.get("type") == "scenario":
        return old                       # kept as written
    qtype = text(form, f"{p}.type")
    q: dict[str, Any] = {"id": text(form, f"{p}.id"), "type": qtype}
    outcome = text(form, f"{p}.outcome")
    if outcome:
        q["outcome"] = outcome
    q["prompt"] = localized(form, f"{p}.prompt", langs)
    _optional(q, "explanation", localized(form, f"{p}.explanation", langs))
    if qtype == "true_false":
        q["answer"] = text(form, f"{p}.answer") == "true"
        for name in ("feedback_true", "feedback_false"):
            _optional(q, name, localized(form, f"{p}.{name}", langs))
        return q
    options = []
    for j in range(_count(form, f"{p}.option_count", MAX_OPTIONS)):
        o = f"{p}.o{j}"
        if flag(form, f"{o}.delete"):
            continue
        option: dict[str, Any] = {"id": text(form, f"{o}.id"),
                                  "correct": flag(form, f"{o}.correct"),
                                  "text": localized(form, f"{o}.text", langs)}
        _optional(option, "feedback", localized(form, f"{o}.feedback", langs))
        options.append(option)
    if flag(form, f"{p}.add_option") and len(options) < MAX_OPTIONS:
        options.append(_blank_option(options, langs))
    q["options"] = options
    return q


def _blank_option(options: list[dict[str, Any]], langs: Langs) -> dict[str, Any]:
    used = {o.get("id") for o in options}
    oid = next(c for c in "abcdefghijklmnop" if c not in used)
    return {"id": oid, "correct": False, "text": {}}


def blank_question(qtype: str, taken: set[str], langs: Langs) -> dict[str, Any]:
    """A new question to fill in: a free id, and for choice types four empty options."""
    if qtype not in TYPES:
        raise ServerError(f"question type {qtype[:20]!r}: one of {', '.join(TYPES)}")
    n = len(taken) + 1
    while f"q{n}" in taken:
        n += 1
    q: dict[str, Any] = {"id": f"q{n}", "type": qtype, "prompt": {}}
    if qtype == "true_false":
        q["answer"] = True
    else:
        q["options"] = []
        for _ in range(4):
            q["options"].append(_blank_option(q["options"], langs))
    return q


def save_quiz(src: Path, course: str, form: Form) -> None:
    """Write the posted quiz form into quiz.toml (a question added with ``add_question``
    = its type; one removed with ``q<i>.delete``)."""
    path = course_dir(src, course) / "quiz.toml"
    doc = read_toml(path)
    langs = langs_of(src)
    old = [q for q in doc.get("questions", []) if isinstance(q, dict)]
    questions = []
    for i in range(_count(form, "question_count", MAX_QUESTIONS)):
        q = _question(form, i, old[i] if i < len(old) else {}, langs)
        if q is not None:
            questions.append(q)
    added = text(form, "add_question")
    if added:
        if len(questions) >= MAX_QUESTIONS:
            raise ServerError(f"a quiz holds at most {MAX_QUESTIONS} questions")
        questions.append(blank_question(added, {str(q.get("id")) for q in questions}, langs))
    out: dict[str, Any] = {"max_attempts": number(form, "max_attempts"),
                           "draw": number(form, "draw"),
                           "shuffle_questions": flag(form, "shuffle_questions"),
                           "shuffle_options": flag(form, "shuffle_options")}
    if questions:
        out["questions"] = questions
    save_toml(path, out)
