"""Backup / restore benchmark: the portable archive next to the database's own copy.

    python benchmarks/server_backup.py [--events 200000] [--postgres URL|auto|off]

Fills a server database with N events (raw executemany, realistic 300-byte contents) and
the sample pack, then measures in the same run:

* `create_backup` (snapshot + every table as JSON lines + keys + blobs, compressed) next
  to the baseline "copy the database": SQLite's online backup API into a file, or for
  PostgreSQL `COPY events TO STDOUT` of the same snapshot (the cheapest full read);
* `restore_backup` into an empty target next to the baseline "insert the same rows":
  one executemany of the event rows into an empty events table.

It prints seconds, events/s and the ratios (archive / baseline). No target was set by
the issue; the figures are in docs/deployment.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.packs import build_pack  # noqa: E402
from sync_server.app import create_app  # noqa: E402
from sync_server.backup import create_backup, restore_backup  # noqa: E402
from sync_server.services.packs import ingest_pack_file  # noqa: E402
from sync_server.settings import Settings  # noqa: E402

T0 = "2026-11-23T12:00:00.000Z"
COLS = "id, learner_id, device_id, facility_id, type, at, content, received_at, received_from"


def rows(n: int) -> list[tuple[str, ...]]:
    out = []
    for i in range(n):
        eid = str(uuid.UUID(int=i + 1, version=4))
        content = json.dumps({"id": eid, "learner": f"learner-{i % 300}", "device": "tab",
                              "seq": i + 1, "at": T0, "type": "answer.given",
                              "pack": "promote-core", "pack_version": 3,
                              "ref": {"course": "boundaries", "lesson": "02-signs",
                                      "question": f"q{i % 9}"},
                              "data": {"option": "b", "correct": i % 3 == 0, "seconds": 12.5}},
                             separators=(",", ":"))
        out.append((eid, f"learner-{i % 300}", "tab", "f1", "answer.given", T0, content, T0,
                    "tab"))
    return out


def fill(settings: Settings, events: list[tuple[str, ...]], work: Path) -> None:
    state = create_app(settings.with_(public_base_url="https://learning.example.org")).state.shift
    try:
        pack = build_pack(ROOT / "content_packs" / "promote-sample", state.keyring.private_key,
                          work / "sample.pack")
        ingest_pack_file(state.repo, state.keyring, state.blobs, pack, "bench")
    finally:
        state.repo.close()
    mark = "?" if settings.database_url is None else "%s"
    sql = f"INSERT INTO events ({COLS}) VALUES ({', '.join([mark] * 9)})"
    if settings.database_url is None:
        conn = sqlite3.connect(settings.sqlite_path)
        with conn:
            conn.executemany(sql, events)
        conn.close()
    else:
        import psycopg
        with psycopg.connect(settings.database_url) as pg, pg.cursor() as cur:
            cur.executemany(sql, events)


def baseline_copy(settings: Settings, work: Path) -> float:
    t = time.perf_counter()
    if settings.database_url is None:
        src, dst = sqlite3.connect(settings.sqlite_path), sqlite3.connect(work / "copy.sqlite3")
        src.backup(dst)
        src.close()
        dst.close()
    else:
        import psycopg
        with psycopg.connect(settings.database_url) as pg, pg.cursor() as cur, \
                cur.copy("COPY events TO STDOUT") as copy, open(work / "copy.txt", "wb") as f:
            for data in copy:
                f.write(data)
    return time.perf_counter() - t


def baseline_insert(settings: Settings, events: list[tuple[str, ...]]) -> float:
    """The event rows into an empty events table of a fresh database, one transaction."""
    target = Settings(data_dir=settings.data_dir.parent / "baseline",
                      database_url=fresh(settings))
    create_app(target.with_(public_base_url="https://learning.example.org")).state.shift.repo.close()
    mark = "?" if target.database_url is None else "%s"
    sql = f"INSERT INTO events ({COLS}) VALUES ({', '.join([mark] * 9)})"
    t = time.perf_counter()
    if target.database_url is None:
        conn = sqlite3.connect(target.sqlite_path)
        with conn:
            conn.executemany(sql, events)
        conn.close()
    else:
        import psycopg
        with psycopg.connect(target.database_url) as pg, pg.cursor() as cur:
            cur.executemany(sql, events)
    return time.perf_counter() - t


def fresh(settings: Settings) -> str | None:
    if settings.database_url is None:
        return None
    from tests.support.postgres import fresh_database_url
    return fresh_database_url()


def run(name: str, settings: Settings, n: int, work: Path) -> None:
    events = rows(n)
    fill(settings, events, work)
    copy_s = baseline_copy(settings, work)
    t = time.perf_counter()
    summary = create_backup(settings, work / f"{name}.zip")
    backup_s = time.perf_counter() - t
    insert_s = baseline_insert(settings, events)
    target = Settings(data_dir=work / f"{name}-restored", database_url=fresh(settings))
    t = time.perf_counter()
    restore_backup(target, work / f"{name}.zip")
    restore_s = time.perf_counter() - t
    size = summary.archive_bytes / 1048576
    print(f"{name:9} {n} events, archive {size:.1f} MiB")
    print(f"  backup   {backup_s:6.2f} s ({n / backup_s:8.0f} events/s)   database copy "
          f"{copy_s:6.2f} s   ratio {backup_s / copy_s:5.1f}x")
    print(f"  restore  {restore_s:6.2f} s ({n / restore_s:8.0f} events/s)   raw insert    "
          f"{insert_s:6.2f} s   ratio {restore_s / insert_s:5.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--postgres", default="auto", help="URL, 'auto' or 'off'")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="shift-bench-backup-") as tmp:
        work = Path(tmp)
        run("sqlite", Settings(data_dir=work / "sqlite"), args.events, work)
        if args.postgres != "off":
            try:
                from tests.support.postgres import base_url, fresh_database_url
                pg = base_url() if args.postgres == "auto" else args.postgres
                run("postgres", Settings(data_dir=work / "pg",
                                         database_url=fresh_database_url(pg)), args.events, work)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"postgres  skipped: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
