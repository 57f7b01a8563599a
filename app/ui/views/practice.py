"""Observed practice: the learner's workplace tasks, the mentor's confirmation of one
(checklist, day, the mentor's tile and own PIN) and the mentor's validation of a
self-rating. Thin: every rule is in app/core/application/practice.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import flet as ft

from app.core.application import ROLE_LABELS
from app.core.errors import LearningError
from app.core.pins import PIN_MAX_DIGITS
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.routes import Route
from app.ui.widgets import (
    big_button,
    card,
    choice_chips,
    handler,
    personal_view,
    section_title,
)

#: how many days back the mentor may pick (today, yesterday, …)
DAYS_BACK = 7


def build_practice(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    p = ctx.session.practice
    controls: list[ft.Control] = [ft.Text(_(
        "Tasks from the \"Try this on your next shift\" cards. When you have done one, ask a "
        "mentor or trainer to watch and confirm it with their own PIN on this tablet."))]
    entries = p.tasks()
    if not entries:
        controls.append(ft.Text(_("No workplace tasks in your courses yet."), key="no-tasks"))
    course = None
    for e in entries:
        if e.task.course != course:
            course = e.task.course
            controls.append(section_title(p.text(e.course_title, e.task.pack).text))
            if e.required:
                controls.append(ft.Text(ctx.tr.ngettext(
                    "The certificate of this course needs {n} task observed by a mentor.",
                    "The certificate of this course needs {n} tasks observed by a mentor.",
                    e.required).format(n=e.required), key=f"required-{course}"))
        dates = sorted(o.date for o in e.observations)
        status = (_("Observed on {date}").format(date=dates[-1]) if e.done
                  else _("Observed in part") if e.observations else _("Not observed yet"))
        controls.append(card(ft.Row([
            ft.Icon(ft.Icons.TASK_ALT if e.done else ft.Icons.RADIO_BUTTON_UNCHECKED,
                    color=ft.Colors.GREEN_800 if e.done else None),
            ft.Column([ft.Text(p.text(e.task.title, e.task.pack).text,
                               theme_style=ft.TextThemeStyle.TITLE_SMALL),
                       ft.Text(status, theme_style=ft.TextThemeStyle.BODY_SMALL,
                               key=f"task-status-{e.task.id}")], spacing=2, expand=True),
            ft.Icon(ft.Icons.CHEVRON_RIGHT)]),
            on_click=handler(ctx, lambda t=e.task: ctx.go(Route.observe(t.pack, t.course,
                                                                        t.id))),
            key=f"task-{e.task.course}-{e.task.id}",
            tooltip=_("Confirm task {task}").format(task=p.text(e.task.title,
                                                                e.task.pack).text)))
    return personal_view(ctx, route.path, _("Workplace tasks"), controls,
                         back=Route.progress())


def _mentor_fields(ctx: ViewContext, form: dict[str, str]) -> list[ft.Control]:
    """The mentor's tile and PIN (the PIN is forgotten after every try)."""
    _ = ctx._
    mentors = ctx.session.practice.mentors()
    if not mentors:
        return [ft.Text(_("No mentor or trainer has a profile on this tablet yet."),
                        key="no-mentors")]

    def pick(value: str) -> None:
        form["mentor"] = value
        ctx.refresh()

    def typed(e: Any) -> None:
        form["pin"] = str(e.control.value or "")
    options = [(m.id, f"{m.name} · {_(ROLE_LABELS.get(m.role, m.role))}") for m in mentors]
    return [choice_chips(ctx, options, form.get("mentor"), pick, "mentor",
                         _("Mentor or trainer")),
            ft.TextField(label=_("Mentor's PIN"), key="f-mentor-pin", password=True,
                         keyboard_type=ft.KeyboardType.NUMBER, max_length=PIN_MAX_DIGITS,
                         value="", on_change=typed)]


def _submit(ctx: ViewContext, form: dict[str, str], act: Any, done: str, back: str) -> None:
    pin, form["pin"] = form.get("pin", ""), ""
    if not form.get("mentor"):
        ctx.flash(ctx._("Choose the mentor or trainer first."), "error")
        ctx.refresh()
        return
    act(form["mentor"], pin)
    ctx.session.view.form = {}
    ctx.flash(done)
    ctx.go(back)


def build_observe(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    p = ctx.session.practice
    pack, course, tid = route.params["pack"], route.params["course"], route.params["task"]
    try:
        entry = p.task(pack, course, tid)
    except LearningError as exc:       # a stale link (the pack changed): say so, go back
        return personal_view(ctx, route.path, _("Confirm a workplace task"), [
            ft.Text(error_sentence(ctx.tr, exc), key="no-task")], back=Route.practice())
    form = ctx.session.view.form
    if form.get("for") != route.path:
        form.clear()
        form.update({"for": route.path, "day": "0",
                     "ticked": ",".join(i.id for i in entry.task.checklist)})
    ticked = set(filter(None, form.get("ticked", "").split(",")))

    def toggle(item: str, on: bool) -> None:
        now = (ticked | {item}) if on else (ticked - {item})
        form["ticked"] = ",".join(sorted(now))
    controls: list[ft.Control] = [
        ft.Text(p.text(entry.task.title, pack).text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        ft.Text(_("For the mentor or trainer: tick what you saw the learner do.")),
        section_title(_("Checklist"))]
    for item in entry.task.checklist:
        controls.append(ft.Checkbox(
            label=p.text(item.text, pack).text, value=item.id in ticked, key=f"check-{item.id}",
            on_change=lambda e, i=item.id: toggle(i, bool(e.control.value))))
    today = p.today()
    days = [(str(n), ctx.tr.format_date(today - timedelta(days=n))) for n in range(DAYS_BACK)]

    def pick_day(value: str) -> None:
        form["day"] = value
        ctx.refresh()
    controls.append(choice_chips(ctx, days, form.get("day"), pick_day, "day",
                                 _("Day observed")))
    controls += _mentor_fields(ctx, form)

    def confirm(mentor: str, pin: str) -> None:
        p.confirm(pack, course, tid, mentor_id=mentor, pin=pin,
                  observed_on=today - timedelta(days=int(form.get("day") or 0)),
                  checklist=sorted(ticked))
    controls.append(big_button(_("Confirm as observed"), handler(ctx, lambda: _submit(
        ctx, form, confirm, _("Observation recorded. It counts once the server has checked "
                              "it."), Route.practice())),
        icon=ft.Icons.VERIFIED_USER, key="confirm-observed",
        tooltip=_("Confirm as observed")))
    for o in entry.observations:
        controls.append(ft.Text(_("Observed on {date} by {name}").format(
            date=o.date, name=p.mentor_name(o.mentor) or "–"),
            theme_style=ft.TextThemeStyle.BODY_SMALL))
    return personal_view(ctx, route.path, _("Confirm a workplace task"), controls,
                         back=Route.practice())


def build_validate(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pack, pid, tid = route.params["pack"], route.params["profile"], route.params["task"]
    try:
        report = s.assessment.gap_report(pack, pid)
        pv = s.assessment.view(pack, pid, start=False)
    except LearningError:
        return personal_view(ctx, route.path, _("Validate a self-rating"), [
            ft.Text(_("Finish a self-assessment first."), key="no-report")],
            back=Route.assess_list())
    gap = next((t for t in report.tasks if t.task == tid), None)
    form = s.view.form
    if form.get("for") != route.path:
        form.clear()
        form.update({"for": route.path, "level": str(gap.rated if gap else "")})
    controls: list[ft.Control] = []
    if gap is not None:
        controls.append(ft.Text(gap.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM))
        controls.append(ft.Text(_("Self-rated level: {level}").format(level=gap.rated),
                                key="self-level"))
    controls.append(ft.Text(_("For the mentor or trainer: confirm this level or choose the "
                              "level you have seen.")))

    def pick(value: str) -> None:
        form["level"] = value
        ctx.refresh()
    controls.append(choice_chips(ctx, [(str(lv), f"{lv} · {label.text}") for lv, label in pv.scale],
                                 form.get("level"), pick, "level", _("Validated level")))
    controls += _mentor_fields(ctx, form)

    def validate(mentor: str, pin: str) -> None:
        s.practice.validate_rating(pack, pid, tid, mentor_id=mentor, pin=pin,
                                   level=int(form.get("level") or 0),
                                   self_level=gap.rated if gap else None)
    controls.append(big_button(_("Confirm level"), handler(ctx, lambda: _submit(
        ctx, form, validate, _("Level confirmed by the mentor."), Route.gap(pack, pid))),
        icon=ft.Icons.VERIFIED_USER, key="confirm-level", tooltip=_("Confirm level")))
    return personal_view(ctx, route.path, _("Validate a self-rating"), controls,
                         back=Route.gap(pack, pid))
