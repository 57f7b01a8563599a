"""The signed-in learner's two engines, kept current by the store.

At sign-in the session makes one :class:`LearnerWork`: the learning engine and the
self-assessment engine of that learner, both folded from *one* read of the learner's
history (it can be thousands of events on a tablet used for months). From then on:

* an action asks an engine for a *step* (the events to record; engines do no I/O);
* :meth:`LearnerWork.commit` appends each event to the store — on disk (fsync) before
  it returns — and the store's subscription folds the event into both engines, so the
  next screen shows it. Events of other learners (a background sync merging) are
  ignored here.

:meth:`close` (lock, or reload after a pack install) drops the subscription; after it,
the engines are garbage: nothing personal stays reachable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from app.core.application.content import InstalledContent
from app.core.assessment import SelfAssessment
from app.core.learning import Catalog, LearningEngine
from app.core.practice.engine import PracticeEngine
from app.core.store import Store

Event = dict[str, Any]


class HasEvents(Protocol):
    """A step of either engine: the events to append, in order."""

    @property
    def events(self) -> list[Event]: ...


StepT = TypeVar("StepT", bound=HasEvents)


class LearnerWork:
    def __init__(self, store: Store, content: InstalledContent, *, learner: str, role: str,
                 language: str) -> None:
        self.store = store
        self.learner = learner
        self.catalog: Catalog = content.catalog()
        history = store.events(learner)
        self.engine = LearningEngine(self.catalog, learner=learner, role=role,
                                     language=language, load_lesson=content.load_lesson,
                                     events=history)
        self.assess = SelfAssessment(self.catalog, learner=learner, role=role,
                                     language=language, events=history,
                                     learning=self.engine.state)
        self.practice = PracticeEngine(self.catalog, learner=learner, role=role,
                                       language=language, events=history)
        self._unsubscribe: Callable[[], None] | None = store.subscribe(self._on_events)
        # Courses finished through another tablet's events get their completion here.
        for event in self.engine.propose_completions():
            store.append(event)

    def _on_events(self, events: list[Event]) -> None:
        if self._unsubscribe is None:
            return
        for event in events:
            if event.get("learner") == self.learner:
                self.engine.apply(event)
                self.assess.apply(event)
                self.practice.apply(event)

    def commit(self, step: StepT) -> StepT:
        """Append a step's events (each on disk before this returns); the subscription
        folds them into both engines. Returns the step."""
        for event in step.events:
            self.store.append(event)
        return step

    def set_language(self, code: str) -> None:
        self.engine.language = code
        self.assess.language = code
        self.practice.language = code

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
