"""Row triggers written once for SQLite and PostgreSQL (db/group_totals.py,
db/gap_totals.py): SQLite takes the statements in the trigger's body; PostgreSQL runs
them from a PL/pgSQL function, one `IF TG_OP …` block per group of operations.

A statement refers to the changed row as `NEW` / `OLD` in both dialects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Statement = tuple[str, str]          # (dialect, text): a schema statement of one dialect

#: the tables whose triggers keep the per-group totals
TOTALS_SOURCES = ["learners", "course_progress", "self_ratings", "learner_duties"]

#: a learner's row changed what they count for: their group or whether they are active
LEARNER_REGROUPS = ("OLD.facility_id <> NEW.facility_id OR OLD.role <> NEW.role OR "
                    "(OLD.deactivated_at IS NULL) <> (NEW.deactivated_at IS NULL)")


def sqlite_trigger(name: str, event: str, body: list[str], when: str = "") -> Statement:
    """`AFTER <event>` trigger (e.g. "UPDATE OF role ON learners") running `body`."""
    cond = f" WHEN {when}" if when else ""
    return ("sqlite", f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event}{cond} BEGIN "
                      + "; ".join(body) + "; END")


def postgres_function(name: str, parts: dict[str, list[str]]) -> Statement:
    """A trigger function: `parts` maps operations ("INSERT UPDATE") to the statements
    run for them, in order."""
    body = " ".join(f"IF TG_OP IN ({', '.join(repr(op) for op in ops.split())}) THEN "
                    + " ".join(f"{s};" for s in stmts) + " END IF;"
                    for ops, stmts in parts.items())
    return ("postgresql", f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
                          f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$")


def postgres_trigger(name: str, table: str, events: str, function: str,
                     when: str = "") -> list[Statement]:
    """`AFTER <events> ON <table> FOR EACH ROW` calling `function` (made again on every
    migration run: PostgreSQL has no CREATE TRIGGER IF NOT EXISTS)."""
    cond = f" WHEN ({when})" if when else ""
    return [("postgresql", f"DROP TRIGGER IF EXISTS {name} ON {table}"),
            ("postgresql", f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW"
                           f"{cond} EXECUTE FUNCTION {function}()")]


@contextmanager
def triggers_off(cur: Any, dialect: str, tables: list[str]) -> Iterator[None]:
    """The user triggers of `tables` do not fire inside the block (within the caller's
    write transaction; a rollback restores them too). For bulk recomputes that rebuild
    the totals from scratch afterwards: row by row, the triggers would update the same
    few total rows hundreds of thousands of times in one transaction, which PostgreSQL
    turns into as many row versions (a minute at 50,000 staff instead of seconds)."""
    if dialect == "postgresql":
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        present = [t for t in tables if t in {str(r[0]) for r in cur.fetchall()}]
        for table in present:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in present:
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    marks = ",".join("?" * len(tables))
    cur.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                f"({marks}) ORDER BY name", tuple(tables))
    saved = [(str(name), str(sql)) for name, sql in cur.fetchall()]
    for name, _ in saved:
        cur.execute(f"DROP TRIGGER {name}")
    yield
    for _, sql in saved:
        cur.execute(sql)
