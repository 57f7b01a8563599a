"""Home / library: continue where you left off, my courses, review queue, sync badge."""

from __future__ import annotations

import flet as ft

from app.ui.ctx import ViewContext
from app.ui.pin_change_panel import pin_change_controls
from app.ui.routes import Route
from app.ui.theme import STATUS
from app.ui.widgets import (
    app_bar,
    big_button,
    card,
    handler,
    icon_button,
    lock_action,
    nav_bar,
    progress_ring,
    section_title,
    view,
)


def sync_badge(ctx: ViewContext) -> ft.Control:
    _ = ctx._
    info = ctx.session.sync_summary()
    if info.last_sync is None:
        when = _("Never synced")
    else:
        when = _("Last synced {when}").format(when=ctx.tr.format_datetime(info.last_sync))
    status = _("Online") if info.online else _("Offline")
    color = STATUS["ok"] if info.online else STATUS["neutral"]
    return ft.Container(
        ft.Row([ft.Icon(ft.Icons.CLOUD_DONE if info.online else ft.Icons.CLOUD_OFF,
                        color=ft.Colors.WHITE, size=18),
                # may wrap (a long Lithuanian date at 360 px), never clipped
                ft.Text(f"{status} · {when}", color=ft.Colors.WHITE,
                        theme_style=ft.TextThemeStyle.LABEL_MEDIUM, expand=True,
                        expand_loose=True)],
               spacing=6, tight=True),
        bgcolor=color, border_radius=20, padding=ft.Padding.symmetric(horizontal=12, vertical=6),
        key="sync-badge", tooltip=f"{status}. {when}")


def build_home(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    lib = s.learning.library()
    name = s.display_name
    controls: list[ft.Control] = [
        ft.Row([ft.Text(_("Hello, {name}").format(name=name),
                        theme_style=ft.TextThemeStyle.HEADLINE_SMALL),
                sync_badge(ctx)], wrap=True, spacing=12, run_spacing=8,
               alignment=ft.MainAxisAlignment.SPACE_BETWEEN),
    ]
    if s.pin_below_policy:
        controls.append(card(ft.Column([
            ft.Text(_("This organisation now requires a PIN of at least {n} digits. Please "
                      "choose a new PIN.").format(n=s.device.pin_min_digits),
                    theme_style=ft.TextThemeStyle.TITLE_MEDIUM, key="pin-policy-notice"),
            *([ft.Text(_("Until you do, your work stays on this tablet and is not sent."),
                       key="pin-policy-waits")] if s.new_pin_waits_for_server else []),
            *pin_change_controls(ctx)], spacing=8), highlight=True, key="pin-policy-card"))
    entries = {(c.pack, c.course): c for c in lib.courses}
    if lib.resume is not None and (lib.resume.pack, lib.resume.course) in entries:
        entry = entries[(lib.resume.pack, lib.resume.course)]
        resume = lib.resume
        where = s.learning.resume_label(resume, ctx.tr)
        controls.append(card(
            ft.Column([
                ft.Row([ft.Icon(ft.Icons.PLAY_CIRCLE_FILL, size=36),
                        ft.Text(_("Continue where you left off"),
                                theme_style=ft.TextThemeStyle.TITLE_MEDIUM, expand=True)]),
                ft.Text(entry.title.text, theme_style=ft.TextThemeStyle.TITLE_LARGE),
                ft.Text(where),
                big_button(_("Continue"), handler(ctx, lambda: ctx.go(Route.resume(resume))),
                           icon=ft.Icons.ARROW_FORWARD, key="continue",
                           tooltip=_("Continue where you left off")),
            ], spacing=8), highlight=True, key="resume-card"))
    if lib.review_due:
        controls.append(card(
            ft.Row([ft.Icon(ft.Icons.REPLAY, size=30),
                    ft.Text(ctx.tr.ngettext("{n} question to review",
                                            "{n} questions to review",
                                            lib.review_due).format(n=lib.review_due),
                            expand=True, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
                    ft.Icon(ft.Icons.CHEVRON_RIGHT)]),
            on_click=handler(ctx, lambda: ctx.go(Route.review())), key="review-card",
            tooltip=_("Review questions")))
    controls.append(section_title(_("My courses")))
    if not lib.courses:
        controls.append(ft.Text(_("No courses for your role on this tablet yet. They arrive "
                                  "with the next sync or from a USB stick."), key="no-courses"))
    for c in lib.courses:
        sub = ctx.tr.ngettext("{done} of {total} lesson", "{done} of {total} lessons",
                              c.lessons_total).format(done=c.lessons_done, total=c.lessons_total)
        if c.completed:
            sub += " · " + _("Completed")
        elif c.best_score is not None:
            sub += " · " + _("Best score {score}").format(
                score=ctx.tr.format_percent(c.best_score / 100))
        minutes = ctx.tr.ngettext("about {n} minute", "about {n} minutes",
                                  c.minutes).format(n=c.minutes)
        controls.append(card(
            ft.Row([progress_ring(c.progress, _("Progress of {course}").format(
                        course=c.title.text)),
                    ft.Column([ft.Text(c.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
                               ft.Text(f"{sub}\n{minutes}",
                                       theme_style=ft.TextThemeStyle.BODY_SMALL)],
                              spacing=2, expand=True),
                    ft.Icon(ft.Icons.CHEVRON_RIGHT)], spacing=14),
            on_click=handler(ctx, lambda c=c: ctx.go(Route.course(c.pack, c.course))),
            key=f"course-{c.pack}-{c.course}"))
    actions = [icon_button(ft.Icons.SYNC, _("Sync now"), handler(ctx, lambda: ctx.go(Route.settings())),
                           key="sync-shortcut"), lock_action(ctx)]
    return view(route.path, app_bar(ctx, _("Shift Learning"), actions=actions), controls,
                navigation_bar=nav_bar(ctx, 0))
