"""Device-wide settings need an administrator: a device admin PIN (issue 15 item 7).

What it guards: everything in Settings that is not the person's own display preference —
the server address, enrolment (an enrolment code, which moves the tablet to a facility),
the idle lock time and the admin PIN itself. Language, text size and high contrast stay
open to everyone (docs/app.md "Device settings and the administrator").

Why a device admin PIN (docs/security.md "Device settings"): it works with no server and
no network (a tablet is set up before it can reach one, and re-pointed when the server
moved), needs no schema or console change, and is set by the person who sets the tablet
up — the one holding an enrolment code, which only an admin can create. Rules:

* While no admin PIN is set (a fresh tablet), device settings are open, but enrolling
  needs one: the person enrolling sets it first, so an enrolled tablet is always guarded.
* The PIN is 6 to 8 digits (at least the deployment's PIN policy), never a trivial
  sequence; stored as an argon2id verifier (app/core/pins.py) in the store settings
  (``device_admin``), never the PIN. Wrong PINs lock the pad with the same growing delay
  as a learner's PIN (app/core/store/profiles.py ``lock_delay``), persisted.
* An unlock belongs to one session (screen) and lasts ADMIN_UNLOCK_SECONDS or until the
  session locks — a learner who finds an unlocked tablet gets at most that long.
* A forgotten admin PIN: reset the tablet (new data folder) and enrol it again; nothing
  the server holds is lost (docs/admin-guide.md). The guard is the app's: a person who can
  edit the data folder can clear it — the tablet's files are not yet encrypted (item 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.core import pins
from app.core.application.forms import ProfileFormError, is_trivial_pin
from app.core.application.sync import SyncProgress, SyncStatus
from app.core.errors import AuthError, ErrorCode, PinLockedError, StoreError
from app.core.store import Store
from app.core.store.profiles import lock_delay

#: Store setting holding {"verifier", "failed_attempts", "locked_until"}.
ADMIN_SETTING = "device_admin"
#: The fewest digits of a device admin PIN (more if the PIN policy says so).
ADMIN_PIN_MIN_DIGITS = 6
#: How long one unlock lasts (seconds of the device's monotonic clock).
ADMIN_UNLOCK_SECONDS = 300


class DeviceAdmin:
    """The tablet's admin PIN: set, check (with lock-out), change."""

    def __init__(self, store: Store, min_digits: Callable[[], int],
                 wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self._policy = min_digits
        self._wall = wall

    def _state(self) -> dict[str, Any]:
        try:
            value = self.store.settings.get(ADMIN_SETTING, None)
        except StoreError:
            value = None
        return dict(value) if isinstance(value, dict) else {}

    def is_set(self) -> bool:
        return bool(self._state().get("verifier"))

    def tampered(self) -> bool:
        """True while the store's lock floor lasts: a lock-out file (settings.json, which
        holds this PIN) was edited or removed (app/core/store/sealing.py)."""
        return bool(self.store.pin_lock_floor > self._wall())

    @property
    def min_digits(self) -> int:
        return max(ADMIN_PIN_MIN_DIGITS, self._policy())

    def wait_seconds(self) -> int:
        """Seconds before the admin PIN may be tried again (0 = not locked)."""
        until = max(float(self._state().get("locked_until") or 0.0),
                    self.store.pin_lock_floor)   # a tampered lock-out file (sealing.py)
        now = self._wall()
        # a clock set back must not lock for longer than the longest delay
        return max(0, min(int(until - now + 0.999), 3600))

    def check(self, pin: object) -> None:
        """Nothing for the right PIN; AuthError (ADMIN_PIN_WRONG) for a wrong one,
        PinLockedError while locked. Failures are persisted; a right PIN resets them."""
        state = self._state()
        verifier = state.get("verifier")
        if not verifier:
            raise AuthError("no device admin PIN is set", code=ErrorCode.ADMIN_PIN_WRONG)
        wait = self.wait_seconds()
        if wait:
            raise PinLockedError(f"too many wrong admin PINs: try again in {wait} seconds",
                                 wait_seconds=wait)
        if isinstance(pin, str) and pins.PIN_RE.match(pin) and pins.verify(str(verifier), pin):
            if state.get("failed_attempts"):
                self.store.settings.set(ADMIN_SETTING, {**state, "failed_attempts": 0,
                                                        "locked_until": 0.0})
            return
        failures = int(state.get("failed_attempts") or 0) + 1
        delay = lock_delay(failures)
        self.store.settings.set(ADMIN_SETTING, {**state, "failed_attempts": failures,
                                                "locked_until": self._wall() + delay
                                                if delay else 0.0})
        if delay:
            raise PinLockedError(f"wrong admin PIN; locked: try again in {delay} seconds",
                                 wait_seconds=delay)
        raise AuthError("wrong admin PIN", code=ErrorCode.ADMIN_PIN_WRONG)

    def validate_new(self, pin: object, again: object) -> str:
        """A new admin PIN typed twice: 6–8 digits (or the PIN policy), not trivial."""
        text = str(pin or "")
        if not pins.PIN_RE.match(text):
            raise ProfileFormError("admin_pin", ErrorCode.PIN_BAD)
        if len(text) < self.min_digits:
            raise ProfileFormError("admin_pin", ErrorCode.PIN_TOO_SHORT, limit=self.min_digits)
        if is_trivial_pin(text):
            raise ProfileFormError("admin_pin", ErrorCode.PIN_TRIVIAL)
        if str(again or "") != text:
            raise ProfileFormError("admin_pin_again", ErrorCode.PIN_MISMATCH)
        return text

    def replace(self, pin: str) -> None:
        """Store a verifier of a checked new PIN (callers check the old one first)."""
        self.store.settings.set(ADMIN_SETTING, {"verifier": pins.make_verifier(pin),
                                                "failed_attempts": 0, "locked_until": 0.0})


class AdminGate:
    """One session's view of the device admin: unlock, and the guarded actions."""

    def __init__(self, device: Any) -> None:   # a Device (imported lazily: no circle)
        self.device = device
        self._until = 0.0

    @property
    def unlocked(self) -> bool:
        """True while an unlock of this session lasts, or while no admin PIN is set (a
        fresh tablet: the person setting it up) — but not while the lock floor of a
        tampered lock-out file lasts (removing settings.json also removes this PIN)."""
        if not self.device.admin.is_set():
            return not self.device.admin.tampered()
        return bool(self.device.clock() < self._until)

    def unlock(self, pin: object) -> None:
        """Check the admin PIN (AuthError / PinLockedError) and unlock this session."""
        self.device.admin.check(pin)
        self._until = self.device.clock() + ADMIN_UNLOCK_SECONDS

    def lock(self) -> None:
        self._until = 0.0

    def require(self) -> None:
        if not self.unlocked:
            raise AuthError("a device administrator must unlock these settings first",
                            code=ErrorCode.ADMIN_REQUIRED)

    # -- guarded actions ------------------------------------------------------------------
    def set_admin_pin(self, pin: object, again: object) -> None:
        """Set (first run) or change the admin PIN; a change needs an unlock."""
        self.require()
        clean = self.device.admin.validate_new(pin, again)
        self.device.admin.replace(clean)
        self._until = self.device.clock() + ADMIN_UNLOCK_SECONDS

    def set_server_url(self, url: str | None) -> None:
        self.require()
        self.device.set_setting("server_url", (url or "").strip() or None)

    def set_idle_lock_seconds(self, seconds: int) -> None:
        self.require()
        self.device.set_setting("idle_lock_seconds", seconds)

    def enrol(self, code: str, progress: SyncProgress | None = None) -> SyncStatus:
        """Enrol with a code (then sync). Needs an unlock, and an admin PIN set first:
        an enrolled tablet is never left without one."""
        self.require()
        if not self.device.admin.is_set():
            raise AuthError("set a device admin PIN before enrolling",
                            code=ErrorCode.ADMIN_PIN_NEEDED)
        status: SyncStatus = self.device.sync_now(progress, enrol_code=code)
        return status
