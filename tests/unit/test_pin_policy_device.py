"""PIN policy on the tablet (issue 15 item 6), without a server: the policy's bounds, the
pull's `policy` taken or refused, the form, the store and the PIN field label. The
server side and a real sync: tests/integration/test_pin_policy.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import pins
from app.core.application import ProfileFormError, Session, validate_new_pin
from app.core.errors import ErrorCode, StoreError, SyncProtocolError
from app.core.store.settings import PIN_POLICY_SETTING
from app.sync import policy
from tests.e2e.ui_fixtures import ManualClock, build, by_key, make_device


@pytest.mark.parametrize("value", [3, 9, 0, -6, "6", 6.0, True, None, [6], {"n": 6}])
def test_the_policy_is_a_whole_number_4_to_8(value: object) -> None:
    with pytest.raises(StoreError):
        pins.pin_policy_digits(value)


def test_the_form_and_the_store_apply_the_policy() -> None:
    assert validate_new_pin("258013", "258013", min_digits=6) == "258013"
    with pytest.raises(ProfileFormError) as err:
        validate_new_pin("2580", "2580", min_digits=6)
    assert (err.value.field, err.value.code, err.value.limit) == ("pin", ErrorCode.PIN_TOO_SHORT, 6)
    with pytest.raises(StoreError) as store_err:
        pins.check_pin_format("25801", min_digits=6)
    assert store_err.value.code == ErrorCode.PIN_TOO_SHORT
    # an existing 4-digit PIN still verifies whatever the policy
    verifier = pins.make_verifier("2580")
    assert pins.verify(verifier, "2580")


def test_the_pull_policy_is_kept_and_a_bad_one_refused(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        policy.take(device.store, None)                     # an older server: nothing
        assert device.pin_min_digits == 4
        policy.take(device.store, {"pin_min_digits": 6, "future_field": "ignored"})
        assert device.pin_min_digits == 6
        for bad in ({"pin_min_digits": 12}, {"pin_min_digits": "6"}, ["pin_min_digits"], 6):
            with pytest.raises(SyncProtocolError):
                policy.take(device.store, bad)
        assert device.pin_min_digits == 6                   # a refused value changes nothing
        policy.take(device.store, {})                       # no value: the last one stays
        assert device.pin_min_digits == 6
        with pytest.raises(StoreError):                     # the setting itself is checked
            device.set_setting(PIN_POLICY_SETTING, 2)
    finally:
        device.close()


def test_pending_push_claims_the_digits_of_a_pin_set_here_only(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        pid = device.create_profile("Ona", "LT-1", "prison_officer", "en", "2580", "2580")
        (pending,) = device.store.profiles.pending_push()
        assert pending["pin_digits"] == 4
        device.store.profiles.mark_pushed([pid])
        device.set_setting(PIN_POLICY_SETTING, 6)
        session = Session(device)
        assert session.sign_in(pid, "2580")                  # the short PIN still works
        assert session.change_pin("2580", "147036", "147036")
        (pending,) = device.store.profiles.pending_push()
        assert pending["pin_digits"] == 6 and pending["pin_proof"]
        assert not session.change_pin("0000", "258013", "258013")   # wrong old PIN
        assert session.view.form_error is not None
        assert session.view.form_error.code == ErrorCode.PIN_WRONG
    finally:
        device.close()


def test_the_new_profile_form_names_the_policy(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        session = Session(device)
        view, _ctx, _rec = build(session, "/profiles/new")
        # the rule is the field's helper line (a one-line label was cut at 360 px, issue 17)
        pin = by_key(view, "f-pin")
        assert (pin.label, pin.helper) == ("PIN", "4 to 8 digits")
        device.set_setting(PIN_POLICY_SETTING, 6)
        view, _ctx, _rec = build(session, "/profiles/new")
        assert by_key(view, "f-pin").helper == "6 to 8 digits"
    finally:
        device.close()


def test_a_learner_changes_her_pin_in_settings_under_the_policy(tmp_path: Path) -> None:
    from tests.e2e.ui_fixtures import click, signed_in, type_text

    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        session = signed_in(device)                     # PIN "2580", made under 4 digits
        device.set_setting(PIN_POLICY_SETTING, 6)
        view, _ctx, _rec = build(session, "/settings")
        assert by_key(view, "pin-new").label == "New PIN (6 to 8 digits)"
        type_text(by_key(view, "pin-old"), "2580")
        type_text(by_key(view, "pin-new"), "1357")
        type_text(by_key(view, "pin-new-again"), "1357")
        click(by_key(view, "pin-change"))
        view, _ctx, _rec = build(session, "/settings")
        assert by_key(view, "pin-change-error").value == (
            "This organisation requires a PIN of at least 6 digits.")
        type_text(by_key(view, "pin-old"), "2580")
        type_text(by_key(view, "pin-new"), "147036")
        type_text(by_key(view, "pin-new-again"), "147036")
        click(by_key(view, "pin-change"))
        assert "Your PIN was changed." in [f.text for f in session.view.flashes]
        pid = session.learner_id
        session.lock()
        assert pid is not None and Session(device).sign_in(pid, "147036")
    finally:
        device.close()


@pytest.mark.parametrize("on_server", [False, True])
def test_home_asks_for_a_new_pin_when_it_is_below_the_policy(tmp_path: Path,
                                                             on_server: bool) -> None:
    """A profile made offline with 4 digits before the tablet learnt a 6-digit policy:
    the server refuses it (`pin_too_short`), so its work waits. Home says so and offers
    the change right there; once changed, the notice is gone."""
    from tests.e2e.ui_fixtures import all_text, click, type_text

    device = make_device(tmp_path, ManualClock())
    try:
        pid = device.create_profile("Ona", "LT-1", "prison_officer", "en", "2580", "2580")
        if on_server:                                        # a push took it
            device.store.profiles.pending_push()
            assert device.store.profiles.mark_pushed([pid]) == 1
        session = Session(device)
        assert session.sign_in(pid, "2580") and not session.pin_below_policy
        view, _ctx, _rec = build(session, "/home")
        assert "pin-policy-card" not in [getattr(c, "key", None) for c in _walk(view)]
        session.lock()
        device.set_setting(PIN_POLICY_SETTING, 6)           # learnt at the next pull
        assert session.sign_in(pid, "2580") and session.pin_below_policy
        assert session.new_pin_waits_for_server is (not on_server)
        view, _ctx, _rec = build(session, "/home")
        assert by_key(view, "pin-policy-notice").value == (
            "This organisation now requires a PIN of at least 6 digits. Please choose a new PIN.")
        waits = "Until you do, your work stays on this tablet and is not sent."
        assert (waits in all_text(view)) is (not on_server)
        type_text(by_key(view, "pin-old"), "2580")
        type_text(by_key(view, "pin-new"), "147036")
        type_text(by_key(view, "pin-new-again"), "147036")
        click(by_key(view, "pin-change"))
        assert not session.pin_below_policy
        view, _ctx, _rec = build(session, "/home")
        assert "pin-policy-card" not in [getattr(c, "key", None) for c in _walk(view)]
        (pending,) = device.store.profiles.pending_push()
        assert pending["pin_digits"] == 6
    finally:
        device.close()


def _walk(view: object) -> list[object]:
    from tests.e2e.ui_fixtures import walk
    return list(walk(view))
