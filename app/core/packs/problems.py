"""Collect the authoring mistakes of a pack source, so one upload reports them all.

The source reader checks independent parts (each course, each lesson file, each quiz,
each link, each profile) under ``Problems.attempt``: a part with a mistake is recorded
and left out, the others are still checked; ``raise_if_any`` then raises the one
PackSourceError, or a PackSourceErrors holding every one (each names its file, line and
field). Within one file the first mistake stops that file (what follows may depend on
it). pack.toml, skills.toml and the media folder come first and stop the build: the
rest is judged against them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from app.core.errors import PackSourceError, PackSourceErrors

T = TypeVar("T")
#: more than this many problems: the list ends with the count of the others
MAX_PROBLEMS = 100


class Problems:
    def __init__(self) -> None:
        self.found: list[PackSourceError] = []

    def attempt(self, check: Callable[..., T], *args: object) -> T | None:
        """``check(*args)``, or None after recording its PackSourceError."""
        try:
            return check(*args)
        except PackSourceErrors as many:
            self.found.extend(many.problems)
        except PackSourceError as exc:
            self.found.append(exc)
        return None

    def raise_if_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise PackSourceErrors(self.found[:MAX_PROBLEMS], total=len(self.found))
