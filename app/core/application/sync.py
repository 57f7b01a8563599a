"""Sync as the application layer sees it: the Syncer seam, its status and its progress.

The application layer never imports the sync client (app/sync, httpx). It declares what
it needs — a :class:`Syncer` — and the app's composition root passes app.sync's
implementation in (``open_device`` in app/ui/main.py:
``Device.open(data_dir, syncer=DeviceSyncer)``). A device opened without one (unit tests,
a build without the client) works offline, and Settings says "Sync client not installed
yet" (SyncSummary.client_installed).

Also here, because both sides speak them:

* :class:`SyncStatus` — what a syncer reports (state, phase, last report, outbox size);
* :class:`ProgressText` — the progress message, English text *plus* stable phase ids
  the UI translates from (app/ui/messages.py ``progress_text``);
* :class:`SyncSummary` — what the home badge and Settings show ("online" = the last
  successful sync is under 15 minutes old *and* the syncer's latest attempt or probe did
  not fail; the app never probes the network for it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from app.core.application.sync_report import SyncReport

if TYPE_CHECKING:
    from app.core.packs import PackLibrary
    from app.core.store import Store

#: Seconds after the last successful sync during which the badge says "Online".
ONLINE_WINDOW = 15 * 60

#: Phases of one sync, in order (``download`` counts bytes).
PHASES = ("pull", "push", "packs", "download", "install")
#: English text of each phase id (the UI translates by `ProgressText.phase` instead).
PHASE_TEXT = {"pull": "Receiving progress and profiles", "push": "Sending progress",
              "packs": "Checking for new content", "download": "Downloading new content",
              "install": "Installing new content", "done": "Sync finished"}

#: The sync client's own progress: ``progress(phase, done, total)``; total 0 = unknown.
PhaseProgress = Callable[[str, int, int], None]


class ProgressText(str):
    """The `message` a Syncer passes to `progress(fraction, message)`: plain English text
    (so a caller can just show it), plus stable ids a UI translates from: `.phase` (a key
    of PHASE_TEXT: pull, push, packs, download, install, done), `.done` and `.total`
    (`total` 0 = unknown; bytes for `download`)."""

    phase: str
    done: int
    total: int

    def __new__(cls, phase: str, done: int = 0, total: int = 0) -> ProgressText:
        text = PHASE_TEXT.get(phase, phase)
        self = super().__new__(cls, f"{text} ({done}/{total})" if total else text)
        self.phase, self.done, self.total = phase, done, total
        return self


#: What the UI passes to ``Syncer.sync_now``: ``progress(fraction 0..1, message)``.
SyncProgress = Callable[[float, ProgressText], None]


class SyncState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    OFFLINE = "offline"
    NOT_ENROLLED = "not_enrolled"


@dataclass(frozen=True)
class SyncStatus:
    """A syncer's state. `last_error` is English for logs; the exception that stopped the
    last sync (with its code) is what ``Syncer.sync_now`` raises."""

    state: SyncState = SyncState.IDLE
    phase: str = ""                # one of PHASES while running
    done: int = 0
    total: int = 0
    started_at: str | None = None
    last_sync_at: str | None = None
    last_error: str | None = None
    last_report: SyncReport | None = None
    outbox: int = 0

    @property
    def running(self) -> bool:
        return self.state == SyncState.RUNNING


class Syncer(Protocol):
    """The sync client of one data folder, as the application layer uses it.

    app.sync.DeviceSyncer implements it (docs/sync-client.md); tests may pass any object
    with these methods.
    """

    def sync_now(self, progress: SyncProgress | None = None, *,
                 enrol_code: str | None = None) -> SyncStatus:
        """Run one sync (enrol first with `enrol_code`) and return when it ended; raises
        the SyncError (with its code) that stopped it. A second call while one runs
        attaches to the running sync."""
        ...

    def status(self) -> SyncStatus:
        ...

    def start_background(self) -> None:
        """Probe the server now and then and sync when it answers (idempotent)."""
        ...

    def stop_background(self, timeout: float = 10.0) -> None:
        """Stop the background loop and wait for a running sync."""
        ...


#: How a Device makes its Syncer once its store and pack library are open.
SyncerFactory = Callable[["Store", "PackLibrary"], Syncer]


@dataclass(frozen=True)
class SyncSummary:
    """What the home badge and Settings show about sync."""

    online: bool
    last_sync: datetime | None
    server_url: str
    client_installed: bool
    #: The syncer's latest attempt (or background probe) failed: the server could not be
    #: reached, refused, or the tablet is not enrolled. The badge then never says Online.
    failed: bool = False


#: Syncer states after which the badge must not say "Online", however recent the last
#: successful sync is ("Online · Last synced" right after "The server cannot be reached"
#: would be a lie).
FAILED_STATES = frozenset({SyncState.FAILED, SyncState.OFFLINE, SyncState.NOT_ENROLLED})


def summarise(last_sync: datetime | None, now: datetime, *, server_url: str,
              client_installed: bool, state: SyncState = SyncState.IDLE) -> SyncSummary:
    """"Online" means the last successful sync was under ONLINE_WINDOW seconds ago and the
    syncer's `state` is not one of FAILED_STATES."""
    failed = state in FAILED_STATES
    online = (not failed and last_sync is not None
              and (now - last_sync).total_seconds() < ONLINE_WINDOW)
    return SyncSummary(online=online, last_sync=last_sync, server_url=server_url,
                       client_installed=client_installed, failed=failed)
