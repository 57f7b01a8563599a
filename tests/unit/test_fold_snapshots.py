"""Fold snapshots (app.core.learning.history): what sign-in restores always equals a fold
of every stored event from nothing — for any event stream of two tablets, duplicates,
merges in any order and batch sizes, snapshots saved at any point, and the store
reopened or "crashed" (its folder copied while open) between snapshot writes; stale,
damaged, foreign and older snapshots are recomputed or still right."""

from __future__ import annotations

import ast
import hashlib
import random
import shutil
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import StoreError
from app.core.learning import LearningEngine, history
from app.core.learning.history import (
    SNAPSHOT_NAME,
    LearnerHistory,
    fold_version,
    load_history,
    save_history,
)
from app.core.learning.state import LearnerState
from app.core.store import Store
from app.core.store.segments import learner_key
from tests.support import fold_compare
from tests.support.fold_compare import history_views, recomputed
from tests.support.learning_fixtures import LEARNER, engine_pair
from tests.unit.test_learning_fold import DAYS, action, play

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def expected(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    return recomputed(store.events(LEARNER), LEARNER)


def snapshot_file(store: Store) -> Path:
    return store.root / "learners" / learner_key(LEARNER) / f"{SNAPSHOT_NAME}.snap"


def junk(rng: random.Random) -> list[dict[str, Any]]:
    """Valid envelopes with payloads the folds refuse (a newer app's event, a tampered
    one): they are stored, and ignored by the folds with a reason."""
    base = {"learner": LEARNER, "device": "tab-c", "at": "2026-03-01T10:00:00.000Z",
            "pack": "promote-test", "pack_version": 1}
    bad = [("card.viewed", {"course": "boundaries", "lesson": "01-why"}, {"seconds": 3}),
           ("answer.given", {"course": "boundaries", "attempt": "x", "question": "q1"},
            {"choice": "a", "score": 2}),
           ("selfassessment.rated", {"profile": "prison-officer", "assessment": "s",
                                     "task": "a1"}, {"level": 99}),
           ("quiz.started", {"course": "reporting", "attempt": "y"}, {"seed": -1})]
    return [dict(base, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), seq=i + 1,
                 type=etype, ref=ref, data=data)
            for i, (etype, ref, data) in enumerate(rng.sample(bad, rng.randint(0, len(bad))))]


class Tablet:
    """A store folder that can be reopened, or 'crashed': copied while open (every write
    of the store is synchronous, so the copy is what a kill would leave) and the copy
    opened instead."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0
        self.folder = self._next()
        self.store = Store.open(self.folder, journal_capacity=4, segment_capacity=8)

    def _next(self) -> Path:
        self.n += 1
        return self.root / f"t{self.n}"

    def reopen(self) -> None:
        self.store.close()
        self.store = Store.open(self.folder, journal_capacity=4, segment_capacity=8)

    def crash(self) -> None:
        copy = self._next()
        shutil.copytree(self.folder, copy)
        (copy / "store" / "store.lock").unlink()   # the kill released the lock
        self.store.close()
        self.folder = copy
        self.store = Store.open(self.folder, journal_capacity=4, segment_capacity=8)


SIGN_IN = st.tuples(st.just("sign_in"), st.sampled_from([0, 1, 3, 1000]))
MERGE = st.tuples(st.just("merge"), st.integers(1, 12))    # the next n events, one batch
op = st.one_of(
    MERGE, MERGE, SIGN_IN, SIGN_IN, SIGN_IN,
    st.tuples(st.just("dups"), st.integers(1, 6)),     # n already-merged events again
    st.tuples(st.just("append"), st.integers(1, 6)),   # n events appended here (journal)
    st.tuples(st.just("reopen")),
    st.tuples(st.just("crash")),
    st.tuples(st.just("old_snapshot")),      # an earlier snapshot back (a lost write)
    st.tuples(st.just("damage")),            # a torn / damaged snapshot file
    st.tuples(st.just("temp")),              # a half-written temp file of a snapshot
)


@SETTINGS
@given(a=st.lists(action, min_size=3, max_size=25), b=st.lists(action, min_size=3, max_size=25),
       offset=st.integers(-30, 30), ops=st.lists(op, min_size=3, max_size=25),
       seed=st.integers(0, 2**32))
def test_restored_state_always_equals_a_full_recompute(a: list, b: list, offset: int,
                                                        ops: list, seed: int) -> None:
    rng = random.Random(seed)
    events = play(a, "tab-a", timedelta(0)) + play(b, "tab-b", timedelta(minutes=offset))
    events += junk(rng)                    # the folds record these in `ignored`
    rng.shuffle(events)                    # merged in an order unrelated to their time
    with tempfile.TemporaryDirectory() as tmp:
        tablet = Tablet(Path(tmp))
        kept: list[bytes] = []
        done = 0
        try:
            for step in [*ops, ("merge", len(events)), ("sign_in", 1000)]:
                store = tablet.store
                kind = step[0]
                if kind == "merge":
                    store.merge(events[done:done + step[1]])
                    done = min(done + step[1], len(events))
                elif kind == "append":     # this tablet's own work: journal first
                    for event in events[done:done + step[1]]:
                        store.append({k: v for k, v in event.items()
                                      if k not in ("id", "device", "seq")})
                    done = min(done + step[1], len(events))
                elif kind == "dups" and done:
                    store.merge(rng.sample(events[:done], min(step[1], done)))
                elif kind == "sign_in":
                    got = load_history(store, LEARNER, resnapshot_after=step[1])
                    assert history_views(got) == expected(store)
                    if snapshot_file(store).is_file():
                        kept.append(snapshot_file(store).read_bytes())
                elif kind == "reopen":
                    tablet.reopen()
                elif kind == "crash":
                    tablet.crash()
                elif kind == "old_snapshot" and kept:
                    snapshot_file(store).write_bytes(rng.choice(kept))
                elif kind == "damage" and snapshot_file(store).is_file() \
                        and snapshot_file(store).stat().st_size:   # an empty one stays so
                    raw = bytearray(snapshot_file(store).read_bytes())
                    cut = rng.randrange(len(raw))
                    if rng.random() < 0.5:
                        del raw[cut:]
                    else:
                        raw[cut] ^= 0x55
                    snapshot_file(store).write_bytes(bytes(raw))
                elif kind == "temp" and snapshot_file(store).parent.is_dir():
                    snapshot_file(store).with_name(f".{SNAPSHOT_NAME}.snap.tmp-1-ab").write_bytes(
                        b"half written")
                if kind != "merge":        # the other tablet's work keeps coming in
                    more = rng.randint(0, 3)
                    tablet.store.merge(events[done:done + more])
                    done = min(done + more, len(events))
            # the whole engines agree too, on every day that matters
            got = load_history(tablet.store, LEARNER)
            learning, sa = engine_pair(tablet.store.events(LEARNER))
            restored = LearningEngine(learning.catalog, learner=LEARNER, role=learning.role,
                                      language=learning.language,
                                      load_lesson=learning.load_lesson, events=got)
            for day in DAYS:
                assert restored.snapshot(today=day) == learning.snapshot(today=day)
        finally:
            tablet.store.close()


def test_ties_of_one_order_key_fold_the_same_in_any_order() -> None:
    """Two events with one (at, device, seq) — a tablet restored from an old backup may
    reuse a seq — must not make the fold depend on which arrived first."""
    base = {"learner": LEARNER, "device": "tab-a", "seq": 7, "at": "2026-01-01T10:00:00.000Z",
            "pack": "promote-test", "pack_version": 1}
    started = [dict(base, id=f"00000000-0000-4000-8000-00000000000{i}", type="quiz.started",
                    ref={"course": "boundaries", "attempt": "att-1"},
                    data={"seed": i, "questions": ["q1", "q2"], "lang": "en"})
               for i in (1, 2)]
    submitted = [dict(base, id=f"00000000-0000-4000-8000-00000000001{i}", type="quiz.submitted",
                      ref={"course": "boundaries", "attempt": "att-1"},
                      data={"score": 10.0 * i, "passed": i == 2, "pass_mark": 70,
                            "answered": 2, "total": 2})
                 for i in (1, 2)]
    answers = [dict(base, id=f"00000000-0000-4000-8000-00000000002{i}", type="review.answered",
                    ref={"course": "boundaries", "question": "q1"},
                    data={"choice": ["a"], "score": float(i % 2), "correct": bool(i % 2),
                          "type": "single"})
               for i in (1, 2)]
    views = []
    for order in ([0, 1], [1, 0]):
        state = LearnerState(LEARNER)
        state.apply_many([started[i] for i in order] + [submitted[i] for i in order]
                         + [answers[i] for i in order])
        views.append(fold_compare.learning_view(state))
    # compared as values: the repr of a set depends on insertion order (hash seed)
    assert views[0] == views[1]


# -- snapshots that cannot be used -------------------------------------------------------
def _store_with_history(tmp_path: Path, actions: int = 30) -> Store:
    store = Store.open(tmp_path, segment_capacity=8)
    rng = random.Random(5)
    acts = [("read", "boundaries"), ("ace", "boundaries", 3), ("guess", "reporting", 9),
            ("assess", [1, 2, 3, 4])]
    store.merge(play([rng.choice(acts) for _ in range(actions)], "tab-a", timedelta(0)))
    return store


def test_first_sign_in_saves_a_snapshot_and_the_next_restores_it(tmp_path: Path) -> None:
    with _store_with_history(tmp_path) as store:
        first = load_history(store, LEARNER)
        assert first.source == "recomputed" and snapshot_file(store).is_file()
        again = load_history(store, LEARNER)
        assert again.source == "snapshot" and again.folded == 0
        assert history_views(again) == history_views(first) == expected(store)


def test_a_deferred_snapshot_is_saved_at_the_end_of_the_session(tmp_path: Path) -> None:
    """LearnerWork's path: sign-in only marks the snapshot due; `save_history` at the end
    saves the session's state (with events beyond the sign-in's mark, folded by the
    subscription) under the mark it then covers — and the next sign-in still equals a
    fold of everything."""
    acts = [("read", "boundaries"), ("guess", "reporting", 4), ("assess", [2, 2, 3, 1])]
    with _store_with_history(tmp_path) as store:
        load_history(store, LEARNER)
        saved = store.read_snapshot(LEARNER, SNAPSHOT_NAME)
        store.merge(play(acts, "tab-b", timedelta(days=3)))
        got = load_history(store, LEARNER, resnapshot_after=5, defer_save=True)
        assert got.source == "snapshot" and got.save_due
        assert store.read_snapshot(LEARNER, SNAPSHOT_NAME).mark == saved.mark   # not yet
        assert history_views(got) == expected(store)
        session = play(acts[:2], "tab-c", timedelta(days=9))
        for event in session[: len(session) // 2]:    # what the subscription folded …
            got.apply(event)
        store.merge(session)                           # … and what it missed
        assert save_history(store, got) and not got.save_due
        assert store.read_snapshot(LEARNER, SNAPSHOT_NAME).mark.count \
            == store.event_count(LEARNER)
        again = load_history(store, LEARNER)
        assert again.source == "snapshot" and again.folded == 0
        assert history_views(again) == expected(store)
        assert save_history(store, again) is False      # nothing due


def test_a_deferred_save_is_made_at_once_when_much_came_since(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _store_with_history(tmp_path) as store:
        load_history(store, LEARNER)
        store.merge(play([("read", "boundaries")], "tab-b", timedelta(days=3)))
        monkeypatch.setattr(history, "SAVE_NOW_AFTER", 5)
        got = load_history(store, LEARNER, resnapshot_after=5, defer_save=True)
        assert not got.save_due
        assert store.read_snapshot(LEARNER, SNAPSHOT_NAME).mark == got.mark


def test_a_snapshot_of_another_fold_version_is_recomputed(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    with _store_with_history(tmp_path) as store:
        load_history(store, LEARNER)
        monkeypatch.setattr(history, "LEARNING_FOLD_VERSION", 999)
        assert fold_version() != store.read_snapshot(LEARNER, SNAPSHOT_NAME).version
        got = load_history(store, LEARNER)
        assert got.source == "recomputed" and history_views(got) == expected(store)
        assert store.read_snapshot(LEARNER, SNAPSHOT_NAME).version == fold_version()


def test_an_unreadable_payload_is_recomputed(tmp_path: Path) -> None:
    from app.core.store import Snapshot
    with _store_with_history(tmp_path) as store:
        mark = load_history(store, LEARNER).mark
        for payload in (b"", b"\x00garbage", b"\xe9" * 40):
            store.write_snapshot(LEARNER, SNAPSHOT_NAME, Snapshot(mark, fold_version(), payload))
            got = load_history(store, LEARNER)
            assert got.source == "recomputed" and history_views(got) == expected(store)


def test_a_snapshot_of_another_tablet_is_not_used(tmp_path: Path) -> None:
    """Positions are per data folder: the same learner's snapshot from another tablet
    (a partial restore) is ignored even where its mark would seem to fit."""
    one = _store_with_history(tmp_path / "one")
    two = _store_with_history(tmp_path / "two")
    try:
        load_history(one, LEARNER)
        load_history(two, LEARNER)
        shutil.copyfile(snapshot_file(one), snapshot_file(two))
        assert two.read_snapshot(LEARNER, SNAPSHOT_NAME) is None
        assert load_history(two, LEARNER).source == "recomputed"
    finally:
        one.close()
        two.close()


def test_a_failed_snapshot_write_does_not_fail_sign_in(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise StoreError("disk full while writing; the previous data is kept")
    with _store_with_history(tmp_path) as store:
        monkeypatch.setattr(Store, "write_snapshot", full)
        got = load_history(store, LEARNER)
        assert history_views(got) == expected(store)
        assert not snapshot_file(store).exists()


def test_a_history_given_for_another_learner_is_refused(tmp_path: Path) -> None:
    with _store_with_history(tmp_path) as store:
        got = LearningEngine.load_history(store, LEARNER)
        learning, _ = engine_pair()
        with pytest.raises(StoreError, match="given for"):
            LearningEngine(learning.catalog, learner="someone-else", role="prison_officer",
                           language="en", load_lesson=learning.load_lesson, events=got)


def test_engines_take_their_fold_from_a_history_and_fold_nothing(tmp_path: Path) -> None:
    from app.core.assessment import SelfAssessment
    with _store_with_history(tmp_path) as store:
        got = load_history(store, LEARNER)
        learning, _ = engine_pair()
        engine = LearningEngine(learning.catalog, learner=LEARNER, role="prison_officer",
                                language="en", load_lesson=learning.load_lesson, events=got)
        sa = SelfAssessment(engine.catalog, learner=LEARNER, role="prison_officer",
                            language="en", events=got, learning=engine.state)
        assert engine.state is got.learning and sa.state is got.assessment


# -- the snapshot codec and version ------------------------------------------------------
def test_views_cover_every_field() -> None:
    """The comparison views (tests/support/fold_compare.py) name every attribute of the
    folds: a field added to a fold must be added to the codec and to the views."""
    from app.core.assessment.state import AssessmentState
    assert set(vars(LearnerState(LEARNER))) == fold_compare.LEARNER_STATE_ATTRS
    assert set(vars(AssessmentState(LEARNER))) == fold_compare.ASSESSMENT_STATE_ATTRS


#: The fold code that decides what a snapshot holds. When its code (not comments or
#: docstrings) changes, this test fails: if the change can change the state some events
#: fold to, bump FOLD_VERSION (app/core/learning/state.py, app/core/assessment/state.py)
#: or CODEC_VERSION (app/core/learning/history.py) — then update FOLD_CODE_DIGEST.
FOLD_SOURCES = ["app/core/learning/fold.py", "app/core/learning/state.py",
                "app/core/learning/course_progress.py",
                "app/core/learning/payloads.py", "app/core/learning/review.py",
                "app/core/assessment/state.py", "app/core/learning/history.py",
                "app/core/store/sortedids.py"]
FOLD_FUNCTIONS = {"app/core/events.py": {"order_key", "parse_at"}}
# e34fc72fb8b54ce3: the records (Answer, Attempt, CourseProgress, Certificate) moved from
# state.py to course_progress.py unchanged; 271d0810e309718d: history.py's deferred save
# (save_history); d09df8691e9a9d99: a recompute starts from the retained fold of the
# events aged out of the tablet (retained_fold; empty when none aged); a959805fa7449e76:
# payloads.py refuses a payload number too large for a float instead of raising
# OverflowError (such an event never reached a fold); 89d485fa1ffbb2ac: check_payload's
# fast test of the common types (accepts only what the rules accept; an unhashable `type`
# is refused instead of raising TypeError: tests/unit/test_event_checks_equivalence.py);
# 663f4591fe8fd97b: the fast tests' shared ref/data/pack type test made once in
# check_payload instead of in each of the four
# — none changes what the folds compute or the payload: no bump
# ad0c06314615ed7d: the retained fold read strictly (an I/O error raised, not taken for
# "nothing aged"); a session-end save on a closed store returns False — error handling
# only, no bump
FOLD_CODE_DIGEST = "ad0c06314615ed7d"


def _code_digest() -> str:
    def strip(tree: ast.AST) -> ast.AST:
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body[0] = ast.Pass()      # a docstring
        return tree
    h = hashlib.sha256()
    for name in FOLD_SOURCES:
        h.update(ast.dump(strip(ast.parse((ROOT / name).read_text(encoding="utf-8")))).encode())
    for name, wanted in FOLD_FUNCTIONS.items():
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in wanted:
                h.update(ast.dump(strip(node)).encode())
    return h.hexdigest()[:16]


def test_fold_code_changes_are_noticed() -> None:
    assert _code_digest() == FOLD_CODE_DIGEST, (
        f"the fold code changed (digest {_code_digest()}; this test expects "
        f"{FOLD_CODE_DIGEST}). Saved snapshots are only right if the fold computes what it "
        f"did: if this change can change the state some events fold to, bump FOLD_VERSION "
        f"or CODEC_VERSION (now {fold_version()}); then set FOLD_CODE_DIGEST.")


def test_round_trip_of_a_rich_state_keeps_everything(tmp_path: Path) -> None:
    with _store_with_history(tmp_path, actions=60) as store:
        full = LearnerHistory.empty(LEARNER)
        mark = store.history_since(LEARNER, None, full.apply_batch)
        assert mark is not None
        restored = LearnerHistory.decode(LEARNER, full.encode(), mark)
        assert history_views(restored) == history_views(full) == expected(store)
        assert restored.learning.courses and restored.assessment.assessments
