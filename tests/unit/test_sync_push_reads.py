"""How a push reads the outbox (app/sync/push.py): the first request leaves after one chunk
was read, later reads overlap requests in flight, and no event body is read twice — also
when events are appended while the push runs, and when a chunk is refused as too large."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.store import Store
from app.sync import RetryPolicy, SyncClient
from app.sync.push import READ_WINDOW
from tests.unit.test_sync_transport import FakeServer, Handler, js

LEARNER = "learner-reads"


class Recorder:
    """The push endpoint: stores everything, remembers the order of ids it saw."""

    def __init__(self, store: Store, append_during: int = 0, refuse_first: bool = False) -> None:
        self.store = store
        self.seen: list[str] = []
        self.requests = 0
        self.append_during = append_during
        self.refuse_first = refuse_first
        self.lock = threading.Lock()

    def push(self, h: Handler) -> tuple[int, dict[str, str], bytes]:
        events = json.loads(h.body)["events"]
        with self.lock:
            self.requests += 1
            if self.refuse_first and self.requests == 1:
                return js({"detail": "too large"}, 413)
            if self.requests == 1:          # the tablet is used while it syncs
                for n in range(self.append_during):
                    append(self.store, n)
            self.seen += [e["id"] for e in events]
        return js({"stored": [e["id"] for e in events], "duplicate": [], "rejected": [],
                   "profiles": []})


def append(store: Store, n: int) -> str:
    return store.append({"learner": LEARNER, "type": "card.viewed",
                         "ref": {"course": "c", "lesson": "l", "card": str(n % 5)}})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "dev")
    yield s
    s.close()


def reads_of(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, list[str]]]:
    """(limit, ids returned) of every Store.outbox call from now on."""
    calls: list[tuple[int, list[str]]] = []
    real = store.outbox

    def spy(limit: int = 500, **kwargs: Any) -> list[dict[str, Any]]:
        got = real(limit, **kwargs)
        calls.append((limit, [e["id"] for e in got]))
        return got

    monkeypatch.setattr(store, "outbox", spy)
    return calls


def sync_against(store: Store, recorder: Recorder, chunk: int) -> Any:
    server = FakeServer()
    server.route("POST /api/v1/sync/pull", lambda h: js(
        {"events": [], "events_cursor": 0, "profiles": [], "profiles_cursor": 0, "more": False}))
    server.route("POST /api/v1/sync/push", recorder.push)
    try:
        store.settings.set("server_url", server.url)
        store.settings.set_secret("device_token", "dev_reads")
        client = SyncClient(store, chunk_size=chunk, retry=RetryPolicy(attempts=2, base=0, cap=0))
        return client.sync(packs=False)
    finally:
        server.close()


def test_the_first_read_is_one_chunk_and_no_body_is_read_twice(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [append(store, n) for n in range(READ_WINDOW + 700)]
    recorder = Recorder(store)
    calls = reads_of(store, monkeypatch)
    report = sync_against(store, recorder, chunk=100)
    assert calls[0][0] == 100                           # the first request waits for 100
    assert all(limit == READ_WINDOW for limit, _ in calls[1:])
    read = [i for _, got in calls for i in got]
    assert len(read) == len(set(read)) == len(ids)      # every body read exactly once
    assert recorder.seen == ids                         # oldest first, each sent once
    assert report.events_acknowledged == len(ids) and store.outbox_count() == 0


def test_events_appended_during_the_push_go_in_the_same_sync(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [append(store, n) for n in range(250)]
    recorder = Recorder(store, append_during=130)
    calls = reads_of(store, monkeypatch)
    report = sync_against(store, recorder, chunk=100)
    read = [i for _, got in calls for i in got]
    assert len(read) == len(set(read)) == 380
    assert recorder.seen[:250] == ids and len(set(recorder.seen)) == 380
    assert report.events_acknowledged == 380 and store.outbox_count() == 0


def test_a_chunk_refused_as_too_large_is_read_and_sent_again_smaller(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [append(store, n) for n in range(300)]
    recorder = Recorder(store, refuse_first=True)
    calls = reads_of(store, monkeypatch)
    report = sync_against(store, recorder, chunk=100)
    # the chunk sent beside the refused one is sent again too (its answer was dropped;
    # the server calls the repeats duplicates), at the halved size
    assert set(recorder.seen) == set(ids)
    assert report.events_acknowledged == 300 and store.outbox_count() == 0
    assert calls[0][0] == 100
    assert all(len(got) <= READ_WINDOW for _, got in calls)
