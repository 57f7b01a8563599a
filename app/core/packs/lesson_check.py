"""The device's re-check of every text of a built pack (defence in depth).

The builder already sanitises all pack text, but a device must not trust that a pack
signed by a trusted key was made by *our* builder (or by a current one): every string of
the manifest and every lesson card is checked again with the same sanitiser
(``app.core.packs.markup``), and a pack with raw HTML, a remote or non-pack image, a live
link, or a control/bidi character is refused with a message naming the file, the field or
card, and the problem. Runs in verification step 4 (manifest) and before install (lessons).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from app.core.errors import PackVerifyError
from app.core.packs.markup import Finding, Kind, check
from app.core.packs.media import media_files

MAX_LESSON_BYTES = 4 * 1024 * 1024
#: quiz texts the app renders as Markdown; every other manifest string is plain text
_RICH_FIELD = re.compile(r"^courses\[\d+\]\.quiz\.questions\[\d+\](?:\.parts\[\d+\])?"
                         r"\.(?:case|explanation)\.[^.\[]+$")


def lesson_shas(manifest: dict[str, Any]) -> dict[str, str]:
    """sha256 → pack path of every lesson file listed in the manifest."""
    return {f["sha256"]: f["path"] for f in manifest["files"]
            if f["path"].startswith("lessons/") and f["path"].endswith(".json")}


def media_paths(manifest: dict[str, Any]) -> set[str]:
    return {f["path"] for f in manifest["files"] if f["path"].startswith("media/")}


def _first(findings: list[Finding]) -> str | None:
    return findings[0].message if findings else None


#: keys of a ``files`` entry whose values check_manifest already held to a strict form
#: (a clean ASCII path, 64 hex digits): the text rules have nothing to add there, and a
#: pack of 3,000 files would run them 6,000 times for nothing
_FILE_FIELDS = frozenset({"path", "sha256", "size"})


def check_manifest_text(manifest: dict[str, Any]) -> None:
    """Every string of the manifest (titles, descriptions, quiz texts, labels, …) — the
    file list's paths and hashes aside (already checked for their strict form; any other
    field of a file entry is checked like all text). Call after check_manifest."""
    media_files(manifest)           # media/ paths: only the image types the app shows
    files = manifest.get("files")
    if isinstance(files, list):
        manifest = {**manifest, "files": [
            {k: v for k, v in f.items() if k not in _FILE_FIELDS} if isinstance(f, dict)
            else f for f in files]}
    for path, text in _strings(manifest):
        kind = Kind.RICH if _RICH_FIELD.match(path) else Kind.PLAIN
        problem = _first(check(text, kind))
        if problem:
            raise PackVerifyError(f"manifest field {path}: {problem}")


def _strings(doc: Any) -> Iterator[tuple[str, str]]:
    """(field path, value) of every string in a JSON document, keys included; iterative,
    so a deeply nested manifest cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path or "(root)", value
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                sub = f"{path}.{key}" if path else str(key)
                yield sub + " (name)", str(key)
                stack.append((sub, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))


def check_lesson(data: bytes, path: str, manifest: dict[str, Any], *,
                 media: set[str] | None = None) -> None:
    """Refuse a lesson file that is not JSON of the lesson shape, or whose titles or cards
    fail the text rules (``media``: precomputed ``media_paths(manifest)``)."""
    if len(data) > MAX_LESSON_BYTES:
        raise PackVerifyError(f"lesson {path} is {len(data)} bytes; the limit is "
                              f"{MAX_LESSON_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PackVerifyError(f"lesson {path} is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("title"), str) \
            or not isinstance(doc.get("cards"), list) or not isinstance(doc.get("toc"), list):
        raise PackVerifyError(f"lesson {path} lacks title, toc or cards")
    if media is None:
        media = media_paths(manifest)
    problem = _first(check(doc["title"], Kind.PLAIN))
    if problem:
        raise PackVerifyError(f"lesson {path} title: {problem}")
    for i, entry in enumerate(doc["toc"], start=1):
        title = entry.get("title") if isinstance(entry, dict) else None
        problem = _first(check(title, Kind.PLAIN)) if isinstance(title, str) else None
        if problem:
            raise PackVerifyError(f"lesson {path} toc entry {i}: {problem}")
    for i, card in enumerate(doc["cards"], start=1):
        if not isinstance(card, dict) or not all(isinstance(card.get(k), str)
                                                 for k in ("title", "anchor", "markdown")):
            raise PackVerifyError(f"lesson {path} card {i} lacks title, anchor or markdown")
        problem = _first(check(card["title"], Kind.PLAIN)) or _first(
            check(card["markdown"], Kind.LESSON, media=media))
        if problem:
            raise PackVerifyError(f"lesson {path} card {i}: {problem}")
