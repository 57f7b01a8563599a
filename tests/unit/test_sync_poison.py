"""The tablet against a hostile or broken server (issue 13, "input that cannot poison"):
one poisoned event in a pull page never stops a facility, a malformed pull is a protocol
error, a quota 429 loses nothing. Against the scripted HTTP server of
test_sync_transport (a real socket on 127.0.0.1)."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import SyncNetworkError, SyncProtocolError, SyncQuotaError
from app.core.events import format_at
from app.sync import SyncManager, Transport
from app.sync.client import PUSH_AFTER
from tests.unit.test_sync_transport import (
    GOOD_EVENT,
    Answer,
    FakeServer,
    Handler,
    _client,
    js,
    policy,
)

LEARNER = "6f1c1b52-1111-4aaa-8bbb-123456789abc"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def good(n: int) -> dict[str, Any]:
    return {**GOOD_EVENT, "id": str(uuid.uuid4()), "seq": n, "learner": LEARNER}


def nested(levels: int) -> str:
    return '{"a":' * (levels - 1) + '{"leaf":1}' + "}" * (levels - 1)


def page_text(events: list[str], cursor: int, more: bool = False) -> bytes:
    """A pull answer written as text, so events too deep for json.dumps can be in it."""
    return ('{"events":[' + ",".join(events) + f'],"events_cursor":{cursor},'
            f'"profiles":[],"profiles_cursor":0,"more":{json.dumps(more)}}}').encode()


def pushes(server: FakeServer) -> list[dict[str, Any]]:
    return [json.loads(x[3]) for x in server.log if x[1] == "/api/v1/sync/push"]


def stored_all(h: Handler) -> Answer:
    events = json.loads(h.body)["events"]
    return js({"stored": [e["id"] for e in events], "duplicate": [], "rejected": [],
               "profiles": []})


# ------------------------------------------------------------------------ poisoned pull page
def test_one_poisoned_event_never_stops_a_facility(server: FakeServer, tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    try:
        mine = [store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                              "ref": {"course": "c", "lesson": "l", "card": str(n)}})
                for n in range(3)]
        a, b, c, d = good(1), good(2), good(3), good(4)
        bomb_id, deep_id, spelled = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        # the attack of row 2 (~900 levels), one far beyond any parser, one just over the
        # limit, and the same UUID in upper case (row 10) — among good events
        bomb = json.dumps({**good(5), "id": bomb_id})[:-1] + ',"data":' + nested(50_000) + "}"
        deep = json.dumps({**good(6), "id": deep_id})[:-1] + ',"data":' + nested(900) + "}"
        over = json.dumps({**good(7), "data": json.loads(nested(32))})
        upper = json.dumps({**good(8), "id": spelled.upper()})
        first = page_text([json.dumps(a), bomb, json.dumps(b), deep, over, upper,
                           json.dumps(c)], 10)
        later = page_text([json.dumps(d)], 11)
        server.route("POST /api/v1/sync/pull",
                     lambda h: (200, {}, later if json.loads(h.body)["events_after"] == 10
                                else first))
        server.route("POST /api/v1/sync/push", stored_all)

        report = client.sync()
        # the good ones merged, the cursor moved past the page, the pushes happened
        assert report.events_merged == 3 and store.settings.get("sync_cursor") == 10
        assert {e["id"] for e in store.events(LEARNER)} >= {a["id"], b["id"], c["id"]}
        assert report.events_acknowledged == 3 and store.outbox_count() == 0
        assert {e["id"] for e in pushes(server)[0]["events"]} == set(mine)
        # the bad ones are quarantined and reported, each with its reason
        assert report.events_skipped == 4 and len(report.events_quarantined) == 4
        assert report.events_quarantined[bomb_id].startswith("too_deep")
        assert report.events_quarantined[deep_id].startswith(("too_deep", "bad_schema"))
        assert "deeper than 32" in report.events_quarantined[deep_id]
        assert report.events_quarantined[spelled.upper()].startswith("bad_schema: id")
        rows = store.quarantined()
        assert len(rows) == 4 and {r["id"] for r in rows} >= {bomb_id, deep_id, spelled.upper()}
        assert all(len(r["text"]) <= 2000 for r in rows)
        assert any("quarantined: 4" in line for line in report.lines())
        for event_id in (bomb_id, deep_id):
            assert all(e["id"] != event_id for e in store.events(LEARNER))

        # later syncs go on from the new cursor; nothing is quarantined twice
        report = client.sync()
        assert report.events_merged == 1 and store.settings.get("sync_cursor") == 11
        assert not report.events_quarantined and store.quarantine_count() == 4
        # a crash before the cursor was saved re-pulls the page: no new rows anywhere
        store.settings.set("sync_cursor", 0)
        report = client.sync()
        assert report.events_merged == 0 and store.quarantine_count() == 4
        assert store.settings.get("sync_cursor") == 10
    finally:
        store.close()


def test_the_poisoned_page_is_survived_in_the_apps_sync_thread(server: FakeServer,
                                                                tmp_path: Path) -> None:
    """The app syncs in a worker thread (SyncManager), where the stack is already deep."""
    deep = json.dumps(good(2))[:-1] + ',"data":' + nested(900) + "}"
    server.route("POST /api/v1/sync/pull",
                 lambda h: (200, {}, page_text([json.dumps(good(1)), deep], 3)))
    server.route("POST /api/v1/sync/push", stored_all)
    store, client = _client(tmp_path, server.url)
    try:
        store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                      "ref": {"course": "c", "lesson": "l", "card": "0"}})
        manager = SyncManager(store, client=client)
        manager.sync_now()
        status = manager.wait(30)
        assert status.state == "ok", status.last_error
        assert status.last_report is not None and status.last_report.events_merged == 1
        assert len(status.last_report.events_quarantined) == 1 and status.outbox == 0
    finally:
        store.close()


def test_a_malformed_pull_is_a_protocol_error_and_changes_nothing(server: FakeServer,
                                                                  tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    try:
        store.settings.set("sync_cursor", 7)
        mine = store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                             "ref": {"course": "c", "lesson": "l", "card": "0"}})
        server.route("POST /api/v1/sync/push", stored_all)
        for answer in (b"[" * 100_000 + b"]" * 100_000,                  # no object at all
                       b'{"events":[],"profiles":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                       b'{"events":[NaN],"events_cursor":8}',
                       b'{"events":[1,2',
                       "{\"events\":[],\"x\":\"\xe9\"}".encode("latin-1")):
            server.route("POST /api/v1/sync/pull", lambda h, a=answer: (200, {}, a))
            with pytest.raises(SyncProtocolError, match="pull"):
                client.sync()
        assert store.settings.get("sync_cursor") == 7 and store.quarantine_count() == 0
        assert [e["id"] for e in store.outbox()] == [mine] and not pushes(server)
    finally:
        store.close()


def test_deep_answers_elsewhere_never_raise_recursion_errors(server: FakeServer) -> None:
    deep = b'{"detail":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    server.route("GET /deep", lambda h: (200, {}, deep))
    server.route("GET /deep-error", lambda h: (400, {}, deep))
    with Transport(server.url, retry=policy()[0]) as t:
        with pytest.raises(SyncProtocolError, match="deeper than 32"):
            t.call("GET", "/deep")
        with pytest.raises(SyncProtocolError, match="HTTP 400"):
            t.call("GET", "/deep-error")


# ------------------------------------------------------------------------ quota (429)
def _quota_429(used: int = 200_000, wait: int = 3600) -> Answer:
    return js({"detail": "quota exceeded", "code": "quota_exceeded", "quota": "events_per_day",
               "limit": 200_000, "used": used, "resets_at": "2026-01-02T00:00:00.000Z",
               "retry_after": wait}, 429, **{"Retry-After": str(wait)})


def test_transport_maps_a_quota_429_at_once_and_retries_other_429s(server: FakeServer) -> None:
    server.route("POST /q", lambda h: _quota_429())
    answers = iter([js({}, 429, **{"Retry-After": "1"}), js({"ok": True})])
    server.route("POST /busy", lambda h: next(answers))
    retry, sleeps = policy()
    with Transport(server.url, retry=retry) as t:
        with pytest.raises(SyncQuotaError) as caught:
            t.call("POST", "/q", body={})
        assert caught.value.retry_after == 3600 and caught.value.quota == "events_per_day"
        assert isinstance(caught.value, Exception) and not isinstance(caught.value,
                                                                      SyncNetworkError)
        assert sleeps == [] and len(server.log) == 1          # not hammered with retries
        assert t.call("POST", "/busy", body={}) == {"ok": True}
        assert sleeps == [1.0]                                # a proxy's 429: retried


def test_a_quota_429_keeps_the_outbox_and_the_tablet_backs_off(server: FakeServer,
                                                                 tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    client.chunk_size = 2
    lock = threading.Lock()
    count = itertools.count()
    limit = {"chunks": 1}

    def push(h: Handler) -> Answer:
        with lock:
            n = next(count)
        return stored_all(h) if n < limit["chunks"] else _quota_429(wait=7200)

    try:
        ids = [store.append({"learner": LEARNER, "type": "card.viewed", "pack": "p",
                             "ref": {"course": "c", "lesson": "l", "card": str(n)}})
               for n in range(7)]
        server.route("POST /api/v1/sync/pull",
                     lambda h: (200, {}, page_text([], 0)))
        server.route("POST /api/v1/sync/push", push)
        t0 = datetime.now(UTC)
        report = client.sync()
        assert report.events_acknowledged == 2 and store.outbox_count() == 5
        assert [e["id"] for e in store.outbox()] == ids[2:]      # nothing lost
        assert report.push_deferred_until is not None
        until = datetime.fromisoformat(report.push_deferred_until.replace("Z", "+00:00"))
        assert t0 + timedelta(seconds=7100) < until < t0 + timedelta(seconds=7300)
        assert store.settings.get(PUSH_AFTER) == report.push_deferred_until
        assert any("quota" in line for line in report.lines())
        assert store.settings.get("last_sync_at") is None        # not a complete sync

        # backs off: the next syncs pull but do not push until the server's reset
        sent = len(pushes(server))
        again = client.sync()
        assert len(pushes(server)) == sent and again.push_deferred_until == until_text(until)
        assert store.outbox_count() == 5

        # the reset has passed (and the server accepts again): the rest goes, once each
        limit["chunks"] = 1_000
        store.settings.set(PUSH_AFTER, format_at(datetime.now(UTC) - timedelta(seconds=1)))
        report = client.sync()
        assert report.events_acknowledged == 5 and store.outbox_count() == 0
        assert report.push_deferred_until is None and store.settings.get(PUSH_AFTER) is None
        acked = [e["id"] for p in pushes(server) for e in p["events"]]
        assert set(acked) == set(ids) and store.settings.get("last_sync_at")
        # a wrong clock cannot stop a tablet for more than a day
        store.settings.set(PUSH_AFTER, format_at(datetime.now(UTC) + timedelta(days=400)))
        assert client.sync().push_deferred_until is None
    finally:
        store.close()


def until_text(moment: datetime) -> str:
    return format_at(moment)


# ------------------------------------------------------------------------ enrolment proof
def test_re_enrolment_proves_the_id_with_the_token_only_to_the_server_that_issued_it(
        server: FakeServer, tmp_path: Path) -> None:
    other = FakeServer()
    try:
        store, client = _client(tmp_path, server.url)
        with store:
            def enrolled(h: Handler) -> Answer:
                return js({"device_id": json.loads(h.body)["device_id"], "facility_id": "f2",
                           "facility_name": "Two", "token": "dev_new"}, 201)

            server.route("POST /api/v1/devices/enrol", enrolled)
            other.route("POST /api/v1/devices/enrol", enrolled)
            store.settings.set("token_server_url", server.url)
            client.enrol("CODE-ONE")                       # same server: proves itself
            assert server.log[-1][2].get("Authorization") == "Bearer dev_tok"
            assert store.settings.get_secret("device_token").reveal() == "dev_new"
            client.enrol("CODE-TWO", other.url)            # another server: no token sent
            assert "Authorization" not in other.log[-1][2]
            assert store.settings.get("token_server_url") == other.url
            assert all("dev_tok" not in json.dumps(x[2]) for x in other.log)
    finally:
        other.close()
