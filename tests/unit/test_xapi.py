"""Every event type maps to a valid xAPI 1.0.3 statement."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest

from app.core.errors import EventError
from app.core.events import EVENT_TYPES
from app.core.learning.xapi import VERBS, statement
from tests.support.learning_fixtures import LEARNER, PACK, Recorder, engine_pair

HOME = "https://learn.example.org/"
B = "boundaries"
ISO_DURATION = re.compile(r"^P(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


def every_event() -> list[dict]:
    engine, sa = engine_pair()
    log = Recorder(engine, sa)
    log.add(engine.open_lesson(PACK, B, "01-why"))
    for lesson, cards in (("01-why", 3), ("02-grooming", 2)):
        for i in range(cards):
            log.add(engine.view_card(PACK, B, lesson, i, seconds=12.5))
    attempt = log.add(engine.start_quiz(PACK, B, seed=9)).attempt
    log.add(engine.answer(PACK, B, attempt, "q1", ["b"]))
    log.add(engine.answer(PACK, B, attempt, "q2", ["a", "b"]))
    log.add(engine.answer(PACK, B, attempt, "q3", ["false"]))
    log.add(engine.submit(PACK, B, attempt))                         # failed
    attempt = log.add(engine.start_quiz(PACK, B, seed=10)).attempt
    for q, c in (("q1", ["a"]), ("q2", ["a", "b"]), ("q3", ["false"]), ("q4a", ["b"]),
                 ("q4b", ["true"])):
        log.add(engine.answer(PACK, B, attempt, q, c))
    log.add(engine.submit(PACK, B, attempt))                         # passed + completed
    log.add(engine.answer_review(PACK, B, "q1", ["a"]))
    a = log.add(sa.start(PACK, "prison-officer")).assessment
    for task, level in (("a1", 1), ("a2", 2), ("b1", 3), ("b2", 0)):
        log.add(sa.rate(PACK, "prison-officer", a, task, level))
    log.add(sa.complete(PACK, "prison-officer", a))
    log.add([{"learner": LEARNER, "type": "certificate.received", "pack": PACK,
              "ref": {"certificate": "cert-7", "course": B},
              "data": {"credential": {"id": "urn:uuid:1"}, "title": "Boundaries"}}])
    log.add([{"learner": LEARNER, "type": "practice.observed", "pack": PACK, "pack_version": 1,
              "ref": {"course": B, "task": "t1", "mentor": MENTOR},
              "data": {"date": "2026-03-01", "checklist": ["a", "b"], "lang": "en"}},
             {"learner": LEARNER, "type": "practice.rated", "pack": PACK, "pack_version": 1,
              "ref": {"profile": "prison-officer", "task": "a1", "duty": "a", "mentor": MENTOR},
              "data": {"level": 2, "self_level": 3}}])
    return log.events


MENTOR = "7d1e0a3c-5b2f-4e8d-9c6a-1f0e2d3c4b5a"
EVENTS = every_event()


def test_observed_practice_names_the_mentor_as_instructor() -> None:
    for etype in ("practice.observed", "practice.rated"):
        (event,) = [e for e in EVENTS if e["type"] == etype]
        stmt = statement(event, home_page=HOME)
        assert stmt["context"]["instructor"] == {"objectType": "Agent",
                                                 "account": {"homePage": HOME, "name": MENTOR}}
        assert stmt["actor"]["account"]["name"] == LEARNER
    observed = statement(next(e for e in EVENTS if e["type"] == "practice.observed"),
                         home_page=HOME)
    assert observed["object"]["id"].endswith(f"/{PACK}/course/{B}/task/t1")
    assert observed["result"] == {"completion": True}


def test_fixture_covers_every_event_type() -> None:
    assert {e["type"] for e in EVENTS} == set(EVENT_TYPES)


def _iri(value: str) -> bool:
    return isinstance(value, str) and re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value) is not None


def check_statement(stmt: dict, event: dict) -> None:
    """Required and constrained fields of xAPI 1.0.3 (Data section 2.4)."""
    assert set(stmt) <= {"id", "actor", "verb", "object", "result", "context", "timestamp"}
    assert "stored" not in stmt and "authority" not in stmt and "version" not in stmt
    assert str(uuid.UUID(stmt["id"])) == stmt["id"] == event["id"]
    actor = stmt["actor"]
    assert actor == {"objectType": "Agent", "account": {"homePage": HOME, "name": LEARNER}}
    verb = stmt["verb"]
    assert _iri(verb["id"]) and verb["id"] in VERBS.values()
    assert isinstance(verb["display"], dict) and verb["display"]["en-US"]
    obj = stmt["object"]
    assert obj["objectType"] == "Activity" and _iri(obj["id"])
    assert obj["id"].startswith("https://learn.example.org/xapi/activities/")
    if "definition" in obj and "type" in obj["definition"]:
        assert _iri(obj["definition"]["type"])
    if obj.get("definition", {}).get("type", "").endswith("cmi.interaction"):
        assert obj["definition"]["interactionType"] in ("choice", "true-false", "likert")
    result = stmt.get("result", {})
    if "score" in result:
        s = result["score"]
        assert -1 <= s["scaled"] <= 1
        if "raw" in s:
            assert s.get("min", s["raw"]) <= s["raw"] <= s.get("max", s["raw"])
    for key in ("success", "completion"):
        if key in result:
            assert isinstance(result[key], bool)
    if "response" in result:
        assert isinstance(result["response"], str)
    if "duration" in result:
        assert ISO_DURATION.match(result["duration"])
    ctx = stmt["context"]
    if "registration" in ctx:
        assert str(uuid.UUID(ctx["registration"])) == ctx["registration"]
    assert all(_iri(k) for k in ctx.get("extensions", {}))
    for parent in ctx.get("contextActivities", {}).get("parent", []):
        assert parent["objectType"] == "Activity" and _iri(parent["id"])
    assert stmt["timestamp"] == event["at"]
    datetime.fromisoformat(stmt["timestamp"].replace("Z", "+00:00"))
    json.dumps(stmt)


@pytest.mark.parametrize("event", EVENTS, ids=[f"{i}-{e['type']}" for i, e in enumerate(EVENTS)])
def test_every_event_gives_a_valid_statement(event: dict) -> None:
    stmt = statement(event, home_page=HOME)
    check_statement(stmt, event)
    assert statement(event, home_page=HOME) == stmt   # deterministic → idempotent push


def by_type(etype: str) -> list[dict]:
    return [statement(e, home_page=HOME) for e in EVENTS if e["type"] == etype]


def test_verbs_objects_and_results_per_type() -> None:
    adl = "http://adlnet.gov/expapi/verbs/"
    verbs = {e["type"]: set() for e in EVENTS}
    for e in EVENTS:
        verbs[e["type"]].add(statement(e, home_page=HOME)["verb"]["id"])
    assert verbs["card.viewed"] == {adl + "experienced"}
    assert verbs["quiz.submitted"] == {adl + "passed", adl + "failed"}
    assert verbs["course.completed"] == {adl + "completed"}
    assert verbs["answer.given"] == {adl + "answered"}

    card = by_type("card.viewed")[0]
    assert card["object"]["id"] == (
        "https://learn.example.org/xapi/activities/promote-test/course/boundaries"
        "/lesson/01-why/card/0")
    assert card["result"]["duration"] == "PT12.5S" and card["context"]["language"] == "lt"
    assert card["context"]["extensions"] == {
        "https://learn.example.org/xapi/extensions/pack": PACK,
        "https://learn.example.org/xapi/extensions/pack-version": 1}
    assert card["context"]["contextActivities"]["parent"][0]["id"].endswith("/course/boundaries")

    failed, passed = by_type("quiz.submitted")
    assert failed["result"]["score"] == {"scaled": 0.4, "raw": 40.0, "min": 0, "max": 100}
    assert (failed["result"]["success"], passed["result"]["success"]) == (False, True)
    attempt = next(e for e in EVENTS if e["type"] == "quiz.submitted")["ref"]["attempt"]
    assert failed["context"]["registration"] == attempt

    answers = by_type("answer.given")
    assert answers[0]["result"]["response"] == "b" and answers[0]["result"]["success"] is False
    assert answers[1]["result"]["response"] == "a[,]b"
    assert answers[2]["object"]["definition"]["interactionType"] == "true-false"
    assert answers[2]["result"]["response"] == "false"
    review = by_type("review.answered")[0]
    assert review["context"]["extensions"]["https://learn.example.org/xapi/extensions/review"]

    rated = by_type("selfassessment.rated")[2]
    assert rated["verb"]["id"] == adl + "responded"
    assert rated["object"]["id"].endswith("/profile/prison-officer/task/b1")
    assert rated["result"]["score"] == {"raw": 3, "min": 0, "max": 4, "scaled": 0.75}
    assert uuid.UUID(rated["context"]["registration"])

    done = by_type("course.completed")[0]
    assert done["result"]["completion"] is True and done["result"]["score"]["raw"] == 100.0
    cert = by_type("certificate.received")[0]
    assert cert["object"]["definition"]["name"] == {"en-US": "Boundaries"}


def test_non_uuid_attempt_is_not_a_registration() -> None:
    event = dict(next(e for e in EVENTS if e["type"] == "quiz.started"))
    event["ref"] = {**event["ref"], "attempt": "attempt-1"}
    assert "registration" not in statement(event, home_page=HOME)["context"]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda e: e.update(id="not-a-uuid"), "id"),
    (lambda e: e.update(type="lesson.burnt"), "type"),
    (lambda e: e.update(ref={"course": B}), "ref.lesson"),
    (lambda e: e.update(at="yesterday"), "at"),
])
def test_bad_events_are_refused(mutate, message) -> None:
    event = json.loads(json.dumps(EVENTS[0]))
    mutate(event)
    with pytest.raises(EventError, match=message):
        statement(event, home_page=HOME)


@pytest.mark.parametrize("home", ["", "learn.example.org", "ftp://x", "https://"])
def test_bad_home_page_is_refused(home: str) -> None:
    with pytest.raises(EventError, match="home_page"):
        statement(EVENTS[0], home_page=home)


def test_bad_scores_are_refused() -> None:
    event = json.loads(json.dumps(next(e for e in EVENTS if e["type"] == "quiz.submitted")))
    event["data"]["score"] = 250
    with pytest.raises(EventError, match="score"):
        statement(event, home_page=HOME)


# ------------------------------------------------------------------- statement validation
def test_out_of_range_payloads_are_refused_not_exported() -> None:
    card = json.loads(json.dumps(next(e for e in EVENTS if e["type"] == "card.viewed")))
    card["data"]["seconds"] = 1e7                           # was exported as "PT1e+07S"
    with pytest.raises(EventError, match="data.seconds"):
        statement(card, home_page=HOME)
    answer = json.loads(json.dumps(next(e for e in EVENTS if e["type"] == "answer.given")))
    answer["data"]["score"] = 1.5
    with pytest.raises(EventError, match="data.score"):
        statement(answer, home_page=HOME)


@pytest.mark.parametrize(("seconds", "text"), [
    (12.5, "PT12.5S"), (86_400, "PT86400S"), (0, "PT0S"), (0.004, "PT0S"), (1e-9, "PT0S"),
    (59.999, "PT60S"), (3600.25, "PT3600.25S")])
def test_durations_are_plain_iso_8601(seconds: float, text: str) -> None:
    from app.core.learning.xapi import duration
    assert duration(seconds) == text and ISO_DURATION.match(text)


def _valid() -> dict:
    return statement(next(e for e in EVENTS if e["type"] == "card.viewed"), home_page=HOME)


@pytest.mark.parametrize(("path", "value", "field"), [
    (("result", "duration"), "PT1e+07S", "result.duration"),
    (("result", "duration"), "P", "result.duration"),
    (("result", "duration"), "PT", "result.duration"),
    (("result", "score"), {"scaled": 1.5}, "result.score.scaled"),
    (("result", "score"), {"raw": 120, "min": 0, "max": 100}, "result.score.raw"),
    (("result", "score"), {"raw": 1, "min": 5, "max": 5}, "result.score"),
    (("result", "score"), {"scaled": float("nan")}, "result.score.scaled"),
    (("result", "success"), "yes", "result.success"),
    (("verb", "id"), "earned", "verb.id"),
    (("verb", "display"), {"en_US": "x"}, "verb.display"),
    (("object", "id"), "not an iri", "object.id"),
    (("object", "definition", "interactionType"), "essay", "interactionType"),
    (("context", "registration"), "attempt-1", "context.registration"),
    (("context", "language"), "en_US", "context.language"),
    (("context", "extensions"), {"pack": "x"}, "context.extensions"),
    (("context", "contextActivities"), {"siblings": []}, "contextActivities"),
    (("timestamp",), "2026-11-23T15:00:00", "timestamp"),
    (("id",), "42", "id"),
    (("actor", "mbox"), "mailto:a@example.org", "actor"),          # two identifiers
    (("actor", "account", "homePage"), "learn.example.org", "homePage"),
    (("colour",), "red", "colour"),
])
def test_invalid_statements_are_named(path: tuple, value: object, field: str) -> None:
    from app.core.learning.xapi_check import check_statement

    good = _valid()
    check_statement(good)
    bad = json.loads(json.dumps(good))
    target = bad
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    with pytest.raises(EventError, match=re.escape(field)):
        check_statement(bad)
    for required in ("actor", "verb", "object"):
        with pytest.raises(EventError, match=required):
            check_statement({k: v for k, v in good.items() if k != required})
