"""Erasure across two tablets (issue 15): two real device stores, a real uvicorn on
127.0.0.1, one tablet offline during the erasure. After the next sync of each, nothing
of the learner is left on either tablet (journal, segments, outbox, profile, logs), the
offline tablet's unsent events for them are dropped rather than uploaded, and the server
refuses anything of theirs from then on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.errors import EventError
from tests.integration.test_sync_client_support import (
    Device,
    ServerEnv,
    card_event,
    new_learner,
    open_device,
    server_env,
)
from tests.support.server import make_profile

NAME, STAFF = "Erika Erasure-Test", "ERASE-0042"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    with server_env(tmp_path_factory.mktemp("erasure")) as e:
        yield e


def folder_text(dev: Device) -> str:
    """Every byte of the tablet's data folder, as text (a copied folder, grepped)."""
    parts = []
    for path in sorted((dev.dir / "store").rglob("*")):
        if path.is_file() and path.name != "store.lock":
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def events_on_server(env: ServerEnv) -> int:
    r = httpx.get(f"{env.url}/api/v1/admin/stats", headers=env.admin)
    r.raise_for_status()
    return int(r.json()["events_total"])


def test_erasure_reaches_an_online_and_an_offline_tablet(env: ServerEnv, tmp_path: Path) -> None:
    a = open_device(tmp_path / "a", env)
    b = open_device(tmp_path / "b", env)
    try:
        erika = new_learner(a.store, STAFF, NAME)
        otto = new_learner(a.store, "KEEP-0001", "Otto Keeps")
        for n in range(5):
            a.store.append(card_event(erika, n))
            a.store.append(card_event(otto, n))
        a.client.sync()
        b.client.sync()
        assert len(b.store.events(erika)) == 5 and b.store.profiles.get(erika)
        base = events_on_server(env)
        assert base >= 10

        # B goes offline: Erika keeps working there; A has unsent work of hers too
        b_unsent = [b.store.append(card_event(erika, 10 + n)) for n in range(3)]
        a_unsent = [a.store.append(card_event(erika, 20 + n)) for n in range(2)]
        a.store.append(card_event(otto, 30))

        r = httpx.post(f"{env.url}/api/v1/admin/learners/{erika}/erase", headers=env.admin)
        assert r.status_code == 200, r.text
        assert r.json()["events_deleted"] == 5
        after_erase = events_on_server(env)
        assert after_erase == base - 5

        # A is online: its next sync purges her and uploads nothing of hers
        report = a.client.sync()
        assert any("erased" in note for note in report.notes)
        assert events_on_server(env) == after_erase + 1            # Otto's one event only
        for dev in (a,):
            assert dev.store.events(erika) == [] and dev.store.profiles.get(erika) is None
            assert erika not in [p["id"] for p in dev.store.profiles.list()]
            assert all(e["learner"] != erika for e in dev.store.outbox(1000))
        text = folder_text(a)
        for needle in (NAME, STAFF, *a_unsent):
            assert needle not in text, needle
        assert len(a.store.events(otto)) == 6                      # nobody else touched
        with pytest.raises(EventError, match="erased"):
            a.store.append(card_event(erika, 99))

        # B reconnects later: pull first (tombstone), so her offline work is never sent
        assert b.store.outbox_count() == 3
        b.client.sync()
        assert events_on_server(env) == after_erase + 1
        assert b.store.events(erika) == [] and b.store.profiles.get(erika) is None
        assert b.store.outbox_count() == 0 and b.store.rejected() == []
        text = folder_text(b)
        for needle in (NAME, STAFF, *b_unsent):
            assert needle not in text, needle
        assert len(b.store.events(otto)) == 6
        # both stores reopen clean (journal and segments rewritten, not just hidden)
        for dev in (a, b):
            dev.store.close()
        for folder in (a.dir, b.dir):
            from app.core.store import Store
            with Store.open(folder) as s:
                assert s.events(erika) == [] and s.outbox_count() == 0
                assert s.learner_ids() == [otto]
    finally:
        for dev in (a, b):
            if not dev.store._closed:
                dev.close()


def test_a_device_cannot_bring_an_erased_learner_back(env: ServerEnv, tmp_path: Path) -> None:
    dev = open_device(tmp_path / "c", env)
    try:
        lid = new_learner(dev.store, "ERASE-0099", "Back Again")
        dev.store.append(card_event(lid, 1))
        dev.client.sync()
        assert httpx.post(f"{env.url}/api/v1/admin/learners/{lid}/erase",
                          headers=env.admin).status_code == 200
        token = dev.store.settings.get_secret("device_token").reveal()
        auth = {"Authorization": f"Bearer {token}"}
        event = {**card_event(lid, 2), "id": "0b8f2c1e-4a6d-4b7e-9c3a-2f1e0d9c8b7a",
                 "device": dev.store.device_id, "seq": 999, "at": "2026-03-01T09:00:00.000Z"}
        profile = make_profile("ERASE-0099", name="Back Again", learner_id=lid)
        r = httpx.post(f"{env.url}/api/v1/sync/push", headers=auth,
                       json={"profiles": [profile], "events": [event]})
        assert r.status_code == 200
        body = r.json()
        assert body["stored"] == [] and body["rejected"][0]["reason"] == "erased"
        assert body["profiles"][0]["reason"] == "erased"
        # a device cannot push a tombstone (or anything else) the protocol does not have
        r = httpx.post(f"{env.url}/api/v1/sync/push", headers=auth,
                       json={"events": [], "tombstones": [{"learner": lid}]})
        assert r.status_code == 422
        # erasing twice, unknown and malformed ids: refused, nothing changes
        assert httpx.post(f"{env.url}/api/v1/admin/learners/{lid}/erase",
                          headers=env.admin).status_code == 404
        assert httpx.post(f"{env.url}/api/v1/admin/learners/"
                          "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/erase",
                          headers=env.admin).status_code == 404
        assert httpx.post(f"{env.url}/api/v1/admin/learners/..%2F..%2Fetc/erase",
                          headers=env.admin).status_code in (400, 404)
        assert httpx.post(f"{env.url}/api/v1/admin/learners/{lid}/erase").status_code == 401
        # the device token cannot erase anybody
        assert httpx.post(f"{env.url}/api/v1/admin/learners/{lid}/erase",
                          headers=auth).status_code == 401
        # a hostile pull answer's junk tombstones touch nothing
        from app.core.store import erasure
        other = new_learner(dev.store, "KEEP-0099", "Stays Here")
        dev.store.append(card_event(other, 1))
        done = erasure.purge(dev.store, ["../../etc", None, 7, other.upper(), {"x": 1}])
        assert done.learners == [] and len(dev.store.events(other)) == 1
    finally:
        dev.close()
