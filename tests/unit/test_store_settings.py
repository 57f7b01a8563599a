"""Device settings and secrets (the device token never appears in clear in logs)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import StoreError
from app.core.store import Secret, Store


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def test_defaults_set_get_update_all_and_persistence(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        assert s.settings.get("idle_lock_seconds") == 180
        assert s.settings.get("idle_lock_seconds", 300) == 300
        assert s.settings.get("trusted_keys") == []
        assert s.settings.get("unknown.key") is None
        s.settings.set("server_url", "https://sync.example.org:8443/")
        s.settings.update({"locale": "pt_BR", "text_size": 1.25, "high_contrast": True,
                           "trusted_keys": ["k1", "k2", "k1"], "sync_cursor": "c-17",
                           "last_sync_at": "2026-11-23T15:38:28.123Z", "ui.last_view": "home"})
        s.settings.delete("ui.last_view")
    with Store.open(tmp_path) as s:
        values = s.settings.all()
        assert values["server_url"] == "https://sync.example.org:8443"
        assert values["trusted_keys"] == ["k1", "k2"]
        assert values["locale"] == "pt_BR" and values["high_contrast"] is True
        assert values["idle_lock_seconds"] == 180 and "ui.last_view" not in values
        # results are copies, not views of the stored data
        s.settings.get("trusted_keys").append("evil")
        assert s.settings.get("trusted_keys") == ["k1", "k2"]


@pytest.mark.parametrize("key, value, field", [
    ("server_url", "ftp://x", "server_url"),
    ("server_url", "https://", "server_url"),
    ("server_url", "https://host:99999", "server_url"),
    ("server_url", "https://a b", "server_url"),
    ("trusted_keys", "k1", "trusted_keys"),
    ("trusted_keys", [1], "trusted_keys"),
    ("locale", "english!", "locale"),
    ("text_size", 0, "text_size"),
    ("text_size", True, "text_size"),
    ("high_contrast", "yes", "high_contrast"),
    ("idle_lock_seconds", 5, "idle_lock_seconds"),
    ("idle_lock_seconds", 180.5, "idle_lock_seconds"),
    ("sync_cursor", -1, "sync_cursor"),
    ("last_sync_at", "now", "last_sync_at"),
    ("device_token", "abc", "device_token"),
    ("Bad Key", 1, "setting"),
    ("free.form", float("inf"), "free.form"),
    ("free.form", "x" * 70_000, "free.form"),
])
def test_bad_settings_are_refused_by_name(store: Store, key: str, value: Any, field: str) -> None:
    with pytest.raises(StoreError, match=f"^{field}"):
        store.settings.set(key, value)


def test_update_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="idle_lock_seconds"):
        store.settings.update({"locale": "fr", "idle_lock_seconds": 1})
    assert store.settings.get("locale") is None
    with pytest.raises(StoreError):
        store.settings.update([("locale", "fr")])  # type: ignore[arg-type]


@pytest.mark.plain_store
def test_device_token_is_a_masked_secret(store: Store, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    token = "tok-" + "s3cr3t" * 5
    store.settings.set_secret("device_token", token)
    secret = store.settings.get_secret("device_token")
    assert isinstance(secret, Secret) and secret.reveal() == token
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("token %s %r", secret, secret)
        logging.getLogger("test").info(f"token {secret} {secret!r} {secret:>40}")
    assert token not in caplog.text and "********" in caplog.text
    assert token not in repr(store.settings) and token not in str(store.settings.all())
    with pytest.raises(StoreError, match="device_token"):
        store.settings.get("device_token")
    path = tmp_path / "store" / "secrets.json"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in (tmp_path / "store" / "settings.json").read_text() \
        if (tmp_path / "store" / "settings.json").exists() else True
    assert store.settings.has_secret("device_token")
    store.settings.set_secret("device_token", None)
    assert store.settings.get_secret("device_token") is None
    for bad in ("", 42, "x" * 5000):
        with pytest.raises(StoreError):
            store.settings.set_secret("device_token", bad)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.settings.set_secret("../evil", "x")
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(secret)
