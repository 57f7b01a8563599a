"""Self-assessment: ratings as events, resume point, gap report, recommendations,
comparison with the previous assessment."""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict
from datetime import timedelta

import pytest

from app.core.assessment import SelfAssessment
from app.core.errors import LearningError
from app.core.events import format_at
from tests.support.learning_fixtures import LEARNER, PACK, START, Recorder, learning_engine
from tests.support.learning_fixtures import self_assessment as make

P = "prison-officer"


def assess(sa: SelfAssessment, log: Recorder, levels: dict[str, int], complete: bool = True
           ) -> str:
    assessment = log.add(sa.start(PACK, P)).assessment
    for task, level in levels.items():
        log.add(sa.rate(PACK, P, assessment, task, level))
    if complete:
        log.add(sa.complete(PACK, P, assessment))
    return assessment


def test_profiles_for_role_and_profile_view() -> None:
    assert [p.id for p in make().profiles()] == [P]
    assert make("psychologist").profiles() == []
    sa = make(language="lt")
    view = sa.profile(PACK, P)
    assert view.title.text == "Pareigūnas" and view.isco == "5413"
    assert [lvl for lvl, _ in view.scale] == [0, 1, 2, 3, 4]
    assert [d.id for d in view.duties] == ["a", "b"]
    assert view.duties[1].title.fallback
    assert [(t.id, t.expected) for t in view.duties[0].tasks] == [("a1", 3), ("a2", 2)]
    assert make(role="reintegration_specialist").profiles()[0].tasks == 2


def test_rating_flow_resume_and_completion() -> None:
    sa = make()
    log = Recorder(sa)
    a = log.add(sa.start(PACK, P)).assessment
    assert log.events[0]["data"]["role"] == "prison_officer"
    assert sa.profiles()[0].open_assessment == a
    assert (sa.resume(PACK, P, a).task, sa.resume(PACK, P, a).index) == ("a1", 0)
    log.add(sa.rate(PACK, P, a, "a1", 2))
    log.add(sa.rate(PACK, P, a, "b1", 2))
    r = sa.resume(PACK, P, a)
    assert (r.duty, r.task, r.index) == ("a", "a2", 1)
    with pytest.raises(LearningError, match="a2"):
        sa.complete(PACK, P, a)
    with pytest.raises(LearningError, match="still open"):
        sa.start(PACK, P)
    log.add(sa.rate(PACK, P, a, "a2", 4))
    log.add(sa.rate(PACK, P, a, "b2", 0))
    assert sa.resume(PACK, P, a) is None
    log.add(sa.complete(PACK, P, a))
    assert sa.profiles()[0].last_completed == a and sa.profiles()[0].open_assessment is None
    assert {t.id: t.rating for d in sa.profile(PACK, P, a).duties for t in d.tasks} == \
        {"a1": 2, "a2": 4, "b1": 2, "b2": 0}
    with pytest.raises(LearningError, match="completed"):
        sa.rate(PACK, P, a, "a1", 3)
    with pytest.raises(LearningError, match="already completed"):
        sa.complete(PACK, P, a)


@pytest.mark.parametrize(("task", "level", "message"), [
    ("a1", 5, "level must be one of"), ("a1", -1, "level"), ("a1", True, "level"),
    ("a1", "3", "level"), ("zz", 1, "no task"),
])
def test_bad_ratings_are_refused(task, level, message) -> None:
    sa = make()
    log = Recorder(sa)
    a = log.add(sa.start(PACK, P)).assessment
    with pytest.raises(LearningError, match=message):
        sa.rate(PACK, P, a, task, level)


def test_unknown_profile_or_assessment() -> None:
    sa = make()
    with pytest.raises(LearningError, match="not installed"):
        sa.start(PACK, "nope")
    with pytest.raises(LearningError, match="no assessment"):
        sa.rate(PACK, P, "nope", "a1", 1)
    with pytest.raises(LearningError, match="no completed assessment"):
        sa.gap_report(PACK, P)


def test_latest_rating_wins_by_order_key_across_tablets() -> None:
    a_tab = make()
    log_a = Recorder(a_tab, device="tab-a")
    a = log_a.add(a_tab.start(PACK, P)).assessment
    log_a.add(a_tab.rate(PACK, P, a, "a1", 1))
    b_tab = make(events=log_a.events)
    log_b = Recorder(b_tab, device="tab-b", start=START + timedelta(hours=1))
    log_b.add(b_tab.rate(PACK, P, a, "a1", 3))     # later on the clock
    log_a.add(a_tab.rate(PACK, P, a, "a2", 2))      # tablet A continues, earlier clock
    a_tab.apply_many(log_b.events)
    b_tab.apply_many(log_a.events)
    for sa in (a_tab, b_tab):
        assert sa.state.get(PACK, P, a).levels() == {"a1": 3, "a2": 2}


def test_gap_report_orders_maps_and_recommends() -> None:
    sa = make()
    log = Recorder(sa)
    assess(sa, log, {"a1": 0, "a2": 2, "b1": 3, "b2": 1})
    rep = sa.gap_report(PACK, P)
    assert rep.completed and rep.role == "prison_officer" and rep.previous is None
    assert [(t.task, t.expected, t.rated, t.gap) for t in rep.tasks] == [
        ("a1", 3, 0, 3), ("b1", 4, 3, 1), ("b2", 2, 1, 1), ("a2", 2, 2, 0)]
    a1 = rep.tasks[0]
    assert [(s.key, s.uri, s.label.text, s.covered) for s in a1.skills] == [
        ("deescalation", "http://data.europa.eu/esco/skill/deesc",
         "apply de-escalation techniques", True)]
    assert a1.courses == (f"{PACK}/boundaries",)
    assert [(d.duty, d.expected, d.rated, d.gap) for d in rep.duties] == [
        ("a", 2.5, 1.0, 1.5), ("b", 3.0, 2.0, 1.0)]
    assert [(r.course, r.weight, r.tasks) for r in rep.recommendations] == [
        ("boundaries", 3.0, ("a1",)), ("reporting", 1.0, ("b1",))]
    assert [s.key for s in rep.not_covered] == ["first-aid"]
    assert rep.not_covered[0].uri.endswith("/aid") and rep.changes == ()


def test_completed_courses_are_ranked_after_open_ones() -> None:
    learning = learning_engine()
    sa = make(learning=learning.state)
    log = Recorder(sa, learning)
    log.add([{"learner": LEARNER, "type": "course.completed", "pack": PACK,
              "ref": {"course": "boundaries"}, "data": {}}])
    assess(sa, log, {"a1": 0, "a2": 2, "b1": 3, "b2": 1})
    recs = sa.gap_report(PACK, P).recommendations
    assert [(r.course, r.completed) for r in recs] == [("reporting", False),
                                                       ("boundaries", True)]


def test_role_without_expectation_skips_tasks() -> None:
    sa = make(role="reintegration_specialist", language="lt")
    log = Recorder(sa)
    a = log.add(sa.start(PACK, P)).assessment
    assert sa.resume(PACK, P, a).task == "a1"
    log.add(sa.rate(PACK, P, a, "a1", 0))
    assert sa.resume(PACK, P, a).task == "b1"
    log.add(sa.rate(PACK, P, a, "b1", 3))
    log.add(sa.complete(PACK, P, a))
    rep = sa.gap_report(PACK, P)
    assert [(t.task, t.gap) for t in rep.tasks] == [("a1", 2), ("b1", 0)]
    # the reintegration specialist sees only the courses of that role
    assert [r.course for r in rep.recommendations] == []
    assert rep.tasks[0].skills[0].label.text == "deeskalacija"


def test_report_of_an_unfinished_assessment_lists_unrated_tasks() -> None:
    sa = make()
    log = Recorder(sa)
    a = assess(sa, log, {"a1": 1}, complete=False)
    rep = sa.gap_report(PACK, P, a)
    assert not rep.completed and rep.unrated == ("a2", "b1", "b2")
    assert [t.task for t in rep.tasks] == ["a1"]


def test_comparison_with_previous_assessment() -> None:
    sa = make()
    log = Recorder(sa)
    first = assess(sa, log, {"a1": 0, "a2": 2, "b1": 3, "b2": 1})
    second = assess(sa, log, {"a1": 2, "a2": 2, "b1": 1, "b2": 1})
    rep = sa.gap_report(PACK, P)
    assert rep.assessment == second and rep.previous == first
    trends = {(c.kind, c.id): (c.before, c.after, c.trend) for c in rep.changes}
    assert trends == {("task", "a1"): (0, 2, "improved"), ("task", "a2"): (2, 2, "same"),
                      ("task", "b1"): (3, 1, "worse"), ("task", "b2"): (1, 1, "same"),
                      ("duty", "a"): (1.0, 2.0, "improved"), ("duty", "b"): (2.0, 1.0, "worse")}
    old = sa.gap_report(PACK, P, first)
    assert old.previous is None and old.changes == ()


def test_fold_is_order_independent_and_ignores_hostile_events() -> None:
    sa = make()
    log = Recorder(sa)
    assess(sa, log, {"a1": 0, "a2": 2, "b1": 3, "b2": 1})
    assess(sa, log, {"a1": 2, "a2": 3, "b1": 1, "b2": 1})
    base = asdict(sa.gap_report(PACK, P))
    hostile = [
        {"id": str(uuid.uuid4()), "learner": LEARNER, "device": "x", "seq": 1,
         "at": format_at(START), "type": "selfassessment.rated", "pack": PACK,
         "ref": {"profile": P, "assessment": "zz", "task": "a1"}, "data": {"level": "high"}},
        {"id": str(uuid.uuid4()), "learner": "other", "device": "x", "seq": 2,
         "at": format_at(START), "type": "selfassessment.completed", "pack": PACK,
         "ref": {"profile": P, "assessment": "zz"}, "data": {}},
    ]
    for seed in range(5):
        events = log.events + log.events[:7] + hostile
        random.Random(seed).shuffle(events)
        other = make(events=events)
        assert asdict(other.gap_report(PACK, P)) == base
        assert len(other.state.ignored) == 2
