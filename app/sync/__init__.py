"""The device's sync client (httpx): enrol, pull/push events and profiles, pack updates.

    from app.sync import SyncClient, SyncManager
    client = SyncClient(store, library)
    client.enrol(code, "https://learning.example.org")
    report = client.sync(progress)                 # one blocking sync → SyncReport
    manager = SyncManager(store, library)          # the UI hook: background, one at a time
    manager.sync_now(on_progress); manager.status()

`sync_now(device, progress=cb)` is the hook app.core.device.Device.sync_now calls.
docs/sync-client.md explains the rules (what is acknowledged, what is kept, resume).
"""

from app.sync.backoff import RetryPolicy
from app.sync.client import SyncClient
from app.sync.manager import (
    PHASE_TEXT,
    ProgressText,
    SyncManager,
    SyncStatus,
    manager_for,
    start_background,
    stop_background,
    sync_now,
)
from app.sync.packs import PackUpdater
from app.sync.report import PackOutcome, SyncReport
from app.sync.transport import TransferStats, Transport

__all__ = ["PHASE_TEXT", "PackOutcome", "ProgressText", "PackUpdater", "RetryPolicy", "SyncClient", "SyncManager",
           "SyncReport", "SyncStatus", "TransferStats", "Transport", "manager_for",
           "start_background", "stop_background", "sync_now"]
