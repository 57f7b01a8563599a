"""One sync at a time in a worker thread, and the background probe-and-sync loop.

    manager = SyncManager(store, library)          # one per data folder
    manager.start()                                # probe every `sync_interval_seconds`
    status = manager.sync_now(on_progress)         # returns at once; never blocks the UI
    manager.status()                               # SyncStatus: state, phase, done/total,
                                                   # last_sync_at, last_error, last_report
    manager.wait(timeout)                          # block until the running sync ends
    manager.stop()

Why a thread and a lock: a sync can take minutes (a pack download) while the learner
keeps working; the store and the pack installer are thread-safe. Only one sync runs at a
time — a second `sync_now` while one runs does not start another, it returns the status
of the running one (and its progress callback is added to the running sync's listeners).
The background loop only syncs when the tablet is enrolled and a cheap health probe
says the server is reachable, so an offline tablet costs one failed connect per interval.

The app reaches it through app/sync/device_syncer.py (the application layer's Syncer).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import replace
from typing import Any

from app.core.application.sync import PhaseProgress, SyncState, SyncStatus
from app.core.application.sync_report import SyncReport
from app.core.clock import now_iso
from app.core.errors import ErrorCode, ShiftError, SyncError, SyncNetworkError
from app.core.packs import PackLibrary
from app.core.store import Store
from app.sync.client import SyncClient

log = logging.getLogger(__name__)

INTERVAL_SETTING = "sync_interval_seconds"
DEFAULT_INTERVAL = 300
MIN_INTERVAL = 5
MAX_INTERVAL = 86_400


class SyncManager:
    def __init__(self, store: Store, library: PackLibrary | None = None, *,
                 client: SyncClient | None = None,
                 interval: float | None = None, probe_timeout: float = 3.0) -> None:
        self.store = store
        self.client = client or SyncClient(store, library)
        self._interval = interval
        self.probe_timeout = probe_timeout
        self._lock = threading.Lock()
        self._status = SyncStatus(last_sync_at=self._setting("last_sync_at"),
                                  outbox=self._outbox())
        self._listeners: list[PhaseProgress] = []
        self._worker: threading.Thread | None = None
        self._done = threading.Event()
        self._done.set()
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        #: What stopped the last sync (None when it ended well), with its code.
        self.last_exception: ShiftError | None = None

    # ------------------------------------------------------------------ helpers
    def _setting(self, key: str) -> Any:
        try:
            return self.store.settings.get(key)
        except ShiftError:
            return None

    def _outbox(self) -> int:
        try:
            return int(self.store.outbox_count())
        except ShiftError:
            return 0

    @property
    def interval(self) -> float:
        if self._interval is not None:
            return self._interval
        value = self._setting(INTERVAL_SETTING)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(min(max(value, MIN_INTERVAL), MAX_INTERVAL))
        return float(DEFAULT_INTERVAL)

    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    # ------------------------------------------------------------------ run a sync
    def sync_now(self, on_progress: PhaseProgress | None = None, *, packs: bool = True) -> SyncStatus:
        """Start a sync in a background thread and return its status at once.

        If a sync is already running, no second one starts: the running one's status is
        returned and `on_progress` is attached to it."""
        with self._lock:
            if on_progress is not None:
                self._listeners.append(on_progress)
            if self._status.running:
                return self._status
            self._status = replace(self._status, state=SyncState.RUNNING, phase="", done=0,
                                   total=0,
                                   started_at=now_iso(), last_error=None)
            self._done.clear()
            self._worker = threading.Thread(target=self._run, args=(packs,),
                                            name="shift-sync", daemon=True)
            status = self._status
        self._worker.start()
        return status

    def wait(self, timeout: float | None = None) -> SyncStatus:
        """Block until no sync runs (or `timeout`); returns the status then."""
        self._done.wait(timeout)
        return self.status()

    def _progress(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            self._status = replace(self._status, phase=phase, done=done, total=total)
            listeners = list(self._listeners)
        for cb in listeners:
            try:
                cb(phase, done, total)
            except Exception:  # a broken progress bar must not break the sync
                log.exception("sync progress listener failed")

    def _run(self, packs: bool) -> None:
        report: SyncReport | None = None
        error: str | None = None
        self.last_exception = None
        state = SyncState.OK
        try:
            if not self.client.enrolled():
                state, error = SyncState.NOT_ENROLLED, "this tablet is not enrolled yet"
                self.last_exception = SyncError(error, code=ErrorCode.NOT_ENROLLED)
            else:
                report = self.client.sync(self._progress, packs=packs)
                if not report.ok:
                    error = "; ".join([f"pack {p.id}: {p.detail}" for p in report.packs
                                       if p.status == "failed"]
                                      + ([report.packs_error] if report.packs_error else []))
        except ShiftError as exc:
            self.last_exception = exc
            state = SyncState.OFFLINE if isinstance(exc, SyncNetworkError) else SyncState.FAILED
            error = str(exc)
            log.warning("sync failed: %s", exc)
        except Exception as exc:  # never let the worker die silently
            state, error = SyncState.FAILED, f"unexpected error: {type(exc).__name__}: {exc}"
            self.last_exception = SyncError(error)
            log.exception("sync crashed")
        finally:
            with self._lock:
                self._status = replace(self._status, state=state, last_error=error,
                                       last_report=report or self._status.last_report,
                                       last_sync_at=self._setting("last_sync_at"),
                                       outbox=self._outbox())
                self._listeners.clear()
            self._done.set()

    # ------------------------------------------------------------------ background loop
    def probe(self) -> bool:
        """Is the server reachable now? (False when not configured.)"""
        if self.client.server_url is None:
            return False
        try:
            with self.client.transport(authed=False) as t:
                return t.probe(self.probe_timeout)
        except ShiftError:
            return False

    def start(self) -> None:
        """Probe every `interval` seconds and sync when the server answers."""
        if self._loop is not None and self._loop.is_alive():
            return
        self._stop.clear()
        self._loop = threading.Thread(target=self._background, name="shift-sync-probe",
                                      daemon=True)
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout)
            self._loop = None
        self._done.wait(timeout)

    def tick(self) -> bool:
        """One round of the background loop; True if it started a sync."""
        if self.status().running or not self.client.enrolled():
            return False
        if not self.probe():
            with self._lock:
                if not self._status.running:
                    self._status = replace(self._status, state=SyncState.OFFLINE,
                                           outbox=self._outbox())
            return False
        self.sync_now()
        return True

    def _background(self) -> None:
        while not self._stop.is_set():
            try:
                if self.tick():
                    self.wait()
            except Exception:
                log.exception("background sync round failed")
            with contextlib.suppress(Exception):
                self._stop.wait(self.interval)
