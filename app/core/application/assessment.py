"""What a signed-in learner does with self-assessments: rate tasks duty by duty against
an occupational profile, finish, read the gap report. The use cases of the assessment
screens, on top of the self-assessment engine (app/core/assessment/engine.py).

Every tap is committed at once (the learner may stop and continue later). An assessment
is started only by an explicit call with ``start=True`` (a deliberate tap), never by
visiting a page.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.application.learner_work import LearnerWork
from app.core.assessment import GapReport
from app.core.assessment.engine import (
    AssessmentResume,
    DutyView,
    ProfileEntry,
    ProfileView,
    TaskView,
)
from app.core.assessment.gap import with_validated


class Assessment:
    """The self-assessment actions of whoever is signed in to one session."""

    def __init__(self, work: Callable[[], LearnerWork]) -> None:
        self._work = work

    def profiles(self) -> list[ProfileEntry]:
        """Occupational profiles for the learner's role, with their open/last assessment."""
        return self._work().assess.profiles()

    def view(self, pack: str, profile: str, *, start: bool = True) -> ProfileView:
        """The profile with the ratings of the open assessment (started if none and
        ``start``); ``view.assessment`` is None when nothing is open."""
        work = self._work()
        aid = work.assess.open_assessment(pack, profile)
        if aid is None and start:
            aid = work.commit(work.assess.start(pack, profile)).assessment
        return work.assess.profile(pack, profile, aid)

    @staticmethod
    def tasks_to_rate(view: ProfileView) -> list[TaskView]:
        """Tasks the learner rates (those with an expectation for their role, else all):
        the same rule the engine uses to decide the assessment is complete."""
        every = [t for d in view.duties for t in d.tasks]
        return [t for t in every if t.expected is not None] or every

    @classmethod
    def duties_to_rate(cls, view: ProfileView) -> list[DutyView]:
        """The duties the assessment walks through, in order ("Duty n of total")."""
        rated = {t.id for t in cls.tasks_to_rate(view)}
        return [d for d in view.duties if any(t.id in rated for t in d.tasks)]

    @classmethod
    def duty_numbers(cls, view: ProfileView) -> dict[str, int]:
        """Duty id → its number in the assessment (1-based). The gap report lists duties
        largest gap first but names each by this number, so "Duty 3" is the same duty
        on both screens."""
        return {d.id: i for i, d in enumerate(cls.duties_to_rate(view), start=1)}

    def resume(self, pack: str, profile: str, assessment: str) -> AssessmentResume | None:
        """The first task still to rate (None when every task is rated)."""
        return self._work().assess.resume(pack, profile, assessment)

    def rate(self, pack: str, profile: str, assessment: str, task: str, level: int) -> None:
        work = self._work()
        work.commit(work.assess.rate(pack, profile, assessment, task, level))

    def complete(self, pack: str, profile: str, assessment: str) -> None:
        work = self._work()
        work.commit(work.assess.complete(pack, profile, assessment))

    def gap_report(self, pack: str, profile: str) -> GapReport:
        """The gap report, with the levels a mentor validated beside the self-ratings."""
        work = self._work()
        return with_validated(work.assess.gap_report(pack, profile),
                              work.practice.validated_levels(pack, profile))
