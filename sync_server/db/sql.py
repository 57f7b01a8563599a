"""SQL shared by the SQLite and PostgreSQL repositories.

Statements are written with `?` placeholders; the PostgreSQL subclass rewrites them to
`%s`. Dialect differences live in three hooks: `_connect`, `_begin_write` (how writers
are serialised) and `_is_broken` (drop a dead connection instead of reusing it).

Event cursors are the server-side `seq` column. A pull must never skip a row that
commits later with a smaller seq, so writers of events and learner revisions are
serialised: SQLite by its single write lock (BEGIN IMMEDIATE), PostgreSQL by a
transaction-level advisory lock. Then seq order is commit order across every server
process that shares the database.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from app.core.events import format_at
from sync_server.db import schema
from sync_server.db.learners import LearnerSql, upgrade_learners_v6
from sync_server.db.locks import LOCK_EVENTS, LOCK_MIGRATE, LOCK_USAGE
from sync_server.db.repository import (
    Admin,
    CertificateRecord,
    Device,
    DeviceUsage,
    EventCounts,
    EventRow,
    Facility,
    InsertStatus,
    InstalledPack,
    PackVersion,
    Publication,
    StoredEvent,
)
from sync_server.errors import (
    AlreadyExistsError,
    DatabaseError,
    DeviceIdTakenError,
    EnrolError,
    NotFoundError,
)

_DEVICE_COLS = "id, facility_id, name, enrolled_at, revoked_at, last_seen_at"
_PACK_COLS = "pack_id, version, manifest, sig, title, total_bytes, uploaded_at, uploaded_by"
_PUB_COLS = "id, pack_id, version, facilities, roles, published_at, published_by"
_CERT_COLS = ("id, learner_id, pack_id, pack_version, course_id, facility_id, language, "
              "issued_at, source_event, key_id, credential, delivered_at, revoked_at, revoked_by, "
              "revoke_reason, status_list, status_index")


def placeholders(dialect: str, sql: str) -> str:
    """`sql` written with `?` placeholders, in the form the dialect's driver wants."""
    return sql if dialect == "sqlite" else sql.replace("?", "%s")


def new_epoch() -> str:
    """A fresh value for `server_meta.epoch` (see SqlRepository.server_epoch)."""
    return uuid.uuid4().hex


def schema_version_of(cur: Any) -> int:
    """The schema version recorded in the database of `cur` (0 = none yet); creates the
    `schema_version` table when it is missing."""
    cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    cur.execute("SELECT MAX(version) FROM schema_version")
    return int(cur.fetchone()[0] or 0)


def apply_schema(cur: Any, dialect: str, *, current: int, target: int = schema.LATEST) -> None:
    """Bring the database of `cur` (inside a write transaction) from schema `current` to
    `target`: each version's statements, its data step, and its `schema_version` row.
    Used at every start (`SqlRepository._migrate`) and by a restore from a backup
    (sync_server/backup), which loads rows at the backup's version and then migrates."""
    for version in range(current + 1, target + 1):
        for stmt in schema.statements(dialect, version):
            cur.execute(stmt)
        if version == 2:
            cur.execute("SELECT pack_id, version, manifest FROM packs")
            for pack_id, ver, manifest in cur.fetchall():
                index_blobs(cur, dialect, pack_id, int(ver), bytes(manifest))
        if version == 6:
            upgrade_learners_v6(cur, dialect, format_at(datetime.now(UTC)))
        cur.execute(placeholders(dialect, "INSERT INTO schema_version (version) VALUES (?)"),
                    (version,))


def index_blobs(cur: Any, dialect: str, pack_id: str, version: int, manifest: bytes) -> None:
    """Record which blobs a pack version holds (its manifest's `files`), for the
    audience check of blob downloads. A manifest without files indexes nothing."""
    try:
        files = json.loads(manifest).get("files") or []
        shas = sorted({f["sha256"] for f in files if isinstance(f.get("sha256"), str)})
    except (ValueError, AttributeError, TypeError):
        shas = []
    if shas:
        cur.executemany(placeholders(dialect, "INSERT INTO pack_blobs (sha256, pack_id, version) "
                                              "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                        [(sha, pack_id, version) for sha in shas])


class Pool:
    """A small blocking connection pool (one connection is used by one thread at a time).

    A connection idle for more than `ping_after` seconds is checked with `ping` before it
    is handed out and replaced when dead (a restarted PostgreSQL server), so the first
    request after a database restart does not fail.
    """

    def __init__(self, factory: Any, size: int, is_broken: Any, ping: Any = None,
                 ping_after: float = 10.0) -> None:
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


class SqlRepository(LearnerSql):
    """Repository implementation on a DB-API connection; see module docstring."""

    dialect = "sql"
    placeholder = "?"

    def __init__(self, pool_size: int) -> None:
        self._pool = Pool(self._connect, pool_size, self._is_broken, self._ping)
        self._epoch: str | None = None
        self._migrate()

    # ----- dialect hooks -------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        return False

    #: Check a long-idle connection before use (None: never needed, e.g. SQLite).
    _ping: Any = None

    @contextmanager
    def _write(self, *locks: int) -> Iterator[Any]:
        """A write transaction; `locks` name the writer groups to serialise."""
        raise NotImplementedError
        yield

    def _label(self) -> str:
        """The database as named in error messages (never with a password)."""
        return self.dialect

    def _migrate(self) -> None:
        """Apply the missing schema versions (sync_server/db/schema.py) in one transaction."""
        with self._write(LOCK_MIGRATE) as cur:
            current = schema_version_of(cur)
            if current > schema.LATEST:
                raise DatabaseError(f"{self._label()}: database schema {current} is newer than "
                                    f"this server ({schema.LATEST}); upgrade the server")
            apply_schema(cur, self.dialect, current=current)

    def _is_unique_violation(self, exc: BaseException) -> bool:
        raise NotImplementedError

    # ----- helpers -------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            row: tuple[Any, ...] | None = cur.fetchone()
            return row

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            return list(cur.fetchall())

    def close(self) -> None:
        self._pool.close()

    # ----- identity of the database's history ---------------------------------------------
    def server_epoch(self) -> str:
        """A random id of this database's history, sent with every pull: made the first
        time it is asked for, replaced by every restore from a backup (sync_server/backup).
        A tablet that sees it change knows the server may have lost events it had
        acknowledged, and offers its history again (docs/sync-protocol.md §4.5).

        Read once per process: a restore is done with the servers stopped."""
        if self._epoch is None:
            row = self._one("SELECT value FROM server_meta WHERE name = 'epoch'")
            if row is None:
                with self._write() as cur:
                    cur.execute(self._sql("INSERT INTO server_meta (name, value) VALUES "
                                          "('epoch', ?) ON CONFLICT (name) DO NOTHING"),
                                (new_epoch(),))
                row = self._one("SELECT value FROM server_meta WHERE name = 'epoch'")
            assert row is not None
            self._epoch = str(row[0])
        return self._epoch

    # ----- facilities ------------------------------------------------------------------
    def create_facility(self, facility_id: str, name: str, now: str) -> Facility:
        try:
            with self._write() as cur:
                cur.execute(self._sql("INSERT INTO facilities (id, name, created_at) VALUES (?, ?, ?)"),
                            (facility_id, name, now))
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"facility {facility_id!r} already exists") from None
            raise
        return Facility(facility_id, name, now)

    def get_facility(self, facility_id: str) -> Facility | None:
        row = self._one("SELECT id, name, created_at FROM facilities WHERE id = ?", (facility_id,))
        return Facility(*row) if row else None

    def list_facilities(self) -> list[Facility]:
        return [Facility(*r) for r in self._all("SELECT id, name, created_at FROM facilities ORDER BY id")]

    # ----- admins ----------------------------------------------------------------------
    def create_admin(self, admin_id: str, name: str, password_hash: str, now: str) -> Admin:
        try:
            with self._write() as cur:
                cur.execute(self._sql("INSERT INTO admins (id, name, password_hash, created_at) "
                                      "VALUES (?, ?, ?, ?)"), (admin_id, name, password_hash, now))
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"admin {name!r} already exists") from None
            raise
        return Admin(admin_id, name, password_hash, now)

    def set_admin_password(self, name: str, password_hash: str, *,
                           end_sessions: bool = True) -> None:
        """A new password ends every open session of that admin; a re-hash of the same
        password (a stronger hash at login, `end_sessions=False`) does not."""
        with self._write() as cur:
            cur.execute(self._sql("UPDATE admins SET password_hash = ? WHERE name = ?"),
                        (password_hash, name))
            if cur.rowcount == 0:
                raise NotFoundError(f"admin {name!r} does not exist")
            if not end_sessions:
                return
            cur.execute(self._sql("DELETE FROM admin_sessions WHERE admin_id IN "
                                  "(SELECT id FROM admins WHERE name = ?)"), (name,))

    def get_admin_by_name(self, name: str) -> Admin | None:
        row = self._one("SELECT id, name, password_hash, created_at FROM admins WHERE name = ?", (name,))
        return Admin(*row) if row else None

    def list_admins(self) -> list[Admin]:
        return [Admin(*r) for r in
                self._all("SELECT id, name, password_hash, created_at FROM admins ORDER BY name")]

    def create_admin_session(self, token_hash: str, admin_id: str, expires_at: str, now: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM admin_sessions WHERE expires_at <= ?"), (now,))
            cur.execute(self._sql("INSERT INTO admin_sessions (token_hash, admin_id, expires_at, "
                                  "created_at) VALUES (?, ?, ?, ?)"),
                        (token_hash, admin_id, expires_at, now))

    def admin_for_session(self, token_hash: str, now: str) -> Admin | None:
        row = self._one("SELECT a.id, a.name, a.password_hash, a.created_at FROM admin_sessions s "
                        "JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = ? AND s.expires_at > ?",
                        (token_hash, now))
        return Admin(*row) if row else None

    def delete_admin_session(self, token_hash: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM admin_sessions WHERE token_hash = ?"), (token_hash,))

    # ----- enrolment and devices ---------------------------------------------------------
    def create_enrol_code(self, code_hash: str, facility_id: str, expires_at: str,
                          created_by: str, now: str) -> None:
        if self.get_facility(facility_id) is None:
            raise NotFoundError(f"facility {facility_id!r} does not exist")
        with self._write() as cur:
            cur.execute(self._sql("INSERT INTO enrol_codes (code_hash, facility_id, expires_at, "
                                  "created_by, created_at) VALUES (?, ?, ?, ?, ?)"),
                        (code_hash, facility_id, expires_at, created_by, now))

    def enrol_device(self, code_hash: str, device_id: str, name: str, token_hash: str,
                     now: str, *, proof_hash: str | None = None) -> Device:
        """Consume the code and enrol the device in one transaction.

        An id that is enrolled already is re-enrolled (new token and facility, revocation
        cleared, the old token stops working at once) only when `proof_hash` is the hash
        of that device's current token — the tablet itself asking (moved to another
        facility, re-enrolled after a revocation). Anyone else naming the id gets
        DeviceIdTakenError and the code stays unused: enrolment never takes over
        another tablet.
        """
        with self._write() as cur:
            cur.execute(self._sql("SELECT facility_id, expires_at, used_at FROM enrol_codes "
                                  "WHERE code_hash = ?"), (code_hash,))
            row = cur.fetchone()
            if row is None:
                raise EnrolError("unknown")
            facility_id, expires_at, used_at = row
            if used_at is not None:
                raise EnrolError("already used")
            if expires_at <= now:
                raise EnrolError("expired")
            cur.execute(self._sql("SELECT token_hash FROM devices WHERE id = ?"), (device_id,))
            holder = cur.fetchone()
            if holder is not None and (proof_hash is None or proof_hash != holder[0]):
                raise DeviceIdTakenError(
                    f"device id {device_id!r} is enrolled already; a tablet re-enrols itself "
                    "with its current token, any other device needs its own id")
            cur.execute(self._sql("UPDATE enrol_codes SET used_at = ?, used_by = ? "
                                  "WHERE code_hash = ? AND used_at IS NULL"),
                        (now, device_id, code_hash))
            if cur.rowcount != 1:
                raise EnrolError("already used")
            cur.execute(self._sql(
                "INSERT INTO devices (id, facility_id, name, token_hash, enrolled_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET facility_id = excluded.facility_id, "
                "name = excluded.name, token_hash = excluded.token_hash, "
                "enrolled_at = excluded.enrolled_at, revoked_at = NULL"),
                (device_id, facility_id, name, token_hash, now))
        return Device(device_id, facility_id, name, now)

    def device_for_token(self, token_hash: str) -> Device | None:
        row = self._one(f"SELECT {_DEVICE_COLS} FROM devices WHERE token_hash = ?", (token_hash,))
        return Device(*row) if row else None

    def get_device(self, device_id: str) -> Device | None:
        row = self._one(f"SELECT {_DEVICE_COLS} FROM devices WHERE id = ?", (device_id,))
        return Device(*row) if row else None

    def list_devices(self, facility_id: str | None = None) -> list[Device]:
        if facility_id is None:
            rows = self._all(f"SELECT {_DEVICE_COLS} FROM devices ORDER BY id")
        else:
            rows = self._all(f"SELECT {_DEVICE_COLS} FROM devices WHERE facility_id = ? ORDER BY id",
                             (facility_id,))
        return [Device(*r) for r in rows]

    def revoke_device(self, device_id: str, now: str) -> bool:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
                        (now, device_id))
            return bool(cur.rowcount == 1)

    def touch_device(self, device_id: str, now: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE devices SET last_seen_at = ? WHERE id = ?"), (now, device_id))

    # ----- events ------------------------------------------------------------------------
    def insert_events(self, rows: list[EventRow]) -> dict[str, InsertStatus]:
        """Store new events; an id already present is `duplicate` when its content is
        byte-identical, else `conflict` (the stored copy is never overwritten).

        Optimistic: insert everything with ON CONFLICT DO NOTHING and look rows up only
        when fewer rows were inserted than sent. Event writers are serialised (see the
        module docstring), so rows with a seq above the pre-insert maximum are this call's.
        """
        status: dict[str, InsertStatus] = {}
        unique: dict[str, EventRow] = {}
        for row in rows:            # a repeated id inside one call keeps its first copy
            unique.setdefault(row.id, row)
        if not unique:
            return status
        fresh = list(unique.values())
        with self._write(LOCK_EVENTS) as cur:
            cur.execute(self._sql("SELECT COALESCE(MAX(seq), 0) FROM events"))
            top = int(cur.fetchone()[0])
            cur.executemany(self._sql(
                "INSERT INTO events (id, learner_id, device_id, facility_id, type, at, content, "
                "received_at, received_from) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (id) DO NOTHING"),
                [(r.id, r.learner_id, r.device_id, r.facility_id, r.type, r.at, r.content,
                  r.received_at, r.received_from) for r in fresh])
            if cur.rowcount == len(fresh):
                return {r.id: "stored" for r in fresh}
            found = self._stored_rows(cur, sorted(unique))
        for eid, row in unique.items():
            seq, content = found[eid]
            if seq > top:
                status[eid] = "stored"
            else:
                status[eid] = "duplicate" if content == row.content else "conflict"
        return status

    def _stored_rows(self, cur: Any, ids: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            cur.execute(self._sql(f"SELECT id, seq, content FROM events WHERE id IN ({marks})"),
                        tuple(part))
            found.update((eid, (int(seq), content)) for eid, seq, content in cur.fetchall())
        return found

    def events_after(self, facility_id: str, after_seq: int, limit: int) -> list[StoredEvent]:
        rows = self._all("SELECT seq, content, received_at FROM events WHERE facility_id = ? "
                         "AND seq > ? ORDER BY seq LIMIT ?", (facility_id, after_seq, limit))
        return [StoredEvent(int(s), c, r) for s, c, r in rows]

    def count_events(self) -> EventCounts:
        counts = EventCounts()
        for fac, n in self._all("SELECT facility_id, COUNT(*) FROM events GROUP BY facility_id"):
            counts.by_facility[fac] = int(n)
            counts.total += int(n)
        return counts

    def all_event_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT id FROM events ORDER BY seq")]

    # ----- per-device daily quotas --------------------------------------------------------
    def charge_usage(self, device_id: str, day: str, *, events: int, bytes_: int,
                     max_events: int, max_bytes: int) -> DeviceUsage:
        """Add a push to the device's usage of `day`, unless a quota (0 = none) is used up
        already — then nothing is charged and `refused` names it. Charges of every server
        process are serialised (LOCK_USAGE), so two pushes cannot both slip past a limit.
        The device's rows of earlier days are dropped when its first push of a day comes."""
        with self._write(LOCK_USAGE) as cur:
            cur.execute(self._sql("SELECT events, bytes FROM device_usage "
                                  "WHERE device_id = ? AND day = ?"), (device_id, day))
            row = cur.fetchone()
            used_events, used_bytes = (int(row[0]), int(row[1])) if row else (0, 0)
            if max_events and used_events >= max_events:
                return DeviceUsage(used_events, used_bytes, "events_per_day")
            if max_bytes and used_bytes >= max_bytes:
                return DeviceUsage(used_events, used_bytes, "bytes_per_day")
            if row is None:
                cur.execute(self._sql("DELETE FROM device_usage WHERE device_id = ? AND day < ?"),
                            (device_id, day))
                cur.execute(self._sql("INSERT INTO device_usage (device_id, day, events, bytes) "
                                      "VALUES (?, ?, ?, ?)"), (device_id, day, events, bytes_))
            else:
                cur.execute(self._sql("UPDATE device_usage SET events = events + ?, "
                                      "bytes = bytes + ? WHERE device_id = ? AND day = ?"),
                            (events, bytes_, device_id, day))
        return DeviceUsage(used_events + events, used_bytes + bytes_)

    def device_usage(self, device_id: str, day: str) -> DeviceUsage:
        row = self._one("SELECT events, bytes FROM device_usage WHERE device_id = ? AND day = ?",
                        (device_id, day))
        return DeviceUsage(int(row[0]), int(row[1])) if row else DeviceUsage(0, 0)

    # ----- packs -------------------------------------------------------------------------
    @staticmethod
    def _pack(row: tuple[Any, ...]) -> PackVersion:
        pid, ver, manifest, sig, title, total, at, by = row
        return PackVersion(pid, int(ver), bytes(manifest), bytes(sig), title, int(total), at, by)

    @staticmethod
    def _publication(row: tuple[Any, ...]) -> Publication:
        pid, pack_id, ver, facs, roles, at, by = row
        return Publication(int(pid), pack_id, int(ver), tuple(json.loads(facs)),
                           tuple(json.loads(roles)), at, by)

    def add_pack_version(self, pack: PackVersion) -> None:
        try:
            with self._write() as cur:
                cur.execute(self._sql(f"INSERT INTO packs ({_PACK_COLS}) VALUES (?,?,?,?,?,?,?,?)"),
                            (pack.pack_id, pack.version, pack.manifest, pack.sig, pack.title,
                             pack.total_bytes, pack.uploaded_at, pack.uploaded_by))
                self._index_blobs(cur, pack.pack_id, pack.version, pack.manifest)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(
                    f"pack {pack.pack_id!r} version {pack.version} was already uploaded") from None
            raise

    def get_pack_version(self, pack_id: str, version: int) -> PackVersion | None:
        row = self._one(f"SELECT {_PACK_COLS} FROM packs WHERE pack_id = ? AND version = ?",
                        (pack_id, version))
        return self._pack(row) if row else None

    def list_pack_versions(self) -> list[PackVersion]:
        return [self._pack(r) for r in
                self._all(f"SELECT {_PACK_COLS} FROM packs ORDER BY pack_id, version")]

    def publish(self, pack_id: str, version: int, facilities: list[str], roles: list[str],
                by: str, now: str) -> Publication:
        if self.get_pack_version(pack_id, version) is None:
            raise NotFoundError(f"pack {pack_id!r} version {version} was not uploaded")
        for fac in facilities:
            if self.get_facility(fac) is None:
                raise NotFoundError(f"facility {fac!r} does not exist")
        with self._write() as cur:
            cur.execute(self._sql("INSERT INTO publications (pack_id, version, facilities, roles, "
                                  "published_at, published_by) VALUES (?,?,?,?,?,?) RETURNING id"),
                        (pack_id, version, json.dumps(sorted(set(facilities))),
                         json.dumps(sorted(set(roles))), now, by))
            new_id = cur.fetchone()[0]
        return Publication(int(new_id), pack_id, version, tuple(sorted(set(facilities))),
                           tuple(sorted(set(roles))), now, by)

    def list_publications(self) -> list[Publication]:
        return [self._publication(r) for r in
                self._all(f"SELECT {_PUB_COLS} FROM publications ORDER BY id")]

    def report_installed(self, device_id: str, packs: dict[str, int], now: str) -> None:
        if not packs:
            return
        with self._write() as cur:
            cur.executemany(self._sql(
                "INSERT INTO device_packs (device_id, pack_id, version, reported_at) VALUES (?,?,?,?) "
                "ON CONFLICT (device_id, pack_id) DO UPDATE SET version = excluded.version, "
                "reported_at = excluded.reported_at"),
                [(device_id, pid, ver, now) for pid, ver in sorted(packs.items())])

    def installed_packs(self, facility_id: str | None = None, *,
                        device_id: str | None = None) -> list[InstalledPack]:
        sql = ("SELECT p.device_id, d.facility_id, p.pack_id, p.version, p.reported_at "
               "FROM device_packs p JOIN devices d ON d.id = p.device_id")
        where, params = [], []
        if facility_id is not None:
            where.append("d.facility_id = ?")
            params.append(facility_id)
        if device_id is not None:
            where.append("p.device_id = ?")
            params.append(device_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._all(sql + " ORDER BY p.device_id, p.pack_id", tuple(params))
        return [InstalledPack(a, b, c, int(d), e) for a, b, c, d, e in rows]

    def _index_blobs(self, cur: Any, pack_id: str, version: int, manifest: bytes) -> None:
        index_blobs(cur, self.dialect, pack_id, version, manifest)

    def blob_visible_to(self, sha256: str, facility_id: str) -> bool:
        """Whether the blob belongs to a pack version published to the facility."""
        rows = self._all("SELECT p.facilities FROM pack_blobs b JOIN publications p "
                         "ON p.pack_id = b.pack_id AND p.version = b.version WHERE b.sha256 = ?",
                         (sha256,))
        return any(not json.loads(facs) or facility_id in json.loads(facs) for (facs,) in rows)

    # ----- scans over every facility's events (certificates, reports, exports) ----------
    def scan_events(self, after_seq: int, limit: int,
                    types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        """Events of every facility after `after_seq` in seq order (only `types` if given)."""
        sql = "SELECT seq, content, received_at FROM events WHERE seq > ?"
        params: list[int | str] = [after_seq]
        if types is not None:
            if not types:
                return []
            sql += f" AND type IN ({','.join('?' * len(types))})"
            params += list(types)
        rows = self._all(sql + " ORDER BY seq LIMIT ?", (*params, limit))
        return [StoredEvent(int(s), c, r) for s, c, r in rows]

    def learner_events(self, learner_id: str,
                       types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        """Every stored event of one learner (any facility), in seq order."""
        sql, params = ("SELECT seq, content, received_at FROM events WHERE learner_id = ?",
                       [learner_id])
        if types is not None:
            if not types:
                return []
            sql += f" AND type IN ({','.join('?' * len(types))})"
            params += list(types)
        return [StoredEvent(int(s), c, r) for s, c, r in self._all(sql + " ORDER BY seq",
                                                                   tuple(params))]

    def scan_cursor(self, name: str) -> int:
        row = self._one("SELECT seq FROM certificate_cursor WHERE name = ?", (name,))
        return int(row[0]) if row else 0

    def advance_scan_cursor(self, name: str, seq: int) -> None:
        """Move a named cursor forward (never back, whoever writes last)."""
        with self._write() as cur:
            cur.execute(self._sql(
                "INSERT INTO certificate_cursor (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = CASE WHEN certificate_cursor.seq > "
                "excluded.seq THEN certificate_cursor.seq ELSE excluded.seq END"), (name, seq))

    # ----- certificates --------------------------------------------------------------
    @staticmethod
    def _certificate(row: tuple[Any, ...]) -> CertificateRecord:
        values = list(row)
        values[3] = int(values[3])
        values[10] = json.loads(values[10])
        for i in (15, 16):
            values[i] = None if values[i] is None else int(values[i])
        return CertificateRecord(*values)

    def insert_certificate(self, record: CertificateRecord) -> bool:
        """Store a new certificate; False when the learner already has one for the course."""
        with self._write() as cur:
            cur.execute(self._sql(
                f"INSERT INTO certificates ({_CERT_COLS}) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
                (record.id, record.learner_id, record.pack_id, record.pack_version,
                 record.course_id, record.facility_id, record.language, record.issued_at,
                 record.source_event, record.key_id,
                 json.dumps(record.credential, ensure_ascii=False, separators=(",", ":")),
                 record.delivered_at, record.revoked_at, record.revoked_by, record.revoke_reason,
                 record.status_list, record.status_index))
            return bool(cur.rowcount == 1)

    def get_certificate(self, certificate_id: str) -> CertificateRecord | None:
        row = self._one(f"SELECT {_CERT_COLS} FROM certificates WHERE id = ?", (certificate_id,))
        return self._certificate(row) if row else None

    def list_certificates(self, *, learner_id: str | None = None, facility_id: str | None = None,
                          limit: int = 1000) -> list[CertificateRecord]:
        where, params = [], []
        if learner_id:
            where.append("learner_id = ?")
            params.append(learner_id)
        if facility_id:
            where.append("facility_id = ?")
            params.append(facility_id)
        sql = f"SELECT {_CERT_COLS} FROM certificates"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY issued_at DESC, id LIMIT ?"
        return [self._certificate(r) for r in self._all(sql, (*params, limit))]

    def certificate_exists(self, learner_id: str, pack_id: str, course_id: str) -> bool:
        return self._one("SELECT 1 FROM certificates WHERE learner_id = ? AND pack_id = ? "
                         "AND course_id = ?", (learner_id, pack_id, course_id)) is not None

    def certificate_ids_by_course(self) -> dict[tuple[str, str, str], str]:
        """(learner, pack, course) → certificate id, without loading the credentials."""
        return {(lr, p, c): cid for cid, lr, p, c in self._all(
            "SELECT id, learner_id, pack_id, course_id FROM certificates")}

    def count_certificates(self) -> int:
        row = self._one("SELECT COUNT(*) FROM certificates")
        return int(row[0]) if row else 0

    def undelivered_certificates(self, limit: int = 500) -> list[CertificateRecord]:
        return [self._certificate(r) for r in self._all(
            f"SELECT {_CERT_COLS} FROM certificates WHERE delivered_at IS NULL "
            "ORDER BY issued_at, id LIMIT ?", (limit,))]

    def mark_certificate_delivered(self, certificate_id: str, now: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE certificates SET delivered_at = ? WHERE id = ? "
                                  "AND delivered_at IS NULL"), (now, certificate_id))

    def revoke_certificate(self, certificate_id: str, *, by: str, reason: str, now: str) -> bool:
        """Revoke once; False if unknown or already revoked (the first reason stays)."""
        with self._write() as cur:
            cur.execute(self._sql(
                "UPDATE certificates SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL"), (now, by, reason, certificate_id))
            return bool(cur.rowcount == 1)

    def revoked_status_indexes(self, status_list: int) -> list[int]:
        """Indexes of the revoked certificates in one revocation status list."""
        return sorted(int(i) for (i,) in self._all(
            "SELECT status_index FROM certificates WHERE status_list = ? AND revoked_at IS NOT "
            "NULL AND status_index IS NOT NULL", (status_list,)))

    def max_status_list(self) -> int:
        """The highest status list number in use (0: none yet)."""
        row = self._one("SELECT MAX(status_list) FROM certificates")
        return int(row[0]) if row and row[0] is not None else 0

    # ----- failed admin logins -------------------------------------------------------
    def record_login_failure(self, keys: list[str], at: str, prune_before: str) -> None:
        """Log one failed login under each key (e.g. name and address); drop entries
        older than `prune_before` so the table stays small."""
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM login_failures WHERE at < ?"), (prune_before,))
            cur.executemany(self._sql("INSERT INTO login_failures (key, at) VALUES (?, ?)"),
                            [(key, at) for key in keys])

    def count_login_failures(self, key: str, since: str) -> int:
        row = self._one("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?",
                        (key, since))
        return int(row[0]) if row else 0

    def clear_login_failures(self, key: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM login_failures WHERE key = ?"), (key,))

    def remember_login(self, name_key: str, address: str, at: str) -> None:
        """Record that `address` logged in successfully as this admin name (the login
        throttle lets such pairs through a name-wide lock-out)."""
        with self._write() as cur:
            cur.execute(self._sql(
                "INSERT INTO login_known (name_key, address, at) VALUES (?, ?, ?) "
                "ON CONFLICT (name_key, address) DO UPDATE SET at = excluded.at"),
                (name_key, address, at))

    def known_login(self, name_key: str, address: str, since: str) -> bool:
        return self._one("SELECT 1 FROM login_known WHERE name_key = ? AND address = ? "
                         "AND at >= ?", (name_key, address, since)) is not None
