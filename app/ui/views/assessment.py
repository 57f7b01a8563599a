"""Self-assessment (duty by duty, saved on every tap) and the gap report with its chart."""

from __future__ import annotations

from typing import Any

import flet as ft
import flet_charts as fch

from app.core.application import TEXT_SCALE
from app.core.errors import LearningError
from app.ui.ctx import ViewContext
from app.ui.routes import Route
from app.ui.widgets import (
    app_bar,
    back_step_button,
    big_button,
    card,
    choice_tile,
    fallback_note,
    handler,
    nav_bar,
    personal_view,
    section_title,
    view,
)

EXPECTED_COLOR = ft.Colors.BLUE_GREY_400
RATED_COLOR = ft.Colors.INDIGO_700


def validation_note(validation: Any, key: str) -> list[ft.Control]:
    """The pack's note on a profile's DACUM status (e.g. "draft for validation by a DACUM
    panel"), in the pack's words; nothing when the pack says nothing."""
    if validation is None:
        return []
    icon = ft.Icons.EDIT_NOTE if validation.draft else ft.Icons.VERIFIED
    return [ft.Row([ft.Icon(icon, size=18),
                    ft.Text(validation.note.text, theme_style=ft.TextThemeStyle.BODY_SMALL,
                            expand=True)], spacing=6, key=key)]


def start_assessment(ctx: ViewContext, pack: str, profile: str) -> None:
    """Continue the open assessment, or start one (a deliberate tap, never a page visit)."""
    ctx.session.assessment.view(pack, profile, start=True)
    ctx.session.view.assess_key = None
    ctx.go(Route.assess(pack, profile))


def build_assess_list(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    entries = s.assessment.profiles()
    controls: list[ft.Control] = [
        ft.Text(_("Rate yourself task by task against your occupational profile. Every tap "
                  "is saved; you can stop and continue later."))]
    if not entries:
        controls.append(ft.Text(_("No occupational profile for your role on this tablet yet."),
                                key="no-profiles"))
    for e in entries:
        buttons: list[ft.Control] = []
        label = _("Continue") if e.open_assessment else _("Start a new self-assessment")
        buttons.append(big_button(label, handler(ctx, lambda e=e: start_assessment(
            ctx, e.pack, e.id)), icon=ft.Icons.CHECKLIST, key=f"assess-{e.id}",
            tooltip=label))
        if e.last_completed:
            buttons.append(big_button(_("Gap report"), handler(ctx, lambda e=e: ctx.go(
                Route.gap(e.pack, e.id))), icon=ft.Icons.BAR_CHART, primary=False,
                key=f"gap-{e.id}", tooltip=_("Gap report")))
        controls.append(card(ft.Column([
            ft.Text(e.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
            ft.Text(ctx.tr.ngettext("{n} task", "{n} tasks", e.tasks).format(n=e.tasks)),
            *validation_note(e.validation, f"validation-{e.id}"),
            ft.Row(buttons, wrap=True, spacing=10)], spacing=8)))
    return personal_view(ctx, route.path, _("Self-assessment"), controls,
                         navigation_bar=nav_bar(ctx, 1))


def build_assess(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pack, pid = route.params["pack"], route.params["profile"]
    pv = s.assessment.view(pack, pid, start=False)
    aid = pv.assessment
    if aid is None:  # nothing open (e.g. browser back after finishing): offer to start
        return view(route.path, app_bar(ctx, pv.title.text, back=Route.assess_list()), [
            ft.Text(pv.description.text),
            *validation_note(pv.validation, "profile-validation"),
            big_button(_("Start a new self-assessment"), handler(
                ctx, lambda: start_assessment(ctx, pack, pid)), icon=ft.Icons.CHECKLIST,
                key="start-assessment", tooltip=_("Start a new self-assessment"))])
    rated_tasks = {t.id for t in s.assessment.tasks_to_rate(pv)}
    duties = s.assessment.duties_to_rate(pv)
    if s.view.assess_key != (pack, pid, aid):  # first visit: open at the resume point
        s.view.assess_key = (pack, pid, aid)
        resume = s.assessment.resume(pack, pid, aid)
        s.view.assess_duty = next((i for i, d in enumerate(duties)
                                   if resume is not None and d.id == resume.duty), 0)
    index = max(0, min(len(duties) - 1, s.view.assess_duty))
    duty = duties[index]
    total = len(rated_tasks)
    done = sum(1 for d in pv.duties for t in d.tasks if t.id in rated_tasks
               and t.rating is not None)

    def rate(task: str, level: int) -> None:
        s.assessment.rate(pack, pid, aid, task, level)
        ctx.refresh()

    def move(step: int) -> None:
        s.view.assess_duty = max(0, min(len(duties) - 1, index + step))
        ctx.go(Route.assess(pack, pid))   # the next duty opens at its top

    def finish() -> None:
        s.assessment.complete(pack, pid, aid)
        s.view.assess_key = None
        ctx.go(Route.gap(pack, pid))

    controls: list[ft.Control] = []
    if pv.title.fallback:
        controls.append(fallback_note(ctx, pv.title.lang))
    if index == 0:
        controls += validation_note(pv.validation, "profile-validation")
    controls += [
        ft.Text(_("Duty {n} of {total}").format(n=index + 1, total=len(duties)),
                theme_style=ft.TextThemeStyle.LABEL_LARGE, key="duty-position"),
        ft.ProgressBar(value=done / max(1, total),
                       semantics_label=_("{done} of {total} tasks rated").format(
                           done=done, total=total)),
        ft.Text(duty.title.text, theme_style=ft.TextThemeStyle.HEADLINE_SMALL, key="duty"),
        ft.Text(_("How well can you do each task today?")),
    ]
    for task in duty.tasks:
        if task.id not in rated_tasks:
            continue
        tiles: list[ft.Control]
        tiles = [ft.Container(choice_tile(
                     f"{level} · {label.text}", task.rating == level,
                     handler(ctx, lambda t=task.id, lv=level: rate(t, lv)),
                     key=f"rate-{task.id}-{level}"),
                     col={"xs": 12, "sm": 6})
                 for level, label in pv.scale]
        controls.append(card(ft.Column([
            ft.Text(task.title.text, theme_style=ft.TextThemeStyle.TITLE_SMALL),
            ft.ResponsiveRow(tiles, spacing=8, run_spacing=8)], spacing=8),
            key=f"task-{task.id}"))
    nav: list[ft.Control] = [
        back_step_button(_("Previous duty"), handler(ctx, lambda: move(-1)),
                         disabled=index == 0, key="prev-duty")]
    if index < len(duties) - 1:
        nav.append(big_button(_("Next duty"), handler(ctx, lambda: move(1)),
                              icon=ft.Icons.ARROW_FORWARD, key="next-duty", expand=True,
                              tooltip=_("Next duty")))
    else:
        nav.append(big_button(_("Finish"), handler(ctx, finish), icon=ft.Icons.BAR_CHART,
                              key="finish-assessment", disabled=done < total, expand=True,
                              tooltip=_("Finish and see my gap report")))
    if done < total and index == len(duties) - 1:
        controls.append(ft.Text(ctx.tr.ngettext("{n} task still to rate.",
                                                "{n} tasks still to rate.",
                                                total - done).format(n=total - done)))
    return personal_view(ctx, route.path, pv.title.text, controls, back=Route.assess_list(),
                         bottom=nav)


def gap_chart(ctx: ViewContext, report: Any, max_level: int,
              numbers: dict[str, int]) -> ft.Control:
    """Bars per duty: expected level for the role next to the self-rated level. Each duty
    carries its number from the assessment (`numbers`); levels have one decimal."""
    _ = ctx._
    level = ctx.tr.format_level
    groups = []
    labels = []
    axis_style = ft.TextThemeStyle.LABEL_MEDIUM   # follows the text size
    for i, d in enumerate(report.duties):
        groups.append(fch.BarChartGroup(x=i, rods=[
            fch.BarChartRod(to_y=d.expected, width=14, color=EXPECTED_COLOR,
                            tooltip=_("Expected {level}").format(level=level(d.expected)),
                            border_radius=3),
            fch.BarChartRod(to_y=d.rated, width=14, color=RATED_COLOR,
                            tooltip=_("You {level}").format(level=level(d.rated)),
                            border_radius=3)], spacing=4))
        labels.append(fch.ChartAxisLabel(value=i, label=ft.Text(
            str(numbers.get(d.duty, i + 1)), theme_style=axis_style)))
    scale = TEXT_SCALE.get(ctx.session.text_size, 1.0)
    chart = fch.BarChart(
        groups=groups, max_y=max_level, min_y=0, height=220, interactive=True,
        left_axis=fch.ChartAxis(label_size=round(28 * scale), labels=[
            fch.ChartAxisLabel(value=v, label=ft.Text(str(v), theme_style=axis_style))
            for v in range(0, max_level + 1)]),
        bottom_axis=fch.ChartAxis(labels=labels, label_size=round(24 * scale)),
        horizontal_grid_lines=fch.ChartGridLines(interval=1, color=ft.Colors.OUTLINE_VARIANT,
                                                 width=1),
        key="gap-chart")
    legend = ft.Row([
        ft.Row([ft.Container(width=14, height=14, bgcolor=EXPECTED_COLOR, border_radius=3),
                ft.Text(_("Expected for your role"))], tight=True),
        ft.Row([ft.Container(width=14, height=14, bgcolor=RATED_COLOR, border_radius=3),
                ft.Text(_("Your rating"))], tight=True)], wrap=True, spacing=16)
    # The numbers under the bars, in words: what a screen reader (and anyone) reads.
    names = ft.Column([ft.Text(f"{numbers.get(d.duty, i + 1)}. " + _(
        "{duty}: expected {expected}, you {rated}").format(
        duty=d.title.text, expected=level(d.expected), rated=level(d.rated)),
        theme_style=ft.TextThemeStyle.BODY_SMALL,
        key=f"duty-line-{d.duty}") for i, d in enumerate(report.duties)], spacing=2)
    return ft.Column([chart, legend, names], spacing=8)


TREND_WORDS = {"improved": "↑", "worse": "↓", "same": "="}


def build_gap(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    tr = ctx.tr
    pack, pid = route.params["pack"], route.params["profile"]
    try:
        report = s.assessment.gap_report(pack, pid)
    except LearningError:
        return view(route.path, app_bar(ctx, _("Gap report"), back=Route.assess_list()), [
            ft.Text(_("Finish a self-assessment first."), key="no-report")])
    pv = s.assessment.view(pack, pid, start=False)
    max_level = max((lv for lv, _label in pv.scale), default=4)
    controls: list[ft.Control] = [
        ft.Text(pv.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        *validation_note(pv.validation, "profile-validation"),
        section_title(_("Expected and self-rated level per duty")),
        gap_chart(ctx, report, max_level, s.assessment.duty_numbers(pv))]
    gaps = [d for d in report.duties if d.gap > 0]
    if gaps:
        controls.append(ft.Text(tr.ngettext("{n} duty below the level your role expects.",
                                            "{n} duties below the level your role expects.",
                                            len(gaps)).format(n=len(gaps)), key="gap-summary"))
    else:
        controls.append(ft.Text(_("You meet the expected level in every duty."),
                                key="gap-summary"))
    controls.append(section_title(_("Self-rated and validated levels")))
    for t in report.tasks:
        validated = (_("validated by a mentor: {level}").format(level=t.validated)
                     if t.validated is not None else _("not validated yet"))
        controls.append(card(ft.Row([
            ft.Column([ft.Text(t.title.text, theme_style=ft.TextThemeStyle.TITLE_SMALL),
                       ft.Text(_("self-rated: {level}").format(level=t.rated) + " · "
                               + validated, theme_style=ft.TextThemeStyle.BODY_SMALL,
                               key=f"levels-{t.task}")], spacing=2, expand=True),
            ft.Icon(ft.Icons.CHEVRON_RIGHT)]),
            on_click=handler(ctx, lambda t=t: ctx.go(Route.validate(pack, pid, t.task))),
            key=f"validate-{t.task}", tooltip=_("Ask a mentor to confirm {task}").format(
                task=t.title.text)))
    controls.append(section_title(_("Recommended courses")))
    if not report.recommendations:
        controls.append(ft.Text(_("No course to recommend right now.")))
    for r in report.recommendations[:6]:
        status = _("Completed") if r.completed else _("Recommended")
        controls.append(card(ft.Row([
            ft.Icon(ft.Icons.CHECK_CIRCLE if r.completed else ft.Icons.SCHOOL),
            ft.Column([ft.Text(r.title.text, theme_style=ft.TextThemeStyle.TITLE_SMALL),
                       ft.Text(status, theme_style=ft.TextThemeStyle.BODY_SMALL)],
                      spacing=2, expand=True),
            ft.Icon(ft.Icons.CHEVRON_RIGHT)]),
            on_click=handler(ctx, lambda r=r: ctx.go(Route.course(r.pack, r.course))),
            key=f"rec-{r.course}", tooltip=_("Open course {course}").format(
                course=r.title.text)))
    if report.not_covered:
        controls.append(ft.Text(_("Not covered by any course yet: {skills}").format(
            skills=", ".join(k.label.text for k in report.not_covered)),
            theme_style=ft.TextThemeStyle.BODY_SMALL))
    if report.previous:
        controls.append(section_title(_("Compared with your previous assessment")))
        titles = {d.duty: d.title.text for d in report.duties}
        for c in report.changes:
            if c.kind != "duty":
                continue
            controls.append(ft.Text(f"{TREND_WORDS.get(c.trend, '')} {titles.get(c.id, c.id)}: "
                                    f"{tr.format_level(c.before)} → {tr.format_level(c.after)}",
                                    key=f"change-{c.id}"))
    controls.append(big_button(_("Start a new self-assessment"), handler(
        ctx, lambda: start_assessment(ctx, pack, pid)), icon=ft.Icons.REPLAY, primary=False,
        key="reassess",
        tooltip=_("Start a new self-assessment")))
    return personal_view(ctx, route.path, _("Gap report"), controls, back=Route.assess_list())
