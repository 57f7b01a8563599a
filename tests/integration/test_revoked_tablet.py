"""A revoked tablet wipes its learners' data at its next contact (issue 15 item 5): two
real device stores and a real uvicorn on 127.0.0.1. After the admin revokes tablet A,
A's next sync removes every learner's data (profiles, PIN verifiers, events, unsent
work) and its token; tablet B and the server keep everything; an admin can re-admit A
with a new enrolment code and it pulls its learners back. Only the holder of the real
token can make a tablet wipe itself: an unknown token is a plain refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.errors import DeviceRevokedError, SyncAuthError, SyncError
from tests.integration.test_erasure_tablets import events_on_server, folder_text
from tests.integration.test_sync_client_support import (
    ServerEnv,
    card_event,
    new_learner,
    open_device,
    server_env,
)

NAMES = {"Rita Revoked-Test": "REV-0001", "Otto Other": "REV-0002"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    with server_env(tmp_path_factory.mktemp("revoked")) as e:
        yield e


def test_a_revoked_tablet_wipes_its_learners_and_can_be_readmitted(env: ServerEnv,
                                                                    tmp_path: Path) -> None:
    a = open_device(tmp_path / "a", env)
    b = open_device(tmp_path / "b", env)
    try:
        ids = {name: new_learner(a.store, staff, name) for name, staff in NAMES.items()}
        for learner in ids.values():
            for n in range(4):
                a.store.append(card_event(learner, n))
        a.client.sync()
        b.client.sync()
        rita = ids["Rita Revoked-Test"]
        assert len(b.store.events(rita)) == 4
        synced = events_on_server(env)
        unsent = a.store.append(card_event(rita, 9))          # never reaches the server
        token = a.store.settings.get_secret("device_token")
        assert token is not None

        r = httpx.post(f"{env.url}/api/v1/admin/devices/{a.store.device_id}/revoke",
                       headers=env.admin)
        assert r.status_code == 200, r.text
        # the server's answer to the real token: 401 with the code the tablet acts on
        answer = httpx.get(f"{env.url}/api/v1/devices/me",
                           headers={"Authorization": f"Bearer {token.reveal()}"})
        assert answer.status_code == 401 and answer.json()["code"] == "device_revoked"

        with pytest.raises(DeviceRevokedError, match="revoked"):
            a.client.sync()
        assert not a.client.enrolled()
        assert a.store.profiles.list() == [] and a.store.learner_ids() == []
        assert a.store.outbox_count() == 0
        text = folder_text(a)
        for name, staff in NAMES.items():
            assert name not in text and staff not in text
        for needle in (*ids.values(), unsent, "pin_verifier", "2468"):
            assert needle not in text, needle
        assert events_on_server(env) == synced                # the server keeps its copy
        b.client.sync()                                       # B is not affected
        assert len(b.store.events(rita)) == 4 and b.store.profiles.get(rita)

        # the wiped tablet asks to be enrolled again; it sends nothing meanwhile
        with pytest.raises(SyncError, match="not enrolled"):
            a.client.sync()

        # re-admitted with a new code: same device id, its learners come back
        device_id = a.store.device_id
        info = a.client.enrol(env.code(), env.url)
        assert info["device_id"] == device_id and a.client.enrolled()
        a.client.sync()
        assert {p["id"] for p in a.store.profiles.list()} == set(ids.values())
        assert len(a.store.events(rita)) == 4
    finally:
        a.close()
        b.close()


def test_only_the_real_token_can_make_a_tablet_wipe_itself(env: ServerEnv,
                                                           tmp_path: Path) -> None:
    dev = open_device(tmp_path / "c", env)
    try:
        learner = new_learner(dev.store, "REV-0003", "Kept Person")
        dev.store.append(card_event(learner, 1))
        dev.store.settings.set_secret("device_token", "dev_" + "x" * 40)  # forged/unknown
        with pytest.raises(SyncAuthError) as refused:
            dev.client.sync()
        assert not isinstance(refused.value, DeviceRevokedError)
        assert refused.value.server_code is None
        assert dev.store.profiles.get(learner) is not None     # nothing wiped
        assert dev.store.outbox_count() == 1
    finally:
        dev.close()
