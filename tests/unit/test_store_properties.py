"""Property tests (hypothesis): merge is a set union by id — idempotent and
order-independent — and never touches the outbox. Real store folders, small segments so
segment boundaries are crossed."""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from app.core.store import Store

LEARNERS = ["0a000000-0000-4000-8000-00000000000a", "0b000000-0000-4000-8000-00000000000b",
            "learner:with.odd-chars_1"]
DEVICES = ["dev-one", "dev-two"]


def make_event(n: int) -> dict[str, Any]:
    """Content is a function of n, so one id always has one content (as on the server)."""
    return {
        "id": str(uuid.UUID(int=n + 1, version=4)),
        "learner": LEARNERS[n % 3],
        "device": DEVICES[n % 2],
        "seq": n // 2 + 1,
        "at": f"2026-01-01T00:{(n * 7) % 60:02d}:{(n * 13) % 60:02d}.{n % 1000:03d}Z",
        "type": "answer.given",
        "ref": {"question": f"q{n % 5}"},
        "data": {"n": n, "text": "ü" * (n % 4)},
    }


batches = st.lists(st.lists(st.integers(0, 60).map(make_event), max_size=25), max_size=5)


def merged_state(parts: list[list[dict[str, Any]]]) -> tuple[dict[str, list], list[int]]:
    with tempfile.TemporaryDirectory() as tmp, Store.open(tmp, segment_capacity=4) as s:
        counts = [s.merge(part) for part in parts]
        state = {learner: s.events(learner) for learner in LEARNERS}
        assert s.outbox() == []
        # idempotent: everything again changes nothing
        assert sum(s.merge(part) for part in parts) == 0
        assert {learner: s.events(learner) for learner in LEARNERS} == state
    return state, counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=batches, data=st.data())
def test_merge_is_idempotent_and_order_independent(parts: list[list[dict]], data: Any) -> None:
    state, counts = merged_state(parts)
    distinct = {e["id"] for part in parts for e in part}
    assert sum(counts) == len(distinct)
    assert sum(len(v) for v in state.values()) == len(distinct)
    # the same events in another order and other batch boundaries give the same store
    flat = [e for part in parts for e in part]
    shuffled = data.draw(st.permutations(flat))
    cut = data.draw(st.integers(0, len(shuffled)))
    other, _ = merged_state([shuffled[:cut], shuffled[cut:]])
    assert other == state
    for learner, events in state.items():
        assert all(e["learner"] == learner for e in events)


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(st.one_of(st.just("append"), st.just("ack"),
                              st.integers(0, 60).map(make_event)), max_size=30))
def test_outbox_holds_exactly_the_unacknowledged_local_events(ops: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            Store.open(tmp, journal_capacity=3, segment_capacity=4) as s:
        local: list[str] = []
        acked: set[str] = set()
        for op in ops:
            if op == "append":
                local.append(s.append({"learner": LEARNERS[len(local) % 3],
                                       "type": "card.viewed"}))
            elif op == "ack":
                first = [e["id"] for e in s.outbox(2)]
                s.acknowledge(first)
                acked.update(first)
            else:
                s.merge([op])
        assert [e["id"] for e in s.outbox(1000)] == [i for i in local if i not in acked]


class StoreModel(RuleBasedStateMachine):
    """Random sequences of append / acknowledge / reject / merge / close+reopen /
    crash+reopen against a plain model of what the store must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.store = Store.open(self.tmp.name, journal_capacity=3, segment_capacity=4)
        self.local: list[str] = []            # appended ids, in order
        self.gone: set[str] = set()           # acknowledged or rejected
        self.rejected: set[str] = set()
        self.merged: set[str] = set()
        self.seqs: list[int] = []

    @rule(learner=st.sampled_from(LEARNERS))
    def append(self, learner: str) -> None:
        event_id = self.store.append({"learner": learner, "type": "card.viewed"})
        self.local.append(event_id)

    @rule(n=st.integers(0, 5))
    def acknowledge(self, n: int) -> None:
        ids = [e["id"] for e in self.store.outbox(n)]
        assert self.store.acknowledge(ids) == len(ids)
        self.gone.update(ids)

    @rule(n=st.integers(1, 3))
    def reject(self, n: int) -> None:
        ids = [e["id"] for e in self.store.outbox(n)]
        self.store.reject({i: "no" for i in ids})
        self.gone.update(ids)
        self.rejected.update(ids)

    @rule(ns=st.lists(st.integers(0, 60), max_size=6))
    def merge(self, ns: list[int]) -> None:
        events = [make_event(n) for n in ns]
        self.store.merge(events)
        self.merged.update(e["id"] for e in events)

    @rule(crash=st.booleans())
    def reopen(self, crash: bool) -> None:
        if crash:  # like a kill: no fold, no clean close; only the lock goes with the process
            self.store._release_files()
            self.store._closed = True
        else:
            self.store.close()
        self.store = Store.open(self.tmp.name, journal_capacity=3)

    @invariant()
    def matches_the_model(self) -> None:
        s = self.store
        assert [e["id"] for e in s.outbox(10_000)] == [i for i in self.local
                                                        if i not in self.gone]
        stored = [e for learner in LEARNERS for e in s.events(learner)]
        ids = [e["id"] for e in stored]
        assert len(ids) == len(set(ids)) == s.event_count()
        assert set(ids) == set(self.local) | self.merged
        own = [e["seq"] for e in stored if e["device"] == s.device_id]
        assert sorted(own) == list(range(1, len(self.local) + 1))  # no gap, no repeat here
        assert {r["event"]["id"] for r in s.rejected()} == self.rejected

    def teardown(self) -> None:
        self.store.close()
        self.tmp.cleanup()


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = settings(max_examples=30, stateful_step_count=25, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=40, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=300))
def test_any_torn_journal_tail_is_cut_and_nothing_else_is_lost(garbage: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s = Store.open(tmp, journal_capacity=50)
        ids = [s.append({"learner": LEARNERS[0], "type": "card.viewed"}) for _ in range(3)]
        path = s._journal.current.path
        s._release_files()  # killed: the journal is not folded
        s._closed = True
        with open(path, "ab") as fh:
            fh.write(garbage)
        with Store.open(tmp) as again:
            assert [e["id"] for e in again.events(LEARNERS[0])] == ids
            assert [e["id"] for e in again.outbox()] == ids
