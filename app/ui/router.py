"""Routes of the app: parse a URL path, guard personal screens, pick the view builder.

Pure (no page): ``resolve(path, signed_in) -> Route`` and ``build(ctx, route) -> View``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    import flet as ft

    from app.ui.ctx import ViewContext

_SEG = r"([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})"
_NUM = r"([0-9]{1,4})"

#: name, pattern, parameter names, needs a signed-in learner
ROUTES: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("who", r"/", (), False),
    ("new_profile", r"/profiles/new", (), False),
    ("pin", rf"/pin/{_SEG}", ("profile",), False),
    ("settings", r"/settings", (), False),
    ("home", r"/home", (), True),
    ("course", rf"/course/{_SEG}/{_SEG}", ("pack", "course"), True),
    ("lesson", rf"/lesson/{_SEG}/{_SEG}/{_SEG}/{_NUM}", ("pack", "course", "lesson", "card"),
     True),
    ("quiz", rf"/quiz/{_SEG}/{_SEG}", ("pack", "course"), True),
    ("results", rf"/results/{_SEG}/{_SEG}/{_SEG}", ("pack", "course", "attempt"), True),
    ("review", r"/review", (), True),
    ("assess_list", r"/assess", (), True),
    ("assess", rf"/assess/{_SEG}/{_SEG}", ("pack", "profile"), True),
    ("gap", rf"/gap/{_SEG}/{_SEG}", ("pack", "profile"), True),
    ("progress", r"/progress", (), True),
)
_COMPILED = [(n, re.compile(f"^{p}$"), names, personal) for n, p, names, personal in ROUTES]


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    personal: bool = False


def parse(path: str | None) -> Route:
    """A URL path (query string ignored) → Route; unknown paths → the "who" screen."""
    raw = unquote((path or "/").split("?", 1)[0].split("#", 1)[0]) or "/"
    if len(raw) > 1 and raw.endswith("/"):
        raw = raw.rstrip("/")
    for name, rx, names, personal in _COMPILED:
        m = rx.match(raw)
        if m:
            return Route(name, raw, dict(zip(names, m.groups(), strict=True)), personal)
    return Route("who", "/", {}, False)


def resolve(path: str | None, signed_in: bool) -> Route:
    """parse + guard: personal screens need a signed-in learner, else "who"."""
    route = parse(path)
    if route.personal and not signed_in:
        return Route("who", "/", {}, False)
    if signed_in and route.name in ("who", "pin", "new_profile"):
        return parse("/home")
    return route


def builders() -> dict[str, Callable[[ViewContext, Route], ft.View]]:
    from app.ui.views import assessment, course, home, lesson, progress, quiz, settings, who
    return {
        "who": who.build_who, "pin": who.build_pin, "new_profile": who.build_new_profile,
        "home": home.build_home, "course": course.build_course,
        "lesson": lesson.build_lesson, "quiz": quiz.build_quiz,
        "results": quiz.build_results, "review": quiz.build_review,
        "assess_list": assessment.build_assess_list, "assess": assessment.build_assess,
        "gap": assessment.build_gap, "progress": progress.build_progress,
        "settings": settings.build_settings,
    }


def build(ctx: ViewContext, route: Route) -> ft.View:
    return builders()[route.name](ctx, route)
