"""Faults through a real uvicorn server: dropped connections, repeated chunks, a server
killed and restarted mid-sync, two server processes on one database. In every case each
event ends up stored exactly once."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    Enrolled,
    ServerProcess,
    admin_token,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    seed,
)


@dataclass
class Setup:
    server: ServerProcess
    device: Enrolled
    learner: str
    facility: str

    def chunk(self, n: int, first_seq: int) -> list[dict[str, object]]:
        return [make_event(self.learner, self.device.device_id, first_seq + i) for i in range(n)]

    def push(self, events: list[dict[str, object]], url: str | None = None) -> dict[str, object]:
        r = httpx.post((url or self.server.base_url) + "/api/v1/sync/push",
                       headers=self.device.headers, json={"events": events}, timeout=60)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def pushes_handled(self) -> int:
        """Pushes the server has finished with (its access log)."""
        return len(self.server.requests("/api/v1/sync/push"))

    def wait_until_handled(self, pushes: int) -> None:
        """Wait for the server to finish with `pushes` pushes (the event itself, not a
        fixed time: a slower machine only waits longer)."""
        deadline = time.monotonic() + 60
        while self.pushes_handled() < pushes:
            assert time.monotonic() < deadline, "the server never finished the push:\n" \
                + self.server.log_tail()
            time.sleep(0.02)

    def stored_ids(self) -> list[str]:
        """Ids stored for this test's facility, in server order (one row per stored event)."""
        repo = open_repo(self.server.data_dir, self.server.database_url)
        try:
            return [json.loads(e.content)["id"]
                    for e in repo.events_after(self.facility, 0, 1_000_000)]
        finally:
            repo.close()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:
    """One server per backend for the module; tests that kill it start it again."""
    db = url_for_backend(request.param)
    proc = ServerProcess(tmp_path_factory.mktemp("faults") / "srv", db)
    proc.start()
    seed(proc.data_dir, db)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def setup(server: ServerProcess) -> Setup:
    """A fresh facility, tablet and learner for each test (so counts are per test)."""
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    facility = f"f-{uuid.uuid4().hex[:10]}"
    seed(server.data_dir, server.database_url, facilities={facility: "Faults"})
    dev = enrol_device(server.base_url, admin_token(server.base_url), facility)
    p = make_profile()
    r = httpx.post(server.base_url + "/api/v1/sync/push", headers=dev.headers,
                   json={"profiles": [p]})
    assert r.json()["profiles"][0]["status"] == "registered"
    return Setup(server, dev, p["id"], facility)


def _raw_request(s: Setup, body: bytes, send_bytes: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", s.server.port), timeout=10)
    head = (f"POST /api/v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {s.device.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:send_bytes])
    return sock


def test_connection_dropped_mid_chunk_stores_nothing_then_resend_stores_all(setup: Setup) -> None:
    events = setup.chunk(500, 1)
    body = json.dumps({"events": events}).encode()
    handled = setup.pushes_handled()
    _raw_request(setup, body, len(body) // 2).close()     # half a body, then the cable is pulled
    setup.wait_until_handled(handled + 1)                  # the server saw the cable go
    assert setup.stored_ids() == []
    answer = setup.push(events)
    assert len(answer["stored"]) == 500 and answer["rejected"] == []
    assert sorted(setup.stored_ids()) == sorted(e["id"] for e in events)


def test_connection_dropped_before_the_answer_then_resend(setup: Setup) -> None:
    events = setup.chunk(500, 1)
    body = json.dumps({"events": events}).encode()
    handled = setup.pushes_handled()
    _raw_request(setup, body, len(body)).close()           # sent, answer never read
    # the server is done with it: stored it, or dropped it if it saw the close before it
    # read the body (uvicorn then answers the read with a disconnect) — either is correct
    setup.wait_until_handled(handled + 1)
    answer = setup.push(events)                             # the client did not get an ack: resend
    acked = set(answer["stored"]) | set(answer["duplicate"])
    assert acked == {e["id"] for e in events}
    ids = setup.stored_ids()
    assert len(ids) == len(set(ids)) == 500


def test_same_chunk_twice(setup: Setup) -> None:
    events = setup.chunk(500, 1)
    first, second = setup.push(events), setup.push(events)
    assert len(first["stored"]) == 500
    assert second["stored"] == [] and len(second["duplicate"]) == 500
    assert len(setup.stored_ids()) == 500


def test_server_killed_and_restarted_between_chunks(setup: Setup) -> None:
    c1, c2 = setup.chunk(500, 1), setup.chunk(500, 501)
    assert len(setup.push(c1)["stored"]) == 500
    setup.server.kill()                                     # SIGKILL: no clean shutdown
    setup.server.start()                                    # same port, same data
    again = setup.push(c1)                                  # client unsure: resends chunk 1
    assert len(again["duplicate"]) == 500
    assert len(setup.push(c2)["stored"]) == 500
    ids = setup.stored_ids()
    assert sorted(ids) == sorted(e["id"] for e in c1 + c2)


def test_server_killed_while_chunks_are_in_flight(setup: Setup) -> None:
    """A client keeps an outbox and drops only acknowledged ids; the server dies mid-sync.

    The kill is armed anew for each chunk (a few ms after the request starts) until one
    has hit, so the test does not depend on how fast the server ingests."""
    outbox = {e["id"]: e for e in setup.chunk(3000, 1)}
    all_ids = set(outbox)
    failures = 0
    attempt = 0
    deadline = time.monotonic() + 120
    while outbox and time.monotonic() < deadline:
        chunk = list(outbox.values())[:250]
        killer = None
        if failures == 0:
            killer = threading.Timer(0.002 + 0.003 * attempt, setup.server.kill)
            killer.start()
        attempt += 1
        try:
            answer = setup.push(chunk)
        except httpx.HTTPError:
            failures += 1
            if killer is not None:
                killer.join()
            if setup.server.proc is not None and setup.server.proc.poll() is not None:
                setup.server.start()
            continue
        finally:
            if killer is not None:
                killer.join()
        assert answer["rejected"] == []
        for eid in answer["stored"] + answer["duplicate"]:
            outbox.pop(eid, None)
    assert not outbox
    ids = setup.stored_ids()
    assert len(ids) == len(set(ids)) and set(ids) == all_ids
    assert failures >= 1, "the kill should have hit the sync at least once"


def test_two_server_processes_on_one_database(setup: Setup) -> None:
    """Overlapping chunks pushed concurrently through two processes: each id once, and a
    puller following the cursor during the pushes misses nothing."""
    other = ServerProcess(setup.server.data_dir, setup.server.database_url)
    other.start()
    try:
        urls = [setup.server.base_url, other.base_url]
        events = setup.chunk(2000, 1)
        chunks = [events[i:i + 100] for i in range(0, 2000, 100)]
        statuses: dict[str, list[str]] = {}
        lock = threading.Lock()
        done = threading.Event()
        pulled: list[str] = []

        def pusher(k: int) -> None:
            order = chunks if k % 2 == 0 else chunks[::-1]
            for i, chunk in enumerate(order):
                answer = setup.push(chunk, urls[(i + k) % 2])
                with lock:
                    for st in ("stored", "duplicate"):
                        for eid in answer[st]:
                            statuses.setdefault(eid, []).append(st)

        def puller() -> None:
            cursor = 0
            with httpx.Client(headers=setup.device.headers, timeout=60) as c:
                while True:
                    finished = done.is_set()
                    page = c.post(urls[1] + "/api/v1/sync/pull",
                                  json={"events_after": cursor, "limit": 300}).json()
                    pulled.extend(e["id"] for e in page["events"])
                    cursor = page["events_cursor"]
                    if finished and not page["more"]:
                        return

        pull_thread = threading.Thread(target=puller)
        pull_thread.start()
        threads = [threading.Thread(target=pusher, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        pull_thread.join()
        assert set(statuses) == {e["id"] for e in events}
        assert all(st.count("stored") == 1 and len(st) == 4 for st in statuses.values())
        ids = setup.stored_ids()
        assert len(ids) == len(set(ids)) == 2000
        assert sorted(pulled) == sorted(ids)                # no gap, no repeat in the cursor walk
    finally:
        other.stop()


def test_sqlite_with_two_worker_processes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`serve --workers 2` on SQLite: writers of both workers queue on the file lock;
    concurrent overlapping pushes store each event once; both workers log JSON lines."""
    proc = ServerProcess(tmp_path_factory.mktemp("workers") / "srv", workers=2)
    proc.start()
    try:
        seed(proc.data_dir, facilities={"f1": "One"})
        dev = enrol_device(proc.base_url, admin_token(proc.base_url), "f1")
        p = make_profile()
        events = [make_event(p["id"], dev.device_id, i + 1) for i in range(1000)]
        chunks = [events[i:i + 100] for i in range(0, 1000, 100)]
        httpx.post(proc.base_url + "/api/v1/sync/push", headers=dev.headers,
                   json={"profiles": [p]}).raise_for_status()
        stored: list[str] = []
        lock = threading.Lock()

        def pusher(order: list[list[dict[str, object]]]) -> None:
            with httpx.Client(headers=dev.headers, timeout=60) as c:
                for chunk in order:
                    r = c.post(proc.base_url + "/api/v1/sync/push", json={"events": chunk})
                    r.raise_for_status()
                    with lock:
                        stored.extend(r.json()["stored"])

        threads = [threading.Thread(target=pusher, args=(chunks if k % 2 else chunks[::-1],))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(stored) == sorted(e["id"] for e in events)      # each stored exactly once
        repo = open_repo(proc.data_dir)
        try:
            assert repo.count_events().total == 1000
        finally:
            repo.close()
        loggers = {json.loads(line).get("logger") for line in proc.log_path.read_text().splitlines()
                if line.startswith("{")}
        assert "sync_server.access" in loggers
    finally:
        proc.stop()
