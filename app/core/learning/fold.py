"""What the learning fold and the self-assessment fold share: admitting one event.

Both folds (LearnerState, app.core.assessment.AssessmentState) see every event of the
Store, so admission decides cheaply and in one place: a duplicate id or a type the fold
does not handle is skipped (``apply`` returns False); an event of another learner or
with a bad payload is recorded in ``ignored`` with the reason and never raises (one bad
event from a sync must not stop a learner's app); anything else is folded in by the
subclass's ``_fold``.

``utc_day`` is a fast ``parse_at(at).date()`` for the learning fold, which checks every
event's time and needs the UTC day of review encounters: at sign-in it runs for each of
a learner's events, and parse_at's regex was about a sixth of the cold fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from app.core.errors import EventError
from app.core.events import order_key, parse_at
from app.core.learning.payloads import check_payload
from app.core.store.sortedids import SortedIds, fits

Key = tuple[str, str, int]

#: validated pieces of `at` (``YYYY-MM-DD`` → day, ``THH:MM``, ``:SS.fffZ``): the three
#: fixed-width parts of parse_at's format are valid independently of each other
_DAYS: dict[str, date] = {}
_MINUTES: set[str] = set()
_SECONDS: set[str] = set()
_CACHE_MAX = 100_000


def utc_day(at: Any) -> date:
    """The UTC day of an event's ``at``; accepts and rejects exactly what ``parse_at`` does.

    A value whose three parts were all seen in values that ``parse_at`` accepted is valid
    without parsing (three dictionary lookups instead of a regex and a datetime); any
    other value goes through ``parse_at`` (which raises its EventError), and its parts
    are remembered.
    """
    if type(at) is str and at.isascii():
        day = _DAYS.get(at[:10])
        if day is not None and at[10:16] in _MINUTES and at[16:] in _SECONDS:
            return day
    day = parse_at(at).date()
    if len(_DAYS) < _CACHE_MAX and len(_SECONDS) < _CACHE_MAX:
        _DAYS[at[:10]] = day
        _MINUTES.add(at[10:16])
        _SECONDS.add(at[16:])
    return day


class SeenIds:
    """The event ids a fold has seen: those restored from a snapshot as one sorted blob
    (no object per id: a snapshot of 100,000 events loads in a memcpy, and a lookup is
    a binary search), plus a set of the ids added since."""

    __slots__ = ("_base", "_added")

    def __init__(self, base: SortedIds | None = None) -> None:
        self._base = base if base is not None and len(base) else None
        self._added: set[str] = set()

    def __contains__(self, event_id: object) -> bool:
        if event_id in self._added:
            return True
        return self._base is not None and event_id in self._base

    def add(self, event_id: str) -> None:
        """Add an id not yet seen (the fold checks `in` first)."""
        self._added.add(event_id)

    def __len__(self) -> int:
        return len(self._added) + (len(self._base) if self._base is not None else 0)

    def __iter__(self) -> Iterator[str]:
        if self._base is not None:
            yield from self._base
        yield from self._added

    def packed(self) -> tuple[bytes, list[str]]:
        """(sorted blob of the ids that fit it, the other ids) — for a snapshot."""
        base = self._base if self._base is not None else SortedIds()
        blob = base.merged((i, b"") for i in self._added if fits(i)).blob
        return blob, sorted(i for i in self._added if not fits(i))

    @classmethod
    def unpacked(cls, blob: bytes, others: list[str]) -> SeenIds:
        seen = cls(SortedIds(blob))
        seen._added.update(others)
        return seen


class EventFold:
    """Base of an order-independent, idempotent fold over one learner's events."""

    #: event types this fold handles; others are skipped
    types: frozenset[str] = frozenset()

    def __init__(self, learner: str | None = None) -> None:
        self.learner = learner
        self.seen = SeenIds()
        #: event id → why it was ignored (bad payload, another learner…)
        self.ignored: dict[str, str] = {}
        #: bumped on every folded event; the engines use it as a cache key
        self.version = 0

    def apply_many(self, events: Iterable[dict[str, Any]]) -> int:
        """Apply events; returns how many were new. Order does not matter."""
        apply = self.apply
        n = 0
        for event in events:
            if apply(event):
                n += 1
        return n

    def apply(self, event: dict[str, Any]) -> bool:
        """Fold one event in. Returns False for a duplicate or a type this fold does not
        handle; a malformed one is recorded in ``ignored`` (never raises)."""
        event_id = event.get("id") if isinstance(event, dict) else None
        if not isinstance(event_id, str) or event_id in self.seen:
            return False
        etype = event.get("type")
        if etype not in self.types:
            return False
        self.seen.add(event_id)
        try:
            if self.learner is not None and event.get("learner") != self.learner:
                raise EventError(f"learner: event of {event.get('learner')!r}, "
                                 f"not of {self.learner!r}")
            check_payload(event)
            key = order_key(event)
            extra = self._admit(event, etype)
        except (EventError, KeyError, TypeError) as exc:
            self.ignored[event_id] = str(exc)
            return True
        self.version += 1
        self._fold(event, event_id, etype, key, extra)
        return True

    # -- plain data (snapshots) ------------------------------------------------------
    def _base_plain(self) -> tuple[bytes, list[str], dict[str, str], int]:
        return (*self.seen.packed(), self.ignored, self.version)

    def _restore_base(self, plain: Any) -> None:
        blob, others, ignored, version = plain
        if type(blob) is not bytes or type(others) is not list or type(ignored) is not dict \
                or type(version) is not int:
            raise TypeError("fold snapshot: seen, ignored, version malformed")
        self.seen = SeenIds.unpacked(blob, others)
        self.ignored, self.version = ignored, version

    def _admit(self, event: dict[str, Any], etype: str) -> Any:
        """Further checks of a subclass (may raise EventError/KeyError/TypeError); the
        value is passed on to ``_fold``."""
        return None

    def _fold(self, event: dict[str, Any], event_id: str, etype: str, key: Key,
              extra: Any) -> None:
        raise NotImplementedError
