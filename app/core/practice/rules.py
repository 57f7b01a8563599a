"""What an observation is worth: one rule for the tablet (before it records one) and the
server (before it counts one towards a certificate).

A ``practice.observed`` event is the *learner's* event (``learner`` = the person
observed) naming the mentor in ``ref.mentor``. It counts only when:

* the mentor is a known learner profile with a role of ``MENTOR_ROLES`` (mentor,
  trainer), is not the learner, and belongs to the learner's facility;
* the task exists in the pack version the event names, and that version reached the
  learner (the caller's ``task_in`` decides: the server answers only for versions it
  published to the learner's facility and role);
* every item of the task's checklist is ticked, and the observation's date is not after
  the day the event was made (one day of slack for time zones) nor before 2020.

The tablet cannot prove a mentor was present beyond the PIN typed on it (a PIN never
leaves a tablet, so the server cannot re-check it); the server re-checks everything else
and, when a rule fails, keeps the event but counts it for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.core.errors import EventError
from app.core.learning.payloads import check_payload
from app.core.practice.tasks import PracticeTask
from app.core.roles import MENTOR_ROLES

OBSERVED = "practice.observed"
SELF_OBSERVED = "self_observed"
UNKNOWN_MENTOR = "unknown_mentor"
NOT_A_MENTOR = "not_a_mentor"
OTHER_FACILITY = "other_facility"
UNKNOWN_TASK = "unknown_task"
CHECKLIST_INCOMPLETE = "checklist_incomplete"
BAD_DATE = "bad_date"
BAD_EVENT = "bad_event"
EARLIEST = date(2020, 1, 1)


@dataclass(frozen=True, slots=True)
class Mentor:
    """What the judge needs to know about the person named as mentor."""
    id: str
    role: str
    facility: str | None = None      # None on a tablet (its profiles are one facility)


@dataclass(frozen=True, slots=True)
class ObservationCheck:
    event: str
    course: str
    task: str
    mentor: str
    #: None: counted; else one of the reason constants above
    reason: str | None = None

    @property
    def counted(self) -> bool:
        return self.reason is None


#: (pack version, course, task) → the task in that version as it reached the learner
TaskLookup = Callable[[Any, str, str], PracticeTask | None]


def mentor_refusal(learner: str, mentor: Mentor | None, facility: str | None) -> str | None:
    """Why ``mentor`` may not confirm ``learner``'s practice (None: they may)."""
    if mentor is None:
        return UNKNOWN_MENTOR
    if mentor.id == learner:
        return SELF_OBSERVED
    if mentor.role not in MENTOR_ROLES:
        return NOT_A_MENTOR
    if facility is not None and mentor.facility != facility:
        return OTHER_FACILITY
    return None


def date_refusal(observed: object, made_at: str) -> str | None:
    """``observed`` (YYYY-MM-DD) may be at most one day after the event's UTC day."""
    try:
        day = date.fromisoformat(observed)  # type: ignore[arg-type]
        made = date.fromisoformat(made_at[:10])
    except (TypeError, ValueError):
        return BAD_DATE
    if day < EARLIEST or day > made + timedelta(days=1):
        return BAD_DATE
    return None


def check_observation(event: dict[str, Any], *, learner: str, facility: str | None,
                      mentor_of: Callable[[str], Mentor | None], task_in: TaskLookup
                      ) -> ObservationCheck:
    ref, data = event["ref"], event.get("data") or {}
    base = ObservationCheck(str(event["id"]), ref["course"], ref["task"], ref["mentor"])

    def refused(reason: str) -> ObservationCheck:
        return ObservationCheck(base.event, base.course, base.task, base.mentor, reason)

    why = mentor_refusal(learner, mentor_of(ref["mentor"]), facility)
    if why is not None:
        return refused(why)
    task = task_in(event.get("pack_version"), ref["course"], ref["task"])
    if task is None:
        return refused(UNKNOWN_TASK)
    if not task.item_ids <= set(data.get("checklist") or ()):
        return refused(CHECKLIST_INCOMPLETE)
    why = date_refusal(data.get("date"), event["at"])
    return refused(why) if why else base


def judge_observations(events: Iterable[dict[str, Any]], *, learner: str, pack: str,
                       facility: str | None, mentor_of: Callable[[str], Mentor | None],
                       task_in: TaskLookup) -> list[ObservationCheck]:
    """Every ``practice.observed`` of ``learner`` in ``pack`` (each id once), judged."""
    out: list[ObservationCheck] = []
    seen: set[str] = set()
    for event in events:
        if not isinstance(event, dict) or event.get("type") != OBSERVED \
                or event.get("learner") != learner or event.get("pack") != pack \
                or event.get("id") in seen:
            continue
        seen.add(str(event.get("id")))
        try:
            check_payload(event)
        except EventError:
            continue
        out.append(check_observation(event, learner=learner, facility=facility,
                                     mentor_of=mentor_of, task_in=task_in))
    return out


def observed_tasks(checks: Iterable[ObservationCheck], courses: Iterable[str] | None = None
                   ) -> set[tuple[str, str]]:
    """Distinct (course, task) validly observed (of ``courses``, when given)."""
    wanted = set(courses) if courses is not None else None
    return {(c.course, c.task) for c in checks
            if c.counted and (wanted is None or c.course in wanted)}
