"""The sync around faults and forgeries (a reviewer's finds, each failing on the code
before): a profiles write that fails during a pull, an event forged with this tablet's
device id and the largest seq, and a blob server that ignores Range with a short body.
Real servers on 127.0.0.1."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.errors import StoreError, SyncError, SyncProtocolError
from app.core.events import MAX_SEQ
from app.core.store.outbox import SEQ_HEADROOM
from app.sync import RetryPolicy
from app.sync.transport import Transport
from tests.integration.test_sync_client_support import (
    card_event,
    new_learner,
    open_device,
    server_env,
)


def test_a_profiles_write_that_fails_during_a_pull_keeps_the_cursor(tmp_path: Path) -> None:
    """An admin resets a learner's PIN; the tablet's pull cannot write profiles.json
    (a full disk). That used to count as "a bad profile": skipped, the cursor moved on,
    and the old PIN went on signing in there for good. The sync now fails, and the next
    one brings the reset."""
    with server_env(tmp_path / "env") as env:
        tablet = open_device(tmp_path / "t", env)
        try:
            learner = new_learner(tablet.store, "RESET-1", "Rita Reset")
            tablet.client.sync(packs=False)
            answer = httpx.post(f"{env.url}/api/v1/admin/learners/{learner}/pin-setup",
                                headers=env.admin)
            assert answer.status_code in (200, 201), answer.text
            storage = tablet.store.profiles._storage
            real = storage.write

            def disk_full(data: Any) -> None:
                raise StoreError("profiles.json: disk full while writing; the previous "
                                 "data is kept")
            storage.write = disk_full                       # type: ignore[method-assign]
            try:
                with pytest.raises(StoreError, match="disk full"):
                    tablet.client.sync(packs=False)
            finally:
                storage.write = real                        # type: ignore[method-assign]
            assert tablet.store.profiles.verify_pin(learner, "2468")     # not yet
            tablet.client.sync(packs=False)
            assert tablet.store.profiles.get(learner)["needs_pin"]      # the old PIN is gone
        finally:
            tablet.close()


def test_an_event_forged_with_this_tablets_id_and_the_largest_seq_does_not_stop_it(
        tmp_path: Path) -> None:
    """Another tablet of the facility (a stolen token) pushes an event naming tablet A's
    device id — it is in every event A pushed — with seq 2^53. A merges it: its counter
    used to jump past it, and every tap after failed ("seq: expected 1..2^53")."""
    with server_env(tmp_path / "env") as env:
        a = open_device(tmp_path / "a", env)
        b = open_device(tmp_path / "b", env)
        try:
            learner = new_learner(a.store, "SEQ-1", "Sam Seq")
            a.store.append(card_event(learner, 1))
            a.client.sync()
            token = b.store.settings.get_secret("device_token").reveal()
            forged = {**card_event(learner, 2), "id": str(uuid.uuid4()),
                      "device": a.store.device_id, "seq": MAX_SEQ,
                      "at": "2026-01-01T09:00:00.000Z"}
            answer = httpx.post(f"{env.url}/api/v1/sync/push", json={"events": [forged]},
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.json()["stored"] == [forged["id"]], answer.text
            a.client.sync()
            assert forged["id"] in {e["id"] for e in a.store.events(learner)}
            tapped = a.store.append(card_event(learner, 3))
            seq = next(e["seq"] for e in a.store.events(learner) if e["id"] == tapped)
            assert seq < MAX_SEQ - SEQ_HEADROOM
            a.client.sync()                                  # and it is pushed
            assert a.store.outbox_count() == 0
        finally:
            a.close()
            b.close()


class _ShortWhole(BaseHTTPRequestHandler):
    """Ignores Range: answers every request 200 with the same 10 bytes."""

    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        type(self).hits += 1
        body = b"0123456789"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_ignoring_range_with_a_short_body_ends_the_download(tmp_path: Path) -> None:
    """Each 200 answer rewrote the file from byte 0 and counted as progress, so the
    download asked again for ever (3,413 requests in 5 s)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ShortWhole)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    transport = Transport(f"http://127.0.0.1:{server.server_address[1]}",
                          retry=RetryPolicy(attempts=3, base=0.001, cap=0.002))
    try:
        with pytest.raises(SyncError) as failed:
            transport.download("/api/v1/blobs/" + "a" * 64, tmp_path / "part", 1_000_000)
        assert isinstance(failed.value, SyncProtocolError)
        assert _ShortWhole.hits <= 3
    finally:
        transport.close()
        server.shutdown()


def test_a_tablet_moved_to_another_facility_leaves_the_old_one_and_gets_the_new(
        tmp_path: Path) -> None:
    """Re-enrolled into f2, the tablet kept f1's pull cursors — numbers of the whole
    log — so f2's older learners and events never came. Now f1's records go (its staff's
    records must not travel; their pushes would be refused anyway) and the pull starts
    at 0 in f2."""
    with server_env(tmp_path / "env") as env:
        f2 = open_device(tmp_path / "f2tab", env, enrol=False)
        f2.client.enrol(env.code("f2"), env.url)
        tablet = open_device(tmp_path / "t", env)                  # enrolled in f1
        try:
            zoe = new_learner(f2.store, "F2-0001", "Zoe Twofacility")
            for n in range(3):
                f2.store.append(card_event(zoe, n))
            f2.client.sync(packs=False)
            yan = new_learner(tablet.store, "F1-0001", "Yan Onefacility")
            for n in range(3):
                tablet.store.append(card_event(yan, n))
            tablet.client.sync(packs=False)
            tablet.store.append(card_event(yan, 9))                 # one left unsent
            moved = tablet.client.enrol(env.code("f2"))
            assert (moved["facility_id"], moved["left_learners"], moved["left_unsent"]) == \
                ("f2", "1", "1")
            assert tablet.store.profiles.get(yan) is None and tablet.store.events(yan) == []
            tablet.client.sync(packs=False)
            assert tablet.store.profiles.get(zoe) is not None
            assert len(tablet.store.events(zoe)) == 3
        finally:
            tablet.close()
            f2.close()


def test_a_tablet_enrolled_by_another_server_uploads_nothing_of_the_old_one(
        tmp_path: Path) -> None:
    """Enrolled by server Y after X, the tablet took Y's epoch for "X was restored from
    a backup" and offered Y every learner of X — name, staff number, PIN verifier and
    history — which Y registered in its facility."""
    with server_env(tmp_path / "x") as x, server_env(tmp_path / "y") as y:
        tablet = open_device(tmp_path / "t", x)
        try:
            learner = new_learner(tablet.store, "X-0001", "Xena Fromx")
            for n in range(3):
                tablet.store.append(card_event(learner, n))
            tablet.client.sync(packs=False)
            tablet.client.enrol(y.code("f1"), y.url)
            report = tablet.client.sync(packs=False)
            assert not report.server_restored and report.events_reoffered == 0
            names = [r["display_name"] for r in httpx.get(
                f"{y.url}/api/v1/admin/learners", headers=y.admin).json()]
            assert "Xena Fromx" not in names
        finally:
            tablet.close()


def test_re_enrolling_in_the_same_facility_keeps_everything(tmp_path: Path) -> None:
    with server_env(tmp_path / "env") as env:
        tablet = open_device(tmp_path / "t", env)
        try:
            learner = new_learner(tablet.store, "F1-0002", "Uma Stays")
            tablet.store.append(card_event(learner, 1))
            tablet.client.sync(packs=False)
            again = tablet.client.enrol(env.code("f1"))
            assert "left_learners" not in again
            assert tablet.store.profiles.get(learner) is not None
            assert len(tablet.store.events(learner)) == 1
        finally:
            tablet.close()
