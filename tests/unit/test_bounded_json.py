"""app/core/bounded_json.py — the one size/depth rule of the device ↔ server boundary —
and its use by app.core.events (device append/merge, server push) and the store's
quarantine log. Hostile input: nesting bombs, brackets inside strings, NaN, bad UTF-8,
duplicate keys, truncated documents; properties checked with Hypothesis."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import bounded_json as bj
from app.core.errors import EventError, JSONLimitError
from app.core.events import MAX_SEQ, is_canonical_uuid, validate_event
from app.core.learning.payloads import check_payload
from app.core.store import Store

LEARNER = "9b1e0000-0000-4000-8000-000000000001"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.text(alphabet=st.sampled_from('ab"\\[]{},: \n\u00e9'), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(alphabet=st.sampled_from('k"[]{}\\'), max_size=4), inner, max_size=4),
    max_leaves=30)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def nested_text(levels: int, leaf: str = "1") -> str:
    return '{"a":' * levels + leaf + "}" * levels


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_text_depth_equals_the_depth_of_the_value(value: Any) -> None:
    text = json.dumps(value)
    assert bj.text_depth(text) == depth_of(value)
    assert bj.text_depth(text.encode()) == depth_of(value)
    assert bj.within_depth(text, 3) == (depth_of(value) <= 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=6), st.dictionaries(st.sampled_from(["a", "more"]),
                                                          json_values, max_size=2))
def test_loads_with_items_is_plain_json_for_ordinary_documents(items: list[Any],
                                                                rest: dict[str, Any]) -> None:
    doc = {**rest, "events": items}
    assert bj.loads(json.dumps(doc), items="events") == doc


def test_a_document_too_deep_for_the_parser_is_split_at_its_items() -> None:
    bomb = '{"id": "bomb-1", "data": ' + nested_text(100_000) + "}"
    deep = '{"id": "d-2", "x": [' + nested_text(40) + "]}"
    tricky = '{"id": "ok-3", "s": "[[[{{{\\"]]]", "n": [1, {"k": []}]}'
    text = '{"more": false, "events": [' + ",".join([tricky, bomb, "7", deep, '"x"']) + \
           '], "events_cursor": 12}'
    doc = bj.loads(text, items="events")
    assert doc["more"] is False and doc["events_cursor"] == 12
    first, second, third, fourth, fifth = doc["events"]
    assert first == json.loads(tricky) and third == 7 and fifth == "x"
    assert isinstance(second, bj.BadItem) and (second.index, second.code, second.id) == (
        1, "too_deep", "bomb-1")
    assert second.excerpt.startswith('{"id": "bomb-1"') and len(second.excerpt) <= 300
    # only documents the C parser cannot follow are split; then 32 is the item limit
    assert isinstance(fourth, bj.BadItem) and fourth.id == "d-2"


@pytest.mark.parametrize("text,code", [
    ("[" * 100_000 + "]" * 100_000, "too_deep"),                        # not an object
    ('{"events": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "too_deep"),
    ('{"events": [1], "events": [' + nested_text(5000) + "]}", "invalid_json"),
    ('{"events": [' + nested_text(5000) + "]", "invalid_json"),           # truncated
    ('{"events": [NaN]}', "invalid_json"),
    ('{"events": [Infinity]}', "invalid_json"),
    ("", "invalid_json"),
])
def test_whole_document_refusals(text: str, code: str) -> None:
    with pytest.raises(JSONLimitError) as caught:
        bj.loads(text, items="events")
    assert caught.value.code == code


def test_bytes_limits_and_encoding() -> None:
    with pytest.raises(JSONLimitError) as caught:
        bj.loads(b"\xff\xfe{}")
    assert caught.value.code == "invalid_json"
    with pytest.raises(JSONLimitError) as caught:
        bj.loads(b"[" + b"0," * 100 + b"0]", max_bytes=50)
    assert caught.value.code == "too_large"
    assert bj.loads('{"t": "\u00e9"}'.encode()) == {"t": "\u00e9"}
    with pytest.raises(JSONLimitError, match="deeper than 32"):     # no items: one error
        bj.loads(nested_text(100_000))


def test_hostile_item_ids_are_only_read_when_they_are_strings() -> None:
    bomb = nested_text(5000)
    text = ('{"events": [{"id": 5, "learner": "not-the-id", "d": ' + bomb + "},"
            '{"data": {"id": "nested-id"}, "x": ' + bomb + "}]}")
    first, second = bj.loads(text, items="events")["events"]
    assert first.id is None and second.id is None


# ------------------------------------------------------------------------ events
def event(**extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": LEARNER, "device": "dev-1", "seq": 1,
            "at": "2026-01-01T09:00:00.000Z", "type": "card.viewed", "pack": "p",
            "ref": {"course": "c", "lesson": "l", "card": "0"}, **extra}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_events_are_at_most_32_levels_deep() -> None:
    validate_event(event(data=nested(bj.MAX_DEPTH - 1)))            # event level 32
    for levels in (bj.MAX_DEPTH, 900, 5000):
        with pytest.raises(EventError, match="deeper than 32|not storable"):
            validate_event(event(data=nested(levels)))


def test_ids_are_canonical_lower_case_uuids_and_seq_is_bounded() -> None:
    u = uuid.uuid4()
    assert is_canonical_uuid(str(u))
    for spelling in ("{" + str(u) + "}", str(u).upper(), u.hex, u.urn, f" {u}", str(u) + "\n",
                     12345, None, "", "not-a-uuid"):
        assert not is_canonical_uuid(spelling)
        with pytest.raises(EventError, match="^id"):
            validate_event(event(id=spelling))
    validate_event(event(seq=MAX_SEQ))
    for seq in (MAX_SEQ + 1, 10**40, 0, -1, 1.5, True):
        with pytest.raises(EventError, match="^seq"):
            validate_event(event(seq=seq))


@pytest.mark.parametrize("seconds", [10**400, -(10**400), 10**4000, 2**1024],
                         ids=["1e400", "-1e400", "1e4000", "2^1024"])
def test_a_huge_whole_number_is_refused_not_a_crash(seconds: int) -> None:
    """Found by test_fastjson's generator in CI: `math.isfinite` overflows on an int too
    large for a float, so a pushed 400-digit `data.seconds` raised OverflowError (a 500)
    instead of a refusal. The message names the field and stays short."""
    with pytest.raises(EventError, match=r"data\.seconds") as refused:
        check_payload(event(data={"seconds": seconds, "lang": "en"}))
    assert len(str(refused.value)) < 200


def test_the_device_refuses_the_same_events_as_the_server(tmp_path: Path) -> None:
    """Append (local) and merge (pulled) use validate_event: a tablet can never hold in its
    outbox an event the server would refuse for depth, id spelling or seq."""
    with Store.open(tmp_path / "dev") as store:
        ok = store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                           "ref": {"course": "c", "lesson": "l", "card": "0"},
                           "data": nested(bj.MAX_DEPTH - 1)})
        with pytest.raises(EventError, match="deeper than 32"):
            store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                          "data": nested(bj.MAX_DEPTH)})
        with pytest.raises(EventError, match="id"):
            store.append({"id": str(uuid.uuid4()).upper(), "learner": LEARNER,
                          "type": "card.viewed"})
        with pytest.raises(EventError, match="seq"):
            store.merge([{**event(), "device": "dev-other", "seq": 2**60}])
        with pytest.raises(EventError, match="deeper than 32"):
            store.merge([{**event(), "device": "dev-other", "data": nested(900)}])
        assert [e["id"] for e in store.outbox()] == [ok] and store.event_count() == 1


# ------------------------------------------------------------------------ quarantine log
def test_the_quarantine_log_is_kept_once_bounded_and_survives_a_restart(tmp_path: Path) -> None:
    from app.core.store import quarantine
    with Store.open(tmp_path / "dev") as store:
        before = (store.event_count(), store.outbox_count(), store.conflict_count())
        items = [("id-1", "too_deep: x", "{" * 5000), (None, "bad_schema: y", "junk")]
        assert store.quarantine(items) == 2
        assert store.quarantine(items) == 0                     # a re-pulled page adds nothing
        rows = store.quarantined()
        assert [(r["id"], r["reason"]) for r in rows] == [("id-1", "too_deep: x"),
                                                           (None, "bad_schema: y")]
        assert len(rows[0]["text"]) == quarantine.MAX_TEXT_CHARS
        assert (store.event_count(), store.outbox_count(), store.conflict_count()) == before
        many = [(f"e-{i}", "bad_schema", f"text {i}") for i in range(quarantine.MAX_QUARANTINED + 50)]
        store.quarantine(many)
        assert store.quarantine_count() == quarantine.MAX_QUARANTINED
    with Store.open(tmp_path / "dev") as store:
        rows = store.quarantined()
        assert len(rows) == quarantine.MAX_QUARANTINED and rows[-1]["id"] == f"e-{quarantine.MAX_QUARANTINED + 49}"


def test_canonical_uuid_check_equals_the_uuid_module_round_trip() -> None:
    """is_canonical_uuid is a regex now: it must answer exactly `str(UUID(v)) == v`
    (other spellings of one UUID would be other ids), for hostile spellings too."""
    import random

    def by_uuid_module(v: object) -> bool:
        if not isinstance(v, str) or len(v) != 36:
            return False
        try:
            return str(uuid.UUID(v)) == v
        except ValueError:
            return False

    rnd = random.Random(18)
    good = str(uuid.uuid4())
    cases: list[object] = [good, good.upper(), "{" + good[:34] + "}", "urn:uuid:" + good[:27],
                           good.replace("-", ""), good + "\n", good[:-1] + "\n", " " + good[1:],
                           good[:-1] + "٣", good[:-1] + "G", None, 7, b"x" * 36]
    alphabet = "0123456789abcdefABCDEF-{}urn:\n é٣"
    for _ in range(5000):
        chars = list(str(uuid.uuid4()))
        chars[rnd.randrange(36)] = rnd.choice(alphabet)
        cases.append("".join(chars))
    assert [is_canonical_uuid(c) for c in cases] == [by_uuid_module(c) for c in cases]


def test_canonical_json_bytes_are_json_dumps_with_sorted_keys() -> None:
    from app.core.canonical import canonical_json

    value = {"b": [1, 2.5, 1e-07, 1e16, None, True], "a": {"ž": "Jūratė", "z": "\u2028"},
             "c": -0.0, "d": 12345678901234567890}
    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()
