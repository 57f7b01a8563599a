"""Background sync for the app: the UI hook.

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
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.core.errors import ShiftError
from app.core.events import utc_now_iso
from app.sync.client import SyncClient
from app.sync.report import Progress, SyncReport

log = logging.getLogger(__name__)

INTERVAL_SETTING = "sync_interval_seconds"
DEFAULT_INTERVAL = 300
MIN_INTERVAL = 5
MAX_INTERVAL = 86_400


@dataclass(frozen=True)
class SyncStatus:
    state: str = "idle"            # idle | running | ok | failed | offline | not_enrolled
    phase: str = ""                # pull | push | packs | download | install
    done: int = 0
    total: int = 0
    started_at: str | None = None
    last_sync_at: str | None = None
    last_error: str | None = None
    last_report: SyncReport | None = None
    outbox: int = 0

    @property
    def running(self) -> bool:
        return self.state == "running"


class SyncManager:
    def __init__(self, store: Any, library: Any = None, *, client: SyncClient | None = None,
                 interval: float | None = None, probe_timeout: float = 3.0) -> None:
        self.store = store
        self.client = client or SyncClient(store, library)
        self._interval = interval
        self.probe_timeout = probe_timeout
        self._lock = threading.Lock()
        self._status = SyncStatus(last_sync_at=self._setting("last_sync_at"),
                                  outbox=self._outbox())
        self._listeners: list[Progress] = []
        self._worker: threading.Thread | None = None
        self._done = threading.Event()
        self._done.set()
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
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
    def sync_now(self, on_progress: Progress | None = None, *, packs: bool = True) -> SyncStatus:
        """Start a sync in a background thread and return its status at once.

        If a sync is already running, no second one starts: the running one's status is
        returned and `on_progress` is attached to it."""
        with self._lock:
            if on_progress is not None:
                self._listeners.append(on_progress)
            if self._status.running:
                return self._status
            self._status = replace(self._status, state="running", phase="", done=0, total=0,
                                   started_at=utc_now_iso(), last_error=None)
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
        state = "ok"
        try:
            if not self.client.enrolled():
                state, error = "not_enrolled", "this tablet is not enrolled yet"
            else:
                report = self.client.sync(self._progress, packs=packs)
                if not report.ok:
                    error = "; ".join([f"pack {p.id}: {p.detail}" for p in report.packs
                                       if p.status == "failed"]
                                      + ([report.packs_error] if report.packs_error else []))
        except ShiftError as exc:
            from app.core.errors import SyncNetworkError
            self.last_exception = exc
            state = "offline" if isinstance(exc, SyncNetworkError) else "failed"
            error = str(exc)
            log.warning("sync failed: %s", exc)
        except Exception as exc:  # never let the worker die silently
            state, error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"
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
                    self._status = replace(self._status, state="offline",
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


# ---------------------------------------------------------------------- the app's hook
_managers: dict[int, tuple[Any, SyncManager]] = {}
_managers_lock = threading.Lock()

#: English text of each phase id (the UI may translate by `ProgressText.phase` instead).
PHASE_TEXT = {"pull": "Receiving progress and profiles", "push": "Sending progress",
              "packs": "Checking for new content", "download": "Downloading new content",
              "install": "Installing new content", "done": "Sync finished"}
PHASE_SPAN = {"pull": (0.0, 0.3), "push": (0.3, 0.6), "packs": (0.6, 0.65),
              "download": (0.65, 0.95), "install": (0.95, 1.0)}


class ProgressText(str):
    """The `message` the app hook passes to `progress(fraction, message)`: plain English
    text (so existing callers keep working), plus stable ids a UI can translate from:
    `.phase` (one of PHASE_TEXT's keys: pull, push, packs, download, install, done),
    `.done` and `.total` (`total` 0 = unknown; bytes for `download`)."""

    phase: str
    done: int
    total: int

    def __new__(cls, phase: str, done: int = 0, total: int = 0) -> ProgressText:
        text = PHASE_TEXT.get(phase, phase)
        self = super().__new__(cls, f"{text} ({done}/{total})" if total else text)
        self.phase, self.done, self.total = phase, done, total
        return self


def manager_for(device: Any) -> SyncManager:
    """The one SyncManager of an app.core.device.Device (made on first use)."""
    with _managers_lock:
        entry = _managers.get(id(device))
        if entry is None or entry[0] is not device:
            entry = (device, SyncManager(device.store, getattr(device, "library", None)))
            _managers[id(device)] = entry
        return entry[1]


def sync_now(device: Any, progress: Callable[[float, str], None] | None = None, *,
             enrol_code: str | None = None, wait: bool = True) -> SyncStatus:
    """HOOK of app.core.device.Device.sync_now: `progress(fraction, message)`.

    Enrols first when `enrol_code` is given. With `wait` (the Settings button runs in
    a Flet handler thread) it returns when the sync ended and raises the SyncError
    that stopped it; with `wait=False` it returns the running status at once."""
    manager = manager_for(device)
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
    if status.state in ("failed", "offline", "not_enrolled") and status.last_error:
        if manager.last_exception is not None:
            raise manager.last_exception
        from app.core.errors import SyncError
        raise SyncError(status.last_error)
    if progress is not None:
        progress(1.0, ProgressText("done"))
    return status


def start_background(device: Any) -> SyncManager:
    """Start the probe-and-sync loop of `device` (call once at app start, e.g. right after
    `Device.open` in app/ui/main.py, through importlib like `sync_hook`); idempotent."""
    manager = manager_for(device)
    manager.start()
    return manager


def stop_background(device: Any, timeout: float = 10.0) -> None:
    """Stop the loop and wait for a running sync (call before `device.close()`)."""
    with _managers_lock:
        entry = _managers.get(id(device))
    if entry is not None and entry[0] is device:
        entry[1].stop(timeout)
