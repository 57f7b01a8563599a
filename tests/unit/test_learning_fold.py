"""Property tests of the progress fold: any order, duplicates, two devices merged."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.assessment import SelfAssessment
from app.core.errors import EventError, LearningError
from app.core.events import format_at, parse_at
from app.core.learning import LearningEngine
from app.core.learning.fold import utc_day
from tests.support.learning_fixtures import LEARNER, PACK, START, Recorder
from tests.support.learning_fixtures import engine_pair as engines

COURSES = ["boundaries", "reporting"]
LESSONS = {"boundaries": [("01-why", 3), ("02-grooming", 2)], "reporting": [("01-intro", 1)]}
DAYS = [START.date() + timedelta(days=d) for d in (0, 1, 3, 9, 30)]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

action = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(COURSES), st.integers(0, 1)),
    st.tuples(st.just("card"), st.sampled_from(COURSES), st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("start"), st.sampled_from(COURSES), st.integers(0, 2**32)),
    st.tuples(st.just("answer"), st.sampled_from(COURSES), st.integers(0, 9), st.integers(0, 3),
              st.booleans()),
    st.tuples(st.just("submit"), st.sampled_from(COURSES)),
    st.tuples(st.just("review"), st.integers(0, 9), st.integers(0, 3)),
    st.tuples(st.just("complete")),
    st.tuples(st.just("rate"), st.sampled_from(["a1", "a2", "b1", "b2"]), st.integers(0, 4)),
    st.tuples(st.just("finish")),
    st.tuples(st.just("read"), st.sampled_from(COURSES)),
    st.tuples(st.just("ace"), st.sampled_from(COURSES), st.integers(0, 2**32)),
    st.tuples(st.just("guess"), st.sampled_from(COURSES), st.integers(0, 2**32)),
    st.tuples(st.just("review"), st.integers(0, 9), st.integers(0, 3)),
    st.tuples(st.just("assess"), st.lists(st.integers(0, 4), min_size=4, max_size=4)),
)
CORRECT = {"q1": ["a"], "q2": ["a", "b"], "q3": ["false"], "q4a": ["b"], "q4b": ["true"]}


def play(actions: list[tuple], device: str, offset: timedelta) -> list[dict[str, Any]]:
    """Run actions through real engines on one tablet; refused actions are skipped."""
    learning, sa = engines()
    log = Recorder(learning, sa, device=device, start=START + offset, step=timedelta(hours=5))
    for act in actions:
        try:
            if act[0] == "read":      # read a whole course
                for lesson, cards in LESSONS[act[1]]:
                    for card in range(cards):
                        log.add(learning.view_card(PACK, act[1], lesson, card, seconds=5))
            elif act[0] == "guess":   # an attempt answered with the first option shown
                attempt = learning.outline(PACK, act[1]).quiz.open_attempt or \
                    log.add(learning.start_quiz(PACK, act[1], seed=act[2])).attempt
                for q in learning.attempt(PACK, act[1], attempt).questions:
                    if not q.answered:
                        log.add(learning.answer(PACK, act[1], attempt, q.id, [q.options[0].id]))
                log.add(learning.submit(PACK, act[1], attempt))
            elif act[0] == "assess":  # a whole self-assessment
                current = sa.open_assessment(PACK, "prison-officer") or \
                    log.add(sa.start(PACK, "prison-officer")).assessment
                for task, level in zip(["a1", "a2", "b1", "b2"], act[1], strict=True):
                    log.add(sa.rate(PACK, "prison-officer", current, task, level))
                log.add(sa.complete(PACK, "prison-officer", current))
            elif act[0] == "ace":     # a fully correct attempt
                attempt = learning.outline(PACK, act[1]).quiz.open_attempt or \
                    log.add(learning.start_quiz(PACK, act[1], seed=act[2])).attempt
                for q in learning.attempt(PACK, act[1], attempt).questions:
                    if not q.answered:
                        log.add(learning.answer(PACK, act[1], attempt, q.id,
                                                CORRECT.get(q.id, ["x"])))
                log.add(learning.submit(PACK, act[1], attempt))
            else:
                log.add(_step(learning, sa, act))
        except LearningError:
            pass
    return log.events


def _step(learning: LearningEngine, sa: SelfAssessment, act: tuple) -> Any:
    kind = act[0]
    if kind == "open":
        lessons = LESSONS[act[1]]
        return learning.open_lesson(PACK, act[1], lessons[act[2] % len(lessons)][0])
    if kind == "card":
        lesson, cards = LESSONS[act[1]][act[2] % len(LESSONS[act[1]])]
        return learning.view_card(PACK, act[1], lesson, act[3] % cards, seconds=act[3] * 0.7 + 0.1)
    if kind == "start":
        return learning.start_quiz(PACK, act[1], seed=act[2])
    if kind in ("answer", "submit"):
        attempt = learning.outline(PACK, act[1]).quiz.open_attempt
        if attempt is None:
            raise LearningError("no open attempt")
        if kind == "submit":
            return learning.submit(PACK, act[1], attempt)
        view = learning.attempt(PACK, act[1], attempt)
        q = view.questions[act[2] % len(view.questions)]
        opts = [o.id for o in q.options]
        choice = opts[: 1 + act[3] % 2] if q.type == "multiple" and act[4] else \
            [opts[act[3] % len(opts)]]
        return learning.answer(PACK, act[1], attempt, q.id, choice)
    if kind == "review":
        queue = learning.review_queue(today=DAYS[-1], limit=100)
        if not queue:
            raise LearningError("nothing to review")
        item = queue[act[1] % len(queue)]
        opts = [o.id for o in item.question.options]
        return learning.answer_review(item.pack, item.course, item.question.id,
                                      [opts[act[2] % len(opts)]])
    if kind == "complete":
        return learning.propose_completions()
    current = sa.open_assessment(PACK, "prison-officer")
    if kind == "rate":
        if current is None:
            return sa.start(PACK, "prison-officer")
        return sa.rate(PACK, "prison-officer", current, act[1], act[2])
    if current is None:
        raise LearningError("no open assessment")
    return sa.complete(PACK, "prison-officer", current)


def snapshot(events: list[dict[str, Any]]) -> dict[str, Any]:
    learning, sa = engines(events)
    snap = {str(day): learning.snapshot(today=day) for day in DAYS}
    snap["profiles"] = [asdict(p) for p in sa.profiles()]
    try:
        snap["gaps"] = asdict(sa.gap_report(PACK, "prison-officer"))
    except LearningError as exc:
        snap["gaps"] = str(exc)
    return snap


@SETTINGS
@given(actions=st.lists(action, min_size=3, max_size=40), data=st.data())
def test_same_state_for_any_order_and_duplicates(actions, data) -> None:
    events = play(actions, "tab-a", timedelta(0))
    reference = snapshot(events)
    shuffled = data.draw(st.permutations(events))
    dups = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    assert snapshot(list(shuffled) + dups) == reference
    # incremental apply, one event at a time in another order, gives the same state
    learning, sa = engines()
    for e in reversed(events):
        learning.apply(e)
        sa.apply(e)
    assert learning.snapshot(today=DAYS[-1]) == reference[str(DAYS[-1])]


@SETTINGS
@given(a=st.lists(action, min_size=3, max_size=30), b=st.lists(action, min_size=3, max_size=30),
       offset=st.integers(-48, 48), data=st.data())
def test_two_devices_merged_give_the_same_state_on_both(a, b, offset, data) -> None:
    events_a = play(a, "tab-a", timedelta(0))
    events_b = play(b, "tab-b", timedelta(hours=offset))
    on_a, sa_a = engines(events_a)
    on_b, sa_b = engines(events_b)
    # sync: each tablet receives the other's events, in any order, some twice
    incoming_b = list(data.draw(st.permutations(events_b))) + events_b[:3]
    incoming_a = list(data.draw(st.permutations(events_a))) + events_a[-3:]
    for e in incoming_b:
        on_a.apply(e)
        sa_a.apply(e)
    for e in incoming_a:
        on_b.apply(e)
        sa_b.apply(e)
    for day in (DAYS[0], DAYS[-1]):
        assert on_a.snapshot(today=day) == on_b.snapshot(today=day)
    assert [asdict(p) for p in sa_a.profiles()] == [asdict(p) for p in sa_b.profiles()]
    merged = snapshot(events_a + events_b)
    assert on_a.snapshot(today=DAYS[-1]) == merged[str(DAYS[-1])]
    # never more than one completion counted per course
    for record in on_a.my_progress().completed:
        assert sum(1 for r in on_a.my_progress().completed if r.course == record.course) == 1


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


@SETTINGS
@given(etype=st.sampled_from(sorted(["lesson.opened", "card.viewed", "quiz.started",
                                     "answer.given", "quiz.submitted", "course.completed",
                                     "review.answered", "certificate.received",
                                     "selfassessment.started", "selfassessment.rated",
                                     "selfassessment.completed"])),
       ref=st.dictionaries(st.sampled_from(["course", "lesson", "card", "attempt", "question",
                                            "profile", "assessment", "task", "certificate"]),
                           st.sampled_from(["boundaries", "01-why", "0", "7", "q1", "q4a",
                                            "prison-officer", "a1", "x"]), max_size=6),
       data=st.dictionaries(st.sampled_from(["seed", "questions", "choice", "score", "passed",
                                             "seconds", "level", "role", "credential"]),
                            json_value, max_size=5))
def test_fold_never_raises_on_hostile_payloads(etype, ref, data) -> None:
    learning, sa = engines()
    event = {"id": str(uuid.uuid4()), "learner": LEARNER, "device": "x", "seq": 1,
             "at": format_at(START), "type": etype, "pack": PACK, "ref": ref, "data": data}
    learning.apply(event)
    sa.apply(event)
    learning.snapshot(today=date(2026, 12, 1))
    learning.propose_completions()
    [asdict(p) for p in sa.profiles()]


# -- the fold's building blocks --------------------------------------------------------
at_like = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.just(UTC)).map(format_at),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z?\n?\Z"),
    st.text(max_size=30), st.none(), st.integers())


@settings(max_examples=400, deadline=None)
@given(at=at_like)
def test_utc_day_accepts_and_rejects_exactly_what_parse_at_does(at: Any) -> None:
    for _ in range(2):                  # the second call may take the cached fast path
        try:
            expected: Any = parse_at(at).date()
        except EventError as exc:
            expected = str(exc)
        try:
            got: Any = utc_day(at)
        except EventError as exc:
            got = str(exc)
        assert got == expected


def test_time_spent_is_exact_whatever_the_order_of_events() -> None:
    """Fractional seconds are summed exactly (a float sum depends on the order: these five
    give 1801.3 or 1801.3000000000002)."""
    learning, _ = engines()
    log = Recorder(learning)
    for i, seconds in enumerate([0.1, 0.2, 0.3, 0.7, 4000]):
        log.add(learning.view_card(PACK, "boundaries", "01-why", i % 3, seconds=seconds))
    totals = set()
    for events in itertools.permutations(log.events):
        learning, _ = engines(events)
        totals.add(learning.my_progress().seconds)
    assert totals == {1801.3}
