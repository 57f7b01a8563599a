"""Index of the installed packs' manifests (docs/pack-format.md) for the learning engine.

The manifests have already been verified by app.core.packs; this module still checks the
fields it relies on, so a wrong manifest gives a PackError naming pack and field instead
of a KeyError deep inside a view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import ErrorCode, LearningError, PackError
from app.core.packs.manifest import PART_TYPES, QUESTION_TYPES


@dataclass(frozen=True, slots=True)
class LessonInfo:
    id: str
    index: int
    title: dict[str, str]
    cards: int
    files: dict[str, str]


@dataclass(frozen=True, slots=True)
class QuizInfo:
    max_attempts: int
    draw: int
    shuffle_questions: bool
    shuffle_options: bool
    questions: tuple[dict[str, Any], ...]
    #: question or scenario-part id → the question dict (parts included)
    items: dict[str, dict[str, Any]]
    #: scenario-part id → id of its scenario
    parent: dict[str, str]

    def scored_ids(self, question_ids: Iterable[str]) -> list[str]:
        """The scored items of the given top-level questions: a scenario's parts, or the
        question itself."""
        out: list[str] = []
        for qid in question_ids:
            q = self.items.get(qid)
            if q is None:
                continue
            if q["type"] == "scenario":
                out.extend(p["id"] for p in q["parts"])
            else:
                out.append(qid)
        return out


@dataclass(frozen=True, slots=True)
class CourseInfo:
    pack: str
    pack_version: int
    id: str
    order: int
    title: dict[str, str]
    summary: dict[str, str]
    roles: tuple[str, ...]
    skills: tuple[str, ...]
    minutes: int
    pass_mark: float
    lessons: tuple[LessonInfo, ...]
    quiz: QuizInfo | None
    default_language: str
    languages: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.pack, self.id)

    def lesson(self, lesson_id: str) -> LessonInfo | None:
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        return None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Courses, profiles and skills of the live version of every installed pack."""

    packs: dict[str, dict[str, Any]]
    courses: dict[tuple[str, str], CourseInfo]
    #: skill key → {"uri", "label", "pack"} (first pack in id order that defines it)
    skills: dict[str, dict[str, Any]]
    profiles: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_manifests(cls, manifests: Iterable[dict[str, Any]]) -> Catalog:
        """Build the index. Two manifests with the same pack id: the higher version wins
        (a device only has one live version per pack; this guards a caller passing more)."""
        live: dict[str, dict[str, Any]] = {}
        for i, manifest in enumerate(manifests):
            if not isinstance(manifest, dict):
                raise PackError(f"manifest #{i}: expected an object")
            pack_id = _req(manifest, "id", str, f"manifest #{i}")
            version = _req(manifest, "version", int, pack_id)
            if pack_id not in live or live[pack_id]["version"] < version:
                live[pack_id] = manifest
        courses: dict[tuple[str, str], CourseInfo] = {}
        skills: dict[str, dict[str, Any]] = {}
        profiles: dict[tuple[str, str], dict[str, Any]] = {}
        for pack_id in sorted(live):
            manifest = live[pack_id]
            for key, skill in _req(manifest, "skills", dict, pack_id, {}).items():
                if not isinstance(skill, dict):
                    raise PackError(f"{pack_id}: skills.{key}: expected an object")
                skills.setdefault(key, {"uri": skill.get("uri") or "",
                                        "label": skill.get("label") or {}, "pack": pack_id})
            for order, course in enumerate(_req(manifest, "courses", list, pack_id)):
                info = _course(manifest, pack_id, order, course)
                courses[info.key] = info
            for j, profile in enumerate(_req(manifest, "profiles", list, pack_id, [])):
                where = f"{pack_id}: profiles[{j}]"
                if not isinstance(profile, dict):
                    raise PackError(f"{where}: expected an object")
                pid = _req(profile, "id", str, where)
                _req(profile, "duties", list, where)
                _req(profile, "scale", list, where)
                profiles[(pack_id, pid)] = profile
        return cls(packs=live, courses=courses, skills=skills, profiles=profiles)

    def course(self, pack: str, course: str) -> CourseInfo:
        info = self.courses.get((pack, course))
        if info is None:
            raise LearningError(f"course {pack}/{course} is not installed",
                                code=ErrorCode.NOT_INSTALLED)
        return info

    def default_language(self, pack: str) -> str:
        manifest = self.packs.get(pack) or {}
        return str(manifest.get("default_language") or "en")


def _req(obj: dict[str, Any], key: str, typ: type, where: str, default: Any = None) -> Any:
    if key not in obj:
        if default is not None:
            return default
        raise PackError(f"{where}: {key}: missing")
    value = obj[key]
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise PackError(f"{where}: {key}: expected {typ.__name__}, got {type(value).__name__}")
    return value


def _course(manifest: dict[str, Any], pack_id: str, order: int, course: Any) -> CourseInfo:
    where = f"{pack_id}: courses[{order}]"
    if not isinstance(course, dict):
        raise PackError(f"{where}: expected an object")
    cid = _req(course, "id", str, where)
    where = f"{pack_id}: course {cid}"
    lessons = []
    for i, lesson in enumerate(_req(course, "lessons", list, where)):
        lw = f"{where}: lessons[{i}]"
        if not isinstance(lesson, dict):
            raise PackError(f"{lw}: expected an object")
        cards = _req(lesson, "cards", int, lw)
        if cards < 1:
            raise PackError(f"{lw}: cards: expected >= 1, got {cards}")
        lessons.append(LessonInfo(id=_req(lesson, "id", str, lw), index=i,
                                  title=_req(lesson, "title", dict, lw, {}), cards=cards,
                                  files=_req(lesson, "files", dict, lw)))
    pass_mark = course.get("pass_mark")
    if isinstance(pass_mark, bool) or not isinstance(pass_mark, int | float) \
            or not 0 <= pass_mark <= 100:
        raise PackError(f"{where}: pass_mark: expected 0–100, got {pass_mark}")
    roles = course.get("roles") or manifest.get("audience_roles") or []
    quiz = course.get("quiz")
    return CourseInfo(
        pack=pack_id, pack_version=int(manifest["version"]), id=cid, order=order,
        title=_req(course, "title", dict, where), summary=_req(course, "summary", dict, where, {}),
        roles=tuple(roles), skills=tuple(_req(course, "skills", list, where, [])),
        minutes=int(course.get("minutes") or 0), pass_mark=float(pass_mark),
        lessons=tuple(lessons), quiz=_quiz(quiz, where) if quiz else None,
        default_language=str(manifest.get("default_language") or "en"),
        languages=tuple(manifest.get("languages") or ()),
    )


def _quiz(quiz: Any, where: str) -> QuizInfo | None:
    where = f"{where}: quiz"
    if not isinstance(quiz, dict):
        raise PackError(f"{where}: expected an object")
    questions = _req(quiz, "questions", list, where)
    if not questions:
        return None
    items: dict[str, dict[str, Any]] = {}
    parent: dict[str, str] = {}
    for i, q in enumerate(questions):
        qw = f"{where}: questions[{i}]"
        _add_item(items, q, qw, QUESTION_TYPES)
        if q["type"] == "scenario":
            parts = _req(q, "parts", list, qw)
            if not parts:
                raise PackError(f"{qw}: parts: a scenario needs at least one part")
            for j, part in enumerate(parts):
                _add_item(items, part, f"{qw}.parts[{j}]", PART_TYPES)
                parent[part["id"]] = q["id"]
    max_attempts = _req(quiz, "max_attempts", int, where, 0)
    draw = _req(quiz, "draw", int, where, 0)
    if max_attempts < 0 or draw < 0:
        raise PackError(f"{where}: max_attempts/draw: expected >= 0")
    return QuizInfo(max_attempts=max_attempts, draw=min(draw, len(questions)),
                    shuffle_questions=bool(quiz.get("shuffle_questions", True)),
                    shuffle_options=bool(quiz.get("shuffle_options", True)),
                    questions=tuple(questions), items=items, parent=parent)


def _add_item(items: dict[str, dict[str, Any]], q: Any, where: str, types: tuple[str, ...]
              ) -> None:
    """Check a question (or scenario part) and index it; ids are unique per course."""
    _question(q, where, types)
    if q["id"] in items:
        raise PackError(f"{where}: id: duplicate question id {q['id']!r}")
    items[q["id"]] = q


def _question(q: Any, where: str, types: tuple[str, ...]) -> None:
    if not isinstance(q, dict):
        raise PackError(f"{where}: expected an object")
    _req(q, "id", str, where)
    qtype = _req(q, "type", str, where)
    if qtype not in types:
        raise PackError(f"{where}: type: expected one of {', '.join(types)}, got {qtype!r}")
    if qtype == "scenario":
        return
    options = _req(q, "options", list, where)
    if not 2 <= len(options) <= 8:
        raise PackError(f"{where}: options: expected 2–8 options, got {len(options)}")
    seen = set()
    for k, opt in enumerate(options):
        ow = f"{where}.options[{k}]"
        if not isinstance(opt, dict):
            raise PackError(f"{ow}: expected an object")
        oid = _req(opt, "id", str, ow)
        if oid in seen:
            raise PackError(f"{ow}: id: duplicate option id {oid!r}")
        seen.add(oid)
        if not isinstance(opt.get("correct"), bool):
            raise PackError(f"{ow}: correct: expected true or false")
    n_correct = sum(1 for o in options if o["correct"])
    if qtype in ("single", "true_false") and n_correct != 1:
        raise PackError(f"{where}: options: a {qtype} question needs exactly one correct option")
    if qtype == "multiple" and n_correct < 1:
        raise PackError(f"{where}: options: a multiple question needs at least one correct option")
