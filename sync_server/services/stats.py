"""Progress statistics for the dashboard and the CSV export: a fold over stored events.

Pure functions over plain data (event dicts, learner records, pack manifests), so they are
tested without a server. Definitions (docs/admin-guide.md "Dashboard"):

* population of a course × facility × role = learners of that facility and role, when the
  role is in the course's roles (course ``roles``, else the pack's ``audience_roles``);
* completion rate = learners of the population with a ``course.completed`` event ÷ population;
* pass rate = learners with a passed ``quiz.submitted`` ÷ learners with any ``quiz.submitted``
  (people who tried), so it says how hard the quiz is, not how many started;
* self-assessment gap of a task = expected level for the learner's role − the learner's
  latest rating of it (latest by the events' order key); a duty's gap for one learner is
  the mean over its rated tasks; the heat map shows the mean over learners of a facility.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class LearnerLike(Protocol):
    """What the reports read of a learner (read-only: db.repository.Learner is frozen)."""

    @property
    def id(self) -> str: ...
    @property
    def staff_number(self) -> str: ...
    @property
    def facility_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def display_name(self) -> str: ...


def _order(event: dict[str, Any]) -> tuple[str, str, int]:
    return (str(event.get("at", "")), str(event.get("device", "")), int(event.get("seq") or 0))


def localized(value: Any, language: str = "en") -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return str(value or "")


@dataclass
class CourseProgress:
    """One learner × course, folded from events."""
    cards_viewed: int = 0
    attempts: int = 0
    best_score: float | None = None
    passed: bool = False
    completed_at: str | None = None
    _cards: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _attempts: set[str] = field(default_factory=set, repr=False)


def fold_progress(events: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], CourseProgress]:
    """(learner, pack, course) → progress. Duplicates and any order give the same result."""
    out: dict[tuple[str, str, str], CourseProgress] = {}
    for event in sorted(events, key=_order):
        ref = event.get("ref") or {}
        course = ref.get("course")
        if not isinstance(course, str) or not isinstance(event.get("learner"), str):
            continue
        key = (event["learner"], str(event.get("pack") or ""), course)
        etype = event.get("type")
        data = event.get("data") or {}
        if etype == "card.viewed":
            p = out.setdefault(key, CourseProgress())
            p._cards.add((str(ref.get("lesson")), str(ref.get("card"))))
            p.cards_viewed = len(p._cards)
        elif etype == "quiz.submitted":
            p = out.setdefault(key, CourseProgress())
            p._attempts.add(str(ref.get("attempt") or event.get("id")))
            p.attempts = len(p._attempts)
            score = data.get("score")
            if isinstance(score, int | float) and not isinstance(score, bool):
                p.best_score = score if p.best_score is None else max(p.best_score, score)
            if data.get("passed") is True:
                p.passed = True
        elif etype == "course.completed":
            p = out.setdefault(key, CourseProgress())
            if p.completed_at is None:  # earliest by order key counts (events sorted)
                p.completed_at = str(event.get("at"))
    return out


@dataclass(frozen=True)
class CourseInfo:
    pack_id: str
    course_id: str
    title: str
    roles: tuple[str, ...]


def courses_of(manifests: Iterable[dict[str, Any]], language: str = "en") -> list[CourseInfo]:
    out = []
    for manifest in manifests:
        audience = tuple(manifest.get("audience_roles") or ())
        for course in manifest.get("courses") or []:
            out.append(CourseInfo(str(manifest.get("id")), str(course.get("id")),
                                  localized(course.get("title"), language),
                                  tuple(course.get("roles") or audience)))
    return out


@dataclass(frozen=True)
class GapMap:
    rows: list[str]                       # duty labels ("profile · duty")
    columns: list[str]                    # facility ids
    values: dict[tuple[int, int], tuple[float, int]]   # (row, col) → (mean gap, learners)
    max_gap: float


def latest_levels(events: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    """(learner, profile, task) → the latest self-assessment level (by the order key)."""
    latest: dict[tuple[str, str, str], int] = {}
    for event in sorted(events, key=_order):
        if event.get("type") != "selfassessment.rated":
            continue
        ref = event.get("ref") or {}
        level = (event.get("data") or {}).get("level")
        if isinstance(level, int) and not isinstance(level, bool):
            latest[(str(event.get("learner")), str(ref.get("profile")), str(ref.get("task")))] = level
    return latest


def gap_heat_map(manifests: Iterable[dict[str, Any]], learners: Sequence[LearnerLike],
                 events: Iterable[dict[str, Any]], facilities: Sequence[str],
                 language: str = "en") -> GapMap:
    """Mean self-assessment gap per duty × facility, folded from events."""
    return gap_from_latest(manifests, learners, latest_levels(events), facilities, language)


@dataclass(frozen=True)
class GapModel:
    """What the heat map needs of the published manifests."""
    tasks: dict[tuple[str, str], tuple[tuple[str, str], dict[str, int]]]  # (profile, task) →
    #: (duty key, expected level per role)
    duty_labels: dict[tuple[str, str], str]                           # (profile, duty) → label
    max_level: int


def gap_model(manifests: Iterable[dict[str, Any]], language: str = "en") -> GapModel:
    tasks: dict[tuple[str, str], tuple[tuple[str, str], dict[str, int]]] = {}
    duty_labels: dict[tuple[str, str], str] = {}
    max_level = 1
    for manifest in manifests:
        for profile in manifest.get("profiles") or []:
            pid = str(profile.get("id"))
            for level in profile.get("scale") or []:
                if isinstance(level.get("level"), int):
                    max_level = max(max_level, level["level"])
            for duty in profile.get("duties") or []:
                dkey = (pid, str(duty.get("id")))
                duty_labels[dkey] = (f"{localized(profile.get('title'), language)} · "
                                     f"{localized(duty.get('title'), language)}")
                for task in duty.get("tasks") or []:
                    # a level is an integer (the pack's own rule, fields.integer): a
                    # boolean in a hand-made manifest is no level
                    expected = {r: v for r, v in (task.get("expected") or {}).items()
                                if isinstance(v, int) and not isinstance(v, bool)}
                    tasks[(pid, str(task.get("id")))] = (dkey, expected)
    return GapModel(tasks, duty_labels, max_level)


def gap_from_latest(manifests: Iterable[dict[str, Any]], learners: Sequence[LearnerLike],
                    latest: dict[tuple[str, str, str], int], facilities: Sequence[str],
                    language: str = "en") -> GapMap:
    """Mean self-assessment gap per duty × facility (see module docstring), from each
    learner's latest level per task (latest_levels)."""
    model = gap_model(manifests, language)
    by_id = {learner.id: learner for learner in learners}
    per_learner: dict[tuple[str, tuple[str, str]], list[int]] = defaultdict(list)
    for (learner_id, pid, tid), level in latest.items():
        learner = by_id.get(learner_id)
        info = model.tasks.get((pid, tid))
        if learner is None or info is None or learner.role not in info[1]:
            continue
        per_learner[(learner_id, info[0])].append(info[1][learner.role] - level)
    sums: dict[tuple[str, tuple[str, str]], list[float]] = defaultdict(list)
    for (learner_id, dkey), gaps in per_learner.items():
        sums[(by_id[learner_id].facility_id, dkey)].append(sum(gaps) / len(gaps))
    means = {k: (sum(v) / len(v), len(v)) for k, v in sums.items()}
    return gap_from_means(model, means, facilities)


def gap_means(model: GapModel, ratings: Iterable[tuple[Any, ...]]
              ) -> dict[tuple[str, tuple[str, str]], tuple[float, int]]:
    """(facility, duty key) → (mean over learners of each learner's mean gap over the
    duty's rated tasks, learners), from (learner, facility, role, profile, task, level)
    rows (AggregateStore.rating_rows)."""
    expected = {(pid, tid, role): (dkey, level)
                for (pid, tid), (dkey, levels) in model.tasks.items()
                for role, level in levels.items()}
    per: dict[tuple[str, str, tuple[str, str]], list[int]] = {}
    for learner_id, facility, role, pid, tid, level in ratings:
        hit = expected.get((pid, tid, role))
        if hit is None:
            continue
        key = (learner_id, facility, hit[0])
        acc = per.get(key)
        if acc is None:
            per[key] = [hit[1] - level, 1]
        else:
            acc[0] += hit[1] - level
            acc[1] += 1
    sums: dict[tuple[str, tuple[str, str]], list[float]] = defaultdict(list)
    for (_, facility, dkey), (total, n) in per.items():
        sums[(facility, dkey)].append(total / n)
    return {k: (sum(v) / len(v), len(v)) for k, v in sums.items()}


def gap_from_means(model: GapModel, means: dict[tuple[str, tuple[str, str]], tuple[float, int]],
                   facilities: Sequence[str]) -> GapMap:
    """The heat map from (facility, duty key) → (mean over learners of each learner's
    mean gap over the duty's rated tasks, learners) — made by gap_from_latest, or by the
    aggregates' rating rows (gap_means)."""
    col_index = {f: i for i, f in enumerate(facilities)}
    duty_keys = sorted({d for _, d in means})
    duty_index = {d: i for i, d in enumerate(duty_keys)}
    values = {(duty_index[d], col_index[f]): v for (f, d), v in means.items() if f in col_index}
    return GapMap([model.duty_labels[d] for d in duty_keys], list(facilities), values,
                  float(model.max_level))
