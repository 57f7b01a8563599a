"""Every view builder, built without a browser and driven through its handlers, on a
real device folder (Store + installed ui-demo pack)."""

from __future__ import annotations

from pathlib import Path

import flet as ft
import flet_charts as fch
import pytest

from app.core.application import Device, Session
from app.ui import routes, screens
from app.ui.theme import build_theme
from tests.e2e.ui_fixtures import (
    PIN,
    ManualClock,
    all_text,
    build,
    by_key,
    click,
    has_key,
    make_device,
    signed_in,
    type_text,
    walk,
)


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return make_device(tmp_path, ManualClock())


# -- who is learning / new profile / PIN pad ------------------------------------------
def test_who_screen_without_profiles_offers_to_create_one(device: Device) -> None:
    view, _ctx, rec = build(Session(device), "/")
    text = all_text(view)
    assert "Who is learning?" in text and "No profiles on this tablet yet" in text
    click(by_key(view, "new-profile"))
    assert rec.routes == ["/profiles/new"]
    click(by_key(view, "settings"))
    assert rec.routes[-1] == "/settings"


def test_new_profile_form_refuses_then_creates_and_signs_in(device: Device) -> None:
    session = Session(device)
    view, _ctx, rec = build(session, "/profiles/new")
    type_text(by_key(view, "f-name"), "Ion Popescu")
    click(by_key(view, "create"))
    assert rec.refreshes == 1
    assert session.view.form_error is not None and session.view.form_error.field == "staff_number"
    view, _ctx, rec = build(session, "/profiles/new")
    assert by_key(view, "f-name").value == "Ion Popescu"  # typed text survives the refresh
    assert by_key(view, "f-staff").error == "Enter your staff number."
    assert "Enter your staff number." in all_text(by_key(view, "form-error"))
    type_text(by_key(view, "f-staff"), "RO-77")
    click(by_key(view, "role-social_worker"))
    click(by_key(view, "lang-ro"))
    view, _ctx, rec = build(session, "/profiles/new")
    assert by_key(view, "role-social_worker").selected and by_key(view, "lang-ro").selected
    type_text(by_key(view, "f-pin"), "4827")
    type_text(by_key(view, "f-pin2"), "4827")
    click(by_key(view, "create"))
    assert rec.routes == ["/home"]
    assert session.signed_in and session.locale == "ro"
    assert [t.name for t in device.profiles.tiles()] == ["Ion Popescu"]
    # back on the who screen, the form is empty again (nothing personal kept around)
    session.lock()
    build(session, "/")
    assert session.view.form == {}


def test_pin_pad_signs_in_and_shows_wrong_pin(device: Device) -> None:
    pid = device.create_profile("Ona Petraitytė", "LT-1", "prison_officer", "lt", PIN, PIN)
    session = Session(device)
    view, _ctx, rec = build(session, "/")
    click(by_key(view, f"profile-{pid}"))
    assert rec.routes == [f"/pin/{pid}"]
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "pin-ok").disabled
    for digit in "1111":
        click(by_key(view, f"pin-{digit}"))
    click(by_key(view, "pin-del"))
    assert session.view.pin_digits == "111"
    click(by_key(view, "pin-1"))
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert not by_key(view, "pin-ok").disabled
    assert by_key(view, "pin-dots").semantics_label == "4 digits entered"
    click(by_key(view, "pin-ok"))
    assert not session.signed_in and rec.routes == []
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "pin-error").value == "Wrong PIN. Try again."
    assert session.view.pin_digits == ""
    for digit in PIN:
        click(by_key(view, f"pin-{digit}"))
    click(by_key(view, "pin-ok"))
    assert session.signed_in and rec.routes == ["/home"]


def test_pin_screen_of_an_unknown_profile_shows_the_who_screen(device: Device) -> None:
    view, _ctx, _rec = build(Session(device), "/pin/not-a-profile")
    assert "Who is learning?" in all_text(view)


# -- home, course, lesson ---------------------------------------------------------------
def test_home_lists_courses_and_then_offers_to_continue(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, rec = build(session, "/home")
    text = all_text(view)
    assert "Hello, Ona Petraitytė" in text and "Never synced" in text
    assert not has_key(view, "resume-card")
    assert isinstance(view.navigation_bar, ft.NavigationBar)
    click(by_key(view, "course-ui-demo-safety"))
    assert rec.routes == ["/course/ui-demo/safety"]
    session.learning.open_lesson("ui-demo", "safety", "01-notice")
    session.learning.finish_card("ui-demo", "safety", "01-notice", 0)
    view, _ctx, rec = build(session, "/home")
    assert "Lesson 1: Noticing change · card 2 of 3" in all_text(by_key(view, "resume-card"))
    click(by_key(view, "continue"))
    assert rec.routes == ["/lesson/ui-demo/safety/01-notice/1"]
    click(by_key(view, "lock"))
    assert not session.signed_in and rec.routes[-1] == "/"


def test_course_outline(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, rec = build(session, "/course/ui-demo/safety")
    text = all_text(view)
    assert "Safety on the wing" in text and "3 questions" in text and "Pass mark 70%" in text
    assert "3 attempts left" in text
    click(by_key(view, "course-continue"))
    assert rec.routes == ["/lesson/ui-demo/safety/01-notice/0"]
    click(by_key(view, "lesson-02-act"))
    click(by_key(view, "take-quiz"))
    assert rec.routes[1:] == ["/lesson/ui-demo/safety/02-act/0", "/quiz/ui-demo/safety"]
    assert session.learning.outline("ui-demo", "safety").quiz.open_attempt is not None


def test_lesson_reader_cards_image_swipe_and_text_size(device: Device) -> None:
    session = signed_in(device)
    view, ctx, rec = build(session, "/lesson/ui-demo/safety/01-notice/1")
    assert by_key(view, "card-title").value == "Look for change"
    assert by_key(view, "card-position").value == "Card 2 of 3"
    images = [c for c in walk(view) if isinstance(c, ft.Image)]
    assert [i.src for i in images] == ["/packmedia/ui-demo/media/safety/ladder.png"]
    assert images[0].semantics_label == "A ladder of steps from calm to crisis"
    assert not any(isinstance(c, ft.Markdown) and "http" in c.value for c in walk(view))
    click(by_key(view, "prev"))
    click(by_key(view, "next"))
    assert rec.routes == ["/lesson/ui-demo/safety/01-notice/0",
                          "/lesson/ui-demo/safety/01-notice/2"]
    swipe = by_key(view, "swipe")
    swipe.on_horizontal_drag_end(type("E", (), {"primary_velocity": -900.0})())
    swipe.on_horizontal_drag_end(type("E", (), {"primary_velocity": 900.0})())
    swipe.on_horizontal_drag_end(type("E", (), {"primary_velocity": 10.0})())
    assert rec.routes[2:] == ["/lesson/ui-demo/safety/01-notice/2",
                              "/lesson/ui-demo/safety/01-notice/0"]
    click(by_key(view, "text-larger"))
    assert session.text_size == "large" and rec.refreshes == 1
    view, _ctx, rec = build(session, "/lesson/ui-demo/safety/01-notice/2")
    assert by_key(view, "next").content.value == "Finish lesson"
    click(by_key(view, "next"))
    assert rec.routes == ["/course/ui-demo/safety"]
    # out-of-range card numbers are clamped, not an error
    view, _ctx, _rec = build(session, "/lesson/ui-demo/safety/01-notice/99")
    assert by_key(view, "card-position").value == "Card 3 of 3"


def test_lesson_in_a_missing_language_says_so(device: Device) -> None:
    session = signed_in(device, language="lt")
    view, _ctx, _rec = build(session, "/lesson/ui-demo/safety/02-act/0")
    assert "Rodoma kalba „English“: dar neišversta." in all_text(by_key(view, "fallback-note"))
    view, _ctx, _rec = build(session, "/lesson/ui-demo/safety/01-notice/0")
    assert not has_key(view, "fallback-note")


def test_links_in_cards(device: Device) -> None:
    session = signed_in(device)
    view, ctx, rec = build(session, "/lesson/ui-demo/safety/01-notice/2")
    md = next(c for c in walk(view) if isinstance(c, ft.Markdown))
    md.on_tap_link(type("E", (), {"data": "lesson:safety/02-act#talk-first"})())
    assert rec.routes == ["/lesson/ui-demo/safety/02-act/1"]
    md.on_tap_link(type("E", (), {"data": "https://example.org/rules"})())
    assert ctx.flashes and "https://example.org/rules" in ctx.flashes[0]


# -- quiz, results, review ----------------------------------------------------------------
def test_quiz_feedback_results_and_retry(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert "3 attempts left" in by_key(view, "quiz-facts").value  # nothing spent yet
    build(session, "/quiz/ui-demo/safety")
    assert session.learning.outline("ui-demo", "safety").quiz.attempts_used == 0
    click(by_key(view, "start-quiz"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert by_key(view, "question-position").value == "Question 1 of 3"
    assert by_key(view, "check").disabled
    click(by_key(view, "option-a"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert by_key(view, "option-a").bgcolor == ft.Colors.PRIMARY_CONTAINER
    click(by_key(view, "check"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    text = all_text(view)
    assert "Not quite" in text and "Change matters even without a broken rule." in text
    assert "Right: you show concern and the team can act." in text  # the right answer's why
    assert "Change in behaviour is a signal" in all_text(by_key(view, "explanation"))
    click(by_key(view, "next-question"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert "Choose all that apply." in all_text(view)
    click(by_key(view, "option-a"))
    click(by_key(view, "option-b"))
    click(by_key(view, "option-c"))
    click(by_key(view, "option-c"))  # a second tap unselects (multiple choice)
    assert session.view.quiz_choice == ["a", "b"]
    click(by_key(view, "check"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert "Correct" in all_text(by_key(view, "verdict"))
    click(by_key(view, "next-question"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    assert {c.key for c in walk(view) if str(c.key).startswith("option-")} == \
        {"option-true", "option-false"}
    assert "True" in all_text(by_key(view, "option-true"))
    click(by_key(view, "option-true"))
    click(by_key(view, "check"))
    view, _ctx, rec = build(session, "/quiz/ui-demo/safety")
    click(by_key(view, "see-results"))
    (results_path,) = rec.routes
    assert results_path.startswith("/results/ui-demo/safety/")
    view, _ctx, rec = build(session, results_path)
    assert by_key(view, "score").value == "Your score: 67%"
    assert by_key(view, "verdict").value == "Not passed yet"
    assert has_key(view, "review-q1") and not has_key(view, "review-q2")
    click(by_key(view, "retry"))
    assert rec.routes == ["/quiz/ui-demo/safety"]
    view, _ctx, _rec = build(session, "/quiz/ui-demo/safety")  # a new attempt started
    assert "attempt 2" in view.appbar.title.value


def test_review_queue(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, _rec = build(session, "/review")
    assert has_key(view, "review-empty")
    att = session.learning.current_attempt("ui-demo", "safety", start=True)
    session.learning.answer("ui-demo", "safety", att.attempt, "q1", ["a"])
    assert session.learning.review_queue() == [] or session.learning.review_queue()[0].question.id == "q1"


# -- self-assessment and gap report ----------------------------------------------------------
def test_self_assessment_duty_by_duty_and_gap_report(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, rec = build(session, "/assess/ui-demo/officer")  # a visit starts nothing
    assert has_key(view, "start-assessment")
    assert session.work is not None
    assert session.work.assess.open_assessment("ui-demo", "officer") is None
    view, _ctx, rec = build(session, "/assess")
    # the pack's DACUM status note is shown with the profile (a draft, in the pack's words)
    assert "Draft for validation by a DACUM panel." in all_text(by_key(view, "validation-officer"))
    click(by_key(view, "assess-officer"))
    assert rec.routes == ["/assess/ui-demo/officer"]
    view, _ctx, rec = build(session, "/assess/ui-demo/officer")
    assert by_key(view, "duty-position").value == "Duty 1 of 2"
    assert "DACUM panel" in all_text(by_key(view, "profile-validation"))
    # a rating is a tile whose text wraps (issue 17: a Chip cut long labels at 360 px),
    # a checkbox for screen readers
    chip = by_key(view, "rate-a1-2")
    assert isinstance(chip, ft.Semantics) and "On my own" in all_text(chip)
    assert chip.checked is False
    click(chip.content)  # saved at once
    assert [e["type"] for e in device.store.events(str(session.learner_id))][-1] == \
        "selfassessment.rated"
    click(by_key(view, "rate-a2-1").content)
    view, _ctx, rec = build(session, "/assess/ui-demo/officer")
    assert by_key(view, "rate-a1-2").checked
    click(by_key(view, "next-duty"))
    # leaving and coming back resumes at the first unrated task's duty
    session.view.assess_key = None
    view, _ctx, rec = build(session, "/assess/ui-demo/officer")
    assert by_key(view, "duty-position").value == "Duty 2 of 2"
    assert by_key(view, "finish-assessment").disabled
    click(by_key(view, "rate-b1-3").content)
    view, _ctx, rec = build(session, "/assess/ui-demo/officer")
    click(by_key(view, "finish-assessment"))
    assert rec.routes == ["/gap/ui-demo/officer"]
    view, _ctx, rec = build(session, "/gap/ui-demo/officer")
    assert "DACUM panel" in all_text(by_key(view, "profile-validation"))
    chart = next(c for c in walk(view) if isinstance(c, fch.BarChart))
    assert len(chart.groups) == 2
    rods = [(r.to_y) for g in chart.groups for r in g.rods]
    assert rods == [2.5, 1.5, 3, 3]
    assert by_key(view, "gap-summary").value == "1 duty below the level your role expects."
    assert "Keep the wing safe: expected 2.5, you 1.5" in all_text(view)
    click(by_key(view, "rec-safety"))
    assert rec.routes == ["/course/ui-demo/safety"]
    assert "look after your own wellbeing" in all_text(view)


def test_gap_report_before_any_assessment(device: Device) -> None:
    view, _ctx, _rec = build(signed_in(device), "/gap/ui-demo/officer")
    assert has_key(view, "no-report")


# -- progress and settings -------------------------------------------------------------------
def test_progress(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, _rec = build(session, "/progress")
    assert has_key(view, "no-progress") and by_key(view, "completed-count").value == "0"
    for lesson, cards in (("01-facts", 2),):
        session.learning.open_lesson("ui-demo", "reports", lesson)
        for card in range(cards):
            session.learning.finish_card("ui-demo", "reports", lesson, card)
    att = session.learning.current_attempt("ui-demo", "reports", start=True)
    session.learning.answer("ui-demo", "reports", att.attempt, "r1", ["true"])
    session.learning.submit("ui-demo", "reports", att.attempt)
    view, _ctx, _rec = build(session, "/progress")
    assert by_key(view, "completed-count").value == "1"
    assert "Completed on" in all_text(by_key(view, "record-ui-demo-reports"))


def test_settings_language_text_size_contrast_and_sync(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, rec = build(session, "/settings")
    names = [by_key(view, f"lang-{c}").label.value for c in ("en", "lt", "ro", "pt", "de")]
    assert names == ["English", "Lietuvių", "Română", "Português", "Deutsch"]
    click(by_key(view, "lang-lt"))
    view, _ctx, rec = build(session, "/settings")
    assert "Nustatymai" in all_text(view.appbar)
    click(by_key(view, "size-larger"))
    assert session.text_size == "larger"
    contrast = by_key(view, "contrast")
    contrast.value = True
    click(contrast)
    assert session.high_contrast
    assert "Užimta vietos" in by_key(view, "storage").value
    click(by_key(view, "sync-now"))
    view, _ctx, rec = build(session, "/settings")
    assert by_key(view, "sync-message").value.startswith("Šis planšetinis kompiuteris neužregistr")
    # the server address is checked by the store; a bad one is refused with the reason
    type_text(by_key(view, "server-url"), "ftp://nope")
    click(by_key(view, "sync-now"))
    view, _ctx, rec = build(session, "/settings")
    assert "https://learning.example.org" in by_key(view, "sync-message").value
    assert "Shift Learning 0.1.0" in all_text(view)
    assert "CC BY-SA 4.0" in all_text(view)


def test_settings_before_sign_in_sets_the_tablet_language(device: Device) -> None:
    session = Session(device)
    view, _ctx, rec = build(session, "/settings")
    assert view.navigation_bar is None
    click(by_key(view, "lang-pt"))
    assert device.setting("locale") == "pt" and session.locale == "pt"
    view, _ctx, _rec = build(session, "/")
    assert "Quem está a aprender?" in all_text(view)


def test_theme() -> None:
    normal, big = build_theme("normal"), build_theme("larger", high_contrast=True)
    assert normal.font_family == "Body" and big.font_family == "Body"
    assert big.text_theme.body_large.size > normal.text_theme.body_large.size
    assert big.color_scheme.on_surface == "#000000"
    assert build_theme("bogus").text_theme.body_large.size == normal.text_theme.body_large.size


# -- router -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "name", "params"), [
    ("/", "who", {}), ("", "who", {}), (None, "who", {}),
    ("/home", "home", {}), ("/home/", "home", {}), ("/home?x=1#y", "home", {}),
    ("/course/ui-demo/safety", "course", {"pack": "ui-demo", "course": "safety"}),
    ("/lesson/p/c/l/3", "lesson", {"pack": "p", "course": "c", "lesson": "l", "card": "3"}),
    ("/results/p/c/a-1", "results", {"pack": "p", "course": "c", "attempt": "a-1"}),
    ("/gap/p/prof", "gap", {"pack": "p", "profile": "prof"}),
    ("/lesson/p/c/l/-1", "who", {}), ("/lesson/p/c/l/99999", "who", {}),
    ("/course/../../etc", "who", {}), ("/course/%2e%2e/x", "who", {}),
    ("/nope", "who", {}), ("/" + "a" * 5000, "who", {}), ("/course/p/c/extra", "who", {}),
])
def test_router_parse(path: str | None, name: str, params: dict[str, str]) -> None:
    route = routes.parse(path)
    assert (route.name, route.params) == (name, params)


def test_router_guards_personal_screens() -> None:
    assert routes.resolve("/progress", signed_in=False).name == "who"
    assert routes.resolve("/settings", signed_in=False).name == "settings"
    assert routes.resolve("/pin/x", signed_in=True).name == "home"
    assert routes.resolve("/progress", signed_in=True).name == "progress"
    assert set(screens.BUILDERS) == set(routes.Screen) == set(routes.PATTERNS)


def test_every_route_builds_a_view(device: Device) -> None:
    session = signed_in(device)
    att = session.learning.current_attempt("ui-demo", "reports", start=True)
    session.learning.current_attempt("ui-demo", "safety", start=True)
    session.assessment.view("ui-demo", "officer", start=True)
    paths = {"who": "/", "new_profile": "/profiles/new", "pin": "/pin/x", "settings": "/settings",
             "home": "/home", "course": "/course/ui-demo/safety",
             "lesson": "/lesson/ui-demo/safety/01-notice/0", "quiz": "/quiz/ui-demo/safety",
             "results": f"/results/ui-demo/reports/{att.attempt}", "review": "/review",
             "assess_list": "/assess", "assess": "/assess/ui-demo/officer",
             "gap": "/gap/ui-demo/officer", "progress": "/progress",
             "practice": "/practice", "observe": "/observe/ui-demo/safety/no-task",
             "validate": "/validate/ui-demo/officer/no-task"}
    assert set(paths) == set(screens.BUILDERS)
    for name, path in paths.items():
        ctx_session = session if routes.parse(path).personal else Session(device)
        view, _ctx, _rec = build(ctx_session, path)
        assert isinstance(view, ft.View), name
        controls = list(walk(view))
        # touch targets: every button is at least 48 px high where a height is set
        for c in controls:
            if isinstance(c, ft.FilledButton | ft.OutlinedButton | ft.IconButton) and c.height:
                assert c.height >= 48, (name, c)
        # accessible names: icon buttons carry a tooltip and a labelled icon
        for c in controls:
            if isinstance(c, ft.IconButton):
                assert c.tooltip and isinstance(c.icon, ft.Icon) and c.icon.semantics_label, name


def test_a_refused_action_shows_its_reason_instead_of_breaking(device: Device) -> None:
    session = signed_in(device)
    session.learning.current_attempt("ui-demo", "safety", start=True)
    view, ctx, rec = build(session, "/quiz/ui-demo/safety")
    click(by_key(view, "option-b"))
    click(by_key(view, "check"))
    session.view.quiz_choice = ["b"]
    click(by_key(view, "check"))  # a double tap on the old screen's "Check answer"
    assert ctx.flashes[-1] == "You have already answered this question."
    assert session.signed_in and rec.refreshes == 3
    session.set_language("lt")  # the snack bar speaks the learner's language, not the log's
    click(by_key(view, "check"))
    assert ctx.flashes[-1] == "Į šį klausimą jau atsakėte."


def test_error_view_offers_a_way_back(device: Device) -> None:
    from app.ui.shell import error_view
    from tests.e2e.ui_fixtures import context

    session = signed_in(device)
    ctx, rec = context(session)
    view = error_view(ctx, "/broken")
    assert "Your work is saved." in all_text(view)
    click(by_key(view, "error-home"))
    assert rec.routes == ["/home"]


def test_gap_report_compares_with_the_previous_assessment(device: Device) -> None:
    session = signed_in(device)
    for levels in ({"a1": 1, "a2": 1, "b1": 1}, {"a1": 3, "a2": 1, "b1": 0}):
        view = session.assessment.view("ui-demo", "officer")
        for task, level in levels.items():
            session.assessment.rate("ui-demo", "officer", view.assessment, task, level)
        session.assessment.complete("ui-demo", "officer", view.assessment)
    view, _ctx, _rec = build(session, "/gap/ui-demo/officer")
    text = all_text(view)
    assert "Compared with your previous assessment" in text
    assert by_key(view, "change-a").value == "↑ Keep the wing safe: 1 → 2"
    assert by_key(view, "change-b").value == "↓ Report and record: 1 → 0"


def test_quiz_intro_when_no_attempt_is_left(device: Device) -> None:
    session = signed_in(device)
    for _ in range(3):
        att = session.learning.current_attempt("ui-demo", "safety", start=True)
        session.learning.submit("ui-demo", "safety", att.attempt)
    view, _ctx, _rec = build(session, "/quiz/ui-demo/safety")
    assert by_key(view, "start-quiz").disabled and has_key(view, "no-attempts")
    results, _ctx, _rec = build(session, f"/results/ui-demo/safety/{att.attempt}")
    assert not has_key(results, "retry")


def test_a_profile_without_pin_opens_set_your_pin_then_signs_in(device: Device) -> None:
    """A learner an admin registered (pulled without a PIN verifier) sets a first PIN with
    the one-time set-up code the admin handed over."""
    from app.core import pins
    pid = "5a1e0000-0000-4000-8000-000000000001"
    device.store.profiles.upsert_remote([{
        "id": pid, "display_name": "Petras Petraitis", "staff_number": "LT-0099",
        "role": "prison_officer", "language": "en", "pin_verifier": None,
        "pin_setup_verifier": pins.make_setup_verifier("K7QF-M2XP-9HTR"),
        "pin_setup_expires_at": "2099-01-01T00:00:00.000Z"}])
    session = Session(device)
    view, _ctx, rec = build(session, "/")
    assert has_key(view, f"needs-pin-{pid}") and "New here: set your PIN" in all_text(view)
    click(by_key(view, f"profile-{pid}"))
    assert rec.routes == [f"/pin/{pid}"]
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert "Set your PIN" in all_text(view) and not has_key(view, "pin-ok")
    type_text(by_key(view, "f-pin"), "4827")
    type_text(by_key(view, "f-pin2"), "4827")
    click(by_key(view, "set-pin"))                       # no code: the code field says so
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "f-code").error == "Enter the set-up code your administrator gave you."
    type_text(by_key(view, "f-code"), "AAAA-BBBB-CCCC")
    click(by_key(view, "set-pin"))
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "f-code").error == "This set-up code is not right. Check it and try again."
    assert not session.signed_in
    type_text(by_key(view, "f-code"), "k7qf-m2xp-9htr")
    type_text(by_key(view, "f-pin"), "1111")
    type_text(by_key(view, "f-pin2"), "1111")
    click(by_key(view, "set-pin"))
    assert rec.refreshes == 1 and not session.signed_in
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "f-pin").error == ("Choose a PIN that is not a simple sequence like "
                                           "1234 or 1111.")
    type_text(by_key(view, "f-pin"), "4827")
    type_text(by_key(view, "f-pin2"), "4872")
    click(by_key(view, "set-pin"))
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert by_key(view, "f-pin2").error == "The two PINs are not the same."
    type_text(by_key(view, "f-pin2"), "4827")
    click(by_key(view, "set-pin"))
    assert session.signed_in and rec.routes == ["/home"]
    # from now on the tile opens the ordinary PIN pad
    session.lock()
    view, _ctx, rec = build(session, f"/pin/{pid}")
    assert has_key(view, "pin-ok") and not has_key(view, "set-pin")
    assert not has_key(build(session, "/")[0], f"needs-pin-{pid}")
