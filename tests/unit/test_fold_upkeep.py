"""Fold snapshots kept current off the sign-in path (app/core/learning/upkeep.py): the
session's end saves one when its own events made it due, a sync refreshes the snapshot of
a learner whose events it pulled — and what a sign-in restores then still equals a fold
of every stored event from nothing, folding only what came since."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from app.core.learning import upkeep
from app.core.learning.history import SNAPSHOT_NAME, load_history
from app.core.store import Store
from tests.support.fold_compare import history_views, recomputed
from tests.support.learning_fixtures import LEARNER
from tests.unit.test_learning_fold import play

ACTS = [("read", "boundaries"), ("ace", "boundaries", 3), ("guess", "reporting", 9),
        ("assess", [1, 2, 3, 4])]


def _store(tmp_path: Path, actions: int = 30) -> Store:
    store = Store.open(tmp_path, segment_capacity=8)
    rng = random.Random(5)
    store.merge(play([rng.choice(ACTS) for _ in range(actions)], "tab-a", timedelta(0)))
    return store


def _mark(store: Store) -> int:
    snapshot = store.read_snapshot(LEARNER, SNAPSHOT_NAME)
    assert snapshot is not None
    return snapshot.mark.count


def test_a_session_that_added_many_events_saves_at_its_end(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        load_history(store, LEARNER)                       # first sign-in: saved
        signed = load_history(store, LEARNER, defer_save=True)
        assert not signed.save_due and signed.folded == 0
        session = play(ACTS[:3], "tab-s", timedelta(days=4))
        for event in session:                              # what the subscription folds
            signed.apply(event)
        store.merge(session)
        assert upkeep.unsaved_events(store, signed) == len(session)
        assert upkeep.save_at_session_end(store, signed, after=len(session))
        assert _mark(store) == store.event_count(LEARNER)
        again = load_history(store, LEARNER, defer_save=True)
        assert again.source == "snapshot" and again.folded == 0
        assert history_views(again) == recomputed(store.events(LEARNER), LEARNER)


def test_a_short_session_does_not_save(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        load_history(store, LEARNER)
        before = _mark(store)
        signed = load_history(store, LEARNER, defer_save=True)
        store.merge(play(ACTS[:1], "tab-s", timedelta(days=4)))
        assert not upkeep.save_at_session_end(store, signed, after=10_000)
        assert _mark(store) == before


def test_the_sign_in_tail_counts_towards_the_session_end(tmp_path: Path) -> None:
    """Events the sign-in folded beyond its snapshot (not saved: fewer than due) plus the
    session's own make the save due together."""
    with _store(tmp_path) as store:
        load_history(store, LEARNER)
        pulled = play(ACTS[:2], "tab-b", timedelta(days=2))
        store.merge(pulled)
        signed = load_history(store, LEARNER, defer_save=True, resnapshot_after=10_000)
        assert signed.folded == len(pulled) and not signed.save_due
        session = play(ACTS[2:3], "tab-s", timedelta(days=5))
        store.merge(session)
        assert upkeep.unsaved_events(store, signed) == len(pulled) + len(session)
        assert upkeep.save_at_session_end(store, signed,
                                          after=len(pulled) + len(session))
        assert history_views(load_history(store, LEARNER)) == \
            recomputed(store.events(LEARNER), LEARNER)


def test_a_sync_refreshes_the_snapshots_its_pull_made_due(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        load_history(store, LEARNER)
        pulled = play(ACTS, "tab-b", timedelta(days=3))
        store.merge(pulled)
        assert upkeep.refresh_due(store, [LEARNER], after=len(pulled) + 1) == []
        assert upkeep.refresh_due(store, [LEARNER, "nobody"], after=len(pulled)) == [LEARNER]
        assert _mark(store) == store.event_count(LEARNER)
        signed = load_history(store, LEARNER, defer_save=True)
        assert signed.source == "snapshot" and signed.folded == 0
        assert history_views(signed) == recomputed(store.events(LEARNER), LEARNER)


def test_a_learner_without_a_snapshot_is_left_to_the_first_sign_in(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        assert upkeep.refresh_due(store, [LEARNER], after=1) == []
        assert store.read_snapshot(LEARNER, SNAPSHOT_NAME) is None


def test_a_damaged_snapshot_is_refreshed_by_a_recompute_not_trusted(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        load_history(store, LEARNER)
        path = store.root / "learners"
        snap = next(path.rglob(f"{SNAPSHOT_NAME}.snap"))
        data = bytearray(snap.read_bytes())
        data[-3] ^= 0xFF
        snap.write_bytes(bytes(data))
        store.merge(play(ACTS[:1], "tab-b", timedelta(days=3)))
        assert upkeep.refresh_due(store, [LEARNER], after=1) == []   # unreadable: skipped
        assert history_views(load_history(store, LEARNER)) == \
            recomputed(store.events(LEARNER), LEARNER)


def test_a_session_ending_after_the_store_closed_leaves_quietly(tmp_path: Path) -> None:
    """The tablet shuts down (its store closed) while a learner's deferred snapshot is
    still due: the session's end saves nothing and says so — it used to raise out of
    the session's close, which then never let go of the learner's work."""
    store = _store(tmp_path)
    load_history(store, LEARNER)
    store.merge(play([("read", "boundaries"), ("guess", "reporting", 4)] * 4, "tab-b",
                     timedelta(days=2)))
    history = load_history(store, LEARNER, resnapshot_after=3, defer_save=True)
    assert history.save_due
    store.close()
    assert upkeep.save_at_session_end(store, history) is False
