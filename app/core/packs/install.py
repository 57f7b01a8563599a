"""Install a verified pack into a device data folder (docs/pack-format.md §3 steps 5–7, §4).

Order of effects, so a failure or a crash at any point leaves the previous version live:
verify (nothing written) → free-space check → new blobs streamed into a staging folder
(each hash-checked, and its content checked — a lesson's text, an image's first bytes —
from the bytes as they pass, not read back) → all made durable with one flush and moved
into the store (blob_batch.BlobBatch) → new version folder (temp name, renamed) → ``CURRENT``
replaced atomically (the commit point) → clean-up of old versions and their blobs.
Blobs of a failed install never reach the store (or are removed again unless another
installed manifest refers to them).

What is checked is what is new: a blob already in the store was hash-checked when it
entered it (the store's rule), so an update — from a .pack or over the network
(`install_from_blobs`) — hashes only the blobs it brings, checks every blob's presence
and size, and reads back a stored lesson (checked against the new manifest) or image
(its first bytes) only when the installed version did not have that content under that
path — or, for a lesson, when an image path it could show was removed.

An exclusive lock (``packs/.lock``) serialises installs in one data folder (the sync
client and a USB side-load may run at the same time).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.core.errors import PackError, PackInstallError, PackVerifyError
from app.core.packs.keys import TrustedKeys
from app.core.packs.lesson_check import (
    MAX_LESSON_BYTES,
    check_lesson,
    lesson_shas,
    media_paths,
)
from app.core.packs.library import InstalledPack, PackLibrary
from app.core.packs.limits import CHUNK, DISK_MARGIN
from app.core.packs.media import HEAD_BYTES, check_image_head, media_files
from app.core.packs.verify import (
    VerifiedPack,
    check_rollback,
    open_blob,
    open_pack,
    stored_chunks,
    verify_manifest,
)

DiskUsage = Callable[[str], Any]   # shutil.disk_usage-like: returns an object with .free
log = logging.getLogger(__name__)


def install_pack(pack_file: Path, data_dir: Path, trusted: TrustedKeys, *,
                 disk_usage: DiskUsage = shutil.disk_usage) -> InstalledPack:
    """Verify ``pack_file`` and make it the live version of its pack in ``data_dir``."""
    lib = PackLibrary(data_dir)
    with _locked(lib), open_pack(pack_file, trusted) as (zf, vp):
        check_rollback(vp.manifest, lib.current_version(vp.id))
        present = _sound(lib, vp, lib.blobs.present(vp.blob_sizes))
        need = sum(size for sha, size in vp.blob_sizes.items() if sha not in present)
        _check_space(lib, need + len(vp.manifest_bytes) + len(vp.sig_bytes), disk_usage)
        content = _ContentCheck(lib, vp)
        placed: list[str] = []      # what the batch moved into the store, even if it failed
        try:
            with lib.blobs.batch(pack_small=True) as batch, open(pack_file, "rb") as raw:
                placed = batch.placed
                for sha, info in sorted(vp.blob_entries.items(),
                                        key=lambda item: item[1].header_offset):
                    if sha in present:
                        continue
                    chunks = stored_chunks(raw, info)
                    if chunks is not None:
                        head = batch.put(sha, info.file_size, chunks, label=_label(vp, sha),
                                         keep=content.keep(sha))
                    else:
                        with open_blob(zf, info) as fh:
                            head = batch.put(sha, info.file_size,
                                             iter(functools.partial(fh.read, CHUNK), b""),
                                             label=_label(vp, sha), keep=content.keep(sha))
                    content.check_new(sha, head)
                content.check_stored(present)
                batch.commit()                   # durable, in place: before the switch
            return _commit(lib, vp)
        except BaseException:
            _forget_blobs(lib, placed)
            raise


def install_from_blobs(manifest_bytes: bytes, sig_bytes: bytes, data_dir: Path,
                       trusted: TrustedKeys, *, disk_usage: DiskUsage = shutil.disk_usage
                       ) -> InstalledPack:
    """Network path: the blobs are already in ``BlobStore(data_dir/"blobs")`` (each
    hash-checked as it entered it: ``commit_partial`` / ``BlobBatch.adopt_partial``).

    Checks the signature and manifest, that every blob is there with its size, the
    content of what is new (module docstring), then switches atomically like
    ``install_pack``. A blob of the wrong size is removed (to be fetched again) when
    it is damaged — it no longer hashes to its name; an intact one stays (the live
    version may use it): the manifest is wrong and the update refused.
    """
    lib = PackLibrary(data_dir)
    with _locked(lib):
        vp = verify_manifest(manifest_bytes, sig_bytes, trusted)
        check_rollback(vp.manifest, lib.current_version(vp.id))
        _check_space(lib, len(manifest_bytes) + len(sig_bytes), disk_usage)
        for sha, size in sorted(vp.blob_sizes.items()):
            found = lib.blobs.size_if_present(sha)
            if found is None:
                raise PackVerifyError(f"blob for {_label(vp, sha)} ({sha[:16]}…) is not in the "
                                      "blob store; download it first")
            if found != size:
                if lib.blobs.intact(sha):  # the manifest is wrong, not the blob: keep it
                    raise PackVerifyError(
                        f"blob for {_label(vp, sha)} has {found} bytes, the manifest says "
                        f"{size}: the update is refused")
                lib.blobs.remove(sha)     # damaged: fetched again at the next sync
                raise PackVerifyError(f"blob for {_label(vp, sha)} was damaged in the store "
                                      f"({found} bytes, expected {size}); fetched again at "
                                      "the next sync")
        _ContentCheck(lib, vp).check_stored(set(vp.blob_sizes))
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


class _ContentCheck:
    """Lesson texts and image types before the switch — the device's own check,
    whoever built the pack: new blobs from the bytes that pass through the installer;
    stored ones read back unless the installed version had the same content under the
    same path and it would pass again (for a lesson: no image path it could show was
    removed)."""

    def __init__(self, lib: PackLibrary, vp: VerifiedPack) -> None:
        self.lib = lib
        self.manifest = vp.manifest
        self.lessons = lesson_shas(vp.manifest)
        self.images = media_files(vp.manifest)
        self.media = media_paths(vp.manifest)
        #: (sha, path) of the installed version: passed these checks when it was installed
        self.known: set[tuple[str, str]] = set()
        self.media_kept = False
        try:
            installed = lib.get(vp.id)
        except PackError:            # a damaged installed version: check everything
            installed = None
        if installed is not None:
            self.known = {(f["sha256"], f["path"]) for f in installed.manifest["files"]}
            # a lesson's check depends on the manifest only through its media paths: one
            # that passed still passes while every image it could show is still there
            self.media_kept = media_paths(installed.manifest) <= self.media

    def keep(self, sha: str) -> int:
        """Bytes of a new blob the checks need."""
        if sha in self.lessons:
            return MAX_LESSON_BYTES + 1
        return HEAD_BYTES if sha in self.images else 0

    def check_new(self, sha: str, data: bytes) -> None:
        if sha in self.lessons:
            check_lesson(data, self.lessons[sha], self.manifest, media=self.media)
        if sha in self.images:
            check_image_head(data[:HEAD_BYTES], self.images[sha])

    def check_stored(self, shas: set[str]) -> None:
        for sha in sorted(shas & self.lessons.keys()):
            if self.media_kept and (sha, self.lessons[sha]) in self.known:
                continue
            with self.lib.blobs.open(sha) as fh:
                data = fh.read(MAX_LESSON_BYTES + 1)
            check_lesson(data, self.lessons[sha], self.manifest, media=self.media)
        for sha in sorted(shas & self.images.keys()):
            if (sha, self.images[sha]) not in self.known:
                with self.lib.blobs.open(sha) as fh:
                    check_image_head(fh.read(HEAD_BYTES), self.images[sha])


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
    """Write a small file; made durable later by `_fsync_file` (see `_commit`)."""
    with open(path, "wb") as fh:
        fh.write(data)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(lib: PackLibrary, vp: VerifiedPack) -> InstalledPack:
    """Version folder, then CURRENT. Every file is written first and made durable after,
    in one pass just before the switch: one syncfs where the system has it (each fsync
    costs a flush of the device's cache: five of them took longer than the rest of a
    5 %-changed update), else one fsync each — on a journalling file system the first
    commits them all and the others find little left to do."""
    pack_dir = lib.packs_dir / vp.id
    previous = lib.current_version(vp.id)
    try:
        pack_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".v{vp.version}.", dir=pack_dir))
        final = pack_dir / str(vp.version)
        try:
            _write_file(tmp / "manifest.json", vp.manifest_bytes)
            _write_file(tmp / "manifest.sig", vp.sig_bytes)
            if final.exists():          # left over by an install that never went live
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        current_tmp = pack_dir / "CURRENT.tmp"
        _write_file(current_tmp, f"{vp.version}\n".encode("ascii"))
        if not lib.blobs.sync_fs(pack_dir):                    # all durable before …
            for path in (final / "manifest.json", final / "manifest.sig", current_tmp):
                _fsync_file(path)
            _fsync_dir(final)
            _fsync_dir(pack_dir)
        os.replace(current_tmp, pack_dir / "CURRENT")          # … the commit point
        _fsync_dir(pack_dir)
    except OSError as exc:
        raise PackInstallError(f"installing {vp.id} version {vp.version} failed: {exc}; the "
                               "previous version is still in use") from None
    try:                        # live now: what is left to do cannot undo that
        _cleanup(lib, vp.id, keep={vp.version, previous})
    except Exception as exc:    # noqa: BLE001 - logged; the next install cleans up
        log.warning("%s version %s is live; cleaning up older versions failed: %s",
                    vp.id, vp.version, exc)
    pack = lib.get(vp.id)
    assert pack is not None
    return pack


def _sound(lib: PackLibrary, vp: VerifiedPack, present: set[str]) -> set[str]:
    """The present blobs whose stored copy has the manifest's size. A loose file of
    another size that no longer hashes to its name is damaged: it goes, so that a read
    finds a packed copy or the copy this install brings — `commit` places no blob over a
    loose file. One that still does is intact: the signed manifest gives it the wrong
    size, and the pack is refused before anything changes (the live version may use the
    blob). Packed sizes come from a container's index, written from hash-checked bytes."""
    sizes = vp.blob_sizes
    sound = set()
    for sha in present:
        path = lib.blobs.path(sha)
        try:
            loose = os.stat(path).st_size
        except FileNotFoundError:
            loose = None
        if loose is not None and loose != sizes[sha]:
            if lib.blobs.intact(sha):
                raise PackVerifyError(f"blob for {_label(vp, sha)} has {loose} bytes, the "
                                      f"manifest says {sizes[sha]}: the pack is refused")
            log.warning("blob %s: %d bytes in the store, %d expected: damaged, replaced",
                        sha, loose, sizes[sha])
            path.unlink(missing_ok=True)
            if lib.blobs.size_if_present(sha) != sizes[sha]:
                continue
        sound.add(sha)
    return sound


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
    lib.blobs.collect(set(shas), refs)


def _cleanup(lib: PackLibrary, pack_id: str, keep: set[int | None]) -> None:
    """Drop versions older than the previous live one and the blobs only they used,
    then sweep what no installed version uses (`_sweep`).

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
        refs = _referenced(lib)
        for sha in candidates - refs:
            lib.blobs.remove(sha)
        lib.blobs.collect(candidates, refs)
    _sweep(lib)


#: a blob no installed version uses is swept once it is this old: a younger one may be
#: a network update's, downloaded (without the packs' lock) for an install still to come
SWEEP_AFTER_S = 2 * 24 * 3600


def _sweep(lib: PackLibrary, now: float | None = None) -> int:
    """Remove the blobs no installed manifest refers to, older than SWEEP_AFTER_S: what
    an install cut short between its blobs and its switch, a clean-up that failed, or an
    update refused or superseded before it went live left behind — `_cleanup` alone
    looks only at the versions it removes, so those would stay for ever. Nothing is
    swept while any installed manifest cannot be read (its blobs would look unused)."""
    refs: set[str] = set()
    for manifest_file in lib.packs_dir.glob("*/*/manifest.json"):
        if not manifest_file.parent.name.isdigit():     # a crashed install's temp folder
            continue
        try:
            refs |= {str(f["sha256"]) for f in json.loads(manifest_file.read_bytes())["files"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable (%s); unused blobs are kept", manifest_file, exc)
            return 0
    swept = lib.blobs.sweep(refs, (time.time() if now is None else now) - SWEEP_AFTER_S)
    if swept:
        log.info("%d blobs no installed pack uses were removed", swept)
    return swept
