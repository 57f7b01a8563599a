"""Who hears of new events: the store's subscribers (the signed-in learner's engines).

A callback gets the events an append or merge stored, after the write and outside the
store lock, on the writer's thread (a sync worker, or the UI's handler). A failing
callback is logged and never undoes or breaks the write: the events are on disk already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from app.core.errors import StoreError

log = logging.getLogger("app.core.store.store")

Event = dict[str, Any]
Subscriber = Callable[[list[Event]], None]


class Subscribers:
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.callbacks: list[Subscriber] = []

    def add(self, callback: Subscriber) -> Callable[[], None]:
        """Subscribe; returns the unsubscribe function."""
        if not callable(callback):
            raise StoreError("subscribe: callback must be callable")
        with self._lock:
            self.callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self.callbacks:
                    self.callbacks.remove(callback)
        return unsubscribe

    def notify(self, events: list[Event], copy: Callable[[Event], Event]) -> None:
        """Hand each callback its own copies of `events` (call outside the store lock)."""
        with self._lock:
            callbacks = list(self.callbacks)
        for callback in callbacks:
            try:
                callback([copy(e) for e in events])
            except Exception:  # the events are stored; a broken listener must not undo that
                log.exception("store subscriber %r failed", callback)
