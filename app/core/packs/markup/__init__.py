"""The one sanitiser for all pack text: parse with markdown-it (raw HTML off), render
back to one canonical Markdown in which only allowed links and images survive.

Used by the builder (errors with file and line), by pack verification and install on
devices and the server (a pack with unsafe text is refused), and by the app before it
renders any pack text. See ``policy`` for the rules, ``render`` for the escaping.
"""

from app.core.packs.markup.chars import first_forbidden, without_forbidden
from app.core.packs.markup.parser import parse, raw_html, shown_url
from app.core.packs.markup.policy import (
    IMAGE_EXTENSIONS,
    LESSON_LINK,
    PACK_IMAGE,
    Finding,
    Kind,
    Result,
    Rules,
    SourceRules,
    bad_scheme,
    check,
    check_plain,
    plain,
    safe_markdown,
    sanitize,
    sanitize_nodes,
    scheme_of,
    shown,
    split_images,
    text_findings,
)
from app.core.packs.markup.render import Link, escape, plain_text

__all__ = ["IMAGE_EXTENSIONS", "LESSON_LINK", "PACK_IMAGE", "Finding", "Kind", "Link",
           "Result", "Rules", "SourceRules", "bad_scheme", "check", "check_plain", "escape",
           "first_forbidden", "parse", "plain", "plain_text", "raw_html", "safe_markdown",
           "sanitize", "sanitize_nodes", "scheme_of", "shown", "shown_url", "split_images",
           "text_findings", "without_forbidden"]
