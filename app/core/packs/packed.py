"""The blob store's containers (``<blobs>/packed/``): which blobs they hold and where,
and their collection when installs drop blobs.

A container (containers.py: the file format) is never changed once in ``packed/``; a
blob that leaves one is listed in ``<container>.dead`` (written atomically), and a
container left at most half alive is rewritten with its live blobs by the blob store
(`repack`, a batch like any install: durable first, then the old one deleted).

The listing of ``packed/`` (a few names) is read at each look: another BlobStore object
or process may have changed it, and a cached answer could name a blob that was collected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from app.core.errors import PackError
from app.core.packs.blob_ids import check_sha
from app.core.packs.containers import is_container, read_index
from app.core.packs.durability import fsync_path

log = logging.getLogger("app.core.packs.blobs")

PACKED = "packed"
DEAD_SUFFIX = ".dead"

#: (container, offset, size) of a packed blob
Location = tuple[Path, int, int]
#: rewrite a container with only these of its blobs (index: sha -> (offset, size))
Repack = Callable[[Path, dict[str, tuple[int, int]], list[str]], None]


class PackedBlobs:
    def __init__(self, root: Path, *, fsync: bool) -> None:
        self.folder = root / PACKED
        self.fsync = fsync
        self._packed: dict[str, Location] = {}                 # sha -> container, off, size
        self._containers: dict[str, list[str]] = {}            # container -> live shas
        self._listing: dict[str, int] | None = None            # packed/ when last read

    def find(self, sha: str) -> Location | None:
        """Where a packed blob is, as ``packed/`` says now."""
        check_sha(sha)
        self.scan()
        return self._packed.get(sha)

    def shas(self) -> set[str]:
        """Every packed blob, as ``packed/`` says now."""
        self.scan()
        return set(self._packed)

    def scan(self) -> bool:
        """Load the indexes of containers added since the last look, forget removed ones.
        True when something changed."""
        try:
            listing = {e.name: e.stat().st_mtime_ns for e in os.scandir(self.folder)}
        except FileNotFoundError:
            listing = {}
        stamp = {n: t for n, t in listing.items() if is_container(Path(n))
                 or n.endswith(DEAD_SUFFIX)}
        if stamp == self._listing:
            return False
        self._listing = stamp
        self._packed, self._containers = {}, {}
        for name in sorted(n for n in stamp if is_container(Path(n))):
            path = self.folder / name
            try:
                index = read_index(path)
                dead = _read_dead(self.folder / (name + DEAD_SUFFIX))
            except (OSError, ValueError) as exc:
                log.warning("blob container ignored: %s", exc)
                continue
            live = [sha for sha in index if sha not in dead]
            self._containers[name] = live
            for sha in live:
                offset, size = index[sha]
                self._packed.setdefault(sha, (path, offset, size))
        return True

    def written_before(self, moment: float) -> set[str]:
        """The live blobs of containers last written before `moment` (seconds since the
        epoch)."""
        self.scan()
        cutoff = int(moment * 1e9)
        return {sha for name, live in self._containers.items()
                if (self._listing or {}).get(name, cutoff) < cutoff for sha in live}

    def leftovers(self, moment: float) -> list[Path]:
        """Files of ``packed/`` no reader uses, older than `moment`: half-written dead
        lists (a crash before their rename) and the dead list of a container gone."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        names = {e.name for e in entries}
        out = []
        for entry in entries:
            stale = entry.name.startswith(".") and f"{DEAD_SUFFIX}.tmp-" in entry.name
            orphan = entry.name.endswith(DEAD_SUFFIX) and \
                entry.name[:-len(DEAD_SUFFIX)] not in names
            with contextlib.suppress(OSError):
                if (stale or orphan) and entry.stat().st_mtime < moment:
                    out.append(Path(entry.path))
        return out

    def collect(self, candidates: set[str], referenced: set[str], repack: Repack) -> None:
        """Blobs in `candidates` and not in `referenced` leave the containers: a container
        with nothing else left is deleted; one left at most half alive is rewritten with
        its live blobs (`repack`); otherwise the leavers are listed in
        ``<container>.dead`` (written atomically) and no longer found."""
        self.scan()
        folder = self.folder
        changed = False
        for name, live in list(self._containers.items()):
            leaving = {sha for sha in live if sha in candidates and sha not in referenced}
            if not leaving:
                continue
            path = folder / name
            changed = True
            try:
                index = read_index(path)
                staying = [sha for sha in live if sha not in leaving]
                if not staying:
                    unlink_quietly(path, folder / (name + DEAD_SUFFIX))
                    continue
                total = sum(index[sha][1] for sha in index)
                if 2 * sum(index[sha][1] for sha in staying) <= total:
                    repack(path, index, staying)
                    continue
                dead = sorted(set(index) - set(staying))
                tmp = folder / f".{name}{DEAD_SUFFIX}.tmp-{secrets.token_hex(4)}"
                tmp.write_text(json.dumps(dead))
                if self.fsync:
                    fsync_path(tmp)
                os.replace(tmp, folder / (name + DEAD_SUFFIX))
            except (OSError, ValueError, PackError) as exc:   # space not reclaimed; no harm
                log.warning("could not collect blobs of %s: %s", path, exc)
        if changed and self.fsync and folder.is_dir():
            with contextlib.suppress(OSError):
                fsync_path(folder)
        self.scan()


def _read_dead(path: Path) -> set[str]:
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
        raise ValueError(f"{path}: expected a list of blob ids")
    return set(found)


def unlink_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
