"""A bounded in-memory copy of learners' sorted histories (what `Store.events` returns).

Why: reading a learner's segments means JSON-decoding every segment file and sorting
(≈ 0.3–0.7 s for 21k events here), and the app asks for the same learner's history
several times at sign-in. Events never change once stored (segments are never
rewritten, an id keeps its first copy), so a cached history stays right as long as every
new event of that learner is added to it: `Store.append` and `Store.merge` call `add`.

Why `marshal` bytes and not the dicts themselves: a history must be handed out as fresh
copies (callers may change them), and `marshal.loads` builds fresh objects in C as fast
as a Python deep copy; the bytes take ≈ 360 B per event instead of ≈ 2.3 KB as Python
objects, and the garbage collector never has to walk them. Bounded by bytes (least
recently used learner dropped first), so a shared tablet with many long histories does
not grow without limit.
"""

from __future__ import annotations

import bisect
import json
import marshal
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import EventError
from app.core.events import order_key

Event = dict[str, Any]
SortKey = Callable[[Event], Any]

#: Bytes of cached histories across all learners: 16 MiB ≈ 45,000 events.
HISTORY_CACHE_BYTES = 16 * 1024 * 1024
#: Bytes counted for an event added since the history was packed (an estimate).
_TAIL_EVENT_BYTES = 512

_CONTAINERS = (dict, list)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), faster than copy.deepcopy."""
    if type(value) is dict:
        return {k: (copy_json(v) if type(v) in _CONTAINERS else v) for k, v in value.items()}
    if type(value) is list:
        return [(copy_json(v) if type(v) in _CONTAINERS else v) for v in value]
    return value


def detached(value: Any, what: str) -> Any:
    """A deep copy through JSON: also proves the value can be stored (EventError)."""
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise EventError(f"{what}: not storable as JSON ({exc})") from None


def history_order(event: Event) -> tuple[tuple[str, str, int], str]:
    """The order of `Store.events`: (at, device, seq), then id."""
    return order_key(event), event["id"]


@dataclass
class _Entry:
    packed: bytes                                          # marshal of the sorted list
    tail: list[Event] = field(default_factory=list)        # private copies, added since

    @property
    def size(self) -> int:
        return len(self.packed) + _TAIL_EVENT_BYTES * len(self.tail)


class HistoryCache:
    """learner id → that learner's events sorted by `key`; LRU, bounded by bytes."""

    def __init__(self, key: SortKey, limit_bytes: int = HISTORY_CACHE_BYTES) -> None:
        self._key = key
        self.limit = limit_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, learner_id: str) -> list[Event] | None:
        """A fresh copy of the learner's sorted history (the caller owns it), or None."""
        entry = self._entries.get(learner_id)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(learner_id)
        events: list[Event] = marshal.loads(entry.packed)
        if entry.tail:
            for event in entry.tail:   # the tail copies now belong to `events` only
                bisect.insort(events, event, key=self._key)
            self.size -= entry.size
            entry.packed, entry.tail = marshal.dumps(events), []
            self.size += entry.size
            self._evict()
            # `events` still shares the former tail dicts with nobody: the cache holds bytes
        return events

    def put(self, learner_id: str, events: list[Event]) -> None:
        """Remember a full, sorted history (ignored when larger than the whole cache).
        The list is packed; the caller may keep and change it."""
        self.discard(learner_id)
        try:
            packed = marshal.dumps(events)
        except ValueError:       # not plain JSON data: do not cache
            return
        if len(packed) > self.limit:
            return
        self._entries[learner_id] = _Entry(packed)
        self.size += len(packed)
        self._evict()

    def add(self, learner_id: str, events: list[Event]) -> None:
        """New events of a learner were stored: keep its cached history complete.
        `events` must be private copies (they are kept)."""
        entry = self._entries.get(learner_id)
        if entry is None or not events:
            return
        entry.tail.extend(events)
        self.size += _TAIL_EVENT_BYTES * len(events)
        self._evict()

    def discard(self, learner_id: str) -> None:
        dropped = self._entries.pop(learner_id, None)
        if dropped is not None:
            self.size -= dropped.size

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def __contains__(self, learner_id: object) -> bool:
        return learner_id in self._entries

    def _evict(self) -> None:
        while self.size > self.limit and self._entries:
            _learner, dropped = self._entries.popitem(last=False)
            self.size -= dropped.size
