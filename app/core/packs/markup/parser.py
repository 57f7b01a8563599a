"""The one Markdown parser of pack text (markdown-it-py, CommonMark + GFM tables and
strikethrough, raw HTML *off*), and the detector of raw HTML that authors are told about.

With raw HTML off, ``<b>`` or ``if a<b and c>d`` is plain text: nothing an author writes
can become an HTML element, so the safety of the output never depends on telling HTML
from text. Telling them apart only matters for *authoring* feedback ("write Markdown, not
HTML"), which ``raw_html`` gives by parsing a second time with HTML on and keeping only
what is clearly HTML (a known element that is closed, void, has attribute values, …).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

#: Every link and image becomes a token; the policy (not markdown-it's own list of bad
#: schemes) decides what survives, so a ``javascript:`` link is reported, never dropped.
_SAFE = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}
                   ).enable(["table", "strikethrough"])
_SAFE.validateLink = lambda url: True  # type: ignore[method-assign]
_LINT = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_LINT.validateLink = lambda url: True  # type: ignore[method-assign]

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^>]*)>", re.S)
#: HTML element names (WHATWG), SVG/MathML roots and obsolete elements browsers still know
HTML_ELEMENTS = frozenset(["a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio", "b", "base", "basefont", "bdi", "bdo", "bgsound", "big", "blink", "blockquote", "body", "br", "button", "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data", "datalist", "dd", "del", "details", "dfn", "dialog", "dir", "div", "dl", "dt", "em", "embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "image", "img", "input", "ins", "isindex", "kbd", "keygen", "label", "legend", "li", "link", "listing", "main", "map", "mark", "marquee", "math", "menu", "menuitem", "meta", "meter", "nav", "nobr", "noembed", "noframes", "noscript", "object", "ol", "optgroup", "option", "output", "p", "param", "picture", "plaintext", "portal", "pre", "progress", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "script", "search", "section", "select", "slot", "small", "source", "spacer", "span", "strike", "strong", "style", "sub", "summary", "sup", "svg", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title", "tr", "track", "tt", "u", "ul", "var", "video", "wbr", "xmp"])
_VOID = frozenset(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr", "image", "keygen", "isindex"])


def parse(text: str) -> SyntaxTreeNode:
    """The syntax tree of ``text`` (reference definitions resolved and dropped)."""
    return SyntaxTreeNode(_SAFE.parse(text))


def shown_url(href: str) -> str:
    """A link target as a person reads it (percent-escapes decoded)."""
    return _SAFE.normalizeLinkText(href)


def raw_html(text: str) -> tuple[tuple[int, str], ...]:
    """(1-based line, what) of each piece of raw HTML an HTML-aware reader would see.

    ``what`` is the tag (``<p>``, ``</b>``) or ``<!--``. Text such as ``if a<b and c>d``
    (an unknown or unclosed tag without attribute values) is not reported.
    """
    if "<" not in text:
        return ()
    found: list[tuple[int, str]] = []
    pieces: list[tuple[int, str]] = []
    for token in _LINT.parse(text):
        line = (token.map[0] if token.map else 0) + 1
        if token.type == "html_block":
            pieces.append((line, token.content))
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "html_inline":
                pieces.append((line, child.content))
    closed = {m.group(2).lower() for _, s in pieces for m in _TAG.finditer(s) if m.group(1)}
    for line, content in pieces:
        what = _html_piece(content.lstrip(), closed)
        if what:
            found.append((line, what))
    return tuple(found)


def _html_piece(content: str, closed: set[str]) -> str | None:
    if content.startswith(("<!--", "<?", "<!", "<![CDATA[")):
        return content[:4] if content.startswith("<!--") else content[:2]
    m = _TAG.match(content)
    if m is None:
        return None
    slash, name, rest = m.group(1), m.group(2).lower(), m.group(3)
    if name not in HTML_ELEMENTS and "=" not in rest:
        return None
    if slash or "=" in rest or rest.rstrip().endswith("/") or name in _VOID \
            or name in closed or name in ("script", "style", "iframe", "object", "svg"):
        return f"<{slash}{name}>"
    return None
