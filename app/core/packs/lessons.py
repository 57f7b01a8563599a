"""Lesson Markdown → normalised cards (docs/pack-format.md §1 "Lessons").

Why not just render HTML: the app shows Markdown with Flet's Markdown control, so the
pack stores *Markdown*, cleaned. The cleaning works on the source text with code spans
and fenced blocks protected (raw HTML inside code is content, not markup), rewrites image
and link targets to pack paths, and then renders every card once with python-markdown to
prove that no raw HTML, foreign image or unchecked link survived.

Cross-lesson links can only be checked when every lesson has been read, so a parsed
lesson returns its links as ``PendingLink`` for the source reader to check afterwards.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote

import markdown
from markdown.extensions.toc import slugify

from app.core.errors import PackSourceError

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_SCRIPT_OPEN = re.compile(r"<(script|style)\b", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+", re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_H1 = re.compile(r"^#(?:\s+(.*?))?\s*#*\s*$")
_H2 = re.compile(r"^##(?:\s+(.*?))?\s*#*\s*$")
_LESSON_FILE = re.compile(r"^courses/([a-z0-9][a-z0-9_-]{0,63})/([a-z0-9][a-z0-9_-]{0,63})"
                          r"\.([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\.md$")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")

ALLOWED_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "em",
                          "strong", "code", "pre", "blockquote", "a", "img", "hr", "br",
                          "table", "thead", "tbody", "tr", "th", "td"})


@dataclass(frozen=True)
class PendingLink:
    """A link to another lesson (or a card of this one), checked once all lessons are read."""

    display: str
    line: int
    course: str
    lesson: str
    lang: str
    anchor: str


@dataclass
class ParsedLesson:
    title: str
    cards: list[dict[str, str]]
    toc: list[dict[str, object]]
    links: list[PendingLink] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    media: set[str] = field(default_factory=set)

    @property
    def anchors(self) -> set[str]:
        return {c["anchor"] for c in self.cards}

    def as_json(self, lang: str) -> dict[str, object]:
        return {"title": self.title, "lang": lang, "toc": self.toc, "cards": self.cards}


def parse_lesson(text: str, *, display: str, src_path: str, course: str, lesson: str,
                 lang: str, media_lookup: Callable[[str], str | None]) -> ParsedLesson:
    """Normalise one lesson file.

    ``src_path`` is the file's path inside the pack source (``courses/c/01-x.en.md``);
    ``media_lookup`` maps a source-relative image path to its pack path (or None).
    """
    p = _Parser(text, display, src_path, course, lesson, lang, media_lookup)
    return p.run()


class _Parser:
    def __init__(self, text: str, display: str, src_path: str, course: str, lesson: str,
                 lang: str, media_lookup: Callable[[str], str | None]) -> None:
        self.text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        self.display = display
        self.src_dir = posixpath.dirname(src_path)
        self.course, self.lesson, self.lang = course, lesson, lang
        self.media_lookup = media_lookup
        self.saved: list[str] = []
        self.result = ParsedLesson(title="", cards=[], toc=[])

    def err(self, message: str, line: int | None) -> PackSourceError:
        return PackSourceError(message, path=self.display, line=line)

    # -- steps ---------------------------------------------------------------------------
    def run(self) -> ParsedLesson:
        text = self._protect_code(self.text)
        m = _REF_DEF.search(text)
        if m:
            raise self.err("reference-style link definitions are not supported; write "
                           "[text](target) inline", _line_at(text, m.start()))
        text = self._strip_html(text)
        text = _LINK.sub(self._rewrite_link, text)
        self._split_cards(text)
        for i, card in enumerate(self.result.cards):
            self._check_rendered(card["markdown"], i)
        return self.result

    def _save(self, s: str) -> str:
        self.saved.append(s)
        return f"\x00{len(self.saved) - 1}\x00"

    def _restore(self, s: str) -> str:
        while "\x00" in s:
            s = _PLACEHOLDER.sub(lambda m: self.saved[int(m.group(1))], s)
        return s

    def _protect_code(self, text: str) -> str:
        out: list[str] = []
        fence: str | None = None
        for line in text.split("\n"):
            m = _FENCE.match(line)
            if fence is not None:
                out.append(self._save(line))
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                        and not line.strip()[len(m.group(1)):].strip():
                    fence = None
                continue
            if m:
                fence = m.group(1)
                out.append(self._save(line))
                continue
            out.append(_CODE_SPAN.sub(lambda mm: self._save(mm.group(0)), line))
        if fence is not None:
            raise self.err(f"code block opened with {fence} is never closed", None)
        return "\n".join(out)

    def _strip_html(self, text: str) -> str:
        def drop(m: re.Match[str], what: str) -> str:
            self.result.warnings.append(
                f"{self.display}:{_line_at(text, m.start())}: removed {what}")
            return "\n" * m.group(0).count("\n")

        text = _COMMENT.sub(lambda m: drop(m, "HTML comment"), text)
        text = _SCRIPT.sub(lambda m: drop(m, f"<{m.group(1).lower()}> element and its content"),
                           text)
        m = _SCRIPT_OPEN.search(text)
        if m:
            raise self.err(f"<{m.group(1).lower()}> tag without a closing tag; raw HTML is not "
                           "allowed in lessons", _line_at(text, m.start()))
        return _TAG.sub(lambda m: drop(m, f"raw HTML tag {m.group(0)[:40]!r}"), text)

    def _rewrite_link(self, m: re.Match[str]) -> str:
        is_image, label, target = m.group(1) == "!", m.group(2), m.group(3).strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1].strip()
        line = _line_at(self._cur_text(m), m.start())
        if is_image:
            return f"![{label}]({self._image_target(target, line)})"
        return self._link(label, target, line)

    @staticmethod
    def _cur_text(m: re.Match[str]) -> str:
        return m.string

    def _image_target(self, target: str, line: int) -> str:
        if not target:
            raise self.err("image without a path", line)
        if target.startswith("//") or _SCHEME.match(target):
            raise self.err(f"remote image {target!r} is not allowed: images must be files in "
                           "the pack (put it in media/ and use a relative path)", line)
        rel = posixpath.normpath(posixpath.join(self.src_dir, unquote(target)))
        if rel.startswith("../") or rel == ".." or posixpath.isabs(rel) or "\\" in target:
            raise self.err(f"image {target!r} points outside the pack", line)
        pack_path = self.media_lookup(rel)
        if pack_path is None:
            raise self.err(f"image {target!r} not found: expected a media file at {rel}", line)
        self.result.media.add(pack_path)
        return pack_path

    def _link(self, label: str, target: str, line: int) -> str:
        if not target:
            raise self.err(f"link [{label}] has no target", line)
        low = target.lower()
        if low.startswith(("http://", "https://", "mailto:")):
            # shown, never fetched: the app renders the address as text
            shown = target[7:] if low.startswith("mailto:") else target
            return shown if label.strip() in ("", target, shown) else f"{label} ({shown})"
        if target.startswith("//") or _SCHEME.match(target):
            raise self.err(f"link {target!r} uses an unsupported scheme; allowed: http, https, "
                           "mailto or a relative link to a lesson", line)
        path, _, anchor = target.partition("#")
        if not path:
            course, lesson, lang = self.course, self.lesson, self.lang
        else:
            rel = posixpath.normpath(posixpath.join(self.src_dir, unquote(path)))
            lm = _LESSON_FILE.match(rel)
            if not lm:
                raise self.err(f"link {target!r} does not point to a lesson file "
                               "(<nn>-<slug>.<lang>.md in courses/<course>/)", line)
            course, lesson, lang = lm.groups()
        self.result.links.append(PendingLink(self.display, line, course, lesson, lang, anchor))
        ref = f"lesson:{course}/{lesson}" + (f"#{anchor}" if anchor else "")
        return f"[{label}]({ref})"

    def _split_cards(self, text: str) -> None:
        title: str | None = None
        cards: list[tuple[str, int, list[str]]] = []  # (title, line, body lines)
        intro: list[str] = []
        for no, line in enumerate(text.split("\n"), start=1):
            h1, h2 = _H1.match(line), _H2.match(line)
            if h1:
                if title is not None:
                    raise self.err("a lesson has one '# ' title; use '## ' for cards and "
                                   "'### ' inside a card", no)
                if any(x.strip() for x in intro):
                    raise self.err("text before the lesson's '# ' title line", no)
                title = self._restore(h1.group(1) or "").strip()
                if not title:
                    raise self.err("empty lesson title", no)
                intro = []
            elif h2:
                if title is None:
                    raise self.err("'## ' card heading before the lesson's '# ' title", no)
                name = self._restore(h2.group(1) or "").strip()
                if not name:
                    raise self.err("empty card heading", no)
                cards.append((name, no, []))
            elif cards:
                cards[-1][2].append(line)
            else:
                intro.append(line)
        if title is None:
            raise self.err("lesson has no '# ' title line", None)
        if any(x.strip() for x in intro):
            cards.insert(0, (title, 1, intro))
        if not cards:
            raise self.err("lesson has no content", None)
        used: set[str] = set()
        for i, (name, _, body) in enumerate(cards):
            anchor = slugify(name, "-") or f"card-{i + 1}"
            base, n = anchor, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            md = self._restore("\n".join(body)).strip("\n")
            md = re.sub(r"\n{3,}", "\n\n", md)
            self.result.cards.append({"title": name, "anchor": anchor, "markdown": md})
            self.result.toc.append({"card": i, "title": name, "anchor": anchor})
        self.result.title = title

    def _check_rendered(self, md: str, index: int) -> None:
        html = markdown.markdown(md, extensions=["tables", "fenced_code"])
        scan = HtmlScan()
        scan.feed(html)
        for tag in scan.tags - ALLOWED_TAGS:
            raise self.err(f"raw HTML <{tag}> remains in card {index + 1}", None)
        for src in scan.images:
            if src not in self.result.media:
                raise self.err(f"image {src!r} in card {index + 1} is not a file in the pack",
                               self._find_line(src))
        for href in scan.links:
            if not href.lower().startswith(("lesson:", "http://", "https://", "mailto:")):
                raise self.err(f"link {href!r} in card {index + 1} is not allowed",
                               self._find_line(href))

    def _find_line(self, needle: str) -> int | None:
        for no, line in enumerate(self.text.split("\n"), start=1):
            if needle in line:
                return no
        return None


class HtmlScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "a":
            self.links.append(a.get("href") or "")


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
