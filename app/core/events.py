"""The learning-record event envelope shared by the device store, the learning engine
and the sync server (ARCHITECTURE.md "Learning records: an event log").

An event is a plain JSON-able dict::

    {
      "id": "3f0c…",                # UUID made on the device (str, canonical form)
      "learner": "9b1e…",           # learner id (UUID str)
      "device": "dev-…",            # device id (str)
      "seq": 42,                    # per-device counter, >= 1, never repeats
      "at": "2026-11-23T15:38:28.123Z",  # device clock, UTC, ISO 8601 with Z
      "type": "answer.given",       # one of EVENT_TYPES
      "pack": "promote-core",       # optional: pack id
      "pack_version": 3,            # optional: pack version (int)
      "ref": {"course": "…", "attempt": "…", "question": "…"},  # item ids (str → str)
      "data": {…}                   # type-specific payload (docs/events.md)
    }

Validation here is about the envelope; the learning engine owns the meaning of `data`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.core.bounded_json import MAX_DEPTH, MAX_EVENT_BYTES, MAX_SAFE_INTEGER, within_depth
from app.core.canonical import canonical_json
from app.core.errors import EventError

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


def new_id() -> str:
    """A fresh event / learner / attempt id."""
    return str(uuid.uuid4())


def format_at(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise EventError("at: datetime must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_at(value: str) -> datetime:
    """Parse an `at` string into an aware UTC datetime (raises EventError)."""
    if not isinstance(value, str) or not _AT_RE.match(value):
        raise EventError(f"at: expected UTC time like 2026-11-23T15:38:28.123Z, got {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventError(f"at: {exc}") from None


def validate_event(event: Any, *, allow_server_fields: bool = False) -> dict[str, Any]:
    """Check the envelope of one event and return it unchanged.

    Raises EventError naming the first wrong field.
    """
    validated_json(event, allow_server_fields=allow_server_fields)
    return event  # type: ignore[no-any-return]


def validated_json(event: Any, *, allow_server_fields: bool = False,
                   encode: Callable[[Any], bytes] = canonical_json) -> bytes:
    """validate_event, returning the event's canonical_json bytes (the size check makes
    them anyway), so bulk intake (the sync server's push) serialises each event once.

    `encode` must be `canonical_json` or give exactly its bytes and raise exactly what it
    raises (the sync server passes a faster C encoder held to that: sync_server/
    fastjson.py); the rules here are the same whichever encodes.

    Two steps, one rule set: `_accepted` is a fast test that only ever *accepts* (it is
    narrower than the rules: whatever it is unsure of — a str subclass, a 29 February, a
    trailing newline the id pattern's `$` lets through — it leaves to the next step), and
    `_checked_json` applies the rules one by one and names the first wrong field.
    tests/unit/test_event_checks_equivalence.py holds the pair to the rules as they were
    (tests/support/reference_events.py): same verdict, same message, same bytes."""
    if type(event) is dict:
        encoded = _accepted(event, _WITH_SERVER_FIELDS if allow_server_fields
                            else _ENVELOPE_FIELDS, encode)
        if encoded is not None:
            return encoded
    return _checked_json(event, allow_server_fields, encode)


#: id and `at` of a valid event, joined by a space: one match instead of two. `at` is
#: matched only when it is a real time — year 0001–9999, the day within its month
#: (29 February is left to `parse_at`), hour 00–23, minute and second 00–59 — so a match
#: means `parse_at` accepts it.
_DAY = (r"(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
        r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)")
_AT_VALID = _DAY + r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z"
_HEAD_MATCH = re.compile(f"{_UUID_RE.pattern} {_AT_VALID}").fullmatch
#: `_ID_RE` without its `$`, which also matches before a final newline ("dev-1\n" is an
#: id to the rules; the fast test leaves it to them)
_ID_MATCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}").fullmatch
#: learner, device and pack ids `_ID_MATCH` accepted lately: a push names a few learners
#: and one device hundreds of times (a memo of a pure test; emptied when full)
_GOOD_IDS: set[str] = set()
_GOOD_IDS_MAX = 4096
_NOTHING: dict[str, Any] = {}     # read only: an absent `ref` / `data`
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: events with every envelope field (and no server stamp) have exactly this many keys
_ALL_FIELDS = len(_ENVELOPE_FIELDS)


def _good_id(value: Any) -> bool:
    """An exact str that `_ID_RE` accepts (and has no final newline)."""
    if type(value) is not str:
        return False
    if value in _GOOD_IDS:
        return True
    if _ID_MATCH(value) is None:
        return False
    if len(_GOOD_IDS) >= _GOOD_IDS_MAX:
        _GOOD_IDS.clear()
    _GOOD_IDS.add(value)
    return True


def _accepted(event: dict[str, Any], allowed: frozenset[str],
              encode: Callable[[Any], bytes]) -> bytes | None:
    """The canonical bytes of an event that certainly passes every rule of
    `_checked_json`, else None (not a refusal: `_checked_json` then decides and says
    why). Exact types only (`type(x) is str`: a bool is never an int here)."""
    get = event.get
    event_id, at, seq, etype = get("id"), get("at"), get("seq"), get("type")
    pack, pack_version = get("pack"), get("pack_version")
    ref, data = get("ref", _NOTHING), get("data", _NOTHING)
    # all ten fields there (none None: each is type-checked below) and ten keys: no other
    # key; else compare the keys
    if (len(event) != _ALL_FIELDS or pack is None or pack_version is None or ref is _NOTHING
            or data is _NOTHING) and not event.keys() <= allowed:
        return None
    if type(event_id) is not str or type(at) is not str \
            or _HEAD_MATCH(f"{event_id} {at}") is None \
            or not _good_id(get("learner")) or not _good_id(get("device")) \
            or type(seq) is not int or not 1 <= seq <= MAX_SEQ \
            or type(etype) is not str or etype not in EVENT_TYPES \
            or pack is not None and not _good_id(pack) \
            or pack_version is not None and (type(pack_version) is not int or pack_version < 1) \
            or type(ref) is not dict or type(data) is not dict:
        return None
    if ref:
        if not ref.keys() <= REF_KEYS:
            return None
        for value in ref.values():
            if type(value) is not str or not 0 < len(value) <= 200:
                return None
    try:
        encoded = encode(event)
    except (ValueError, TypeError, RecursionError):
        return None                      # `_checked_json` names it
    if len(encoded) > MAX_EVENT_BYTES:
        return None
    # the depth: the event is level 1, `ref` (strings) and `data` level 2; when `data`
    # (and `received_at`, unchecked here) holds only scalars and lists of scalars
    # nothing is deeper than 3 — else the bracket count of the bytes decides (fewer
    # brackets than the limit cannot nest deeper than it: bounded_json.within_depth)
    if type(get("received_at")) in _SCALARS:
        for value in data.values():
            kind = type(value)
            if kind in _SCALARS or kind is list and all(type(x) in _SCALARS for x in value):
                continue
            break
        else:
            return encoded
    return encoded if encoded.count(b"{") + encoded.count(b"[") <= MAX_DEPTH else None


def _checked_json(event: Any, allow_server_fields: bool,
                  encode: Callable[[Any], bytes]) -> bytes:
    """The envelope rules one by one (validated_json): the canonical bytes, or
    EventError naming the first wrong field."""
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
    if not isinstance(event["type"], str) or event["type"] not in EVENT_TYPES:
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


def content_of(event: dict[str, Any]) -> bytes:
    """Canonical bytes of an event without server stamps (for conflict detection)."""
    return canonical_json({k: v for k, v in event.items() if k not in SERVER_FIELDS})


def order_key(event: dict[str, Any]) -> tuple[str, str, int]:
    """Total order where "latest wins" matters: (at, device, seq)."""
    return (event["at"], event["device"], event["seq"])
