"""Store.events cache (history.py) and the conflict log (conflicts.py): real TinyDB files.

The cache must never change what `events()` returns: every test compares the cached
answer with what a freshly opened store reads from disk.
"""

from __future__ import annotations

import marshal
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import StoreError
from app.core.store import Store, conflicts
from app.core.store.history import HistoryCache, copy_json
from tests.unit.test_store_durability import DiskFull

A = "0a000000-0000-4000-8000-00000000000a"
B = "0b000000-0000-4000-8000-00000000000b"


def local(learner: str = A, n: int = 0) -> dict[str, Any]:
    return {"learner": learner, "type": "answer.given", "ref": {"question": f"q{n}"},
            "data": {"choice": ["b"], "n": n}}


def remote(learner: str = A, *, seq: int = 1, at: str = "2026-01-01T00:00:00.000Z",
           device: str = "dev-remote", **extra: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "learner": learner, "device": device, "seq": seq,
             "at": at, "type": "answer.given", "ref": {"question": "q1"}, "data": {"x": seq}}
    event.update(extra)
    return event


def on_disk(tmp_path: Path, learner: str) -> list[dict[str, Any]]:
    with Store.open(tmp_path) as fresh:
        return fresh.events(learner)


def test_repeated_events_calls_hit_the_cache_and_match_the_disk(tmp_path: Path) -> None:
    store = Store.open(tmp_path, journal_capacity=4, segment_capacity=5)
    for i in range(23):
        store.append(local(A if i % 3 else B, i))
    first = store.events(A)
    misses = store._learners._history.misses
    second = store.events(A)
    assert store._learners._history.misses == misses and store._learners._history.hits >= 1
    assert first == second and len(first) == 15
    store.close()
    assert on_disk(tmp_path, A) == first


def test_returned_events_are_copies(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.append(local(A, 1))
        events = store.events(A)
        events[0]["data"]["choice"].append("HACKED")
        events[0]["ref"]["question"] = "changed"
        events.clear()
        again = store.events(A)
        assert again[0]["data"]["choice"] == ["b"] and again[0]["ref"]["question"] == "q1"


def test_cache_stays_complete_and_sorted_through_append_and_merge(tmp_path: Path) -> None:
    store = Store.open(tmp_path, journal_capacity=3, segment_capacity=4)
    rng = random.Random(7)
    for i in range(10):
        store.append(local(A, i))
    assert len(store.events(A)) == 10          # now cached
    for round_ in range(30):
        if rng.random() < 0.5:
            store.append(local(rng.choice([A, B]), round_))
        else:   # remote events land anywhere in the order, older or newer
            at = f"2026-{rng.randint(1, 12):02d}-01T00:00:00.000Z"
            store.merge([remote(rng.choice([A, B]), seq=round_ + 1, at=at)])
        if rng.random() < 0.3:
            store.events(B)
    cached_a, cached_b = store.events(A), store.events(B)
    assert A in store._learners._history
    store.close()
    assert on_disk(tmp_path, A) == cached_a
    assert on_disk(tmp_path, B) == cached_b


def test_cache_is_bounded_and_evicts_least_recently_used(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        for i in range(8):
            store.append(local(A, i))
            store.append(local(B, i))
        one = len(marshal.dumps(store.events(A)))
        store._learners._history.clear()
        store._learners._history.limit = one + one // 2           # room for one learner only
        store.events(A)
        store.events(B)                                 # A (least recently used) dropped
        assert B in store._learners._history and A not in store._learners._history
        assert store._learners._history.size <= store._learners._history.limit
        assert len(store.events(A)) == 8                # still right, read again from disk


def test_history_cache_unit() -> None:
    cache = HistoryCache(key=lambda e: e["n"], limit_bytes=2000)
    cache.put("x", [{"n": i, "pad": str(i) * 600} for i in range(4)])
    assert "x" not in cache and cache.size == 0          # larger than the whole cache
    cache.put("z", [{"n": 5}, {"n": 1}][::-1])           # given sorted
    cache.add("z", [{"n": 4}, {"n": 0}])
    got = cache.get("z")
    assert got == [{"n": 0}, {"n": 1}, {"n": 4}, {"n": 5}]
    got[0]["n"] = 99                                     # the caller owns what it got
    assert cache.get("z") == [{"n": 0}, {"n": 1}, {"n": 4}, {"n": 5}]
    assert cache.size == len(marshal.dumps([{"n": 0}, {"n": 1}, {"n": 4}, {"n": 5}]))
    cache.add("unknown", [{"n": 1}])                     # not cached: nothing to keep up
    assert "unknown" not in cache
    cache.add("z", [{"n": i} for i in range(10)])        # tail estimate over the bound
    assert "z" not in cache and cache.size == 0
    off = HistoryCache(key=lambda e: e["n"], limit_bytes=0)
    off.put("a", [{"n": 1}])
    assert off.get("a") is None


def test_store_open_checks_the_cache_bound(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="history_cache_bytes"):
        Store.open(tmp_path, history_cache_bytes=-1)
    with Store.open(tmp_path, history_cache_bytes=0) as store:   # no cache: still right
        store.append(local(A, 1))
        assert len(store.events(A)) == len(store.events(A)) == 1
        assert A not in store._learners._history


def test_copy_json_is_deep_and_equal() -> None:
    value = {"a": [1, {"b": [2, 3]}], "c": "x", "d": None, "e": 1.5, "f": True}
    copied = copy_json(value)
    assert copied == value
    copied["a"][1]["b"].append(4)
    assert value["a"][1]["b"] == [2, 3]


def test_events_from_the_closed_store_still_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.append(local())
    store.events(A)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.events(A)


# ---------------------------------------------------------------------- conflicts
def test_same_id_other_content_is_recorded_once_and_first_copy_kept(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        original = remote(A, seq=1)
        assert store.merge([original]) == 1
        tampered = dict(original, data={"x": 999})
        assert store.merge([tampered]) == 0
        assert store.merge([tampered]) == 0          # the same conflict again: one row
        [row] = store.conflicts()
        assert row["id"] == original["id"] and row["learner"] == A
        assert row["kept"]["data"] == {"x": 1} and row["received"]["data"] == {"x": 999}
        assert store.events(A)[0]["data"] == {"x": 1}
    with Store.open(tmp_path) as store:                # persisted
        assert len(store.conflicts()) == 1
        assert store.merge([dict(original, data={"x": 1000})]) == 0
        assert len(store.conflicts()) == 2


def test_server_stamp_and_identical_copy_are_not_conflicts(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        own = store.append(local(A, 1))
        [mine] = store.events(A)
        assert mine["id"] == own
        echoed = dict(mine, received_at="2026-11-23T10:00:00.000Z")
        other = remote(A)
        assert store.merge([echoed, other, dict(other)]) == 1
        assert store.conflicts() == []


def test_a_local_event_changed_on_the_server_is_a_conflict(tmp_path: Path) -> None:
    with Store.open(tmp_path, journal_capacity=2) as store:
        for i in range(5):        # some folded into segments, one still in the journal
            store.append(local(A, i))
        events = store.events(A)
        changed = [dict(e, type="card.viewed", ref={"card": "c1"}) for e in events[:2]]
        changed.append(dict(events[-1], data={"choice": ["a"], "n": 4}))
        assert store.merge(changed) == 0
        assert sorted(r["id"] for r in store.conflicts()) == sorted(e["id"] for e in changed)


def test_two_copies_in_one_batch_differing_is_a_conflict(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        first = remote(B)
        assert store.merge([first, dict(first, data={"x": 2})]) == 1
        [row] = store.conflicts()
        assert row["kept"]["data"] == {"x": 1} and row["received"]["data"] == {"x": 2}


def test_conflict_log_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conflicts, "MAX_CONFLICTS", 5)
    with Store.open(tmp_path) as store:
        events = [remote(A, seq=i + 1) for i in range(8)]
        store.merge(events)
        store.merge([dict(e, data={"x": -1}) for e in events])
        rows = store.conflicts()
        assert len(rows) == 5
        assert [r["id"] for r in rows] == [e["id"] for e in events[3:]]   # oldest dropped


def test_disk_full_while_recording_a_conflict_merges_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(tmp_path) as store:
        known = remote(A, seq=1)
        store.merge([known])
        new = remote(A, seq=2)
        with monkeypatch.context() as m:
            DiskFull(m)
            with pytest.raises(StoreError):
                store.merge([dict(known, data={"x": 5}), new])
        assert store.conflicts() == [] and len(store.events(A)) == 1
        assert store.merge([dict(known, data={"x": 5}), new]) == 1   # the re-pull works
        assert len(store.conflicts()) == 1 and len(store.events(A)) == 2


@pytest.mark.plain_store
def test_damaged_conflict_log_is_a_clear_error(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    (tmp_path / "store" / "conflicts.json").write_text(
        '{"schema": 1, "kind": "conflicts", "tables": {"conflicts": {"1": {"x": 1}}}}')
    with pytest.raises(StoreError, match="conflicts.json"):
        Store.open(tmp_path)
