"""Syntax tree → Markdown, in one canonical, safe form.

Every piece of text is escaped so that a CommonMark/GFM reader (markdown-it here, the Dart
``markdown`` package behind Flet's Markdown control on the tablet) reads it back as the
same text: ``\\ ` * _ [ ] < ~ | $`` always, ``&`` when it would start an entity, ``!``
before a link, and ``# > - + =`` and ``1.`` where they would start a block. The only
unescaped syntax in the output is what the renderer writes itself from the tree:
emphasis, code, lists, quotes, tables, headings and the links/images the policy let
through. So no text can turn into a link, an image, an autolink or raw HTML, whatever it
was in the source.

Choices that keep the author's Markdown recognisable: list markers, ordered-list numbers
and the line breaks of paragraphs are kept; code blocks are always fenced; headings are
always ``#``-style; emphasis is always ``*``/``**``; hard breaks are ``\\`` + newline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from markdown_it.tree import SyntaxTreeNode

from app.core.packs.markup.chars import first_forbidden, without_forbidden
from app.core.packs.markup.parser import parse

_ALWAYS = re.compile(r"([\\`*_\[\]<~|$])")
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
#: what would start a block at the beginning of a line of a paragraph: a quote, a heading,
#: a list item, a thematic break, a setext underline or a table (checked on whole output lines, so
#: it does not matter how the text was split into nodes)
_BLOCK_START = re.compile(r"^(?:>|#{1,6}(?=[ \t]|$)|[-+](?=[ \t]|$)|[-=](?=[-= \t]*$)"
                          r"|[-:](?=[-:|\\ \t]*$))")     # the last: a table's delimiter row
_ORDERED_START = re.compile(r"^(\d{1,9})([.)])(?=[ \t]|$)")
_WS_EDGE = re.compile(r"^\s|\s$")
_TRAILING_WS = re.compile(r"[ \t]+\n")
_FENCE_INFO = re.compile(r"[^A-Za-z0-9_+.#-]")
_BULLETS = "-*+"


@dataclass(frozen=True)
class Link:
    """What becomes of a link: kept with ``href``, or shown as its label (+ ``shown``)."""

    href: str | None = None
    shown: str | None = None


#: (target, line) → what becomes of the link
LinkRule = Callable[[str, int], Link]
#: (src, line, stands in a top-level paragraph) → the src to keep, or None (alt text shown)
ImageRule = Callable[[str, int, bool], "str | None"]


def escape(text: str, *, line_start: bool = False) -> str:
    """``text`` as Markdown that reads back as exactly this text (``line_start``: the
    text is a whole line of a paragraph, see ``escape_line_start``)."""
    out = _ENTITY.sub(r"\\&", _ALWAYS.sub(r"\\\1", text))
    return escape_line_start(out) if line_start else out


def escape_line_start(line: str) -> str:
    """A rendered paragraph line that cannot start a block."""
    line = _BLOCK_START.sub(lambda m: "\\" + m.group(), line, count=1)
    return _ORDERED_START.sub(r"\1\\\2", line, count=1)


def code_span(content: str, *, in_table: bool = False) -> str:
    runs = {len(r) for r in re.findall(r"`+", content)}
    n = 1
    while n in runs:
        n += 1
    fence = "`" * n
    pad = content.startswith("`") or content.endswith("`") or (
        content.startswith(" ") and content.endswith(" ") and content.strip(" ") != "")
    if in_table:
        content = content.replace("|", "\\|")
    return f"{fence} {content} {fence}" if pad else f"{fence}{content}{fence}"


def plain_text(node: SyntaxTreeNode) -> str:
    """The text a reader sees in an inline node (no markup; image alt texts included)."""
    parts: list[str] = []
    for child in node.children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(plain_text(child))
    return "".join(parts)


def _tidy(out: str) -> str:
    """A paragraph's text without the white space a reader drops (at its ends, Unicode
    included, and before line breaks) and without a hard break that ends it."""
    out = _TRAILING_WS.sub("\n", out).strip()
    while out.endswith("\\") and (len(out) - len(out.rstrip("\\"))) % 2:
        out = out[:-1].rstrip()
    return out


def _has_emphasis(node: SyntaxTreeNode) -> bool:
    return any(c.type in ("em", "strong", "s") or _has_emphasis(c) for c in node.children)


def _keep_link(href: str, line: int) -> Link:
    return Link(href=href)


def _keep_image(src: str, line: int, alone: bool) -> str | None:
    return src


def _unescaped_bang(out: str) -> bool:
    """``out`` ends with a ``!`` that is not itself escaped."""
    if not out.endswith("!"):
        return False
    slashes = len(out[:-1]) - len(out[:-1].rstrip("\\"))
    return slashes % 2 == 0


@dataclass
class Renderer:
    """Renders one tree; ``link``/``image`` decide every link and image, with its line.

    ``flat`` is the fallback form (no emphasis, every link and image as text).
    ``stable``: check that each paragraph (heading, cell) with emphasis reads back as
    itself, and write it ``flat`` if not; ``flattened`` collects the lines of those.
    CommonMark's emphasis rules look at the characters around each delimiter run, so a
    few odd nestings (``**A*~**``, a delimiter next to an autolink that became text)
    cannot be written back as they were parsed.
    ``forbidden`` collects (line, ``U+XXXX``) of forbidden characters that only appeared
    after decoding (``&#x202E;``); they are left out of the output.
    """

    link: LinkRule
    image: ImageRule
    flat: bool = False
    stable: bool = False
    flattened: list[int] = field(default_factory=list)
    forbidden: list[tuple[int, str]] = field(default_factory=list)
    line: int = 1
    _bol: bool = True
    _in_table: bool = False
    _top_paragraph: bool = False
    _in_link: bool = False
    _one_line: bool = False     # a heading or table cell: line breaks become spaces
    _in_s: bool = False

    # -- blocks ---------------------------------------------------------------------
    def document(self, nodes: list[SyntaxTreeNode]) -> str:
        return self._blocks(nodes, tight=False, top=True)

    def _blocks(self, nodes: list[SyntaxTreeNode], *, tight: bool, top: bool = False) -> str:
        out: list[str] = []
        previous: SyntaxTreeNode | None = None
        last_marker = ""
        for node in nodes:
            if node.type in ("bullet_list", "ordered_list"):
                marker = self._list_marker(node, previous, last_marker)
                last_marker = marker
                text: str | None = self._list(node, marker)
            else:
                text = self._block(node, top=top)
            if text is None:
                continue
            out.append(text)
            previous = node
        return ("\n" if tight else "\n\n").join(out)

    def _block(self, node: SyntaxTreeNode, *, top: bool) -> str | None:
        kind = node.type
        if kind == "paragraph":
            self._top_paragraph = top
            try:
                text = self._inline_of(node)
            finally:
                self._top_paragraph = False
            return "\n".join(escape_line_start(ln) for ln in text.split("\n")) or None
        if kind == "heading":
            self._one_line = True
            try:
                text = self._inline_of(node)
            finally:
                self._one_line = False
            text = re.sub(r"(^|\s)(#+)$", lambda m: m.group(1) + "\\#" * len(m.group(2)), text)
            level = int(node.tag[1])
            return "#" * level + (f" {text}" if text else "")
        if kind == "blockquote":
            inner = self._blocks(node.children, tight=False)
            return "\n".join(f"> {ln}" if ln else ">" for ln in inner.split("\n"))
        if kind in ("fence", "code_block"):
            return self._fence(node)
        if kind == "hr":
            return "___"    # "* ***" or "- ---" would be a break, not a list item with one
        if kind == "table":
            return self._table(node)
        return None   # html_block cannot occur (HTML is off); anything unknown is dropped

    @staticmethod
    def _list_marker(node: SyntaxTreeNode, previous: SyntaxTreeNode | None, last: str) -> str:
        """The list's marker (``-``, ``*``, ``+``; ``.`` or ``)`` for ordered lists); a
        list right after a list of the same kind gets another one, or they would merge."""
        ordered = node.type == "ordered_list"
        marker = node.markup or ("." if ordered else "-")
        if previous is not None and previous.type == node.type and marker == last:
            if ordered:
                marker = ")" if marker == "." else "."
            else:
                marker = _BULLETS[(_BULLETS.index(marker) + 1) % 3]
        return marker

    def _list(self, node: SyntaxTreeNode, marker: str) -> str:
        items = [c for c in node.children if c.type == "list_item"]
        tight = all(p.hidden for item in items for p in item.children if p.type == "paragraph")
        ordered = node.type == "ordered_list"
        number = int(str(node.attrs.get("start", 1))) if ordered else 0
        rendered: list[str] = []
        for item in items:
            if ordered:
                info = item.info if item.info.isdigit() else str(number)
                head = f"{info}{marker} "
                number = int(info) + 1
            else:
                head = f"{marker} "
            body = self._blocks(item.children, tight=tight)
            pad = " " * len(head)
            lines = body.split("\n")
            first = (head + lines[0]).rstrip()
            rest = [f"{pad}{ln}" if ln else "" for ln in lines[1:]]
            rendered.append("\n".join([first, *rest]))
        return ("\n" if tight else "\n\n").join(rendered)

    def _fence(self, node: SyntaxTreeNode) -> str:
        content = node.content
        if content and not content.endswith("\n"):
            content += "\n"
        runs = [len(r) for r in re.findall(r"`+", content)]
        fence = "`" * max(3, max(runs, default=0) + 1)
        words = node.info.split()
        info = _FENCE_INFO.sub("", words[0]) if words else ""
        return f"{fence}{info}\n{content}{fence}"

    def _table(self, node: SyntaxTreeNode) -> str:
        rows: list[list[str]] = []
        aligns: list[str] = []
        self._in_table = True
        try:
            for section in node.children:
                for tr in section.children:
                    cells = []
                    for cell in tr.children:
                        if section.type == "thead":
                            style = str(cell.attrs.get("style", ""))
                            aligns.append(style.removeprefix("text-align:"))
                        cells.append(self._inline_of(cell))
                    rows.append(cells)
        finally:
            self._in_table = False
        width = len(aligns)
        delim = {"left": ":---", "center": ":---:", "right": "---:"}
        lines = ["| " + " | ".join((r + [""] * width)[:width]) + " |" for r in rows]
        lines.insert(1, "| " + " | ".join(delim.get(a, "---") for a in aligns) + " |")
        return "\n".join(lines)

    # -- inline ---------------------------------------------------------------------
    def _inline_of(self, block: SyntaxTreeNode) -> str:
        inline = block.children[0] if block.children else None
        if inline is None or inline.type != "inline":
            return ""
        start = self.line = (inline.map[0] if inline.map else 0) + 1
        self._bol = not self._in_table
        out = _tidy(self._inline(inline.children))
        if self.stable and not self.flat and _has_emphasis(inline) \
                and not self._reads_back(out):
            self.flattened.append(start)
            self.line, self._bol, self.flat = start, not self._in_table, True
            try:
                out = _tidy(self._inline(inline.children))
            finally:
                self.flat = False
        return out

    def _reads_back(self, out: str) -> bool:
        """``out`` (inline Markdown) parses back to inline nodes that render as ``out``."""
        if self._in_table:
            probe = f"| {out} |\n| --- |"
        else:
            probe = "\n".join(escape_line_start(ln) for ln in out.split("\n"))
        blocks = parse(probe).children
        if self._in_table:
            if len(blocks) != 1 or blocks[0].type != "table":
                return False
            block = blocks[0].children[0].children[0].children[0]      # thead > tr > th
        elif len(blocks) != 1 or blocks[0].type != "paragraph":
            return False
        else:
            block = blocks[0]
        again = Renderer(_keep_link, _keep_image, _in_table=self._in_table,
                         _one_line=self._one_line)
        return again._inline_of(block) == out

    def inline_run(self, nodes: list[SyntaxTreeNode]) -> str:
        """Some inline nodes of a paragraph, as a paragraph of their own."""
        self._bol = True
        text = _tidy(self._inline(nodes))
        return "\n".join(escape_line_start(ln) for ln in text.split("\n"))

    def _inline(self, nodes: list[SyntaxTreeNode]) -> str:
        out = ""
        for node in nodes:
            piece = self._node(node)
            if piece.startswith("[") and _unescaped_bang(out):
                out = out[:-1] + "\\!"
            out += piece
        return out

    def _clean(self, text: str) -> str:
        found = first_forbidden(text)
        if found is None:
            return text
        self.forbidden.append((self.line, found[1]))
        return without_forbidden(text)

    def _node(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "text":
            # a newline can only come from an entity (&#10;): as a space it cannot start
            # a block, and it looks the same
            content = self._clean(node.content.replace("\r", " ").replace("\n", " "))
            if self._bol:       # white space opening a line is not kept by a reader
                content = content.lstrip()
            if not content:
                return ""
            self._bol = False
            return escape(content)
        if kind in ("softbreak", "hardbreak"):
            self.line += 1
            if self._one_line or self._in_table:
                return " "
            if self._bol:       # the line is still empty: a break would end the paragraph
                return ""
            self._bol = True
            return "\n" if kind == "softbreak" else "\\\n"
        if kind == "link":
            return self._link(node)
        if kind == "image":
            return self._image(node)
        if kind in ("em", "strong", "s"):
            bare = self.flat or (kind == "s" and self._in_s)    # "~~~~" could open a fence
            if not bare:
                self._bol = False
            was, self._in_s = self._in_s, self._in_s or kind == "s"
            try:
                inner = self._inline(node.children)
            finally:
                self._in_s = was
            if bare or not inner.strip():
                return inner
            # white space at the edges (only an entity can put it there) stays, as an
            # entity: a space next to a delimiter would stop it from being one
            inner = _WS_EDGE.sub(lambda m: f"&#{ord(m.group())};", inner.strip("\n"))
            mark = {"em": "*", "strong": "**", "s": "~~"}[kind]
            return f"{mark}{inner}{mark}"
        self._bol = False
        if kind == "code_inline":
            return code_span(self._clean(node.content), in_table=self._in_table)
        return escape(self._clean(node.content))   # html_inline cannot occur (HTML is off)

    def _link(self, node: SyntaxTreeNode) -> str:
        href = str(node.attrs.get("href", ""))
        decision = self.link(href, self.line)
        kept = decision.href is not None and not self.flat
        if kept:
            self._bol = False           # "[" opens the line
        was, self._in_link = self._in_link, True
        try:
            label = self._inline(node.children)
        finally:
            self._in_link = was
        if kept:
            return f"[{label}]({decision.href})"
        shown = decision.shown
        if shown is None or plain_text(node).strip() in (shown, href):
            return label
        if not label.strip():
            self._bol = False
            return escape(self._clean(shown))
        self._bol = False
        return f"{label} ({escape(self._clean(shown))})"

    def _image(self, node: SyntaxTreeNode) -> str:
        src = str(node.attrs.get("src", ""))
        alone = self._top_paragraph and not self._in_link
        keep = self.image(src, self.line, alone)
        alt = self._clean(plain_text(node)).replace("\n", " ")
        if keep is None or self.flat:
            if self._bol:
                alt = alt.lstrip()
            self._bol = self._bol and not alt
            return escape(alt)
        self._bol = False
        return f"![{escape(alt)}]({keep})"
