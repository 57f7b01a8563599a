"""Pack images: PNG, JPEG, GIF and WebP only, recognised by their content.

Why no SVG: an SVG is a program-like XML document (scripts, event handlers, external
references, CSS ``url()``, entity expansion); sanitising one means writing and keeping
up an XML/CSS sanitiser, and no pack uses SVG (the content packs' diagrams are PNGs made
by tools/diagrams.py). Refusing SVG at build *and* at install is the smallest safe rule.

Why look at the content: the file extension decides how the app serves an image, but an
SVG or HTML file renamed ``x.png`` must not reach a device either. Only the magic bytes
are checked (a PNG called ``x.jpg`` is still an image and still displays).
"""

from __future__ import annotations

from typing import Any

from app.core.errors import PackVerifyError
from app.core.packs.markup import IMAGE_EXTENSIONS

#: bytes an image check needs from the start of a file
HEAD_BYTES = 16


def image_type(head: bytes) -> str | None:
    """"png", "jpeg", "gif" or "webp" from the first bytes of a file, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def media_files(manifest: dict[str, Any]) -> dict[str, str]:
    """sha256 → pack path of every media file; refuses a media path that is not an image
    type the app shows (``media/x.svg``, ``media/x.html``)."""
    out: dict[str, str] = {}
    for f in manifest["files"]:
        path = f["path"]
        if not path.startswith("media/"):
            continue
        if not path.lower().endswith(IMAGE_EXTENSIONS):
            raise PackVerifyError(f"media file {path[:80]} is not a PNG, JPEG, GIF or WebP "
                                  "image (SVG and other types are refused)")
        out.setdefault(f["sha256"], path)
    return out


def check_image_head(head: bytes, path: str) -> None:
    if image_type(head) is None:
        raise PackVerifyError(f"media file {path[:80]} is not an image (its content is not "
                              "PNG, JPEG, GIF or WebP)")
