"""The application layer's Syncer (app/core/application/sync.py), made of a SyncManager.

The composition root (app/ui/main.py ``open_device``) opens a tablet with
``Device.open(data_dir, syncer=DeviceSyncer)``; the Device then owns exactly one
DeviceSyncer for its data folder (no registry keyed by object ids).

``sync_now(progress, enrol_code=…)`` is what Settings → *Sync now* runs, in a Flet
handler thread: it enrols first when a code is given, starts the sync in the manager's
worker (or attaches to the running one), waits for it and raises the SyncError that
stopped it — with its code, so the UI picks the sentence. The progress callback gets
``(fraction, ProgressText)``: the phases mapped onto one bar that only moves forward.
"""

from __future__ import annotations

from app.core.application.sync import ProgressText, SyncProgress, SyncState, SyncStatus
from app.core.errors import SyncError
from app.core.packs import PackLibrary
from app.core.store import Store
from app.sync.manager import SyncManager

#: Where each phase sits on the one progress bar (fractions 0..1).
PHASE_SPAN = {"pull": (0.0, 0.3), "push": (0.3, 0.6), "packs": (0.6, 0.65),
              "download": (0.65, 0.95), "install": (0.95, 1.0)}
STOPPED = (SyncState.FAILED, SyncState.OFFLINE, SyncState.NOT_ENROLLED)


class DeviceSyncer:
    """One data folder's sync client for the app (implements the Syncer protocol)."""

    def __init__(self, store: Store, library: PackLibrary | None = None, *,
                 manager: SyncManager | None = None) -> None:
        self.manager = manager or SyncManager(store, library)

    def status(self) -> SyncStatus:
        return self.manager.status()

    def sync_now(self, progress: SyncProgress | None = None, *,
                 enrol_code: str | None = None, wait: bool = True) -> SyncStatus:
        """Enrol first when `enrol_code` is given, then sync. With `wait` it returns
        when the sync ended and raises the SyncError that stopped it; with
        `wait=False` it returns the running status at once."""
        manager = self.manager
        if enrol_code and enrol_code.strip():
            manager.client.enrol(enrol_code)

        shown = [0.0]   # the bar never moves back (a second pack restarts its download count)

        def on_progress(phase: str, done: int, total: int) -> None:
            if progress is None:
                return
            lo, hi = PHASE_SPAN.get(phase, (0.0, 1.0))
            fraction = lo + (hi - lo) * (min(done, total) / total if total else 0.0)
            shown[0] = max(shown[0], fraction)
            progress(shown[0], ProgressText(phase, done, total))

        status = manager.sync_now(on_progress)
        if not wait:
            return status
        status = manager.wait()
        if status.state in STOPPED and status.last_error:
            raise manager.last_exception or SyncError(status.last_error)
        if progress is not None:
            progress(1.0, ProgressText("done"))
        return status

    def start_background(self) -> None:
        """Start the probe-and-sync loop (idempotent)."""
        self.manager.start()

    def stop_background(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for a running sync (before the store is closed)."""
        self.manager.stop(timeout)
