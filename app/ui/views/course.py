"""Course outline: lessons with their state, the quiz, and where to continue."""

from __future__ import annotations

import flet as ft

from app.ui.ctx import ViewContext
from app.ui.routes import Route
from app.ui.theme import STATUS
from app.ui.widgets import (
    big_button,
    card,
    fallback_note,
    handler,
    personal_view,
    section_title,
)

STATE_ICONS = {"not_started": ft.Icons.RADIO_BUTTON_UNCHECKED,
               "in_progress": ft.Icons.TIMELAPSE, "done": ft.Icons.CHECK_CIRCLE}


def take_quiz(ctx: ViewContext, pack: str, course: str) -> None:
    """"Take the quiz" starts an attempt (a deliberate tap); "Continue quiz" resumes."""
    ctx.session.learning.current_attempt(pack, course, start=True)
    ctx.session.view.quiz_focus, ctx.session.view.quiz_choice = None, []
    ctx.go(Route.quiz(pack, course))


def build_course(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    tr = ctx.tr
    pack, cid = route.params["pack"], route.params["course"]
    o = ctx.session.learning.outline(pack, cid)
    state_words = {"not_started": _("Not started"), "in_progress": _("In progress"),
                   "done": _("Done")}
    controls: list[ft.Control] = []
    if o.title.fallback:
        controls.append(fallback_note(ctx, o.title.lang))
    controls += [ft.Text(o.title.text, theme_style=ft.TextThemeStyle.HEADLINE_SMALL),
                 ft.Text(o.summary.text),
                 ft.Text(tr.ngettext("about {n} minute", "about {n} minutes",
                                     o.minutes).format(n=o.minutes),
                         theme_style=ft.TextThemeStyle.BODY_SMALL)]
    if o.completed:
        controls.append(ft.Row([ft.Icon(ft.Icons.VERIFIED, color=STATUS["ok"]),
                                ft.Text(_("Course completed"), weight=ft.FontWeight.BOLD)]))
    label = _("Start") if o.resume.kind == "lesson" and not any(
        lesson.state != "not_started" for lesson in o.lessons) else _("Continue")
    if o.resume.kind == "done":
        label = _("Read again")
    def start() -> None:   # "Read again" a finished course: from its first card
        ctx.go(Route.resume(o.resume) if o.resume.kind != "done"
               else Route.lesson(pack, cid, o.lessons[0].id, 0))
    controls.append(big_button(label, handler(ctx, start),
                               icon=ft.Icons.PLAY_ARROW, key="course-continue",
                               tooltip=label))
    controls.append(section_title(_("Lessons")))
    for i, lesson in enumerate(o.lessons, start=1):
        sub = tr.ngettext("{viewed} of {n} card read", "{viewed} of {n} cards read",
                          lesson.cards).format(viewed=lesson.viewed, n=lesson.cards)
        controls.append(card(
            ft.Row([ft.Icon(STATE_ICONS.get(lesson.state, ft.Icons.CIRCLE_OUTLINED),
                            tooltip=state_words.get(lesson.state, "")),
                    ft.Column([ft.Text(f"{i}. {lesson.title.text}",
                                       theme_style=ft.TextThemeStyle.TITLE_SMALL),
                               ft.Text(f"{state_words.get(lesson.state, '')} · {sub}",
                                       theme_style=ft.TextThemeStyle.BODY_SMALL)],
                              spacing=2, expand=True),
                    ft.Icon(ft.Icons.CHEVRON_RIGHT)]),
            on_click=handler(ctx, lambda lesson=lesson: ctx.go(Route.lesson(
                pack, cid, lesson.id, lesson.viewed if 0 < lesson.viewed < lesson.cards
                else 0))),
            key=f"lesson-{lesson.id}",
            tooltip=_("Open lesson {title}").format(title=lesson.title.text)))
    q = o.quiz
    if q is not None:
        controls.append(section_title(_("Quiz")))
        lines = [tr.ngettext("{n} question", "{n} questions", q.questions).format(n=q.questions),
                 _("Pass mark {mark}").format(mark=tr.format_percent(q.pass_mark / 100))]
        if q.best_score is not None:
            lines.append(_("Best score {score}").format(
                score=tr.format_percent(q.best_score / 100)))
        if q.attempts_left is not None:
            lines.append(tr.ngettext("{n} attempt left", "{n} attempts left",
                                     q.attempts_left).format(n=q.attempts_left))
        can_take = q.open_attempt is not None or q.attempts_left is None or q.attempts_left > 0
        quiz_label = _("Continue quiz") if q.open_attempt else _("Take the quiz")
        controls.append(card(ft.Column([
            ft.Text(" · ".join(lines)),
            ft.Row([ft.Icon(ft.Icons.VERIFIED, color=STATUS["ok"]),
                    ft.Text(_("Passed"))]) if q.passed else ft.Container(),
            big_button(quiz_label, handler(ctx, lambda: take_quiz(ctx, pack, cid)),
                       icon=ft.Icons.QUIZ, key="take-quiz", disabled=not can_take,
                       tooltip=quiz_label, primary=False),
        ], spacing=8)))
    return personal_view(ctx, route.path, o.title.text, controls, back=Route.home())
