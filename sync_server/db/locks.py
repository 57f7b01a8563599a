"""Writer groups serialised across server processes (PostgreSQL advisory lock ids; SQLite
has one write lock anyway). See sync_server/db/base.py (`_write`).

Every transaction takes the locks it needs in the order of their numbers (LOCK_USAGE,
taken only by the ingest and the quota, may come before LOCK_LEARNERS), so no two wait
for each other.
"""

from __future__ import annotations

from typing import Any

LOCK_MIGRATE = 7_243_000
LOCK_EVENTS = 7_243_001
LOCK_LEARNERS = 7_243_002
LOCK_USAGE = 7_243_003


def take_later(cur: Any, dialect: str, lock: int) -> None:
    """Take `lock` part-way through a write transaction, after the locks `_write` took
    (PostgreSQL: a transaction-level advisory lock; SQLite's one write lock covers it)."""
    if dialect == "postgresql":
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
