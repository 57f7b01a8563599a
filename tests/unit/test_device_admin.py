"""Device settings only for administrators (issue 15 item 7), in core, no UI: the device
admin PIN, its lock-out on disk, the per-session unlock, and which actions it guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.application import ProfileFormError, Session
from app.core.application.device_admin import ADMIN_SETTING, ADMIN_UNLOCK_SECONDS, DeviceAdmin
from app.core.errors import AuthError, ErrorCode, PinLockedError
from app.core.store.settings import PIN_POLICY_SETTING
from tests.e2e.ui_fixtures import ManualClock, make_device, signed_in

ADMIN = "731904"


def test_a_fresh_tablet_is_open_but_cannot_enrol_without_an_admin_pin(tmp_path: Path) -> None:
    device = make_device(tmp_path, packs=False)
    try:
        s = Session(device)
        assert not device.admin.is_set() and s.admin.unlocked
        s.admin.set_server_url("https://learning.example.org")     # first run: open
        assert device.setting("server_url") == "https://learning.example.org"
        with pytest.raises(AuthError) as err:
            s.admin.enrol("K7QF-M2XP-9HTR")
        assert err.value.code == ErrorCode.ADMIN_PIN_NEEDED
    finally:
        device.close()


def test_once_set_device_settings_need_the_admin_and_display_does_not(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock, packs=False)
    try:
        setup = Session(device)
        setup.admin.set_admin_pin(ADMIN, ADMIN)
        assert setup.admin.unlocked                       # the person who set it
        setup.lock()
        assert not setup.admin.unlocked                   # a lock ends the unlock
        learner = signed_in(device)
        for action in (lambda: learner.admin.set_server_url("https://evil.example"),
                       lambda: learner.admin.set_idle_lock_seconds(86_400),
                       lambda: learner.admin.enrol("K7QF-M2XP-9HTR"),
                       lambda: learner.admin.set_admin_pin("864209", "864209")):
            with pytest.raises(AuthError) as err:
                action()
            assert err.value.code == ErrorCode.ADMIN_REQUIRED
        assert device.setting("server_url") is None
        assert device.setting("idle_lock_seconds") == 180
        # the learner's own display preferences need no admin
        learner.set_text_size("larger")
        learner.set_language("lt")
        assert learner.text_size == "larger" and learner.locale == "lt"
        # the admin unlocks on this session, for a limited time
        learner.admin.unlock(ADMIN)
        learner.admin.set_idle_lock_seconds(600)
        assert device.idle_lock_seconds == 600
        clock.now += ADMIN_UNLOCK_SECONDS + 1
        with pytest.raises(AuthError):
            learner.admin.set_server_url("https://learning.example.org")
        # another session on the same tablet is not unlocked by this one
        learner.admin.unlock(ADMIN)
        assert not Session(device).admin.unlocked
    finally:
        device.close()


def test_admin_pin_rules(tmp_path: Path) -> None:
    device = make_device(tmp_path, packs=False)
    try:
        s = Session(device)
        cases = {"12345": ErrorCode.PIN_TOO_SHORT, "123456": ErrorCode.PIN_TRIVIAL,
                 "12a456": ErrorCode.PIN_BAD, "999999": ErrorCode.PIN_TRIVIAL}
        for pin, code in cases.items():
            with pytest.raises(ProfileFormError) as err:
                s.admin.set_admin_pin(pin, pin)
            assert err.value.code == code, pin
        with pytest.raises(ProfileFormError) as err:
            s.admin.set_admin_pin(ADMIN, "731905")
        assert err.value.field == "admin_pin_again"
        device.set_setting(PIN_POLICY_SETTING, 8)          # the PIN policy raises the bar
        with pytest.raises(ProfileFormError) as err:
            s.admin.set_admin_pin(ADMIN, ADMIN)
        assert (err.value.code, err.value.limit) == (ErrorCode.PIN_TOO_SHORT, 8)
        assert not device.admin.is_set()
    finally:
        device.close()


def test_the_admin_pin_is_stored_as_a_verifier_with_a_lock_out(tmp_path: Path) -> None:
    wall = ManualClock(1_000_000.0)
    device = make_device(tmp_path, packs=False)
    try:
        admin = DeviceAdmin(device.store, lambda: 4, wall)
        admin.replace(ADMIN)
        on_disk = "".join(p.read_text(encoding="utf-8", errors="replace")
                          for p in (tmp_path / "device" / "store").rglob("*.json"))
        # a verifier is stored, never the PIN; on disk even the verifier is encrypted
        # (the app opens its data folder with a key: docs/security.md "Encryption at rest")
        verifier = device.store.settings.get(ADMIN_SETTING)["verifier"]
        assert verifier.startswith("argon2id$") and ADMIN not in verifier
        assert ADMIN not in on_disk and "argon2id$" not in on_disk
        for _ in range(2):
            with pytest.raises(AuthError) as err:
                admin.check("000000")
            assert not isinstance(err.value, PinLockedError)
        with pytest.raises(PinLockedError) as locked:
            admin.check("000000")
        assert locked.value.wait_seconds == 30
        with pytest.raises(PinLockedError):              # even the right PIN waits
            admin.check(ADMIN)
        # a restart (a new DeviceAdmin on the same store) keeps the lock-out
        assert DeviceAdmin(device.store, lambda: 4, wall).wait_seconds() == 30
        wall.now += 31
        admin.check(ADMIN)
        assert device.store.settings.get(ADMIN_SETTING)["failed_attempts"] == 0
        for hostile in (None, 123456, "7319041", "", "x" * 10_000):
            with pytest.raises(AuthError):
                admin.check(hostile)
            wall.now += 4000
        json.dumps(device.store.settings.get(ADMIN_SETTING))
    finally:
        device.close()


def test_removing_the_settings_file_does_not_open_the_device_settings(tmp_path: Path) -> None:
    """settings.json holds the admin PIN: deleting it (encrypted folder) must not make the
    tablet look fresh and open; the lock floor keeps the settings closed."""
    device = make_device(tmp_path, packs=False)
    try:
        DeviceAdmin(device.store, lambda: 4).replace(ADMIN)
    finally:
        device.close()
    (tmp_path / "device" / "store" / "settings.json").unlink()
    device = make_device(tmp_path, packs=False)
    try:
        assert not device.admin.is_set() and device.admin.tampered()
        s = Session(device)
        assert not s.admin.unlocked
        with pytest.raises(AuthError) as err:
            s.admin.set_server_url("https://evil.example.org")
        assert err.value.code == ErrorCode.ADMIN_REQUIRED
    finally:
        device.close()
