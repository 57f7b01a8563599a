"""Quiz: one question per screen, immediate feedback; results; the review queue."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from app.core.application import quiz_position
from app.core.errors import LearningError
from app.core.learning.quiz import OptionView, QuestionView
from app.ui.ctx import ViewContext
from app.ui.routes import Route
from app.ui.theme import STATUS
from app.ui.widgets import (
    app_bar,
    big_button,
    card,
    fallback_note,
    handler,
    personal_view,
    section_title,
    view,
)


def option_label(ctx: ViewContext, question: QuestionView, option: OptionView) -> str:
    if question.type == "true_false" and option.id in ("true", "false"):
        return ctx._("True") if option.id == "true" else ctx._("False")
    return option.text.text


def _any_fallback(question: QuestionView) -> str | None:
    texts = [question.prompt, question.case, question.explanation,
             *(o.text for o in question.options)]
    for t in texts:
        if t is not None and t.fallback:
            return t.lang
    return None


def check_button(ctx: ViewContext, chosen: list[str], on_check: Callable[[], None]) -> ft.Control:
    """"Check answer": the primary action of an unanswered question (in the action bar)."""
    _ = ctx._
    return big_button(_("Check answer"), handler(ctx, on_check), icon=ft.Icons.DONE,
                      key="check", disabled=not chosen, tooltip=_("Check answer"), expand=True)


def question_controls(ctx: ViewContext, q: QuestionView, chosen: list[str],
                      on_toggle: Callable[[str], None]) -> list[ft.Control]:
    """The question (unanswered: selectable options; answered: feedback). Its action
    ("Check answer", "Next question") goes to the screen's action bar."""
    _ = ctx._
    out: list[ft.Control] = []
    lang = _any_fallback(q)
    if lang:
        out.append(fallback_note(ctx, lang))
    if q.case is not None and q.case.text:
        out.append(ft.Container(ft.Markdown(q.case.text), padding=12, border_radius=10,
                                bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST, key="case"))
    out.append(ft.Text(q.prompt.text, theme_style=ft.TextThemeStyle.TITLE_LARGE,
                       key="prompt"))
    if q.type == "multiple" and not q.answered:
        out.append(ft.Text(_("Choose all that apply."), italic=True))
    for o in q.options:
        label = option_label(ctx, q, o)
        if not q.answered:
            selected = o.id in chosen
            icon = (ft.Icons.CHECK_BOX if selected else ft.Icons.CHECK_BOX_OUTLINE_BLANK) \
                if q.type == "multiple" else \
                (ft.Icons.RADIO_BUTTON_CHECKED if selected else ft.Icons.RADIO_BUTTON_UNCHECKED)
            out.append(card(ft.Row([ft.Icon(icon), ft.Text(label, expand=True)]),
                            on_click=handler(ctx, lambda o=o: on_toggle(o.id)),
                            key=f"option-{o.id}", highlight=selected))
            continue
        if o.correct:
            icon, color = ft.Icons.CHECK_CIRCLE, STATUS["ok"]
        elif o.chosen:
            icon, color = ft.Icons.CANCEL, STATUS["attention"]
        else:
            icon, color = ft.Icons.RADIO_BUTTON_UNCHECKED, ft.Colors.OUTLINE
        lines: list[ft.Control] = [ft.Text(label, weight=ft.FontWeight.BOLD if o.chosen
                                           else None)]
        if o.chosen:
            lines.append(ft.Text(_("Your answer"), theme_style=ft.TextThemeStyle.LABEL_MEDIUM))
        if (o.chosen or o.correct) and o.feedback is not None and o.feedback.text:
            lines.append(ft.Text(o.feedback.text, theme_style=ft.TextThemeStyle.BODY_MEDIUM))
        out.append(card(ft.Row([ft.Icon(icon, color=color), ft.Column(lines, expand=True,
                                                                        spacing=4)]),
                        key=f"option-{o.id}"))
    if not q.answered:
        return out
    verdict = _("Correct") if q.correct else (_("Partly correct") if (q.score or 0) > 0
                                              else _("Not quite"))
    out.insert(0, ft.Container(
        ft.Row([ft.Icon(ft.Icons.THUMB_UP if q.correct else ft.Icons.INFO, color=ft.Colors.WHITE),
                ft.Text(verdict, color=ft.Colors.WHITE, weight=ft.FontWeight.BOLD,
                        theme_style=ft.TextThemeStyle.TITLE_MEDIUM, expand=True)]),
        bgcolor=STATUS["ok"] if q.correct else STATUS["attention"],
        padding=12, border_radius=10, key="verdict"))
    if q.explanation is not None and q.explanation.text:
        out.append(ft.Container(ft.Column([
            ft.Text(_("Explanation"), theme_style=ft.TextThemeStyle.TITLE_SMALL),
            ft.Markdown(q.explanation.text)], spacing=6),
            padding=12, border_radius=10, bgcolor=ft.Colors.SECONDARY_CONTAINER,
            key="explanation"))
    return out


def _toggle(ctx: ViewContext, q: QuestionView, option_id: str) -> None:
    v = ctx.session.view
    if q.type == "multiple":
        v.quiz_choice = [c for c in v.quiz_choice if c != option_id] \
            if option_id in v.quiz_choice else [*v.quiz_choice, option_id]
    else:
        v.quiz_choice = [option_id]
    ctx.refresh()


def build_quiz(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pack, cid = route.params["pack"], route.params["course"]
    att = s.learning.current_attempt(pack, cid)
    if att is None:
        return build_quiz_intro(ctx, route)
    focus = s.view.quiz_focus
    shown = next((q for q in att.questions if q.id == focus and q.answered), None)
    if shown is None:
        s.view.quiz_focus = None
        shown = att.questions[att.current] if att.current is not None else None
    total = len(att.questions)

    def finish() -> None:
        s.view.quiz_focus = None
        s.learning.submit(pack, cid, att.attempt)
        ctx.go(Route.results(pack, cid, att.attempt))

    if shown is None:  # every question answered (e.g. resumed): offer the results
        return view(route.path, app_bar(ctx, _("Quiz"), back=Route.course(pack, cid)), [
            ft.Text(_("You answered every question."))],
            bottom=[big_button(_("See results"), handler(ctx, finish), icon=ft.Icons.FLAG,
                               key="see-results", tooltip=_("See results"), expand=True)])

    def check() -> None:
        s.learning.answer(pack, cid, att.attempt, shown.id, list(s.view.quiz_choice))
        s.view.quiz_choice = []
        s.view.quiz_focus = shown.id
        ctx.refresh()

    def next_question() -> None:
        s.view.quiz_focus = None
        ctx.go(Route.quiz(pack, cid))   # a new question opens at its top

    pos = quiz_position(att.questions, shown.index)
    where = _("Question {n} of {total}").format(n=pos.number, total=pos.total)
    if pos.parts:
        where += " · " + _("part {n} of {total}").format(n=pos.part, total=pos.parts)
    controls: list[ft.Control] = [
        ft.Text(where, theme_style=ft.TextThemeStyle.LABEL_LARGE, key="question-position"),
        ft.ProgressBar(value=(shown.index + (1 if shown.answered else 0)) / max(1, total)),
    ]
    controls += question_controls(ctx, shown, s.view.quiz_choice,
                                  lambda oid: _toggle(ctx, shown, oid))
    action: ft.Control
    if not shown.answered:
        action = check_button(ctx, s.view.quiz_choice, check)
    elif any(not q.answered for q in att.questions):
        action = big_button(_("Next question"), handler(ctx, next_question),
                            icon=ft.Icons.ARROW_FORWARD, key="next-question",
                            tooltip=_("Next question"), expand=True)
    else:
        action = big_button(_("See results"), handler(ctx, finish), icon=ft.Icons.FLAG,
                            key="see-results", tooltip=_("See results"), expand=True)
    title = _("Quiz · attempt {n}").format(n=att.number)
    return personal_view(ctx, route.path, title, controls, back=Route.course(pack, cid),
                         bottom=[action])


def build_quiz_intro(ctx: ViewContext, route: Route) -> ft.View:
    """No attempt open: what the quiz is, and an explicit Start (spends an attempt)."""
    _ = ctx._
    tr = ctx.tr
    s = ctx.session
    pack, cid = route.params["pack"], route.params["course"]
    outline = s.learning.outline(pack, cid)
    q = outline.quiz
    if q is None:   # current_attempt refused it already: a course without a quiz
        raise LearningError(f"course {pack}/{cid} has no quiz")
    lines = [tr.ngettext("{n} question", "{n} questions", q.questions).format(n=q.questions),
             _("Pass mark {mark}").format(mark=tr.format_percent(q.pass_mark / 100))]
    if q.attempts_left is not None:
        lines.append(tr.ngettext("{n} attempt left", "{n} attempts left",
                                 q.attempts_left).format(n=q.attempts_left))
    can_start = q.attempts_left is None or q.attempts_left > 0

    def start() -> None:
        s.learning.current_attempt(pack, cid, start=True)
        s.view.quiz_focus, s.view.quiz_choice = None, []
        ctx.refresh()

    controls: list[ft.Control] = [
        ft.Text(outline.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        ft.Text(" · ".join(lines), key="quiz-facts"),
        ft.Text(_("One question per screen. You see right away whether your answer was "
                  "right, and why.")),
    ]
    if not can_start:
        controls.append(ft.Text(_("No attempts left. Talk to your trainer."),
                                key="no-attempts"))
    start_button = big_button(_("Start the quiz"), handler(ctx, start), icon=ft.Icons.PLAY_ARROW,
                              key="start-quiz", disabled=not can_start,
                              tooltip=_("Start the quiz"), expand=True)
    return personal_view(ctx, route.path, _("Quiz"), controls, back=Route.course(pack, cid),
                         bottom=[start_button])


def build_results(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    tr = ctx.tr
    s = ctx.session
    pack, cid, aid = route.params["pack"], route.params["course"], route.params["attempt"]
    att = s.learning.attempt(pack, cid, aid)
    outline = s.learning.outline(pack, cid)
    quiz = outline.quiz
    score = att.score if att.score is not None else 0.0
    pass_mark = quiz.pass_mark if quiz is not None else 0.0
    passed = att.submitted and score >= pass_mark
    controls: list[ft.Control] = [
        ft.Text(outline.title.text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        ft.Row([ft.Icon(ft.Icons.EMOJI_EVENTS if passed else ft.Icons.SCHOOL, size=48,
                        color=STATUS["ok"] if passed else STATUS["attention"]),
                ft.Column([ft.Text(_("Your score: {score}").format(
                               score=tr.format_percent(score / 100)),
                               theme_style=ft.TextThemeStyle.HEADLINE_SMALL, key="score"),
                           ft.Text(_("Passed") if passed else _("Not passed yet"),
                                   theme_style=ft.TextThemeStyle.TITLE_MEDIUM, key="verdict"),
                           ft.Text(_("Pass mark {mark}").format(
                               mark=tr.format_percent(pass_mark / 100)))],
                          spacing=4, expand=True)]),
    ]
    wrong = [q for q in att.questions if not q.correct]
    if wrong:
        controls.append(section_title(_("What to review")))
        for q in wrong:
            # the explanation is sanitised Markdown (app.core.learning.text.markdown)
            controls.append(card(ft.Column([
                ft.Text(q.prompt.text, weight=ft.FontWeight.BOLD),
                ft.Markdown(q.explanation.text if q.explanation is not None else "")],
                spacing=4), key=f"review-{q.id}"))
    else:
        controls.append(ft.Text(_("Every answer was right. Well done!")))
    to_course = big_button(_("Back to the course"), handler(ctx, lambda: ctx.go(
        Route.course(pack, cid))), icon=ft.Icons.MENU_BOOK, primary=False, key="to-course",
        tooltip=_("Back to the course"), expand=True)
    bottom = [to_course]
    if quiz is not None and not quiz.passed and (quiz.attempts_left is None
                                                 or quiz.attempts_left > 0):
        def retry() -> None:
            s.learning.current_attempt(pack, cid, start=True)
            s.view.quiz_focus, s.view.quiz_choice = None, []
            ctx.go(Route.quiz(pack, cid))
        # the primary action is the retry (bar); the way back stays on the page
        controls.append(to_course)
        bottom = [big_button(_("Try again"), handler(ctx, retry), icon=ft.Icons.REPLAY,
                             key="retry", tooltip=_("Try the quiz again"), expand=True)]
    return personal_view(ctx, route.path, _("Results"), controls,
                         back=Route.course(pack, cid), bottom=bottom)


def build_review(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    feedback = s.view.review_feedback
    controls: list[ft.Control] = []
    bottom: list[ft.Control] = []
    if feedback is not None:
        controls += question_controls(ctx, feedback, [], lambda _oid: None)

        def next_item() -> None:
            s.view.review_feedback = None
            ctx.go(Route.review())   # the next question opens at its top
        bottom.append(big_button(_("Next question"), handler(ctx, next_item),
                                 icon=ft.Icons.ARROW_FORWARD, key="next-question",
                                 tooltip=_("Next question"), expand=True))
    else:
        queue = s.learning.review_queue()
        if not queue:
            controls.append(ft.Text(_("Nothing to review today."), key="review-empty"))
            controls.append(big_button(_("Back to my courses"), handler(ctx, lambda: ctx.go(
                Route.home())), key="to-home", tooltip=_("Back to my courses")))
        else:
            item = queue[0]
            controls.append(ft.Text(ctx.tr.ngettext("{n} question to review",
                                                    "{n} questions to review",
                                                    len(queue)).format(n=len(queue)),
                                    theme_style=ft.TextThemeStyle.LABEL_LARGE))
            controls.append(ft.Text(item.course_title.text,
                                    theme_style=ft.TextThemeStyle.BODY_SMALL))
            q = item.question

            def check() -> None:
                step = s.learning.answer_review(item.pack, item.course, q.id,
                                                list(s.view.quiz_choice))
                s.view.quiz_choice = []
                s.view.review_feedback = step.feedback
                ctx.refresh()
            controls += question_controls(ctx, q, s.view.quiz_choice,
                                          lambda oid: _toggle(ctx, q, oid))
            bottom.append(check_button(ctx, s.view.quiz_choice, check))
    return personal_view(ctx, route.path, _("Review"), controls, back=Route.home(),
                         bottom=bottom or None)
