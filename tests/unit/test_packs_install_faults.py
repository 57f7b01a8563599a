"""Installs around faults: a damaged blob already in the store, a signed manifest that
gives a file the wrong size, a failure after the switch, a batch that fails half-way,
an install killed before its switch, an empty file over the network — and the sweep of
what no installed version uses (app/core/packs/install.py `_sweep`)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.core.errors import PackError, PackVerifyError
from app.core.packs import (
    BlobStore,
    PackLibrary,
    TrustedKeys,
    blob_batch,
    canonical_json,
    install,
    install_from_blobs,
    install_pack,
    load_private_key,
    load_public_key,
    write_keypair,
)
from app.core.packs.builder import sign_manifest
from tests.unit.test_packs_install import IMAGE, LESSON, _blobs_into_store
from tests.unit.test_packs_support import KEY, TRUST, build, copy_sample, snapshot

ROOT = Path(__file__).resolve().parents[2]
PACK = "promote-sample"


def edit_all(src: Path, text: str) -> None:
    """A new edition of every lesson of the course (each gets a new blob)."""
    for p in (src / "courses/boundaries").glob("*.md"):
        p.write_text(p.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


def lesson_shas(pack: Path) -> set[str]:
    with zipfile.ZipFile(pack) as zf:
        return {f["sha256"] for f in json.loads(zf.read("manifest.json"))["files"]
                if f["path"].startswith("lessons/")}


def readable(data: Path) -> None:
    """Every file of the live version is there and hashes to its name."""
    lib = PackLibrary(data)
    pack = lib.get(PACK)
    assert pack is not None
    for f in pack.manifest["files"]:
        assert hashlib.sha256(lib.blobs.read(f["sha256"])).hexdigest() == f["sha256"], f["path"]


def test_a_signed_update_giving_a_file_the_wrong_size_keeps_the_live_versions_blob(
        tmp_path: Path) -> None:
    """Version 1 came over the network (loose blobs); version 2's manifest, signed,
    says one of its lessons is a byte shorter than the stored (intact) blob. The update
    is refused, and the blob the live version needs stays — it used to be deleted as
    "damaged", and nothing fetched it back."""
    data = tmp_path / "data"
    manifest, sig = _blobs_into_store(build(copy_sample(tmp_path), tmp_path / "out"),
                                      BlobStore(data / "blobs"))
    install_from_blobs(manifest, sig, data, TRUST)
    wrong = json.loads(manifest)
    wrong["version"] = 2
    next(f for f in wrong["files"] if f["path"] == LESSON)["size"] -= 1
    signed = canonical_json(wrong)
    with pytest.raises(PackVerifyError, match="the manifest says .*: the update is refused"):
        install_from_blobs(signed, sign_manifest(signed, KEY), data, TRUST)
    assert PackLibrary(data).current_version(PACK) == 1
    assert PackLibrary(data).lesson(PACK, LESSON)["title"]
    readable(data)


def test_a_signed_pack_giving_a_stored_blob_the_wrong_size_keeps_it(tmp_path: Path) -> None:
    """The same fault through a .pack: its manifest (signed) and its zip entry both say
    one byte less than the live version's intact loose blob. The pack is refused before
    anything changes — the size check of present blobs used to delete that blob as
    damaged, then the pack's short copy failed its hash."""
    data = tmp_path / "data"
    v1 = build(copy_sample(tmp_path), tmp_path / "out")
    manifest, sig = _blobs_into_store(v1, BlobStore(data / "blobs"))
    install_from_blobs(manifest, sig, data, TRUST)            # live, loose blobs
    wrong = json.loads(manifest)
    wrong["version"] = 2
    entry = next(f for f in wrong["files"] if f["path"] == LESSON)
    entry["size"] -= 1
    signed = canonical_json(wrong)
    v2 = tmp_path / "v2.pack"
    with zipfile.ZipFile(v1) as src, zipfile.ZipFile(v2, "w") as out:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "manifest.json":
                body = signed
            elif info.filename == "manifest.sig":
                body = sign_manifest(signed, KEY)
            elif info.filename == f"blobs/{entry['sha256']}":
                body = body[:-1]
            out.writestr(info.filename, body)
    with pytest.raises(PackVerifyError, match="the manifest says .*: the pack is refused"):
        install_pack(v2, data, TRUST)
    assert PackLibrary(data).current_version(PACK) == 1
    readable(data)


def test_an_update_from_a_pack_replaces_a_damaged_stored_blob(tmp_path: Path) -> None:
    """The image of version 1 was copied out of its container (an image view) and that
    loose copy was then cut short on the disk. Version 2, from a .pack holding a good
    copy, used to count it as present and go live with 10 bytes of image."""
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    loose = PackLibrary(data).media_path(PACK, IMAGE)
    loose.write_bytes(loose.read_bytes()[:10])
    edit_all(src, "Second edition.")
    install_pack(build(src, tmp_path / "o2", version=2), data, TRUST)
    assert PackLibrary(data).current_version(PACK) == 2
    readable(data)


def test_a_cleanup_that_fails_after_the_switch_does_not_fail_the_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 3 goes live; removing version 1 repacks its container, and that flush
    fails (EIO). The install used to raise "… the previous version is still in use"
    while version 3 was live (the sync then reported the pack as failed)."""
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    edit_all(src, "Second edition.")
    install_pack(build(src, tmp_path / "o2", version=2), data, TRUST)
    edit_all(src, "Third edition.")
    v3 = build(src, tmp_path / "o3", version=3)
    cleaning = []
    real_cleanup, real_flush = install._cleanup, blob_batch.datasync_file

    def cleanup(*args: Any, **kwargs: Any) -> None:
        cleaning.append(True)
        real_cleanup(*args, **kwargs)

    def flush(path: str) -> None:
        if cleaning:
            raise OSError(errno.EIO, "Input/output error")
        real_flush(path)
    monkeypatch.setattr(install, "_cleanup", cleanup)
    monkeypatch.setattr(blob_batch, "datasync_file", flush)
    monkeypatch.setattr(blob_batch, "SYNCFS_MIN_FILES", 10**6)     # one flush per file
    assert install_pack(v3, data, TRUST).version == 3
    assert cleaning
    readable(data)


def test_a_batch_that_fails_after_placing_its_container_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch moves its container into the store, then a new fan-out folder for a
    large loose blob cannot be made (ENOSPC): the install fails, version 1 stays live,
    and the store is as it was — the container placed used to stay."""
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    before = snapshot(data)
    edit_all(src, "Second edition.")
    big = src / "courses/boundaries/media/big.png"      # > 256 KiB: a loose blob
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(300_000))
    v2 = build(src, tmp_path / "o2", version=2)

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(blob_batch.os, "makedirs", no_space)
    with pytest.raises(PackError, match="previous version is still in use"):
        install_pack(v2, data, TRUST)
    monkeypatch.undo()
    assert PackLibrary(data).current_version(PACK) == 1
    assert sorted(set(snapshot(data)) - set(before)) == []
    readable(data)


KILLED_BEFORE_THE_SWITCH = r"""
import os, sys
from pathlib import Path
from app.core.packs import TrustedKeys, install, install_pack, load_public_key
install._commit = lambda lib, vp: os._exit(137)     # killed after the blobs, before the switch
install_pack(Path(sys.argv[1]), Path(sys.argv[2]),
             TrustedKeys([load_public_key(Path(sys.argv[3]))]))
"""


def test_what_an_install_cut_short_left_is_swept_once_old(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An install killed between its blobs and its switch (version 2), then a clean-up
    interrupted once its old version folder was gone (version 3): the blobs only they
    had are used by no installed version, and `_cleanup` looks only at the versions it
    removes — they stayed for ever. The sweep after a later install removes them once
    older than SWEEP_AFTER_S; younger ones stay (a download for an install to come)."""
    key_file, public_file = write_keypair(tmp_path / "signing.key")   # the child trusts it
    key, trust = load_private_key(key_file), TrustedKeys([load_public_key(public_file)])
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    v1 = build(src, tmp_path / "o1", key=key)
    install_pack(v1, data, trust)
    edit_all(src, "Second edition.")
    v2 = build(src, tmp_path / "o2", version=2, key=key)
    done = subprocess.run([sys.executable, "-c", KILLED_BEFORE_THE_SWITCH, str(v2), str(data),
                           str(public_file)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 137
    assert PackLibrary(data).current_version(PACK) == 1
    v1_only = lesson_shas(v1)
    edit_all(src, "Third edition.")
    with monkeypatch.context() as patched:
        patched.setattr(BlobStore, "collect", lambda *a, **k: (_ for _ in ()).throw(
            KeyboardInterrupt()))                         # stands for a kill at that point
        with pytest.raises(KeyboardInterrupt):
            install_pack(build(src, tmp_path / "o3", version=3, key=key), data, trust)
    assert PackLibrary(data).current_version(PACK) == 3
    left = lesson_shas(v2) | v1_only
    edit_all(src, "Fourth edition.")
    install_pack(build(src, tmp_path / "o4", version=4, key=key), data, trust)
    store = PackLibrary(data).blobs
    assert {s for s in left if store.has(s)}, "young blobs are spared"
    monkeypatch.setattr(install, "SWEEP_AFTER_S", -60)    # as if days had passed
    edit_all(src, "Fifth edition.")
    install_pack(build(src, tmp_path / "o5", version=5, key=key), data, trust)
    store = PackLibrary(data).blobs
    assert {s for s in left if store.has(s)} == set()
    readable(data)
    live = PackLibrary(data)
    used = {f["sha256"] for v in (4, 5) for f in json.loads(
        (data / "packs" / PACK / str(v) / "manifest.json").read_bytes())["files"]}
    assert set(live.blobs) == used                        # nothing else is kept
    assert [p for p in (data / "blobs" / "tmp").iterdir() if p.is_file()] == []


def test_the_sweep_keeps_everything_while_a_manifest_cannot_be_read(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    data = tmp_path / "data"
    install_pack(build(src, tmp_path / "o1"), data, TRUST)
    stray = BlobStore(data / "blobs")
    junk = b"not used by any pack"
    stray.put_stream(hashlib.sha256(junk).hexdigest(), len(junk), [junk])
    lib = PackLibrary(data)
    (data / "packs" / PACK / "1" / "manifest.json").write_bytes(b"{ torn")
    later = time.time() + 10 * install.SWEEP_AFTER_S
    assert install._sweep(lib, now=later) == 0
    assert stray.has(hashlib.sha256(junk).hexdigest())


def test_an_empty_file_comes_over_the_network(tmp_path: Path) -> None:
    """A file of 0 bytes: the download has nothing to write (its resume logic returns
    at once) and left no partial file, so adopting it raised a StoreError that ended the
    sync's whole packs phase; it is the empty blob."""
    from app.core.application.sync_report import PackOutcome
    from app.sync.packs import PackUpdater
    from app.sync.transport import Transport
    lib = PackLibrary(tmp_path / "data")
    empty = hashlib.sha256(b"").hexdigest()
    manifest = {"files": [{"path": "extra/empty.txt", "sha256": empty, "size": 0}]}
    transport = SimpleNamespace(download=lambda path, dest, size, on_bytes: Transport.download(
        SimpleNamespace(), path, dest, size, on_bytes))     # its own resume logic
    updater = PackUpdater(lib, TRUST, disk_usage=lambda p: SimpleNamespace(free=10**12))
    updater._download(transport, manifest, PackOutcome("x", 1, "up_to_date"),
                      lambda *a: None)
    assert lib.blobs.read(empty) == b""
