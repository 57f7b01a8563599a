"""Re-attribution of a refused offline profile's work (app/core/store/reattribute.py):
copies as new events, old events rejected with a reason, profile retired — exactly
once even when interrupted at any step, on a real store folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import StoreError
from app.core.pins import make_verifier
from app.core.store import Store, reattribute

EXISTING = {"id": "5a1e0000-0000-4000-8000-0000000000e1", "display_name": "Ona J",
            "staff_number": "LT-2024", "role": "prison_officer", "language": "en",
            "pin_verifier": make_verifier("2580")}


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def local_work(store: Store) -> tuple[str, list[str]]:
    """A profile made here with three events (one already acknowledged by nobody)."""
    learner = store.profiles.create("Ona J", "LT-2024", "prison_officer", "en", "1357")["id"]
    ids = [store.append({"learner": learner, "type": "card.viewed", "pack": "p",
                         "ref": {"course": "c", "lesson": "l", "card": str(i)},
                         "data": {"seconds": 3}}) for i in range(3)]
    return learner, ids


def copies_of(store: Store, learner: str) -> list[str]:
    return sorted(e["data"]["reattributed_from"] for e in store.events(learner)
                  if "reattributed_from" in (e.get("data") or {}))


def test_work_moves_as_new_events_and_the_old_ones_are_kept(store: Store) -> None:
    old_id, old = local_work(store)
    store.profiles.upsert_remote([EXISTING])
    new_id = EXISTING["id"]
    assert reattribute.plan(store, old_id, new_id)
    assert reattribute.run_ready(store) == {old_id: new_id}
    moved = store.events(new_id)
    assert copies_of(store, new_id) == sorted(old)
    assert not {e["id"] for e in moved} & set(old)
    assert all(e["device"] == store.device_id and e["data"]["seconds"] == 3 for e in moved)
    assert {e["id"] for e in store.outbox(100)} == {e["id"] for e in moved}
    rejected = {r["event"]["id"]: r["reason"] for r in store.rejected()}
    assert rejected == {i: f"re-attributed to learner {new_id}" for i in old}
    assert [e["id"] for e in store.events(old_id)] == old          # never rewritten
    assert [p["id"] for p in store.profiles.list()] == [new_id]
    (record,) = store.profiles.retired()
    assert (record["id"], record["merged_into"]) == (old_id, new_id)
    assert "pin_verifier" not in record
    assert store.profiles.pending_push() == []
    assert reattribute.pending(store) == {}
    assert reattribute.take_notices(store) == [new_id]
    assert reattribute.take_notices(store) == []
    # again: nothing more happens
    assert not reattribute.plan(store, old_id, new_id)
    assert reattribute.run(store, old_id, new_id) == 0
    assert len(store.events(new_id)) == 3


def test_work_saved_on_the_old_profile_afterwards_follows_at_the_next_run(
        store: Store) -> None:
    old_id, old = local_work(store)
    store.profiles.upsert_remote([EXISTING])
    new_id = EXISTING["id"]
    reattribute.plan(store, old_id, new_id)
    reattribute.run_ready(store)
    assert reattribute.take_notices(store) == [new_id]
    late = store.append({"learner": old_id, "type": "card.viewed", "pack": "p",
                         "ref": {"course": "c", "lesson": "l", "card": "7"}, "data": {}})
    assert reattribute.run_ready(store) == {old_id: new_id}
    assert copies_of(store, new_id) == sorted([*old, late])
    assert late in {r["event"]["id"] for r in store.rejected()}
    assert reattribute.run_ready(store) == {}
    assert reattribute.take_notices(store) == []                  # told once only


def test_waits_until_the_existing_profile_with_its_pin_is_here(store: Store) -> None:
    old_id, old = local_work(store)
    new_id = EXISTING["id"]
    reattribute.plan(store, old_id, new_id)
    assert reattribute.run_ready(store) == {}                     # not pulled yet
    store.profiles.upsert_remote([{**EXISTING, "pin_verifier": None}])
    assert reattribute.run_ready(store) == {}                     # no PIN: cannot sign in
    assert store.outbox_count() == 3 and not store.rejected()
    assert reattribute.pending(store) == {old_id: new_id}
    store.profiles.upsert_remote([{**EXISTING, "updated_at": "2030-01-01T00:00:00.000Z"}])
    assert reattribute.run_ready(store) == {old_id: new_id}
    assert copies_of(store, new_id) == sorted(old)


@pytest.mark.parametrize("fail_at", ["append", "reject", "retire", "settings"])
def test_an_interruption_at_any_step_still_moves_everything_exactly_once(
        tmp_path: Path, fail_at: str) -> None:
    store = Store.open(tmp_path)
    old_id, old = local_work(store)
    store.profiles.upsert_remote([EXISTING])
    new_id = EXISTING["id"]
    reattribute.plan(store, old_id, new_id)
    target = {"append": store, "reject": store, "retire": store.profiles,
              "settings": store.settings}[fail_at]
    name = {"settings": "update"}.get(fail_at, fail_at)
    real = getattr(target, name)
    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 or fail_at != "append":
            raise StoreError("power cut")
        return real(*args, **kwargs)

    setattr(target, name, crash)
    with pytest.raises(StoreError, match="power cut"):
        reattribute.run_ready(store)
    store.close()                                 # the tablet restarts
    store = Store.open(tmp_path)
    try:
        assert reattribute.pending(store) == {old_id: new_id}
        assert reattribute.run_ready(store) == {old_id: new_id}
        assert reattribute.run_ready(store) == {}
        assert copies_of(store, new_id) == sorted(old)
        assert len(store.events(new_id)) == 3
        assert sorted(r["event"]["id"] for r in store.rejected()) == sorted(old)
        assert [p["id"] for p in store.profiles.list()] == [new_id]
        assert len(store.profiles.retired()) == 1
    finally:
        store.close()


def test_hostile_plans_are_refused(store: Store) -> None:
    old_id, _ = local_work(store)
    for bad in [(old_id, old_id), (old_id, ""), ("", EXISTING["id"]), (old_id, None)]:
        with pytest.raises(StoreError, match="re-attribution"):
            reattribute.plan(store, *bad)  # type: ignore[arg-type]
    assert not reattribute.plan(store, "5a1e0000-0000-4000-8000-00000000dead", old_id)
    store.settings.set(reattribute.PENDING, ["not", "a", "mapping"])
    assert reattribute.pending(store) == {}
    assert reattribute.run_ready(store) == {}
    assert not store.profiles.retire("5a1e0000-0000-4000-8000-00000000dead", old_id)
