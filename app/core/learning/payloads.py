"""The `ref` / `data` payload of each event type (docs/events.md is the prose version).

The envelope is checked by app.core.events.validate_event; this module checks what the
learning engine and the assessment need inside it. The fold calls `check_payload` and
ignores (and records) an event that fails, so one bad event from a sync never stops a
learner's app; the engine calls it on every event it proposes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

from app.core.errors import EventError
from app.core.events import is_canonical_uuid

#: type → ref keys that must be present
REQUIRED_REF: dict[str, tuple[str, ...]] = {
    "lesson.opened": ("course", "lesson"),
    "card.viewed": ("course", "lesson", "card"),
    "quiz.started": ("course", "attempt"),
    "answer.given": ("course", "attempt", "question"),
    "quiz.submitted": ("course", "attempt"),
    "course.completed": ("course",),
    "review.answered": ("course", "question"),
    "selfassessment.started": ("profile", "assessment"),
    "selfassessment.rated": ("profile", "assessment", "task"),
    "selfassessment.completed": ("profile", "assessment"),
    "certificate.received": ("certificate",),
    "practice.observed": ("course", "task", "mentor"),
    "practice.rated": ("profile", "task", "mentor"),
}
#: types whose ref ids only make sense inside a pack
NEEDS_PACK = frozenset(REQUIRED_REF) - {"certificate.received"}
MAX_SECONDS_PER_CARD = 1800.0
#: checklist items one practice.observed may name (app/core/packs/practice.py MAX_CHECKLIST)
MAX_CHECKLIST = 8
#: the highest attempt number a quiz.started names (app/core/learning/draw.py)
MAX_ATTEMPT_NUMBER = 999


def _fail(event: dict[str, Any], field: str, what: str) -> EventError:
    """EventError worded like the envelope's: "<type> <id>: <field>: <what>"."""
    where = " ".join(str(x) for x in (event.get("type"), event.get("id")) if x)
    return EventError(f"{where}: {field}: {what}")


def _number(event: dict[str, Any], data: dict[str, Any], key: str, lo: float, hi: float,
            *, required: bool = True) -> None:
    value: Any = data.get(key)
    kind = type(value)
    if (kind is int or kind is float) and lo <= value <= hi:   # NaN and ±inf fail the range
        return                                                   # the common case, fast
    if key not in data:
        if required:
            raise _fail(event, f"data.{key}", "missing")
        return
    value = data[key]
    # an int is finite whatever its size (math.isfinite would overflow converting a huge
    # one to float: a 400-digit "seconds" crashed the check instead of being refused)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or (isinstance(value, float) and not math.isfinite(value)):
        raise _fail(event, f"data.{key}", f"expected a number, got {_shown(value)}")
    if not lo <= value <= hi:
        raise _fail(event, f"data.{key}", f"expected {lo:g}–{hi:g}, got {_shown(value)}")


def _shown(value: Any) -> str:
    """A refused value as a message shows it: at most 40 characters (a huge number or
    string is named by its start, never copied whole into an error)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 \
        else f"a {len(str(abs(value)))}-digit number"
    return text if len(text) <= 40 else text[:37] + "..."


def _choice(event: dict[str, Any], data: dict[str, Any]) -> None:
    choice = data.get("choice")
    if isinstance(choice, list) and 0 < len(choice) <= 8:
        for c in choice:
            if not isinstance(c, str) or not 0 < len(c) <= 64:
                break
        else:
            return
    raise _fail(event, "data.choice", "expected a list of 1–8 option ids")


def check_payload(event: dict[str, Any]) -> None:
    """Raise EventError naming the first wrong field of `ref`/`data` for the event type.

    The common types first pass a fast test that only ever accepts (`_FAST`: narrower
    than the rules — exact types, no message to make); anything it is unsure of goes
    through `_checked_payload`, the rules one by one. tests/unit/
    test_event_checks_equivalence.py holds the pair to the rules as they were."""
    etype = event.get("type")
    if type(etype) is str:
        fast = _FAST.get(etype)
        ref, data = event.get("ref"), event.get("data", _NOTHING)
        if fast is not None and type(ref) is dict and type(data) is dict \
                and type(event.get("pack")) is str and fast(ref, data):
            return
    _checked_payload(event, etype)


def _checked_payload(event: dict[str, Any], etype: Any) -> None:
    """check_payload's rules one by one, naming the first wrong field."""
    if not isinstance(etype, str) or etype not in REQUIRED_REF:
        raise _fail(event, "type", f"not a learning event type: {etype!r}")
    ref = event.get("ref")
    if not isinstance(ref, dict):
        raise _fail(event, "ref", "expected an object")
    for key in REQUIRED_REF[etype]:
        value = ref.get(key)
        if not isinstance(value, str) or not value:
            raise _fail(event, f"ref.{key}", "missing")
    if etype in NEEDS_PACK and not isinstance(event.get("pack"), str):
        raise _fail(event, "pack", "missing")
    data = event.get("data", {})
    if not isinstance(data, dict):
        raise _fail(event, "data", "expected an object")
    if etype == "card.viewed":
        if not ref["card"].isdigit() or len(ref["card"]) > 4:
            raise _fail(event, "ref.card", f"expected a card index, got {ref['card']!r}")
        _number(event, data, "seconds", 0, 86_400, required=False)
    elif etype == "quiz.started":
        seed = data.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise _fail(event, "data.seed", f"expected an integer >= 0, got {seed!r}")
        qs = data.get("questions")
        if not isinstance(qs, list) or not qs or not all(isinstance(q, str) for q in qs):
            raise _fail(event, "data.questions", "expected a non-empty list of question ids")
        if len(set(qs)) != len(qs):
            raise _fail(event, "data.questions", "duplicate question id")
        number = data.get("number")
        if "number" in data and (isinstance(number, bool) or not isinstance(number, int)
                                 or not 1 <= number <= MAX_ATTEMPT_NUMBER):
            raise _fail(event, "data.number", f"expected an attempt number 1–"
                                              f"{MAX_ATTEMPT_NUMBER}, got {number!r}")
    elif etype in ("answer.given", "review.answered"):
        _choice(event, data)
        _number(event, data, "score", 0, 1)
    elif etype == "quiz.submitted":
        _number(event, data, "score", 0, 100)
        if not isinstance(data.get("passed"), bool):
            raise _fail(event, "data.passed", "expected true or false")
    elif etype == "selfassessment.started":
        if not isinstance(data.get("role"), str) or not data["role"]:
            raise _fail(event, "data.role", "missing")
    elif etype == "selfassessment.rated":
        level = data.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
            raise _fail(event, "data.level", f"expected an integer scale level, got {level!r}")
    elif etype in ("practice.observed", "practice.rated"):
        _practice(event, ref, data)
    elif etype == "certificate.received" and not isinstance(data.get("credential"), dict | str):
        raise _fail(event, "data.credential", "expected the credential (object or string)")


def _practice(event: dict[str, Any], ref: dict[str, Any], data: dict[str, Any]) -> None:
    """``practice.observed`` / ``practice.rated``: the mentor is a learner id; what the
    observation is *worth* (mentor's role, facility, the task) is the server's decision
    (app/core/practice/rules.py), not a payload rule."""
    if not is_canonical_uuid(ref["mentor"]):
        raise _fail(event, "ref.mentor", "expected the mentor's learner id (a UUID)")
    if event["type"] == "practice.rated":
        level = data.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 100:
            raise _fail(event, "data.level", f"expected an integer scale level, got {level!r}")
        return
    when = data.get("date")
    try:
        if not isinstance(when, str) or len(when) != 10:
            raise ValueError
        date.fromisoformat(when)
    except ValueError:
        raise _fail(event, "data.date", f"expected a date YYYY-MM-DD, got {when!r}") from None
    checklist = data.get("checklist")
    if not isinstance(checklist, list) or len(checklist) > MAX_CHECKLIST \
            or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in checklist) \
            or len(set(checklist)) != len(checklist):
        raise _fail(event, "data.checklist",
                    f"expected a list of at most {MAX_CHECKLIST} distinct checklist item ids")


# -- the fast test of the common types (check_payload) -------------------------------------
# Each returns True only when `_checked_payload` would accept the event; False means
# "not sure", never "refused". check_payload calls one only for an event whose `ref` and
# `data` are exact dicts and whose `pack` is an exact str (what all four need). Exact
# types: `type(x) is int` leaves bools (and int subclasses) to the rules.

def _fast_card(ref: dict[str, Any], data: dict[str, Any]) -> bool:
    course, lesson, card = ref.get("course"), ref.get("lesson"), ref.get("card")
    seconds = data.get("seconds", 0)
    return type(course) is str and type(lesson) is str and type(card) is str \
        and course != "" and lesson != "" and card.isdigit() and len(card) <= 4 \
        and (type(seconds) is int or type(seconds) is float) and 0 <= seconds <= 86_400


def _fast_answer(ref: dict[str, Any], data: dict[str, Any]) -> bool:
    course, attempt, question = ref.get("course"), ref.get("attempt"), ref.get("question")
    choice, score = data.get("choice"), data.get("score")
    return type(course) is str and type(attempt) is str and type(question) is str \
        and course != "" and attempt != "" and question != "" \
        and type(choice) is list and 0 < len(choice) <= 8 \
        and (type(score) is int or type(score) is float) and 0 <= score <= 1 \
        and all(type(option) is str and 0 < len(option) <= 64 for option in choice)


def _fast_submitted(ref: dict[str, Any], data: dict[str, Any]) -> bool:
    course, attempt, score = ref.get("course"), ref.get("attempt"), data.get("score")
    return type(course) is str and type(attempt) is str and course != "" and attempt != "" \
        and (type(score) is int or type(score) is float) and 0 <= score <= 100 \
        and type(data.get("passed")) is bool


def _fast_rated(ref: dict[str, Any], data: dict[str, Any]) -> bool:
    profile, assessment, task = ref.get("profile"), ref.get("assessment"), ref.get("task")
    level = data.get("level")
    return type(profile) is str and type(assessment) is str and type(task) is str \
        and profile != "" and assessment != "" and task != "" \
        and type(level) is int and 0 <= level <= 100


_NOTHING: dict[str, Any] = {}     # read only: an absent `data`
_FAST: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "card.viewed": _fast_card, "answer.given": _fast_answer,
    "quiz.submitted": _fast_submitted, "selfassessment.rated": _fast_rated}
