"""Backup archives against real SQLite files and real PostgreSQL (no HTTP here; the
round trip with a serving server and tablets is tests/integration/test_server_backup.py).

* every table comes back row for row, also SQLite → PostgreSQL → SQLite;
* a hostile or damaged archive — truncated, not a ZIP, someone else's ZIP, a flipped
  byte, a changed entry, extra / duplicate / `..` / link entries, injected names, a newer
  format or schema, a table the schema does not have, a bad row — is refused with a
  message naming the problem, and leaves nothing behind (no database file, no tables,
  no keys, no blobs, no staging folder), also over an existing server with --force;
* a target that already holds a server is refused unless forced.
"""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.core.packs import build_pack
from sync_server.app import create_app
from sync_server.backup import create_backup, restore_backup
from sync_server.backup.archive import MANIFEST
from sync_server.db import schema
from sync_server.db.repository import CertificateRecord, EventRow, Learner
from sync_server.errors import BackupError
from sync_server.services.packs import ingest_pack_file
from sync_server.settings import Settings
from tests.support.postgres import (  # noqa: F401 - fixtures
    database_url,
    fresh_database_url,
    postgres_url,
)
from tests.support.server import ROOT

SAMPLE = ROOT / "content_packs" / "promote-sample"
T0 = "2026-01-05T10:00:00.000Z"


def fill(settings: Settings, tmp: Path) -> None:
    """A small server: the sample pack (blobs), facilities, a learner, events with
    non-ASCII text, a certificate, a publication, a cursor, the epoch."""
    app = create_app(settings.with_(public_base_url="https://learning.example.org"))
    state = app.state.shift
    repo = state.repo
    try:
        pack = build_pack(SAMPLE, state.keyring.private_key, tmp / "sample.pack")
        ingest_pack_file(repo, state.keyring, state.blobs, pack, "boss")
        repo.create_facility("f1", "Vilniaus pataisos namai", T0)
        repo.create_facility("f2", "Penitenciarul Iași", T0)
        repo.publish("promote-sample", 1, ["f1"], [], "boss", T0)
        repo.save_profile(Learner("0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11", "LT-1", "f1",
                                  "prison_officer", "lt", "Žydrūnė", "scrypt$x", T0))
        repo.insert_events([EventRow(f"00000000-0000-4000-8000-{i:012d}",
                                     "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11", "tab", "f1",
                                     "card.viewed", T0, json.dumps({"n": i, "t": "ąčę 🙂"}),
                                     T0, "tab") for i in range(30)])
        repo.insert_certificate(CertificateRecord(
            "11111111-1111-4111-8111-111111111111", "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11",
            "promote-sample", 1, "boundaries", "f1", "lt", T0, "e1", "k",
            {"name": "Pažymėjimas", "n": [1, 2.5, None]}))
        repo.advance_scan_cursor("completed", 12)
        repo.server_epoch()
    finally:
        repo.close()


def dump(settings: Settings) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table (server_meta aside: a restore gives a new epoch)."""
    url = settings.effective_database_url
    out: dict[str, set[tuple[Any, ...]]] = {}
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            out[name] = {tuple(r) for r in conn.execute(f'SELECT * FROM "{name}"')}
        conn.close()
    else:
        import psycopg
        with psycopg.connect(url) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE'")]
            for name in names:
                out[name] = {tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                             for r in conn.execute(f'SELECT * FROM "{name}"')}
    meta = out.pop("server_meta", set())
    out["server_meta.epoch"] = {r for r in meta if r[0] == "epoch"}
    return out


def files(data_dir: Path) -> dict[str, bytes]:
    out = {str(p.relative_to(data_dir)): p.read_bytes()
           for sub in ("keys", "blobs") for p in (data_dir / sub).rglob("*")
           if p.is_file() and p.name != ".lock" and "tmp" not in p.relative_to(data_dir).parts}
    assert "keys/server.key" in out and any(k.startswith("blobs/") for k in out)
    return out


def nothing_left(settings: Settings) -> None:
    """After a refused restore into an empty target: no trace of it."""
    d = settings.data_dir
    assert not d.exists() or sorted(p.name for p in d.iterdir()) == [], sorted(d.iterdir())
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        import psycopg
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                "table_schema = current_schema()").fetchone()[0] == 0


@pytest.fixture
def source(tmp_path: Path, database_url: str | None) -> tuple[Settings, Path]:  # noqa: F811
    settings = Settings(data_dir=tmp_path / "src", database_url=database_url)
    fill(settings, tmp_path)
    archive = tmp_path / "backup.zip"
    create_backup(settings, archive)
    return settings, archive


def empty_target(tmp_path: Path, like: Settings, name: str = "dst") -> Settings:
    url = None if like.database_url is None else fresh_database_url()
    return Settings(data_dir=tmp_path / name, database_url=url)


def test_round_trip_every_table_row_for_row(source: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, archive = source
    target = empty_target(tmp_path, settings)
    summary = restore_backup(target, archive)
    assert summary.rows["events"] == 30 and summary.blobs > 0
    before, after = dump(settings), dump(target)
    assert before.keys() == after.keys()
    for table in before:
        if table != "server_meta.epoch":
            assert after[table] == before[table], table
    assert after["server_meta.epoch"] != before["server_meta.epoch"]   # a new epoch
    assert files(target.data_dir) == files(settings.data_dir)
    assert "schema_version" in before and max(before["schema_version"])[0] == schema.LATEST
    repo = create_app(target.with_(public_base_url="https://learning.example.org")).state.shift.repo  # it starts on it
    try:
        assert repo.get_certificate("11111111-1111-4111-8111-111111111111") is not None
        assert repo.blob_visible_to(next(iter(before["pack_blobs"]))[0], "f1")
        ids = repo.insert_events([EventRow("00000000-0000-4000-8000-999999999999",
                                           "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11", "tab", "f1",
                                           "card.viewed", T0, "{}", T0, "tab")])
        assert ids == {"00000000-0000-4000-8000-999999999999": "stored"}
        assert repo.events_after("f1", 30, 10)[0].seq == 31    # numbering continues
    finally:
        repo.close()


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    sqlite_src = Settings(data_dir=tmp_path / "a")
    fill(sqlite_src, tmp_path)
    create_backup(sqlite_src, tmp_path / "a.zip")
    pg = Settings(data_dir=tmp_path / "b", database_url=postgres_url)
    restore_backup(pg, tmp_path / "a.zip")
    create_backup(pg, tmp_path / "b.zip")
    back = Settings(data_dir=tmp_path / "c")
    summary = restore_backup(back, tmp_path / "b.zip")
    assert (summary.dialect_from, summary.dialect_to) == ("postgresql", "sqlite")
    original, pg_rows, final = dump(sqlite_src), dump(pg), dump(back)
    for table in original:
        if table != "server_meta.epoch":
            assert pg_rows[table] == original[table], table
            assert final[table] == original[table], table
    assert files(back.data_dir) == files(sqlite_src.data_dir)


# ----- hostile and damaged archives -----------------------------------------------------
def rewrite(src: Path, dst: Path, *, change: Callable[[str, bytes], bytes | None] | None = None,
            manifest: Callable[[dict[str, Any]], None] | None = None,
            add: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:  # type: ignore[assignment]
    """Copy a backup entry by entry: `change(name, data)` may replace (bytes) or drop
    (None) an entry; `manifest` edits the manifest; `add` appends entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == MANIFEST and manifest is not None:
                doc = json.loads(data)
                manifest(doc)
                data = json.dumps(doc).encode()
            elif change is not None:
                changed = change(info.filename, data)
                if changed is None:
                    continue
                data = changed
            zout.writestr(info, data)
        for info, data in add:
            zout.writestr(info, data)
    return dst


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _bump(doc: dict[str, Any], key: str, value: Any) -> None:
    doc[key] = value


def _first(doc: dict[str, Any], table: str) -> dict[str, Any]:
    return next(t for t in doc["tables"] if t["name"] == table)


def _evil_table(doc: dict[str, Any], data: bytes) -> None:
    import hashlib
    doc["tables"].append({"name": "evil", "columns": [["x", "text"]], "primary_key": [],
                          "references": [], "identity": None, "sequence": None, "rows": 1,
                          "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})


EVIL_ROW = b'["pwned"]\n'

CASES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "truncated": (lambda a, d: (d.write_bytes(a.read_bytes()[: a.stat().st_size // 2]), d)[1],
                  "truncated"),
    "not a zip": (lambda a, d: (d.write_bytes(b"%PDF-1.4 hello"), d)[1], "not a ZIP"),
    "empty file": (lambda a, d: (d.write_bytes(b""), d)[1], "not a ZIP"),
    "foreign zip": (lambda a, d: (zipfile.ZipFile(d, "w").writestr("readme.txt", "hi"), d)[1],
                    "no shift-backup.json"),
    "foreign manifest": (lambda a, d: rewrite(a, d, manifest=lambda m: _bump(m, "format", "x")),
                         "another format"),
    "newer format": (lambda a, d: rewrite(a, d, manifest=lambda m: _bump(m, "format_version", 2)),
                     "newer server"),
    "newer schema": (lambda a, d: rewrite(a, d, manifest=lambda m: m["database"].update(
        schema_version=schema.LATEST + 1)), "upgrade the server first"),
    "manifest not json": (lambda a, d: _replace_manifest(a, d, b"{nope"), "not valid JSON"),
    "changed rows": (lambda a, d: rewrite(a, d, change=lambda n, b: b.replace(b"\\u0105", b"a")
                                          if n == "db/events.jsonl" else b),
                     "events.jsonl is damaged"),
    "changed blob": (lambda a, d: rewrite(a, d, change=lambda n, b: b[:-1] + bytes([b[-1] ^ 1])
                                          if n.startswith("files/blobs/") else b), "is damaged"),
    "dropped entry": (lambda a, d: rewrite(a, d, change=lambda n, b: None
                                           if n == "db/learners.jsonl" else b), "missing"),
    "extra entry": (lambda a, d: rewrite(a, d, add=[("files/keys/extra.key", b"x")]),
                    "unexpected entry"),
    "zip slip": (lambda a, d: rewrite(a, d, add=[("../../../tmp/evil.sh", b"rm -rf /")]),
                 "unexpected entry '../../../tmp/evil.sh'"),
    "absolute path": (lambda a, d: rewrite(a, d, add=[("/etc/cron.d/evil", b"x")]),
                      "unexpected entry"),
    "duplicate entry": (lambda a, d: rewrite(a, d, add=[("db/events.jsonl", b"[]\n")]),
                        "appears twice"),
    "listed slip path": (lambda a, d: rewrite(a, d, manifest=lambda m: m["files"].append(
        {"path": "keys/../../../evil", "bytes": 1, "sha256": "0" * 64})), "may hold"),
    "blob not its hash": (lambda a, d: rewrite(a, d, manifest=lambda m: m["files"].append(
        {"path": "blobs/ab/" + "c" * 64, "bytes": 1, "sha256": "c" * 64})), "own SHA-256"),
    "link entry": (lambda a, d: _relink(a, d), "symbolic link"),
    "injected table name": (lambda a, d: rewrite(a, d, manifest=lambda m: _bump(
        _first(m, "facilities"), "name", 'facilities"; DROP TABLE events; --')),
        "not a table or column name"),
    "injected column name": (lambda a, d: rewrite(a, d, manifest=lambda m: _first(
        m, "facilities")["columns"].__setitem__(0, ["id) VALUES (1); --", "text"])),
        "not a table or column name"),
    "row count": (lambda a, d: rewrite(a, d, manifest=lambda m: _bump(_first(m, "events"),
                                                                      "rows", 29)),
                  "holds 30 rows, the manifest says 29"),
    "no signing key": (lambda a, d: rewrite(
        a, d, manifest=lambda m: m.__setitem__("files", [f for f in m["files"]
                                                         if f["path"] != "keys/server.key"]),
        change=lambda n, b: None if n == "files/keys/server.key" else b), "signing key"),
}


def _replace_manifest(src: Path, dst: Path, data: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, data if info.filename == MANIFEST else zin.read(info))
    return dst


def _relink(src: Path, dst: Path) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "files/keys/server.key.pub":
                link = _link(info.filename)
                zout.writestr(link, data)
            else:
                zout.writestr(info, data)
    return dst


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    tmp = tmp_path_factory.mktemp("backup-src")
    settings = Settings(data_dir=tmp / "src")
    fill(settings, tmp)
    create_backup(settings, tmp / "backup.zip")
    return settings, tmp / "backup.zip"


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_is_refused_and_leaves_nothing(case: str, tmp_path: Path,
                                                      sqlite_backup: tuple[Settings, Path]) -> None:
    make, message = CASES[case]
    bad = make(sqlite_backup[1], tmp_path / "bad.zip")
    target = Settings(data_dir=tmp_path / "dst")
    with pytest.raises(BackupError, match=_escape(message)):
        restore_backup(target, bad)
    nothing_left(target)


def _escape(text: str) -> str:
    import re
    return re.escape(text)


@pytest.fixture
def bad_late(source: tuple[Settings, Path], tmp_path: Path) -> Path:
    """An archive whose checksums are all right but whose rows fail late, inside the
    database load: a table the schema does not have, listed after a good row of a real
    one (so the load has begun when it fails)."""
    def manifest(doc: dict[str, Any]) -> None:
        _evil_table(doc, EVIL_ROW)
    return rewrite(source[1], tmp_path / "late.zip", manifest=manifest,
                   add=[("db/evil.jsonl", EVIL_ROW)])


def test_failure_inside_the_load_leaves_an_empty_target_empty(
        bad_late: Path, source: tuple[Settings, Path], tmp_path: Path) -> None:
    target = empty_target(tmp_path, source[0])
    with pytest.raises(BackupError, match="table evil is not part of the server's schema"):
        restore_backup(target, bad_late)
    nothing_left(target)


def _bad_row(src: Path, dst: Path, mutate: Callable[[list[Any], list[Any]], None]) -> Path:
    """Checksums recomputed, so only the load can catch it: the last event row changed by
    `mutate(first_row, last_row)`, after 29 good rows."""
    import hashlib

    with zipfile.ZipFile(src) as zin:
        lines = zin.read("db/events.jsonl").splitlines()
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    mutate(first, last)
    new_events = b"\n".join([*lines[:-1], json.dumps(last).encode()]) + b"\n"

    def manifest(doc: dict[str, Any]) -> None:
        t = _first(doc, "events")
        t["bytes"], t["sha256"] = len(new_events), hashlib.sha256(new_events).hexdigest()
    return rewrite(src, dst, manifest=manifest,
                   change=lambda n, b: new_events if n == "db/events.jsonl" else b)


BAD_ROWS: dict[str, tuple[Callable[[list[Any], list[Any]], None], str]] = {
    # refused by the row check before the database sees it
    "wrong type": (lambda first, last: last.__setitem__(0, "not a number"),
                   "seq: expected integer"),
    # refused by the database (UNIQUE id) in the middle of the load
    "duplicate id": (lambda first, last: last.__setitem__(1, first[1]),
                     "nothing was changed"),
}


@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_force_over_a_server_with_a_bad_archive_keeps_the_server(
        kind: str, source: tuple[Settings, Path], tmp_path: Path) -> None:
    """--force over an existing server; the archive fails in the middle of the load: the
    server's database, keys and blobs are exactly as before."""
    settings, archive = source
    before_rows, before_files = dump(settings), files(settings.data_dir)
    mutate, message = BAD_ROWS[kind]
    bad = _bad_row(archive, tmp_path / "badrow.zip", mutate)
    with pytest.raises(BackupError, match=message):
        restore_backup(settings, bad, force=True)
    assert dump(settings) == before_rows
    assert files(settings.data_dir) == before_files
    assert not list(settings.data_dir.glob(".restore-*"))
    assert not list(settings.data_dir.glob(".*.replaced-*"))
    assert not list(settings.data_dir.glob(".server.sqlite3.*"))
    target = empty_target(tmp_path, settings, "empty")
    with pytest.raises(BackupError, match=message):
        restore_backup(target, bad)
    nothing_left(target)


def test_a_server_is_only_replaced_with_force(source: tuple[Settings, Path], tmp_path: Path
                                              ) -> None:
    settings, archive = source
    other = Settings(data_dir=tmp_path / "other", database_url=(
        None if settings.database_url is None else fresh_database_url()))
    fill(other, tmp_path)                                  # another server, other key
    with pytest.raises(BackupError, match="not empty .*pass --force"):
        restore_backup(other, archive)
    restore_backup(other, archive, force=True)
    a, b = dump(settings), dump(other)
    assert {k: v for k, v in a.items() if k != "server_meta.epoch"} == {
        k: v for k, v in b.items() if k != "server_meta.epoch"}
    assert files(other.data_dir) == files(settings.data_dir)
    assert not [p.name for p in other.data_dir.iterdir() if p.name.startswith(".")]


def test_backup_refuses_what_it_cannot_back_up(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no signing key"):
        create_backup(Settings(data_dir=tmp_path / "nothing"), tmp_path / "x.zip")
    settings = Settings(data_dir=tmp_path / "srv")
    fill(settings, tmp_path)
    out = tmp_path / "b.zip"
    create_backup(settings, out)
    with pytest.raises(BackupError, match="already exists"):
        create_backup(settings, out)
    blob = settings.data_dir / next(k for k in files(settings.data_dir) if k.startswith("blobs/"))
    blob.write_bytes(blob.read_bytes() + b"!")                 # damaged in the blob store
    with pytest.raises(BackupError, match="damaged"):
        create_backup(settings, tmp_path / "c.zip")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zip") == ["b.zip"]
    assert not list(tmp_path.glob(".*partial"))
    blob.unlink()                                              # missing from the blob store
    with pytest.raises(BackupError, match="missing"):
        create_backup(settings, tmp_path / "d.zip")


def test_manifest_lists_every_table_of_the_schema(sqlite_backup: tuple[Settings, Path]) -> None:
    """New tables are found by asking the database: every table the schema creates is in
    the backup without being listed anywhere in the backup code."""
    with zipfile.ZipFile(sqlite_backup[1]) as zf:
        doc = json.loads(zf.read(MANIFEST))
        names = {t["name"] for t in doc["tables"]}
        assert names == schema.table_names()
        info = zf.getinfo("files/keys/server.key")
        assert io.BytesIO(zf.read(info)).read().startswith(b"-----BEGIN PRIVATE KEY")
    assert doc["format_version"] == 1 and doc["database"]["schema_version"] == schema.LATEST


def test_check_backup_reads_everything(sqlite_backup: tuple[Settings, Path], tmp_path: Path
                                       ) -> None:
    from sync_server.backup import check_backup
    m = check_backup(sqlite_backup[1])
    assert {e.table.name: e.rows for e in m.tables}["events"] == 30
    bad = CASES["changed blob"][0](sqlite_backup[1], tmp_path / "bad.zip")
    with pytest.raises(BackupError, match="damaged"):
        check_backup(bad)

