"""Nothing is ever lost: against a randomly misbehaving server on 127.0.0.1 (answers
that store, call duplicate, reject, ignore events; 503s; connections dropped without an
answer), after every sync attempt each local event is in exactly one place — the outbox,
acknowledged (the server named it stored/duplicate), or rejected with the server's
reason — and once the server behaves, one sync drains the outbox."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import SyncError
from app.core.store import Store
from app.sync import RetryPolicy, SyncClient
from tests.unit.test_sync_transport import Answer, FakeServer, Handler, js

PERMANENT = ("bad_schema", "other_facility", "at_too_old", "conflict")


class Chaos:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.good = False
        self.acked: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.faults = 0

    def push(self, h: Handler) -> Answer:
        events = json.loads(h.body)["events"]
        if not self.good:
            roll = self.rng.random()
            if roll < 0.2:
                self.faults += 1
            if roll < 0.1:
                return js({"detail": "busy"}, 503)
            if roll < 0.2:      # drop the connection: the client never sees an answer
                h.connection.shutdown(socket.SHUT_RDWR)
                raise ConnectionAbortedError
        out: dict[str, Any] = {"stored": [], "duplicate": [], "rejected": [], "profiles": []}
        for index, event in enumerate(events):
            r = 0.0 if self.good else self.rng.random()
            if r < 0.5:
                out["stored" if event["id"] not in self.acked else "duplicate"].append(event["id"])
                self.acked.add(event["id"])
            elif r < 0.6:
                out["duplicate"].append(event["id"])
                self.acked.add(event["id"])
            elif r < 0.72:
                reason = self.rng.choice(PERMANENT)
                self.rejected[event["id"]] = reason
                out["rejected"].append({"index": index, "id": event["id"], "reason": reason,
                                        "detail": "chaos"})
            elif r < 0.8:
                out["rejected"].append({"index": index, "id": None, "reason": "at_in_future",
                                        "detail": "clock"})
            # else: not mentioned at all
        return js(out)


class DroppingHandler(Handler):
    def _handle(self) -> None:
        try:
            super()._handle()
        except ConnectionAbortedError:
            self.close_connection = True

    do_GET = do_POST = _handle  # noqa: N815


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_event_is_in_exactly_one_place(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    chaos = Chaos(rng)
    server = FakeServer()
    server.httpd.RequestHandlerClass = type("D", (DroppingHandler,), {
        "routes": server.handler.routes, "log": server.handler.log})
    server.route("POST /api/v1/sync/pull", lambda h: js(
        {"events": [], "events_cursor": 0, "profiles": [], "profiles_cursor": 0, "more": False}))
    server.route("POST /api/v1/sync/push", chaos.push)
    store = Store.open(tmp_path / "dev")
    try:
        store.settings.set("server_url", server.url)
        store.settings.set_secret("device_token", "dev_chaos")
        client = SyncClient(store, chunk_size=rng.choice([7, 25, 60]),
                            retry=RetryPolicy(attempts=2, base=0, cap=0))
        appended: list[str] = []
        failed = 0
        for round_ in range(4):
            for n in range(rng.randint(20, 60)):
                appended.append(store.append({
                    "learner": "learner-chaos", "type": "card.viewed",
                    "ref": {"course": "c", "lesson": "l", "card": str(n % 4)}}))
            try:
                client.sync()
            except SyncError:             # a failed sync must lose nothing either
                failed += 1
            outbox = {e["id"] for e in store.outbox(10_000)}
            rejected = {r["event"]["id"]: r["reason"] for r in store.rejected()}
            acked = set(appended) - outbox - set(rejected)
            assert outbox | set(rejected) | acked == set(appended), round_
            assert not outbox & set(rejected)
            assert acked <= chaos.acked               # only what the server named
            for event_id, reason in rejected.items():
                assert reason.startswith(chaos.rejected[event_id])
            assert len({e["id"] for e in store.events("learner-chaos")}) == len(appended)
        assert chaos.faults and chaos.rejected and failed + report_retries(server) > 0
        chaos.good = True
        report = client.sync()
        assert report.outbox_left == 0 == store.outbox_count()
        assert {r["event"]["id"] for r in store.rejected()} | chaos.acked >= set(appended)
    finally:
        store.close()
        server.close()


def report_retries(server: FakeServer) -> int:
    """Pushes the server saw more than once (a retry after a 503 or a dropped answer)."""
    seen: dict[bytes, int] = {}
    for _method, path, _, body in server.log:
        if path == "/api/v1/sync/push":
            seen[body] = seen.get(body, 0) + 1
    return sum(n - 1 for n in seen.values())
