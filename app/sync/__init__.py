"""The device's sync client (httpx): enrol, pull/push events and profiles, pack updates.

    from app.sync import DeviceSyncer, SyncClient
    client = SyncClient(store, library)
    client.enrol(code, "https://learning.example.org")
    report = client.sync(progress)                 # one blocking sync → SyncReport
    device = Device.open(data_dir, syncer=DeviceSyncer)   # the app's wiring (app/ui/main.py)
    device.sync_now(on_progress)                   # Settings → Sync now

DeviceSyncer implements the application layer's Syncer protocol
(app/core/application/sync.py); the app wires it in at one place, its composition root.
docs/sync-client.md explains the rules (what is acknowledged, what is kept, resume).
"""

from app.core.application.sync import PHASE_TEXT, ProgressText, SyncState, SyncStatus
from app.core.application.sync_report import PackOutcome, SyncReport
from app.sync.backoff import RetryPolicy
from app.sync.client import SyncClient
from app.sync.device_syncer import DeviceSyncer
from app.sync.manager import SyncManager
from app.sync.packs import PackUpdater
from app.sync.transport import TransferStats, Transport

__all__ = ["PHASE_TEXT", "DeviceSyncer", "PackOutcome", "PackUpdater", "ProgressText",
           "RetryPolicy", "SyncClient", "SyncManager", "SyncReport", "SyncState",
           "SyncStatus", "TransferStats", "Transport"]
