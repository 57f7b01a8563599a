"""A small blocking pool of DB-API connections, shared by every kind of record (db/base.py)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Pool:
    """A small blocking connection pool (one connection is used by one thread at a time).

    A connection idle for more than `ping_after` seconds is checked with `ping` before it
    is handed out and replaced when dead (a restarted PostgreSQL server), so the first
    request after a database restart does not fail.
    """

    def __init__(self, factory: Callable[[], Any], size: int,
                 is_broken: Callable[[Any, BaseException], bool],
                 ping: Callable[[Any], None] | None = None, ping_after: float = 10.0) -> None:
        self._factory = factory
        self._is_broken = is_broken
        self._ping = ping
        self.ping_after = ping_after
        self._idle: queue.LifoQueue[tuple[Any, float]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _checkout(self) -> Any:
        while True:
            try:
                conn, since = self._idle.get_nowait()
            except queue.Empty:
                conn = self._factory()
                with self._lock:
                    self._all.append(conn)
                return conn
            if self._ping is None or time.monotonic() - since < self.ping_after:
                return conn
            try:
                self._ping(conn)
                return conn
            except Exception:  # noqa: BLE001 - any failure: drop it, try the next one
                self._discard(conn)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        self._slots.acquire()
        conn = None
        try:
            conn = self._checkout()
            yield conn
        except BaseException as exc:
            if conn is not None and self._is_broken(conn, exc):
                self._discard(conn)
                conn = None
            raise
        finally:
            if conn is not None:
                self._idle.put((conn, time.monotonic()))
            self._slots.release()

    def _discard(self, conn: Any) -> None:
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        with contextlib.suppress(Exception):  # it is already broken
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
