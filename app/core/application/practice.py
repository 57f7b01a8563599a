"""Observed practice on a shared tablet: a mentor confirms the signed-in learner's
workplace task, or validates one of their self-ratings, with the mentor's own PIN.

The learner's session stays signed in; the mentor picks their tile and types their PIN
on the same screen. The PIN proves the mentor is at the tablet (it is checked by the
store, with the same growing wait after wrong PINs as the sign-in pad) and is forgotten
at once: the mentor is never signed in. Before the PIN is even tried, the tablet refuses
the learner themself (``MENTOR_IS_LEARNER``) and any profile whose role is not mentor or
trainer (``NOT_A_MENTOR``). The event is the learner's, naming the mentor; the server
checks it again (app/core/practice/rules.py) and decides what it is worth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from app.core.application.learner_work import LearnerWork
from app.core.application.profiles import LearnerProfile, Profiles, ProfileTile
from app.core.clock import now_utc
from app.core.errors import AuthError, ErrorCode, LearningError
from app.core.learning.text import Text, localize
from app.core.practice.engine import TaskEntry
from app.core.practice.rules import Mentor
from app.core.roles import MENTOR_ROLES
from app.core.store import Store


class Practice:
    """Workplace tasks and mentor confirmations of whoever is signed in to one session."""

    def __init__(self, work: Callable[[], LearnerWork], profiles: Profiles, store: Store,
                 today: Callable[[], date] | None = None) -> None:
        self._work = work
        self._profiles = profiles
        self._store = store
        self._today = today or (lambda: now_utc().date())

    def today(self) -> date:
        return self._today()

    def tasks(self) -> list[TaskEntry]:
        return self._work().practice.tasks()

    def task(self, pack: str, course: str, task: str) -> TaskEntry:
        for entry in self.tasks():
            if (entry.task.pack, entry.task.course, entry.task.id) == (pack, course, task):
                return entry
        raise LearningError(f"no workplace task {pack}/{course}/{task}",
                            code=ErrorCode.TASK_UNKNOWN)

    def text(self, value: dict[str, str], pack: str) -> Text:
        """Pack content in the learner's language (else the pack's default, flagged)."""
        work = self._work()
        return localize(value, work.practice.language, work.catalog.default_language(pack))

    def mentors(self) -> list[ProfileTile]:
        """Profiles on this tablet that may confirm the learner's practice."""
        learner = self._work().learner
        return [t for t in self._profiles.tiles()
                if t.role in MENTOR_ROLES and t.id != learner and not t.needs_pin]

    def mentor_name(self, mentor_id: str) -> str:
        """The mentor's name when their profile is on this tablet, else ''."""
        try:
            return self._profiles.get(mentor_id).display_name
        except AuthError:
            return ""

    def confirm(self, pack: str, course: str, task: str, *, mentor_id: str, pin: str,
                observed_on: date, checklist: Iterable[str]) -> None:
        """Record ``practice.observed``: role and self checks first, then the PIN."""
        work = self._work()
        mentor = self._present_mentor(work, mentor_id, pin)
        work.commit(work.practice.observe(pack, course, task, mentor=mentor,
                                          observed_on=observed_on, checklist=checklist,
                                          today=self.today()))

    def validate_rating(self, pack: str, profile: str, task: str, *, mentor_id: str, pin: str,
                        level: int, self_level: int | None) -> None:
        """Record ``practice.rated``: the mentor confirms (same level) or adjusts it."""
        work = self._work()
        mentor = self._present_mentor(work, mentor_id, pin)
        work.commit(work.practice.rate(pack, profile, task, mentor=mentor, level=level,
                                       self_level=self_level))

    def _present_mentor(self, work: LearnerWork, mentor_id: str, pin: str) -> Mentor:
        if mentor_id == work.learner:
            raise LearningError("a learner cannot confirm their own practice",
                                code=ErrorCode.MENTOR_IS_LEARNER)
        try:
            profile: LearnerProfile = self._profiles.get(mentor_id)
        except AuthError:
            raise LearningError("unknown mentor", code=ErrorCode.NOT_A_MENTOR) from None
        if profile.role not in MENTOR_ROLES:
            raise LearningError(f"role {profile.role} may not confirm practice",
                                code=ErrorCode.NOT_A_MENTOR)
        self._store.profiles.verify_pin(mentor_id, pin)    # AuthError / PinLockedError
        return Mentor(profile.id, profile.role)
