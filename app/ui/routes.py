"""Every route of the app, in one place: typed builders, parsing and the sign-in guard.

Pure (no Flet): the only module that spells a URL path. Views build paths with the
builders (``Route.lesson(pack, course, lesson, card)`` → ``"/lesson/p/c/l/2"``) and read a
parsed route's ``params``; places the application layer answers with (``CardPlace``,
``CoursePlace``, a learning ``ResumePoint``) become paths through ``Route.place`` and
``Route.resume``. Which view draws which screen is app/ui/screens.py.

Invariants: every builder's path parses back to the same screen and parameters; any
other path (unknown, ``..``, over-long ids, negative card numbers) parses to the "who"
screen; personal screens need a signed-in learner (``resolve``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, unquote

from app.core.application import CardPlace, CoursePlace
from app.core.learning.views import ResumePoint

_SEG = r"([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})"
_NUM = r"([0-9]{1,4})"


class Screen(StrEnum):
    WHO = "who"
    NEW_PROFILE = "new_profile"
    PIN = "pin"
    SETTINGS = "settings"
    HOME = "home"
    COURSE = "course"
    LESSON = "lesson"
    QUIZ = "quiz"
    RESULTS = "results"
    REVIEW = "review"
    ASSESS_LIST = "assess_list"
    ASSESS = "assess"
    GAP = "gap"
    PROGRESS = "progress"
    PRACTICE = "practice"
    OBSERVE = "observe"
    VALIDATE = "validate"


#: screen → (path pattern, parameter names, needs a signed-in learner)
PATTERNS: dict[Screen, tuple[str, tuple[str, ...], bool]] = {
    Screen.WHO: (r"/", (), False),
    Screen.NEW_PROFILE: (r"/profiles/new", (), False),
    Screen.PIN: (rf"/pin/{_SEG}", ("profile",), False),
    Screen.SETTINGS: (r"/settings", (), False),
    Screen.HOME: (r"/home", (), True),
    Screen.COURSE: (rf"/course/{_SEG}/{_SEG}", ("pack", "course"), True),
    Screen.LESSON: (rf"/lesson/{_SEG}/{_SEG}/{_SEG}/{_NUM}",
                    ("pack", "course", "lesson", "card"), True),
    Screen.QUIZ: (rf"/quiz/{_SEG}/{_SEG}", ("pack", "course"), True),
    Screen.RESULTS: (rf"/results/{_SEG}/{_SEG}/{_SEG}", ("pack", "course", "attempt"), True),
    Screen.REVIEW: (r"/review", (), True),
    Screen.ASSESS_LIST: (r"/assess", (), True),
    Screen.ASSESS: (rf"/assess/{_SEG}/{_SEG}", ("pack", "profile"), True),
    Screen.GAP: (rf"/gap/{_SEG}/{_SEG}", ("pack", "profile"), True),
    Screen.PROGRESS: (r"/progress", (), True),
    Screen.PRACTICE: (r"/practice", (), True),
    Screen.OBSERVE: (rf"/observe/{_SEG}/{_SEG}/{_SEG}", ("pack", "course", "task"), True),
    Screen.VALIDATE: (rf"/validate/{_SEG}/{_SEG}/{_SEG}", ("pack", "profile", "task"), True),
}
_COMPILED = [(screen, re.compile(f"^{pattern}$"), names, personal)
             for screen, (pattern, names, personal) in PATTERNS.items()]
#: Screens a signed-in learner never sees (they go home instead).
_SIGN_IN_SCREENS = (Screen.WHO, Screen.PIN, Screen.NEW_PROFILE)


def _path(*parts: str | int) -> str:
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


@dataclass(frozen=True)
class Route:
    """A parsed path: which screen, with which parameters."""

    name: Screen
    path: str
    params: dict[str, str] = field(default_factory=dict)
    personal: bool = False

    # -- builders: the path of each screen ------------------------------------------------
    @staticmethod
    def who() -> str:
        return "/"

    @staticmethod
    def new_profile() -> str:
        return "/profiles/new"

    @staticmethod
    def pin(profile: str) -> str:
        return _path("pin", profile)

    @staticmethod
    def settings() -> str:
        return "/settings"

    @staticmethod
    def home() -> str:
        return "/home"

    @staticmethod
    def course(pack: str, course: str) -> str:
        return _path("course", pack, course)

    @staticmethod
    def lesson(pack: str, course: str, lesson: str, card: int) -> str:
        return _path("lesson", pack, course, lesson, card)

    @staticmethod
    def quiz(pack: str, course: str) -> str:
        return _path("quiz", pack, course)

    @staticmethod
    def results(pack: str, course: str, attempt: str) -> str:
        return _path("results", pack, course, attempt)

    @staticmethod
    def review() -> str:
        return "/review"

    @staticmethod
    def assess_list() -> str:
        return "/assess"

    @staticmethod
    def assess(pack: str, profile: str) -> str:
        return _path("assess", pack, profile)

    @staticmethod
    def gap(pack: str, profile: str) -> str:
        return _path("gap", pack, profile)

    @staticmethod
    def progress() -> str:
        return "/progress"

    @staticmethod
    def practice() -> str:
        return "/practice"

    @staticmethod
    def observe(pack: str, course: str, task: str) -> str:
        return _path("observe", pack, course, task)

    @staticmethod
    def validate(pack: str, profile: str, task: str) -> str:
        return _path("validate", pack, profile, task)

    @staticmethod
    def start(signed_in: bool) -> str:
        """Where "back to start" leads: home when signed in, else "Who is learning?"."""
        return Route.home() if signed_in else Route.who()

    # -- places the application layer answers with ---------------------------------------------
    @staticmethod
    def place(place: CardPlace | CoursePlace) -> str:
        if isinstance(place, CardPlace):
            return Route.lesson(place.pack, place.course, place.lesson, place.card)
        return Route.course(place.pack, place.course)

    @staticmethod
    def resume(point: ResumePoint) -> str:
        """Where "Continue" goes for a learning ResumePoint."""
        if point.kind == "lesson" and point.lesson:
            return Route.lesson(point.pack, point.course, point.lesson, point.card or 0)
        if point.kind == "quiz":
            return Route.quiz(point.pack, point.course)
        return Route.course(point.pack, point.course)


def parse(path: str | None) -> Route:
    """A URL path (query string ignored) → Route; unknown paths → the "who" screen."""
    raw = unquote((path or "/").split("?", 1)[0].split("#", 1)[0]) or "/"
    if len(raw) > 1 and raw.endswith("/"):
        raw = raw.rstrip("/")
    for screen, rx, names, personal in _COMPILED:
        m = rx.match(raw)
        if m:
            return Route(screen, raw, dict(zip(names, m.groups(), strict=True)), personal)
    return Route(Screen.WHO, "/", {}, False)


def resolve(path: str | None, signed_in: bool) -> Route:
    """parse + guard: personal screens need a signed-in learner, else "who"; a signed-in
    learner asking for a sign-in screen goes home."""
    route = parse(path)
    if route.personal and not signed_in:
        return Route(Screen.WHO, "/", {}, False)
    if signed_in and route.name in _SIGN_IN_SCREENS:
        return parse(Route.home())
    return route
