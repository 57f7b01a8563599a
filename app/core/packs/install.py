"""Install a verified pack into a device data folder (docs/pack-format.md §3 steps 5–7, §4).

Order of effects, so a failure at any point leaves the previous version live:
verify (nothing written) → free-space check → blobs streamed into the store (each
hash-checked before it gets its final name) → new version folder (temp name, renamed) →
``CURRENT`` replaced atomically (the commit point) → clean-up of old versions and their
blobs. Blobs written by a failed install are removed again unless another installed
manifest refers to them.

An exclusive lock (``packs/.lock``) serialises installs in one data folder (the sync
client and a USB side-load may run at the same time).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.core.errors import PackInstallError, PackVerifyError
from app.core.packs.keys import TrustedKeys
from app.core.packs.lesson_check import (
    MAX_LESSON_BYTES,
    check_lesson,
    lesson_shas,
    media_paths,
)
from app.core.packs.library import InstalledPack, PackLibrary
from app.core.packs.limits import CHUNK, DISK_MARGIN
from app.core.packs.verify import (
    VerifiedPack,
    check_rollback,
    open_blob,
    open_pack,
    verify_manifest,
)

DiskUsage = Callable[[str], Any]   # shutil.disk_usage-like: returns an object with .free


def install_pack(pack_file: Path, data_dir: Path, trusted: TrustedKeys, *,
                 disk_usage: DiskUsage = shutil.disk_usage) -> InstalledPack:
    """Verify ``pack_file`` and make it the live version of its pack in ``data_dir``."""
    lib = PackLibrary(data_dir)
    with _locked(lib), open_pack(pack_file, trusted) as (zf, vp):
        check_rollback(vp.manifest, lib.current_version(vp.id))
        need = sum(size for sha, size in vp.blob_sizes.items() if not lib.blobs.has(sha))
        _check_space(lib, need + len(vp.manifest_bytes) + len(vp.sig_bytes), disk_usage)
        written: list[str] = []
        try:
            for sha, info in sorted(vp.blob_entries.items()):
                if lib.blobs.has(sha):
                    continue
                with open_blob(zf, info) as fh:
                    written.append(sha)
                    lib.blobs.put_stream(sha, info.file_size, iter(functools.partial(fh.read, CHUNK),
                                                                   b""),
                                         label=_label(vp, sha), durable=False)
            lib.blobs.sync(written)             # durable before the switch below
            _check_lessons(lib, vp)
            return _commit(lib, vp)
        except BaseException:
            _forget_blobs(lib, written)
            raise


def install_from_blobs(manifest_bytes: bytes, sig_bytes: bytes, data_dir: Path,
                       trusted: TrustedKeys, *, disk_usage: DiskUsage = shutil.disk_usage
                       ) -> InstalledPack:
    """Network path: the blobs are already in ``BlobStore(data_dir/"blobs")``.

    Checks the signature and manifest, re-hashes every blob the manifest lists, then
    switches atomically like ``install_pack``.
    """
    lib = PackLibrary(data_dir)
    with _locked(lib):
        vp = verify_manifest(manifest_bytes, sig_bytes, trusted)
        check_rollback(vp.manifest, lib.current_version(vp.id))
        _check_space(lib, len(manifest_bytes) + len(sig_bytes), disk_usage)
        for sha, size in sorted(vp.blob_sizes.items()):
            if not lib.blobs.has(sha):
                raise PackVerifyError(f"blob for {_label(vp, sha)} ({sha[:16]}…) is not in the "
                                      "blob store; download it first")
            try:
                lib.blobs.verify(sha, size)
            except PackVerifyError:
                lib.blobs.remove(sha)     # a corrupt blob must be fetched again
                raise
        _check_lessons(lib, vp)
        return _commit(lib, vp)


# ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(lib: PackLibrary) -> Iterator[None]:
    try:
        lib.packs_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lib.packs_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PackInstallError(f"{lib.data_dir}: cannot write the data folder ({exc.strerror})"
                               ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _label(vp: VerifiedPack, sha: str) -> str:
    return vp.blob_paths.get(sha, sha)


def _check_lessons(lib: PackLibrary, vp: VerifiedPack) -> None:
    media = media_paths(vp.manifest)
    for sha, path in sorted(lesson_shas(vp.manifest).items()):
        with lib.blobs.open(sha) as fh:
            data = fh.read(MAX_LESSON_BYTES + 1)
        check_lesson(data, path, vp.manifest, media=media)


def _check_space(lib: PackLibrary, need: int, disk_usage: DiskUsage) -> None:
    probe = lib.data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = int(disk_usage(str(probe)).free)
    if free < need + DISK_MARGIN:
        mib = 1024 * 1024
        raise PackInstallError(f"not enough free disk space: the pack needs {need / mib:.1f} MiB "
                               f"+ {DISK_MARGIN // mib} MiB margin, {free / mib:.1f} MiB free")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _commit(lib: PackLibrary, vp: VerifiedPack) -> InstalledPack:
    pack_dir = lib.packs_dir / vp.id
    previous = lib.current_version(vp.id)
    try:
        pack_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".v{vp.version}.", dir=pack_dir))
        try:
            _write_file(tmp / "manifest.json", vp.manifest_bytes)
            _write_file(tmp / "manifest.sig", vp.sig_bytes)
            final = pack_dir / str(vp.version)
            if final.exists():          # left over by an install that never went live
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(pack_dir)
        current_tmp = pack_dir / "CURRENT.tmp"
        _write_file(current_tmp, f"{vp.version}\n".encode("ascii"))
        os.replace(current_tmp, pack_dir / "CURRENT")          # the commit point
        _fsync_dir(pack_dir)
    except OSError as exc:
        raise PackInstallError(f"installing {vp.id} version {vp.version} failed: {exc}; the "
                               "previous version is still in use") from None
    _cleanup(lib, vp.id, keep={vp.version, previous})
    pack = lib.get(vp.id)
    assert pack is not None
    return pack


def _manifest_shas(manifest_file: Path) -> set[str]:
    try:
        manifest = json.loads(manifest_file.read_bytes())
        return {f["sha256"] for f in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _referenced(lib: PackLibrary) -> set[str]:
    refs: set[str] = set()
    if lib.packs_dir.is_dir():
        for mf in lib.packs_dir.glob("*/*/manifest.json"):
            refs |= _manifest_shas(mf)
    return refs


def _forget_blobs(lib: PackLibrary, shas: list[str]) -> None:
    """Remove blobs a failed install wrote, unless an installed manifest refers to them."""
    if not shas:
        return
    refs = _referenced(lib)
    for sha in shas:
        if sha not in refs:
            with contextlib.suppress(OSError):
                lib.blobs.remove(sha)


def _cleanup(lib: PackLibrary, pack_id: str, keep: set[int | None]) -> None:
    """Drop versions older than the previous live one and the blobs only they used.

    Best effort: the new version is already live, so a failure here is not an error.
    Only blobs of removed versions are candidates, so blobs that a sync download put in
    the store for a version not installed yet are never collected.
    """
    pack_dir = lib.packs_dir / pack_id
    candidates: set[str] = set()
    with contextlib.suppress(OSError):
        for d in pack_dir.iterdir():
            if d.is_dir() and (not d.name.isdigit() or int(d.name) not in keep):
                candidates |= _manifest_shas(d / "manifest.json")
                shutil.rmtree(d, ignore_errors=True)
        for sha in candidates - _referenced(lib):
            lib.blobs.remove(sha)
