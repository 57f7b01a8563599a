"""Encrypted tablets against a real sync server (127.0.0.1): two tablets enrol, one learner
works on one and signs in on the other; their data folders, copied, reveal no name, staff
number, PIN verifier, device token or event (issue 15 "Show"); a tablet of an older app
(plaintext folder) is encrypted on its first open and keeps syncing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.packs import PackLibrary
from app.core.store import Store
from app.core.store.keys import KeyFile, default_key_file
from app.sync import SyncClient
from tests.integration.test_sync_client_support import (
    FAST_RETRY,
    Device,
    ServerEnv,
    card_event,
    open_device,
    server_env,
)

NAME, STAFF = "Ingrid Vasquez-Oduya", "EN-556677"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    with server_env(tmp_path_factory.mktemp("sealed-sync")) as e:
        yield e


def open_sealed_device(folder: Path, env: ServerEnv, *, enrol: bool = True) -> Device:
    """As the app opens a tablet (app/ui/main.py key_provider): key file beside the folder."""
    store = Store.open(folder, keys=KeyFile(default_key_file(folder)))
    library = PackLibrary(folder)
    client = SyncClient(store, library, retry=FAST_RETRY)
    store.settings.set("trusted_keys", [env.pub.read_text()])
    if enrol:
        client.enrol(env.code(), env.url)
    return Device(folder, store, library, client)


def grep(folder: Path, needles: list[str]) -> str:
    found = subprocess.run(["grep", "-r", "-l", "-a", "-F",
                            *(x for n in needles for x in ("-e", n)), str(folder)],
                           capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr
    return found.stdout


def test_two_encrypted_tablets_sync_and_a_copied_folder_reveals_nothing(
        env: ServerEnv, tmp_path: Path) -> None:
    a = open_sealed_device(tmp_path / "a", env)
    b = open_sealed_device(tmp_path / "b", env)
    try:
        learner = a.store.profiles.create(NAME, STAFF, "prison_officer", "en", "482913")["id"]
        for n in range(30):
            a.store.append(card_event(learner, n))
        a.client.sync()
        assert a.store.outbox_count() == 0
        b.client.sync()
        assert b.store.profiles.verify_pin(learner, "482913")      # signs in on tablet B
        assert b.store.event_count(learner) == 30
        verifier = b.store.profiles._table()
        verifier_text = next(d["pin_verifier"] for d in verifier.values()
                             if d["id"] == learner)
        tokens = [d.store.settings.get_secret("device_token").reveal()  # type: ignore[union-attr]
                  for d in (a, b)]
        ids = [e["id"] for e in b.store.events(learner)][:5]
    finally:
        a.close()
        b.close()
    copy = tmp_path / "copied"
    shutil.copytree(tmp_path / "a", copy / "a")
    shutil.copytree(tmp_path / "b", copy / "b")
    needles = [NAME, STAFF, verifier_text, verifier_text.split("$")[-1], learner, *tokens,
               *ids]
    assert grep(copy, needles) == ""
    assert grep(tmp_path / "a.key", tokens) == ""                   # the key file: a key only
    # the copy, moved elsewhere, opens with its key (paths in the AAD are relative)
    with Store.open(copy / "b", keys=KeyFile(tmp_path / "b.key")) as moved:
        assert moved.event_count(learner) == 30 and moved.damaged_files() == []


def test_a_plaintext_tablet_is_encrypted_on_first_open_and_keeps_syncing(
        env: ServerEnv, tmp_path: Path) -> None:
    old = open_device(tmp_path / "old", env)                     # an older app: plaintext
    try:
        learner = old.store.profiles.create(NAME, "EN-1", "prison_officer", "en",
                                            "482913")["id"]
        for n in range(10):
            old.store.append(card_event(learner, n))
        old.client.sync()
        old.store.append(card_event(learner, 10))                 # one still in the outbox
        token = old.store.settings.get_secret("device_token").reveal()  # type: ignore[union-attr]
    finally:
        old.close()
    assert grep(tmp_path / "old", [NAME, token]) != ""
    new = open_sealed_device(tmp_path / "old", env, enrol=False)
    try:
        assert new.store.encrypted and new.store.outbox_count() == 1
        assert new.client.enrolled()
        report = new.client.sync()
        assert new.store.outbox_count() == 0, report.lines()
        assert new.store.event_count(learner) == 11
    finally:
        new.close()
    assert grep(tmp_path / "old", [NAME, "EN-1", token, learner]) == ""
