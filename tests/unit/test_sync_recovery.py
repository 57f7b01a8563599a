"""A tablet after the server was restored from a backup (app/sync/recovery.py): the new
`server_epoch` is noticed, cursors go back to 0, profiles and the whole history are
offered again — certificates first, learner by learner, resumed after an interruption,
and never a second time. Against a scripted HTTP server on 127.0.0.1 (the real server
round trip is tests/integration/test_server_backup.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import SyncError, SyncProtocolError
from app.core.store import Store
from app.sync import RetryPolicy, SyncClient, recovery
from tests.unit.test_sync_transport import FakeServer, Handler, js

NO_RETRY = RetryPolicy(attempts=1, base=0, cap=0)


class RestorableServer:
    """Answers pulls with its epoch and stores pushed events by id; `fail_push_after`
    makes the n-th push from then on fail with a 503 (an interrupted sync)."""

    def __init__(self) -> None:
        self.epoch = "epoch-a"
        self.events: dict[str, dict[str, Any]] = {}
        self.pushes: list[list[str]] = []
        self.pulls: list[dict[str, Any]] = []
        self.fail_push_after: int | None = None
        self.pull_epoch = lambda: self.epoch
        self.http = FakeServer()
        self.http.route("POST /api/v1/sync/pull", self.pull)
        self.http.route("POST /api/v1/sync/push", self.push)

    def pull(self, h: Handler) -> Any:
        self.pulls.append(json.loads(h.body))
        return js({"events": [], "events_cursor": self.pulls[-1]["events_after"],
                   "profiles": [], "profiles_cursor": self.pulls[-1]["profiles_after"],
                   "more": False, "server_epoch": self.pull_epoch()})

    def push(self, h: Handler) -> Any:
        if self.fail_push_after is not None:
            if self.fail_push_after == 0:
                return js({"detail": "down"}, 503)
            self.fail_push_after -= 1
        body = json.loads(h.body)
        ids = [e["id"] for e in body["events"]]
        self.pushes.append(ids)
        stored = [i for i in ids if i not in self.events]
        for e in body["events"]:
            self.events.setdefault(e["id"], e)
        return js({"stored": stored, "duplicate": [i for i in ids if i not in stored],
                   "rejected": [], "profiles": [{"id": p["id"], "status": "registered"}
                                                for p in body["profiles"]]})

    def restore(self, keep: set[str]) -> None:
        """What a restore from a backup looks like to a tablet: fewer events, new epoch."""
        self.events = {i: e for i, e in self.events.items() if i in keep}
        self.epoch = "epoch-b"


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    server = RestorableServer()
    store = Store.open(tmp_path / "dev")
    store.settings.set("server_url", server.http.url)
    store.settings.set_secret("device_token", "dev_x")
    client = SyncClient(store, chunk_size=4, retry=NO_RETRY)
    yield server, store, client
    store.close()
    server.http.close()


def work(store: Store, learner: str, n: int) -> list[str]:
    return [store.append({"learner": learner, "type": "card.viewed",
                          "ref": {"course": "c", "lesson": "l", "card": str(i)}})
            for i in range(n)]


def certificate(learner: str, n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "learner": learner, "device": "server",
            "seq": n, "at": "2026-01-01T00:00:00.000Z", "type": "certificate.received",
            "ref": {"certificate": f"c{n}"}, "data": {"credential": {"id": f"c{n}"}},
            "received_at": "2026-01-01T00:00:01.000Z"}


def test_epoch_values_are_checked() -> None:
    assert recovery.epoch_of({}) is None
    assert recovery.epoch_of({"server_epoch": "a1-B_2"}) == "a1-B_2"
    for bad in (7, "", "x" * 65, "a b", "<script>", ["a"]):
        with pytest.raises(SyncProtocolError, match="server_epoch"):
            recovery.epoch_of({"server_epoch": bad})


def test_first_epoch_is_recorded_then_a_change_plans_a_reoffer(tmp_path: Path) -> None:
    with Store.open(tmp_path / "dev") as store:
        pid = store.profiles.create("Rasa", "LT-1", "prison_officer", "lt", "2468")["id"]
        store.profiles.mark_pushed([p["id"] for p in store.profiles.pending_push()])
        store.settings.update({"sync_cursor": 40, "sync_profiles_cursor": 7})
        keys = ("sync_cursor", "sync_profiles_cursor")
        assert not recovery.observe(store, "e1", keys)            # first contact: recorded
        assert store.settings.get("server_epoch") == "e1" and not store.profiles.pending_push()
        assert not recovery.observe(store, "e1", keys)
        assert store.settings.get("sync_cursor") == 40
        assert recovery.observe(store, "e2", keys)                # restored
        assert store.settings.get("sync_cursor") == 0 == store.settings.get("sync_profiles_cursor")
        assert [p["id"] for p in store.profiles.pending_push()] == [pid]
        assert recovery.pending(store) == {"epoch": "e2", "after": ""}
        assert not recovery.observe(store, "e2", keys)            # noticed once


def test_offer_order_puts_certificates_first_and_keeps_the_rest_in_order() -> None:
    events = [{"id": "1", "type": "card.viewed"}, {"id": "2", "type": "certificate.received"},
              {"id": "3", "type": "course.completed"}, {"id": "4", "type": "certificate.received"}]
    assert [e["id"] for e in recovery.offer_order(events)] == ["2", "4", "1", "3"]


def test_restore_is_followed_by_one_complete_reoffer(setup: Any) -> None:
    server, store, client = setup
    a = work(store, "learner-a", 5)
    b = work(store, "learner-b", 3)
    store.merge([certificate("learner-b", 1)])                   # pulled earlier
    first = client.sync()
    assert not first.server_restored and set(server.events) == set(a + b)
    server.restore(keep=set(a[:2]))                               # lost a[2:] and b
    server.pushes.clear()
    report = client.sync()
    assert report.server_restored and server.pulls[-1]["events_after"] == 0
    assert set(server.events) == set(a + b) | {certificate("learner-b", 1)["id"]}
    assert report.events_reoffered == 9 and report.events_recovered == 7
    b_push = next(p for p in server.pushes if set(p) & set(b))
    assert b_push[0] == certificate("learner-b", 1)["id"]         # certificate first
    assert "received_at" not in server.events[b_push[0]]
    assert recovery.pending(store) is None
    again = client.sync()
    assert not again.server_restored and again.events_reoffered == 0 and again.events_pushed == 0


def test_an_interrupted_reoffer_resumes_with_the_next_learner(setup: Any) -> None:
    server, store, client = setup
    learners = [f"learner-{k}" for k in "abc"]
    ids = {lid: work(store, lid, 6) for lid in learners}        # 2 chunks of 4 per learner
    client.sync()
    server.restore(keep=set())
    server.fail_push_after = 3                                    # a: 2 pushes, b: 1, then down
    with pytest.raises(SyncError):
        client.sync()
    assert recovery.pending(store) == {"epoch": "epoch-b", "after": "learner-a"}
    server.fail_push_after = None
    server.pushes.clear()
    report = client.sync()
    sent = [i for push in server.pushes for i in push]
    assert not set(sent) & set(ids["learner-a"])                  # a is not offered twice
    assert sorted(sent) == sorted(ids["learner-b"] + ids["learner-c"])
    assert report.events_reoffered == 12 and recovery.pending(store) is None
    assert set(server.events) == {i for v in ids.values() for i in v}


def test_a_new_restore_during_a_reoffer_starts_it_again(setup: Any) -> None:
    server, store, client = setup
    work(store, "learner-a", 2)
    client.sync()
    server.restore(keep=set())
    server.fail_push_after = 0
    with pytest.raises(SyncError):
        client.sync()
    assert recovery.pending(store) == {"epoch": "epoch-b", "after": ""}
    server.epoch = "epoch-c"
    server.fail_push_after = None
    report = client.sync()
    assert report.server_restored and report.events_reoffered == 2
    assert store.settings.get("server_epoch") == "epoch-c" and recovery.pending(store) is None


def test_an_epoch_that_changes_on_every_page_stops_the_sync(setup: Any) -> None:
    """Two servers with different databases behind one address must not make the tablet
    start over forever."""
    server, store, client = setup
    work(store, "learner-a", 1)
    client.sync()
    pages = iter(range(1000))
    server.pull_epoch = lambda: f"epoch-{next(pages)}"
    with pytest.raises(SyncProtocolError, match="changed twice"):
        client.sync()
    assert len(server.pulls) < 10
