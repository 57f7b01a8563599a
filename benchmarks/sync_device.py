"""One device with 2,000 queued events (a week of a busy learner) syncs over loopback,
next to a plain HTTP POST of the same JSON payload in the same run.

Baseline: the same outbox events, serialised once, POSTed with a bare httpx client to
the push endpoint (4 bodies of 500 events — the server's chunk limit), by a second
device of another facility, so both runs do the same server work. The sync client's run
is a whole sync: pull (nothing new), push in chunks, acknowledge in the store (fsync'd).

Targets (issue 7): sync ≤ 1 s and ≤ 3× the plain POST. Figures are medians over rounds,
each round with fresh devices. Also prints the delta-download figure of a pack update.
`python benchmarks/sync_device.py` (`--quick`: one round). `rows(quick)` gives the
figures with a target to `make bench` (benchmarks/table.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.core.packs import PackLibrary  # noqa: E402
from app.core.store import Store  # noqa: E402
from app.sync import RetryPolicy, SyncClient  # noqa: E402
from tests.support.server import ServerProcess, admin_token, bearer, seed  # noqa: E402

EVENTS = 2000
CHUNK = 500
Row = tuple[str, str, str, float, str, bool]


def event(learner: str, i: int) -> dict:
    return {"learner": learner, "type": "answer.given", "pack": "promote-core", "pack_version": 3,
            "ref": {"course": "dynamic-security", "attempt": f"a-{i // 10}", "question": f"q{i % 10}"},
            "data": {"choice": ["b"], "correct": i % 3 == 0, "score": 1, "ms": 5400 + i}}


def device(folder: Path, url: str, admin: dict[str, str], facility: str,
           events: int = EVENTS) -> tuple[Store, SyncClient]:
    store = Store.open(folder)
    code = httpx.post(f"{url}/api/v1/admin/enrol-codes", headers=admin,
                      json={"facility_id": facility}).json()["code"]
    client = SyncClient(store, PackLibrary(folder), retry=RetryPolicy(attempts=2))
    client.enrol(code, url)
    learner = store.profiles.create("Bench Learner", f"B-{folder.name}", "prison_officer", "en",
                                    "1234")["id"]
    client.sync(packs=False)                  # profile on the server, cursors set
    for i in range(events):
        store.append(event(learner, i))
    return store, client


def plain_post(store: Store, url: str) -> tuple[float, int]:
    token = store.settings.get_secret("device_token").reveal()
    events = store.outbox(EVENTS)
    bodies = [json.dumps({"profiles": [], "events": events[i:i + CHUNK]}).encode()
              for i in range(0, len(events), CHUNK)]
    sent = 0
    with httpx.Client(base_url=url) as http:
        t0 = time.perf_counter()
        for body in bodies:
            r = http.post("/api/v1/sync/push", content=body,
                          headers={"Authorization": f"Bearer {token}",
                                   "Content-Type": "application/json"})
            r.raise_for_status()
            sent += len(body) + sum(len(k) + len(v) + 4 for k, v in r.request.headers.raw) + 40
        seconds = time.perf_counter() - t0
    assert sum(len(json.loads(b)["events"]) for b in bodies) == EVENTS
    return seconds, sent


def delta_figure(tmp: Path, server: ServerProcess, admin: dict[str, str], pub: Path,
                 key: Path) -> tuple[int, int, int]:
    """(full pack bytes, bytes downloaded for v1, bytes on the wire for the v2 update)
    where v2 changes 2 of 40 media files (5 %)."""
    from app.core.packs import build_pack, load_private_key
    from tests.integration.test_sync_client_support import media_pack_source
    url = server.base_url
    for version, changed in ((1, set()), (2, {4, 21})):
        src = media_pack_source(tmp, version, files=40, size=32_768, changed=changed)
        built = build_pack(src, load_private_key(key), tmp / f"out{version}")
        r = httpx.post(f"{url}/api/v1/admin/packs/upload", content=built.read_bytes(),
                       headers={**admin, "Content-Type": "application/octet-stream"}, timeout=60)
        r.raise_for_status()
    store, client = device(tmp / "packdev", url, admin, "fa", events=0)
    try:
        store.settings.set("trusted_keys", [pub.read_text()])
        httpx.post(f"{url}/api/v1/admin/packs/promote-sample/publish", headers=admin,
                   json={"version": 1}).raise_for_status()
        first = client.sync()
        httpx.post(f"{url}/api/v1/admin/packs/promote-sample/publish", headers=admin,
                   json={"version": 2}).raise_for_status()
        update = client.sync()
        assert [p.status for p in update.packs] == ["installed"]
        return first.packs[0].bytes_downloaded, update.packs[0].bytes_downloaded, \
            update.bytes_received
    finally:
        store.close()


def measure(rounds: int) -> dict[str, Any]:
    """Each round's figures (seconds, bytes) and the pack delta figure."""
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        from app.core.packs import write_keypair
        key, pub = write_keypair(tmp / "author.key")
        server = ServerProcess(tmp / "srv", env={"SHIFT_TRUSTED_KEYS": str(pub)})
        server.start()
        try:
            seed(server.data_dir, facilities={"fa": "A", "fb": "B"})
            admin = bearer(admin_token(server.base_url))
            sync_s, plain_s, sync_b, plain_b = [], [], [], []
            for r in range(rounds):
                sa, ca = device(tmp / f"a{r}", server.base_url, admin, "fa")
                sb, _ = device(tmp / f"b{r}", server.base_url, admin, "fb")
                try:
                    seconds, sent = plain_post(sb, server.base_url)
                    plain_s.append(seconds)
                    plain_b.append(sent)
                    t0 = time.perf_counter()
                    report = ca.sync(packs=False)
                    sync_s.append(time.perf_counter() - t0)
                    sync_b.append(report.bytes_sent)
                    assert report.events_acknowledged == EVENTS and report.outbox_left == 0
                finally:
                    sa.close()
                    sb.close()
            full, delta, wire = delta_figure(tmp, server, admin, pub, key)
        finally:
            server.stop()
    return {"sync_s": sync_s, "plain_s": plain_s, "sync_b": sync_b, "plain_b": plain_b,
            "full": full, "delta": delta, "wire": wire}


def rows(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """The table rows (benchmarks/table.py): the figures with a target (issue 7)."""
    log("device sync over loopback …")
    got = measure(1 if quick else 3)
    s, p = statistics.median(got["sync_s"]), statistics.median(got["plain_s"])
    full, delta = got["full"], got["delta"]
    return [
        (f"sync of {EVENTS:,} queued events (pull + push + ack)", f"{s * 1000:.1f} ms",
         f"{p * 1000:.1f} ms plain POST", s / p, "≤ 3× and ≤ 1 s", s / p <= 3.0 and s <= 1.0),
        ("pack update download, 2 of 40 media files changed", f"{delta / 1024:.1f} KiB",
         f"{full / 1024:.1f} KiB full pack", delta / full, "≤ 0.10×", delta <= 0.10 * full),
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rounds = 1 if args.quick else args.rounds
    got = measure(rounds)
    sync_s, plain_s, sync_b, plain_b = got["sync_s"], got["plain_s"], got["sync_b"], got["plain_b"]
    full, delta, wire = got["full"], got["delta"], got["wire"]
    s, p = statistics.median(sync_s), statistics.median(plain_s)
    bs, bp = statistics.median(sync_b), statistics.median(plain_b)
    print(f"sync of {EVENTS} queued events over loopback ({rounds} round(s); median, best)")
    print(f"  plain POST of the same JSON (baseline): {p * 1000:7.1f} ms, best {min(plain_s) * 1000:7.1f} ms"
          f"  {bp / 1024:7.1f} KiB sent")
    print(f"  SyncClient.sync (pull+push+ack):        {s * 1000:7.1f} ms, best {min(sync_s) * 1000:7.1f} ms"
          f"  {bs / 1024:7.1f} KiB sent")
    print(f"  time ratio  sync / plain POST: {s / p:5.2f}× median, {min(sync_s) / min(plain_s):5.2f}× best"
          f"   (target ≤ 3×; absolute target ≤ 1 s: {'met' if s <= 1.0 else 'MISSED'})")
    print(f"  bytes ratio sync / plain POST: {bs / bp:5.2f}×   (request bodies gzip-compressed)")
    print("pack update, 2 of 40 media files changed (5 %)")
    print(f"  full pack: {full / 1024:8.1f} KiB; update downloaded {delta / 1024:6.1f} KiB of blobs, "
          f"{wire / 1024:6.1f} KiB on the wire in all")
    print(f"  delta ratio update / full pack: {delta / full:5.3f} (blobs), {wire / full:5.3f} "
          "(everything)   (target ≤ 0.10)")
    return 0 if s <= 1.0 and s / p <= 3.0 and delta <= 0.10 * full else 1


if __name__ == "__main__":
    sys.exit(main())
