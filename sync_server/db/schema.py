"""The database schema of the sync server, one text for SQLite and PostgreSQL.

Statements are templates: `{serial}` (auto-numbered primary key), `{blob}` and
`{bigint}` are filled in per dialect by `statements()`. Each schema version lists what
it adds; `db/migrate.py` applies the missing versions in one transaction and
records them in `schema_version`. Version 2 moved the certificate tables (formerly
created by the admin module) into the schema and added the pack → blob index (audience
checks of blob downloads) and the login-failure log (lock-out across server processes).
Version 3 added `server_meta` (name → value): the `epoch`, a random id made when the
database is created and replaced by every restore from a backup, which tablets compare to
notice that the server lost what it acknowledged after the backup (docs/sync-protocol.md).
Version 4 gave each certificate its place in a revocation status list.
Version 5 added per-device daily usage (push quotas).
Version 6 (learner security, docs/security.md): staff numbers unique per facility instead of
across the organisation (the learners table is rebuilt: SQLite cannot drop a UNIQUE
constraint), one-time PIN set-up codes (their verifier and expiry on the learner row), and
the (admin name, address) pairs that logged in before (the login throttle); the Python
step in `db/migrate.py` (`learners.upgrade_learners_v6`) wraps old `scrypt$` PIN verifiers and brings future
`updated_at` stamps back to the migration time.
Version 7 (issue 18): the report aggregates, kept at ingest in the same transaction as the
events (db/aggregates.py): progress per learner × course (and the sets behind its counts), the latest self-assessment
rating per learner × profile × task, and the event count per facility; its data step
fills them from the stored events (`aggregates.rebuild`).
Version 8 (privacy, issue 15, docs/privacy.md): the append-only `audit_log` of admin
actions; `erasures`, one tombstone per erased learner (its `seq` is the tombstone pull
cursor, docs/sync-protocol.md §4.7); `course_summary`, anonymous per-course counts that
raw events are folded into by erasure and retention before they are deleted.
Version 10 (the console, issue 21): `publications.withdrawn_at/_by` (a withdrawn
publication no longer reaches devices), `enrol_codes.cancelled_at/_by`, and
`learners.deactivated_at` (leavers). Version 9 is unused (a number a merged branch reserved: it adds nothing).
Version 14 (issue 18): `group_learners` and `group_courses`, the dashboard's totals per
facility × role (× course), kept by triggers on `learners` and `course_progress`
(db/group_totals.py); its data step fills them (`group_totals.regroup`).
Version 15 (issue 18): `gap_tasks` (each group's self-assessment mapping), `learner_duties`
and `group_duties`, the gap map's totals, kept by triggers (db/gap_totals.py); they fill
when services/gap_mapping.py first writes the mapping.
Version 13 (the authoring studio, issue 20, docs/authoring.md "Studio"): `drafts`, one row
per pack draft (its source folder lives under `<data dir>/drafts/<id>/`), and
`admins.roles`, a comma-separated list of console roles (`admin` = every right; existing
accounts keep it; `author`, `reviewer`, `publisher` for studio-only accounts).
"""

from __future__ import annotations

import re

from sync_server.db.gap_totals import SCHEMA as GAP_TOTALS
from sync_server.db.group_totals import SCHEMA as GROUP_TOTALS

DIALECT_TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "blob": "BYTEA",
                   "bigint": "BIGINT"},
}

#: A statement is text for both dialects, or (dialect, text) for one of them only.
Statement = str | tuple[str, str]

VERSIONS: dict[int, list[Statement]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS facilities (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS admins (
            id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS admin_sessions (
            token_hash TEXT PRIMARY KEY,
            admin_id TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            expires_at TEXT NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS enrol_codes (
            code_hash TEXT PRIMARY KEY, facility_id TEXT NOT NULL REFERENCES facilities(id),
            expires_at TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
            used_at TEXT, used_by TEXT)""",
        """CREATE TABLE IF NOT EXISTS devices (
            id TEXT PRIMARY KEY, facility_id TEXT NOT NULL REFERENCES facilities(id),
            name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, enrolled_at TEXT NOT NULL,
            revoked_at TEXT, last_seen_at TEXT)""",
        """CREATE TABLE IF NOT EXISTS learners (
            id TEXT PRIMARY KEY, staff_number TEXT NOT NULL, staff_key TEXT NOT NULL UNIQUE,
            facility_id TEXT NOT NULL REFERENCES facilities(id), role TEXT NOT NULL,
            language TEXT NOT NULL, display_name TEXT NOT NULL, pin_verifier TEXT,
            updated_at TEXT NOT NULL, rev {bigint} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS learners_facility_rev ON learners (facility_id, rev)",
        """CREATE TABLE IF NOT EXISTS events (
            seq {serial}, id TEXT NOT NULL UNIQUE,
            learner_id TEXT NOT NULL, device_id TEXT NOT NULL, facility_id TEXT NOT NULL,
            type TEXT NOT NULL, at TEXT NOT NULL, content TEXT NOT NULL,
            received_at TEXT NOT NULL, received_from TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS events_facility_seq ON events (facility_id, seq)",
        "CREATE INDEX IF NOT EXISTS events_learner ON events (learner_id)",
        """CREATE TABLE IF NOT EXISTS packs (
            pack_id TEXT NOT NULL, version INTEGER NOT NULL, manifest {blob} NOT NULL,
            sig {blob} NOT NULL, title TEXT NOT NULL, total_bytes {bigint} NOT NULL,
            uploaded_at TEXT NOT NULL, uploaded_by TEXT NOT NULL,
            PRIMARY KEY (pack_id, version))""",
        """CREATE TABLE IF NOT EXISTS publications (
            id {serial}, pack_id TEXT NOT NULL, version INTEGER NOT NULL,
            facilities TEXT NOT NULL, roles TEXT NOT NULL, published_at TEXT NOT NULL,
            published_by TEXT NOT NULL,
            FOREIGN KEY (pack_id, version) REFERENCES packs (pack_id, version))""",
        """CREATE TABLE IF NOT EXISTS device_packs (
            device_id TEXT NOT NULL REFERENCES devices(id), pack_id TEXT NOT NULL,
            version INTEGER NOT NULL, reported_at TEXT NOT NULL,
            PRIMARY KEY (device_id, pack_id))""",
    ],
    2: [
        # IF NOT EXISTS: servers before v2 created the first two from the admin module
        """CREATE TABLE IF NOT EXISTS certificates (
            id TEXT PRIMARY KEY, learner_id TEXT NOT NULL, pack_id TEXT NOT NULL,
            pack_version {bigint} NOT NULL, course_id TEXT NOT NULL, facility_id TEXT NOT NULL,
            language TEXT NOT NULL, issued_at TEXT NOT NULL, source_event TEXT NOT NULL,
            key_id TEXT NOT NULL, credential TEXT NOT NULL, delivered_at TEXT,
            revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT,
            UNIQUE (learner_id, pack_id, course_id))""",
        "CREATE INDEX IF NOT EXISTS certificates_learner ON certificates (learner_id)",
        """CREATE TABLE IF NOT EXISTS certificate_cursor (
            name TEXT PRIMARY KEY, seq {bigint} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS pack_blobs (
            sha256 TEXT NOT NULL, pack_id TEXT NOT NULL, version INTEGER NOT NULL,
            PRIMARY KEY (sha256, pack_id, version),
            FOREIGN KEY (pack_id, version) REFERENCES packs (pack_id, version))""",
        """CREATE TABLE IF NOT EXISTS login_failures (
            key TEXT NOT NULL, at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS login_failures_key_at ON login_failures (key, at)",
    ],
    3: [
        """CREATE TABLE IF NOT EXISTS server_meta (
            name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    ],
    4: [
        # revocation entry of each certificate (W3C Bitstring Status List; NULL for
        # certificates issued before version 4, which /verify still reports)
        "ALTER TABLE certificates ADD COLUMN status_list INTEGER",
        "ALTER TABLE certificates ADD COLUMN status_index INTEGER",
        """CREATE UNIQUE INDEX IF NOT EXISTS certificates_status
            ON certificates (status_list, status_index)""",
    ],
    5: [
        # per-device daily usage of the push endpoint (services/quota.py)
        """CREATE TABLE IF NOT EXISTS device_usage (
            device_id TEXT NOT NULL, day TEXT NOT NULL, events {bigint} NOT NULL,
            bytes {bigint} NOT NULL, PRIMARY KEY (device_id, day))""",
    ],
    6: [
        """CREATE TABLE learners_v3 (
            id TEXT PRIMARY KEY, staff_number TEXT NOT NULL, staff_key TEXT NOT NULL,
            facility_id TEXT NOT NULL REFERENCES facilities(id), role TEXT NOT NULL,
            language TEXT NOT NULL, display_name TEXT NOT NULL, pin_verifier TEXT,
            updated_at TEXT NOT NULL, rev {bigint} NOT NULL,
            pin_setup_verifier TEXT, pin_setup_expires_at TEXT,
            UNIQUE (facility_id, staff_key))""",
        """INSERT INTO learners_v3 (id, staff_number, staff_key, facility_id, role, language,
            display_name, pin_verifier, updated_at, rev)
            SELECT id, staff_number, staff_key, facility_id, role, language, display_name,
            pin_verifier, updated_at, rev FROM learners""",
        "DROP TABLE learners",
        "ALTER TABLE learners_v3 RENAME TO learners",
        "CREATE INDEX IF NOT EXISTS learners_facility_rev ON learners (facility_id, rev)",
        """CREATE TABLE IF NOT EXISTS login_known (
            name_key TEXT NOT NULL, address TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (name_key, address))""",
    ],
    7: [
        # progress per learner × pack × course (db/aggregate_fold.py says what each holds)
        """CREATE TABLE IF NOT EXISTS course_progress (
            learner_id TEXT NOT NULL, pack_id TEXT NOT NULL, course_id TEXT NOT NULL,
            cards_viewed INTEGER NOT NULL, attempts INTEGER NOT NULL, best_score TEXT,
            passed INTEGER NOT NULL, completed_at TEXT, last_at TEXT,
            PRIMARY KEY (learner_id, pack_id, course_id))""",
        # the sets behind the counts (read only by the ingest's merge, so reports scan
        # narrow rows)
        """CREATE TABLE IF NOT EXISTS course_sets (
            learner_id TEXT NOT NULL, pack_id TEXT NOT NULL, course_id TEXT NOT NULL,
            cards TEXT NOT NULL, attempt_ids TEXT NOT NULL,
            PRIMARY KEY (learner_id, pack_id, course_id))""",
        # the latest self-assessment rating per learner × profile × task
        """CREATE TABLE IF NOT EXISTS self_ratings (
            learner_id TEXT NOT NULL, profile_id TEXT NOT NULL, task_id TEXT NOT NULL,
            level INTEGER NOT NULL, at TEXT NOT NULL, device TEXT NOT NULL,
            seq {bigint} NOT NULL, event_id TEXT NOT NULL,
            PRIMARY KEY (learner_id, profile_id, task_id))""",
        """CREATE TABLE IF NOT EXISTS event_totals (
            facility_id TEXT PRIMARY KEY, events {bigint} NOT NULL)""",
    ],
    8: [
        """CREATE TABLE IF NOT EXISTS audit_log (
            seq {serial}, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            target TEXT NOT NULL, learner_id TEXT, outcome TEXT NOT NULL,
            detail TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at)",
        "CREATE INDEX IF NOT EXISTS audit_log_learner ON audit_log (learner_id)",
        """CREATE TABLE IF NOT EXISTS erasures (
            seq {serial}, learner_id TEXT NOT NULL UNIQUE, erased_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS course_summary (
            pack_id TEXT NOT NULL, course_id TEXT NOT NULL, facility_id TEXT NOT NULL,
            year TEXT NOT NULL, events {bigint} NOT NULL, quiz_attempts {bigint} NOT NULL,
            quiz_passes {bigint} NOT NULL, completions {bigint} NOT NULL,
            PRIMARY KEY (pack_id, course_id, facility_id, year))""",
        # the audit log is append-only in the database too: no UPDATE (retention DELETEs)
        ("sqlite", """CREATE TRIGGER IF NOT EXISTS audit_log_append_only BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""),
        ("postgresql", """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"""),
        ("postgresql", "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"),
        ("postgresql", """CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"""),
    ],
    10: [
        # console upkeep (issue 21): a publication can be withdrawn (devices hide the pack),
        # an enrolment code cancelled before it expires, a learner deactivated (a leaver)
        "ALTER TABLE publications ADD COLUMN withdrawn_at TEXT",
        "ALTER TABLE publications ADD COLUMN withdrawn_by TEXT",
        "ALTER TABLE enrol_codes ADD COLUMN cancelled_at TEXT",
        "ALTER TABLE enrol_codes ADD COLUMN cancelled_by TEXT",
        "ALTER TABLE learners ADD COLUMN deactivated_at TEXT",
    ],
    13: [
        # the authoring studio (issue 20): pack drafts and console roles of admin accounts
        """CREATE TABLE IF NOT EXISTS drafts (
            id TEXT PRIMARY KEY, pack_id TEXT NOT NULL, based_on INTEGER,
            status TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL, updated_at TEXT NOT NULL, built_version INTEGER)""",
        "CREATE INDEX IF NOT EXISTS drafts_pack ON drafts (pack_id)",
        "ALTER TABLE admins ADD COLUMN roles TEXT NOT NULL DEFAULT 'admin'",
    ],
    # per-group totals for the all-facility dashboard (issue 18), kept by triggers
    14: GROUP_TOTALS,
    # the gap map's totals per group and the mapping they follow (issue 18)
    15: GAP_TOTALS,
    # retention finds the events past the period through an index, not by reading the
    # whole table under the write lock every day (issue 18; db/erasure.py)
    16: ["CREATE INDEX IF NOT EXISTS events_at ON events (at, seq)"],
}
LATEST = max(VERSIONS)


def statements(dialect: str, version: int) -> list[str]:
    """The statements that bring a database from `version - 1` to `version`."""
    types = DIALECT_TYPES[dialect]
    # a number no branch used (merged branches take distinct numbers) adds nothing
    return [stmt.format(**types) if isinstance(stmt, str) else stmt[1]
            for stmt in VERSIONS.get(version, []) if isinstance(stmt, str) or stmt[0] == dialect]


def table_names() -> set[str]:
    """Every table of the latest schema, plus `schema_version`: the tables each version
    creates, less those a later version drops, following renames (version 6 rebuilds
    `learners` as `learners_v3` and renames it back)."""
    names = {"schema_version"}
    for version in sorted(VERSIONS):
        for stmt in VERSIONS[version]:
            if not isinstance(stmt, str):
                continue
            if m := re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", stmt, re.IGNORECASE):
                names.add(m.group(1))
            elif m := re.match(r"\s*DROP TABLE (?:IF EXISTS )?(\w+)", stmt, re.IGNORECASE):
                names.discard(m.group(1))
            elif m := re.match(r"\s*ALTER TABLE (\w+) RENAME TO (\w+)", stmt, re.IGNORECASE):
                names.discard(m.group(1))
                names.add(m.group(2))
    return names
