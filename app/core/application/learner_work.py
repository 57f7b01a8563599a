"""The signed-in learner's two engines, kept current by the store.

At sign-in the session makes one :class:`LearnerWork`: the learning engine and the
self-assessment engine of that learner, both restored from *one* load of the learner's
history — the saved fold snapshot plus the events stored since (a history can be
100,000 events on a tablet shared for years; sign-in costs what changed). From then on:

* an action asks an engine for a *step* (the events to record; engines do no I/O);
* :meth:`LearnerWork.commit` appends each event to the store — on disk (fsync) before
  it returns — and the store's subscription folds the event into both engines, so the
  next screen shows it. Events of other learners (a background sync merging) are
  ignored here.

:meth:`close` (lock, or reload after a pack install) drops the subscription and saves
the learner's fold snapshot when the sign-in deferred it or the session's events made
one due (so sign-in never pays for encoding the whole state, and the next one folds
little: app/core/learning/upkeep.py); after it, the engines are garbage: nothing
personal stays reachable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from app.core.application.content import InstalledContent
from app.core.assessment import SelfAssessment
from app.core.learning import Catalog, LearnerHistory, LearningEngine
from app.core.learning.upkeep import save_at_session_end
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
        # One load feeds both folds: the learner's fold snapshot plus the events stored
        # since (app/core/learning/history.py), not the whole history. A new snapshot,
        # when one is due, is saved by `close` (encoding the state costs what it weighs).
        history = LearningEngine.load_history(store, learner, defer_save=True)
        self._history: LearnerHistory | None = history
        self._lock = threading.Lock()   # a store callback vs. close (another thread)
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
        with self._lock:
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
        """End the session's folding; save the fold snapshot when one is due (the
        state, with this session's events, is no longer changed by anyone)."""
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe = None
            history, self._history = self._history, None
        if history is not None:
            # the deferred one, or one the session's own events made due
            # (app/core/learning/upkeep.py): the next sign-in folds only what came after
            save_at_session_end(self.store, history)
