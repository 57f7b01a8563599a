"""Pack import benchmark: verify + install of a ~200 MB pack against `sha256sum` of it.

    python benchmarks/pack_import.py [--mb N]

Builds a pack from the sample source plus N MB of incompressible "media" (random bytes in
5 MiB files, like photos/video stills), then in the same run times

  baseline   `sha256sum PACK` (best of 3, warm cache) — the disk/hash limit;
  install    install_pack() into an empty data folder (every check of pack-format.md §3:
             zip structure, signature, schema, free space, each blob streamed, hashed and
             fsynced into the blob store, atomic switch) — in a fresh process so its peak
             memory (ru_maxrss) is its own;
  verify     verify_pack() alone (hashes every blob, writes nothing).

and prints each as a ratio to the baseline (target: install ≤ 2×) and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.packs import (  # noqa: E402
    TrustedKeys,
    build_pack,
    install_pack,
    load_public_key,
    verify_pack,
    write_keypair,
)

SAMPLE = ROOT / "content_packs" / "promote-sample"
CHUNK_FILE = 5 * 1024 * 1024


def make_source(dest: Path, mb: int) -> Path:
    src = dest / "src"
    shutil.copytree(SAMPLE, src)
    media = src / "media"
    media.mkdir()
    left = mb * 1024 * 1024
    i = 0
    while left > 0:
        n = min(CHUNK_FILE, left)
        # a JPEG start marker: packs hold only images, recognised by their first bytes
        (media / f"still-{i:04d}.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(n - 3))
        left -= n
        i += 1
    return src


def sha256sum(path: Path) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def hashlib_read(path: Path) -> float:
    """Second baseline: Python/OpenSSL sha256 of the file (often faster than coreutils)."""
    import hashlib
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                h.update(chunk)
        best = min(best, time.perf_counter() - t)
    return best


def copy_fsync(path: Path, dest: Path) -> float:
    """Third baseline: copy the file and fsync it (the disk-write floor of any install)."""
    t = time.perf_counter()
    with open(path, "rb") as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - t
    dest.unlink()
    return elapsed


def child(pack: Path, data: Path, pub: Path, mode: str) -> None:
    trusted = TrustedKeys([load_public_key(pub)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if mode == "install":
        install_pack(pack, data, trusted)
    else:
        verify_pack(pack, trusted)
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "rss_before_kib": before, "rss_peak_kib": peak}))


def timed_child(mode: str, pack: Path, data: Path, pub: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(pack), str(data),
                          str(pub)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description="pack import benchmark")
    ap.add_argument("--mb", type=int, default=200, help="media megabytes in the pack")
    ap.add_argument("--child", nargs=4, metavar=("MODE", "PACK", "DATA", "PUB"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, pack, data, pub = args.child
        child(Path(pack), Path(data), Path(pub), mode)
        return 0
    if shutil.which("sha256sum") is None:
        print("sha256sum not found; cannot measure the baseline", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pack-bench-", dir=ROOT / "var"
                                     if (ROOT / "var").is_dir() else None) as tmp:
        base = Path(tmp)
        key, pub = write_keypair(base / "bench.key")
        from app.core.packs import load_private_key
        t = time.perf_counter()
        src = make_source(base, args.mb)
        pack = build_pack(src, load_private_key(key), base / "out")
        build_s = time.perf_counter() - t
        size_mb = pack.stat().st_size / 1e6
        baseline = sha256sum(pack)
        py_hash = hashlib_read(pack)
        copy_s = copy_fsync(pack, base / "copy.bin")
        results = {}
        for mode in ("install", "verify"):
            runs = [timed_child(mode, pack, base / f"data-{mode}-{i}", pub) for i in range(2)]
            results[mode] = min(runs, key=lambda r: r["seconds"])
        print(f"pack: {size_mb:.1f} MB, {sum(1 for _ in (src / 'media').iterdir())} media "
              f"files (source + build {build_s:.2f} s)")
        print(f"baseline sha256sum:     {baseline:.3f} s  ({size_mb / baseline:.0f} MB/s) = 1.00x")
        for mode, label in (("install", "verify+install (pack)"), ("verify", "verify only")):
            r = results[mode]
            growth = (r["rss_peak_kib"] - r["rss_before_kib"]) / 1024
            print(f"{label:<23} {r['seconds']:.3f} s  = {r['seconds'] / baseline:.2f}x   "
                  f"peak RSS {r['rss_peak_kib'] / 1024:.0f} MiB (+{growth:.1f} MiB during)")
        inst = results["install"]["seconds"]
        print(f"(other baselines: hashlib sha256 read {py_hash:.3f} s -> install = "
              f"{inst / py_hash:.2f}x; copy+fsync {copy_s:.3f} s -> install = "
              f"{inst / copy_s:.2f}x)")
        ratio = inst / baseline
        print(f"install/sha256sum ratio: {ratio:.2f} (target <= 2.0: "
              f"{'met' if ratio <= 2.0 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
