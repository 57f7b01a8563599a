"""Which view draws which screen: the one table from a parsed Route to its builder.

The shell (app/ui/shell.py) calls :func:`build`. This is the only module that imports the
views; views import neither each other nor this module (shared pieces live in
app/ui/widgets.py, paths in app/ui/routes.py), so there is no import circle.
"""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from app.ui.ctx import ViewContext
from app.ui.routes import Route, Screen
from app.ui.views import (
    assessment,
    course,
    home,
    lesson,
    practice,
    progress,
    quiz,
    settings,
    who,
)

Builder = Callable[[ViewContext, Route], ft.View]

BUILDERS: dict[Screen, Builder] = {
    Screen.WHO: who.build_who,
    Screen.PIN: who.build_pin,
    Screen.NEW_PROFILE: who.build_new_profile,
    Screen.HOME: home.build_home,
    Screen.COURSE: course.build_course,
    Screen.LESSON: lesson.build_lesson,
    Screen.QUIZ: quiz.build_quiz,
    Screen.RESULTS: quiz.build_results,
    Screen.REVIEW: quiz.build_review,
    Screen.ASSESS_LIST: assessment.build_assess_list,
    Screen.ASSESS: assessment.build_assess,
    Screen.GAP: assessment.build_gap,
    Screen.PROGRESS: progress.build_progress,
    Screen.SETTINGS: settings.build_settings,
    Screen.PRACTICE: practice.build_practice,
    Screen.OBSERVE: practice.build_observe,
    Screen.VALIDATE: practice.build_validate,
}


def build(ctx: ViewContext, route: Route) -> ft.View:
    return BUILDERS[route.name](ctx, route)
