"""The burst's floor: the push path alone, in one thread, with no HTTP and no concurrency.

    python benchmarks/server_push_floor.py [--devices 200] [--events 500] [--runs 3]

Calls the push endpoint's own function (api/sync.py `_push`: msgspec parse, the event
checks, quota, the two new profiles of each tablet, insert with the report aggregates,
certificate hooks) once per body for the same 200 bodies of 500 events the burst of
server_concurrency.py sends, on a fresh SQLite server database. The baseline is the raw
`executemany` of the same rows into a fresh table of the same layout (the burst's
baseline), measured in the same run. Each run gets fresh databases; runs alternate
raw and push.

Why: issue 18 asks the burst's last device to finish within 1.1 × (events ÷ raw rate).
This is what the server's own work per event costs when nothing else runs — no pulls, no
HTTP, no waiting for the write lock or the GIL. A burst cannot beat it with one server
process: the ratio printed here is below what any burst can reach. The split says where
the time goes (checkpoints run after the write lock is let go; in the server they overlap
other requests). Information only: not in `make bench`'s table.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server_concurrency import raw_rate, workload  # noqa: E402
from benchmarks.server_ingest import RawSqlite  # noqa: E402
from tests.support.server import seed  # noqa: E402


def bodies_for(devices: int, events: int) -> list[tuple[str, bytes]]:
    """(device id, push body) per tablet: its new profiles and its events in one body,
    made as the burst makes them (server_concurrency.workload)."""
    out = []
    for i in range(devices):
        dev = f"floor-{i:04d}"
        (body,) = workload({"id": dev}, events, events, "floor")
        out.append((dev, body["bytes"]))
    return out


def raw_seconds(folder: Path, bodies: list[tuple[str, bytes]], events: int) -> float:
    """The burst's baseline (server_concurrency.raw_rate) into a fresh table."""
    raw = RawSqlite(folder)
    try:
        return events / raw_rate([body for _, body in bodies], raw, 0)
    finally:
        raw.conn.close()


def push_seconds(folder: Path, bodies: list[tuple[str, bytes]]) -> tuple[float, dict[str, float]]:
    from sync_server.api import sync as api_sync
    from sync_server.app import create_state
    from sync_server.services import devices
    from sync_server.services import sync as sync_service
    from sync_server.settings import Settings

    settings = Settings(data_dir=folder, public_base_url="http://127.0.0.1:9")
    seed(folder, None, facilities={"f0": "Facility 0"})
    state = create_state(settings)
    repo = state.repo
    try:
        enrolled = []
        for dev, body in bodies:
            code = devices.create_enrol_code(repo=repo, facility_id="f0", ttl_s=600, by="bench")
            devices.enrol(repo=repo, code=code.code, device_id=dev, name=dev, proof_token=None)
            device = repo.get_device(dev)
            assert device is not None
            enrolled.append((device, body))
        split: dict[str, float] = collections.defaultdict(float)

        def timed(owner: Any, name: str, key: str) -> None:
            inner: Callable[..., Any] = getattr(owner, name)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return inner(*args, **kwargs)
                finally:
                    split[key] += time.perf_counter() - start
            setattr(owner, name, wrapper)

        timed(sync_service, "check_events", "check events")
        timed(repo, "insert_events", "insert + aggregates + checkpoints")
        timed(repo, "_checkpoint", "  of which checkpoints")
        start = time.perf_counter()
        for device, body in enrolled:
            api_sync._push(state, device, body)
        total = time.perf_counter() - start
        split["other (parse, profiles, quota, hooks, answer)"] = (
            total - split["check events"] - split["insert + aggregates + checkpoints"])
        return total, dict(split)
    finally:
        repo.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    ratios = []
    n = args.devices * args.events
    for run in range(args.runs):
        bodies = bodies_for(args.devices, args.events)
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
            raw = raw_seconds(Path(tmp) / "raw", bodies, n)
            push, split = push_seconds(Path(tmp) / "srv", bodies)
        ratios.append(push / raw)
        print(f"run {run + 1}: push path {push:.2f} s ({n / push:,.0f} ev/s), raw executemany "
              f"{raw:.2f} s ({n / raw:,.0f} ev/s): {push / raw:.2f}×")
        for key, seconds in split.items():
            print(f"    {key:48s} {seconds:6.2f} s")
    print(f"push path ÷ raw: median {statistics.median(ratios):.2f}× "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); the burst's target is ≤ 1.1×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
