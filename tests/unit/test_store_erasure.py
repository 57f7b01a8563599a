"""Purging an erased learner from a device store (app/core/store/erasure.py): every
place their data lives, reopening, crash half-way, hostile ids."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import EventError
from app.core.store import Store, erasure
from app.core.store.erased_file import read_rows, write_rows


def event(learner: str, n: int) -> dict[str, Any]:
    return {"learner": learner, "type": "card.viewed", "pack": "p", "pack_version": 1,
            "ref": {"course": "c", "lesson": "l", "card": str(n % 3)}, "data": {"seconds": 1.0}}


def every_byte(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(root.rglob("*")) if p.is_file() and p.name != "store.lock")


def filled(tmp_path: Path) -> tuple[Store, str, str, list[str]]:
    store = Store.open(tmp_path, journal_capacity=8, segment_capacity=4)
    gone = store.profiles.create("Gone Person", "GONE-1", "prison_officer", "en", "2468")["id"]
    stay = store.profiles.create("Stay Person", "STAY-1", "prison_officer", "en", "2468")["id"]
    ids = []
    for n in range(20):                       # several journal files, folded and not
        ids.append(store.append(event(gone, n)))
        store.append(event(stay, n))
    store.acknowledge(ids[:10])               # some synced, some still in the outbox
    store.reject({ids[10]: "bad_payload: x"})
    other_device = {**event(gone, 99), "id": str(uuid.uuid4()), "device": "dev-other",
                    "seq": 1, "at": "2026-01-01T10:00:00.000Z"}
    store.merge([other_device])
    store.merge([{**other_device, "data": {"seconds": 2.0}}])   # a conflict row of theirs
    store.quarantine([(str(uuid.uuid4()), "bad_schema: x", f'{{"learner": "{gone}"}}')])
    return store, gone, stay, ids


def test_purge_removes_the_learner_everywhere_and_nothing_else(tmp_path: Path) -> None:
    store, gone, stay, ids = filled(tmp_path)
    assert store.conflict_count() == 1 and store.quarantine_count() == 1
    before_stay = store.events(stay)
    report = erasure.purge(store, [gone])
    assert report.learners == [gone] and report.outbox == 9
    assert store.events(gone) == [] and store.profiles.get(gone) is None
    assert all(e["learner"] != gone for e in store.outbox(1000))
    assert store.rejected() == [] and store.conflict_count() == 0
    assert store.quarantine_count() == 0
    assert store.events(stay) == before_stay and store.outbox_count() == 20
    text = every_byte(tmp_path / "store")
    for needle in ("Gone Person", "GONE-1", *ids):
        assert needle not in text
    with pytest.raises(EventError, match="erased"):
        store.append(event(gone, 1))
    assert store.merge([{**event(gone, 5), "id": str(uuid.uuid4()), "device": "dev-x",
                         "seq": 3, "at": "2026-01-01T10:00:00.000Z"}]) == 0
    # seqs are never handed out twice, even though the highest ones were theirs
    seq = store.outbox(1000)[-1]["seq"]
    new_id = store.append(event(stay, 77))
    assert next(e for e in store.outbox(1000) if e["id"] == new_id)["seq"] > seq
    store.close()
    with Store.open(tmp_path) as again:       # reopened: the same, not just hidden
        assert again.events(gone) == [] and again.learner_ids() == [stay]
        assert again.outbox_count() == 21
        with pytest.raises(EventError):
            again.append(event(gone, 2))
        assert erasure.purge(again, [gone]).learners == []      # idempotent


def test_a_purge_cut_short_is_finished_by_the_next_call(tmp_path: Path) -> None:
    store, gone, stay, _ = filled(tmp_path)
    root = tmp_path / "store"
    # as if the tablet died right after recording the tombstone
    write_rows(root, {"1": {"learner": gone, "at": "2026-12-01T00:00:00.000Z", "done": False}})
    store.close()
    with Store.open(tmp_path) as again:
        with pytest.raises(EventError):                       # refused at once
            again.append(event(gone, 1))
        assert len(again.events(gone)) > 0                    # not purged yet
        report = erasure.purge(again, [])                     # any later call finishes it
        assert report.learners == [gone] and again.events(gone) == []
        assert read_rows(root)["1"]["done"] is True
        assert again.learner_ids() == [stay]


def test_junk_ids_touch_nothing(tmp_path: Path) -> None:
    store, gone, stay, _ = filled(tmp_path)
    try:
        report = erasure.purge(store, ["../learners", gone.upper(), "", None, 3,
                                       {"learner": gone}, "x" * 10_000])
        assert report.learners == [] and len(store.events(gone)) > 0
        assert not (tmp_path / "store" / "erased.json").exists()
    finally:
        store.close()


def test_refused_as_erased_by_the_server_means_purged(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        lid = store.profiles.create("Late Tablet", "LATE-1", "prison_officer", "en", "2468")["id"]
        eid = store.append(event(lid, 1))
        store.reject({eid: "erased: learner: this learner's record was erased"})
        assert erasure.purge_refused(store).learners == [lid]
        assert store.rejected() == [] and store.profiles.get(lid) is None
    finally:
        store.close()


def kill_once_rewritten(journal: Any, erasure_module: Any) -> None:
    """(For a child process) die — os._exit, as a power cut — at the first forgetting of
    the journal index after a journal file was rewritten without an erased learner."""
    import os
    real_forget, real_write, rewritten = (journal.Journal.forget_index,
                                          erasure_module.atomic_write_bytes, [])

    def write(path: Any, data: bytes, *args: Any, **kwargs: Any) -> None:
        real_write(path, data, *args, **kwargs)
        rewritten.append(path)

    def forget(self: Any) -> None:
        if rewritten:
            os._exit(9)
        real_forget(self)
    erasure_module.atomic_write_bytes = write
    journal.Journal.forget_index = forget
