"""The shell: the home screen is drawn again when the sync badge's state changes (a
background sync finished while the learner looked at it); a route is pushed to the
browser only when the screen changes."""

from __future__ import annotations

from pathlib import Path

from app.core.clock import now_iso
from app.ui.shell import sync_badge_state
from tests.e2e.ui_fixtures import ManualClock, all_text, build, by_key, make_device, signed_in


def test_badge_state_changes_when_a_sync_finishes(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        before = sync_badge_state(session)
        assert before == (False, None)
        view, _ctx, _rec = build(session, "/home")
        assert "Online" not in all_text(by_key(view, "sync-badge"))
        device.set_setting("last_sync_at", now_iso())  # what a finished sync records
        after = sync_badge_state(session)
        assert after != before and after[0] is True
        view, _ctx, _rec = build(session, "/home")
        assert "Online" in all_text(by_key(view, "sync-badge"))
    finally:
        device.close()


def test_a_route_is_pushed_when_the_screen_changes_not_per_card(tmp_path: Path) -> None:
    """A pushed route makes Flet's client rebuild the whole page (a second full frame
    per tap): the shell pushes when the screen changes, not for the next card."""
    from types import SimpleNamespace

    from app.ui import routes
    from app.ui.shell import PageController

    device = make_device(tmp_path, ManualClock())
    try:
        pushed: list[str] = []
        page = SimpleNamespace(route="/course/ui-demo/safety", push_route=None,
                               run_task=lambda _fn, path: pushed.append(path))
        ctl = PageController(page, device)  # type: ignore[arg-type]
        lesson = routes.Route.lesson("ui-demo", "safety", "01-notice", 0)
        ctl.route = routes.resolve(lesson, True)
        ctl.follow_url()                 # course → lesson: a new screen, pushed
        assert pushed == [lesson]
        page.route = lesson              # the browser reports it
        ctl.route = routes.resolve(routes.Route.lesson("ui-demo", "safety", "01-notice", 1),
                                   True)
        ctl.follow_url()                 # the next card: same screen, no push
        assert pushed == [lesson]
        ctl.route = routes.resolve(routes.Route.course("ui-demo", "safety"), True)
        ctl.follow_url()                 # back to the outline: pushed again
        assert pushed == [lesson, "/course/ui-demo/safety"]
        ctl.route = routes.resolve("/course/ui-demo/safety", True)
        page.route = "/course/ui-demo/safety"
        ctl.follow_url()                 # already the browser's route: nothing to push
        assert len(pushed) == 2
    finally:
        device.close()


def test_no_push_after_sign_in_but_the_lock_clears_the_address_bar(tmp_path: Path) -> None:
    """Signed in, the sign-in path the browser shows already leads home (resolve), so
    home after a PIN is drawn without a push (and its client rebuild); a reload there
    still shows home. Signed out, the path is pushed: no personal path stays behind."""
    from types import SimpleNamespace

    from app.ui import routes
    from app.ui.shell import PageController

    device = make_device(tmp_path, ManualClock())
    try:
        pushed: list[str] = []
        session = signed_in(device)
        pin_path = routes.Route.pin(str(session.learner_id))
        page = SimpleNamespace(route=pin_path, push_route=None,
                               run_task=lambda _fn, path: pushed.append(path))
        ctl = PageController(page, device)  # type: ignore[arg-type]
        ctl.session = session
        ctl.route = routes.resolve(routes.Route.home(), True)
        ctl.follow_url()                 # PIN → home: the address bar already leads home
        assert pushed == []
        assert routes.resolve(page.route, True).path == routes.Route.home()   # a reload
        ctl.route = routes.resolve(routes.Route.course("ui-demo", "safety"), True)
        ctl.follow_url()                 # home → a course: a new screen, pushed
        assert pushed == ["/course/ui-demo/safety"]
        page.route = "/course/ui-demo/safety"
        session.lock()
        ctl.route = routes.resolve(page.route, False)      # locked: the "who" screen
        ctl.follow_url()
        assert pushed == ["/course/ui-demo/safety", "/"]
    finally:
        device.close()
