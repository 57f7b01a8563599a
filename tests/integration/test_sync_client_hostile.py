"""The sync client ↔ a real uvicorn server (SQLite and PostgreSQL) under the attacks of
issue 13: the per-device quota (nothing lost, the tablet backs off and drains the next
day), enrolment that cannot take over another tablet's id, and rows a server stored
before this release (poisoned events) that must not stop a facility."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.core.errors import SyncProtocolError
from app.core.events import content_of, format_at
from app.sync.client import PUSH_AFTER
from sync_server.db.repository import EventRow
from tests.integration.test_sync_client_support import (
    ServerEnv,
    card_event,
    new_learner,
    open_device,
    server_env,
)
from tests.support.postgres import database_url  # noqa: F401 - parametrised fixture
from tests.support.server import open_repo


def _stored_ids(env: ServerEnv, database_url: str | None) -> list[str]:  # noqa: F811
    repo = open_repo(env.server.data_dir, database_url)
    try:
        return list(repo.all_event_ids())
    finally:
        repo.close()


def test_quota_429_keeps_the_outbox_and_the_tablet_drains_it_the_next_day(
        tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    with server_env(tmp_path, database_url, env={"SHIFT_DEVICE_EVENTS_PER_DAY": "15"}) as env:
        dev = open_device(tmp_path / "tab", env, chunk_size=10)
        try:
            learner = new_learner(dev.store, "S-QUOTA-1")
            ids = [dev.store.append(card_event(learner, n)) for n in range(30)]
            report = dev.client.sync(packs=False)
            # 10 + 10 taken (the push that reaches 15 still is), then 429: kept, deferred
            assert report.events_acknowledged == 20 and report.push_deferred_until
            left = [e["id"] for e in dev.store.outbox()]
            assert len(left) == 10 and set(left) < set(ids)
            on_server = _stored_ids(env, database_url)
            assert sorted(on_server) == sorted(set(ids) - set(left))
            assert dev.store.settings.get(PUSH_AFTER) == report.push_deferred_until

            # the tablet backs off: the next sync pulls but sends nothing
            again = dev.client.sync(packs=False)
            assert again.events_pushed == 0 and again.push_deferred_until
            assert _stored_ids(env, database_url) == on_server
            assert dev.store.outbox_count() == 10

            # "the next day": the server's quota starts afresh (here: raised by the admin
            # and the tablet's wait is over) — the rest goes, each event exactly once
            env.server.env["SHIFT_DEVICE_EVENTS_PER_DAY"] = "0"
            env.server.restart()
            dev.store.settings.set(PUSH_AFTER,
                                   format_at(datetime.now(UTC) - timedelta(seconds=1)))
            report = dev.client.sync(packs=False)
            assert report.events_acknowledged == 10 and dev.store.outbox_count() == 0
            final = _stored_ids(env, database_url)
            assert sorted(final) == sorted(ids) and len(final) == len(set(final))
        finally:
            dev.close()


def test_enrolment_cannot_take_over_a_tablets_id_but_the_tablet_can_re_enrol(
        tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    with server_env(tmp_path, database_url) as env:
        tablet = open_device(tmp_path / "tablet", env)
        learner = new_learner(tablet.store, "S-ENROL-1")
        tablet.store.append(card_event(learner, 1))
        assert tablet.client.sync(packs=False).events_acknowledged == 1
        # an attacker's folder claiming the same device id, with a valid code of f2
        (tmp_path / "evil" / "store").mkdir(parents=True)
        shutil.copy(tmp_path / "tablet" / "store" / "device.json",
                    tmp_path / "evil" / "store" / "device.json")
        evil = open_device(tmp_path / "evil", env, enrol=False)
        try:
            assert evil.store.device_id == tablet.store.device_id
            with pytest.raises(SyncProtocolError, match="409.*enrolled already"):
                evil.client.enrol(env.code("f2"), env.url)
            assert not evil.client.enrolled()
            # nothing changed for the tablet: same token, same facility, it syncs
            token = tablet.store.settings.get_secret("device_token")
            assert token is not None
            me = httpx.get(f"{env.url}/api/v1/devices/me",
                           headers={"Authorization": f"Bearer {token.reveal()}"}).json()
            assert me["facility_id"] == "f1" and me["device_id"] == tablet.store.device_id
            tablet.store.append(card_event(learner, 2))
            assert tablet.client.sync(packs=False).events_acknowledged == 1
            # the tablet itself (it holds the token) may move to another facility
            info = tablet.client.enrol(env.code("f2"))
            assert info["facility_id"] == "f2" and info["device_id"] == tablet.store.device_id
            assert tablet.store.settings.get_secret("device_token") != token
            r = httpx.get(f"{env.url}/api/v1/devices/me",
                          headers={"Authorization": f"Bearer {token.reveal()}"})
            assert r.status_code == 401                      # the old token is gone
        finally:
            evil.close()
            tablet.close()


def test_rows_stored_before_the_fix_do_not_stop_a_facility(
        tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    with server_env(tmp_path, database_url) as env:
        a = open_device(tmp_path / "a", env)
        b = open_device(tmp_path / "b", env)
        try:
            learner = new_learner(a.store, "S-POISON-1")
            mine = [a.store.append(card_event(learner, n)) for n in range(3)]
            assert a.client.sync(packs=False).events_acknowledged == 3
            # what an older server let in: row 10 (an upper-case id) and row 2 (900 levels)
            base = dict(a.store.events(learner)[0])
            base.pop("received_at", None)
            spelled = {**base, "id": str(uuid.uuid4()).upper(), "seq": 90}
            deep_data: dict[str, object] = {"leaf": 1}
            for _ in range(900):
                deep_data = {"a": deep_data}
            deep = {**base, "id": str(uuid.uuid4()), "seq": 91, "data": deep_data}
            repo = open_repo(env.server.data_dir, database_url)
            try:
                repo.insert_events([
                    EventRow(e["id"], learner, e["device"], "f1", e["type"], e["at"],
                             content_of(e).decode(), "2026-01-01T00:00:00.000Z", e["device"])
                    for e in (spelled, deep)])
            finally:
                repo.close()
            theirs = b.store.append(card_event(learner, 7))
            report = b.client.sync(packs=False)
            assert report.events_merged == 3                       # a's events arrived
            assert set(report.events_quarantined) == {spelled["id"]}
            assert report.events_quarantined[spelled["id"]].startswith("bad_schema: id")
            assert [r["id"] for r in b.store.quarantined()] == [spelled["id"]]
            assert report.events_acknowledged == 1 and b.store.outbox_count() == 0
            assert {e["id"] for e in b.store.events(learner)} == {*mine, theirs}
            # and the next sync goes on as usual
            assert b.client.sync(packs=False).events_quarantined == {}
        finally:
            a.close()
            b.close()
