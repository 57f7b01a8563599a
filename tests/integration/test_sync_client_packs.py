"""Pack updates through a real server: delta download, Range resume after a cut
connection, tampered blob, rollback, free space, installed versions reported."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from app.core.errors import SyncNetworkError
from app.core.packs import TrustedKeys, generate_keypair, install_pack, load_public_key
from app.core.packs.keys import public_key_pem
from app.sync import RetryPolicy
from tests.integration.test_sync_client_support import (
    CutProxy,
    ServerEnv,
    build,
    media_pack_source,
    open_device,
    server_env,
)

BIG = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    """Server with promote-sample v1 (40 media files + one 3 MiB file) published, and
    v2 (2 of the 40 files = 5 % changed) uploaded, not yet published."""
    with server_env(tmp_path_factory.mktemp("sync-packs")) as e:
        v1 = build(e, media_pack_source(e.work, 1, big=BIG), "out-v1")
        v2 = build(e, media_pack_source(e.work, 2, big=BIG, changed={3, 17}), "out-v2")
        e.upload(v1)
        e.upload(v2)
        e.publish("promote-sample", 1)
        e.built = {1: v1, 2: v2}  # type: ignore[attr-defined]
        yield e


def _manifest(pack_file: Path) -> dict:  # type: ignore[type-arg]
    import zipfile
    with zipfile.ZipFile(pack_file) as zf:
        return json.loads(zf.read("manifest.json"))


def _lesson_ok(dev, version: int) -> None:  # type: ignore[no-untyped-def]
    pack = dev.library.get("promote-sample")
    assert pack is not None and pack.version == version
    path = pack.manifest["courses"][0]["lessons"][0]["files"]["en"]
    assert dev.library.lesson("promote-sample", path)["cards"]


def test_install_then_delta_update(env: ServerEnv, tmp_path: Path) -> None:
    dev = open_device(tmp_path / "a", env)
    try:
        seen: list[tuple[str, int, int]] = []
        first = dev.client.sync(lambda phase, done, total: seen.append((phase, done, total)))
        assert [(p.id, p.version, p.status) for p in first.packs] == [
            ("promote-sample", 1, "installed")]
        full = sum(f["size"] for f in _manifest(env.built[1])["files"])
        assert first.packs[0].bytes_downloaded == full
        _lesson_ok(dev, 1)
        phases = [s[0] for s in seen]
        assert phases.index("pull") < phases.index("push") < phases.index("packs") \
            < phases.index("download") < phases.index("install")
        downloads = [s for s in seen if s[0] == "download"]
        assert downloads[-1][1] == downloads[-1][2] == full
        # the installed version was reported to the server
        r = httpx.get(f"{env.url}/api/v1/admin/installed", headers=env.admin)
        mine = [(i["pack_id"], i["version"]) for i in r.json()
                if i["device_id"] == dev.store.device_id]
        assert mine == [("promote-sample", 1)]

        again = dev.client.sync()
        assert [(p.status, p.bytes_downloaded) for p in again.packs] == [("up_to_date", 0)]

        env.publish("promote-sample", 2)
        stale = dev.library.blobs.partial_path("ab" * 32)     # left by a superseded version
        stale.write_bytes(b"half a blob")
        update = dev.client.sync()
        assert not stale.exists()
        assert [(p.version, p.status) for p in update.packs] == [(2, "installed")]
        m1, m2 = _manifest(env.built[1]), _manifest(env.built[2])
        changed = {f["sha256"] for f in m2["files"]} - {f["sha256"] for f in m1["files"]}
        delta = update.packs[0].bytes_downloaded
        assert update.packs[0].blobs_downloaded == len(changed)
        assert delta <= 0.10 * full, (delta, full)
        assert update.bytes_received <= 0.10 * full      # everything on the wire, manifest too
        _lesson_ok(dev, 2)
        # old version kept as the fallback, blobs of both present
        assert sorted(p.name for p in (dev.dir / "packs" / "promote-sample").iterdir()
                      if p.is_dir()) == ["1", "2"]
    finally:
        dev.close()


def test_interrupted_download_resumes_not_restarts(env: ServerEnv, tmp_path: Path) -> None:
    live = _published(env)
    files = _manifest(env.built[live])["files"]
    big = next(f for f in files if f["path"].endswith("big-diagram.png"))
    full = sum(f["size"] for f in files)
    rng = random.Random()
    for attempt, retries in enumerate((3, 1)):   # resumed within the sync / at the next sync
        proxy = CutProxy(env.server.port)
        dev = open_device(tmp_path / f"dev{attempt}", env, url=None)
        try:
            dev.store.settings.set("server_url", proxy.url)
            dev.client.retry = RetryPolicy(attempts=retries, base=0.01, cap=0.02)
            cut_at = rng.randrange(1_000, big["size"] - 1_000)
            proxy.arm(f"GET /api/v1/blobs/{big['sha256']}", after=cut_at)
            if retries == 1:
                with pytest.raises(SyncNetworkError, match="resumes"):
                    dev.client.sync()
                part = dev.library.blobs.partial_path(big["sha256"])
                assert 0 < part.stat().st_size < big["size"]
                assert dev.library.get("promote-sample") is None
                partial = part.stat().st_size
                kept = partial + sum(
                    {f["sha256"]: f["size"] for f in files
                     if dev.library.blobs.has(f["sha256"])}.values())
                report = dev.client.sync()
            else:
                report = dev.client.sync()
            assert proxy.cuts == 1
            outcome = report.packs[0]
            assert outcome.status == "installed"
            # every byte crossed the wire once: resumed, not restarted
            if retries == 1:
                assert part_size_before(proxy, big) == partial
                assert outcome.bytes_downloaded == full - kept
            else:
                assert outcome.bytes_downloaded == full
            ranges = [r for r in proxy.requests if f"/api/v1/blobs/{big['sha256']}".encode() in r]
            heads = [r.split(b"\r\n\r\n")[0] for r in ranges]
            assert len(ranges) >= 2, heads
            assert b"range:" not in ranges[0].lower(), heads
            assert all(b"range: bytes=" in r.lower() for r in ranges[1:]), heads
            _lesson_ok(dev, live)
        finally:
            proxy.close()
            dev.close()


def part_size_before(proxy: CutProxy, big: dict) -> int:  # type: ignore[type-arg]
    """Offset of the resumed Range request = bytes kept from the cut try."""
    req = [r for r in proxy.requests if f"/api/v1/blobs/{big['sha256']}".encode() in r][-1]
    line = next(x for x in req.decode("latin-1").split("\r\n") if x.lower().startswith("range:"))
    return int(line.split("=", 1)[1].rstrip("-"))


def _published(env: ServerEnv) -> int:
    r = httpx.get(f"{env.url}/api/v1/admin/publications", headers=env.admin)
    return max(p["version"] for p in r.json() if p["pack_id"] == "promote-sample")


def test_tampered_blob_rejected_old_pack_still_works(env: ServerEnv, tmp_path: Path) -> None:
    dev = open_device(tmp_path / "a", env)
    try:
        dev.client.sync()
        live = dev.library.get("promote-sample").version  # type: ignore[union-attr]
        v3 = build(env, media_pack_source(env.work, 3, big=BIG, changed={5}), "out-v3")
        env.upload(v3)
        env.built[3] = v3  # type: ignore[attr-defined]
        changed = ({f["sha256"] for f in _manifest(v3)["files"]}
                   - {f["sha256"] for f in _manifest(env.built[live])["files"]})
        victim = env.blob_path(sorted(changed)[0])
        original = victim.read_bytes()
        victim.write_bytes(bytes([original[0] ^ 1]) + original[1:])   # same size, other bytes
        env.publish("promote-sample", 3)
        try:
            report = dev.client.sync()
        finally:
            victim.write_bytes(original)
        assert [(p.version, p.status) for p in report.packs] == [(3, "failed")]
        assert "tampered" in report.packs[0].detail
        assert not report.ok
        _lesson_ok(dev, live)
        assert not dev.library.blobs.partial_path(sorted(changed)[0]).exists()

        # with the blob repaired on the server, the next sync installs v3
        fixed = dev.client.sync()
        assert [(p.version, p.status) for p in fixed.packs] == [(3, "installed")]
        _lesson_ok(dev, 3)
    finally:
        dev.close()


def test_rollback_refused_and_free_space_checked(env: ServerEnv, tmp_path: Path) -> None:
    # a tablet that got a newer version from a USB stick never goes back
    dev = open_device(tmp_path / "usb", env)
    try:
        v9 = build(env, media_pack_source(env.work, 9, files=2), "out-v9")
        install_pack(v9, dev.dir, TrustedKeys([load_public_key(env.pub)]))
        report = dev.client.sync()
        assert report.packs[0].status == "refused" and "rollback" in report.packs[0].detail
        assert report.packs[0].bytes_downloaded == 0
        assert dev.library.current_version("promote-sample") == 9
    finally:
        dev.close()

    tiny = SimpleNamespace(free=10 * 1024 * 1024)
    dev = open_device(tmp_path / "full", env, disk_usage=lambda _p: tiny)
    try:
        report = dev.client.sync()
        assert report.packs[0].status == "failed"
        assert "free disk space" in report.packs[0].detail
        assert report.packs[0].bytes_downloaded == 0
        assert not any(dev.library.blobs)           # nothing was downloaded
        assert dev.library.get("promote-sample") is None
    finally:
        dev.close()

    # an untrusted signing key: refused before any blob is fetched
    dev = open_device(tmp_path / "untrusted", env, trust=False)
    try:
        _, other = generate_keypair()
        dev.store.settings.set("trusted_keys", [public_key_pem(other).decode()])
        report = dev.client.sync()
        assert report.packs[0].status == "failed" and "unknown key" in report.packs[0].detail
        assert report.packs[0].bytes_downloaded == 0 and not any(dev.library.blobs)
    finally:
        dev.close()
