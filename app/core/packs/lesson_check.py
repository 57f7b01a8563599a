"""Check built lesson files when a pack is verified or installed (defence in depth).

The builder already normalises Markdown, but a device must not trust that a pack signed
by a trusted key was made by *our* builder: a lesson file with raw HTML (``<script>``)
or a remote image (which Flet's Markdown control would fetch, breaking "no remote
fetches") is refused at install with a message naming the lesson and card.
"""

from __future__ import annotations

import json
from typing import Any

import markdown

from app.core.errors import PackVerifyError
from app.core.packs.lessons import ALLOWED_TAGS, HtmlScan

MAX_LESSON_BYTES = 4 * 1024 * 1024
_LINK_PREFIXES = ("lesson:", "http://", "https://", "mailto:")


def lesson_shas(manifest: dict[str, Any]) -> dict[str, str]:
    """sha256 → pack path of every lesson file listed in the manifest."""
    return {f["sha256"]: f["path"] for f in manifest["files"]
            if f["path"].startswith("lessons/") and f["path"].endswith(".json")}


def media_paths(manifest: dict[str, Any]) -> set[str]:
    return {f["path"] for f in manifest["files"] if f["path"].startswith("media/")}


def check_lesson(data: bytes, path: str, manifest: dict[str, Any], *,
                 media: set[str] | None = None) -> None:
    """Refuse a lesson file with raw HTML, foreign images or links (``media``: precomputed
    ``media_paths(manifest)`` when checking many lessons)."""
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
    for i, card in enumerate(doc["cards"], start=1):
        if not isinstance(card, dict) or not all(isinstance(card.get(k), str)
                                                 for k in ("title", "anchor", "markdown")):
            raise PackVerifyError(f"lesson {path} card {i} lacks title, anchor or markdown")
        scan = HtmlScan()
        scan.feed(markdown.markdown(card["markdown"], extensions=["tables", "fenced_code"]))
        bad = sorted(scan.tags - ALLOWED_TAGS)
        if bad:
            raise PackVerifyError(f"lesson {path} card {i} contains raw HTML <{bad[0]}>; "
                                  "lessons may only hold Markdown")
        for src in scan.images:
            if src not in media:
                raise PackVerifyError(f"lesson {path} card {i} shows image {src[:80]!r} that "
                                      "is not a file of the pack (remote images are refused)")
        for href in scan.links:
            if not href.lower().startswith(_LINK_PREFIXES):
                raise PackVerifyError(f"lesson {path} card {i} has a link {href[:80]!r} with "
                                      "an unsupported scheme")
