"""My progress: completed courses, scores, certificates, time spent."""

from __future__ import annotations

from typing import Any

import flet as ft

from app.core.application import export_my_record
from app.core.errors import ShiftError
from app.core.events import parse_at
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.routes import Route
from app.ui.theme import STATUS
from app.ui.widgets import big_button, card, handler, nav_bar, personal_view, section_title


def _date(ctx: ViewContext, at: str | None) -> str:
    if not at:
        return ""
    try:
        return ctx.tr.format_date(parse_at(at))
    except ShiftError:
        return at[:10]


def build_progress(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    tr = ctx.tr
    p = ctx.session.learning.my_progress()
    controls: list[ft.Control] = [
        ft.Row([
            card(ft.Column([ft.Text(tr.format_number(len(p.completed)),
                                    theme_style=ft.TextThemeStyle.HEADLINE_MEDIUM,
                                    key="completed-count"),
                            ft.Text(tr.ngettext("course completed", "courses completed",
                                                len(p.completed)))], spacing=2)),
            card(ft.Column([ft.Text(tr.format_timedelta(p.seconds) if p.seconds else "–",
                                    theme_style=ft.TextThemeStyle.HEADLINE_MEDIUM,
                                    key="time-spent"),
                            ft.Text(_("time spent reading"))], spacing=2)),
        ], wrap=True, spacing=12),
    ]
    controls.append(section_title(_("Courses")))
    if not p.courses:
        controls.append(ft.Text(_("Nothing yet. Open a course to start."), key="no-progress"))
    for r in p.courses:
        lines = []
        if r.completed_at:
            lines.append(_("Completed on {date}").format(date=_date(ctx, r.completed_at)))
        else:
            lines.append(_("In progress"))
        if r.best_score is not None:
            lines.append(_("Best score {score}").format(
                score=tr.format_percent(r.best_score / 100)))
        if r.attempts:
            lines.append(tr.ngettext("{n} quiz attempt", "{n} quiz attempts",
                                     len(r.attempts)).format(n=len(r.attempts)))
        controls.append(card(ft.Row([
            ft.Icon(ft.Icons.VERIFIED if r.completed_at else ft.Icons.TIMELAPSE,
                    color=STATUS["ok"] if r.completed_at else None),
            ft.Column([ft.Text(r.title.text, theme_style=ft.TextThemeStyle.TITLE_SMALL),
                       ft.Text(" · ".join(lines), theme_style=ft.TextThemeStyle.BODY_SMALL)],
                      spacing=2, expand=True)]), key=f"record-{r.pack}-{r.course}"))
    controls.append(big_button(_("Workplace tasks"), handler(
        ctx, lambda: ctx.go(Route.practice())), icon=ft.Icons.ASSIGNMENT_TURNED_IN,
        primary=False, key="open-practice", tooltip=_("Workplace tasks")))
    controls.append(section_title(_("Certificates")))
    if not p.certificates:
        controls.append(ft.Text(_("Certificates appear here after a sync, once you complete "
                                  "a course.")))
    for c in p.certificates:
        shown = ctx.session.learning.certificate_check(c).shown
        genuine = shown == "verified"
        status = {"verified": _("Verified: signed by a trusted issuer"),
                  "revoked": _("Revoked by the issuer")}.get(
                      shown, _("Could not be verified on this tablet"))
        controls.append(card(ft.Row([
            ft.Icon(ft.Icons.WORKSPACE_PREMIUM if genuine else ft.Icons.GPP_MAYBE,
                    color=STATUS["ok"] if genuine else STATUS["attention"]),
            ft.Column([ft.Text(f"{c.title or c.course or ''} · {_date(ctx, c.at)}",
                               theme_style=ft.TextThemeStyle.TITLE_SMALL),
                       ft.Text(status, theme_style=ft.TextThemeStyle.BODY_SMALL,
                               key=f"cert-status-{c.id}")],
                      spacing=2, expand=True)]), key=f"cert-{c.id}"))
    controls += my_record_controls(ctx)
    return personal_view(ctx, route.path, _("My progress"), controls,
                         navigation_bar=nav_bar(ctx, 2))


def my_record_controls(ctx: ViewContext) -> list[ft.Control]:
    """"My record": the learner's own record as one zip (app/core/application/my_record.py),
    handed to the platform's save dialog — a download in web mode, a file the person puts
    where she can copy it on a tablet (docs/app.md "My record")."""
    _ = ctx._

    async def save(_e: Any) -> None:
        ctx.session.touch()
        try:
            record = export_my_record(ctx.session)
            await ft.FilePicker().save_file(dialog_title=_("Save my record"),
                                            file_name=record.name, src_bytes=record.data)
        except ShiftError as exc:
            ctx.flash(error_sentence(ctx.tr, exc), "error")
        except (RuntimeError, ValueError, OSError) as exc:   # no save dialog on this platform
            ctx.flash(_("Could not save the file: {reason}").format(reason=exc), "error")
        else:
            ctx.flash(_("Your record was saved as {file}.").format(file=record.name))
        ctx.refresh()

    return [section_title(_("My record")),
            ft.Text(_("Your courses, scores, self-assessments, observed practice and "
                      "certificates as one file you can keep or give to a new employer.")),
            # Flet runs an async handler too (the save dialog is awaited)
            big_button(_("Save my record"), save,  # type: ignore[arg-type]
                       icon=ft.Icons.DOWNLOAD, primary=False,
                       key="my-record", tooltip=_("Save my record"))]
