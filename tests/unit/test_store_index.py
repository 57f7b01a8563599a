"""What makes sign-in, the first merge and open() cost the same at any history length:
the id index (idindex.py), the journal index (lazy outbox), `history_since` and fold
snapshot files. Each is a cache of the fsync'd segments and journals, so the tests damage,
drop and roll back those files and check that the store still answers exactly what the
segments and journals hold."""

from __future__ import annotations

import random
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import StoreError
from app.core.store import HistoryMark, Snapshot, Store
from app.core.store.idindex import IdIndex
from app.core.store.journal import Journal
from app.core.store.segments import LearnerLog, learner_key
from app.core.store.sortedids import SortedIds, fits

LEARNERS = ["0a000000-0000-4000-8000-00000000000a", "0b000000-0000-4000-8000-00000000000b",
            "learner:with.odd-chars_1"]


def event(n: int, learner: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=n + 1, version=4)), "learner": learner or LEARNERS[n % 3],
            "device": "dev-server", "seq": n + 1, "at": f"2026-01-01T00:00:{n % 60:02d}.000Z",
            "type": "answer.given", "ref": {"question": f"q{n % 5}"}, "data": {"n": n}, **extra}


def local(n: int, learner: str | None = None) -> dict[str, Any]:
    return {"learner": learner or LEARNERS[n % 3], "type": "card.viewed",
            "ref": {"card": str(n)}, "data": {"n": n}}


def positions(store: Store) -> dict[str, tuple[str, int]]:
    """(learner, position) of every event in the segments, read from the segments."""
    out = {}
    for learner_id, log in store._learners.logs.items():
        for position, doc in enumerate(log.all_docs()):
            out[doc["event"]["id"]] = (learner_id, position)
    return out


def check_index(store: Store) -> None:
    index = store._learners.index()
    truth = positions(store)
    assert len(index) == len(truth)
    for event_id, where in truth.items():
        assert index.find(event_id) == where


# -- sorted ids ------------------------------------------------------------------------
@given(st.lists(st.uuids(version=4).map(str), max_size=60),
       st.lists(st.uuids(version=4).map(str), max_size=60))
def test_sorted_ids_find_exactly_what_was_added(first: list[str], second: list[str]) -> None:
    ids = SortedIds(payload_size=2).merged((i, b"%02d" % (n % 100)) for n, i in enumerate(first))
    more = ids.merged((i, b"zz") for i in second)
    expected = {i: b"%02d" % (n % 100) for n, i in enumerate(first)}
    for i in second:
        expected.setdefault(i, b"zz")            # an id present keeps its record
    assert dict(more.items()) == expected and len(more) == len(expected)
    assert list(more) == sorted(expected)
    for i in expected:
        assert more.find(i) == expected[i]
    assert more.find(str(uuid.uuid4())) is None and "not-a-uuid" not in more


def test_only_canonical_uuids_fit() -> None:
    assert fits("3f0c2a9e-5b1d-4c8e-9f00-0123456789ab")
    for other in ("3F0C2A9E-5B1D-4C8E-9F00-0123456789AB", "{3f0c2a9e-5b1d-4c8e-9f00-0123456789ab}",
                  "3f0c2a9e5b1d4c8e9f000123456789ab", "x" * 36, ""):
        assert not fits(other)


# -- the id index ----------------------------------------------------------------------
damage = st.sampled_from(["none", "drop_log", "drop_base", "drop_both", "torn_log",
                          "garbage_log", "lose_last_record", "old_base", "flip_base"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(["merge", "append", "reopen", "damage"]),
                                st.integers(1, 40), damage), min_size=1, max_size=12))
def test_the_id_index_always_matches_the_segments(steps: list[tuple[str, int, str]]) -> None:
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(tmp, journal_capacity=5, segment_capacity=7)
        old_base: bytes | None = None
        index_dir = store.root / "index"
        try:
            store._learners.ids.tail_limit = 25                 # compact often
            for kind, count, hurt in steps:
                if kind == "merge":
                    store.merge([event(n + i) for i in range(count)])
                    n += count
                elif kind == "append":
                    for i in range(count):
                        store.append(local(n + i))
                    n += count
                elif kind == "reopen":
                    store.close()
                    store = Store.open(tmp)
                    store._learners.ids.tail_limit = 25
                else:
                    store.close()
                    base, log_ = index_dir / "ids.bin", index_dir / "ids.log"
                    if base.is_file() and old_base is None:
                        old_base = base.read_bytes()
                    _hurt(hurt, base, log_, old_base)
                    store = Store.open(tmp)
                    store._learners.ids.tail_limit = 25
                check_index(store)
                # a merge of everything stored adds nothing and finds no conflict
                assert store.merge([event(i) for i in range(n)
                                    if store._learners.ids.find(event(i)["id"])]) == 0
                assert store.conflicts() == []
        finally:
            store.close()


def _hurt(how: str, base: Path, log_: Path, old_base: bytes | None) -> None:
    if how in ("drop_log", "drop_both") and log_.is_file():
        log_.unlink()
    if how in ("drop_base", "drop_both") and base.is_file():
        base.unlink()
    if how == "torn_log" and log_.is_file():
        data = log_.read_bytes()
        log_.write_bytes(data[:max(len(data) - 7, 0)])
    if how == "garbage_log" and log_.is_file():
        with open(log_, "ab") as fh:
            fh.write(b"\x00\x00garbage\nmore garbage")
    if how == "lose_last_record" and log_.is_file():
        lines = log_.read_bytes().split(b"\n")
        log_.write_bytes(b"\n".join(lines[:-2] + [b""]) if len(lines) > 2 else lines[0] + b"\n")
    if how == "old_base" and old_base is not None:
        base.write_bytes(old_base)           # a base from earlier (a partial restore)
    if how == "flip_base" and base.is_file():
        data = bytearray(base.read_bytes())
        data[-3] ^= 0xFF
        base.write_bytes(bytes(data))


def test_an_index_claiming_more_than_the_segments_is_rebuilt(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a", segment_capacity=4) as big:
        big.merge([event(i, LEARNERS[0]) for i in range(30)])
        big._learners.index().compact()
    with Store.open(tmp_path / "b", segment_capacity=4) as small:
        small.merge([event(i, LEARNERS[0]) for i in range(10)])
    shutil.copytree(tmp_path / "a" / "store" / "index", tmp_path / "b" / "store" / "index",
                    dirs_exist_ok=True)
    with Store.open(tmp_path / "b") as small:
        check_index(small)
        assert small.merge([event(i, LEARNERS[0]) for i in range(10, 30)]) == 20


def test_the_first_merge_after_open_reads_no_segment(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(tmp_path, segment_capacity=16) as store:
        store.merge([event(i) for i in range(300)])
    reads: list[int] = []
    real = LearnerLog.read_docs

    def counting(self: LearnerLog, number: int) -> list[dict[str, Any]]:
        reads.append(number)
        return real(self, number)
    monkeypatch.setattr(LearnerLog, "read_docs", counting)
    with Store.open(tmp_path) as store:
        assert store.merge([event(i) for i in range(300, 320)]) == 20
        assert reads == []
        changed = dict(event(18), data={"tampered": True})   # a stored id, other content
        assert store.merge([changed, event(21)]) == 0           # (one learner, one segment)
        assert len(reads) == 1                  # the one segment holding the stored copies
        assert [c["id"] for c in store.conflicts()] == [changed["id"]]
        assert store.conflicts()[0]["kept"]["data"] == {"n": 18}


def test_an_unclean_open_dedupes_the_half_folded_journal_without_reading_segments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(tmp_path / "s", journal_capacity=50, segment_capacity=8)
    for i in range(200):
        store.append(local(i, LEARNERS[0]))
    store._learners.fold_current(dedupe=False)      # the fold done, the store then killed
    shutil.copytree(tmp_path / "s", tmp_path / "crashed")
    store.close()
    (tmp_path / "crashed" / "store" / "store.lock").unlink()
    reads: list[int] = []
    real = LearnerLog.read_docs
    monkeypatch.setattr(LearnerLog, "read_docs",
                        lambda self, number: reads.append(number) or real(self, number))
    with Store.open(tmp_path / "crashed") as again:
        assert reads == []
        assert again.event_count() == 200
        ids = [e["id"] for e in again.events(LEARNERS[0])]
        assert len(ids) == len(set(ids)) == 200


# -- history_since and snapshots ---------------------------------------------------------
def test_history_since_hands_over_exactly_what_is_beyond_the_mark(tmp_path: Path) -> None:
    learner = LEARNERS[0]
    with Store.open(tmp_path, journal_capacity=6, segment_capacity=5) as store:
        store.merge([event(i, learner) for i in range(23)])
        for i in range(4):
            store.append(local(100 + i, learner))  # in the journal, not yet folded
        seen: list[str] = []
        mark = store.history_since(learner, None, lambda b: seen.extend(e["id"] for e in b))
        assert sorted(seen) == sorted(e["id"] for e in store.events(learner))
        assert mark == HistoryMark(23, event(22)["id"])
        store.merge([event(i, learner) for i in range(23, 30)])
        later: list[str] = []
        after = store.history_since(learner, mark, lambda b: later.extend(e["id"] for e in b))
        assert set(later) == {event(i)["id"] for i in range(23, 30)} | set(seen[23:])
        assert after is not None and after.count == 30
        # marks that do not fit this history
        calls: list[Any] = []
        assert store.history_since(learner, HistoryMark(31, "x"), calls.append) is None
        assert store.history_since(learner, HistoryMark(23, event(5)["id"]), calls.append) \
            is None
        assert calls == []
        assert store.history_since("nobody", None, calls.append) == HistoryMark(0, None)


def test_history_since_hands_over_copies(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.append(local(1, LEARNERS[0]))
        batches: list[list[dict[str, Any]]] = []
        store.history_since(LEARNERS[0], None, batches.append)
        batches[0][0]["data"]["n"] = "changed"
        assert store.events(LEARNERS[0])[0]["data"]["n"] == 1


def test_snapshot_files_are_checked(tmp_path: Path) -> None:
    learner = LEARNERS[1]
    with Store.open(tmp_path, segment_capacity=4) as store:
        store.merge([event(i, learner) for i in range(10)])
        mark = store.history_since(learner, None, lambda b: None)
        assert mark is not None
        store.write_snapshot(learner, "folds", Snapshot(mark, "v1", b"payload"))
        got = store.read_snapshot(learner, "folds")
        assert got is not None and got.mark == mark and bytes(got.payload) == b"payload"
        assert store.read_snapshot(learner, "other") is None
        with pytest.raises(StoreError, match="snapshot name"):
            store.read_snapshot(learner, "../x")
        with pytest.raises(StoreError, match="which this history does not have"):
            store.write_snapshot(learner, "folds", Snapshot(HistoryMark(11, "x"), "v1", b""))
        with pytest.raises(StoreError, match="which this history does not have"):
            store.write_snapshot("nobody", "folds", Snapshot(mark, "v1", b""))
        path = store.root / "learners" / learner_key(learner) / "folds.snap"
        raw = path.read_bytes()
        path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))       # a flipped bit
        assert store.read_snapshot(learner, "folds") is None
        path.write_bytes(raw[:len(raw) // 2])                    # torn
        assert store.read_snapshot(learner, "folds") is None
        path.write_bytes(raw)
        other = store.root / "learners" / learner_key(LEARNERS[0])
        other.mkdir(exist_ok=True)
        shutil.copyfile(path, other / "folds.snap")              # another learner's
        assert store.read_snapshot(LEARNERS[0], "folds") is None


# -- the lazy outbox -----------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(["append", "ack", "reject", "reopen",
                                                 "drop_index", "hurt_index"]),
                                st.integers(1, 30)), min_size=1, max_size=15))
def test_the_outbox_is_right_whatever_happened_to_the_journal_index(
        steps: list[tuple[str, int]]) -> None:
    rng = random.Random(len(steps))
    appended: list[str] = []
    gone: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(tmp, journal_capacity=4)
        try:
            for kind, count in steps:
                index = store.root / "journal" / "index.log"
                if kind == "append":
                    appended += [store.append(local(i)) for i in range(count)]
                elif kind in ("ack", "reject"):
                    ids = [e["id"] for e in store.outbox(count)]
                    picked = rng.sample(ids, len(ids) // 2 + 1) if ids else []
                    if kind == "ack":
                        store.acknowledge(picked)
                    else:
                        store.reject({i: "no" for i in picked})
                    gone.update(picked)
                else:
                    store.close()
                    if kind == "drop_index":
                        index.unlink(missing_ok=True)
                    elif kind == "hurt_index" and index.is_file():
                        data = index.read_bytes()
                        index.write_bytes(data[:max(len(data) - rng.randint(1, 40), 0)])
                    store = Store.open(tmp, journal_capacity=4)
                expected = [i for i in appended if i not in gone]
                assert [e["id"] for e in store.outbox(10**6)] == expected
                assert store.outbox_count() == len(expected)
        finally:
            store.close()


def test_open_reads_only_the_newest_journal_files(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(tmp_path, journal_capacity=10) as store:
        ids = [store.append(local(i)) for i in range(205)]
    reads: list[int] = []
    real = Journal.read
    monkeypatch.setattr(Journal, "read", lambda self, number, **kw:
                        reads.append(number) or real(self, number, **kw))
    with Store.open(tmp_path) as store:
        assert len(reads) <= 2
        assert store._outbox.next_seq == 206
        assert store.outbox_count() == 205
        assert len(reads) <= 2      # the journal index named every closed file
        assert [e["id"] for e in store.outbox(5)] == ids[:5]
        assert len(reads) <= 3      # the bodies: the oldest file only
        assert [e["id"] for e in store.outbox(1000)] == ids
        assert store.acknowledge(ids[:100]) == 100
    with Store.open(tmp_path) as store:
        assert [e["id"] for e in store.outbox(1000)] == ids[100:]
        assert store.append(local(1)) and store._outbox.next_seq == 207


def test_id_index_unit_without_a_store(tmp_path: Path) -> None:
    """The index checks itself against what the segments say they hold."""
    class Segments:
        def __init__(self, ids: list[str]) -> None:
            self.ids = ids

        @property
        def count(self) -> int:
            return len(self.ids)

        def docs_from(self, start: int) -> Any:
            yield [{"event": {"id": i}} for i in self.ids[start:]]

    ids = [str(uuid.UUID(int=i + 1, version=4)) for i in range(50)] + ["old-style-id"]
    index = IdIndex(tmp_path)
    index.load({"L": Segments(ids)})
    assert index.find("old-style-id") == ("L", 50) and index.find(ids[3]) == ("L", 3)
    again = IdIndex(tmp_path)
    again.load({"L": Segments(ids)})
    assert again.find("old-style-id") == ("L", 50) and len(again) == 51
    third = IdIndex(tmp_path)
    third.load({"L": Segments(ids[:10])})        # fewer than the index holds: rebuilt
    assert len(third) == 10 and third.find(ids[20]) is None
