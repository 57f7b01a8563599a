"""app.core.application: the layer the views call — real Store, real installed pack."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from app.core import pins
from app.core.application import (
    DEFAULT_IDLE_LOCK_SECONDS,
    Block,
    CardPlace,
    CoursePlace,
    Device,
    IdleLock,
    NewProfile,
    ProfileFormError,
    Session,
    card_blocks,
    clamp_idle_seconds,
    initials,
    lesson_link_target,
    pin_error_message,
    validate_new_profile,
    wait_seconds_of,
)
from app.core.errors import AuthError, ErrorCode, PinLockedError, StoreError, SyncError
from app.core.i18n import translator
from app.core.store import erasure, wipe
from app.ui.messages import error_sentence
from tests.e2e.ui_fixtures import PIN, ManualClock, make_device, signed_in

GOOD = ("Ona Petraitytė", "LT-1", "prison_officer", "lt", "2580", "2580")


# -- the new-profile form ------------------------------------------------------------
def test_valid_profile_form_is_cleaned() -> None:
    clean = validate_new_profile("  Ona   Petraitytė ", " LT-1 ", "prison_officer", "lt",
                                 "2580", "2580")
    assert clean == NewProfile(display_name="Ona Petraitytė", staff_number="LT-1",
                               role="prison_officer", language="lt", pin="2580")


@pytest.mark.parametrize(("index", "value", "field", "code"), [
    (0, "", "display_name", "name_missing"),
    (0, "   ", "display_name", "name_missing"),
    (0, None, "display_name", "name_missing"),
    (0, "x" * 81, "display_name", "name_too_long"),         # the shared limit (80)
    (0, "Eve\u202e", "display_name", "name_bad"),           # bidi override
    (0, "Eve\x1b[31m", "display_name", "name_bad"),         # ESC
    (0, "Eve\x00", "display_name", "name_bad"),             # NUL
    (0, "Ona\u200bP", "display_name", "name_bad"),
    (0, "Ona\x07", "display_name", "name_bad"),
    (1, "", "staff_number", "staff_number_missing"),
    (1, "../../etc", "staff_number", "staff_number_bad"),
    (1, "<script>", "staff_number", "staff_number_bad"),
    (1, "S" * 65, "staff_number", "staff_number_too_long"),
    (2, "warden", "role", "role_unknown"),
    (2, None, "role", "role_unknown"),
    (3, "xx", "language", "language_unknown"),
    (3, "../lt", "language", "language_unknown"),
    (4, "12a4", "pin", "pin_bad"),
    (4, "123", "pin", "pin_bad"),
    (4, "123456789", "pin", "pin_bad"),
    (4, "1234", "pin", "pin_trivial"),
    (4, "9999", "pin", "pin_trivial"),
    (4, "8765", "pin", "pin_trivial"),
    (5, "2581", "pin_again", "pin_mismatch"),
])
def test_bad_profile_form_names_the_field(index: int, value: object, field: str,
                                          code: str) -> None:
    args: list[object] = list(GOOD)
    args[index] = value
    with pytest.raises(ProfileFormError) as err:
        validate_new_profile(*args)
    assert (err.value.field, err.value.code) == (field, code)
    assert isinstance(err.value.code, ErrorCode)
    assert error_sentence(translator("lt"), err.value) != error_sentence(translator("en"),
                                                                         err.value)


def test_initials() -> None:
    assert initials("Ona Petraitytė") == "OP"
    assert initials("Ion") == "I"
    assert initials("  ") == "?"
    assert initials("123") == "1"


# -- idle lock and PIN delays (pure, injected clock) -----------------------------------
def test_idle_lock_counts_from_last_activity() -> None:
    clock = ManualClock()
    lock = IdleLock(60, clock)
    clock.advance(59)
    assert not lock.expired()
    lock.touch()
    clock.advance(59.5)
    assert not lock.expired() and lock.remaining() == pytest.approx(0.5)
    clock.advance(0.5)
    assert lock.expired() and lock.remaining() == 0


@pytest.mark.parametrize(("value", "expected"), [
    (None, DEFAULT_IDLE_LOCK_SECONDS), ("x", DEFAULT_IDLE_LOCK_SECONDS), (-5, 5), (0, 5),
    (30, 30), ("45", 45), (10**9, 3600)])
def test_idle_seconds_are_clamped(value: object, expected: int) -> None:
    assert clamp_idle_seconds(value) == expected


def test_pin_messages() -> None:
    tr = translator("en")
    assert pin_error_message(tr, AuthError("wrong PIN; 2 more tries before a 30 second wait")) \
        == "Wrong PIN. Try again."
    locked = PinLockedError("locked", wait_seconds=30)
    assert wait_seconds_of(locked) == 30
    assert pin_error_message(tr, locked) == "Wrong PIN. Try again in 30 seconds."
    assert pin_error_message(translator("lt"), PinLockedError("x", wait_seconds=1)) == \
        "Neteisingas PIN kodas. Bandykite dar kartą po 1 sekundės."


# -- card content ------------------------------------------------------------------------
def test_card_blocks_split_images_and_drop_remote_ones() -> None:
    md = ("Intro **bold**\n\n![Ladder](media/safety/ladder.png)\n\nMiddle\n\n"
          "![remote](https://evil.example/x.png) ![up](../../secret.png) "
          "![abs](/etc/passwd)\n\nEnd")
    blocks = card_blocks(md)
    assert blocks[0] == Block("markdown", "Intro **bold**")
    assert blocks[1] == Block("image", "Ladder", "media/safety/ladder.png")
    assert [b.kind for b in blocks].count("image") == 1
    joined = " ".join(b.text for b in blocks)
    assert "remote" in joined and "https://" not in " ".join(b.path for b in blocks)
    assert blocks[-1].text.endswith("End")
    assert card_blocks("") == []


def test_lesson_links() -> None:
    assert lesson_link_target("lesson:safety/02-act#talk-first") == ("safety", "02-act",
                                                                     "talk-first")
    assert lesson_link_target("lesson:safety/02-act") == ("safety", "02-act", "")
    for bad in ("https://example.org", "lesson:../x/y", "lesson:a", "", "javascript:alert(1)"):
        assert lesson_link_target(bad) is None


# -- the device with a real store and pack ----------------------------------------------
def test_profiles_and_sign_in(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock)
    pid = device.create_profile(*GOOD)
    tiles = device.profiles.tiles()
    assert [(t.id, t.name, t.initials, t.role) for t in tiles] == [
        (pid, "Ona Petraitytė", "OP", "prison_officer")]
    with pytest.raises(ProfileFormError):
        device.create_profile("Ona", "LT-2", "prison_officer", "lt", "1111", "1111")
    with pytest.raises(StoreError):  # the store refuses a staff number used twice
        device.create_profile("Ona B", "LT-1", "prison_officer", "lt", "2580", "2580")

    session = Session(device)
    assert session.locale == "en"
    assert not session.sign_in(pid, "0000")
    assert session.view.pin_error == "Neteisingas PIN kodas. Bandykite dar kartą." or \
        session.view.pin_error == "Wrong PIN. Try again."
    assert not session.signed_in
    assert session.sign_in(pid, "2580")
    assert session.signed_in and session.locale == "lt"
    assert session.display_name == "Ona Petraitytė"


def test_wrong_pins_make_a_growing_wait(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    pid = device.create_profile(*GOOD)
    session = Session(device)
    waits = []
    for _ in range(6):
        session.view.pin_wait_until = 0  # the learner waited the time out on the pad
        session.sign_in(pid, "0000")
        waits.append(wait_seconds_of(_last_store_error(device, pid)))
    assert waits[-1] > 0
    assert waits == sorted(waits)
    # The pad itself refuses to try while the wait runs, with the number of seconds.
    session.view.pin_wait_until = device.clock() + 20
    assert not session.sign_in(pid, "2580")
    assert "20" in session.view.pin_error


def _last_store_error(device: Device, pid: str) -> AuthError:
    try:
        device.store.profiles.verify_pin(pid, "0000")
    except AuthError as exc:
        return exc
    raise AssertionError("a wrong PIN was accepted")


def test_idle_lock_forgets_the_learner(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock)
    session = signed_in(device)
    assert session.learning.library().courses
    session.view.quiz_choice = ["a"]
    clock.advance(DEFAULT_IDLE_LOCK_SECONDS - 1)
    assert not session.check_idle()
    session.touch()
    clock.advance(DEFAULT_IDLE_LOCK_SECONDS)
    assert session.check_idle()
    assert not session.signed_in and session.learner is None and session.work is None
    assert session.learner_id is None and session.view.quiz_choice == []
    assert session.locked_by_idle
    with pytest.raises(AuthError):
        session.learning.library()
    assert not session.check_idle()  # nothing to lock twice


def test_a_lock_forgets_the_learners_work_even_when_closing_it_fails(tmp_path: Path) -> None:
    """Closing the work raises (a disk error, the store closed under it): the lock still
    forgets it — it used to keep the learner's engines, reachable after the lock."""
    device = make_device(tmp_path, ManualClock())
    session = signed_in(device)
    assert session.work is not None

    def fails() -> None:
        raise StoreError("the store is closed")
    session.work.close = fails                            # type: ignore[method-assign]
    with pytest.raises(StoreError):
        session.lock()
    assert session.work is None and not session.signed_in
    with pytest.raises(AuthError):
        session.learning.library()


@pytest.mark.parametrize("how", ["erased", "wiped"])
def test_a_learner_whose_profile_left_the_tablet_is_signed_out(tmp_path: Path,
                                                               how: str) -> None:
    """A background sync erased the learner on the server's word, or wiped the revoked
    tablet: the next tick of the idle clock locks the session at once."""
    device = make_device(tmp_path, ManualClock())
    session = signed_in(device)
    assert session.learner_id is not None and not session.check_idle()
    if how == "erased":
        erasure.purge(device.store, [session.learner_id])
    else:
        wipe.wipe_learner_data(device.store)
    assert session.check_idle()
    assert not session.signed_in and session.work is None and not session.locked_by_idle


def test_idle_timeout_comes_from_settings_or_env(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    monkeypatch.delenv("SHIFT_IDLE_LOCK_SECONDS", raising=False)
    assert device.idle_lock_seconds == 180
    device.set_setting("idle_lock_seconds", 60)
    assert device.idle_lock_seconds == 60
    monkeypatch.setenv("SHIFT_IDLE_LOCK_SECONDS", "12")
    assert device.idle_lock_seconds == 12


def test_reading_records_events_and_resumes_at_the_same_card(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock)
    session = signed_in(device)
    pid = session.learner_id
    lesson = session.learning.open_lesson("ui-demo", "safety", "01-notice")
    assert len(lesson.cards) == 3
    clock.advance(42)
    assert session.learning.finish_card("ui-demo", "safety", "01-notice", 0) == \
        CardPlace("ui-demo", "safety", "01-notice", 1)        # the next card (no UI route)
    events = device.store.events(pid)
    assert [e["type"] for e in events] == ["lesson.opened", "card.viewed"]
    assert events[1]["data"]["seconds"] == 42.0
    session.lock()
    session = Session(device)
    assert session.sign_in(str(pid), PIN)
    resume = session.learning.library().resume
    assert (resume.kind, resume.lesson, resume.card) == ("lesson", "01-notice", 1)
    assert "card 2 of 3" in session.learning.resume_label(resume, session.translator)
    # reopening the same lesson does not log lesson.opened again within one visit
    session.learning.open_lesson("ui-demo", "safety", "01-notice")
    session.learning.open_lesson("ui-demo", "safety", "01-notice")
    assert [e["type"] for e in device.store.events(str(pid))].count("lesson.opened") == 2
    for card in (1, 2):
        nxt = session.learning.finish_card("ui-demo", "safety", "01-notice", card)
    assert nxt == CoursePlace("ui-demo", "safety")              # back to the outline
    assert session.learning.outline("ui-demo", "safety").lessons[0].state == "done"


def test_links_media_and_language(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    session = signed_in(device)
    assert session.learning.link_target("ui-demo", "lesson:safety/02-act#talk-first") == \
        CardPlace("ui-demo", "safety", "02-act", 1)
    assert session.learning.link_target("ui-demo", "lesson:safety/nope") is None
    assert session.learning.link_target("ui-demo", "https://example.org") is None
    media = device.content.media_file("ui-demo", "media/safety/ladder.png")
    assert media is not None and media.read_bytes().startswith(b"\x89PNG")
    for pack, path in [("ui-demo", "../store/x"), ("ui-demo", "media/../../x"),
                       ("../ui-demo", "media/safety/ladder.png"), ("nope", "media/x.png"),
                       ("ui-demo", "media/none.png"),
                       ("ui-demo", "lessons/safety/01-notice.en.json")]:
        assert device.content.media_file(pack, path) is None
    session.set_language("lt")
    assert session.locale == "lt"
    assert session.learning.library().courses[0].title.text == "Saugumas skyriuje"
    lesson = session.learning.open_lesson("ui-demo", "safety", "02-act")
    assert lesson.fallback and lesson.lang == "en"  # lt is partial in the fixture pack
    with pytest.raises(StoreError):
        session.set_language("xx")
    assert device.profiles.get(str(session.learner_id)).language == "lt"


def test_sync_without_a_server_fails_with_a_sync_error(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    status = device.sync_summary()
    assert status.last_sync is None and not status.online
    with pytest.raises(SyncError):
        device.sync_now()


def test_storage_and_licences(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    assert device.storage_bytes() > 1000
    (pack,) = device.content.licences()
    assert pack.title["en"] == "UI demo pack" and pack.licence == "CC BY-SA 4.0"
    assert pack.authors == ["Shift Learning tests"]


def test_pin_pad_keys(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    session = Session(device)
    session.view.pin_error = "old"
    for key in ["1", "x", "", "12", "del", "2", *"34567890"]:
        session.pin_press(key)
    assert session.view.pin_digits == "23456789"  # 8 digits at most, junk ignored
    assert session.view.pin_error == ""
    for _ in range(10):
        session.pin_press("del")
    assert session.view.pin_digits == ""


def test_pin_wait_counts_down_on_the_pad(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock, packs=False)
    pid = device.create_profile(*GOOD)
    session = Session(device)
    assert not session.tick_pin_wait()  # nothing running
    session.view.pin_wait_until = clock() + 2.5
    assert session.tick_pin_wait()
    assert session.view.pin_error == "Wrong PIN. Try again in 3 seconds."
    assert not session.tick_pin_wait()  # same second: nothing to redraw
    clock.advance(1)
    assert session.tick_pin_wait() and session.view.pin_error.endswith("in 2 seconds.")
    clock.advance(2)
    assert session.tick_pin_wait()
    assert session.view.pin_error == "You can try your PIN again."
    assert session.pin_wait() == 0 and not session.tick_pin_wait()
    assert session.sign_in(pid, "2580")
    assert not session.tick_pin_wait()


def test_a_plain_wrong_pin_starts_no_countdown(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    pid = device.create_profile(*GOOD)
    session = Session(device)
    assert not session.sign_in(pid, "0000")
    assert session.view.pin_error == "Wrong PIN. Try again."
    assert not session.tick_pin_wait() and session.view.pin_error == "Wrong PIN. Try again."


def test_the_form_takes_what_the_server_takes() -> None:
    """One set of field rules (app/core/profile_rules.py): a 64-character staff number and
    an 80-character name are fine on the tablet as on the server."""
    args: list[object] = list(GOOD)
    args[0], args[1] = "Ž" * 80, "S" * 64
    clean = validate_new_profile(*args)
    assert (len(clean.display_name), len(clean.staff_number)) == (80, 64)
    args[1] = "ＬＴ  0042"                              # full-width, two spaces
    assert validate_new_profile(*args).staff_number == "LT 0042"


CODE = "K7QF-M2XP-9HTR"
ADMIN_MADE = {"id": "5a1e0000-0000-4000-8000-000000000001", "display_name": "Petras Petraitis",
              "staff_number": "LT-0099", "role": "prison_officer", "language": "lt",
              "pin_verifier": None, "updated_at": "2026-11-20T10:00:00.000Z",
              "pin_setup_verifier": pins.make_setup_verifier(CODE),
              "pin_setup_expires_at": "2099-01-01T00:00:00.000Z"}


def test_first_pin_for_an_admin_registered_profile(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    device.store.profiles.upsert_remote([ADMIN_MADE])
    pid = ADMIN_MADE["id"]
    (tile,) = device.profiles.tiles()
    assert (tile.id, tile.needs_pin) == (pid, True) and device.profiles.needs_pin(pid)
    session = Session(device)
    # the PIN pad cannot sign in to it, and says why
    assert not session.sign_in(pid, "2468")
    assert session.view.pin_error == "This profile has no PIN yet. Set your PIN first."
    # same rules as a new profile, field by field
    for pin, again, field in (("12", "12", "pin"), ("1234", "1234", "pin"),
                              ("2468", "2469", "pin_again"), (None, None, "pin")):
        assert not session.set_first_pin(pid, pin, again, code=CODE)
        assert session.view.form_error is not None and session.view.form_error.field == field
        assert not session.signed_in and device.profiles.needs_pin(pid)
    # without the one-time code from the admin, or with a wrong one: nobody gets in
    for code, why in ((None, "code_missing"), (" - ", "code_missing"),
                      ("AAAA-BBBB-CCCC", "code_wrong")):
        assert not session.set_first_pin(pid, "2468", "2468", code=code)
        assert (session.view.form_error.field, session.view.form_error.code) == ("code", why)
        assert error_sentence(translator("lt"), session.view.form_error) != \
            error_sentence(translator("en"), session.view.form_error)
        assert not session.signed_in and device.profiles.needs_pin(pid)
    assert session.set_first_pin(pid, "2468", "2468", code=CODE.lower())
    assert session.signed_in and session.learner_id == pid and session.locale == "lt"
    assert not device.profiles.needs_pin(pid) and session.view.form_error is None
    (pending,) = device.store.profiles.pending_push()
    assert pending["id"] == pid and pending["pin_verifier"].startswith("argon2id$")
    assert pins.proof_matches(ADMIN_MADE["pin_setup_verifier"],
                              pins.decode_proof(pending["pin_proof"]))
    # once set, nobody can "set a first PIN" again: the old PIN is needed to change it
    session.lock()
    other = Session(device)
    assert not other.set_first_pin(pid, "9753", "9753", code=CODE)
    assert other.view.form_message == "This profile already has a PIN. Sign in with it."
    assert not other.signed_in
    assert other.sign_in(pid, "2468")


def test_first_pin_on_an_unknown_profile_signs_nobody_in(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    session = Session(device)
    assert not device.profiles.needs_pin("nope")
    assert not session.set_first_pin("nope", "2468", "2468", code=CODE)
    assert session.view.form_message and not session.signed_in


def test_the_idle_lock_counts_the_time_the_tablet_sleeps() -> None:
    """time.monotonic stops while Linux / Android sleeps, and a tablet's screen timeout
    is shorter than the idle lock: a learner's session must not outlive hours of sleep.
    The default clock is CLOCK_BOOTTIME where the system has it."""
    import time

    from app.core.application import idle
    from app.core.clock import awake_or_asleep
    assert idle.IdleLock().clock is awake_or_asleep
    assert inspect.signature(Device.open).parameters["clock"].default is awake_or_asleep
    if hasattr(time, "CLOCK_BOOTTIME"):
        before = time.clock_gettime(time.CLOCK_BOOTTIME)
        assert before <= awake_or_asleep() <= time.clock_gettime(time.CLOCK_BOOTTIME)
