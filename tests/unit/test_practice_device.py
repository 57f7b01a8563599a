"""Observed practice on a shared tablet (app/core/application/practice.py): a mentor
confirms the signed-in learner's task with their own PIN; the learner themself, a
learner-role profile or a wrong PIN cannot; a mentor-validated rating shows beside the
self-rating in the gap report. Real Store, real installed pack."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.core.application import Device, Session
from app.core.errors import AuthError, ErrorCode, LearningError, PinLockedError
from app.core.store.profiles import FREE_TRIES
from tests.e2e.ui_fixtures import PIN, ManualClock, make_device, signed_in
from tests.e2e.ui_harness import install_fixture_packs
from tests.support.practice_pack import PACK, make_pack_source

MENTOR_PIN = "4719"
TODAY = date(2026, 11, 23)


@pytest.fixture
def device(tmp_path: Path) -> Device:
    src = make_pack_source(tmp_path / "src")
    install_fixture_packs(tmp_path / "device", tmp_path, [src])
    return make_device(tmp_path, ManualClock(), packs=False)


def learner_and_mentor(device: Device, mentor_role: str = "mentor") -> tuple[Session, str]:
    session = signed_in(device, "Lina Learner", staff="L-1")
    mentor = device.create_profile("Marius Mentor", "M-1", mentor_role, "en", MENTOR_PIN,
                                   MENTOR_PIN)
    session.practice._today = lambda: TODAY
    return session, mentor


def observations(device: Device, learner: str) -> list[dict[str, Any]]:
    return [e for e in device.store.events(learner) if e["type"] == "practice.observed"]


def test_tasks_are_listed_with_their_checklist_and_requirement(device: Device) -> None:
    session, _ = learner_and_mentor(device)
    tasks = session.practice.tasks()
    assert [(t.task.course, t.task.id) for t in tasks] == [
        ("c1", "t1"), ("c1", "t2"), ("c1", "t3"), ("c2", "u1")]
    assert [i.id for i in tasks[0].task.checklist] == ["a", "b"]
    assert (tasks[0].required, tasks[3].required) == (2, 0)
    assert not any(t.done for t in tasks)


def test_a_mentor_confirms_with_their_own_pin_and_the_learner_stays_signed_in(
        device: Device) -> None:
    session, mentor = learner_and_mentor(device)
    assert [m.id for m in session.practice.mentors()] == [mentor]
    session.practice.confirm(PACK, "c1", "t1", mentor_id=mentor, pin=MENTOR_PIN,
                             observed_on=date(2026, 11, 22), checklist=["b", "a"])
    assert session.learner_id is not None and session.display_name == "Lina Learner"
    (event,) = observations(device, session.learner_id)
    assert event["learner"] == session.learner_id
    assert event["ref"] == {"course": "c1", "task": "t1", "mentor": mentor}
    assert event["data"]["date"] == "2026-11-22"
    assert event["data"]["checklist"] == ["a", "b"]           # the pack's order
    assert event in device.store.outbox(500)                   # durable, waiting for sync
    entry = session.practice.task(PACK, "c1", "t1")
    assert entry.done and entry.observations[0].mentor == mentor
    assert session.practice.mentor_name(mentor) == "Marius Mentor"


def test_a_mentor_cannot_confirm_their_own_task(device: Device) -> None:
    """A mentor signed in as the learner: their own tile is not offered and a direct call
    is refused before any PIN is tried."""
    session = signed_in(device, "Marius Mentor", role="mentor", staff="M-1")
    session.practice._today = lambda: TODAY
    assert session.practice.mentors() == []
    with pytest.raises(LearningError) as exc:
        session.practice.confirm(PACK, "c1", "t1", mentor_id=str(session.learner_id), pin=PIN,
                                 observed_on=TODAY, checklist=["a", "b"])
    assert exc.value.code is ErrorCode.MENTOR_IS_LEARNER
    assert observations(device, str(session.learner_id)) == []


def test_a_learner_role_profile_cannot_confirm(device: Device) -> None:
    session, colleague = learner_and_mentor(device, mentor_role="prison_officer")
    assert session.practice.mentors() == []
    with pytest.raises(LearningError) as exc:
        session.practice.confirm(PACK, "c1", "t1", mentor_id=colleague, pin=MENTOR_PIN,
                                 observed_on=TODAY, checklist=["a", "b"])
    assert exc.value.code is ErrorCode.NOT_A_MENTOR
    assert observations(device, str(session.learner_id)) == []


def test_a_trainer_may_confirm(device: Device) -> None:
    session, trainer = learner_and_mentor(device, mentor_role="trainer")
    session.practice.confirm(PACK, "c2", "u1", mentor_id=trainer, pin=MENTOR_PIN,
                             observed_on=TODAY, checklist=["a", "b"])
    assert len(observations(device, str(session.learner_id))) == 1


def test_a_wrong_mentor_pin_records_nothing_and_counts_towards_the_lock(device: Device) -> None:
    session, mentor = learner_and_mentor(device)
    with pytest.raises(AuthError):
        session.practice.confirm(PACK, "c1", "t1", mentor_id=mentor, pin="1357",
                                 observed_on=TODAY, checklist=["a", "b"])
    assert observations(device, str(session.learner_id)) == []
    for tries in range(2, FREE_TRIES + 1):     # the same growing wait as the sign-in pad
        with pytest.raises(PinLockedError if tries == FREE_TRIES else AuthError):
            session.practice.confirm(PACK, "c1", "t1", mentor_id=mentor, pin="1357",
                                     observed_on=TODAY, checklist=["a", "b"])
    with pytest.raises(PinLockedError):        # locked: even the right PIN waits
        session.practice.confirm(PACK, "c1", "t1", mentor_id=mentor, pin=MENTOR_PIN,
                                 observed_on=TODAY, checklist=["a", "b"])
    assert observations(device, str(session.learner_id)) == []


@pytest.mark.parametrize("when, items, task, code", [
    (date(2026, 11, 24), ["a", "b"], "t1", ErrorCode.OBSERVATION_DATE_BAD),   # tomorrow
    (date(2019, 12, 31), ["a", "b"], "t1", ErrorCode.OBSERVATION_DATE_BAD),
    (TODAY, ["a", "zz"], "t1", ErrorCode.TASK_UNKNOWN),
    (TODAY, ["a"], "nope", ErrorCode.TASK_UNKNOWN),
])
def test_what_the_tablet_knows_is_worthless_is_refused(device: Device, when: date,
                                                      items: list[str], task: str,
                                                      code: ErrorCode) -> None:
    session, mentor = learner_and_mentor(device)
    with pytest.raises(LearningError) as exc:
        session.practice.confirm(PACK, "c1", task, mentor_id=mentor, pin=MENTOR_PIN,
                                 observed_on=when, checklist=items)
    assert exc.value.code is code
    assert observations(device, str(session.learner_id)) == []


def test_a_partial_checklist_is_recorded_but_not_done(device: Device) -> None:
    session, mentor = learner_and_mentor(device)
    session.practice.confirm(PACK, "c1", "t2", mentor_id=mentor, pin=MENTOR_PIN,
                             observed_on=TODAY, checklist=["a"])
    entry = session.practice.task(PACK, "c1", "t2")
    assert len(entry.observations) == 1 and not entry.done


def test_the_gap_report_shows_self_rated_and_validated_levels_side_by_side(
        device: Device) -> None:
    session, mentor = learner_and_mentor(device)
    view = session.assessment.view(PACK, "officer")
    assert view.assessment is not None
    session.assessment.rate(PACK, "officer", view.assessment, "p1", 4)
    session.assessment.rate(PACK, "officer", view.assessment, "p2", 2)
    session.assessment.complete(PACK, "officer", view.assessment)
    session.practice.validate_rating(PACK, "officer", "p1", mentor_id=mentor, pin=MENTOR_PIN,
                                     level=2, self_level=4)        # adjusted down
    session.practice.validate_rating(PACK, "officer", "p2", mentor_id=mentor, pin=MENTOR_PIN,
                                     level=2, self_level=2)        # confirmed
    report = session.assessment.gap_report(PACK, "officer")
    by_task = {t.task: (t.rated, t.validated) for t in report.tasks}
    assert by_task == {"p1": (4, 2), "p2": (2, 2)}
    with pytest.raises(LearningError) as exc:
        session.practice.validate_rating(PACK, "officer", "p1", mentor_id=mentor,
                                         pin=MENTOR_PIN, level=3, self_level=4)
    assert "scale" in str(exc.value)


def test_a_mentor_cannot_validate_their_own_rating(device: Device) -> None:
    session = signed_in(device, "Marius Mentor", role="mentor", staff="M-1")
    with pytest.raises(LearningError) as exc:
        session.practice.validate_rating(PACK, "officer", "p1", mentor_id=str(session.learner_id),
                                         pin=PIN, level=2, self_level=2)
    assert exc.value.code is ErrorCode.MENTOR_IS_LEARNER


def test_observations_survive_a_lock_and_sign_in_again(device: Device) -> None:
    session, mentor = learner_and_mentor(device)
    session.practice.confirm(PACK, "c1", "t3", mentor_id=mentor, pin=MENTOR_PIN,
                             observed_on=TODAY, checklist=["a", "b"])
    learner = str(session.learner_id)
    session.lock()
    with pytest.raises(AuthError):
        session.practice.tasks()
    assert session.sign_in(learner, PIN)
    assert session.practice.task(PACK, "c1", "t3").done



def test_observations_are_carried_by_the_fold_snapshot(device: Device) -> None:
    """Sign-in restores a snapshot plus what came since (app/core/learning/history.py);
    the practice.* events ride in the snapshot's `other` part (encoded with the folds),
    so an observation folded into a snapshot is still there at the next sign-in."""
    from app.core.learning import LearnerHistory

    session, mentor = learner_and_mentor(device)
    session.practice.confirm(PACK, "c1", "t3", mentor_id=mentor, pin=MENTOR_PIN,
                             observed_on=TODAY, checklist=["a", "b"])
    learner = str(session.learner_id)
    history = LearnerHistory.empty(learner)
    history.apply_batch(device.store.events(learner))
    history.apply_batch(device.store.events(learner))              # duplicates: kept once
    restored = LearnerHistory.decode(learner, history.encode(), history.mark)
    (event,) = restored.fold_for(learner, "other")
    assert event["type"] == "practice.observed" and event["ref"]["task"] == "t3"
    with pytest.raises(ValueError):       # another learner's snapshot is never used
        LearnerHistory.decode("someone-else", history.encode(), history.mark)
