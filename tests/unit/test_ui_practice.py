"""The observed-practice screens (app/ui/views/practice.py) drive the application layer:
the task list, a mentor confirming a task with their PIN, a refused confirmation shown as
a sentence, and the mentor-validated level on the gap report. Real device, real pack."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.core.application import Device, Session
from app.ui.routes import Route, Screen, parse
from tests.e2e.ui_fixtures import (
    ManualClock,
    all_text,
    build,
    by_key,
    click,
    has_key,
    make_device,
    signed_in,
    type_text,
)
from tests.e2e.ui_harness import install_fixture_packs
from tests.support.practice_pack import PACK, make_pack_source

MENTOR_PIN = "4719"


@pytest.fixture
def session(tmp_path: Path) -> Session:
    install_fixture_packs(tmp_path / "device", tmp_path, [make_pack_source(tmp_path / "src")])
    device: Device = make_device(tmp_path, ManualClock(), packs=False)
    s = signed_in(device, "Lina Learner", staff="L-1")
    device.create_profile("Marius Mentor", "M-1", "mentor", "en", MENTOR_PIN, MENTOR_PIN)
    device.create_profile("Petra Officer", "P-1", "prison_officer", "en", "3691", "3691")
    s.practice._today = lambda: date(2026, 11, 23)
    return s


def test_routes_parse_back() -> None:
    for path, screen in ((Route.practice(), Screen.PRACTICE),
                         (Route.observe(PACK, "c1", "t1"), Screen.OBSERVE),
                         (Route.validate(PACK, "officer", "p1"), Screen.VALIDATE)):
        route = parse(path)
        assert route.name is screen and route.personal
    assert parse("/observe/x/../y").name is Screen.WHO


def test_the_task_list_links_to_each_task(session: Session) -> None:
    view, _ctx, rec = build(session, Route.practice())
    text = all_text(view)
    assert "Task t1" in text and "needs 2 tasks observed" in text
    click(by_key(view, "task-c1-t1"))
    assert rec.routes == [Route.observe(PACK, "c1", "t1")]


def test_a_mentor_confirms_a_task_on_the_screen(session: Session) -> None:
    path = Route.observe(PACK, "c1", "t1")
    view, ctx, rec = build(session, path)
    assert "Petra Officer" not in all_text(view)          # only mentors and trainers
    mentor = next(m.id for m in session.practice.mentors())
    click(by_key(view, f"mentor-{mentor}"))
    view, ctx, rec = build(session, path)
    click(by_key(view, "day-1"))                           # yesterday
    view, ctx, rec = build(session, path)
    type_text(by_key(view, "f-mentor-pin"), MENTOR_PIN)
    click(by_key(view, "confirm-observed"))
    assert rec.routes == [Route.practice()]
    (obs,) = session.practice.task(PACK, "c1", "t1").observations
    assert obs.date == "2026-11-22" and obs.checklist == ("a", "b") and obs.mentor == mentor
    assert session.view.form == {}                          # the PIN is not kept
    view, _ctx, _rec = build(session, Route.practice())
    assert "Observed on 2026-11-22" in all_text(view)


def test_a_wrong_pin_is_a_sentence_and_nothing_is_recorded(session: Session) -> None:
    path = Route.observe(PACK, "c1", "t2")
    view, ctx, rec = build(session, path)
    mentor = next(m.id for m in session.practice.mentors())
    click(by_key(view, f"mentor-{mentor}"))
    view, ctx, rec = build(session, path)
    type_text(by_key(view, "f-mentor-pin"), "1357")
    click(by_key(view, "confirm-observed"))
    assert rec.routes == [] and ctx.flashes
    assert session.practice.task(PACK, "c1", "t2").observations == ()
    assert session.view.form.get("pin") == ""


def test_confirming_without_a_mentor_asks_for_one(session: Session) -> None:
    view, ctx, rec = build(session, Route.observe(PACK, "c1", "t3"))
    click(by_key(view, "confirm-observed"))
    assert "Choose the mentor" in " ".join(ctx.flashes)


def test_unticking_an_item_records_a_partial_observation(session: Session) -> None:
    path = Route.observe(PACK, "c1", "t3")
    view, ctx, rec = build(session, path)
    box = by_key(view, "check-b")
    box.value = False
    box.on_change(SimpleNamespace(control=box, data=None))
    mentor = next(m.id for m in session.practice.mentors())
    click(by_key(view, f"mentor-{mentor}"))
    view, ctx, rec = build(session, path)
    type_text(by_key(view, "f-mentor-pin"), MENTOR_PIN)
    click(by_key(view, "confirm-observed"))
    entry = session.practice.task(PACK, "c1", "t3")
    assert entry.observations[0].checklist == ("a",) and not entry.done


def test_the_gap_report_shows_both_levels_and_a_mentor_validates_one(session: Session) -> None:
    v = session.assessment.view(PACK, "officer")
    assert v.assessment is not None
    for task, level in (("p1", 4), ("p2", 2)):
        session.assessment.rate(PACK, "officer", v.assessment, task, level)
    session.assessment.complete(PACK, "officer", v.assessment)
    view, _ctx, rec = build(session, Route.gap(PACK, "officer"))
    assert "self-rated: 4 · not validated yet" in all_text(by_key(view, "levels-p1"))
    click(by_key(view, "validate-p1"))
    assert rec.routes == [Route.validate(PACK, "officer", "p1")]
    path = Route.validate(PACK, "officer", "p1")
    view, _ctx, _rec = build(session, path)
    click(by_key(view, "level-2"))
    view, _ctx, _rec = build(session, path)
    mentor = next(m.id for m in session.practice.mentors())
    click(by_key(view, f"mentor-{mentor}"))
    view, _ctx, rec = build(session, path)
    type_text(by_key(view, "f-mentor-pin"), MENTOR_PIN)
    click(by_key(view, "confirm-level"))
    assert rec.routes == [Route.gap(PACK, "officer")]
    view, _ctx, _rec = build(session, Route.gap(PACK, "officer"))
    assert "self-rated: 4 · validated by a mentor: 2" in all_text(by_key(view, "levels-p1"))


def test_progress_links_to_the_workplace_tasks(session: Session) -> None:
    view, _ctx, rec = build(session, Route.progress())
    assert has_key(view, "open-practice")
    click(by_key(view, "open-practice"))
    assert rec.routes == [Route.practice()]
