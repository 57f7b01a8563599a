"""The fast event checks (issue 18) decide exactly as the rules did: app.core.events
`validated_json` / `parse_at` and app.core.learning.payloads `check_payload` against a
verbatim copy of the code before the fast path (tests/support/reference_events.py) —
the same accept / refuse, the same message, the same canonical bytes — over generated
events (hypothesis) and hand-made hostile ones: wrong types, bools for ints, huge
integers, 1e400, NaN, nesting at and beyond MAX_DEPTH, oversize events, odd times
(30 February, leap seconds, 24:00, 1–7 fractional digits, a lower-case z, non-ASCII
digits, a trailing newline), unicode ids, unknown fields, None values, `received_at`
with and without allow_server_fields, and both encoders (canonical_json and the push's
msgspec one).

One difference on purpose: an unhashable `type` (a list or an object) made the old code
raise TypeError (a crash: the push answered 500, the fold stopped); it is now refused
like any unknown type, with the same message."""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.canonical import canonical_json
from app.core.errors import EventError
from app.core.events import EVENT_TYPES, parse_at, validated_json
from app.core.learning.payloads import check_payload
from sync_server import fastjson
from sync_server.services.sync import check_events
from tests.support import reference_events as old

ATTEMPT = "5b0c1d8e-54a3-4c57-9a0e-2f1f6a1c0de1"
MENTOR = "0f6a3c2e-1b4d-4e5f-8a9b-0c1d2e3f4a5b"
ENCODERS: list[Callable[[Any], bytes]] = [canonical_json, fastjson.canonical]

#: (type, ref, data) of a valid event of every type
VALID: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("card.viewed", {"course": "boundaries", "lesson": "01-why", "card": "3"}, {"seconds": 20}),
    ("card.viewed", {"course": "boundaries", "lesson": "01-why", "card": "0"}, {}),
    ("answer.given", {"course": "boundaries", "attempt": ATTEMPT, "question": "q1"},
     {"choice": ["b"], "score": 1.0, "correct": True, "type": "single"}),
    ("quiz.submitted", {"course": "boundaries", "attempt": ATTEMPT}, {"score": 80, "passed": True}),
    ("selfassessment.rated", {"profile": "po", "assessment": ATTEMPT, "task": "t1"}, {"level": 3}),
    ("lesson.opened", {"course": "boundaries", "lesson": "01-why"}, {}),
    ("quiz.started", {"course": "boundaries", "attempt": ATTEMPT},
     {"seed": 7, "questions": ["q1", "q2"], "number": 1}),
    ("course.completed", {"course": "boundaries"}, {}),
    ("review.answered", {"course": "boundaries", "question": "q1"}, {"choice": ["a"], "score": 0}),
    ("selfassessment.started", {"profile": "po", "assessment": ATTEMPT}, {"role": "po"}),
    ("selfassessment.completed", {"profile": "po", "assessment": ATTEMPT}, {}),
    ("certificate.received", {"certificate": "c1"}, {"credential": {"a": 1}}),
    ("practice.observed", {"course": "boundaries", "task": "t1", "mentor": MENTOR},
     {"date": "2026-03-01", "checklist": ["a", "b"]}),
    ("practice.rated", {"profile": "po", "task": "t1", "mentor": MENTOR}, {"level": 2}),
]


def nested(depth: int) -> Any:
    """A value `depth` levels deep (1: an empty object), alternating objects and lists."""
    value: Any = {}
    for level in range(depth - 1):
        value = [value] if level % 2 else {"x": value}
    return value


ODD_AT = ["2026-02-30T10:00:00Z", "2026-02-29T10:00:00Z", "2024-02-29T10:00:00Z",
          "2100-02-29T10:00:00Z", "2000-02-29T10:00:00.5Z", "2026-06-30T23:59:60Z",
          "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-13-01T00:00:00Z",
          "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-04-30T00:00:00Z",
          "2026-12-31T23:59:59.999999Z", "2026-01-01T09:00:00.1234567Z",
          "2026-01-01T09:00:00.Z", "2026-01-01T09:00:00.1Z", "2026-01-01T09:00:00.12Z",
          "2026-01-01T09:00:00.123Z", "2026-01-01T09:00:00.1234Z",
          "2026-01-01T09:00:00.12345Z", "2026-01-01T09:00:00z", "2026-01-01t09:00:00Z",
          "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
          "2026-01-01T09:00:00.000Z\n", "\n2026-01-01T09:00:00.000Z", "2026-01-01 09:00:00Z",
          "٢٠٢٦-01-01T09:00:00Z", "2026-01-01T09:00:00+00:00", "2026-1-1T9:00:00Z", "",
          "2026-01-01T09:00:00.000Z ", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z",
          "2026-06-31T00:00:00Z", "2026-11-31T00:00:00Z", "2026-09-30T00:00:00Z"]
#: the last days of every month, and one past them, in a common and a leap year
MONTH_ENDS = [f"{year}-{month:02d}-{day:02d}T12:00:00Z" for year in (2025, 2028)
              for month in range(1, 13) for day in (28, 29, 30, 31, 32)]
ODD_IDS = ["dev-1", "dev-1\n", "dev 1", "-dev", "é", "dev\u0661", "a" * 128, "a" * 129,
           "A.b_c:d-e", "", "x\x00", "ＡＢＣ", "dev\r"]
HOSTILE: list[Any] = [
    None, True, False, 0, 1, -1, 2**53, 2**53 + 1, 2**63, 10**400, 1.0, 0.5, -0.0, 1e400,
    -1e400, math.nan, 1e16, 1e-7, "", "x", "1", "0001", "12345", "²", "\ud800", "a\x00b",
    [], ["a"], [1], {}, {"a": 1}, ("t",), b"bytes", 3 + 4j, nested(31), nested(32),
    nested(33), "x" * 20_000, str(uuid.uuid4()), str(uuid.uuid4()).upper(),
    "{" + str(uuid.uuid4()) + "}", ATTEMPT, MENTOR, "2026-01-01T09:00:00.000Z",
    *ODD_AT[:8], *ODD_IDS[:6], "card.viewed", "certificate.received",
    # the bounds of every range the rules have
    86_400, 86_401, 86_400.0, 86_400.5, 100, 101, 100.0, 100.5, 99.9, 1.5, 0.999, 2,
    -1e-9, -1, 999, 1000, 2**63 - 1, 2**53 - 1, "x" * 200, "x" * 201, "o" * 64, "o" * 65,
    "9999", "0000", "٣", ["a"] * 8, ["a"] * 9, ["a", "a"], ["o" * 65], [""], ["a", 1],
]
FIELDS = ["id", "learner", "device", "seq", "at", "type", "pack", "pack_version", "ref",
          "data", "received_at", "extra", "Id"]


class Uncopyable(list):  # type: ignore[type-arg]
    """A list subclass (the fast paths take exact types only)."""


def base_event(index: int, seq: int = 1) -> dict[str, Any]:
    etype, ref, data = VALID[index % len(VALID)]
    return {"id": str(uuid.UUID(int=index + 1)), "learner": str(uuid.UUID(int=10**9 + index)),
            "device": "dev-1", "seq": seq, "at": "2026-01-01T09:00:00.000Z", "type": etype,
            "pack": "promote-core", "pack_version": 1, "ref": dict(ref),
            "data": copy.deepcopy(data)}


def outcome(check: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", check(*args, **kwargs)
    except Exception as exc:   # noqa: BLE001 — the exact type and message are compared
        return type(exc).__name__, str(exc)


def assert_same(event: Any) -> None:
    """New and old code agree on `event`: validated_json (both encoders, with and
    without server fields) and, on objects, check_payload."""
    for allow in (False, True):
        for encode in ENCODERS:
            before = outcome(old.validated_json, event, allow_server_fields=allow,
                             encode=encode)
            after = outcome(validated_json, event, allow_server_fields=allow, encode=encode)
            if before[0] == "TypeError" and "unhashable" in before[1]:
                assert after[0] == "EventError", (event, after)     # a crash, now refused
                continue
            assert after == before, (event, allow, encode)
    if isinstance(event, dict):
        before = outcome(old.check_payload, event)
        after = outcome(check_payload, event)
        if before[0] == "TypeError" and "unhashable" in before[1]:
            assert after[0] == "EventError", (event, after)
        else:
            assert after == before, event


@pytest.mark.parametrize("index", range(len(VALID)))
def test_every_valid_type_is_accepted_alike(index: int) -> None:
    event = base_event(index)
    assert_same(event)
    assert validated_json(event) == old.validated_json(event) == canonical_json(event)
    check_payload(event)


@pytest.mark.parametrize("at", ODD_AT + MONTH_ENDS)
def test_odd_times_alike(at: str) -> None:
    for index in (0, 2):
        event = base_event(index)
        event["at"] = at
        assert_same(event)
    assert outcome(parse_at, at) == outcome(old.parse_at, at)


@pytest.mark.parametrize("value", ODD_IDS)
@pytest.mark.parametrize("field", ["learner", "device", "pack"])
def test_odd_ids_alike(field: str, value: str) -> None:
    event = base_event(0)
    event[field] = value
    assert_same(event)


@pytest.mark.parametrize("field", FIELDS)
def test_every_hostile_value_in_every_field_alike(field: str) -> None:
    for index in range(len(VALID)):
        for value in HOSTILE:
            event = base_event(index)
            event[field] = value
            assert_same(event)
            if field not in ("ref", "data"):
                continue
            for key in ("course", "card", "seconds", "choice", "score", "passed", "level",
                        "mentor", "date", "checklist", "seed", "questions", "number", "x"):
                event = base_event(index)
                event[field][key] = value
                assert_same(event)


def test_hostile_shapes_alike() -> None:
    event = base_event(0)
    shapes: list[Any] = [None, [], "event", 1, Uncopyable(), {"type": []}, {"type": {}},
                         {**event, "type": ["card.viewed"]}, {**event, "type": {"a": 1}},
                         {**event, "ref": None}, {**event, "data": None},
                         {k: v for k, v in event.items() if k not in ("ref", "data")},
                         {**event, "ref": {"course": "c", "lesson": "l", "card": Uncopyable()}},
                         {**event, "data": {"seconds": 20, "deep": nested(30)}},
                         {**event, "data": {"deep": nested(31)}},
                         {**event, "data": {"deep": nested(32)}},
                         {**event, "data": {"text": "é" * 8_000}},
                         {**event, "data": {"text": "é" * 9_000}},
                         {**event, "data": {"text": "[" * 40}},
                         {**event, "data": {"list": [[1]] * 40}},
                         {**event, "data": {"list": [{"a": [1]}]}},
                         {**event, "data": {"t": ("a", ("b",))}},
                         {**event, "seq": Uncopyable()}, {**event, "received_at": "x"}]
    for shape in shapes:
        assert_same(shape)


SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=12) | st.sampled_from(HOSTILE[:40]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
KEYS = st.sampled_from(FIELDS + ["course", "lesson", "card", "seconds", "choice", "score",
                                 "passed", "level", "attempt", "question", "task", "profile"])


@settings(max_examples=600, deadline=None)
@given(index=st.integers(0, len(VALID) - 1),
       changes=st.lists(st.tuples(st.sampled_from(["top", "ref", "data", "drop"]), KEYS,
                                  JSONISH | st.sampled_from(ODD_AT + ODD_IDS)), max_size=3),
       etype=st.none() | st.sampled_from(sorted(EVENT_TYPES)))
def test_generated_events_alike(index: int, changes: list[tuple[str, str, Any]],
                                etype: str | None) -> None:
    event = base_event(index)
    if etype is not None:
        event["type"] = etype
    for where, key, value in changes:
        if where == "top":
            event[key] = value
        elif where == "drop":
            event.pop(key, None)
        elif isinstance(event.get(where), dict):
            event[where][key] = value
    assert_same(event)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=11))
def test_generated_objects_alike(body: dict[str, Any]) -> None:
    assert_same(body)


def test_an_unhashable_type_is_refused_not_a_crash() -> None:
    event = base_event(0)
    event["type"] = ["card.viewed"]
    with pytest.raises(EventError, match="type: unknown event type"):
        validated_json(event)
    with pytest.raises(EventError, match="not a learning event type"):
        check_payload(event)


def test_a_push_with_an_unhashable_type_is_answered_not_crashed() -> None:
    """The push's checks (sync_server/services/sync.py check_events) refuse the event
    (`bad_schema`) instead of raising TypeError out of the request (a 500)."""
    good, bad = base_event(0), base_event(2)
    bad["type"] = {"card.viewed": 1}
    checked = check_events([good, bad], moment=datetime(2026, 6, 1, tzinfo=UTC),
                           encode=fastjson.canonical)
    assert [index for index, _, _ in checked.candidates] == [0]
    assert [(r["index"], r["reason"]) for r in checked.rejected] == [(1, "bad_schema")]
    assert checked.rejected[0]["detail"].startswith("type: unknown event type {'card.viewed': 1}")
