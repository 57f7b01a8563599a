"""What LearningEngine and SelfAssessment share: the catalogue, who is learning, the fold
of their events, and the lock that serialises every public method.

Why a lock: the Store calls its subscribers (``apply``) from the thread that appended or
merged, while a UI handler builds a view on another.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from app.core.learning.catalog import Catalog
from app.core.learning.fold import EventFold

_Engine = TypeVar("_Engine", bound="FoldingEngine")
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


@runtime_checkable
class PreFolded(Protocol):
    """A learner's history already folded (app.core.learning.history.LearnerHistory):
    an engine given one as ``events=`` takes its fold instead of folding events."""

    def fold_for(self, learner: str, which: str) -> Any: ...


def locked(method: Callable[Concatenate[_Engine, _Params], _Result]
           ) -> Callable[Concatenate[_Engine, _Params], _Result]:
    """Run a public method of an engine under the engine's lock (its signature kept)."""
    @functools.wraps(method)
    def wrapper(self: _Engine, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


class FoldingEngine:
    """Base of the engines: ``catalog``, ``learner``, ``role``, ``language``, ``state``."""

    def __init__(self, catalog: Catalog | Iterable[dict[str, Any]], state: EventFold, *,
                 learner: str, role: str, language: str,
                 events: Iterable[dict[str, Any]] = ()) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.from_manifests(catalog)
        self.learner = learner
        self.role = role
        self.language = language
        self.state = state
        self.state.apply_many(events)
        self._lock = threading.RLock()

    @locked
    def apply(self, event: dict[str, Any]) -> bool:
        """Store subscriber: fold one new event in (duplicates are ignored)."""
        return self.state.apply(event)

    @locked
    def apply_many(self, events: Iterable[dict[str, Any]]) -> int:
        return self.state.apply_many(events)
