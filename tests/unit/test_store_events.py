"""Event log, outbox, merge and housekeeping of app.core.store.Store (real TinyDB files)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import EventError, StoreError
from app.core.events import order_key, validate_event
from app.core.store import Store

A = "0a000000-0000-4000-8000-00000000000a"
B = "0b000000-0000-4000-8000-00000000000b"


def ev(learner: str = A, **extra: Any) -> dict[str, Any]:
    base = {"learner": learner, "type": "card.viewed", "ref": {"card": "c1"}, "data": {}}
    base.update(extra)
    return base


def remote(learner: str = A, *, device: str = "dev-remote", seq: int = 1,
           at: str = "2026-01-01T00:00:00.000Z", **extra: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "learner": learner, "device": device, "seq": seq,
             "at": at, "type": "answer.given", "ref": {"question": "q1"}, "data": {"x": 1}}
    event.update(extra)
    return event


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path, journal_capacity=4, segment_capacity=5)
    yield s
    s.close()


def test_append_fills_envelope_and_is_readable(store: Store) -> None:
    event_id = store.append(ev(data={"choice": "b"}))
    [event] = store.events(A)
    assert event["id"] == event_id
    assert event["device"] == store.device_id and event["seq"] == 1
    assert event["data"] == {"choice": "b"}
    validate_event(event)
    assert store.outbox() == [event]


def test_append_does_not_keep_a_reference_to_the_callers_dict(store: Store) -> None:
    mine = ev(data={"n": 1})
    store.append(mine)
    mine["data"]["n"] = 99
    assert store.events(A)[0]["data"] == {"n": 1}
    store.events(A)[0]["data"]["n"] = 42
    assert store.events(A)[0]["data"] == {"n": 1}


@pytest.mark.parametrize("bad, field", [
    ({"learner": A, "type": "no.such"}, "type"),
    ({"type": "card.viewed"}, "learner"),
    ({"learner": "../../etc", "type": "card.viewed"}, "learner"),
    ({"learner": A, "type": "card.viewed", "surprise": 1}, "surprise"),
    ({"learner": A, "type": "card.viewed", "ref": {"prisoner": "x"}}, "ref.prisoner"),
    ({"learner": A, "type": "card.viewed", "data": [1]}, "data"),
    ({"learner": A, "type": "card.viewed", "data": {"v": float("nan")}}, "event"),
    ({"learner": A, "type": "card.viewed", "data": {"v": object()}}, "event"),
    ({"learner": A, "type": "card.viewed", "data": {"big": "x" * 20_000}}, "event"),
    ({"learner": A, "type": "card.viewed", "at": "yesterday"}, "at"),
    ({"learner": A, "type": "card.viewed", "id": "not-a-uuid"}, "id"),
    ({"learner": A, "type": "card.viewed", "device": "dev-other"}, "device"),
    ({"learner": A, "type": "card.viewed", "seq": "7"}, "seq"),
    ({"learner": A, "type": "card.viewed", "seq": True}, "seq"),
    ({"learner": A, "type": "card.viewed", "pack_version": 0}, "pack_version"),
])
def test_append_rejects_malformed_events_naming_the_field(store: Store, bad: dict, field: str) -> None:
    with pytest.raises(EventError) as info:
        store.append(bad)
    assert str(info.value).startswith(field), str(info.value)
    assert store.event_count() == 0 and store.outbox() == []


def test_append_rejects_non_objects(store: Store) -> None:
    for bad in (None, [], "event", 42):
        with pytest.raises(EventError, match="event"):
            store.append(bad)  # type: ignore[arg-type]


def test_append_refuses_reused_seq_and_duplicate_id(store: Store) -> None:
    first = store.append(ev())
    with pytest.raises(EventError, match="seq"):
        store.append(ev(seq=1))
    with pytest.raises(EventError, match="id"):
        store.append(ev(id=first))
    assert store.event_count() == 1
    # a caller-chosen seq above the counter is kept, and the counter moves past it
    store.append(ev(seq=10))
    store.append(ev())
    assert [e["seq"] for e in store.events(A)] == [1, 10, 11]


def test_events_are_isolated_per_learner_and_ordered(store: Store) -> None:
    for i in range(7):
        store.append(ev(A, at=f"2026-01-01T00:00:{30 - i:02d}.000Z"))
        store.append(ev(B))
    a_events = store.events(A)
    assert len(a_events) == 7 and all(e["learner"] == A for e in a_events)
    assert all(e["learner"] == B for e in store.events(B))
    assert a_events == sorted(a_events, key=order_key)
    assert store.events("0c000000-0000-4000-8000-00000000000c") == []
    assert store.learner_ids() == sorted([A, B])
    assert store.event_count() == 14 and store.event_count(A) == 7


@pytest.mark.plain_store
def test_isolation_on_disk_one_folder_per_learner(tmp_path: Path) -> None:
    with Store.open(tmp_path, journal_capacity=2, segment_capacity=3) as s:
        for _ in range(5):
            s.append(ev(A))
            s.append(ev(B))
    folders = list((tmp_path / "store" / "learners").iterdir())
    assert len(folders) == 2
    for folder in folders:
        learners = set()
        for seg in folder.glob("*.json"):
            tables = json.loads(seg.read_text())["tables"]
            learners |= {d["event"]["learner"] for d in tables["events"].values()}
        assert len(learners) == 1


def test_outbox_order_limit_acknowledge_and_history(store: Store) -> None:
    ids = [store.append(ev(A if i % 2 else B)) for i in range(11)]
    assert [e["id"] for e in store.outbox()] == ids
    assert [e["id"] for e in store.outbox(limit=3)] == ids[:3]
    assert store.outbox(limit=0) == []
    assert store.acknowledge(ids[:6] + ["unknown", ids[0]]) == 6
    assert [e["id"] for e in store.outbox()] == ids[6:]
    assert store.acknowledge(ids[:6]) == 0  # idempotent
    assert store.event_count() == 11  # acknowledged events stay in the history
    with pytest.raises(StoreError):
        store.outbox(limit=-1)
    with pytest.raises(StoreError):
        store.acknowledge("abc")  # a string is not a list of ids


def test_outbox_skip_leaves_ids_out_without_counting_them(store: Store) -> None:
    """`skip` (what a push has in flight or held): neither returned nor counted in the
    limit, so the next window reads only events not yet taken."""
    ids = [store.append(ev()) for _ in range(9)]
    assert [e["id"] for e in store.outbox(3, skip={ids[0], ids[2]})] == [ids[1], ids[3], ids[4]]
    assert [e["id"] for e in store.outbox(100, skip=set(ids[:7]))] == ids[7:]
    assert store.outbox(5, skip=set(ids)) == []
    assert [e["id"] for e in store.outbox(2, skip=["not-an-outbox-id"])] == ids[:2]
    store.acknowledge(ids[:4])
    assert [e["id"] for e in store.outbox(2, skip={ids[4]})] == ids[5:7]


def test_outbox_bodies_are_private_copies(store: Store) -> None:
    store.append(ev(data={"nested": {"list": [1, {"deep": "x"}]}}))
    first = store.outbox()[0]
    first["data"]["nested"]["list"][1]["deep"] = "changed"
    first["ref"]["card"] = "changed"
    again = store.outbox()[0]
    assert again["data"] == {"nested": {"list": [1, {"deep": "x"}]}}
    assert again["ref"] == {"card": "c1"}


def test_an_acknowledgement_deleting_several_journals_syncs_the_folder_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleted journal files are made durable by one fsync of their folder, after the
    last unlink and before their ids are forgotten (not one fsync per file)."""
    from app.core.store import journal as journal_module
    s = Store.open(tmp_path, journal_capacity=2, segment_capacity=4)
    try:
        ids = [s.append(ev()) for _ in range(9)]
        folder = tmp_path / "store" / "journal"
        before = set(folder.glob("*.log"))
        synced: list[set[Path]] = []
        real = journal_module.fsync_dir

        def spy(path: Path) -> None:
            if Path(path) == folder:
                synced.append(set(folder.glob("*.log")))
            real(path)

        monkeypatch.setattr(journal_module, "fsync_dir", spy)
        s.acknowledge(ids[:8])
        after = set(folder.glob("*.log"))
        assert len(before - after) >= 3          # several files went in one call
        assert synced == [after]                 # one fsync, after every unlink
        assert [e["id"] for e in s.outbox()] == ids[8:]
    finally:
        s.close()
    s = Store.open(tmp_path, journal_capacity=2, segment_capacity=4)
    try:
        assert [e["id"] for e in s.outbox()] == ids[8:]
        assert [e["id"] for e in s.events(A)] == ids
    finally:
        s.close()


def test_acknowledged_journals_are_deleted_and_state_survives_reopen(tmp_path: Path) -> None:
    s = Store.open(tmp_path, journal_capacity=3, segment_capacity=4)
    ids = [s.append(ev()) for _ in range(10)]
    s.acknowledge(ids[:7])
    journals = sorted((tmp_path / "store" / "journal").glob("*.log"))
    assert len(journals) <= 3  # files whose events were all acknowledged are gone
    s.close()
    s = Store.open(tmp_path, journal_capacity=3, segment_capacity=4)
    try:
        assert [e["id"] for e in s.outbox()] == ids[7:]
        assert [e["id"] for e in s.events(A)] == ids
        assert s.append(ev()) and s.events(A)[-1]["seq"] == 11
    finally:
        s.close()


def test_reject_moves_events_out_of_the_outbox_with_reason(store: Store) -> None:
    ids = [store.append(ev()) for _ in range(6)]
    with pytest.raises(StoreError, match="reason"):
        store.reject({ids[0]: 42})  # type: ignore[dict-item]
    with pytest.raises(StoreError):
        store.reject([ids[0]])  # type: ignore[arg-type]
    assert store.reject({ids[1]: "unknown learner", "nope": "x"}) == 1
    assert ids[1] not in [e["id"] for e in store.outbox()]
    [row] = store.rejected()
    assert row["event"]["id"] == ids[1] and row["reason"] == "unknown learner"
    assert row["at"].endswith("Z")
    assert store.reject({ids[1]: "again"}) == 0
    assert len(store.events(A)) == 6


def test_merge_is_a_union_by_id_and_never_enters_the_outbox(store: Store) -> None:
    mine = store.append(ev())
    pulled = [remote(seq=i) for i in range(1, 13)]
    assert store.merge(pulled) == 12
    assert store.merge(pulled) == 0
    assert store.merge(pulled[:3] + pulled[:3]) == 0
    # our own events coming back from the server (already stored) are not new
    assert store.merge([dict(e, received_at="2026-02-02T00:00:00.000Z")
                        for e in store.outbox()]) == 0
    assert [e["id"] for e in store.outbox()] == [mine]
    assert store.event_count(A) == 13
    assert {e["id"] for e in store.events(A)} == {mine} | {e["id"] for e in pulled}


def test_merge_validates_the_whole_batch_first(store: Store) -> None:
    good = remote()
    bad = remote(type="nope")
    with pytest.raises(EventError, match=r"events\[1\]\.type"):
        store.merge([good, bad])
    assert store.event_count() == 0
    with pytest.raises(EventError, match=r"events\[0\]"):
        store.merge(["text"])  # type: ignore[list-item]
    with pytest.raises(StoreError):
        store.merge({"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(EventError, match=r"events\[0\]\.received_at|events\[0\]\.at"):
        store.merge([dict(good, received_at=None, at="2026-13-01")])


def test_merged_events_of_this_device_push_the_seq_counter(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.append(ev())
        assert s.merge([remote(device=s.device_id, seq=50)]) == 1
        s.append(ev())
        assert max(e["seq"] for e in s.events(A)) == 51
        device = s.device_id
    with Store.open(tmp_path) as s:
        assert s.device_id == device
        s.append(ev())
        assert sorted(e["seq"] for e in s.events(A)) == [1, 50, 51, 52]


def test_subscribe_gets_new_events_and_a_failing_listener_breaks_nothing(store: Store) -> None:
    seen: list[list[dict]] = []
    unsubscribe = store.subscribe(seen.append)
    store.subscribe(lambda events: 1 / 0)
    event_id = store.append(ev())
    pulled = [remote(seq=1), remote(seq=2)]
    store.merge(pulled)
    store.merge(pulled)  # nothing new: no call
    assert [[e["id"] for e in batch] for batch in seen] == [[event_id],
                                                             [e["id"] for e in pulled]]
    unsubscribe()
    store.append(ev())
    assert len(seen) == 2
    with pytest.raises(StoreError):
        store.subscribe("not callable")  # type: ignore[arg-type]


def test_storage_bytes_grows_with_data(store: Store) -> None:
    before = store.storage_bytes()
    for _ in range(10):
        store.append(ev(data={"text": "x" * 200}))
    assert store.storage_bytes() > before + 2000


def test_one_store_per_folder_and_closed_store_refuses(tmp_path: Path) -> None:
    s = Store.open(tmp_path)
    with pytest.raises(StoreError, match="already open"):
        Store.open(tmp_path)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.append(ev())
    with Store.open(tmp_path) as again:
        assert again.device_id == s.device_id


def _hold_store(path: str, ready: Any, release: Any) -> None:
    s = Store.open(path)
    ready.set()
    release.wait(10)
    s.close()


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_store, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StoreError, match="another process"):
            Store.open(tmp_path)
    finally:
        release.set()
        proc.join(20)
    with Store.open(tmp_path):
        pass


def test_open_refuses_a_file_as_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(StoreError):
        Store.open(target)


def test_threads_append_concurrently_without_losing_or_repeating(tmp_path: Path) -> None:
    with Store.open(tmp_path, journal_capacity=8, segment_capacity=16) as s:
        ids: list[str] = []
        errors: list[BaseException] = []

        def worker(learner: str) -> None:
            try:
                for _ in range(40):
                    ids.append(s.append(ev(learner)))
                    s.outbox(5)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(lr,)) for lr in (A, B, A, B)]
        for t in threads:
            t.start()
        acked = 0
        while any(t.is_alive() for t in threads):
            acked += s.acknowledge([e["id"] for e in s.outbox(10)])
        for t in threads:
            t.join()
        assert not errors
        stored = s.events(A) + s.events(B)
        assert sorted(e["id"] for e in stored) == sorted(ids) and len(ids) == 160
        seqs = [e["seq"] for e in stored]
        assert len(set(seqs)) == 160
        assert len(s.outbox(1000)) == 160 - acked


def test_reopen_keeps_everything_and_seq_never_repeats(tmp_path: Path) -> None:
    seqs: list[int] = []
    for round_ in range(4):
        with Store.open(tmp_path, journal_capacity=3, segment_capacity=4) as s:
            for _ in range(5):
                s.append(ev())
            s.merge([remote(seq=round_ * 10 + i + 1) for i in range(3)])
            seqs = [e["seq"] for e in s.events(A) if e["device"] == s.device_id]
            s.acknowledge([e["id"] for e in s.outbox(4)])
    assert len(seqs) == 20 and len(set(seqs)) == 20
    with Store.open(tmp_path) as s:
        assert s.event_count(A) == 32
        assert len(s.outbox()) == 20 - 16


def test_reopen_without_close_folds_the_journal_once(tmp_path: Path) -> None:
    s = Store.open(tmp_path, journal_capacity=50, segment_capacity=7)
    ids = [s.append(ev()) for _ in range(20)]
    # simulate a crash: drop the object without close() (release only the lock)
    s._release_files()
    s._closed = True
    s2 = Store.open(tmp_path, journal_capacity=50, segment_capacity=7)
    try:
        events = s2.events(A)
        assert [e["id"] for e in events] == ids
        assert [e["id"] for e in s2.outbox(100)] == ids
    finally:
        s2.close()
    with Store.open(tmp_path) as s3:
        assert s3.event_count(A) == 20


@pytest.mark.plain_store
def test_files_carry_schema_version(tmp_path: Path) -> None:
    with Store.open(tmp_path, journal_capacity=2, segment_capacity=2) as s:
        for _ in range(5):
            s.append(ev())
        s.acknowledge([s.outbox(1)[0]["id"]])
    for path in (tmp_path / "store").rglob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["schema"] == 1 and isinstance(doc["kind"], str), path
    for path in (tmp_path / "store" / "journal").glob("*.log"):
        assert json.loads(path.read_bytes().split(b"\n")[0])["schema"] == 1


def test_no_pid_temp_files_left_behind(tmp_path: Path) -> None:
    with Store.open(tmp_path, journal_capacity=2, segment_capacity=2) as s:
        for _ in range(9):
            s.append(ev())
    leftovers = [p for p in (tmp_path / "store").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    assert os.path.exists(tmp_path / "store" / "store.lock")


@pytest.mark.plain_store
def test_seq_survives_a_crash_between_reject_and_outbox_write(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path, journal_capacity=3)
    ids = [s.append(ev()) for _ in range(5)]

    def crash(*_a: Any) -> None:
        raise StoreError("simulated crash after rejected.json was written")
    monkeypatch.setattr(s._outbox, "write_state", crash)
    with pytest.raises(StoreError, match="simulated"):
        s.reject({i: "bad" for i in ids})
    s._release_files()  # the process dies here
    s._closed = True
    monkeypatch.undo()
    with Store.open(tmp_path, journal_capacity=3) as s2:  # deletes the rejected journals
        assert s2.outbox() == [] and len(s2.rejected()) == 5
    with Store.open(tmp_path, journal_capacity=3) as s3:
        s3.append(ev())
        seqs = [e["seq"] for e in s3.events(A)]
        assert seqs == [1, 2, 3, 4, 5, 6]
