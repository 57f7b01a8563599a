"""Retention on a tablet (app/core/learning/retention.py, app/core/store/ageing.py): raw
events older than the period leave the tablet once the server has them — never an
unsent or rejected one — and the learner's progress, certificates and self-assessment
results look exactly as before, driven by a clock; the segment rewrite survives a crash
at any step; the period comes from the server's pull policy."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import StoreError, SyncProtocolError
from app.core.learning import retention
from app.core.learning.history import RETAINED_NAME, SNAPSHOT_NAME, load_history, save_history
from app.core.store import Store, ageing, erasure, segment_rewrite
from app.core.store.atomic import atomic_write_bytes, read_file_bytes
from app.core.store.segments import learner_key
from app.sync import policy
from tests.support.fold_compare import history_views, recomputed
from tests.support.learning_fixtures import LEARNER, PACK, START
from tests.unit.test_learning_fold import play

ACTS = [("read", "boundaries"), ("ace", "boundaries", 3), ("guess", "reporting", 9),
        ("assess", [1, 2, 3, 4]), ("read", "reporting"), ("assess", [2, 2, 3, 1])]
#: six years after START + 40 days: the cutoff falls inside the first batch of events
NOW = START.replace(year=START.year + 6) + timedelta(days=40)
CUTOFF = retention.cutoff_for(NOW, 6)


def certificate(at: datetime) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": LEARNER, "device": "tab-a", "seq": 900,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "type": "certificate.received",
            "pack": PACK, "pack_version": 1,
            "ref": {"certificate": "cert-1", "course": "boundaries"},
            "data": {"credential": {"type": ["VerifiableCredential"]}, "title": "Boundaries"}}


def tablet(tmp_path: Path) -> tuple[Store, dict[str, set[str]]]:
    """Old and new events of LEARNER: merged from the server, local acknowledged, local
    still waiting, one local rejected."""
    store = Store.open(tmp_path, journal_capacity=8, segment_capacity=8)
    merged = play(ACTS, "tab-a", timedelta(0)) + [certificate(START + timedelta(days=1))]
    store.merge(merged)
    local = play(ACTS[:4], store.device_id, timedelta(hours=2))
    ids = []
    for event in local:
        event.pop("seq")
        ids.append(store.append(event))
    store.acknowledge(ids[: len(ids) // 2])
    store.reject({ids[len(ids) // 2]: "test: refused"})
    store.merge(play(ACTS[:3], "tab-b", timedelta(days=6 * 366)))     # recent ones
    groups = {"merged": {e["id"] for e in merged}, "acked": set(ids[: len(ids) // 2]),
              "rejected": {ids[len(ids) // 2]}, "waiting": set(ids[len(ids) // 2 + 1:])}
    return store, groups


def views(store: Store) -> tuple[Any, Any]:
    return history_views(load_history(store, LEARNER))


def old(store: Store, ids: set[str]) -> set[str]:
    return {e["id"] for e in store.events(LEARNER) if e["id"] in ids and e["at"] < CUTOFF}


def test_sent_old_events_age_out_and_the_progress_stays(tmp_path: Path) -> None:
    store, groups = tablet(tmp_path)
    with store:
        load_history(store, LEARNER)                       # a signed-in learner's snapshot
        before = views(store)
        everything = recomputed(store.events(LEARNER), LEARNER)
        assert before == everything
        sent_old = old(store, groups["merged"] | groups["acked"])
        unsent_old = old(store, groups["waiting"] | groups["rejected"])
        assert sent_old and unsent_old
        count = store.event_count(LEARNER)

        done = retention.run(store, now=NOW)
        assert 0 < done[LEARNER] <= len(sent_old)
        left = {e["id"] for e in store.events(LEARNER)}
        assert store.event_count(LEARNER) == count - done[LEARNER] == len(left)
        assert len(sent_old - left) == done[LEARNER] >= len(sent_old) - 1   # last one stays
        assert unsent_old <= left                           # never an unsent event
        assert all(e["at"] >= CUTOFF or e["id"] not in sent_old or e["id"] in left
                   for e in store.events(LEARNER))
        # the same progress: from the rebuilt snapshot, from a recompute, after reopening
        assert views(store) == before
        (store.root / "learners" / learner_key(LEARNER) / f"{SNAPSHOT_NAME}.snap").unlink()
        assert views(store) == before
        certs = load_history(store, LEARNER).learning.certificates
        assert [c.id for c in certs.values()] == ["cert-1"]
        assert store.outbox_count() == len(groups["waiting"])
        assert len(store.rejected()) == 1
    with Store.open(tmp_path) as again:
        assert views(again) == before
        assert again.merge([]) == 0 and again.event_count(LEARNER) == len(left)


def test_once_a_day_and_never_when_kept(tmp_path: Path) -> None:
    store, _ = tablet(tmp_path)
    with store:
        store.settings.set(retention.YEARS_SETTING, 0)
        assert retention.run(store, now=NOW) == {}           # 0 = keep for ever
        store.settings.set(retention.YEARS_SETTING, 6)
        assert retention.run(store, now=NOW - timedelta(days=365)) == {}   # nothing so old
        assert retention.run(store, now=NOW)
        count = store.event_count(LEARNER)
        store.settings.set(retention.YEARS_SETTING, 1)       # more would go now …
        assert retention.run(store, now=NOW + timedelta(hours=1)) == {}    # … not today
        assert store.event_count(LEARNER) == count
        assert retention.run(store, now=NOW + timedelta(days=730))        # another day
        assert store.event_count(LEARNER) < count


def test_a_second_ageing_adds_to_the_retained_fold(tmp_path: Path) -> None:
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)
        first = retention.run(store, now=NOW - timedelta(days=20), force=True)
        second = retention.run(store, now=NOW + timedelta(days=6 * 366), force=True)
        assert first and second
        assert views(store) == before


def test_a_crash_while_writing_the_new_segments_leaves_the_old_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)
        count = store.event_count(LEARNER)
        real = segment_rewrite.AtomicJSONStorage.write
        calls = []

        def dies_on_the_second(self: Any, data: Any) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise StoreError("disk full (test)")
            real(self, data)
        with monkeypatch.context() as patched:   # (the sealed-store fixture's patch stays)
            patched.setattr(segment_rewrite.AtomicJSONStorage, "write", dies_on_the_second)
            assert retention.run(store, now=NOW) == {}       # logged, not raised
        folder = store.root / "learners" / learner_key(LEARNER)
        assert not (folder / segment_rewrite.MARKER).exists()   # undone at once
        assert (folder / f"{RETAINED_NAME}.snap").exists()       # written first
        assert store.event_count(LEARNER) == count and views(store) == before
        more = play(ACTS[:1], "tab-c", timedelta(days=6 * 367))  # the store goes on
        store.merge(more)
        before = views(store)
    with Store.open(tmp_path) as again:
        assert again.event_count(LEARNER) == count + len(more)
        assert views(again) == before
        assert retention.run(again, now=NOW, force=True)[LEARNER] > 0
        assert views(again) == before


def test_a_crash_before_the_old_segments_went_finishes_the_rewrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)

        index = store._learners.ids.folder
        store._learners.ids.compact()                        # an index on disk …

        def killed(folder: Path, numbers: list[int]) -> list[int]:
            # … gone before the old segments may go: one that survived a power cut with
            # counts that fit the new segments would be trusted, at the old positions
            assert not [p for p in index.iterdir() if p.stat().st_size]
            raise StoreError("killed (test)")
        with monkeypatch.context() as patched:
            patched.setattr(segment_rewrite, "recover", killed)
            retention.run(store, now=NOW)
    with Store.open(tmp_path) as again:                      # all new ones there: done
        folder = again.root / "learners" / learner_key(LEARNER)
        assert not (folder / segment_rewrite.MARKER).exists()
        kept = again.events(LEARNER)
        assert len({e["id"] for e in kept}) == len(kept)     # nothing doubled
        assert any(e["at"] < CUTOFF for e in kept)            # unsent ones
        assert views(again) == before
        assert retention.run(again, now=NOW, force=True) == {}   # nothing left to age


def test_the_period_comes_from_the_pull_policy(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert retention.period_years(store) == retention.DEFAULT_YEARS
        policy.take(store, {"pin_min_digits": 4, "retention_events_years": 3})
        assert retention.period_years(store) == 3
        policy.take(store, {"pin_min_digits": 4})            # not sent: kept
        assert retention.period_years(store) == 3
        for bad in (-1, 1001, "6", 2.5, True, None):
            with pytest.raises(SyncProtocolError, match="retention_events_years"):
                policy.take(store, {"retention_events_years": bad})
        assert retention.period_years(store) == 3


def test_the_cutoff_follows_the_servers_rule() -> None:
    assert retention.cutoff_for(datetime(2032, 2, 29, 12, tzinfo=UTC), 6) \
        == "2026-02-28T12:00:00.000Z"
    assert retention.cutoff_for(datetime(2032, 6, 1, tzinfo=UTC), 6) \
        == "2026-06-01T00:00:00.000Z"


def test_a_few_events_past_the_period_wait_for_company(tmp_path: Path) -> None:
    """A rewrite costs the whole history: fewer than a segment's worth of events past the
    cutoff wait until the oldest has waited GRACE_DAYS, then leave together."""
    with Store.open(tmp_path) as store:                      # 256 documents a segment
        store.merge(play(ACTS[:2], "tab-a", timedelta(0)))
        store.merge(play(ACTS[2:3], "tab-a", timedelta(days=400)))
        before = views(store)
        newest_old = max(e["at"] for e in store.events(LEARNER) if e["at"] < "2027")
        soon = datetime.fromisoformat(newest_old.replace("Z", "+00:00")).replace(
            year=START.year + 6) + timedelta(days=1)
        assert retention.run(store, now=soon) == {}          # past the cutoff, not overdue
        later = soon + timedelta(days=retention.GRACE_DAYS + 1)
        assert retention.run(store, now=later)[LEARNER] > 0
        assert views(store) == before


def test_a_rewrite_that_gets_fewer_documents_than_planned_keeps_the_old_ones(
        tmp_path: Path) -> None:
    store, _ = tablet(tmp_path)
    with store:
        log_ = store._learners.logs[LEARNER]
        docs = log_.all_docs()
        with pytest.raises(StoreError, match="expected"):
            segment_rewrite.rewrite(log_, len(docs) - 1, iter(docs[:-3]))
        assert log_.all_docs() == docs
        assert not (log_.folder / segment_rewrite.MARKER).exists()


def in_another_thread(store: Store, work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own — a tap while the sync thread ages events out —
    after checking there that the store's lock is free (not merely re-entrant)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            assert store._lock.acquire(blocking=False), "the store's lock is held"
            store._lock.release()
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def between_segments(monkeypatch: pytest.MonkeyPatch,
                     act: Callable[[int], None]) -> None:
    """Call `act(pass)` after the first segment each pass of the ageing reads (pass 0:
    the scan, pass 1: the staging of the documents that stay)."""
    real = ageing._prefix
    passes = iter(range(100))

    def prefix(*args: Any) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        number = next(passes)
        for index, item in enumerate(real(*args)):
            yield item
            if index == 0:
                act(number)
    monkeypatch.setattr(ageing, "_prefix", prefix)


def once_staged(monkeypatch: pytest.MonkeyPatch, segments: int,
                act: Callable[[Any], None]) -> None:
    """Call `act(rewrite)` once, in the ageing's thread, when `segments` of the staged
    rewrite's segments are on disk (after the ageing read its next segment)."""
    staged: list[Any] = []
    real_write = segment_rewrite.write_next

    def noted(rewrite: Any, chunk: Any) -> None:
        staged.append(rewrite)
        real_write(rewrite, chunk)
    monkeypatch.setattr(segment_rewrite, "write_next", noted)
    real_prefix = ageing._prefix
    done: list[bool] = []

    def prefix(*args: Any) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        for item in real_prefix(*args):
            yield item
            if len(staged) >= segments and not done:
                done.append(True)
                act(staged[0])
    monkeypatch.setattr(ageing, "_prefix", prefix)


def local(events: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    for event in events:
        event.pop("seq")
        event["device"] = store.device_id
    return events


def test_taps_while_events_age_out_wait_for_a_step_and_are_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ageing holds the store's lock in steps: answers recorded while it reads and
    rewrites the history (appended, folded from the journal into new segments of the old
    numbering, merged by a sync) are stored, kept by the rewrite, and the progress is
    what it would be had no event aged out."""
    store, _ = tablet(tmp_path / "tablet")
    with store:
        count = store.event_count(LEARNER)
        shutil.copytree(tmp_path / "tablet", tmp_path / "control")   # the same tablet
        during: dict[int, list[str]] = {0: [], 1: []}
        segments_before = list(store._learners.logs[LEARNER].numbers)

        def act(number: int) -> None:
            def work() -> None:
                for event in local(play(ACTS[:3], store.device_id, timedelta(days=9)),
                                   store):          # > a journal: folded into segments
                    during[number].append(store.append(event))
                pulled = play(ACTS[4:5], "tab-d", timedelta(days=6 * 368 + number))
                store.merge(pulled)
                during[number] += [e["id"] for e in pulled]
            in_another_thread(store, work)
        between_segments(monkeypatch, act)
        done = retention.run(store, now=NOW)
        assert done[LEARNER] > 0
        added = during[0] + during[1]
        assert len(added) > 2 * store._learners.capacity          # crossed segments
        log_ = store._learners.logs[LEARNER]
        assert log_.numbers[0] > segments_before[-1] + segment_rewrite.GAP
        assert not (log_.folder / segment_rewrite.MARKER).exists()
        ids = [e["id"] for e in store.events(LEARNER)]
        assert set(added) <= set(ids) and len(ids) == len(set(ids))
        assert store.event_count(LEARNER) == count - done[LEARNER] + len(added)
        after = views(store)
        with Store.open(tmp_path / "control") as control:            # no ageing there
            control.merge([e for e in store.events(LEARNER) if e["id"] in set(added)])
            assert after == views(control)
        (log_.folder / f"{SNAPSHOT_NAME}.snap").unlink()               # recomputed
        assert views(store) == after
    with Store.open(tmp_path / "tablet") as again:
        assert views(again) == after
        assert again.event_count(LEARNER) == count - done[LEARNER] + len(added)


def test_an_erasure_while_events_age_out_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = tablet(tmp_path)
    with store:
        folder = store.root / "learners" / learner_key(LEARNER)

        def act(number: int) -> None:
            if number == 1:                        # while the rewrite is staged
                assert (folder / segment_rewrite.MARKER).exists()
                in_another_thread(store, erase)

        def erase() -> None:       # what erasure.purge does to the store's events (the
            with store._lock:      # fixtures' learner id is no UUID, which purge wants)
                erasure._purge_events(store, {LEARNER})
        between_segments(monkeypatch, act)
        assert retention.run(store, now=NOW) == {}
        assert not folder.exists()
        assert store.events(LEARNER) == [] and store.event_count() == 0
    with Store.open(tmp_path) as again:
        assert again.events(LEARNER) == []


def test_a_crash_while_the_rewrite_is_staged_leaves_the_old_segments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the first new segment was staged (and a tap was stored meanwhile):
    the next load removes the staged segments; the history is the old one plus the tap."""
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)
        count = store.event_count(LEARNER)
        folder = store.root / "learners" / learner_key(LEARNER)
        tapped: list[str] = []

        def act(number: int) -> None:
            if number == 1:
                in_another_thread(store, lambda: tapped.append(store.append(
                    local(play(ACTS[:1], store.device_id, timedelta(days=3)), store)[0])))
        between_segments(monkeypatch, act)
        real = segment_rewrite.write_next
        calls: list[int] = []

        def killed_on_the_second(staged: Any, chunk: Any) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt         # nothing after it runs: as a kill
            real(staged, chunk)
        monkeypatch.setattr(segment_rewrite, "write_next", killed_on_the_second)
        monkeypatch.setattr(ageing, "_abandon", lambda *args: None)
        with pytest.raises(KeyboardInterrupt):
            retention.run(store, now=NOW)
        staged = sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())
        assert staged[-1] > segment_rewrite.GAP and (folder / segment_rewrite.MARKER).exists()
        assert store.event_count(LEARNER) == count + 1          # this session goes on
    with Store.open(tmp_path) as again:
        assert not (folder / segment_rewrite.MARKER).exists()
        assert all(int(p.stem) < segment_rewrite.GAP for p in folder.glob("*.json")
                   if p.stem.isdigit())
        ids = [e["id"] for e in again.events(LEARNER)]
        assert len(ids) == len(set(ids)) == count + 1 and tapped[0] in ids
        (folder / f"{SNAPSHOT_NAME}.snap").unlink(missing_ok=True)
        assert views(again) != before                              # the tap counts …
        assert retention.run(again, now=NOW, force=True)[LEARNER] > 0   # … and it ages


def old_and_recent(learner: str, old: int, recent: int) -> list[dict[str, Any]]:
    """Card views pulled from the server: `old` of 2018 (before the cutoff), then `recent`
    of 2030."""
    def view(i: int, year: int) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "learner": learner, "device": "tab-s", "seq": i + 1,
                "at": f"{year}-03-{1 + i % 28:02d}T10:00:00.000Z", "type": "card.viewed",
                "pack": PACK, "ref": {"course": "boundaries", "lesson": "l1", "card": str(i)}}
    return [view(i, 2018) for i in range(old)] + [view(old + i, 2030) for i in range(recent)]


def test_the_daily_check_reads_only_the_segments_that_may_hold_old_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The oldest `at` of each full segment is kept (segment_ages.py): a check that finds
    nothing worth a rewrite reads, the next day, only the segments that hold events past
    the cutoff and the last one — and again any segment whose file changed."""
    with Store.open(tmp_path, segment_capacity=8) as store:
        store.merge(old_and_recent(LEARNER, 5, 100))          # 14 segments, 5 old events
        log_ = store._learners.logs[LEARNER]
        assert len(log_.numbers) == 14
        read: list[int] = []
        real = type(log_).read_docs

        def counted(self: Any, number: int) -> list[dict[str, Any]]:
            read.append(number)
            return real(self, number)
        monkeypatch.setattr(type(log_), "read_docs", counted)

        def check() -> list[int]:
            read.clear()
            aged = retention.age_out(store, LEARNER, "2020-01-01T00:00:00.000Z",
                                     overdue="2017-01-01T00:00:00.000Z")
            assert aged == 0                                   # too few, not overdue
            return sorted(read)
        assert check() == log_.numbers                         # the first reads them all
        assert check() == [log_.numbers[0], log_.numbers[-1]]  # the old ones, the last
        sixth = log_.path_of(log_.numbers[5])                 # the same bytes, a new file
        atomic_write_bytes(sixth, read_file_bytes(sixth) or b"")
        assert check() == [log_.numbers[0], log_.numbers[5], log_.numbers[-1]]
        assert check() == [log_.numbers[0], log_.numbers[-1]]
        (log_.folder / "segment-ages.json").write_bytes(b"{not json")   # damaged: read all
        assert check() == log_.numbers
        assert retention.age_out(store, LEARNER, "2020-01-01T00:00:00.000Z") == 5
        assert check() == log_.numbers                         # new segments: read once
        assert check() == [log_.numbers[-1]]                   # nothing old is left


def test_a_segment_read_short_while_staging_keeps_the_old_segments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment that reads as empty the second time (moved aside as damaged, say) must
    not become a history without its documents: the staged rewrite is undone."""
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)
        count = store.event_count(LEARNER)
        log_ = store._learners.logs[LEARNER]
        real = ageing._prefix
        passes = iter(range(100))

        def prefix(*args: Any) -> Iterator[tuple[int, list[dict[str, Any]]]]:
            items = list(real(*args))
            if next(passes) == 1:          # the staging pass: the last (recent) one empty
                items[-1] = (items[-1][0], [])
            yield from items
        monkeypatch.setattr(ageing, "_prefix", prefix)
        assert retention.run(store, now=NOW) == {}             # logged, not raised
        assert not (log_.folder / segment_rewrite.MARKER).exists()
        assert store.event_count(LEARNER) == count and views(store) == before
        assert all(n < segment_rewrite.GAP for n in log_.numbers)


def test_a_log_that_grows_up_to_the_staged_numbers_abandons_the_rewrite_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More than GAP segments appended while a rewrite is staged (here GAP is 2): the
    segment that would take the first staged number abandons the rewrite before it is
    written, so no staged file is overwritten and then deleted as staged — every event
    stays, and nothing ages this time."""
    monkeypatch.setattr(segment_rewrite, "GAP", 2)
    store, _ = tablet(tmp_path)
    with store:
        count = store.event_count(LEARNER)
        log_ = store._learners.logs[LEARNER]
        pulled: list[dict[str, Any]] = []

        def pull(staged: Any) -> None:
            assert staged.numbers                       # a staged segment is on disk
            pulled.extend(old_and_recent(LEARNER, 0, 4 * log_.capacity))
            in_another_thread(store, lambda: store.merge(pulled))
        once_staged(monkeypatch, 1, pull)
        assert retention.run(store, now=NOW) == {}
        assert pulled
        assert not (log_.folder / segment_rewrite.MARKER).exists()
        ids = [e["id"] for e in store.events(LEARNER)]
        assert len(ids) == len(set(ids)) == count + len(pulled)
        assert {e["id"] for e in pulled} <= set(ids)
    with Store.open(tmp_path) as again:
        assert again.event_count(LEARNER) == count + len(pulled)
        assert retention.run(again, now=NOW, force=True)[LEARNER] > 0   # the next day


def test_a_commit_marker_that_fails_after_its_rename_still_finishes_the_rewrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit's marker is on disk (renamed) but its write reports an error, with
    every new segment already staged: the commit's own recovery finishes the rewrite,
    and nothing after it may delete the new segments as if staged."""
    with Store.open(tmp_path, segment_capacity=8) as store:
        store.merge(old_and_recent(LEARNER, 16, 8))
        log_ = store._learners.logs[LEARNER]
        kept = log_.read_docs(log_.numbers[-1])           # the 8 recent ones
        real = segment_rewrite.atomic_write_bytes

        def renamed_then_failed(path: Path, data: bytes) -> None:
            real(path, data)
            if b"old_last" in data:
                raise StoreError("fsync of the folder failed (test)")
        monkeypatch.setattr(segment_rewrite, "atomic_write_bytes", renamed_then_failed)
        with store._lock, pytest.raises(StoreError, match="test"):
            segment_rewrite.rewrite(log_, len(kept), iter(kept))
        assert log_.numbers and log_.numbers[0] > segment_rewrite.GAP    # the new ones
        assert [d["event"]["id"] for d in log_.read_docs(log_.numbers[0])] == \
            [d["event"]["id"] for d in kept]
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(LEARNER)] == [d["event"]["id"] for d in kept]


def test_a_commit_that_raises_once_the_rewrite_is_done_leaves_no_stale_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last new segment is written, then its write reports an error: the rewrite is
    done (recovered at once), and what the store answers is the new history, not a
    cached copy of the old one."""
    store, _ = tablet(tmp_path)
    with store:
        before = views(store)
        log_ = store._learners.logs[LEARNER]
        store.events(LEARNER)                                  # cached
        real = segment_rewrite._write
        marker = log_.folder / segment_rewrite.MARKER

        def written_then_failed(learner: Any, number: int, chunk: Any) -> int:
            done = real(learner, number, chunk)
            if b"old_last" in (read_file_bytes(marker) or b""):    # (plaintext)
                raise StoreError("disk error after the rename (test)")
            return done
        monkeypatch.setattr(segment_rewrite, "_write", written_then_failed)
        assert retention.run(store, now=NOW) == {}             # logged, not raised
        assert all(n > segment_rewrite.GAP for n in log_.numbers)        # done
        ids = [e["id"] for e in store.events(LEARNER)]
        assert len(ids) == store.event_count(LEARNER) and not any(
            e["at"] < CUTOFF and e["id"] not in unsent_ids(store) for e in store.events(LEARNER))
        assert views(store) == before
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(LEARNER)] == ids


def unsent_ids(store: Store) -> set[str]:
    return set(store._outbox_index().pending) | store._rejected.ids


def test_a_session_fold_from_before_an_ageing_is_not_saved_over_the_new_snapshot(
        tmp_path: Path) -> None:
    """A learner signed in (the session's fold covers what was stored then); a sync then
    pulls events already past the period — stored after the session's mark — and the
    day's ageing takes them. Every position up to the mark is unchanged, so the mark
    still fits by count and last id; but the session's fold never saw what aged out, and
    its save at the session's end must not replace the snapshot the ageing left."""
    with Store.open(tmp_path, segment_capacity=8) as store:
        recent = old_and_recent(LEARNER, 0, 12)
        store.merge(recent)
        session = load_history(store, LEARNER)                  # signed in
        assert session.mark.count == 12
        old = old_and_recent(LEARNER, 9, 0)
        for event in old:                                        # other cards, of 2018
            event["ref"]["card"] = f"old-{event['ref']['card']}"
        store.merge(old)                                         # positions 12–20
        assert retention.age_out(store, LEARNER, "2020-01-01T00:00:00.000Z") == 8   # the last stays
        expected = recomputed(recent + old, LEARNER)
        assert views(store) == expected                          # the ageing's snapshot
        session.save_due = True                                  # the session ends
        assert save_history(store, session) is False             # refused: too old
        assert views(store) == expected
        (store.root / "learners" / learner_key(LEARNER) / f"{SNAPSHOT_NAME}.snap").unlink()
        assert views(store) == expected                          # = a recompute


def test_an_abandon_that_cannot_delete_a_staged_file_keeps_the_reservation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The log reaches the staged numbers (GAP 2) and the abandon this sets off deletes
    one staged file, then cannot delete the next: the merge fails with a StoreError, the
    rewrite stays reserved — the next segment would try the abandon again before taking
    a staged number, so the next load's recovery of the `staged_from` marker deletes none
    of the log's own — and the ageing stages no more: it stops, aging nothing, and its
    own abandon finishes the job."""
    monkeypatch.setattr(segment_rewrite, "GAP", 2)
    store, _ = tablet(tmp_path)
    with store:
        count = store.event_count(LEARNER)
        log_ = store._learners.logs[LEARNER]
        staged: list[Any] = []
        real_unlink = Path.unlink
        failures: list[Path] = []

        def unlink(self: Path, missing_ok: bool = False) -> None:
            if staged and not failures and self.stem.isdigit() \
                    and int(self.stem) > staged[0].first:          # the second one
                failures.append(self)
                raise PermissionError(13, "Permission denied (test)")
            real_unlink(self, missing_ok=missing_ok)
        pulled: list[dict[str, Any]] = []
        refused: list[BaseException] = []

        def pull(rewrite: Any) -> None:
            staged.append(rewrite)
            pulled.extend(old_and_recent(LEARNER, 0, 4 * log_.capacity))

            def merge() -> None:
                with monkeypatch.context() as patched:
                    patched.setattr(Path, "unlink", unlink)
                    try:
                        store.merge(pulled)
                    except StoreError as exc:
                        refused.append(exc)
            in_another_thread(store, merge)
        once_staged(monkeypatch, 2, pull)
        assert retention.run(store, now=NOW) == {}
        assert failures and refused and "Permission denied" in str(refused[0])
        assert len(staged[0].numbers) == 2 and staged[0].abandoned   # no more staged after it
        assert not (log_.folder / segment_rewrite.MARKER).exists()
        store.merge(pulled)                                     # the sync's next try
        assert store.event_count(LEARNER) == count + len(pulled)
    with Store.open(tmp_path) as again:
        ids = [e["id"] for e in again.events(LEARNER)]
        assert len(ids) == len(set(ids)) == count + len(pulled)


def _control_ids(tmp_path: Path) -> set[str]:
    """The ids a clean ageing of a copy of the tablet at tmp_path/"tablet" keeps."""
    shutil.copytree(tmp_path / "tablet", tmp_path / "control")
    with Store.open(tmp_path / "control") as control:
        assert retention.run(control, now=NOW)[LEARNER] > 0
        return {e["id"] for e in control.events(LEARNER)}


def test_a_rewrite_whose_recovery_fails_once_is_finished_by_the_next_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit's own recovery fails half-way — the old segments deleted, the marker
    not (a disk error, as a StoreError): the learner's next read finishes it, so what
    the store answers and writes meanwhile is the new history, never a list of files
    that are gone."""
    store, _ = tablet(tmp_path / "tablet")
    with store:
        expected = _control_ids(tmp_path)
        before = views(store)
        real = segment_rewrite.fsync_dir
        calls: list[Path] = []

        def fails_once(folder: Path) -> None:
            calls.append(folder)
            if len(calls) == 1:
                raise OSError(5, "Input/output error (test)")
            real(folder)
        with monkeypatch.context() as patched:
            patched.setattr(segment_rewrite, "fsync_dir", fails_once)
            assert retention.run(store, now=NOW) == {}            # logged
        folder = store.root / "learners" / learner_key(LEARNER)
        assert (folder / segment_rewrite.MARKER).exists()          # half-way
        assert {e["id"] for e in store.events(LEARNER)} == expected   # finished here
        assert not (folder / segment_rewrite.MARKER).exists()
        assert store.event_count(LEARNER) == len(expected)
        late = old_and_recent(LEARNER, 0, 3 * store._learners.capacity)
        store.merge(late)
        assert views(store) != before
    with Store.open(tmp_path / "tablet") as again:
        ids = [e["id"] for e in again.events(LEARNER)]
        assert len(ids) == len(set(ids)) and set(ids) == expected | {e["id"] for e in late}


def test_a_rewrite_whose_recovery_keeps_failing_writes_nothing_until_it_succeeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the recovery keeps failing, the learner's segments are neither read nor
    written (StoreError: a merge is refused, taps stay in the journal); the next open,
    the disk working again, has every kept event, the taps and the merge once."""
    store, _ = tablet(tmp_path / "tablet")
    with store:
        expected = _control_ids(tmp_path)

        def failed(folder: Path, numbers: list[int]) -> list[int]:
            raise OSError(5, "Input/output error (test)")
        late = old_and_recent(LEARNER, 0, 3 * store._learners.capacity)
        with monkeypatch.context() as patched:   # (the sealed-store fixture's patch stays)
            patched.setattr(segment_rewrite, "recover", failed)
            assert retention.run(store, now=NOW) == {}            # logged
            with pytest.raises(StoreError, match="finishing a rewrite"):
                store.merge(late)
            with pytest.raises(StoreError, match="finishing a rewrite"):
                store.events(LEARNER)
            taps = local(play(ACTS[:1], store.device_id, timedelta(days=4)), store)
            for event in taps:
                event.pop("id")              # as the app's taps: the store names them
            tapped = [store.append(e) for e in taps]     # into the journal
    with Store.open(tmp_path / "tablet") as again:
        again.merge(late)                                           # the sync's next try
        ids = [e["id"] for e in again.events(LEARNER)]
        assert len(ids) == len(set(ids))
        assert set(ids) == expected | set(tapped) | {e["id"] for e in late}
        assert not (again.root / "learners" / learner_key(LEARNER) /
                    segment_rewrite.MARKER).exists()


def test_a_learner_whose_rewrite_cannot_be_recovered_can_still_be_erased(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An erasure needs no recovery of the learner's segments: their folder goes whole."""
    store, _ = tablet(tmp_path)
    with store:
        folder = store.root / "learners" / learner_key(LEARNER)

        def failed(folder: Path, numbers: list[int]) -> list[int]:
            raise OSError(5, "Input/output error (test)")
        with monkeypatch.context() as patched:   # (the sealed-store fixture's patch stays)
            patched.setattr(segment_rewrite, "recover", failed)
            assert retention.run(store, now=NOW) == {}            # logged: broken
            assert store._learners.logs[LEARNER].broken
            with store._lock:
                erasure._purge_events(store, {LEARNER})
        assert not folder.exists() and store.events(LEARNER) == []
    with Store.open(tmp_path) as again:
        assert again.events(LEARNER) == []


@pytest.mark.parametrize("plan", [
    b'{"staged_from": 1}',                    # every segment would be "staged"
    b'{"old_last": 99999, "new_segments": 0}',  # every segment would be "old", none new
    b'{"staged_from": true}', b'[1, 2]', b'{"old_last": 3}', b'{"unreadable": true}',
    b'\x00\xff not json', b''])
def test_a_rewrite_marker_that_does_not_fit_the_segments_deletes_nothing(
        tmp_path: Path, plan: bytes) -> None:
    """A marker left where no rewrite was under way, naming a plan no rewrite writes
    (tampered with, damaged): the segments decide (segment_rewrite._unplanned) — one run
    of numbers, nothing to finish or undo — and no document goes."""
    store, _ = tablet(tmp_path)
    with store:
        ids = [e["id"] for e in store.events(LEARNER)]
        log_ = store._learners.logs[LEARNER]
        assert len(log_.numbers) >= 3
        atomic_write_bytes(log_.folder / segment_rewrite.MARKER, plan)
        folder = log_.folder
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(LEARNER)] == ids
        assert not (folder / segment_rewrite.MARKER).exists()


def test_a_damaged_marker_of_a_staged_rewrite_undoes_it(tmp_path: Path) -> None:
    """Staged segments above the gap, then the marker damaged: they are copies of old
    documents, so they go, and the history is the old one, once (two runs of numbers,
    no new id above the gap)."""
    store, _ = tablet(tmp_path)
    with store:
        ids = [e["id"] for e in store.events(LEARNER)]
        log_ = store._learners.logs[LEARNER]
        docs = log_.all_docs()
        with store._lock:
            staged = segment_rewrite.begin(log_)
            segment_rewrite.write_next(staged, docs[2:2 + log_.capacity])
        folder = log_.folder
        atomic_write_bytes(folder / segment_rewrite.MARKER, b'{"staged_fr')
    with Store.open(tmp_path) as again:
        assert [e["id"] for e in again.events(LEARNER)] == ids
        assert not any(int(p.stem) > segment_rewrite.GAP for p in folder.glob("0*.json"))


def _retained_unreadable(patched: pytest.MonkeyPatch) -> None:
    """Reading retained.snap fails at the operating system (EIO, too many open files)."""
    from app.core.errors import StoreReadError
    from app.core.store.segments import LearnerLog
    real = LearnerLog.read_snapshot

    def read(self: LearnerLog, name: str) -> Any:
        if name == RETAINED_NAME:
            raise StoreReadError(f"{self.folder}/retained.snap: I/O error while reading")
        return real(self, name)
    patched.setattr(LearnerLog, "read_snapshot", read)


def test_a_retained_fold_that_cannot_be_read_is_never_taken_for_nothing_aged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The retained fold is the only copy of what aged out. A sign-in that must
    recompute while it cannot be read fails (and can be tried again) — it used to fold
    on from "nothing aged" and save that as the learner's snapshot, for good; an ageing
    then leaves the learner alone — it used to write the new aged events over it."""
    from app.core.errors import StoreReadError
    store, _ = tablet(tmp_path)
    folder = store.root / "learners" / learner_key(LEARNER)
    with store:
        before = views(store)
        assert retention.run(store, now=NOW)[LEARNER] > 0
        store.merge(play(ACTS[:2], "tab-c", timedelta(days=300)))   # older, pulled later
        before = views(store)
        count = store.event_count(LEARNER)
        (folder / f"{SNAPSHOT_NAME}.snap").unlink()       # to be recomputed (an update)
        with monkeypatch.context() as patched:
            _retained_unreadable(patched)
            with pytest.raises(StoreReadError):
                load_history(store, LEARNER)
            assert not (folder / f"{SNAPSHOT_NAME}.snap").exists()
            later = NOW.replace(year=NOW.year + 1)
            assert retention.run(store, now=later, force=True) == {}    # logged, skipped
            assert store.event_count(LEARNER) == count
        assert views(store) == before
        assert retention.run(store, now=later, force=True)[LEARNER] > 0
        assert views(store) == before
        (folder / f"{SNAPSHOT_NAME}.snap").unlink()
        assert views(store) == before                     # retained fold + what is kept


@pytest.mark.plain_store
def test_a_damaged_retained_fold_is_kept_aside_not_written_over(tmp_path: Path) -> None:
    """Damage (a CRC that does not match) is not a passing error: what it held is lost
    to the app, logged, and the file is moved aside — kept for whoever can still read
    it — before the next ageing writes a new one."""
    store, _ = tablet(tmp_path)
    folder = store.root / "learners" / learner_key(LEARNER)
    with store:
        assert retention.run(store, now=NOW)[LEARNER] > 0
        retained = folder / f"{RETAINED_NAME}.snap"
        damaged = bytearray(retained.read_bytes())
        damaged[-1] ^= 0xFF
        retained.write_bytes(bytes(damaged))
        (folder / f"{SNAPSHOT_NAME}.snap").unlink()
        load_history(store, LEARNER)                      # the sign-in goes on
        kept = list(folder.glob(f"{RETAINED_NAME}.snap.damaged-*"))
        assert [p.read_bytes() for p in kept] == [bytes(damaged)]
        assert not retained.exists()


@pytest.mark.plain_store
def test_a_retained_fold_whose_header_was_damaged_is_kept_aside(tmp_path: Path) -> None:
    """The CRC covers the payload, not the header: a character flipped in the header's
    device id made the file "another folder's", read as nothing aged and written over by
    the next ageing. The retained fold names no positions: any device will do; a header
    naming another learner or file is damage, and the file is moved aside."""
    store, _ = tablet(tmp_path)
    folder = store.root / "learners" / learner_key(LEARNER)
    with store:
        assert retention.run(store, now=NOW)[LEARNER] > 0
        store.merge(play(ACTS[:2], "tab-c", timedelta(days=300)))
        before = views(store)
        retained = folder / f"{RETAINED_NAME}.snap"
        head, _, payload = retained.read_bytes().partition(b"\n")
        at = head.index(b'"device":"') + len(b'"device":"')
        retained.write_bytes(head[:at] + b"X" + head[at + 1:] + b"\n" + payload)
        later = NOW.replace(year=NOW.year + 1)
        assert retention.run(store, now=later, force=True)[LEARNER] > 0
        (folder / f"{SNAPSHOT_NAME}.snap").unlink()
        assert views(store) == before
        head, _, payload = retained.read_bytes().partition(b"\n")
        at = head.index(b'"learner":"') + len(b'"learner":"')
        retained.write_bytes(head[:at] + b"f" + head[at + 1:] + b"\n" + payload)
        (folder / f"{SNAPSHOT_NAME}.snap").unlink()
        load_history(store, LEARNER)
        assert len(list(folder.glob(f"{RETAINED_NAME}.snap.damaged-*"))) == 1


def _segments_with_history(tmp_path: Path, key: bytes) -> tuple[Path, list[str], list[int]]:
    from app.core.store.keys import FixedKey
    with Store.open(tmp_path, journal_capacity=8, segment_capacity=4,
                    keys=FixedKey(key, created=True)) as store:
        for day in range(6):
            store.merge(play(ACTS, "tab-a", timedelta(days=day)))
        log_ = store._learners.logs[LEARNER]
        return log_.folder, [e["id"] for e in store.events(LEARNER)], list(log_.numbers)


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x5A
    path.write_bytes(bytes(raw))


@pytest.mark.plain_store
def test_damaged_markers_and_a_damaged_segment_never_cost_a_kept_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Damage on top of damage, in an encrypted folder (a file that does not open is
    moved aside): when neither marker can be read, the segments decide — but never on
    evidence damage could fake. (a) A segment moved aside earlier leaves a hole, then an
    ageing begins and both markers go bad: the hole is not the staged gap, nothing is
    deleted (it used to "finish" and delete two segments). (b) A segment staged, then an
    old segment and both markers go bad: the old one that does not open stops the
    decision (it used to look like a finish: every old segment deleted). (c) One marker
    bad: its copy has the plan. (d) Both bad and the recovery cut short: the next open
    still finds the markers (an encrypted folder used to move them aside at the first
    read, and the next open read the history doubled)."""
    from app.core.store.keys import FixedKey
    key = bytes(range(32))
    # (a)
    folder, every, numbers = _segments_with_history(tmp_path / "a", key)
    _flip(folder / f"{numbers[2]:06d}.json")
    with Store.open(tmp_path / "a", keys=FixedKey(key)) as store:
        survivors = [e["id"] for e in store.events(LEARNER)]     # moved aside here
        with store._lock:
            segment_rewrite.begin(store._learners.logs[LEARNER])  # killed right after
    for name in segment_rewrite.MARKERS:
        _flip(folder / name)
    with Store.open(tmp_path / "a", keys=FixedKey(key)) as store:
        assert [e["id"] for e in store.events(LEARNER)] == survivors
    # (b) and (c)
    for case, bad in (("b", segment_rewrite.MARKERS), ("c", segment_rewrite.MARKERS[:1])):
        folder, every, numbers = _segments_with_history(tmp_path / case, key)
        with Store.open(tmp_path / case, keys=FixedKey(key)) as store:
            log_ = store._learners.logs[LEARNER]
            with store._lock:
                staged = segment_rewrite.begin(log_)
                segment_rewrite.write_next(staged, log_.all_docs()[:4])
        if case == "b":
            _flip(folder / f"{numbers[0]:06d}.json")
        for name in bad:
            _flip(folder / name)
        with Store.open(tmp_path / case, keys=FixedKey(key)) as store:
            got = [e["id"] for e in store.events(LEARNER)]
        lost = set(every) - set(got)
        assert len(lost) <= (4 if case == "b" else 0)        # the damaged segment's own
    # (d)
    folder, every, numbers = _segments_with_history(tmp_path / "d", key)
    with Store.open(tmp_path / "d", keys=FixedKey(key)) as store:
        log_ = store._learners.logs[LEARNER]
        with store._lock:
            staged = segment_rewrite.begin(log_)
            segment_rewrite.write_next(staged, log_.all_docs()[:4])
    for name in segment_rewrite.MARKERS:
        _flip(folder / name)
    with monkeypatch.context() as patched:
        def cut_short(path: Path) -> None:
            raise StoreError(f"{path}: I/O error while syncing the folder")
        patched.setattr(segment_rewrite, "fsync_dir", cut_short)
        with pytest.raises(StoreError):
            Store.open(tmp_path / "d", keys=FixedKey(key)).close()
    assert all((folder / name).exists() for name in segment_rewrite.MARKERS)
    with Store.open(tmp_path / "d", keys=FixedKey(key)) as store:
        got = [e["id"] for e in store.events(LEARNER)]
    assert len(got) == len(set(got)) and set(got) == set(every)
