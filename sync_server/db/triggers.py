"""Row triggers written once for SQLite and PostgreSQL (db/group_totals.py,
db/gap_totals.py): SQLite takes the statements in the trigger's body; PostgreSQL runs
them from a PL/pgSQL function, one `IF TG_OP …` block per group of operations.

A statement refers to the changed row as `NEW` / `OLD` in both dialects.
"""

from __future__ import annotations

Statement = tuple[str, str]          # (dialect, text): a schema statement of one dialect

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
