"""One tablet: its data folder, store, installed packs and sync client, shared by every
session (screen) on it.

``Device.open(data_dir, clock=…, syncer=…)`` opens the Store (app/core/store) and the
pack library (app/core/packs) of a data folder; the parts the screens use are typed
attributes, each with its own module:

* ``device.profiles``     — profile tiles, create a profile (profiles.py)
* ``device.content``      — catalog, lesson files, pack images, licences (content.py)
* ``device.certificates`` — which received certificates are genuine (certificates.py)
* ``device.syncer``       — the sync client (a Syncer, sync.py), or None
* ``device.admin``        — the device admin PIN guarding device settings (device_admin.py)

The syncer is passed in by the composition root (app/ui/main.py ``open_device``): the
application layer never imports app.sync. Sessions are made with ``Session(device)``
(session.py). One Device per data folder and process (the store holds a folder lock).
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core.application.certificates import CertificateTrust
from app.core.application.content import InstalledContent
from app.core.application.device_admin import DeviceAdmin
from app.core.application.forms import validate_new_profile
from app.core.application.idle import DEFAULT_IDLE_LOCK_SECONDS, idle_lock_seconds
from app.core.application.profiles import Profiles
from app.core.application.sync import (
    Syncer,
    SyncerFactory,
    SyncProgress,
    SyncState,
    SyncStatus,
    SyncSummary,
    summarise,
)
from app.core.clock import MonotonicClock, awake_or_asleep, now_utc
from app.core.errors import DeviceError, ErrorCode, ShiftError, StoreError, SyncError
from app.core.events import parse_at
from app.core.packs import PackLibrary
from app.core.pins import PIN_MAX_DIGITS, PIN_MIN_DIGITS
from app.core.store import Store, wipe
from app.core.store.keys import KeyProvider
from app.core.store.settings import PIN_POLICY_SETTING


class Device:
    """One tablet's data folder, opened."""

    def __init__(self, data_dir: Path, store: Store, library: PackLibrary,
                 clock: MonotonicClock, syncer: Syncer | None = None) -> None:
        self.data_dir = data_dir
        self.store = store
        self.library = library
        self.clock = clock
        self.syncer = syncer
        self.profiles = Profiles(store)
        self.content = InstalledContent(library)
        self.certificates = CertificateTrust(self.setting)
        self.admin = DeviceAdmin(store, lambda: self.pin_min_digits)

    @classmethod
    def open(cls, data_dir: str | Path, clock: MonotonicClock = awake_or_asleep, *,
             syncer: SyncerFactory | None = None, keys: KeyProvider | None = None) -> Device:
        """Open (creating if needed) a data folder. ``syncer`` makes the sync client from
        the opened store and library (app.sync.DeviceSyncer); without it the tablet
        works offline only. ``keys`` gives the store's data key (encryption at rest,
        app/core/store/sealing.py); the composition root always passes one."""
        path = Path(data_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeviceError(f"{path}: cannot create the data folder: {exc}") from None
        store = Store.open(path, keys=keys)
        wipe.finish_pending(store)   # a revoked tablet's wipe a crash interrupted
        library = PackLibrary(path)
        return cls(path, store, library, clock,
                   syncer(store, library) if syncer is not None else None)

    def close(self) -> None:
        """Stop background sync (waits for a running sync), then close the store."""
        try:
            if self.syncer is not None:
                self.syncer.stop_background()
        finally:
            self.store.close()

    # -- settings ------------------------------------------------------------------------
    def setting(self, name: str, default: object = None) -> object:
        """A store setting, or `default` when unset or unreadable."""
        try:
            value = self.store.settings.get(name)
        except (KeyError, StoreError):
            return default
        return default if value is None else value

    def set_setting(self, name: str, value: object) -> None:
        self.store.settings.set(name, value)

    @property
    def pin_min_digits(self) -> int:
        """The PIN policy: the fewest digits of a new PIN, as the server last said
        (pull answer ``policy``); 4 on a tablet never told. Existing shorter PINs keep
        working; the policy applies when a PIN is set or changed."""
        value = self.setting(PIN_POLICY_SETTING, PIN_MIN_DIGITS)
        return value if isinstance(value, int) and PIN_MIN_DIGITS <= value <= PIN_MAX_DIGITS \
            else PIN_MIN_DIGITS

    @property
    def idle_lock_seconds(self) -> int:
        """Admin setting ``idle_lock_seconds``; env SHIFT_IDLE_LOCK_SECONDS overrides it."""
        return idle_lock_seconds(self.setting("idle_lock_seconds", DEFAULT_IDLE_LOCK_SECONDS))

    def storage_bytes(self) -> int:
        """Bytes used by this device's data folder (store, packs, blobs)."""
        total = 0
        for root, _dirs, files in os.walk(self.data_dir):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue
        return total

    def create_profile(self, display_name: object, staff_number: object, role: object,
                       language: object, pin: object, pin_again: object) -> str:
        """Check the "new profile" form and create the profile offline; returns its id
        (ProfileFormError names a wrong field; StoreError e.g. a staff number in use)."""
        return self.profiles.create(validate_new_profile(
            display_name, staff_number, role, language, pin, pin_again,
            min_digits=self.pin_min_digits), min_digits=self.pin_min_digits)

    # -- sync -------------------------------------------------------------------------------
    def sync_summary(self) -> SyncSummary:
        """Badge data: online (last successful sync < 15 min ago), when, server address."""
        last = self.setting("last_sync_at")
        when = None
        if isinstance(last, str) and last:
            try:
                when = parse_at(last)
            except ShiftError:
                when = None
        server = self.setting("server_url", "")
        state = self.syncer.status().state if self.syncer is not None else SyncState.IDLE
        return summarise(when, now_utc(), server_url=server if isinstance(server, str) else "",
                         client_installed=self.syncer is not None, state=state)

    def sync_now(self, progress: SyncProgress | None = None, *,
                 enrol_code: str | None = None) -> SyncStatus:
        """Run one sync through the syncer; with an enrolment code the device enrols
        first. Raises SyncError (subclasses, with their code) on failure."""
        if self.syncer is None:
            raise SyncError("sync client not installed yet", code=ErrorCode.SYNC_NOT_INSTALLED)
        code = (enrol_code or "").strip()
        return self.syncer.sync_now(progress, enrol_code=code or None)

    def start_background_sync(self) -> bool:
        """Start the syncer's probe-and-sync loop; False when there is no syncer."""
        if self.syncer is None:
            return False
        self.syncer.start_background()
        return True
