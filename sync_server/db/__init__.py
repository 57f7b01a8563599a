"""Persistence of the sync server: one typed store per kind of record, composed into the
`Repository` (db/repository.py lists the kinds), on SQLite (default) or PostgreSQL.

    open_repository(url, *, pool_size=8) -> Repository

All SQL lives in this package. No module here imports this package's ``__init__``."""

from __future__ import annotations

from pathlib import Path

from sync_server.db.repository import Repository
from sync_server.errors import DatabaseError


def open_repository(url: str, *, pool_size: int = 8) -> Repository:
    """Open (and create / migrate) the database named by `url`.

    `sqlite:///path/to/file.sqlite3` or `postgresql://user:pw@host:port/db`.
    """
    if url.startswith("sqlite:///"):
        from sync_server.db.sqlite import SqliteRepository
        return SqliteRepository(Path(url[len("sqlite:///"):]), pool_size=pool_size)
    if url.startswith(("postgresql://", "postgres://")):
        from sync_server.db.postgres import PostgresRepository
        return PostgresRepository(url, pool_size=pool_size)
    raise DatabaseError(f"SHIFT_DATABASE_URL: unsupported database URL scheme in {url.split(':')[0]!r}"
                        " (use sqlite:///FILE or postgresql://…)")


__all__ = ["Repository", "open_repository"]
