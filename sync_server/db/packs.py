"""Pack versions (manifest + signature; the files live in the blob store), their
publications to facilities and roles, the blob → pack index behind the audience check of
blob downloads, and the pack versions each device reports installed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase, placeholders
from sync_server.errors import AlreadyExistsError, NotFoundError

_PACK_COLS = "pack_id, version, manifest, sig, title, total_bytes, uploaded_at, uploaded_by"
_PUB_COLS = ("id, pack_id, version, facilities, roles, published_at, published_by, "
             "withdrawn_at, withdrawn_by")


@dataclass(frozen=True)
class PackVersion:
    pack_id: str
    version: int
    manifest: bytes
    sig: bytes
    title: str            # JSON object language → title
    total_bytes: int
    uploaded_at: str
    uploaded_by: str


@dataclass(frozen=True)
class Publication:
    id: int
    pack_id: str
    version: int
    facilities: tuple[str, ...]   # empty = every facility
    roles: tuple[str, ...]        # empty = every role
    published_at: str
    published_by: str
    withdrawn_at: str | None = None   # withdrawn: no longer offered to devices (schema 10)
    withdrawn_by: str | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def reaches(self, facility_id: str) -> bool:
        """Whether its audience includes the facility (withdrawn or not)."""
        return not self.facilities or facility_id in self.facilities


@dataclass(frozen=True)
class InstalledPack:
    device_id: str
    facility_id: str
    pack_id: str
    version: int
    reported_at: str


class PackStore(Protocol):
    def add_pack_version(self, pack: PackVersion, *, audit: AuditEntry | None = None) -> None:
        """AlreadyExistsError when that version was uploaded before."""
        ...

    def get_pack_version(self, pack_id: str, version: int) -> PackVersion | None: ...
    def list_pack_versions(self) -> list[PackVersion]: ...

    def publish(self, pack_id: str, version: int, facilities: list[str], roles: list[str],
                by: str, now: str, *, audit: AuditEntry | None = None) -> Publication:
        """NotFoundError for a version never uploaded or an unknown facility."""
        ...

    def list_publications(self) -> list[Publication]: ...

    def withdraw_publications(self, pack_id: str, by: str, now: str) -> int:
        """Withdraw every active publication of a pack (how many were withdrawn)."""
        ...

    def report_installed(self, device_id: str, packs: dict[str, int], now: str) -> None:
        """Record the versions a device says it has (pack id → version) — those this
        server holds; any other is not recorded."""
        ...

    def installed_packs(self, facility_id: str | None = None, *,
                        device_id: str | None = None) -> list[InstalledPack]: ...

    def blob_visible_to(self, sha256: str, facility_id: str) -> bool:
        """Whether the blob belongs to a pack version published (not withdrawn) to the
        facility."""
        ...


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


def _pack(row: tuple[Any, ...]) -> PackVersion:
    pid, ver, manifest, sig, title, total, at, by = row
    return PackVersion(pid, int(ver), bytes(manifest), bytes(sig), title, int(total), at, by)


def _publication(row: tuple[Any, ...]) -> Publication:
    pid, pack_id, ver, facs, roles, at, by, gone_at, gone_by = row
    return Publication(int(pid), pack_id, int(ver), tuple(json.loads(facs)),
                       tuple(json.loads(roles)), at, by, gone_at, gone_by)


class PackSql(SqlBase):
    def add_pack_version(self, pack: PackVersion, *, audit: AuditEntry | None = None) -> None:
        try:
            with self._write() as cur:
                cur.execute(self._sql(f"INSERT INTO packs ({_PACK_COLS}) VALUES (?,?,?,?,?,?,?,?)"),
                            (pack.pack_id, pack.version, pack.manifest, pack.sig, pack.title,
                             pack.total_bytes, pack.uploaded_at, pack.uploaded_by))
                index_blobs(cur, self.dialect, pack.pack_id, pack.version, pack.manifest)
                audit_in(cur, self.dialect, audit)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(
                    f"pack {pack.pack_id!r} version {pack.version} was already uploaded") from None
            raise

    def get_pack_version(self, pack_id: str, version: int) -> PackVersion | None:
        row = self._one(f"SELECT {_PACK_COLS} FROM packs WHERE pack_id = ? AND version = ?",
                        (pack_id, version))
        return _pack(row) if row else None

    def list_pack_versions(self) -> list[PackVersion]:
        return [_pack(r) for r in
                self._all(f"SELECT {_PACK_COLS} FROM packs ORDER BY pack_id, version")]

    def publish(self, pack_id: str, version: int, facilities: list[str], roles: list[str],
                by: str, now: str, *, audit: AuditEntry | None = None) -> Publication:
        if self.get_pack_version(pack_id, version) is None:
            raise NotFoundError(f"pack {pack_id!r} version {version} was not uploaded")
        for fac in facilities:
            self._require_facility(fac)
        where, who = tuple(sorted(set(facilities))), tuple(sorted(set(roles)))
        with self._write() as cur:
            cur.execute(self._sql("INSERT INTO publications (pack_id, version, facilities, roles, "
                                  "published_at, published_by) VALUES (?,?,?,?,?,?) RETURNING id"),
                        (pack_id, version, json.dumps(list(where)), json.dumps(list(who)), now, by))
            new_id = cur.fetchone()[0]
            audit_in(cur, self.dialect, audit)
        return Publication(int(new_id), pack_id, version, where, who, now, by)

    def list_publications(self) -> list[Publication]:
        return [_publication(r) for r in
                self._all(f"SELECT {_PUB_COLS} FROM publications ORDER BY id")]

    def withdraw_publications(self, pack_id: str, by: str, now: str) -> int:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE publications SET withdrawn_at = ?, withdrawn_by = ? "
                                  "WHERE pack_id = ? AND withdrawn_at IS NULL"),
                        (now, by, pack_id))
            return int(cur.rowcount)

    def report_installed(self, device_id: str, packs: dict[str, int], now: str) -> None:
        # only versions this server holds: a report is the device's word, and every
        # other pack id would be a row for good (the table grew by a thousand a pull)
        if not packs:
            return
        with self._write() as cur:
            cur.executemany(self._sql(
                "INSERT INTO device_packs (device_id, pack_id, version, reported_at) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM packs WHERE pack_id = ? "
                "AND version = ?) ON CONFLICT (device_id, pack_id) DO UPDATE SET "
                "version = excluded.version, reported_at = excluded.reported_at"),
                [(device_id, pid, ver, now, pid, ver) for pid, ver in sorted(packs.items())])

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

    def blob_visible_to(self, sha256: str, facility_id: str) -> bool:
        rows = self._all("SELECT p.facilities FROM pack_blobs b JOIN publications p "
                         "ON p.pack_id = b.pack_id AND p.version = b.version WHERE b.sha256 = ? "
                         "AND p.withdrawn_at IS NULL",
                         (sha256,))
        return any(not json.loads(facs) or facility_id in json.loads(facs) for (facs,) in rows)
