"""A learner's folded history at sign-in: the saved snapshot plus what came since.

Folding every event of a learner at each sign-in grows with the history (100,000 events:
seconds and hundreds of MiB here). Both folds (LearnerState, AssessmentState) give the
same state for any order of the same events and ignore an id seen before, so

    state = restore(snapshot) + fold(events stored after the snapshot's mark)

equals a fold of everything, however the events arrived (merges from other tablets,
duplicates, out of order). `load_history` does that with the store's snapshot of the
learner (app/core/store/snapshots.py has the mark's rules), folding each event once into
the fold of its type, and saves a new snapshot when `RESNAPSHOT_AFTER` or more stored
events came since the last one, so sign-in reads at most about that many events.

Saving costs what the whole state weighs (encoding it, writing a few MB at 100,000
events: 100–300 ms here), so a sign-in may defer it (``defer_save=True``, what
LearnerWork does): the history is marked `save_due` and `save_history` saves it when the
session ends — the state then also holds the session's events, which come again after
the mark and are ignored by id. A sign-in saves at once when `SAVE_NOW_AFTER` or more
events came since (sessions that never ended cleanly must not let the fold grow).

A snapshot is recomputed from nothing (streamed segment by segment, not loaded whole)
when it is missing, damaged, of another `fold_version()` (the fold code, this payload
format, the Python version), or when its mark no longer fits the stored history. A
failed snapshot write is logged and changes nothing but the next sign-in's cost.

"From nothing" means from the learner's *retained fold* when the tablet aged some of
their events out (app/core/learning/retention.py): the fold of exactly the events that
left, the only copy of them, in the same payload format (RETAINED_NAME). Folds do not
depend on order and ignore an id seen before, so retained fold + the stored events = a
fold of everything the learner ever did here. It is used whatever fold version wrote it
(it cannot be recomputed: a change of the fold must keep reading older payloads), as
long as the payload format (CODEC_VERSION) is this one.

Payload: ``marshal`` of the states' ``to_plain()`` (plain tuples/dicts/sets; fast to
load, no code runs on loading, unlike pickle), behind the store's sha256-checked header.
"""

from __future__ import annotations

import gc
import logging
import marshal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.assessment.state import FOLD_VERSION as ASSESSMENT_FOLD_VERSION
from app.core.assessment.state import TYPES as ASSESSMENT_TYPES
from app.core.assessment.state import AssessmentState
from app.core.errors import StoreError
from app.core.learning.state import FOLD_VERSION as LEARNING_FOLD_VERSION
from app.core.learning.state import LEARNING_TYPES, LearnerState
from app.core.store.snapshots import HistoryMark, Snapshot

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "folds"
#: the fold of the events aged out of this tablet (retention.py)
RETAINED_NAME = "retained"
#: save a new snapshot at sign-in when at least this many stored events came since
RESNAPSHOT_AFTER = 500
#: a deferred save (defer_save=True) is made at sign-in anyway from this many events on
SAVE_NOW_AFTER = 5_000
#: the payload layout below
CODEC_VERSION = 3

Event = dict[str, Any]


def fold_version() -> str:
    """What a snapshot must have been made by to be used: both folds, the payload
    format, and the Python / marshal versions that wrote it."""
    py = sys.version_info
    return (f"learning-{LEARNING_FOLD_VERSION}.assessment-{ASSESSMENT_FOLD_VERSION}"
            f".codec-{CODEC_VERSION}.py-{py[0]}.{py[1]}.marshal-{marshal.version}")


class HistorySource(Protocol):
    """What load_history needs of the Store."""

    def history_since(self, learner_id: str, mark: HistoryMark | None,
                      apply: Callable[[list[Event]], Any]) -> HistoryMark | None: ...

    def read_snapshot(self, learner_id: str, name: str, *, cache: bool = True
                      ) -> Snapshot | None: ...

    def write_snapshot(self, learner_id: str, name: str, snapshot: Snapshot) -> None: ...


@dataclass
class LearnerHistory:
    """Both folds of one learner. Pass it as ``events=`` to LearningEngine and
    SelfAssessment (each takes its fold; no event is folded twice), and to an engine of
    the other types (PracticeEngine: ``other``)."""

    learner: str
    learning: LearnerState
    assessment: AssessmentState
    #: what the store held when this was loaded
    mark: HistoryMark
    #: how the load went: "snapshot" (restored + `folded` new events) or "recomputed"
    source: str = "recomputed"
    folded: int = 0
    #: a new snapshot is due and was deferred (load_history(defer_save=True)):
    #: `save_history` saves it
    save_due: bool = False
    #: events of the types neither fold reads (today the few ``practice.*`` events a
    #: mentor confirms), kept as they are by id: the engine of those types folds them
    other: dict[str, Event] = field(default_factory=dict)

    @classmethod
    def empty(cls, learner: str) -> LearnerHistory:
        return cls(learner, LearnerState(learner), AssessmentState(learner),
                   HistoryMark(0, None))

    def fold_for(self, learner: str, which: str) -> Any:
        """The "learning" or "assessment" fold, for an engine of `learner`."""
        if learner != self.learner:
            raise StoreError(f"the history of {self.learner!r} given for {learner!r}")
        if which == "other":
            return list(self.other.values())
        return self.learning if which == "learning" else self.assessment

    def apply(self, event: Event) -> bool:
        """Fold one event into the fold of its type (False: a duplicate or not folded)."""
        etype = event.get("type") if isinstance(event, dict) else None
        if etype in LEARNING_TYPES:
            return self.learning.apply(event)
        if etype in ASSESSMENT_TYPES:
            return self.assessment.apply(event)
        return self._keep_other(event)

    def _keep_other(self, event: Event) -> bool:
        event_id = event.get("id")
        if not isinstance(event_id, str) or event_id in self.other:
            return False
        self.other[event_id] = event
        return True

    def apply_batch(self, events: list[Event]) -> None:
        learning, assessment = self.learning.apply, self.assessment.apply
        for event in events:
            etype = event.get("type")
            if etype in LEARNING_TYPES:
                learning(event)
            elif etype in ASSESSMENT_TYPES:
                assessment(event)
            else:
                self._keep_other(event)
        self.folded += len(events)

    def encode(self) -> bytes:
        return marshal.dumps((CODEC_VERSION, self.learner, self.learning.to_plain(),
                              self.assessment.to_plain(), list(self.other.values())))

    @classmethod
    def decode(cls, learner: str, payload: bytes | memoryview,
               mark: HistoryMark) -> LearnerHistory:
        """Restore a snapshot payload; ValueError when it is not one of this learner."""
        gc_was_on = gc.isenabled()
        gc.disable()      # tens of thousands of new objects would trigger needless passes
        try:
            codec, who, learning, assessment, other = marshal.loads(payload)
            if codec != CODEC_VERSION or who != learner or type(other) is not list:
                raise ValueError("another payload format or learner")
            history = cls(learner, LearnerState.from_plain(learner, learning),
                          AssessmentState.from_plain(learner, assessment), mark, "snapshot")
            for event in other:
                if type(event) is not dict:
                    raise TypeError("other events: expected dicts")
                history._keep_other(event)
            return history
        except (EOFError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"fold snapshot of {learner!r} unusable: {exc}") from None
        finally:
            if gc_was_on:
                gc.enable()


def load_history(store: HistorySource, learner: str, *,
                 resnapshot_after: int = RESNAPSHOT_AFTER,
                 defer_save: bool = False) -> LearnerHistory:
    """The learner's folds: snapshot + the events stored since (or a recompute), and a
    new snapshot when `resnapshot_after` or more stored events came since the last one
    — with `defer_save`, only marked `save_due` when the snapshot was usable and fewer
    than SAVE_NOW_AFTER came since (see the module docstring)."""
    version = fold_version()
    history: LearnerHistory | None = None
    snapshot = store.read_snapshot(learner, SNAPSHOT_NAME)
    if snapshot is not None and snapshot.version == version:
        try:
            history = LearnerHistory.decode(learner, snapshot.payload, snapshot.mark)
        except ValueError as exc:
            log.warning("%s; recomputing it", exc)
    mark = None
    if history is not None:
        mark = store.history_since(learner, history.mark, history.apply_batch)
        if mark is None:
            log.info("the stored history of %s no longer fits its snapshot; recomputing",
                     learner)
            history = None
    if history is None or mark is None:
        history = retained_fold(store, learner)
        mark = store.history_since(learner, None, history.apply_batch)
        assert mark is not None       # a mark of None always fits
    since = mark.count - history.mark.count
    history.mark = mark
    if mark.count and (history.source == "recomputed" or since >= resnapshot_after):
        if defer_save and history.source == "snapshot" and since < SAVE_NOW_AFTER:
            history.save_due = True
        else:
            _save(store, history)
    return history


def retained_fold(store: HistorySource, learner: str, *, to_update: bool = False
                  ) -> LearnerHistory:
    """The fold of the learner's events aged out of this tablet (empty when none did;
    module docstring). It is the only copy of what it holds, so a file that cannot be
    read at all is a StoreReadError (a sign-in fails and can be tried again; folding on
    from "nothing aged" would save that as the learner's state). A damaged one is moved
    aside by the store and logged: what aged out is then missing. One that does not
    decode is logged too — and, `to_update` (an ageing adds to it), a StoreError: what
    it holds would be written over."""
    snapshot = store.read_snapshot(learner, RETAINED_NAME, cache=False)
    if snapshot is None:
        return LearnerHistory.empty(learner)
    if snapshot.version != fold_version():
        log.warning("the retained fold of %s was made by %s; used as it is", learner,
                    snapshot.version)
    try:
        history = LearnerHistory.decode(learner, snapshot.payload, HistoryMark(0, None))
    except ValueError as exc:
        if to_update:
            raise StoreError(f"the retained fold of {learner} does not decode ({exc}); "
                             "nothing ages out until it does") from None
        log.error("%s: the progress of events aged out of this tablet is missing", exc)
        return LearnerHistory.empty(learner)
    history.source = "recomputed"
    return history


def save_history(store: HistorySource, history: LearnerHistory) -> bool:
    """Save the snapshot a sign-in deferred (`save_due`; the end of a session): fold
    what was stored since the history's mark (events it holds already are ignored by
    id), then write it with the mark now covered. False when nothing was due or it
    could not be saved (logged: only the next sign-in's cost changes)."""
    if not history.save_due:
        return False
    history.save_due = False
    try:
        mark = store.history_since(history.learner, history.mark, history.apply_batch)
    except StoreError as exc:          # closed meanwhile (the tablet shutting down), a disk error
        log.warning("could not save the fold snapshot of %s: %s", history.learner, exc)
        return False
    if mark is None:
        log.info("the stored history of %s no longer fits the session's fold; its "
                 "snapshot is left as it was", history.learner)
        return False
    history.mark = mark
    return _save(store, history)


def _save(store: HistorySource, history: LearnerHistory) -> bool:
    try:
        store.write_snapshot(history.learner, SNAPSHOT_NAME,
                             Snapshot(history.mark, fold_version(), history.encode()))
    except StoreError as exc:
        log.warning("could not save the fold snapshot of %s: %s", history.learner, exc)
        return False
    return True
