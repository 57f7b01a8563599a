"""Pack updates over the network: the content-addressed delta download.

For each catalogue entry newer than what is installed:

1. manifest + signature (exact bytes) → signature by a trusted key, manifest checks, id
   and version equal to the catalogue's, version strictly greater than installed (no
   rollback) — all *before* a single blob is fetched;
2. the blobs the device lacks (`PackLibrary.missing_blobs`: files unchanged since the
   installed version are already in the store → the delta is free) — after a free-space
   check — each into `BlobStore.partial_path(sha)` with HTTP Range resume, then
   hash-checked into a `BlobBatch` (a tampered blob is deleted and the update stops);
   the batch is made durable with one flush and moved into the store — also when a
   later blob fails, so nothing verified is fetched again;
3. `install_from_blobs` — the same verify-and-switch installer as the USB side-load,
   which checks presence and size of every blob and the content of what is new, and
   hashes nothing again: the old version stays live until CURRENT is replaced
   atomically. So an update costs what changed, not the size of the pack.

A failure of one pack is reported (PackOutcome "failed"/"refused") and never touches the
installed version; other packs still update. Network failures propagate (SyncError) so
the whole sync is retried later — partial files stay and the next try resumes them.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable
from typing import Any

from app.core.application.sync import PhaseProgress
from app.core.application.sync_report import PackOutcome
from app.core.errors import PackError, SyncError, SyncProtocolError
from app.core.packs import PackLibrary, TrustedKeys, install_from_blobs
from app.core.packs.limits import DISK_MARGIN, MAX_MANIFEST_BYTES
from app.core.packs.verify import check_rollback, check_signature, parse_manifest
from app.sync.transport import Transport

_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_SIG_BYTES = 64 * 1024
MAX_WITHDRAWN = 10_000


class PackUpdater:
    def __init__(self, library: PackLibrary, trusted: TrustedKeys, *,
                 disk_usage: Callable[[str], Any] = shutil.disk_usage) -> None:
        self.library = library
        self.trusted = trusted
        self.disk_usage = disk_usage
        self.withdrawn: list[str] = []

    def catalogue(self, t: Transport) -> list[dict[str, Any]]:
        answer = t.call("GET", "/api/v1/packs")
        packs = answer.get("packs") if isinstance(answer, dict) else None
        if not isinstance(packs, list):
            raise SyncProtocolError("packs: expected {\"packs\": [...]}")
        self.withdrawn = self._withdrawn(answer.get("withdrawn", []))
        out = []
        for i, entry in enumerate(packs):
            where = f"packs[{i}]"
            if not isinstance(entry, dict):
                raise SyncProtocolError(f"{where}: expected an object")
            pid, version = entry.get("id"), entry.get("version")
            if not isinstance(pid, str) or not _PACK_ID.match(pid):
                raise SyncProtocolError(f"{where}.id: not a pack id: {str(pid)[:80]!r}")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise SyncProtocolError(f"{where}.version: expected an integer >= 1")
            base = f"/api/v1/packs/{pid}/{version}/"
            for key in ("manifest_url", "signature_url"):
                url = entry.get(key)
                # only same-server paths of this pack: a catalogue cannot send us elsewhere
                if not isinstance(url, str) or not url.startswith(base) or ".." in url \
                        or "?" in url or "#" in url:
                    raise SyncProtocolError(f"{where}.{key}: expected a path under {base}")
            out.append(entry)
        return out

    @staticmethod
    def _withdrawn(value: Any) -> list[str]:
        """The catalogue's ``withdrawn`` pack ids (absent on older servers = none)."""
        if not isinstance(value, list) or len(value) > MAX_WITHDRAWN:
            raise SyncProtocolError(f"packs: withdrawn: expected a list of at most "
                                    f"{MAX_WITHDRAWN} pack ids")
        for i, pid in enumerate(value):
            if not isinstance(pid, str) or not _PACK_ID.match(pid):
                raise SyncProtocolError(f"withdrawn[{i}]: not a pack id: {str(pid)[:80]!r}")
        return list(value)

    def apply_withdrawals(self, entries: list[dict[str, Any]]) -> None:
        """Hide the installed packs the server withdrew; show again a hidden pack the
        catalogue offers (republished). Nothing is deleted: progress events stay and a
        republished version installs as usual."""
        offered = {e["id"] for e in entries}
        for pid in self.withdrawn:
            if pid not in offered:
                self.library.hide(pid)
        for pid in offered:
            self.library.show(pid)

    def update(self, t: Transport, progress: PhaseProgress) -> list[PackOutcome]:
        entries = self.catalogue(t)
        self.apply_withdrawals(entries)
        outcomes = []
        for n, entry in enumerate(entries):
            progress("packs", n, len(entries))
            outcomes.append(self.update_one(t, entry, progress))
        progress("packs", len(entries), len(entries))
        if not any(o.status == "failed" for o in outcomes):
            self._clear_partials()
        return outcomes

    def _clear_partials(self) -> None:
        """Every offered version is installed: no partial download can be resumed any
        more (e.g. a version that was replaced before it finished) — free the space."""
        folder = self.library.blobs.root / "partial"
        if folder.is_dir():
            for part in folder.iterdir():
                with contextlib.suppress(OSError):
                    part.unlink()

    def update_one(self, t: Transport, entry: dict[str, Any], progress: PhaseProgress) -> PackOutcome:
        pid, version = entry["id"], entry["version"]
        outcome = PackOutcome(pid, version, "up_to_date")
        try:
            installed = self.library.current_version(pid)
            if installed is not None and version == installed:
                return outcome
            if installed is not None and version < installed:
                outcome.status = "refused"
                outcome.detail = (f"rollback: the server offers version {version}, "
                                  f"version {installed} is installed")
                return outcome
            manifest_bytes = t.get_bytes(entry["manifest_url"], limit=MAX_MANIFEST_BYTES)
            sig_bytes = t.get_bytes(entry["signature_url"], limit=MAX_SIG_BYTES)
            check_signature(manifest_bytes, sig_bytes, self.trusted)
            manifest = parse_manifest(manifest_bytes)
            if manifest.get("id") != pid or manifest.get("version") != version:
                outcome.status = "refused"
                outcome.detail = (f"the signed manifest is {manifest.get('id')} version "
                                  f"{manifest.get('version')}, the catalogue said {pid} "
                                  f"version {version}")
                return outcome
            check_rollback(manifest, installed)
            self._download(t, manifest, outcome, progress)
            progress("install", 0, 1)
            install_from_blobs(manifest_bytes, sig_bytes, self.library.data_dir, self.trusted,
                               disk_usage=self.disk_usage)
            progress("install", 1, 1)
            outcome.status = "installed"
        except SyncError:
            raise
        except PackError as exc:
            outcome.status = "failed"
            outcome.detail = str(exc)
        return outcome

    def _download(self, t: Transport, manifest: dict[str, Any], outcome: PackOutcome,
                  progress: PhaseProgress) -> None:
        blobs = self.library.blobs
        missing = self.library.missing_blobs(manifest)
        total = sum(int(f["size"]) for f in missing)
        have = 0
        for f in missing:
            part = blobs.partial_path(f["sha256"])
            if part.is_file():
                have += min(part.stat().st_size, int(f["size"]))
        self._check_space(total - have)
        done = have

        def on_bytes(n: int) -> None:
            nonlocal done
            done += n
            outcome.bytes_downloaded += n
            progress("download", done, total)

        progress("download", done, total)
        batch = blobs.batch()
        try:
            for f in missing:
                sha, size = f["sha256"], int(f["size"])
                part = blobs.partial_path(sha)
                t.download(f"/api/v1/blobs/{sha}", part, size, on_bytes)
                batch.adopt_partial(sha, size)   # PackVerifyError (partial deleted) if tampered
                outcome.blobs_downloaded += 1
        except BaseException:
            with contextlib.suppress(PackError):
                batch.commit()                   # what was verified stays, durably
            raise
        batch.commit()

    def _check_space(self, need: int) -> None:
        from app.core.errors import PackInstallError
        probe = self.library.data_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = int(self.disk_usage(str(probe)).free)
        if free < need + DISK_MARGIN:
            mib = 1024 * 1024
            raise PackInstallError(f"not enough free disk space to download the update: needs "
                                   f"{need / mib:.1f} MiB + {DISK_MARGIN // mib} MiB margin, "
                                   f"{free / mib:.1f} MiB free")
