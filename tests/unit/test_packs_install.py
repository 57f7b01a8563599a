"""Installer, installed layout, library, blob store and the network install path."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.core.errors import PackError, PackInstallError, PackVerifyError, StoreError
from app.core.packs import (
    BlobStore,
    PackLibrary,
    install_from_blobs,
    install_pack,
)
from app.core.packs.limits import DISK_MARGIN
from tests.unit.test_packs_support import TRUST, build, copy_sample, snapshot

LESSON = "lessons/boundaries/02-warning-signs.en.json"
IMAGE = "media/boundaries/boundary-zones.png"


def _edit_lesson(src: Path, text: str) -> None:
    p = src / "courses/boundaries/02-warning-signs.en.md"
    p.write_text(p.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


def test_install_and_read_back(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    pack = build(src, tmp_path / "out")
    data = tmp_path / "data"
    installed = install_pack(pack, data, TRUST)
    assert (installed.id, installed.version) == ("promote-sample", 1)
    assert installed.dir == data / "packs/promote-sample/1"
    assert (data / "packs/promote-sample/CURRENT").read_text() == "1\n"
    with zipfile.ZipFile(pack) as zf:
        assert (installed.dir / "manifest.json").read_bytes() == zf.read("manifest.json")
        assert (installed.dir / "manifest.sig").read_bytes() == zf.read("manifest.sig")
    lib = PackLibrary(data)
    assert [p.id for p in lib.installed()] == ["promote-sample"]
    assert lib.current_version("promote-sample") == 1
    assert lib.current_version("other") is None and lib.get("other") is None
    lesson = lib.lesson("promote-sample", LESSON)
    assert lesson["title"] == "Warning signs of manipulation"
    assert [c["anchor"] for c in lesson["cards"]][1] == "small-favours"
    image = lib.media_path("promote-sample", IMAGE)
    assert image.read_bytes() == (src / "courses/boundaries/media/boundary-zones.png").read_bytes()
    assert image.parent.name == image.name[:2]
    assert lib.missing_blobs(installed.manifest) == []
    with pytest.raises(PackError, match="has no file 'media/nope.png'"):
        lib.media_path("promote-sample", "media/nope.png")
    with pytest.raises(PackError, match="is not installed"):
        lib.lesson("nope", LESSON)


def test_upgrades_keep_current_and_previous_and_collect_old_blobs(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    lib = PackLibrary(data)
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    v1_sha = lib.get("promote-sample").file_entry(LESSON)["sha256"]
    _edit_lesson(src, "Second edition.")
    install_pack(build(src, tmp_path / "o2", version=2), data, TRUST)
    assert lib.blobs.has(v1_sha)                       # version 1 is still the previous one
    _edit_lesson(src, "Third edition.")
    v3 = install_pack(build(src, tmp_path / "o3", version=3), data, TRUST)
    assert sorted(p.name for p in (data / "packs/promote-sample").iterdir()
                  if p.is_dir()) == ["2", "3"]
    assert not lib.blobs.has(v1_sha)                   # only version 1 used it
    assert all(lib.blobs.has(f["sha256"]) for f in v3.manifest["files"])
    assert "Third edition." in lib.lesson("promote-sample", LESSON)["cards"][-1]["markdown"]
    # unchanged files are shared: the image blob was written once
    assert lib.blobs.has(v3.file_entry(IMAGE)["sha256"])


def test_delta_install_reads_only_new_blobs(tmp_path: Path) -> None:
    """A blob already in the store is not taken from the pack (delta for free)."""
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    _edit_lesson(src, "New.")
    v2 = build(src, tmp_path / "o2", version=2)
    lib = PackLibrary(data)
    new = {f["sha256"] for f in lib.missing_blobs(json.loads(
        zipfile.ZipFile(v2).read("manifest.json")))}
    assert len(new) == 1
    install_pack(v2, data, TRUST)
    assert lib.current_version("promote-sample") == 2


def test_two_packs_side_by_side(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "a"), data, TRUST)
    other = copy_sample(tmp_path, "other")
    toml = other / "pack.toml"
    toml.write_text(toml.read_text().replace('id = "promote-sample"', 'id = "second"'))
    install_pack(build(other, tmp_path / "b"), data, TRUST)
    assert [p.id for p in PackLibrary(data).installed()] == ["promote-sample", "second"]


def test_concurrent_installs_of_the_same_version_leave_one_winner(tmp_path: Path) -> None:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    data = tmp_path / "data"
    results: list[object] = []

    def run() -> None:
        try:
            results.append(install_pack(pack, data, TRUST).version)
        except PackVerifyError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(1) == 1
    assert sum("rollback refused" in str(r) for r in results) == 2
    assert PackLibrary(data).lesson("promote-sample", LESSON)["lang"] == "en"


def test_damaged_current_file_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install_pack(build(copy_sample(tmp_path), tmp_path / "out"), data, TRUST)
    (data / "packs/promote-sample/CURRENT").write_text("garbage")
    with pytest.raises(PackError, match="CURRENT: damaged"):
        PackLibrary(data).current_version("promote-sample")


# -- network path -------------------------------------------------------------------------
def _blobs_into_store(pack: Path, store: BlobStore) -> tuple[bytes, bytes]:
    with zipfile.ZipFile(pack) as zf:
        for info in zf.infolist():
            if info.filename.startswith("blobs/"):
                with zf.open(info) as fh:
                    store.put_file(info.filename[6:], info.file_size, fh)
        return zf.read("manifest.json"), zf.read("manifest.sig")


def test_install_from_blobs(tmp_path: Path) -> None:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    data = tmp_path / "data"
    manifest, sig = _blobs_into_store(pack, BlobStore(data / "blobs"))
    installed = install_from_blobs(manifest, sig, data, TRUST)
    assert installed.version == 1
    assert PackLibrary(data).lesson("promote-sample", LESSON)["title"]
    with pytest.raises(PackVerifyError, match="rollback refused"):
        install_from_blobs(manifest, sig, data, TRUST)


def test_install_from_blobs_refuses_missing_or_damaged_blobs(tmp_path: Path) -> None:
    """Blobs were hash-checked as they entered the store (the tampered download is
    refused there: test_blob_store_resumable_partial); the installer checks that each is
    present with its size — it no longer re-hashes the whole pack (issue 18)."""
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    data = tmp_path / "data"
    store = BlobStore(data / "blobs")
    manifest, sig = _blobs_into_store(pack, store)
    sha = next(f["sha256"] for f in json.loads(manifest)["files"] if f["path"] == IMAGE)
    path = store.path(sha)
    good = path.read_bytes()
    path.write_bytes(good[:-1])                            # cut short (a damaged disk)
    with pytest.raises(PackVerifyError,
                       match=rf"damaged in the store \({len(good) - 1} bytes, expected "):
        install_from_blobs(manifest, sig, data, TRUST)
    assert not store.has(sha)                              # dropped, to be fetched again
    assert PackLibrary(data).current_version("promote-sample") is None
    with pytest.raises(PackVerifyError, match=f"blob for {IMAGE} .* is not in the blob store"):
        install_from_blobs(manifest, sig, data, TRUST)
    with pytest.raises(PackVerifyError, match="signature does not match"):
        install_from_blobs(manifest.replace(b"Keeping", b"Keepinq"), sig, data, TRUST)


def test_an_update_reads_only_what_is_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    """From a .pack or over the network, an update hashes the blobs it brings only and
    checks the text of its new lessons only (from the bytes as they pass, or read back
    once over the network) — never a blob the installed version had already: each was
    hash-checked when it entered the store (BlobStore: a file at path(sha) has that
    hash) and content-checked when that version was installed."""
    from app.core.packs import install as install_module
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    _edit_lesson(src, "Second edition.")
    v2 = build(src, tmp_path / "o2", version=2)
    opened: list[str] = []
    hashed: list[str] = []
    checked: list[str] = []
    real_open, real_check = BlobStore.open, install_module.check_lesson
    monkeypatch.setattr(BlobStore, "open", lambda self, sha: opened.append(sha)
                        or real_open(self, sha))
    monkeypatch.setattr(BlobStore, "verify", lambda self, sha, size: hashed.append(sha))
    monkeypatch.setattr(install_module, "check_lesson", lambda data_, path, *a, **k:
                        checked.append(path) or real_check(data_, path, *a, **k))

    def lessons_of(manifest: dict[str, Any]) -> dict[str, str]:
        return {f["sha256"]: f["path"] for f in manifest["files"]
                if f["path"].startswith("lessons/")}
    before = lessons_of(PackLibrary(data).get("promote-sample").manifest)
    manifest = json.loads(zipfile.ZipFile(v2).read("manifest.json"))
    new = {sha: path for sha, path in lessons_of(manifest).items() if sha not in before}
    assert len(new) == 1
    install_pack(v2, data, TRUST)
    assert not opened and not hashed and sorted(checked) == sorted(new.values())
    opened.clear()
    checked.clear()
    before = lessons_of(manifest)
    _edit_lesson(src, "Third edition.")
    m3, s3 = _blobs_into_store(build(src, tmp_path / "o3", version=3), PackLibrary(data).blobs)
    new = {sha: path for sha, path in lessons_of(json.loads(m3)).items() if sha not in before}
    install_from_blobs(m3, s3, data, TRUST)
    assert sorted(opened) == sorted(new) and not hashed
    assert sorted(checked) == sorted(new.values())


def test_free_space_check_counts_only_what_the_install_writes(tmp_path: Path) -> None:
    """An update needs room for its new blobs + manifest + signature + the 64 MiB margin,
    not for the whole pack: one byte less is refused (nothing written), exactly enough
    installs. The network path checks the same way."""
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    _edit_lesson(src, "Second edition.")
    v2 = build(src, tmp_path / "o2", version=2)
    with zipfile.ZipFile(v2) as zf:
        have = PackLibrary(data).blobs
        new = sum(i.file_size for i in zf.infolist()
                  if i.filename.startswith("blobs/") and not have.has(i.filename[6:]))
        need = new + zf.getinfo("manifest.json").file_size + zf.getinfo("manifest.sig").file_size
    assert 0 < new < 20_000                   # one lesson, not the whole pack
    before = snapshot(data)
    with pytest.raises(PackInstallError, match="not enough free disk space"):
        install_pack(v2, data, TRUST, disk_usage=lambda _p: SimpleNamespace(
            free=need + DISK_MARGIN - 1))
    assert snapshot(data) == before
    installed = install_pack(v2, data, TRUST,
                             disk_usage=lambda _p: SimpleNamespace(free=need + DISK_MARGIN))
    assert installed.version == 2
    manifest, sig = _blobs_into_store(build(src, tmp_path / "o3", version=3), have)
    with pytest.raises(PackInstallError, match="not enough free disk space"):
        install_from_blobs(manifest, sig, data, TRUST,
                           disk_usage=lambda _p: SimpleNamespace(free=DISK_MARGIN))
    assert PackLibrary(data).current_version("promote-sample") == 2


# -- blob store --------------------------------------------------------------------------
def test_blob_store_put_and_checks(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"hello world" * 1000
    sha = hashlib.sha256(data).hexdigest()
    path = store.put_stream(sha, len(data), [data[:5000], data[5000:]])
    assert path == store.path(sha) and store.has(sha) and list(store) == [sha]
    with store.open(sha) as fh:
        assert fh.read() == data
    other = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(PackVerifyError, match="tampered"):
        store.put_stream(other, len(data), [data])
    with pytest.raises(PackVerifyError, match="larger than"):
        store.put_stream(other, 3, [b"other"])
    with pytest.raises(PackVerifyError, match="has 2 bytes, expected 5"):
        store.put_stream(other, 5, [b"ot"])
    assert not store.has(other)
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
    with pytest.raises(PackVerifyError, match="invalid blob id"):
        store.path("../../etc/passwd")
    with pytest.raises(StoreError, match="not in the store"):
        store.open(other)


def test_blob_store_resumable_partial(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 100
    sha = hashlib.sha256(data).hexdigest()
    part = store.partial_path(sha)
    part.write_bytes(data[:1000])
    with open(part, "ab") as fh:                            # a resumed download appends
        fh.write(data[1000:])
    store.commit_partial(sha, len(data))
    assert store.has(sha) and not part.exists()
    bad = hashlib.sha256(b"x").hexdigest()
    store.partial_path(bad).write_bytes(b"y")
    with pytest.raises(PackVerifyError):
        store.commit_partial(bad, 1)
    assert not store.partial_path(bad).exists() and not store.has(bad)


def test_failed_install_removes_the_blobs_it_wrote(tmp_path: Path) -> None:
    from tests.unit.test_packs_support import replace_file, rewrite

    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    before = snapshot(data)
    _edit_lesson(src, "New text.")
    v2 = build(src, tmp_path / "o2", version=2)
    bad = rewrite(v2, tmp_path / "bad.pack", lambda es: replace_file(
        es, "lessons/boundaries/03-what-to-do.en.json",
        json.dumps({"title": "x", "toc": [], "cards": [{"title": "x", "anchor": "x",
                                                        "markdown": "<iframe src=x>"}]}).encode()))
    with pytest.raises(PackVerifyError, match="raw HTML <iframe>"):
        install_pack(bad, data, TRUST)
    assert snapshot(data) == before


def test_large_blobs_are_streamed_not_loaded(tmp_path: Path) -> None:
    """A 24 MiB media file goes through verify and install with < 8 MiB of Python memory."""
    import os
    import tracemalloc

    from app.core.packs import verify_pack

    src = copy_sample(tmp_path)
    (src / "media").mkdir()
    (src / "media" / "big.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(24 * 1024 * 1024 - 3))
    pack = build(src, tmp_path / "out")
    tracemalloc.start()
    try:
        verify_pack(pack, TRUST)
        install_pack(pack, tmp_path / "data", TRUST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak
    lib = PackLibrary(tmp_path / "data")
    assert lib.media_path("promote-sample", "media/big.jpg").stat().st_size == 24 * 1024 * 1024


def test_verify_manifest_before_downloading_blobs(tmp_path: Path) -> None:
    from app.core.packs import verify_manifest

    pack = build(copy_sample(tmp_path), tmp_path / "out")
    with zipfile.ZipFile(pack) as zf:
        manifest, sig = zf.read("manifest.json"), zf.read("manifest.sig")
    vp = verify_manifest(manifest, sig, TRUST)
    assert (vp.id, vp.version) == ("promote-sample", 1)
    with pytest.raises(PackVerifyError, match="rollback refused"):
        verify_manifest(manifest, sig, TRUST, installed_version=1)
    with pytest.raises(PackVerifyError, match="signature does not match"):
        verify_manifest(manifest + b" ", sig, TRUST)
    with pytest.raises(PackVerifyError, match="manifest.sig is larger"):
        verify_manifest(manifest, sig + b" " * 5000, TRUST)


# -- batches and containers (issue 18) -------------------------------------------------------
def _blob(n: int, size: int = 3000) -> tuple[str, bytes]:
    data = hashlib.sha256(str(n).encode()).digest() * (size // 32 + 1)
    data = data[:size]
    return hashlib.sha256(data).hexdigest(), data


@pytest.mark.parametrize("syncfs", [True, False])
def test_a_batch_stages_then_places_blobs_packed_or_loose(tmp_path: Path, syncfs: bool) -> None:
    from app.core.packs.blob_batch import CONTAINER_MAX_BLOB
    from app.core.packs.durability import sync_filesystem
    flushes: list[Path] = []

    def flush(folder: Path) -> bool:
        flushes.append(folder)
        return sync_filesystem(folder) if syncfs else False
    store = BlobStore(tmp_path / "blobs", sync_fs=flush)
    small = [_blob(i) for i in range(20)]
    big = _blob(99, CONTAINER_MAX_BLOB + 1)
    loose = [_blob(i) for i in range(100, 140)]             # many files: one syncfs
    with store.batch() as batch:
        for sha, data in loose:
            batch.put(sha, len(data), [data])
        assert sorted(batch.commit()) == sorted(sha for sha, _ in loose)
    assert len(flushes) == 2                 # files, then the ~40 folders of the moves
    assert all(store.path(sha).read_bytes() == data for sha, data in loose)
    flushes.clear()
    with store.batch(pack_small=True) as batch:
        for sha, data in [*small, big]:
            assert batch.put(sha, len(data), [data[:100], data[100:]], keep=8) == data[:8]
        bad_sha, bad = _blob(1000)
        with pytest.raises(PackVerifyError, match="tampered"):
            batch.put(bad_sha, len(bad), [bad[:-1] + b"x"])
        assert not any(store.has(sha) for sha, _ in small)     # nothing before commit
        placed = batch.commit()
    assert sorted(placed) == sorted(sha for sha, _ in [*small, big])
    assert flushes == []                  # a container and one big blob: two fsyncs
    assert not store.has(bad_sha)
    assert len(list((tmp_path / "blobs" / "packed").iterdir())) == 1
    assert store.path(big[0]).is_file() and not store.path(small[0][0]).exists()
    other = BlobStore(tmp_path / "blobs")                      # another object sees them
    for sha, data in [*small, big]:
        assert other.has(sha) and other.read(sha) == data and other.size(sha) == len(data)
        other.verify(sha, len(data))
    assert other.present([small[3][0], bad_sha]) == {small[3][0]}
    assert sorted(other) == sorted(sha for sha, _ in [*small, big, *loose])
    path = other.file_path(small[3][0])                         # copied out for a view
    assert path == other.path(small[3][0]) and path.read_bytes() == small[3][1]
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_collecting_packed_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    blobs = [_blob(i) for i in range(10)]
    with store.batch(pack_small=True) as batch:
        for sha, data in blobs:
            batch.put(sha, len(data), [data])
        batch.commit()
    shas = [sha for sha, _ in blobs]
    store.collect({shas[0], shas[1]}, referenced={shas[1]})   # one leaves: listed as dead
    assert not store.has(shas[0]) and store.has(shas[1])
    assert not BlobStore(tmp_path / "blobs").has(shas[0])
    containers = list((tmp_path / "blobs" / "packed").glob("*.blobs"))
    store.collect(set(shas[:7]), referenced=set())            # most leave: rewritten
    after = list((tmp_path / "blobs" / "packed").glob("*.blobs"))
    assert after != containers and len(after) == 1
    assert not list((tmp_path / "blobs" / "packed").glob("*.dead"))
    for sha, data in blobs[7:]:
        assert store.read(sha) == data
    assert not any(store.has(sha) for sha in shas[:7])
    store.collect(set(shas), referenced=set())                # all leave: deleted
    assert list((tmp_path / "blobs" / "packed").iterdir()) == []


def test_a_damaged_container_is_ignored_not_trusted(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    sha, data = _blob(1)
    with store.batch(pack_small=True) as batch:
        batch.put(sha, len(data), [data])
        batch.commit()
    container = next((tmp_path / "blobs" / "packed").glob("*.blobs"))
    container.write_bytes(container.read_bytes()[:-5])        # the trailer cut
    fresh = BlobStore(tmp_path / "blobs")
    assert not fresh.has(sha)
    with pytest.raises(StoreError, match="not in the store"):
        fresh.open(sha)


def test_a_pack_install_packs_small_files_and_views_still_get_paths(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "out"), data, TRUST)
    assert list((data / "blobs" / "packed").glob("*.blobs"))
    lib = PackLibrary(data)
    assert lib.lesson("promote-sample", LESSON)["title"]
    image = lib.media_path("promote-sample", IMAGE)
    assert image.is_file() and image.read_bytes() == (
        src / "courses/boundaries/media/boundary-zones.png").read_bytes()


def test_an_unchanged_lesson_is_checked_again_when_an_image_it_shows_is_gone(
        tmp_path: Path) -> None:
    """The update skips re-checking what the installed version had — but a lesson's check
    depends on the manifest's media paths: drop an image it shows and it must fail."""
    from tests.unit.test_packs_support import manifest_of, resign

    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    v2 = build(src, tmp_path / "o2", version=2)

    def drop_image(entries: list) -> list:
        m = manifest_of(entries)
        gone = next(f for f in m["files"] if f["path"] == IMAGE)
        m["files"] = [f for f in m["files"] if f["path"] != IMAGE]
        return resign([e for e in entries if e.name != f"blobs/{gone['sha256']}"
                       or any(f["sha256"] == gone["sha256"] for f in m["files"])], m)
    from tests.unit.test_packs_support import rewrite
    bad = rewrite(v2, tmp_path / "bad.pack", drop_image)
    with pytest.raises(PackVerifyError, match="lesson .*boundary-zones.png"):
        install_pack(bad, data, TRUST)
    assert PackLibrary(data).current_version("promote-sample") == 1


def test_a_stored_blob_is_read_straight_from_the_pack_but_checked(tmp_path: Path) -> None:
    """Stored (uncompressed) blobs skip zipfile's reader; the local header must still name
    the same entry, and a blob cut short or changed is refused by size / sha256."""
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    raw = pack.read_bytes()
    with zipfile.ZipFile(pack) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("blobs/")
                    and i.compress_type == zipfile.ZIP_STORED and i.file_size > 100)
    name_at = info.header_offset + 30
    assert raw[name_at:name_at + len(info.filename)] == info.filename.encode()
    renamed = bytearray(raw)
    renamed[name_at + 10] ^= 0x01                        # another name in the local header
    flipped = bytearray(raw)
    data_at = name_at + len(info.filename) + int.from_bytes(raw[info.header_offset + 28:
                                                                info.header_offset + 30],
                                                            "little")
    flipped[data_at + 50] ^= 0x01                        # one byte of the blob changed
    for bad, message in ((renamed, "bad local header"), (flipped, "tampered")):
        path = tmp_path / "bad.pack"
        path.write_bytes(bytes(bad))
        data = tmp_path / f"data-{message.split()[0]}"
        with pytest.raises(PackVerifyError, match=message):
            install_pack(path, data, TRUST)
        assert PackLibrary(data).current_version("promote-sample") is None
        assert not list((data / "blobs" / "packed").glob("*")) if \
            (data / "blobs" / "packed").exists() else True
