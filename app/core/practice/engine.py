"""The events a mentor's confirmation makes (engines propose, the session commits).

``observe`` and ``rate`` refuse, with a code, what the tablet already knows is worth
nothing: a mentor who is the learner (``MENTOR_IS_LEARNER``), a profile that is not a
mentor or trainer (``NOT_A_MENTOR``), a task or level the installed pack does not have
(``TASK_UNKNOWN``), a date in the future (``OBSERVATION_DATE_BAD``). The server checks
again (app/core/practice/rules.py) and decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.core.errors import ErrorCode, LearningError
from app.core.learning.base import FoldingEngine, PreFolded, locked
from app.core.learning.catalog import Catalog
from app.core.learning.payloads import check_payload
from app.core.practice import rules
from app.core.practice.state import Observation, PracticeState
from app.core.practice.tasks import PracticeTask, required_observations, tasks_of


@dataclass(frozen=True, slots=True)
class Step:
    events: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """A workplace task of an installed course, with this learner's observations."""
    task: PracticeTask
    course_title: dict[str, str]
    observations: tuple[Observation, ...]
    #: a complete observation exists (checklist fully ticked; mentor checked on this tablet)
    done: bool
    #: observed tasks the course asks for before its certificate (0: none)
    required: int


class PracticeEngine(FoldingEngine):
    def __init__(self, catalog: Catalog | Iterable[dict[str, Any]], *, learner: str,
                 role: str, language: str,
                 events: Iterable[dict[str, Any]] | PreFolded = ()) -> None:
        """`events`: the learner's events, or their `LearnerHistory` (its ``other``
        events are the practice.* ones, folded here: a few per learner)."""
        folded: Iterable[dict[str, Any]] = (
            events.fold_for(learner, "other") if isinstance(events, PreFolded) else events)
        super().__init__(catalog, PracticeState(learner), learner=learner, role=role,
                         language=language, events=folded)

    @property
    def practice(self) -> PracticeState:
        assert isinstance(self.state, PracticeState)
        return self.state

    def _task(self, pack: str, course: str, task: str) -> PracticeTask:
        manifest = self.catalog.packs.get(pack)
        found = tasks_of(manifest).get((course, task)) if manifest else None
        if found is None:
            raise LearningError(f"no workplace task {pack}/{course}/{task} installed",
                                code=ErrorCode.TASK_UNKNOWN)
        return found

    @locked
    def tasks(self) -> list[TaskEntry]:
        """Tasks of the installed courses of the learner's role, in course order."""
        out = []
        for info in sorted(self.catalog.courses.values(), key=lambda c: (c.pack, c.order)):
            if self.role not in info.roles:
                continue
            manifest = self.catalog.packs[info.pack]
            need = required_observations(manifest, info.id)
            for (course, _), task in tasks_of(manifest).items():
                if course != info.id:
                    continue
                seen = tuple(self.practice.of_task(info.pack, course, task.id))
                done = any(task.item_ids <= set(o.checklist) for o in seen)
                out.append(TaskEntry(task, info.title, seen, done, need))
        return out

    @locked
    def observe(self, pack: str, course: str, task: str, *, mentor: rules.Mentor,
                observed_on: date, checklist: Iterable[str], today: date) -> Step:
        self._check_mentor(mentor)
        found = self._task(pack, course, task)
        ticked = list(dict.fromkeys(checklist))
        if not set(ticked) <= found.item_ids:
            raise LearningError(f"task {task}: unknown checklist item", code=ErrorCode.TASK_UNKNOWN)
        if observed_on > today or observed_on < rules.EARLIEST:
            raise LearningError(f"observed on {observed_on}: not a past day",
                                code=ErrorCode.OBSERVATION_DATE_BAD)
        ordered = [i.id for i in found.checklist if i.id in ticked]
        return Step([self._event("practice.observed", pack,
                                 {"course": course, "task": task, "mentor": mentor.id},
                                 {"date": observed_on.isoformat(), "checklist": ordered,
                                  "lang": self.language})])

    @locked
    def rate(self, pack: str, profile: str, task: str, *, mentor: rules.Mentor, level: int,
             self_level: int | None) -> Step:
        """A mentor confirms (same level) or adjusts a self-rating of a profile task."""
        self._check_mentor(mentor)
        prof = self.catalog.profiles.get((pack, profile))
        duty = next((d["id"] for d in (prof or {}).get("duties", [])
                     for t in d.get("tasks", []) if t["id"] == task), None)
        if prof is None or duty is None:
            raise LearningError(f"profile {pack}/{profile} has no task {task!r}",
                                code=ErrorCode.TASK_UNKNOWN)
        levels = {int(s["level"]) for s in prof["scale"]}
        if isinstance(level, bool) or level not in levels:
            raise LearningError(f"level {level!r} is not on the scale", code=ErrorCode.LEARNING)
        data: dict[str, Any] = {"level": level}
        if self_level is not None:
            data["self_level"] = self_level
        return Step([self._event("practice.rated", pack, {"profile": profile, "duty": duty,
                                                          "task": task, "mentor": mentor.id},
                                 data)])

    @locked
    def validated_levels(self, pack: str, profile: str) -> dict[str, int]:
        return {t: r.level for t, r in self.practice.validated_levels(pack, profile).items()}

    def _check_mentor(self, mentor: rules.Mentor) -> None:
        why = rules.mentor_refusal(self.learner, mentor, None)
        if why == rules.SELF_OBSERVED:
            raise LearningError("a learner cannot confirm their own practice",
                                code=ErrorCode.MENTOR_IS_LEARNER)
        if why is not None:
            raise LearningError(f"profile {mentor.id} is not a mentor or trainer ({why})",
                                code=ErrorCode.NOT_A_MENTOR)

    def _event(self, etype: str, pack: str, ref: dict[str, str], data: dict[str, Any]
               ) -> dict[str, Any]:
        event = {"learner": self.learner, "type": etype, "pack": pack,
                 "pack_version": self.catalog.packs[pack]["version"], "ref": ref, "data": data}
        check_payload(event)
        return event
