"""The installed content of a tablet, as the learning engine and the screens need it.

One :class:`InstalledContent` per tablet wraps the pack library (app/core/packs/library.py)
and keeps the learning :class:`~app.core.learning.Catalog` of the live pack versions,
rebuilt only when an install or update changed them (a pack may arrive by background
sync while a learner reads: the session notices the new catalog and reloads its engines).

Invariant: only pack *images* (``media/…``) are handed out as files; lesson files reach
the screens through the engine (sanitised), never as raw files.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ShiftError, StoreError
from app.core.learning import Catalog
from app.core.packs import PackLibrary

_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class PackLicence:
    """What "About and licences" says about one installed pack."""

    title: dict[str, str]        # language → title (at least one entry)
    licence: str
    authors: list[str]


class InstalledContent:
    """Manifests, catalog, lesson files and images of the installed packs."""

    def __init__(self, library: PackLibrary) -> None:
        self.library = library
        self._lock = threading.RLock()
        self._catalog: Catalog | None = None
        self._catalog_key: tuple[tuple[str, int], ...] | None = None

    def manifests(self) -> list[dict[str, Any]]:
        """Manifests of the live version of every installed pack the server has not
        withdrawn (a withdrawn pack stays on disk, hidden; the learners' events stay)."""
        hidden = self.library.hidden()
        return [pack.manifest for pack in self.library.installed() if pack.id not in hidden]

    def catalog(self) -> Catalog:
        """The learning Catalog of the installed packs, rebuilt when a pack changes
        (the same object until then: callers compare identity to notice a change)."""
        with self._lock:
            manifests = self.manifests()
            key = tuple(sorted((str(m.get("id")), int(m.get("version", 0)))
                               for m in manifests))
            if self._catalog is None or key != self._catalog_key:
                self._catalog = Catalog.from_manifests(manifests)
                self._catalog_key = key
            return self._catalog

    def load_lesson(self, pack_id: str, path: str) -> dict[str, Any]:
        """A lesson file of an installed pack (the engine's ``load_lesson``)."""
        body = self.library.lesson(pack_id, path)
        if not isinstance(body, dict):
            raise StoreError(f"{pack_id}: {path}: lesson file is not an object")
        return body

    def media_file(self, pack_id: str, path: str) -> Path | None:
        """The installed file of a pack's media path, or None (unknown pack/path)."""
        if not _PACK_ID.match(pack_id) or ".." in path.split("/") \
                or not path.startswith("media/"):
            return None  # only pack images are served; lesson files go through the engine
        try:
            file = self.library.media_path(pack_id, path)
        except ShiftError:
            return None
        return file if file.is_file() else None

    def licences(self) -> list[PackLicence]:
        """Title, licence and authors of every installed pack, for "About"."""
        out = []
        for m in self.manifests():
            title = m.get("title")
            if not isinstance(title, dict) or not title:
                title = {str(m.get("id", "?")): str(m.get("id", "?"))}
            out.append(PackLicence(title={str(k): str(v) for k, v in title.items()},
                                   licence=str(m.get("licence") or ""),
                                   authors=[str(a) for a in m.get("authors") or []]))
        return out
