"""Gap report of a self-assessment against a DACUM profile (rules in docs/learning.md).

gap = expected level for the learner's role − self-rated level. Positive = below what
the role expects. Per duty the gap is mean(expected) − mean(rated) over its rated tasks
that have an expectation for the role. Each task with a positive gap is mapped to skills
(key, ESCO URI, label) and to the installed courses of the role that teach them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.core.learning.catalog import Catalog
from app.core.learning.text import Text, localize

IMPROVED, WORSE, SAME = "improved", "worse", "same"


@dataclass(frozen=True, slots=True)
class SkillRef:
    key: str
    uri: str
    label: Text
    covered: bool          # some installed course of the role teaches it


@dataclass(frozen=True, slots=True)
class TaskGap:
    duty: str
    task: str
    title: Text
    expected: int
    rated: int
    gap: int
    skills: tuple[SkillRef, ...]
    courses: tuple[str, ...]   # "pack/course" of courses teaching one of its skills
    #: the level a mentor or trainer confirmed or set (practice.rated), None if none
    validated: int | None = None


@dataclass(frozen=True, slots=True)
class DutyGap:
    duty: str
    title: Text
    expected: float
    rated: float
    gap: float
    tasks: int


@dataclass(frozen=True, slots=True)
class Recommendation:
    pack: str
    course: str
    title: Text
    skills: tuple[str, ...]     # gap skills it teaches
    tasks: tuple[str, ...]      # gap tasks it helps with
    weight: float               # Σ gap × share of the task's skills the course teaches
    completed: bool


@dataclass(frozen=True, slots=True)
class Change:
    kind: str                   # "task" | "duty"
    id: str
    before: float
    after: float
    trend: str                  # improved | worse | same


@dataclass(frozen=True, slots=True)
class GapReport:
    pack: str
    profile: str
    assessment: str
    role: str
    completed: bool
    tasks: tuple[TaskGap, ...]          # largest gap first (chart order on ties)
    duties: tuple[DutyGap, ...]         # largest gap first
    unrated: tuple[str, ...]            # tasks with an expectation but no rating yet
    recommendations: tuple[Recommendation, ...]
    not_covered: tuple[SkillRef, ...]   # skills no installed course teaches
    previous: str | None                # id of the previous completed assessment
    changes: tuple[Change, ...]


def with_validated(report: GapReport, validated: dict[str, int]) -> GapReport:
    """The report with each task's mentor-validated level beside the self-rating."""
    if not validated:
        return report
    return replace(report, tasks=tuple(replace(t, validated=validated.get(t.task))
                                       for t in report.tasks))


def _trend(before: float, after: float) -> str:
    return IMPROVED if after > before else WORSE if after < before else SAME


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


def build_report(catalog: Catalog, pack: str, profile: dict[str, Any], assessment: str,
                 role: str, levels: dict[str, int], completed: bool, lang: str,
                 previous: tuple[str, dict[str, int]] | None,
                 completed_courses: set[tuple[str, str]]) -> GapReport:
    default = catalog.default_language(pack)
    courses = [c for c in catalog.courses.values() if role in c.roles]
    teaches: dict[str, list[str]] = {}
    for c in courses:
        for skill in c.skills:
            teaches.setdefault(skill, []).append(f"{c.pack}/{c.id}")

    def skill_ref(key: str) -> SkillRef:
        entry = catalog.skills.get(key) or {}
        label = localize(entry.get("label"), lang, catalog.default_language(
            entry.get("pack", pack))) if entry.get("label") else Text(key, lang, True)
        return SkillRef(key, str(entry.get("uri") or ""), label, key in teaches)

    task_gaps: list[tuple[int, TaskGap]] = []
    duty_gaps: list[tuple[int, DutyGap]] = []
    unrated: list[str] = []
    expected_of: dict[str, tuple[str, int]] = {}
    order = 0
    for d_index, duty in enumerate(profile["duties"]):
        exp_levels, rated_levels = [], []
        for task in duty.get("tasks", []):
            expected = (task.get("expected") or {}).get(role)
            if not isinstance(expected, int):
                continue
            expected_of[task["id"]] = (duty["id"], expected)
            if task["id"] not in levels:
                unrated.append(task["id"])
                continue
            rated = levels[task["id"]]
            exp_levels.append(expected)
            rated_levels.append(rated)
            skills = tuple(skill_ref(k) for k in task.get("skills", []))
            task_gaps.append((order, TaskGap(
                duty=duty["id"], task=task["id"], title=localize(task.get("title"), lang, default),
                expected=expected, rated=rated, gap=expected - rated, skills=skills,
                courses=tuple(sorted({c for s in skills for c in teaches.get(s.key, [])})))))
            order += 1
        if exp_levels:
            e, r = _mean(exp_levels), _mean(rated_levels)
            duty_gaps.append((d_index, DutyGap(duty["id"], localize(duty.get("title"), lang,
                                                                     default),
                                               e, r, round(e - r, 2), len(exp_levels))))
    task_gaps.sort(key=lambda x: (-x[1].gap, x[0]))
    duty_gaps.sort(key=lambda x: (-x[1].gap, x[0]))
    tasks = tuple(t for _, t in task_gaps)

    recs: dict[tuple[str, str], dict[str, Any]] = {}
    for gap in tasks:
        if gap.gap <= 0 or not gap.skills:
            continue
        for c in courses:
            taught = [s.key for s in gap.skills if s.key in c.skills]
            if not taught:
                continue
            rec = recs.setdefault(c.key, {"info": c, "skills": set(), "tasks": [], "w": 0.0})
            rec["skills"].update(taught)
            rec["tasks"].append(gap.task)
            rec["w"] += gap.gap * len(taught) / len(gap.skills)
    recommendations = sorted(
        (Recommendation(pack=r["info"].pack, course=r["info"].id,
                        title=localize(r["info"].title, lang, r["info"].default_language),
                        skills=tuple(sorted(r["skills"])), tasks=tuple(r["tasks"]),
                        weight=round(r["w"], 3), completed=key in completed_courses)
         for key, r in recs.items()),
        key=lambda r: (r.completed, -r.weight, r.pack, r.course))

    missing = list(profile.get("not_covered") or [])
    for gap in tasks:
        if gap.gap > 0:
            missing += [s.key for s in gap.skills if not s.covered]
    not_covered = tuple(skill_ref(k) for k in dict.fromkeys(missing) if k not in teaches)

    changes: list[Change] = []
    if previous is not None:
        before = previous[1]
        duty_before: dict[str, list[int]] = {}
        duty_after: dict[str, list[int]] = {}
        for task_id, (duty_id, _) in expected_of.items():
            if task_id in before and task_id in levels:
                changes.append(Change("task", task_id, before[task_id], levels[task_id],
                                      _trend(before[task_id], levels[task_id])))
                duty_before.setdefault(duty_id, []).append(before[task_id])
                duty_after.setdefault(duty_id, []).append(levels[task_id])
        for duty in profile["duties"]:
            if duty["id"] in duty_before:
                b, a = _mean(duty_before[duty["id"]]), _mean(duty_after[duty["id"]])
                changes.append(Change("duty", duty["id"], b, a, _trend(b, a)))
    return GapReport(pack=pack, profile=profile["id"], assessment=assessment, role=role,
                     completed=completed, tasks=tasks, duties=tuple(d for _, d in duty_gaps),
                     unrated=tuple(unrated), recommendations=tuple(recommendations),
                     not_covered=not_covered, previous=previous[0] if previous else None,
                     changes=tuple(changes))
