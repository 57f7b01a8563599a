"""Disk full, damaged files, stale temp files and schema migration (real files)."""

from __future__ import annotations

import errno
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB
from tinydb.storages import JSONStorage

from app.core.errors import StoreError
from app.core.store import AtomicJSONStorage, Store
from app.core.store.atomic import atomic_write_bytes, load_tables

A = "0a000000-0000-4000-8000-00000000000a"


def ev(**extra: Any) -> dict[str, Any]:
    return {"learner": A, "type": "card.viewed", "ref": {"card": "c1"}, "data": {}, **extra}


def remote(seq: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": A, "device": "dev-remote", "seq": seq,
            "at": "2026-01-01T00:00:00.000Z", "type": "card.viewed"}


class DiskFull:
    """Make os.write fail with ENOSPC after `allow` more successful calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, allow: int = 0, partial: bool = False):
        self.real = os.write
        self.allow = allow
        self.partial = partial
        monkeypatch.setattr(os, "write", self)

    def __call__(self, fd: int, data: Any) -> int:
        if self.allow > 0:
            self.allow -= 1
            return self.real(fd, data)
        if self.partial and len(data) > 4:
            self.partial = False
            return self.real(fd, bytes(data[: len(data) // 2]))  # a short write first
        raise OSError(errno.ENOSPC, "No space left on device")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "store.lock"}


def test_disk_full_on_append_keeps_previous_data(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path, journal_capacity=4, segment_capacity=3)
    ids = [s.append(ev()) for _ in range(6)]
    before = snapshot(tmp_path / "store")
    full = DiskFull(monkeypatch, partial=True)
    with pytest.raises(StoreError, match="disk full"):
        s.append(ev())
    with pytest.raises(StoreError, match="disk full"):
        s.append(ev())
    assert snapshot(tmp_path / "store") == before  # torn bytes were cut back
    assert [e["id"] for e in s.events(A)] == ids
    monkeypatch.setattr(os, "write", full.real)
    later = s.append(ev())
    s.close()
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(A)] == ids + [later]
        seqs = [e["seq"] for e in again.events(A)]
        assert len(set(seqs)) == len(seqs)


def test_disk_full_while_folding_the_journal(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path, journal_capacity=3, segment_capacity=2)
    ids = [s.append(ev()) for _ in range(3)]  # the journal is now full
    full = DiskFull(monkeypatch, allow=1)     # the fold's first segment write succeeds
    with pytest.raises(StoreError, match="disk full"):
        s.append(ev())
    monkeypatch.setattr(os, "write", full.real)
    ids.append(s.append(ev()))                # retries the fold without duplicating
    assert [e["id"] for e in s.events(A)] == ids
    s.close()
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(A)] == ids
        assert again.event_count(A) == 4


def test_disk_full_on_merge_acknowledge_and_settings(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path, segment_capacity=2)
    ids = [s.append(ev()) for _ in range(3)]
    s.settings.set("locale", "en")
    before = snapshot(tmp_path / "store")
    full = DiskFull(monkeypatch)
    with pytest.raises(StoreError, match="disk full"):
        s.merge([remote(i) for i in range(1, 6)])
    with pytest.raises(StoreError, match="disk full"):
        s.acknowledge(ids)
    with pytest.raises(StoreError, match="disk full"):
        s.settings.set("locale", "fr")
    assert snapshot(tmp_path / "store") == before
    assert len(s.outbox()) == 3 and s.settings.get("locale") == "en"
    monkeypatch.setattr(os, "write", full.real)
    assert s.merge([remote(i) for i in range(1, 6)]) == 5
    assert s.acknowledge(ids) == 3
    s.close()


def test_stale_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.append(ev())
    store_dir = tmp_path / "store"
    learner_dir = next((store_dir / "learners").iterdir())
    stale = [store_dir / ".outbox.json.tmp-999-abcd", learner_dir / ".000001.json.tmp-1-ff",
             store_dir / "journal" / ".00000009.log.tmp-5-00"]
    for path in stale:
        path.write_bytes(b'{"half written')
    foreign = tmp_path / "not-ours.tmp-1"
    foreign.write_text("keep")
    with Store.open(tmp_path) as s:
        assert s.event_count() == 1
    assert not any(p.exists() for p in stale)
    assert foreign.exists()


def test_a_torn_journal_line_is_cut_on_open(tmp_path: Path) -> None:
    s = Store.open(tmp_path, journal_capacity=100)
    ids = [s.append(ev()) for _ in range(3)]
    journal = s._journal.current.path  # noqa: SLF001 - the file a crash would tear
    s._release_files()
    s._closed = True
    with open(journal, "ab") as fh:
        fh.write(b'0badc0de {"id": "torn')
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(A)] == ids
        again.append(ev())
        assert again.event_count(A) == 4


@pytest.mark.plain_store
def test_a_damaged_middle_journal_line_is_skipped_and_the_file_kept(tmp_path: Path) -> None:
    s = Store.open(tmp_path, journal_capacity=100)
    ids = [s.append(ev()) for _ in range(3)]
    journal = s._journal.current.path
    s._release_files()
    s._closed = True
    lines = journal.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"card.viewed", b"card.VIEWED")  # crc no longer matches
    journal.write_bytes(b"\n".join(lines))
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(A)] == [ids[0], ids[2]]
    assert list(journal.parent.glob("*.corrupt-*"))


@pytest.mark.plain_store
def test_a_damaged_store_file_gives_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.append(ev())
        s.acknowledge([s.outbox()[0]["id"]])
    outbox = tmp_path / "store" / "outbox.json"
    outbox.write_bytes(b'{"schema": 1, "kind": "outbox", "tables": {"meta": ')
    with pytest.raises(StoreError, match="outbox.json: not valid JSON"):
        Store.open(tmp_path)
    assert outbox.read_bytes().endswith(b'"meta": ')  # not "repaired" by throwing data away
    outbox.write_text(json.dumps({"schema": 1, "kind": "settings", "tables": {}}))
    with pytest.raises(StoreError, match="kind"):
        Store.open(tmp_path)
    outbox.write_text(json.dumps([1, 2]))
    with pytest.raises(StoreError, match="JSON object"):
        Store.open(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema": 99, "kind": "settings", "tables": {}}))
    with pytest.raises(StoreError, match="newer app version"):
        load_tables(path, "settings")
    path.write_text(json.dumps({"schema": "1", "kind": "settings", "tables": {}}))
    with pytest.raises(StoreError, match="schema"):
        load_tables(path, "settings")


def test_plain_tinydb_file_is_migrated_on_read(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    old = TinyDB(path, storage=JSONStorage)
    old.table("settings").insert({"locale": "nl"})
    old.close()
    db = TinyDB(path, storage=AtomicJSONStorage, kind="settings")
    assert db.table("settings").all() == [{"locale": "nl"}]
    db.table("settings").insert({"locale": "fr"})
    db.close()
    doc = json.loads(path.read_text())
    assert doc["schema"] == 1 and doc["kind"] == "settings"
    assert len(doc["tables"]["settings"]) == 2


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.json"
    atomic_write_bytes(path, b"old")

    def boom(*_a: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(StoreError, match="I/O error"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_storage_survives_a_failed_write_without_stale_cache(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = TinyDB(tmp_path / "t.json", storage=AtomicJSONStorage, kind="t")
    db.table("t").insert({"n": 1})
    full = DiskFull(monkeypatch)
    with pytest.raises(StoreError):
        db.table("t").insert({"n": 2})
    monkeypatch.setattr(os, "write", full.real)
    assert [d["n"] for d in db.table("t").all()] == [1]  # the failed insert is not visible
    db.table("t").insert({"n": 3})
    assert [d["n"] for d in TinyDB(tmp_path / "t.json", storage=AtomicJSONStorage,
                                   kind="t").table("t").all()] == [1, 3]


def test_a_write_that_cannot_be_cut_back_blocks_appends_until_reopen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path, journal_capacity=50)
    ids = [s.append(ev()) for _ in range(3)]
    full = DiskFull(monkeypatch, partial=True)
    real_ftruncate = os.ftruncate

    def no_truncate(*_a: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    with pytest.raises(StoreError, match="disk full"):
        s.append(ev())
    monkeypatch.setattr(os, "write", full.real)
    monkeypatch.setattr(os, "ftruncate", real_ftruncate)
    with pytest.raises(StoreError, match="reopen"):
        s.append(ev())
    assert [e["id"] for e in s.events(A)] == ids
    s.close()
    with Store.open(tmp_path) as again:  # the half line is cut on open
        assert [e["id"] for e in again.events(A)] == ids
        assert [e["id"] for e in again.outbox()] == ids
        again.append(ev())
        assert again.event_count(A) == 4


def test_an_empty_learner_folder_left_by_a_crash_is_harmless(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.append(ev())
    empty = tmp_path / "store" / "learners" / ("f" * 32)
    empty.mkdir()
    (empty / ".000001.json.tmp-1-aa").write_bytes(b"{")
    with Store.open(tmp_path) as s:
        assert s.event_count() == 1 and s.learner_ids() == [A]
    assert not empty.exists()


def test_merge_with_disk_full_on_a_new_learner_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store.open(tmp_path)
    full = DiskFull(monkeypatch)
    with pytest.raises(StoreError, match="disk full"):
        s.merge([remote(1)])
    monkeypatch.setattr(os, "write", full.real)
    assert s.learner_ids() == [] and s.event_count() == 0
    s.close()
    with Store.open(tmp_path) as again:
        assert again.merge([remote(1)]) == 1


def _fsync_fails_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next folder fsync after a file's rename reports EIO (a failing disk)."""
    import app.core.store.atomic as atomic
    real, calls = atomic.fsync_dir, []

    def once(folder: Path) -> None:
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        real(folder)
    monkeypatch.setattr(atomic, "fsync_dir", once)


@pytest.mark.parametrize("into", ["open segment", "new segment"])
def test_a_merge_whose_segment_was_replaced_but_not_synced_is_not_stored_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, into: str) -> None:
    """The segment file is replaced, then its folder's fsync fails: the merge raises
    (StoreSyncError), yet the events are on disk — counted, their ids known — so the
    sync pulling the same page again stores nothing twice (it stored 7 documents for 5
    ids), and what came after lands at the right positions."""
    from app.core.errors import StoreSyncError
    events = [remote(i) for i in range(1, 12)]
    store = Store.open(tmp_path, segment_capacity=4)
    store.merge(events[:4 if into == "new segment" else 3])
    with monkeypatch.context() as patched:
        _fsync_fails_once(patched)
        with pytest.raises(StoreSyncError):
            store.merge(events[4:6] if into == "new segment" else events[3:5])
    store.merge(events[:8])                               # the page again, and more
    ids = [e["id"] for e in store.events(A)]
    assert ids == [e["id"] for e in events[:8]]
    assert store.event_count(A) == 8
    store.close()
    with Store.open(tmp_path, segment_capacity=4) as again:
        assert [e["id"] for e in again.events(A)] == ids
        assert again.merge(events) == 3


def test_a_journal_fold_whose_segment_was_not_synced_is_not_folded_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.errors import StoreSyncError
    store = Store.open(tmp_path, journal_capacity=4, segment_capacity=8)
    for _ in range(8):
        store.append(ev())                                # one fold done, the journal full
    with monkeypatch.context() as patched:
        _fsync_fails_once(patched)
        with pytest.raises(StoreSyncError):
            store.append(ev())                            # folds the journal first
    store.append(ev())
    store.append(ev())
    store.close()
    with Store.open(tmp_path) as again:
        ids = [e["id"] for e in again.events(A)]
        assert len(ids) == len(set(ids)) >= 10


@pytest.mark.plain_store
@pytest.mark.parametrize("how", ["damaged-encrypted", "deleted"])
def test_a_lost_device_file_is_made_again_from_the_folders_data(tmp_path: Path,
                                                                how: str) -> None:
    """device.json holds the folder's device id and segment size. An encrypted folder
    moves it aside when it does not open, and it used to be made anew — a new id, the
    default size — so every learner's segments were miscounted (a rewrite "got 18
    documents, expected 762"). Now both come from what the folder holds."""
    from app.core.store.keys import FixedKey
    key = bytes(range(32))
    keys = (lambda created: FixedKey(key, created=created)) if how != "deleted" else \
        (lambda created: None)
    with Store.open(tmp_path, segment_capacity=4, journal_capacity=4,
                    keys=keys(True)) as store:
        device_id = store.device_id
        local = [store.append(ev()) for _ in range(11)]            # 2 journal folds
        store.merge([remote(i) for i in range(1, 8)])
        count = store.event_count(A)
    device = tmp_path / "store" / "device.json"
    if how == "deleted":
        device.unlink()
    else:
        raw = bytearray(device.read_bytes())
        raw[len(raw) // 2] ^= 0x5A
        device.write_bytes(bytes(raw))
    with Store.open(tmp_path, keys=keys(False)) as store:
        assert store.device_id == device_id
        assert store._segment_capacity == 4
        assert store.event_count(A) == count
        assert set(local) <= {e["id"] for e in store.events(A)}
        store.append(ev())
        assert store.event_count(A) == count + 1
    with Store.open(tmp_path / "fresh") as fresh:               # a first open: a new id
        assert fresh.device_id != device_id
    # no full segment, but one larger than the default size: the size is at least that
    with Store.open(tmp_path / "big", segment_capacity=512, keys=keys(True)) as store:
        store.merge([remote(i) for i in range(1, 301)])
    (tmp_path / "big" / "store" / "device.json").unlink()
    with Store.open(tmp_path / "big", keys=keys(False)) as store:
        assert store._segment_capacity >= 300 and store.event_count(A) == 300
        store.append(ev())
        assert store.event_count(A) == 301
