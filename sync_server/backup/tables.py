"""The tables of a server database, found by asking the database (not from a list).

A backup must include tables added later (a new schema version, another module) without
anyone remembering to list them, so every base table of the database (SQLite) or of the
current schema (PostgreSQL, `current_schema()`) is read, with its columns, primary key,
foreign keys and auto-numbered column. Values travel as JSON by a *kind* derived from
the declared type, the same on both databases, so a SQLite backup restores into
PostgreSQL and back:

    text     JSON string            integer  JSON integer
    real     JSON number            blob     base64 text (BLOB / BYTEA)

A type outside these four (a PostgreSQL timestamp, say) is refused with its table and
column named, so a schema change that needs a new kind fails the round-trip test rather
than a restore years later.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sync_server.errors import BackupError

KINDS = ("text", "integer", "real", "blob")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
FETCH_ROWS = 2000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    references: tuple[str, ...] = ()     # tables its foreign keys point to
    identity: str | None = None          # auto-numbered column (AUTOINCREMENT / IDENTITY)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def quote(name: str) -> str:
    """A checked identifier in double quotes (names come from the database or an archive
    and are checked against NAME_RE before they reach any SQL text)."""
    if not NAME_RE.match(name):
        raise BackupError(f"{name!r}: not a table or column name this server uses")
    return f'"{name}"'


def kind_of(declared: str, where: str) -> str:
    d = declared.upper()
    if "INT" in d:
        return "integer"
    if "CHAR" in d or "TEXT" in d or "CLOB" in d:
        return "text"
    if "BLOB" in d or "BYTEA" in d:
        return "blob"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "real"
    raise BackupError(f"{where}: column type {declared!r} is not one a backup can carry "
                      f"({', '.join(KINDS)})")


# ----- introspection ---------------------------------------------------------------------
def list_tables(cur: Any, dialect: str) -> list[Table]:
    """Every base table of the database of `cur`, by name."""
    if dialect == "sqlite":
        return _sqlite_tables(cur)
    if dialect == "postgresql":
        return _postgres_tables(cur)
    raise BackupError(f"unknown database dialect {dialect!r}")


def _sqlite_tables(cur: Any) -> list[Table]:
    cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")
    found = [(str(n), str(sql or "")) for n, sql in cur.fetchall()]
    out = []
    for name, sql in found:
        q = quote(name)
        cur.execute(f"PRAGMA table_info({q})")
        info = cur.fetchall()          # cid, name, type, notnull, default, pk
        columns = tuple(Column(str(r[1]), kind_of(str(r[2]), f"{name}.{r[1]}")) for r in info)
        for c in columns:
            quote(c.name)
        pk = tuple(str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        cur.execute(f"PRAGMA foreign_key_list({q})")
        refs = tuple(sorted({str(r[2]) for r in cur.fetchall()} - {name}))
        identity = pk[0] if len(pk) == 1 and "AUTOINCREMENT" in sql.upper() else None
        out.append(Table(name, columns, pk, refs, identity))
    return out


def _postgres_tables(cur: Any) -> list[Table]:
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
    names = [str(r[0]) for r in cur.fetchall()]
    out = []
    for name in names:
        quote(name)
        cur.execute("SELECT column_name, data_type, is_identity FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s "
                    "ORDER BY ordinal_position", (name,))
        rows = cur.fetchall()
        columns = tuple(Column(str(c), kind_of(str(t), f"{name}.{c}")) for c, t, _ in rows)
        for c in columns:
            quote(c.name)
        identity = next((str(c) for c, _, ident in rows if ident == "YES"), None)
        cur.execute("SELECT a.attname FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
                    "JOIN pg_namespace n ON n.oid = t.relnamespace "
                    "JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord) ON true "
                    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = u.attnum "
                    "WHERE k.contype = 'p' AND n.nspname = current_schema() AND t.relname = %s "
                    "ORDER BY u.ord", (name,))
        pk = tuple(str(r[0]) for r in cur.fetchall())
        cur.execute("SELECT DISTINCT r.relname FROM pg_constraint k "
                    "JOIN pg_class t ON t.oid = k.conrelid "
                    "JOIN pg_namespace n ON n.oid = t.relnamespace "
                    "JOIN pg_class r ON r.oid = k.confrelid "
                    "WHERE k.contype = 'f' AND n.nspname = current_schema() AND t.relname = %s",
                    (name,))
        refs = tuple(sorted({str(r[0]) for r in cur.fetchall()} - {name}))
        out.append(Table(name, columns, pk, refs, identity))
    return out


def dependency_order(tables: Sequence[Table]) -> list[Table]:
    """Tables so that each comes after the tables its foreign keys point to (rows can then
    be inserted with the constraints checked). Ties by name, so the order is stable."""
    by_name = {t.name: t for t in tables}
    done: list[Table] = []
    placed: set[str] = set()
    while len(done) < len(by_name):
        ready = sorted(n for n, t in by_name.items() if n not in placed
                       and all(r in placed or r not in by_name for r in t.references))
        if not ready:
            cycle = sorted(set(by_name) - placed)
            raise BackupError(f"tables {', '.join(cycle)}: their foreign keys form a cycle")
        for name in ready:
            placed.add(name)
            done.append(by_name[name])
    return done


# ----- rows ------------------------------------------------------------------------------
def read_rows(cur: Any, table: Table) -> Iterator[tuple[Any, ...]]:
    """Every row of `table`, by primary key (stable output), a batch at a time."""
    cols = ", ".join(quote(c) for c in table.column_names)
    order = ", ".join(quote(c) for c in (table.primary_key or table.column_names))
    cur.execute(f"SELECT {cols} FROM {quote(table.name)} ORDER BY {order}")
    while rows := cur.fetchmany(FETCH_ROWS):
        yield from rows


#: Python types a value of each kind may have, read from a database (bool is excluded by
#: exact type comparison) and in an archive (JSON: blobs are base64 text).
DB_TYPES = {"text": (str,), "integer": (int,), "real": (float, int),
            "blob": (bytes, bytearray, memoryview)}
JSON_TYPES = {"text": (str,), "integer": (int,), "real": (float, int), "blob": (str,)}


class RowCodec:
    """Rows of one table to JSON values and back, every value's type checked (per row this
    is the hot loop of a backup and a restore, hence the precomputed column lists)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._blobs = [i for i, c in enumerate(table.columns) if c.kind == "blob"]
        self._reals = [i for i, c in enumerate(table.columns) if c.kind == "real"]
        self._db = [DB_TYPES[c.kind] for c in table.columns]
        self._json = [JSON_TYPES[c.kind] for c in table.columns]
        self._width = len(table.columns)

    def encode(self, row: Sequence[Any], number: int) -> list[Any]:
        """A database row as JSON values (see the module docstring)."""
        for value, types, column in zip(row, self._db, self.table.columns, strict=True):
            if value is not None and type(value) not in types:
                raise BackupError(f"{self.table.name}.{column.name}: row {number} holds a "
                                  f"{type(value).__name__}, not {column.kind}; the database "
                                  "needs repair before it can be backed up")
        out = list(row)
        for i in self._blobs:
            if out[i] is not None:
                out[i] = base64.b64encode(bytes(out[i])).decode("ascii")
        for i in self._reals:
            if out[i] is not None:
                out[i] = float(out[i])
        return out

    def decode(self, values: Any, where: str) -> tuple[Any, ...]:
        """JSON values of one archive row back to database values, every type checked."""
        if type(values) is not list or len(values) != self._width:
            raise BackupError(f"{where}: expected a list of {self._width} values")
        for value, types, column in zip(values, self._json, self.table.columns, strict=True):
            if value is not None and type(value) not in types:
                raise BackupError(f"{where}: {column.name}: expected {column.kind}, "
                                  f"got {type(value).__name__}")
        for i in self._blobs:
            if values[i] is not None:
                try:
                    values[i] = base64.b64decode(values[i], validate=True)
                except (binascii.Error, ValueError):
                    raise BackupError(f"{where}: {self.table.columns[i].name}: not base64"
                                      ) from None
        return tuple(values)


# ----- auto-numbered columns ---------------------------------------------------------------
def sequence_values(cur: Any, dialect: str, tables: Sequence[Table]) -> dict[str, int]:
    """The last value handed out by each table's auto-numbered column (may exceed the
    largest value still in the table), so a restore never hands it out again."""
    out: dict[str, int] = {}
    if dialect == "sqlite":
        cur.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cur.fetchone()[0]:
            cur.execute("SELECT name, seq FROM sqlite_sequence")
            known = {str(n): int(s or 0) for n, s in cur.fetchall()}
            out = {t.name: known.get(t.name, 0) for t in tables if t.identity}
        return out
    for t in tables:
        if t.identity:
            cur.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence("
                        "quote_ident(current_schema()) || '.' || quote_ident(%s), %s)::regclass)",
                        (t.name, t.identity))
            value = cur.fetchone()[0]
            out[t.name] = int(value or 0)
    return out


def set_sequence(cur: Any, dialect: str, table: Table, at_least: int) -> None:
    """Make the table's auto-numbered column continue after max(`at_least`, its largest
    value)."""
    assert table.identity is not None
    q, col = quote(table.name), quote(table.identity)
    cur.execute(f"SELECT MAX({col}) FROM {q}")
    value = max(int(cur.fetchone()[0] or 0), at_least)
    if dialect == "sqlite":
        cur.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table.name,))
        if value:
            cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                        (table.name, value))
        return
    cur.execute("SELECT setval(pg_get_serial_sequence(quote_ident(current_schema()) || '.' || "
                "quote_ident(%s), %s), %s, %s)", (table.name, table.identity, max(value, 1),
                                                  value > 0))
