"""A lesson file cut into the strings a translator works on, and put back together.

One markdown-it parse (the pack parser's settings: CommonMark + GFM tables and
strikethrough, raw HTML off) gives each block's source lines. A *segment* is the inline
text of a paragraph, a heading, a list item's or a quote's paragraph, a table cell, or
the alt text of an image (its src is kept); code blocks and rules are not translated and
stay as they are. A block whose text cannot be matched to its lines is one segment of raw
Markdown (kind ``block``), so nothing is ever lost.

Rebuilding replaces only the segments whose text changed, in the lines they came from:
an unchanged lesson comes back byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from sync_server.authoring.translation.model import Kind, TranslationError

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}
                 ).enable(["table", "strikethrough"])
_MD.validateLink = lambda url: True  # type: ignore[method-assign]
_IMAGE = re.compile(r"^!\[(.*)\](\([^()\n]*\))$", re.S)
_UNTRANSLATED = ("fence", "code_block", "hr", "html_block")


@dataclass(frozen=True)
class Segment:
    """One translatable piece of a lesson; ``where`` says how to put a new text back."""

    kind: Kind
    shape: str            # heading | paragraph | item | quote | cell | alt | block
    text: str
    line: int             # first source line (0-based)
    lines: int            # how many lines the text spans (a cell: 1)
    prefixes: tuple[str, ...]
    suffix: str           # after the text on its last line (``##`` of a heading, spaces)
    cell: tuple[int, int] | None = None      # a cell's span on its line
    alt: tuple[str, str] | None = None       # an image's ``![`` … ``](src)`` around the alt

    @property
    def single_line(self) -> bool:
        return self.shape in ("heading", "cell", "alt")


def segments(text: str) -> list[Segment]:
    """Every translatable segment of a lesson's Markdown, in reading order."""
    return list(_cached(text))


@lru_cache(maxsize=512)
def _cached(text: str) -> tuple[Segment, ...]:
    return tuple(_segments(_MD.parse(text), text.splitlines()))


def _segments(tokens: list[Token], lines: list[str]) -> Iterator[Segment]:
    stack: list[str] = []
    row: tuple[int, list[tuple[int, int]]] | None = None
    cell_no = 0
    for i, tok in enumerate(tokens):
        if tok.nesting == 1:
            stack.append(tok.type)
        elif tok.nesting == -1 and stack:
            stack.pop()
        if tok.type == "tr_open" and tok.map:
            row = (tok.map[0], _cells(lines[tok.map[0]]))
            cell_no = 0
        if tok.type != "inline" or not tok.map:
            continue
        parent = tokens[i - 1].type if i else ""
        if parent in ("th_open", "td_open") and row is not None:
            seg = _cell(tok, row, cell_no, lines)
            cell_no += 1
        else:
            shape = ("heading" if parent == "heading_open" else
                     "item" if "list_item_open" in stack else
                     "quote" if "blockquote_open" in stack else "paragraph")
            seg = _block_text(tok, lines, shape)
        if seg is None:
            seg = _raw(tok, lines)
        yield seg


def _block_text(tok: Token, lines: list[str], shape: str) -> Segment | None:
    assert tok.map is not None
    start = tok.map[0]
    parts = tok.content.split("\n")
    prefixes: list[str] = []
    suffix = ""
    for n, part in enumerate(parts):
        if start + n >= len(lines):
            return None
        line = lines[start + n]
        pos = line.find(part) if part else len(line.rstrip())
        if pos < 0:
            return None
        prefixes.append(line[:pos])
        suffix = line[pos + len(part):]
    m = _IMAGE.match(tok.content) if shape == "paragraph" else None
    if m and len(parts) == 1 and tok.children and [c.type for c in tok.children] == ["image"]:
        return Segment(Kind.ALT, "alt", m.group(1), start, 1, tuple(prefixes), suffix,
                       alt=("![", "]" + m.group(2)))
    return Segment(Kind.LESSON, shape, tok.content, start, len(parts), tuple(prefixes), suffix)


def _cells(line: str) -> list[tuple[int, int]]:
    """(start, end) of every cell of a table row, split on unescaped pipes (GFM)."""
    pipes = [i for i, ch in enumerate(line) if ch == "|" and not _escaped(line, i)]
    bounds = [-1, *pipes, len(line)]
    spans = [(a + 1, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    if line.lstrip().startswith("|"):
        spans = spans[1:]
    if line.rstrip().endswith("|") and not _escaped(line, len(line.rstrip()) - 1):
        spans = spans[:-1]
    return spans


def _escaped(line: str, i: int) -> bool:
    n = 0
    while i - n - 1 >= 0 and line[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _cell(tok: Token, row: tuple[int, list[tuple[int, int]]], no: int, lines: list[str]
          ) -> Segment | None:
    line_no, spans = row
    if no >= len(spans):
        return None
    a, b = spans[no]
    raw = lines[line_no][a:b]
    inner = raw.strip()
    if inner.replace("\\|", "|") != tok.content:
        return None
    lead = a + len(raw) - len(raw.lstrip())
    return Segment(Kind.LESSON, "cell", tok.content, line_no, 1, (), "",
                   cell=(lead, lead + len(inner)))


def _raw(tok: Token, lines: list[str]) -> Segment:
    assert tok.map is not None
    a, b = tok.map
    return Segment(Kind.BLOCK, "block", "\n".join(lines[a:b]), a, b - a, ("",) * (b - a), "")


# ---------------------------------------------------------------------------------------
def rebuild(text: str, segs: list[Segment], new: dict[int, str]) -> str:
    """``text`` with segment ``i`` replaced by ``new[i]`` (only where it differs)."""
    lines = text.splitlines()
    ending = "\n" if text.endswith("\n") else ""
    changed = sorted(((i, t) for i, t in new.items() if t != segs[i].text),
                     key=lambda it: (segs[it[0]].line, segs[it[0]].cell or (0, 0)),
                     reverse=True)
    if not changed:
        return text
    for i, value in changed:
        seg = segs[i]
        if seg.single_line and "\n" in value:
            raise TranslationError(f"segment {i} ({seg.shape}) must stay on one line")
        lines[seg.line:seg.line + seg.lines] = _put(lines, seg, value)
    return "\n".join(lines) + ending


def _put(lines: list[str], seg: Segment, value: str) -> list[str]:
    if seg.cell is not None:
        line = lines[seg.line]
        a, b = seg.cell
        escaped = re.sub(r"(?<!\\)\|", r"\\|", value)
        return [line[:a] + escaped + line[b:]]
    if seg.alt is not None:
        left, right = seg.alt
        return [seg.prefixes[0] + left + value + right + seg.suffix]
    parts = value.split("\n")
    last = len(seg.prefixes) - 1
    cont = seg.prefixes[1] if last >= 1 else re.sub(r"[^>\s]", " ", seg.prefixes[0])
    out = []
    for n, part in enumerate(parts):
        prefix = seg.prefixes[n] if n <= last else cont
        out.append(prefix + part + (seg.suffix if n == len(parts) - 1 else ""))
    return out
