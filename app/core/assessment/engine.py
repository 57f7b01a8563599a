"""SelfAssessment: the UI's entry point for rating oneself against a DACUM profile.

Same contract as LearningEngine: reads manifests + a fold, proposes events, never writes
storage; the Store's subscribers call `apply`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core.assessment.gap import GapReport, build_report
from app.core.assessment.state import AssessmentRecord, AssessmentState
from app.core.errors import ErrorCode, LearningError
from app.core.events import new_id
from app.core.learning.base import FoldingEngine, PreFolded, locked
from app.core.learning.catalog import Catalog
from app.core.learning.payloads import check_payload
from app.core.learning.state import LearnerState
from app.core.learning.text import Text, localize


@dataclass(frozen=True, slots=True)
class TaskView:
    id: str
    duty: str
    title: Text
    skills: tuple[str, ...]
    expected: int | None        # for the learner's role
    rating: int | None
    esco_skills: tuple[str, ...] = ()   # ESCO preferred labels (English) the task maps to


@dataclass(frozen=True, slots=True)
class ProfileValidation:
    """Whether a DACUM chart is the authors' draft or validated by a DACUM panel; the
    note is what the app shows with the profile (pack-format.md, profiles)."""

    status: str                  # "draft" | "validated"
    note: Text
    panel: str = ""              # who validated it (validated only)
    date: str = ""               # ISO date of the validation (validated only)

    @property
    def draft(self) -> bool:
        return self.status != "validated"


@dataclass(frozen=True, slots=True)
class DutyView:
    id: str
    title: Text
    tasks: tuple[TaskView, ...]


@dataclass(frozen=True, slots=True)
class ProfileView:
    pack: str
    id: str
    title: Text
    description: Text
    esco_occupation: str
    isco: str
    scale: tuple[tuple[int, Text], ...]
    duties: tuple[DutyView, ...]
    assessment: str | None       # the assessment whose ratings are shown
    validation: ProfileValidation | None = None   # None: the pack says nothing


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    pack: str
    id: str
    title: Text
    tasks: int
    open_assessment: str | None
    last_completed: str | None
    validation: ProfileValidation | None = None


@dataclass(frozen=True, slots=True)
class AssessmentResume:
    assessment: str
    duty: str
    task: str
    index: int                   # 0-based position of the task in chart order


@dataclass(frozen=True, slots=True)
class Step:
    events: list[dict[str, Any]]
    assessment: str


class SelfAssessment(FoldingEngine):
    def __init__(self, catalog: Catalog | Iterable[dict[str, Any]], *, learner: str, role: str,
                 language: str, events: Iterable[dict[str, Any]] | PreFolded = (),
                 learning: LearnerState | None = None) -> None:
        """`events`: the learner's events, or their `LearnerHistory` (already folded),
        whose self-assessment fold is used."""
        if isinstance(events, PreFolded):
            state, events = events.fold_for(learner, "assessment"), ()
        else:
            state = AssessmentState(learner)
        super().__init__(catalog, state, learner=learner, role=role, language=language,
                         events=events)
        self.state: AssessmentState
        self.learning = learning

    # -- reading -------------------------------------------------------------------------
    def _profile(self, pack: str, profile: str) -> dict[str, Any]:
        found = self.catalog.profiles.get((pack, profile))
        if found is None:
            raise LearningError(f"profile {pack}/{profile} is not installed",
                                code=ErrorCode.NOT_INSTALLED)
        return found

    def _tasks(self, profile: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(duty id, task) in chart order, only tasks with an expectation for the role
        (a role with no expectations on a profile rates every task)."""
        every = [(d["id"], t) for d in profile["duties"] for t in d.get("tasks", [])]
        mine = [(d, t) for d, t in every if self.role in (t.get("expected") or {})]
        return mine or every

    @locked
    def profiles(self) -> list[ProfileEntry]:
        """Profiles that list the learner's role, with their assessment status."""
        out = []
        for (pack, pid), profile in sorted(self.catalog.profiles.items()):
            if self.role not in (profile.get("roles") or []):
                continue
            records = self.state.of_profile(pack, pid)
            open_ = [r.id for r in records if r.started and r.completed is None]
            done = sorted((r for r in records if r.completed), key=lambda r: r.completed or ("", "", 0))
            out.append(ProfileEntry(pack, pid, self._text(pack, profile.get("title")),
                                    len(self._tasks(profile)), open_[-1] if open_ else None,
                                    done[-1].id if done else None,
                                    self._validation(pack, profile)))
        return out

    def _text(self, pack: str, value: Any) -> Text:
        return localize(value, self.language, self.catalog.default_language(pack))

    def _validation(self, pack: str, profile: dict[str, Any]) -> ProfileValidation | None:
        v = profile.get("validation")
        if not isinstance(v, dict):
            return None
        return ProfileValidation(status=str(v.get("status") or "draft"),
                                 note=self._text(pack, v.get("note")),
                                 panel=str(v.get("panel") or ""), date=str(v.get("date") or ""))

    @locked
    def profile(self, pack: str, profile_id: str, assessment: str | None = None) -> ProfileView:
        profile = self._profile(pack, profile_id)
        levels = self._record(pack, profile_id, assessment).levels() if assessment else {}
        duties = []
        for duty in profile["duties"]:
            tasks = tuple(TaskView(t["id"], duty["id"], self._text(pack, t.get("title")),
                                   tuple(t.get("skills", [])),
                                   (t.get("expected") or {}).get(self.role), levels.get(t["id"]),
                                   tuple(t.get("esco_skills") or ()))
                          for t in duty.get("tasks", []))
            duties.append(DutyView(duty["id"], self._text(pack, duty.get("title")), tasks))
        scale = tuple(sorted((int(s["level"]), self._text(pack, s.get("label")))
                             for s in profile["scale"]))
        return ProfileView(pack=pack, id=profile_id, title=self._text(pack, profile.get("title")),
                           description=self._text(pack, profile.get("description")),
                           esco_occupation=str(profile.get("esco_occupation") or ""),
                           isco=str(profile.get("isco") or ""), scale=scale,
                           duties=tuple(duties), assessment=assessment,
                           validation=self._validation(pack, profile))

    def _record(self, pack: str, profile: str, assessment: str) -> AssessmentRecord:
        record = self.state.get(pack, profile, assessment)
        if record is None:
            raise LearningError(f"profile {pack}/{profile}: no assessment {assessment!r}")
        return record

    @locked
    def open_assessment(self, pack: str, profile: str) -> str | None:
        open_ = [r.id for r in self.state.of_profile(pack, profile)
                 if r.started and r.completed is None]
        return open_[-1] if open_ else None

    @locked
    def resume(self, pack: str, profile: str, assessment: str) -> AssessmentResume | None:
        """First task (chart order) without a rating; None when every task is rated."""
        levels = self._record(pack, profile, assessment).levels()
        for i, (duty, task) in enumerate(self._tasks(self._profile(pack, profile))):
            if task["id"] not in levels:
                return AssessmentResume(assessment, duty, task["id"], i)
        return None

    @locked
    def gap_report(self, pack: str, profile: str, assessment: str | None = None) -> GapReport:
        """Gap report of `assessment` (default: the latest completed one), compared with
        the completed assessment of the same profile before it."""
        prof = self._profile(pack, profile)
        records = self.state.of_profile(pack, profile)
        done = sorted((r for r in records if r.completed), key=lambda r: (r.completed, r.id))
        if assessment is None:
            if not done:
                raise LearningError(f"profile {pack}/{profile}: no completed assessment yet")
            record = done[-1]
        else:
            record = self._record(pack, profile, assessment)
        if record.completed:
            earlier = [r for r in done if (r.completed, r.id) < (record.completed, record.id)]
        else:
            earlier = done
        previous = (earlier[-1].id, earlier[-1].levels()) if earlier else None
        completed = set()
        if self.learning is not None:
            completed = {k for k, p in self.learning.courses.items() if p.completed}
        return build_report(self.catalog, pack, prof, record.id, record.role or self.role,
                            record.levels(), record.completed is not None, self.language,
                            previous, completed)

    # -- actions -------------------------------------------------------------------------
    def _event(self, etype: str, pack: str, ref: dict[str, str], data: dict[str, Any]
               ) -> dict[str, Any]:
        manifest = self.catalog.packs[pack]
        event = {"learner": self.learner, "type": etype, "pack": pack,
                 "pack_version": manifest["version"], "ref": ref, "data": data}
        check_payload(event)
        return event

    @locked
    def start(self, pack: str, profile: str, *, assessment: str | None = None) -> Step:
        self._profile(pack, profile)
        current = self.open_assessment(pack, profile)
        if current is not None:
            raise LearningError(f"profile {pack}/{profile}: assessment {current} is still "
                                "open; resume or complete it first",
                                code=ErrorCode.ASSESSMENT_STILL_OPEN)
        assessment = assessment or new_id()
        return Step([self._event("selfassessment.started", pack,
                                 {"profile": profile, "assessment": assessment},
                                 {"role": self.role, "lang": self.language})], assessment)

    @locked
    def rate(self, pack: str, profile: str, assessment: str, task: str, level: int) -> Step:
        prof = self._profile(pack, profile)
        record = self._record(pack, profile, assessment)
        if record.completed is not None:
            raise LearningError(f"assessment {assessment} is completed; start a new one",
                                code=ErrorCode.ASSESSMENT_COMPLETED)
        duty = next((d["id"] for d in prof["duties"] for t in d.get("tasks", [])
                     if t["id"] == task), None)
        if duty is None:
            raise LearningError(f"profile {pack}/{profile} has no task {task!r}")
        levels = sorted(int(s["level"]) for s in prof["scale"])
        if isinstance(level, bool) or not isinstance(level, int) or level not in levels:
            raise LearningError(f"task {task}: level must be one of "
                                f"{', '.join(map(str, levels))}, got {level!r}")
        return Step([self._event("selfassessment.rated", pack,
                                 {"profile": profile, "assessment": assessment, "duty": duty,
                                  "task": task},
                                 {"level": level, "min": levels[0], "max": levels[-1]})],
                    assessment)

    @locked
    def complete(self, pack: str, profile: str, assessment: str) -> Step:
        record = self._record(pack, profile, assessment)
        if record.completed is not None:
            raise LearningError(f"assessment {assessment} is already completed",
                                code=ErrorCode.ASSESSMENT_COMPLETED)
        missing = self.resume(pack, profile, assessment)
        if missing is not None:
            raise LearningError(f"assessment {assessment}: task {missing.task} "
                                f"(duty {missing.duty}) is not rated yet",
                                code=ErrorCode.TASKS_NOT_RATED)
        return Step([self._event("selfassessment.completed", pack,
                                 {"profile": profile, "assessment": assessment},
                                 {"role": record.role or self.role,
                                  "rated": len(record.ratings)})], assessment)
