"""The push's fast JSON path (sync_server/fastjson.py) against the one rule set of
app/core: `canonical` gives exactly `canonical_json`'s bytes or raises exactly what it
raises; `decode` gives exactly `json.loads`'s value or refuses; and a push body the fast
path takes (`fast_parse`) is one the standard path (`parse_push` + `check_events` with
`canonical_json`) accepts whole, with the same events, profiles, canonical contents —
every other body, hostile ones included, goes the standard way and gets its answer and
messages. Generated input (hypothesis) and hand-made hostile input: every code point,
floats of every exponent, NaN / ±inf, huge integers, deep nesting, duplicate keys,
escaped lone surrogates, non-UTF-8 bytes."""

from __future__ import annotations

import functools
import json
import math
import random
import struct
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.canonical import canonical_json
from app.core.errors import EventError
from app.core.events import validated_json
from sync_server import fastjson
from sync_server.api.sync import fast_parse, parse_push
from sync_server.services.sync import Checked, check_events

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

ALL_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-4, 9.999e-5, 1e-5, 1e15, 1e16, 9999999999999998.0, 1e21, 5e-324,
     1.7976931348623157e308, 0.1, 12.5])
INTS = st.integers() | st.sampled_from([2**53, 2**63, -2**63 - 1, 2**64, 10**30, 10**4299])
TEXT = st.text() | st.sampled_from(["", "\u2028", "\x7f", "\ud800", "a\udfffb", "é\x00\x1f",
                                    '"\\/', "\U0010ffff", "\ufeff"])
PLAIN_FLOATS = ALL_FLOATS.filter(lambda f: f == 0 or 1e-4 <= abs(f) < 1e16)


def json_values(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | INTS | floats | TEXT
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                        | st.dictionaries(TEXT, inner, max_size=5), max_leaves=30)


JSON = json_values(ALL_FLOATS)
PLAIN_JSON = json_values(PLAIN_FLOATS)


def plain(f: float) -> bool:
    return f == 0 or 1e-4 <= abs(f) < 1e16


def outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", encode(value)
    except Exception as exc:  # noqa: BLE001 - the exception itself is compared
        return type(exc).__name__, str(exc)


def same_value(a: Any, b: Any) -> bool:
    """Equal with types, key order and the sign of zero (repr tells them all)."""
    return repr(a) == repr(b)


# ----- canonical ------------------------------------------------------------------------
@settings(max_examples=600, deadline=None)
@given(PLAIN_JSON)
def test_canonical_equals_the_standard_encoding_or_fails_the_same_way(value: Any) -> None:
    """For values whose floats are plain (what `Decoded.plain_floats` vouches for)."""
    assert outcome(fastjson.canonical, value) == outcome(canonical_json, value)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_the_encoder_of_a_decoded_body_equals_the_standard_one(value: Any) -> None:
    """Any value, NaN, ±inf and floats of any exponent included: through `decode`, its
    `encoder` gives canonical_json's bytes or its error."""
    try:
        raw = json.dumps(value).encode("utf-8", "surrogatepass")
    except ValueError:
        return
    decoded = fastjson.decode(raw)
    if decoded is None:
        return
    encode = fastjson.encoder(decoded)
    assert outcome(encode, decoded.value) == outcome(canonical_json, decoded.value)
    assert outcome(encode, {"v": decoded.value}) == outcome(canonical_json, {"v": decoded.value})


def test_canonical_of_every_code_point() -> None:
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        text = "".join(chars[start:start + 4096])
        value = {text[:50]: text, "k": [text[::-1]]}
        assert fastjson.canonical(value) == canonical_json(value)
    for c in range(0xD800, 0xE000, 7):       # lone surrogates: not UTF-8, refused alike
        assert outcome(fastjson.canonical, {"s": chr(c)}) == outcome(canonical_json, {"s": chr(c)})


def test_floats_of_every_exponent_are_written_alike_or_flagged() -> None:
    rnd = random.Random(18)
    values = [float(f"{m}e{e}") for e in range(-330, 310) for m in (1, 1.5, 9.999999, rnd.random())]
    values += [struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
               for _ in range(20_000)]
    values += [rnd.uniform(-1e16, 1e16) for _ in range(20_000)]
    values += [rnd.uniform(1e-4, 1) * rnd.choice([1, -1]) for _ in range(20_000)]
    for f in values:
        decoded = fastjson.decode(json.dumps({"v": f, "w": [-f]}).encode())
        if decoded is None:
            continue
        assert decoded.plain_floats == (math.isfinite(f) and plain(f)), f
        if decoded.plain_floats:
            assert fastjson.canonical(decoded.value) == canonical_json(decoded.value), f


@pytest.mark.parametrize("bad", [object(), {1: "x"}, 10**5000, "\ud800"],
                         ids=["object", "int-key", "10**5000", "surrogate"])
def test_canonical_refuses_what_json_cannot_hold_with_the_same_error(bad: Any) -> None:
    assert outcome(fastjson.canonical, {"v": bad}) == outcome(canonical_json, {"v": bad})


@pytest.mark.parametrize("raw", [b'{"x":1e400}', b'{"x":-1e400}', b'{"x":1e-7}', b'{"x":1e16}',
                                 b'{"x":0.00001}', b'{"x":[1.5,2e20]}'])
def test_a_body_with_floats_written_differently_is_encoded_the_standard_way(raw: bytes) -> None:
    decoded = fastjson.decode(raw)
    assert decoded is not None and not decoded.plain_floats
    assert fastjson.encoder(decoded) is canonical_json


def test_an_event_is_validated_the_same_with_either_encoder() -> None:
    base = {"id": str(uuid.uuid4()), "learner": "L-1", "device": "d1", "seq": 1,
            "at": "2026-01-01T09:00:00.000Z", "type": "card.viewed", "pack": "p",
            "ref": {"course": "c", "lesson": "l", "card": "1"}}
    for data in ({}, {"x": 1e400}, {"s": "\ud800"}, {"big": "x" * 20_000}, {"n": 1e-7},
                 {"n": 10**40}, {"d": json.loads('{"a":' * 40 + "1" + "}" * 40)}):
        event = {**base, "data": data}
        raw = json.dumps(event).encode("utf-8", "surrogatepass")
        decoded = fastjson.decode(raw)
        value = decoded.value if decoded is not None else json.loads(raw)
        encode = fastjson.encoder(decoded) if decoded is not None else canonical_json
        assert outcome(functools.partial(validated_json, encode=encode), value) == \
            outcome(validated_json, value)


# ----- decode ---------------------------------------------------------------------------
def _std(raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", json.loads(raw.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__


def _refuse(name: str) -> Any:
    raise ValueError(name)


@settings(max_examples=400, deadline=None)
@given(JSON, st.booleans(), st.sampled_from([None, 2]))
def test_decode_gives_the_standard_value_or_refuses(value: Any, ascii_only: bool,
                                                    indent: int | None) -> None:
    try:
        text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    except ValueError:
        return
    raw = text.encode("utf-8", "surrogatepass")
    got = fastjson.decode(raw)
    if got is not None:
        kind, want = _std(raw)
        assert kind == "ok" and same_value(got.value, want)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80) | st.text(alphabet='{}[]":,0123456789.eE+-nultrfaseNI \\u\t',
                                        max_size=60).map(str.encode))
def test_decode_of_hostile_bytes_never_accepts_what_the_standard_parser_refuses(raw: bytes) -> None:
    got = fastjson.decode(raw)
    if got is not None:
        kind, want = _std(raw)
        assert kind == "ok" and same_value(got.value, want)


@pytest.mark.parametrize("raw", [
    b'{"a":1,"b":2,"a":3}', b'[1e400]', b'[-1e400]', b'[NaN]', b'[Infinity]', b'[1' + b'0' * 5000 + b']',
    b'["\\ud800"]', b'["\\udc00\\ud800"]', b'"\xff"', b'\xef\xbb\xbf{}', b'[0.1e-400]', b'[-0]',
    b'[-0.0]', b'[123456789012345678901234567890]', b'["\\u0000"]', b'{"a":1}\x00',
])
def test_decode_of_edge_cases(raw: bytes) -> None:
    got = fastjson.decode(raw)
    kind, want = _std(raw)
    if got is None:
        return                        # the standard path decides (and words the error)
    assert kind == "ok" and same_value(got.value, want)


# ----- the push body ----------------------------------------------------------------------
def _event(**extra: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "learner": "L-1", "device": "d1", "seq": 1,
             "at": "2026-01-01T09:00:00.000Z", "type": "card.viewed", "pack": "p",
             "ref": {"course": "c", "lesson": "l", "card": "1"}, "data": {"seconds": 12.5}}
    event.update(extra)
    return event


def _standard(raw: bytes) -> tuple[list[Any], list[Any], Checked] | None:
    try:
        events, profiles = parse_push(raw)
    except RequestValidationError:
        return None
    return events, profiles, check_events(events, moment=NOW)


def _nested(levels: int) -> str:
    return '{"a":' * (levels - 1) + "1" + "}" * (levels - 1)


HOSTILE_BODIES = [
    json.dumps({"events": [_event(), _event(seq=2)]}).encode(),
    json.dumps({"events": [_event(data={"x": 1e-7})]}).encode(),
    json.dumps({"events": [_event()], "profiles": []}).encode(),
    json.dumps({"events": [_event()], "extra": 1}).encode(),
    json.dumps({"events": [_event(), _event(type="no.such")]}).encode(),
    json.dumps({"events": [_event(data={"seconds": -1})]}).encode(),
    json.dumps({"events": [_event(data={"big": "x" * 20_000})]}).encode(),
    json.dumps({"events": [_event(), 5]}).encode(),
    json.dumps({"events": "no"}).encode(),
    json.dumps([_event()]).encode(),
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":{"x":1e400}}]}',
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":{"x":NaN}}]}',
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"seq":1,"seq":2}]}',
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":{"s":"\\ud800"}}]}',
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":{"n":1' + b"0" * 5000 + b'}}]}',
    b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":"\xff"}]}',
    b'{"events":[], "events":[' + json.dumps(_event()).encode() + b"]}",
    *[(b'{"events":[' + json.dumps(_event()).encode()[:-1] + b',"data":'
       + _nested(n).encode() + b"}]}") for n in (31, 32, 33, 900, 985, 995, 1005, 5000)],
    *[(b'{"events":[' + json.dumps(_event()).encode() + b'],"profiles":[' + _nested(n).encode()
       + b"]}") for n in (3, 990, 1000)],
]


@pytest.mark.parametrize("raw", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_a_body_takes_the_fast_path_only_when_the_standard_path_accepts_it_whole(raw: bytes) -> None:
    fast = fast_parse(raw, NOW)
    standard = _standard(raw)
    if fast is None:
        return       # the standard path answers, as before (tests/integration/…hostile…)
    assert standard is not None and not standard[2].rejected
    f_events, f_profiles, f_checked = fast
    s_events, s_profiles, s_checked = standard
    assert same_value(f_events, s_events) and same_value(f_profiles, s_profiles)
    assert same_value(f_checked.candidates, s_checked.candidates)


def test_the_fast_path_is_taken_for_an_ordinary_chunk() -> None:
    raw = json.dumps({"events": [_event(seq=i + 1) for i in range(500)]}).encode()
    fast = fast_parse(raw, NOW)
    assert fast is not None and len(fast[2].candidates) == 500
    assert same_value(fast[2].candidates, _standard(raw)[2].candidates)  # type: ignore[index]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["x", "seconds", "n", "s", "é", "\U0001f600"]), JSON,
                       max_size=4), st.sampled_from(["card.viewed", "quiz.submitted", "x.y"]))
def test_generated_events_are_judged_the_same_on_both_paths(data: dict[str, Any], etype: str) -> None:
    try:
        raw = json.dumps({"events": [_event(type=etype, data=data), _event()]}).encode()
    except ValueError:
        return
    fast = fast_parse(raw, NOW)
    standard = _standard(raw)
    if fast is not None:
        assert standard is not None and not standard[2].rejected
        assert same_value(fast[2].candidates, standard[2].candidates)


def test_nan_and_infinity_are_refused_by_the_shared_validator() -> None:
    """`1e400` parses as inf: before, it was stored as `Infinity` (not JSON: every tablet
    of the facility would fail its pull)."""
    event = json.loads(json.dumps(_event())[:-1] + ', "data": {"x": 1e400}}')
    with pytest.raises(EventError, match="not storable as JSON"):
        validated_json(event)
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})
