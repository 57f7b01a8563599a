"""The event checks as they were before issue 18's fast path (commit b5b80df), kept
verbatim as the oracle the property tests hold app.core.events.validated_json,
parse_at, app.core.learning.payloads.check_payload and app.core.bounded_json.within_depth
to (tests/unit/test_event_checks_equivalence.py): the same verdict, the same message,
the same canonical bytes. Never "fix" this copy: it is what the rules were.

The only edit: names are module-local (no import of the code under test, so a change
there cannot change the oracle)."""

# ruff: noqa
from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from app.core.canonical import canonical_json
from app.core.errors import EventError

#: Deepest JSON nesting accepted for one event (the event object is level 1).
MAX_DEPTH = 32
#: Largest canonical JSON of one event, in bytes.
MAX_EVENT_BYTES = 16_384
#: Largest integer a JSON number can carry exactly in every JSON implementation (RFC 8259
#: §6); event `seq` values are bounded by it.
MAX_SAFE_INTEGER = 2**53

_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def text_depth(text: str | bytes) -> int:
    """Nesting depth of a JSON text (0 for a scalar), without parsing or recursion."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    depth = deepest = 0
    for match in _DEPTH_TOKEN.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def within_depth(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Is this JSON text at most `limit` levels deep? Counting brackets first answers
    almost every real event at C speed (fewer brackets than the limit cannot nest
    deeper than it); only bracket-rich texts are scanned."""
    if isinstance(text, bytes | bytearray):
        opens = text.count(b"[") + text.count(b"{")
    else:
        opens = text.count("[") + text.count("{")
    return opens <= limit or text_depth(text) <= limit


EVENT_TYPES: frozenset[str] = frozenset({
    "lesson.opened",
    "card.viewed",
    "quiz.started",
    "answer.given",
    "quiz.submitted",
    "course.completed",
    "review.answered",
    "selfassessment.started",
    "selfassessment.rated",
    "selfassessment.completed",
    "certificate.received",
    "practice.observed",
    "practice.rated",
})

REQUIRED_FIELDS = ("id", "learner", "device", "seq", "at", "type")
OPTIONAL_FIELDS = ("pack", "pack_version", "ref", "data")
#: Server-side stamp; allowed on events that come back from a pull.
SERVER_FIELDS = ("received_at",)
REF_KEYS = frozenset({"course", "lesson", "card", "quiz", "attempt", "question",
                      "profile", "assessment", "duty", "task", "certificate",
                      "mentor", "programme"})
#: `seq` is a JSON number every implementation reads exactly (≤ 2^53).
MAX_SEQ = MAX_SAFE_INTEGER
_ENVELOPE_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
_WITH_SERVER_FIELDS = _ENVELOPE_FIELDS | frozenset(SERVER_FIELDS)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def is_canonical_uuid(value: Any) -> bool:
    """Is `value` a UUID in its one canonical spelling (lower-case hex, hyphenated, no
    braces or `urn:uuid:`)? Other spellings of the same UUID would be stored as other
    ids, so they are refused rather than normalised on the server."""
    # the same answer as `str(uuid.UUID(value)) == value`, without building a UUID
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def parse_at(value: str) -> datetime:
    """Parse an `at` string into an aware UTC datetime (raises EventError)."""
    if not isinstance(value, str) or not _AT_RE.match(value):
        raise EventError(f"at: expected UTC time like 2026-11-23T15:38:28.123Z, got {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventError(f"at: {exc}") from None


def validated_json(event: Any, *, allow_server_fields: bool = False,
                   encode: Callable[[Any], bytes] = canonical_json) -> bytes:
    """validate_event, returning the event's canonical_json bytes (the size check makes
    them anyway), so bulk intake (the sync server's push) serialises each event once.

    `encode` must be `canonical_json` or give exactly its bytes and raise exactly what it
    raises (the sync server passes a faster C encoder held to that: sync_server/
    fastjson.py); the rules here are the same whichever encodes."""
    if not isinstance(event, dict):
        raise EventError(f"event: expected an object, got {type(event).__name__}")
    allowed = _WITH_SERVER_FIELDS if allow_server_fields else _ENVELOPE_FIELDS
    for key in event:
        if key not in allowed:
            raise EventError(f"{key}: unknown field")
    for key in REQUIRED_FIELDS:
        if key not in event or event[key] is None:
            raise EventError(f"{key}: missing")
    if not is_canonical_uuid(event["id"]):
        raise EventError(f"id: expected a lower-case UUID like 3f0c2a9e-5b1d-4c8e-9f00-"
                         f"1a2b3c4d5e6f, got {str(event['id'])[:80]!r}")
    for key in ("learner", "device"):
        if not isinstance(event[key], str) or not _ID_RE.match(event[key]):
            raise EventError(f"{key}: expected an id string, got {event[key]!r}")
    seq = event["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise EventError(f"seq: expected an integer 1..2^53, got {str(seq)[:40]}")
    parse_at(event["at"])
    if event["type"] not in EVENT_TYPES:
        raise EventError(f"type: unknown event type {event['type']!r}; known: "
                         + ", ".join(sorted(EVENT_TYPES)))
    if event.get("pack") is not None and (
            not isinstance(event["pack"], str) or not _ID_RE.match(event["pack"])):
        raise EventError(f"pack: expected a pack id, got {event['pack']!r}")
    pv = event.get("pack_version")
    if pv is not None and (not isinstance(pv, int) or isinstance(pv, bool) or pv < 1):
        raise EventError(f"pack_version: expected an integer >= 1, got {pv!r}")
    ref = event.get("ref", {})
    if not isinstance(ref, dict):
        raise EventError("ref: expected an object of item ids")
    for key, value in ref.items():
        if key not in REF_KEYS:
            raise EventError(f"ref.{key}: unknown item kind; known: " + ", ".join(sorted(REF_KEYS)))
        if not isinstance(value, str) or not value or len(value) > 200:
            raise EventError(f"ref.{key}: expected a non-empty id string")
    if "data" in event and not isinstance(event["data"], dict):
        raise EventError("data: expected an object")
    try:
        encoded = encode(event)
    except (ValueError, TypeError, RecursionError) as exc:   # NaN, objects, deep nesting
        raise EventError(f"event: not storable as JSON ({str(exc)[:80]})") from None
    if len(encoded) > MAX_EVENT_BYTES:
        raise EventError(f"event: larger than {MAX_EVENT_BYTES} bytes")
    if not within_depth(encoded, MAX_DEPTH):
        raise EventError(f"event: JSON nested deeper than {MAX_DEPTH} levels "
                         "(app/core/bounded_json.py)")
    return encoded


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
MAX_CHECKLIST = 8
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
    """Raise EventError naming the first wrong field of `ref`/`data` for the event type."""
    etype = event.get("type")
    if etype not in REQUIRED_REF:
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
