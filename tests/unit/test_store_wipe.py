"""Wiping a revoked tablet (app/core/store/wipe.py): every learner's data goes, the
device's own identity and settings stay, nothing is recorded as erased, a wipe cut short
by a crash is finished when the device opens its folder again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.core.application.device import Device
from app.core.store import Store, wipe
from tests.unit.test_store_erasure import event, every_byte, filled


def test_wipe_removes_every_learner_and_keeps_the_device(tmp_path: Path) -> None:
    store, gone, stay, ids = filled(tmp_path)
    store.settings.update({"server_url": "https://learning.example.org",
                           "learner_display": {gone: {"text_size": "larger",
                                                      "high_contrast": True}}})
    store.settings.set_secret("device_token", "dev_secret_token_value")
    device_id = store.device_id
    stay_ids = [e["id"] for e in store.events(stay)]
    report = wipe.wipe_learner_data(store)
    assert report.learners == 2 and report.unsent == 29 and report.events >= 40  # 40 - 10 sent - 1 rejected
    assert store.learner_ids() == [] and store.profiles.list() == []
    assert store.outbox_count() == 0 and store.rejected() == []
    assert store.conflict_count() == 0 and store.quarantine_count() == 0
    assert store.settings.get("learner_display", None) is None
    assert store.settings.get("server_url") == "https://learning.example.org"
    assert not wipe.pending(store)
    text = every_byte(tmp_path / "store")
    for needle in ("Gone Person", "GONE-1", "Stay Person", "STAY-1", gone, stay,
                   *ids, *stay_ids, "pin_verifier"):
        assert needle not in text, needle
    # nothing recorded as erased: a re-enrolled tablet takes both learners' events back
    assert not (tmp_path / "store" / "erased.json").exists()
    store.append(event(stay, 1))
    assert store.merge([{**event(gone, 5), "id": str(uuid.uuid4()), "device": "dev-x",
                         "seq": 3, "at": "2026-01-01T10:00:00.000Z"}]) == 1
    store.close()
    with Store.open(tmp_path) as again:       # the device keeps its identity
        assert again.device_id == device_id
        assert again.settings.get_secret("device_token") is not None  # the caller's job
        assert sorted(again.learner_ids()) == sorted([gone, stay])


def test_wipe_of_an_empty_tablet_and_twice(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert wipe.wipe_learner_data(store) == wipe.WipeReport()
        assert wipe.wipe_learner_data(store) == wipe.WipeReport()


def test_a_wipe_cut_short_is_finished_when_the_device_opens(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    store, gone, stay, _ = filled(tmp_path)

    def crash(_store: Store) -> None:
        raise OSError("power lost")

    with monkeypatch.context() as patched:             # events gone, profiles not yet
        patched.setattr(wipe, "_clear_logs", crash)
        with pytest.raises(OSError):
            wipe.wipe_learner_data(store)
    assert wipe.pending(store) and store.learner_ids() == []
    assert store.profiles.get(gone) is not None
    store.close()
    device = Device.open(tmp_path)            # no network needed to finish it
    try:
        assert not wipe.pending(device.store)
        assert device.store.profiles.list() == [] and device.store.rejected() == []
        assert "Gone Person" not in every_byte(tmp_path / "store")
    finally:
        device.close()
