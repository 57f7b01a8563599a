"""Bring a database to the schema this server knows (sync_server/db/schema.py).

Used at every start (`migrate`, inside one write transaction) and by a restore from a
backup (sync_server/backup), which loads rows at the backup's version and then runs
`apply_schema` up to the latest. A version may have a data step besides its statements
(2: index the blobs of stored packs; 6: rewrap old PIN verifiers; 7: fill the report
aggregates from the events; 14: fill the per-group totals); it lives with its kind of
record (packs.py, learners.py, aggregates.py, group_totals.py).
"""

from __future__ import annotations

from typing import Any

from app.core.clock import now_iso
from sync_server.db.aggregates import rebuild as rebuild_aggregates
from sync_server.db.base import SqlBase, placeholders
from sync_server.db.group_totals import regroup
from sync_server.db.learners import upgrade_learners_v6
from sync_server.db.locks import LOCK_MIGRATE
from sync_server.db.packs import index_blobs
from sync_server.db.schema import LATEST, VERSIONS, statements
from sync_server.errors import DatabaseError


def schema_version_of(cur: Any) -> int:
    """The schema version recorded in the database of `cur` (0 = none yet); creates the
    `schema_version` table when it is missing."""
    cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    cur.execute("SELECT MAX(version) FROM schema_version")
    return int(cur.fetchone()[0] or 0)


def apply_schema(cur: Any, dialect: str, *, current: int, target: int = LATEST) -> None:
    """Bring the database of `cur` (inside a write transaction) from schema `current` to
    `target`: each version's statements, its data step, and its `schema_version` row."""
    # a gap in the numbers is allowed (parallel branches take distinct numbers)
    for version in sorted(v for v in VERSIONS if current < v <= target):
        for stmt in statements(dialect, version):
            cur.execute(stmt)
        if version == 2:
            cur.execute("SELECT pack_id, version, manifest FROM packs")
            for pack_id, ver, manifest in cur.fetchall():
                index_blobs(cur, dialect, pack_id, int(ver), bytes(manifest))
        if version == 6:
            upgrade_learners_v6(cur, dialect, now_iso())
        if version == 7:
            rebuild_aggregates(cur, dialect)
        if version == 14:
            regroup(cur)
        cur.execute(placeholders(dialect, "INSERT INTO schema_version (version) VALUES (?)"),
                    (version,))


def migrate(db: SqlBase) -> None:
    """Apply the missing schema versions in one transaction (every server process may
    start at once: the migration lock serialises them)."""
    with db._write(LOCK_MIGRATE) as cur:
        current = schema_version_of(cur)
        if current > LATEST:
            raise DatabaseError(f"{db._label()}: database schema {current} is newer than "
                                f"this server ({LATEST}); upgrade the server")
        apply_schema(cur, db.dialect, current=current)
