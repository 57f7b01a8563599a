"""Issue 17, the parts decided below the UI: the idle clock with its "Still there?"
window, the sync badge after a failure, sync sentences drawn in the current language.
Hand-driven clocks, real device folders, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import flet as ft
import pytest

from app.core.application import IdleLock, IdleState, QuizPosition, Session, quiz_position
from app.core.application.sync import SyncState, summarise
from app.core.clock import now_iso
from app.core.errors import ErrorCode, StoreError, SyncError
from app.core.i18n import translator
from app.core.learning.quiz import QuestionView
from app.core.learning.text import Text
from app.ui import routes, screens
from tests.e2e.ui_fixtures import (
    PIN,
    ManualClock,
    build,
    by_key,
    click,
    context,
    has_key,
    make_device,
    signed_in,
    walk,
)
from tests.support.server import free_port


# -- idle clock ------------------------------------------------------------------------------
def test_the_prompt_comes_twenty_seconds_before_the_lock() -> None:
    clock = ManualClock()
    lock = IdleLock(180, clock)
    clock.advance(159.5)
    assert lock.state() is IdleState.ACTIVE
    clock.advance(0.5)
    assert lock.state() is IdleState.WARNING and lock.seconds_left() == 20
    clock.advance(0.2)
    assert lock.seconds_left() == 20      # rounded up: never "0 seconds" before the lock
    clock.advance(19.8)
    assert lock.state() is IdleState.EXPIRED and lock.seconds_left() == 0


def test_activity_in_the_warning_window_ends_it() -> None:
    clock = ManualClock()
    lock = IdleLock(180, clock)
    clock.advance(170)
    assert lock.state() is IdleState.WARNING
    lock.touch()                          # a scroll, a key, "I'm still here"
    assert lock.state() is IdleState.ACTIVE and lock.seconds_left() == 180


@pytest.mark.parametrize(("timeout", "window"), [(5, 2.5), (20, 10), (40, 20), (3600, 20)])
def test_short_timeouts_get_at_most_half_as_warning(timeout: int, window: float) -> None:
    clock = ManualClock()
    lock = IdleLock(timeout, clock)
    assert lock.warning_seconds == window
    clock.advance(timeout - window - 0.01)
    assert lock.state() is IdleState.ACTIVE
    clock.advance(0.01)
    assert lock.state() is IdleState.WARNING


def test_session_idle_states_and_the_lock_drops_everything(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock)
    try:
        session = signed_in(device)
        session.view.quiz_choice = ["a"]
        clock.advance(165)
        assert session.idle_state() is IdleState.WARNING
        assert not session.check_idle()   # a warning locks nothing
        assert session.signed_in
        clock.advance(15)
        assert session.idle_state() is IdleState.EXPIRED
        assert session.check_idle()
        assert not session.signed_in and session.work is None
        assert session.view.quiz_choice == []
        assert session.idle_state() is IdleState.ACTIVE   # nobody to warn
    finally:
        device.close()


# -- the sync badge -----------------------------------------------------------------------------
NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", [SyncState.FAILED, SyncState.OFFLINE,
                                   SyncState.NOT_ENROLLED])
def test_a_failed_attempt_is_never_online(state: SyncState) -> None:
    recent = NOW - timedelta(minutes=2)
    ok = summarise(recent, NOW, server_url="", client_installed=True, state=SyncState.OK)
    assert ok.online and not ok.failed
    bad = summarise(recent, NOW, server_url="", client_installed=True, state=state)
    assert not bad.online and bad.failed and bad.last_sync == recent


def test_old_success_is_offline_even_without_a_failure() -> None:
    old = NOW - timedelta(minutes=16)
    assert not summarise(old, NOW, server_url="", client_installed=True).online


def test_the_badge_follows_the_syncer_state(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        device.set_setting("last_sync_at", now_iso())
        view, _ctx, _rec = build(session, "/home")
        assert "Online" in by_key(view, "sync-badge").tooltip
        # a real attempt that fails: nothing listens on this loopback port
        device.set_setting("server_url", f"http://127.0.0.1:{free_port()}")
        with pytest.raises(SyncError):
            device.sync_now()
        assert device.sync_summary().failed
        view, _ctx, _rec = build(session, "/home")
        badge = by_key(view, "sync-badge")
        assert "Offline" in badge.tooltip and "Online" not in badge.tooltip
    finally:
        device.close()


# -- sync sentences in the current language ---------------------------------------------------
def test_the_sync_outcome_is_translated_when_drawn(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        session = signed_in(device)
        session.view.sync_result = "done"
        view, _ctx, _rec = build(session, "/settings")
        assert by_key(view, "sync-message").value == "Sync finished."
        session.set_language("lt")
        view, _ctx, _rec = build(session, "/settings")
        assert by_key(view, "sync-message").value == "Sinchronizavimas baigtas."
        session.view.sync_result = SyncError("x", code=ErrorCode.SYNC_NETWORK)
        view, _ctx, _rec = build(session, "/settings")
        message = by_key(view, "sync-message").value
        assert message.startswith("Nepavyksta pasiekti serverio")
    finally:
        device.close()


# -- PIN lock-out and "Forgot PIN?" ----------------------------------------------------------
def test_a_locked_out_pad_is_visibly_off_and_says_whom_to_ask(tmp_path: Path) -> None:
    clock = ManualClock()
    device = make_device(tmp_path, clock, packs=False)
    try:
        pid = device.create_profile("Ona Petraitytė", "LT-1", "prison_officer", "en",
                                    PIN, PIN)
        session = Session(device)
        for _ in range(3):
            assert not session.sign_in(pid, "0000")
        assert session.pin_locked
        message = session.view.pin_error
        assert "Try again in" in message
        session.pin_press("5")              # does nothing, and keeps the count-down
        assert session.view.pin_digits == "" and session.view.pin_error == message
        view, _ctx, _rec = build(session, f"/pin/{pid}")
        assert by_key(view, "pin-5").disabled and by_key(view, "pin-del").disabled
        assert by_key(view, "pin-ok").disabled and has_key(view, "pin-locked")
        assert not has_key(view, "forgot-pin-help")
        click(by_key(view, "forgot-pin"))
        view, _ctx, _rec = build(session, f"/pin/{pid}")
        assert "administrator" in by_key(view, "forgot-pin-help").value
        clock.advance(3600)
        assert session.tick_pin_wait() and not session.pin_locked
        view, _ctx, _rec = build(session, f"/pin/{pid}")
        assert not by_key(view, "pin-5").disabled
        session.pin_press("5")
        assert session.view.pin_digits == "5"
    finally:
        device.close()


# -- display preferences belong to the learner ------------------------------------------------
def test_display_preferences_are_per_learner_and_applied_at_sign_in(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        ona = signed_in(device)
        ona.set_text_size("larger")
        ona.set_high_contrast(True)
        assert (ona.text_size, ona.high_contrast) == ("larger", True)
        ona.lock()
        # the sign-in screen uses the tablet default, untouched by Ona's choice
        assert (ona.text_size, ona.high_contrast) == ("normal", False)
        view, _ctx, _rec = build(ona, "/settings")
        assert "before sign-in" in by_key(view, "display-whose").value
        jonas = signed_in(device, "Jonas Kazlauskas", staff="LT-2")
        assert (jonas.text_size, jonas.high_contrast) == ("normal", False)   # not inherited
        jonas.lock()
        again = Session(device)
        pid = next(t.id for t in device.profiles.tiles() if t.name == "Ona Petraitytė")
        assert again.sign_in(pid, PIN)
        assert (again.text_size, again.high_contrast) == ("larger", True)
        # the tablet default changes only signed out, and a new learner starts with it
        again.lock()
        again.set_text_size("large")
        assert device.setting("text_size") == "large"
        assert signed_in(device, "Rasa", staff="LT-3").text_size == "large"
    finally:
        device.close()


@pytest.mark.parametrize("bad", [
    [], "x", {"": {}}, {"a" * 129: {}}, {"p": {"text_size": "Huge!"}},
    {"p": {"high_contrast": "yes"}}, {"p": {"font": "x"}}, {"p": "larger"},
    {f"p{i}": {} for i in range(501)}])
def test_the_learner_display_setting_is_checked(tmp_path: Path, bad: object) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        with pytest.raises(StoreError):
            device.set_setting("learner_display", bad)
        assert device.setting("learner_display", {}) == {}
    finally:
        device.close()


# -- numbers agree ------------------------------------------------------------------------------
def _item(qid: str, index: int, scenario: str | None = None) -> QuestionView:
    return QuestionView(id=qid, type="single", index=index, prompt=Text(qid, "en"),
                        options=(), scenario=scenario)


def test_a_scenario_counts_as_one_question_like_the_outline() -> None:
    # 12 questions drawn, two of them scenarios with 2 parts each: 14 screens
    items: list[QuestionView] = []
    for n in range(12):
        if n in (3, 7):
            items += [_item(f"s{n}.a", 0, f"s{n}"), _item(f"s{n}.b", 0, f"s{n}")]
        else:
            items.append(_item(f"q{n}", 0))
    items = [QuestionView(id=q.id, type=q.type, index=i, prompt=q.prompt, options=(),
                          scenario=q.scenario) for i, q in enumerate(items)]
    assert len(items) == 14
    positions = [quiz_position(items, i) for i in range(len(items))]
    assert {p.total for p in positions} == {12}
    assert positions[-1].number == 12
    assert positions[3] == QuizPosition(4, 12, 1, 2)
    assert positions[4] == QuizPosition(4, 12, 2, 2)
    assert positions[5] == QuizPosition(5, 12)
    with pytest.raises(IndexError):
        quiz_position(items, 14)


def test_the_outline_count_is_what_the_quiz_counts_to(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        outline = session.learning.outline("ui-demo", "safety")
        assert outline.quiz is not None
        att = session.learning.current_attempt("ui-demo", "safety", start=True)
        assert att is not None
        assert quiz_position(att.questions, 0).total == outline.quiz.questions
        view, _ctx, _rec = build(session, "/quiz/ui-demo/safety")
        assert by_key(view, "question-position").value == \
            f"Question 1 of {outline.quiz.questions}"
    finally:
        device.close()


@pytest.mark.parametrize(("lang", "value", "text"), [
    ("en", 2.8333, "2.8"), ("en", 1.8333, "1.8"), ("en", 3.0, "3"), ("lt", 2.8333, "2,8"),
    ("de", 0.25, "0,2"), ("en", 1.96, "2")])
def test_levels_have_one_decimal_at_most(lang: str, value: float, text: str) -> None:
    assert translator(lang).format_level(value) == text


def test_the_gap_report_numbers_duties_like_the_assessment(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        pv = session.assessment.view("ui-demo", "officer", start=True)
        numbers = session.assessment.duty_numbers(pv)
        duties = session.assessment.duties_to_rate(pv)
        assert [numbers[d.id] for d in duties] == list(range(1, len(duties) + 1))
        aid = pv.assessment
        assert aid is not None
        # rate the first duty low and the second high: the gap report lists duty 1 first
        for duty, level in zip(duties, (1, 3), strict=False):
            for task in duty.tasks:
                session.assessment.rate("ui-demo", "officer", aid, task.id, level)
        session.assessment.complete("ui-demo", "officer", aid)
        report = session.assessment.gap_report("ui-demo", "officer")
        view, _ctx, _rec = build(session, "/gap/ui-demo/officer")
        for d in report.duties:
            line = by_key(view, f"duty-line-{d.duty}").value
            assert line.startswith(f"{numbers[d.duty]}. ")
            assert f"expected {translator('en').format_level(d.expected)}," in line
            assert len(line.split("expected ")[1].split(",")[0]) <= 4   # "2.8", never "2.83"
    finally:
        device.close()


# -- images full screen -------------------------------------------------------------------------
def test_a_lesson_image_opens_full_screen_with_zoom_and_pan(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        path = "/lesson/ui-demo/safety/01-notice/1"
        view, _ctx, rec = build(session, path)
        image = next(c for c in walk(view) if str(getattr(c, "key", "")).startswith("image-"))
        click(image)
        assert rec.refreshes == 1 and session.view.zoom_image is not None
        view, _ctx, rec = build(session, path)
        viewer = by_key(view, "zoom-viewer")
        assert isinstance(viewer, ft.InteractiveViewer)
        assert viewer.pan_enabled and viewer.scale_enabled and viewer.max_scale >= 4
        assert not has_key(view, "next")          # the card is hidden behind it
        click(by_key(view, "zoom-close"))
        view, _ctx, rec = build(session, path)
        assert has_key(view, "next") and session.view.zoom_image is None
    finally:
        device.close()


# -- navigation labels on a narrow screen ---------------------------------------------------------
def test_navigation_labels_hide_rather_than_break_inside_a_word() -> None:
    from app.ui.widgets import labels_fit
    en = ["Courses", "Self-assessment", "My progress", "Settings"]
    lt = ["Kursai", "Įsivertinimas", "Mano pažanga", "Nustatymai"]
    assert labels_fit(en, 800, 12) and labels_fit(lt, 800, 13.8)
    assert labels_fit(en, None, 13.8)               # width unknown: show them
    assert not labels_fit(lt, 360, 12)              # "Įsivertinima/s"
    assert not labels_fit(en, 360, 13.8)            # "Self-assessmen/t" at Larger
    assert labels_fit(en, 360, 12)                  # "Self-/assessment" breaks at the hyphen


def test_a_narrow_screen_gets_icon_only_navigation(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        session = signed_in(device, language="lt")
        ctx, _rec = context(session)
        ctx.width = 360
        view = screens.build(ctx, routes.resolve("/progress", True))
        assert view.navigation_bar.label_behavior == ft.NavigationBarLabelBehavior.ALWAYS_HIDE
        assert [d.tooltip for d in view.navigation_bar.destinations][1] == "Įsivertinimas"
        ctx.width = 1280
        view = screens.build(ctx, routes.resolve("/progress", True))
        assert view.navigation_bar.label_behavior is None
    finally:
        device.close()
