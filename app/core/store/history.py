"""A bounded in-memory copy of learners' sorted histories (what `Store.events` returns).

Why: reading a learner's segments means JSON-decoding every segment file and sorting
(≈ 0.3–0.5 s for 21k events here), and the app asks for the same learner's history
several times at sign-in. Events never change once stored (segments are never
rewritten, an id keeps its first copy), so a cached history stays right as long as every
new event of that learner is added to it: `Store.append` and `Store.merge` call `add`.

Bounded by the number of events held (least recently used learner dropped first), so a
shared tablet with many long histories does not grow without limit. The cached event
dicts are never handed out: `Store.events` returns copies (`copy_json`).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
SortKey = Callable[[Event], Any]

#: Events kept in memory across all learners (≈ 1–2 KB each as Python objects).
HISTORY_CACHE_EVENTS = 50_000

_CONTAINERS = (dict, list)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): ≈ 2–3× faster than
    `copy.deepcopy` or a JSON round trip, which matters at 20k events."""
    if type(value) is dict:
        return {k: (copy_json(v) if type(v) in _CONTAINERS else v) for k, v in value.items()}
    if type(value) is list:
        return [(copy_json(v) if type(v) in _CONTAINERS else v) for v in value]
    return value


class HistoryCache:
    """learner id → that learner's events, sorted by `key`; LRU, bounded by event count."""

    def __init__(self, key: SortKey, limit: int = HISTORY_CACHE_EVENTS) -> None:
        self._key = key
        self.limit = limit
        self._lists: OrderedDict[str, list[Event]] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, learner_id: str) -> list[Event] | None:
        """A snapshot (new list, shared event dicts: do not mutate them) or None."""
        events = self._lists.get(learner_id)
        if events is None:
            self.misses += 1
            return None
        self.hits += 1
        self._lists.move_to_end(learner_id)
        return list(events)

    def put(self, learner_id: str, events: list[Event]) -> None:
        """Remember a full, sorted history (ignored when larger than the whole cache)."""
        self.discard(learner_id)
        if len(events) > self.limit:
            return
        self._lists[learner_id] = list(events)
        self.size += len(events)
        self._evict()

    def add(self, learner_id: str, events: list[Event]) -> None:
        """New events of a learner were stored: keep its cached history complete."""
        cached = self._lists.get(learner_id)
        if cached is None or not events:
            return
        for event in events:
            bisect.insort(cached, event, key=self._key)
        self.size += len(events)
        self._evict()

    def discard(self, learner_id: str) -> None:
        dropped = self._lists.pop(learner_id, None)
        if dropped is not None:
            self.size -= len(dropped)

    def clear(self) -> None:
        self._lists.clear()
        self.size = 0

    def __contains__(self, learner_id: object) -> bool:
        return learner_id in self._lists

    def _evict(self) -> None:
        while self.size > self.limit and self._lists:
            _learner, dropped = self._lists.popitem(last=False)
            self.size -= len(dropped)
