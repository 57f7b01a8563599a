"""The app starts the sync client's background loop with its Device and stops it on
shutdown (docs/sync-client.md "Background sync")."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.errors import StoreError
from app.ui.main import create_asgi_app, shutdown


def probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "shift-sync-probe" and t.is_alive()]


def test_the_app_starts_background_sync_and_stops_it_on_shutdown(tmp_path: Path) -> None:
    before = len(probe_threads())
    asgi = create_asgi_app(tmp_path / "device")
    device = asgi.state.device
    try:
        syncer = device.syncer              # wired by the composition root (open_device)
        assert syncer is not None
        assert len(probe_threads()) == before + 1
        assert syncer.status().state in ("idle", "offline", "not_enrolled")  # not enrolled: never syncs
    finally:
        shutdown(device)
    assert len(probe_threads()) == before
    with pytest.raises(StoreError):  # the store was closed after the loop stopped
        device.store.events("anyone")


def test_background_sync_can_be_left_off(tmp_path: Path) -> None:
    before = len(probe_threads())
    asgi = create_asgi_app(tmp_path / "device", background_sync=False)
    try:
        assert len(probe_threads()) == before
    finally:
        shutdown(asgi.state.device)
