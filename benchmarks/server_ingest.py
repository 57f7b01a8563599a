"""Ingest benchmark: events/s through the real HTTP API (uvicorn + httpx) next to a raw
database `executemany` of the same rows, measured in the same run.

    python benchmarks/server_ingest.py [--events 10000] [--rounds 3] [--clients 4]
                                       [--postgres URL|auto|off]

Each round pushes fresh events in chunks of 500 through the API (several concurrent
clients), then inserts the same rows with a raw executemany into the same table layout
(one transaction per chunk). Rounds are interleaved so both see the same machine load
and tables of the same size; the best rates and the median per-round ratio HTTP / raw
are reported. Targets (issue 5):
≥ 5,000 events/s and ≥ 30 % of raw with SQLite on a 2-core machine. PostgreSQL is
measured too when available (--postgres URL, or auto: SHIFT_TEST_POSTGRES_URL / a
throw-away cluster via tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app.core.events import content_of  # noqa: E402
from tests.support.server import (  # noqa: E402
    Enrolled,
    ServerProcess,
    admin_token,
    enrol_device,
    make_event,
    make_profile,
    seed,
)

CHUNK = 500
RECEIVED = "2026-11-23T12:00:00.000Z"
INSERT = ("INSERT INTO events (id, learner_id, device_id, facility_id, type, at, content, "
          "received_at, received_from) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING")


def make_chunks(profiles: list[dict[str, Any]], device_id: str, n_events: int, first_seq: int
                ) -> list[list[dict[str, Any]]]:
    # a valid answer.given payload (docs/events.md): the server checks every payload
    attempt = "5b0c1d8e-54a3-4c57-9a0e-2f1f6a1c0de1"
    events = [make_event(profiles[i % len(profiles)]["id"], device_id, first_seq + i,
                         type="answer.given",
                         ref={"course": "boundaries", "attempt": attempt, "question": f"q{i % 9}"},
                         data={"choice": ["b"], "score": float(i % 3 == 0),
                               "correct": i % 3 == 0, "type": "single"})
              for i in range(n_events)]
    return [events[i:i + CHUNK] for i in range(0, n_events, CHUNK)]


def rows_of(chunks: list[list[dict[str, Any]]], device_id: str) -> list[tuple[Any, ...]]:
    return [(e["id"], e["learner"], e["device"], "f1", e["type"], e["at"],
             content_of(e).decode(), RECEIVED, device_id) for c in chunks for e in c]


class RawSqlite:
    """Same table, indexes and pragmas as the server's SQLite repository."""

    def __init__(self, folder: Path) -> None:
        from sync_server.db.sqlite import SCHEMA
        folder.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(folder / "raw.sqlite3", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        for stmt in SCHEMA:
            self.conn.execute(stmt)

    def insert(self, rows: list[tuple[Any, ...]]) -> float:
        start = time.perf_counter()
        for i in range(0, len(rows), CHUNK):
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(INSERT, rows[i:i + CHUNK])
            self.conn.execute("COMMIT")
        return len(rows) / (time.perf_counter() - start)


class RawPostgres:
    def __init__(self, url: str) -> None:
        import psycopg

        from sync_server.db.postgres import SCHEMA
        from tests.support.postgres import fresh_database_url
        self.conn = psycopg.connect(fresh_database_url(url), autocommit=True)
        for stmt in SCHEMA:
            self.conn.execute(stmt)

    def insert(self, rows: list[tuple[Any, ...]]) -> float:
        sql = INSERT.replace("?", "%s")
        start = time.perf_counter()
        for i in range(0, len(rows), CHUNK):
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(sql, rows[i:i + CHUNK])
        return len(rows) / (time.perf_counter() - start)


def http_push(base_url: str, dev: Enrolled, chunks: list[list[dict[str, Any]]], clients: int) -> tuple[float, int]:
    bodies = [json.dumps({"events": c}).encode() for c in chunks]
    headers = {**dev.headers, "Content-Type": "application/json"}
    stored = [0]
    lock = threading.Lock()

    def worker(k: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
            for body in bodies[k::clients]:
                r = client.post("/api/v1/sync/push", content=body)
                r.raise_for_status()
                with lock:
                    stored[0] += len(r.json()["stored"])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(len(c) for c in chunks) / (time.perf_counter() - start), stored[0]


def run_backend(label: str, folder: Path, database_url: str | None, raw_factory: Callable[[], Any],
                args: argparse.Namespace) -> list[tuple[float, float]]:
    server = ServerProcess(folder / "srv", database_url, workers=args.workers,
                           env={"SHIFT_LOG_LEVEL": "WARNING"})
    server.start()
    try:
        seed(server.data_dir, database_url, facilities={"f1": "Bench"})
        dev = enrol_device(server.base_url, admin_token(server.base_url), "f1", "bench-tab")
        profiles = [make_profile(f"BENCH-{i:04d}") for i in range(50)]
        httpx.post(server.base_url + "/api/v1/sync/push", headers=dev.headers,
                   json={"profiles": profiles}).raise_for_status()
        raw = raw_factory()
        results: list[tuple[float, float]] = []
        for r in range(args.rounds):
            chunks = make_chunks(profiles, dev.device_id, args.events, 1 + r * args.events)
            rate, stored = http_push(server.base_url, dev, chunks, args.clients)
            if stored != args.events:
                raise SystemExit(f"{label}: stored {stored} of {args.events} events")
            raw_rate = raw.insert(rows_of(chunks, dev.device_id))
            print(f"{label:9s} round {r + 1}: HTTP {rate:9,.0f} ev/s   raw {raw_rate:9,.0f} ev/s"
                  f"   ratio {rate / raw_rate:6.1%}")
            results.append((rate, raw_rate))
        return results
    finally:
        server.stop()


def report(label: str, results: list[tuple[float, float]]) -> tuple[float, float]:
    """Best rates, and the median of the per-round ratios (each round compares the two on
    tables of the same size, measured back to back)."""
    best_http = max(h for h, _ in results)
    best_raw = max(r for _, r in results)
    ratio = statistics.median(h / r for h, r in results)
    print(f"{label:9s} summary: HTTP API best {best_http:9,.0f} events/s | raw executemany best "
          f"{best_raw:9,.0f} events/s | median ratio {ratio:6.1%} of raw")
    return best_http, ratio


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000, help="events per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--postgres", default="auto", help="URL, 'auto' or 'off'")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        results = run_backend("sqlite", folder / "sqlite", None, lambda: RawSqlite(folder / "raw"), args)
        http_rate, ratio = report("sqlite", results)
        met = http_rate >= 5000 and ratio >= 0.30
        print(f"sqlite    target : >= 5,000 events/s and >= 30 % of raw -> {'MET' if met else 'NOT MET'}")
        if args.postgres != "off":
            try:
                from tests.support.postgres import base_url, fresh_database_url
                pg = base_url() if args.postgres == "auto" else args.postgres
                results = run_backend("postgres", folder / "pg", fresh_database_url(pg),
                                      lambda: RawPostgres(pg), args)
                report("postgres", results)
            except SystemExit:
                raise
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"postgres  skipped: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
