"""Concurrency benchmark: 200 simulated tablets × 500 events against one real server.

    python benchmarks/server_concurrency.py [--quick] [--devices 200] [--events 500]
                                            [--chunk 500] [--spread 0] [--postgres URL|auto|off]

Every device enrols, then syncs once: pull (its facility's events and profiles), then
push its events (with its learners' profiles) in chunks. Scenarios:
  burst  – all devices start at the same instant (worst case; always run);
  spread – with --spread S > 0 also: start times spread uniformly over S seconds
           (tablets coming online through a shift).
Checks: every event stored exactly once (0 lost, 0 duplicated). Prints p50/p99 latency of
push requests and of whole syncs, as ratios to a lone device's sync measured in the same
run (the baseline). Target (issue 5): p99 < 1 s. Issue 18: the last device finishes
within 1.1 × (all events ÷ the raw `executemany` rate of the same rows, measured after
the burst into a table of the same layout holding as many rows as the server's did when
the burst began); for information also ÷ the same server's steady ingest rate (4 devices
pushing 5,000 events each, in a facility the burst does not pull; the harmonic mean of a
run before the burst and one after it, whose tables bracket the sizes the burst wrote
into). The simulated tablets use benchmarks/lean_http.py (they share the server's two
cores). `rows()` gives the figures to `make bench`; --quick runs 40 devices.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.lean_http import Connection  # noqa: E402
from tests.support.server import (  # noqa: E402
    ServerProcess,
    admin_token,
    bearer,
    make_event,
    make_profile,
    open_repo,
    seed,
)

FACILITIES = 10
STEADY_FACILITY = "steady"
STEADY_AFTER = "steady2"
LEARNERS_PER_DEVICE = 2


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def enrol_all(client: httpx.AsyncClient, admin: str, n: int, tag: str,
                    facility: str | None = None) -> list[dict[str, Any]]:
    async def one(i: int) -> dict[str, Any]:
        fac = facility or f"f{i % FACILITIES}"
        r = await client.post("/api/v1/admin/enrol-codes", headers=bearer(admin), json={"facility_id": fac})
        r.raise_for_status()
        dev_id = f"{tag}-{i:04d}"
        r = await client.post("/api/v1/devices/enrol",
                              json={"code": r.json()["code"], "device_id": dev_id, "name": dev_id})
        r.raise_for_status()
        return {"id": dev_id, "headers": bearer(r.json()["token"])}

    sem = asyncio.Semaphore(20)

    async def limited(i: int) -> dict[str, Any]:
        async with sem:
            return await one(i)

    return list(await asyncio.gather(*(limited(i) for i in range(n))))


def workload(dev: dict[str, Any], n_events: int, chunk: int, tag: str) -> list[dict[str, Any]]:
    profiles = [make_profile(f"{tag}-{dev['id']}-{k}") for k in range(LEARNERS_PER_DEVICE)]
    events = [make_event(profiles[i % len(profiles)]["id"], dev["id"], i + 1) for i in range(n_events)]
    bodies = []
    for start in range(0, n_events, chunk):
        body: dict[str, Any] = {"events": events[start:start + chunk]}
        if start == 0:
            body["profiles"] = profiles
        bodies.append({"bytes": json.dumps(body).encode(), "ids": [e["id"] for e in body["events"]]})
    return bodies


async def sync_device(base_url: str, dev: dict[str, Any], bodies: list[dict[str, Any]],
                      delay: float, push_lat: list[float], sync_lat: list[float],
                      ends: list[float] | None = None, t0: float = 0.0) -> list[str]:
    """One tablet's sync on its own keep-alive connection (benchmarks/lean_http.py: the
    clients share the server's cores, so they must cost it as little as they can)."""
    await asyncio.sleep(delay)
    conn = Connection(base_url, dev["headers"])
    try:
        start = time.perf_counter()
        await conn.post("/api/v1/sync/pull", b'{"limit": 1000}')
        acked: list[str] = []
        for body in bodies:
            sent = time.perf_counter()
            answer = await conn.post("/api/v1/sync/push", body["bytes"])
            push_lat.append(time.perf_counter() - sent)
            if answer["rejected"]:
                raise SystemExit(f"unexpected rejections: {answer['rejected'][:3]}")
            acked += answer["stored"] + answer["duplicate"]
        sync_lat.append(time.perf_counter() - start)
        if ends is not None:
            ends.append(time.perf_counter() - t0)
        return acked
    finally:
        await conn.close()


async def scenario(base_url: str, admin: str, args: argparse.Namespace, name: str,
                   spread: float) -> dict[str, Any]:
    # keep-alive shorter than uvicorn's 5 s: a pooled connection the server is closing at
    # the moment a request is sent on it would fail that request (ReadError)
    limits = httpx.Limits(max_connections=args.devices + 10,
                          max_keepalive_connections=args.devices + 10, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:
        devices = await enrol_all(client, admin, args.devices, name)
    work = [workload(d, args.events, args.chunk, name) for d in devices]
    rng = random.Random(7)
    push_lat: list[float] = []
    sync_lat: list[float] = []
    ends: list[float] = []
    start = time.perf_counter()
    acked = await asyncio.gather(*(
        sync_device(base_url, d, w, rng.uniform(0, spread), push_lat, sync_lat, ends, start)
        for d, w in zip(devices, work, strict=True)))
    wall = time.perf_counter() - start
    expected = {i for w in work for b in w for i in b["ids"]}
    return {"name": name, "push": push_lat, "sync": sync_lat, "wall": wall, "expected": expected,
            "acked": {i for a in acked for i in a}, "sync_end": ends,
            "bodies": [b["bytes"] for w in work for b in w]}


def raw_rate(bodies: list[bytes], raw: Any, already: int) -> float:
    """events/s of a raw executemany of the burst's rows (one transaction per chunk) into
    a table that first gets, untimed, as many rows as the server's table held when the
    burst began (`already`): each insert into the unique index of random event ids costs
    more as the table grows (SQLite raw: ≈ 130k ev/s into an empty table, ≈ 45k at 120k
    rows), so the baseline must start from the same size as the burst did."""
    import uuid

    from app.core.events import content_of
    from benchmarks.server_ingest import RECEIVED
    rows = [(e["id"], e["learner"], e["device"], "f0", e["type"], e["at"],
             content_of(e).decode(), RECEIVED, e["device"])
            for body in bodies for e in json.loads(body)["events"]]
    while already > 0:      # same shape and size, other ids
        part = [(str(uuid.uuid4()),) + row[1:] for row in rows[:already]]
        raw.insert(part)
        already -= len(part)
    rate: float = raw.insert(rows)
    return rate


async def baseline(base_url: str, admin: str, args: argparse.Namespace) -> float:
    """A lone device syncing the same amount (median of 3): the reference latency."""
    times = []
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        devices = await enrol_all(client, admin, 3, "solo")
        for d in devices:
            lat: list[float] = []
            sync: list[float] = []
            await sync_device(base_url, d, workload(d, args.events, args.chunk, "solo"), 0, lat, sync)
            times.append(sync[0])
    return statistics.median(times)


async def steady_rate(base_url: str, admin: str, args: argparse.Namespace,
                      tag: str = STEADY_FACILITY) -> float:
    """events/s of the same server's steady ingest: 4 devices pushing 5,000 events each
    (the ingest benchmark's 4 clients), measured before the burst and after it, each
    time in a facility of its own (`tag`: nothing to pull; the burst's tablets do not
    pull these events either). The burst's own floor: it cannot beat the rate at which
    the server stores events."""
    devices = await enrol_all_httpx(base_url, admin, 4, tag, tag)
    work = [workload(d, 5_000, args.chunk, tag) for d in devices]
    lat: list[float] = []
    sync: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(sync_device(base_url, d, w, 0, lat, sync)
                           for d, w in zip(devices, work, strict=True)))
    return 4 * 5_000 / (time.perf_counter() - start)


async def enrol_all_httpx(base_url: str, admin: str, n: int, tag: str,
                          facility: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        return await enrol_all(client, admin, n, tag, facility)


def server_side_ms(server: ServerProcess, tag: str) -> list[float]:
    """Push durations the server measured itself (its JSON access log) for one scenario."""
    return [float(e["ms"]) for e in server.requests("/api/v1/sync/push")
            if str(e.get("device")).startswith(f"{tag}-")]


Row = tuple[str, str, str, float, str, bool]


def run_backend(label: str, folder: Path, database_url: str | None, args: argparse.Namespace,
                raw_factory: Any = None, rows_out: list[Row] | None = None,
                print: Any = print) -> bool:  # noqa: A002 - the log function
    server = ServerProcess(folder / "srv", database_url, workers=args.workers,
                           env={"SHIFT_LOG_LEVEL": "INFO"})
    server.start()
    ok = True
    try:
        seed(server.data_dir, database_url, facilities={f"f{i}": f"Facility {i}" for i in range(FACILITIES)}
             | {STEADY_FACILITY: "Steady ingest", STEADY_AFTER: "Steady ingest after the burst"})
        admin = admin_token(server.base_url)
        base = asyncio.run(baseline(server.base_url, admin, args))
        print(f"{label:8s} baseline: one device alone syncs {args.events} events in {base * 1000:.0f} ms")
        steady = asyncio.run(steady_rate(server.base_url, admin, args))
        print(f"{label:8s} steady ingest (4 devices × 5,000 events): {steady:,.0f} events/s")
        repo = open_repo(server.data_dir, database_url)
        try:
            before = repo.count_events().total
            scenarios = [("burst", 0.0)] + ([("spread", args.spread)] if args.spread > 0 else [])
            for name, spread in scenarios:
                res = asyncio.run(scenario(server.base_url, admin, args, name, spread))
                total = repo.count_events().total
                ids = repo.all_event_ids()
                stored_new = total - before
                before = total
                lost = len(res["expected"] - set(ids))
                duplicated = len(ids) - len(set(ids))
                unacked = len(res["expected"] - res["acked"])
                p = {k: (pct(res[k], 50), pct(res[k], 99)) for k in ("push", "sync")}
                print(f"{label:8s} {name:6s}: {args.devices} devices x {args.events} events, "
                      f"start spread {spread:.0f} s, wall {res['wall']:.1f} s, "
                      f"{stored_new / res['wall']:,.0f} events/s")
                print(f"{label:8s} {name:6s}: stored {stored_new} of {len(res['expected'])}, lost {lost}, "
                      f"duplicated {duplicated}, unacknowledged {unacked}")
                for k in ("push", "sync"):
                    p50, p99 = p[k]
                    print(f"{label:8s} {name:6s}: {k:4s} latency p50 {p50 * 1000:7.0f} ms "
                          f"({p50 / base:5.1f}x baseline)  p99 {p99 * 1000:7.0f} ms ({p99 / base:5.1f}x)"
                          f"  target p99 < 1 s: {'MET' if p99 < 1 else 'NOT MET'}")
                inside = server_side_ms(server, name)
                if inside:
                    print(f"{label:8s} {name:6s}: push time inside the server (access log) p50 "
                          f"{pct(inside, 50):7.0f} ms  p99 {pct(inside, 99):7.0f} ms "
                          "(the rest is the client and the TCP queue on this shared machine)")
                once = lost == 0 and duplicated == 0 and unacked == 0 and stored_new == len(res["expected"])
                ok &= once
                if raw_factory is not None and rows_out is not None and name == "burst":
                    rate = raw_rate(res["bodies"], raw_factory(), total - stored_new)
                    ideal = len(res["expected"]) / rate
                    last = max(res["sync_end"])
                    print(f"{label:8s} {name:6s}: last device done after {last:.1f} s; all events "
                          f"÷ raw executemany rate ({rate:,.0f} ev/s, into a table of "
                          f"{total - stored_new:,} rows like the server's) = {ideal:.1f} s")
                    n = f"{args.devices}×{args.events}"
                    rows_out.append((f"server burst {n}, last device ({label})", f"{last:.1f} s",
                                     f"events ÷ raw rate {ideal:.1f} s", last / ideal, "≤ 1.1×",
                                     last <= 1.1 * ideal))
                    rows_out.append((f"server burst {n}, exactly once ({label})",
                                     f"{lost} lost, {duplicated} dup", f"{len(res['expected']):,} sent",
                                     float(lost + duplicated + unacked), "0 lost, 0 dup", once))
                    # the same steady ingest again, now on the table the burst left: the
                    # two rates bracket the table sizes the burst wrote into
                    after = asyncio.run(steady_rate(server.base_url, admin, args, STEADY_AFTER))
                    mean = 2 / (1 / steady + 1 / after)
                    own = len(res["expected"]) / mean
                    print(f"{label:8s} {name:6s}: steady ingest after the burst {after:,.0f} "
                          f"events/s; all events ÷ the mean steady rate ({mean:,.0f} ev/s) = "
                          f"{own:.1f} s: {last / own:.2f}×")
                    rows_out.append((f"server burst {n}, last device ÷ own ingest ({label})",
                                     f"{last:.1f} s", f"events ÷ ingest rate {own:.1f} s",
                                     last / own, "(information)", True))
        finally:
            repo.close()
    finally:
        server.stop()
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 devices")
    ap.add_argument("--devices", type=int, default=None, help="(200)")
    ap.add_argument("--events", type=int, default=500, help="events per device")
    ap.add_argument("--chunk", type=int, default=500, help="events per push (≤ 500)")
    ap.add_argument("--spread", type=float, default=0.0,
                    help="also run a scenario with starts spread over this many seconds")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--postgres", default="auto", help="URL, 'auto' or 'off'")
    args = ap.parse_args(argv)
    args.devices = args.devices or (40 if args.quick else 200)
    return args


def rows(quick: bool = False, log: Any = lambda s: None,
         args: argparse.Namespace | None = None) -> list[Row]:
    from benchmarks.server_ingest import RawPostgres, RawSqlite
    args = args or parse_args(["--quick"] if quick else [])
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
        run_backend("sqlite", Path(tmp) / "sqlite", None, args,
                    lambda: RawSqlite(Path(tmp) / "raw"), out, log)
        if args.postgres != "off":
            try:
                from tests.support.postgres import base_url, fresh_database_url
                pg = base_url() if args.postgres == "auto" else args.postgres
                url = fresh_database_url(pg)
            except Exception as exc:  # noqa: BLE001 - report and go on
                log(f"postgres skipped: {exc}")
            else:
                run_backend("postgres", Path(tmp) / "pg", url, args, lambda: RawPostgres(pg),
                            out, log)
    return out


def main(argv: list[str] | None = None) -> int:
    table = rows(log=print, args=parse_args(argv))
    for name, figure, baseline, ratio, target, ok in table:
        print(f"{name:44} {figure:>16} {baseline:>26} {ratio:6.2f} {target:>14} "
              f"{'PASS' if ok else 'FAIL'}")
    return 0 if all(r[5] for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())
