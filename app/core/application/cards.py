"""A lesson card as the reader shows it: Markdown blocks and pack images, and the
in-pack ``lesson:`` links between cards.

The card goes through the pack-text sanitiser (``app.core.packs.markup``) again, even
though install checked it: only pack images in their own paragraph survive as images
(anything else, e.g. a remote URL, is shown as its alt text: the app never fetches it),
only ``lesson:`` links stay links, and no text can become HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.packs.markup import split_images

_LESSON_LINK = re.compile(r"^lesson:([a-z0-9][a-z0-9_-]{0,63})/([a-z0-9][a-z0-9_-]{0,63})"
                          r"(?:#([A-Za-z0-9_-]{1,128}))?$")


@dataclass(frozen=True)
class Block:
    """A piece of a lesson card: Markdown text, or a pack image shown on its own line."""

    kind: str          # "markdown" | "image"
    text: str          # markdown source, or the image's alt text
    path: str = ""     # pack path of the image (media/…)


def card_blocks(markdown: str) -> list[Block]:
    """Split card Markdown at its images so each image is served from the pack."""
    return [Block(kind, text, path) for kind, text, path in split_images(markdown)]


def lesson_link_target(href: str) -> tuple[str, str, str] | None:
    """``lesson:<course>/<lesson>#<anchor>`` → (course, lesson, anchor); else None."""
    m = _LESSON_LINK.match(href or "")
    return (m.group(1), m.group(2), m.group(3) or "") if m else None
