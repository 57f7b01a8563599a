"""Installed packs on a device (docs/pack-format.md §4), read-only view for the app."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import PackError, PackInstallError, StoreError
from app.core.packs.blobs import BlobStore

_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: A file in a pack's folder: the server withdrew the pack, so the app hides it.
WITHDRAWN = "WITHDRAWN"


@dataclass(frozen=True)
class InstalledPack:
    id: str
    version: int
    manifest: dict[str, Any]
    dir: Path

    def file_entry(self, path: str) -> dict[str, Any] | None:
        for f in self.manifest["files"]:
            if f["path"] == path:
                return dict(f)
        return None


class PackLibrary:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.packs_dir = self.data_dir / "packs"
        self.blobs = BlobStore(self.data_dir / "blobs")
        self._cache: dict[tuple[str, int], InstalledPack] = {}

    def current_version(self, pack_id: str) -> int | None:
        if not _PACK_ID.match(pack_id):
            return None
        current = self.packs_dir / pack_id / "CURRENT"
        try:
            text = current.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise PackInstallError(f"{current}: cannot be read ({exc})") from None
        if not text.isdigit():
            raise PackInstallError(f"{current}: damaged (expected a version number)")
        return int(text)

    def get(self, pack_id: str) -> InstalledPack | None:
        version = self.current_version(pack_id)
        if version is None:
            return None
        key = (pack_id, version)
        if key not in self._cache:
            folder = self.packs_dir / pack_id / str(version)
            try:
                manifest = json.loads((folder / "manifest.json").read_bytes())
            except (OSError, ValueError) as exc:
                raise PackInstallError(f"{folder}/manifest.json cannot be read ({exc})") from None
            self._cache[key] = InstalledPack(pack_id, version, manifest, folder)
        return self._cache[key]

    def installed(self) -> list[InstalledPack]:
        if not self.packs_dir.is_dir():
            return []
        out = []
        for d in sorted(self.packs_dir.iterdir()):
            if d.is_dir() and (d / "CURRENT").is_file():
                pack = self.get(d.name)
                if pack is not None:
                    out.append(pack)
        return out

    # ----- withdrawn packs: installed but hidden (docs/sync-protocol.md, pack withdrawal)
    def _marker(self, pack_id: str) -> Path:
        if not _PACK_ID.match(pack_id):
            raise PackError(f"not a pack id: {pack_id[:80]!r}")
        return self.packs_dir / pack_id / WITHDRAWN

    def hidden(self) -> set[str]:
        """Installed packs the server withdrew: kept on disk (and reported at sync), not
        shown to learners."""
        return {p.id for p in self.installed() if (p.dir.parent / WITHDRAWN).is_file()}

    def hide(self, pack_id: str) -> bool:
        """Mark an installed pack withdrawn (False: not installed or hidden already)."""
        if self.current_version(pack_id) is None:
            return False
        marker = self._marker(pack_id)
        if marker.is_file():
            return False
        marker.write_text("withdrawn by the server\n", encoding="ascii")
        return True

    def show(self, pack_id: str) -> bool:
        """Undo ``hide`` (the server offers the pack again); False when it was not hidden."""
        marker = self._marker(pack_id)
        if not marker.is_file():
            return False
        marker.unlink()
        return True

    def _require(self, pack_id: str) -> InstalledPack:
        pack = self.get(pack_id)
        if pack is None:
            raise PackError(f"pack {pack_id!r} is not installed")
        return pack

    def _sha_of(self, pack_id: str, path: str) -> str:
        pack = self._require(pack_id)
        entry = pack.file_entry(path)
        if entry is None:
            raise PackError(f"pack {pack_id!r} version {pack.version} has no file {path!r}")
        sha: str = entry["sha256"]
        return sha

    def media_path(self, pack_id: str, path: str) -> Path:
        """File system path of a pack file (image) in the blob store (a blob kept in a
        container is copied out to its own file the first time)."""
        return self.blobs.file_path(self._sha_of(pack_id, path))

    def lesson(self, pack_id: str, path: str) -> dict[str, Any]:
        """A lesson JSON document (pack path from manifest ``lessons[].files[lang]``)."""
        sha = self._sha_of(pack_id, path)
        try:
            data = json.loads(self.blobs.read(sha))
        except (OSError, ValueError, StoreError) as exc:
            raise PackError(f"lesson {path!r} of pack {pack_id!r} cannot be read ({exc})"
                            ) from None
        if not isinstance(data, dict):
            raise PackError(f"lesson {path!r} of pack {pack_id!r} is not a JSON object")
        return data

    def missing_blobs(self, manifest: dict[str, Any]) -> list[dict[str, Any]]:
        """File entries whose blob the store lacks: one entry per distinct sha256."""
        seen: set[str] = set()
        out = []
        have = self.blobs.present(f["sha256"] for f in manifest.get("files", []))
        for f in manifest.get("files", []):
            sha = f["sha256"]
            if sha not in seen and sha not in have:
                seen.add(sha)
                out.append(dict(f))
        return out
