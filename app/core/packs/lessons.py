"""Lesson Markdown → normalised cards (docs/pack-format.md §1 "Lessons").

The app shows Markdown with Flet's Markdown control, so the pack stores *Markdown*: the
lesson is parsed once with the pack-text parser (``app.core.packs.markup``: markdown-it,
raw HTML off), split into cards at its top-level ``#``/``##`` headings, and every card is
rendered back by the one sanitiser with the builder's rules: relative image paths become
pack paths, relative links become ``lesson:`` links, web and mail links become visible
text, and anything else (raw HTML, remote images, other schemes) is an error naming the
file and line. A device checks the built cards again with the same code.

Cross-lesson links can only be checked when every lesson has been read, so a parsed
lesson returns its links as ``PendingLink`` for the source reader to check afterwards.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from markdown_it.tree import SyntaxTreeNode

from app.core.errors import PackSourceError
from app.core.packs.markup import (
    Kind,
    Link,
    Rules,
    bad_scheme,
    check,
    parse,
    plain_text,
    sanitize_nodes,
    scheme_of,
    shown,
    shown_url,
    text_findings,
)

_LESSON_FILE = re.compile(r"^courses/([a-z0-9][a-z0-9_-]{0,63})/([a-z0-9][a-z0-9_-]{0,63})"
                          r"\.([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\.md$")
_CLOSING_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*$")


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


def slugify(title: str) -> str:
    """A card anchor: python-markdown's ``toc.slugify(title, "-")`` (accents dropped,
    lower case, punctuation removed, spaces to ``-``)."""
    value = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def parse_lesson(text: str, *, display: str, src_path: str, course: str, lesson: str,
                 lang: str, media_lookup: Callable[[str], str | None]) -> ParsedLesson:
    """Normalise one lesson file.

    ``src_path`` is the file's path inside the pack source (``courses/c/01-x.en.md``);
    ``media_lookup`` maps a source-relative image path to its pack path (or None).
    """
    return _Parser(text, display, src_path, course, lesson, lang, media_lookup).run()


@dataclass
class _LessonRules(Rules):
    """The builder's rules for a lesson: resolve relative targets, fail on the first
    problem (with its line)."""

    parser: _Parser | None = None

    def note(self, line: int, message: str, *, unsafe: bool = True) -> None:
        assert self.parser is not None
        raise self.parser.err(message, line)

    def link(self, href: str, line: int) -> Link:
        assert self.parser is not None
        return self.parser.link(href, line)

    def image(self, src: str, line: int, alone: bool) -> str | None:
        assert self.parser is not None
        return self.parser.image(src, line, alone)


class _Parser:
    def __init__(self, text: str, display: str, src_path: str, course: str, lesson: str,
                 lang: str, media_lookup: Callable[[str], str | None]) -> None:
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.display = display
        self.src_dir = posixpath.dirname(src_path)
        self.course, self.lesson, self.lang = course, lesson, lang
        self.media_lookup = media_lookup
        self.result = ParsedLesson(title="", cards=[], toc=[])
        self.rules = _LessonRules(Kind.LESSON, parser=self)

    def err(self, message: str, line: int | None) -> PackSourceError:
        return PackSourceError(message, path=self.display, line=line)

    # -- steps ---------------------------------------------------------------------------
    def run(self) -> ParsedLesson:
        for finding in text_findings(self.text):
            raise self.err(finding.message, finding.line)
        tree = parse(self.text)
        self._check_fences(tree)
        cards = self._split_cards(tree.children)
        used: set[str] = set()
        for i, (name, body) in enumerate(cards):
            anchor = slugify(name) or f"card-{i + 1}"
            base, n = anchor, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            result = sanitize_nodes(body, self.rules)
            for finding in result.findings:
                raise self.err(finding.message, finding.line)
            self.result.cards.append({"title": name, "anchor": anchor,
                                      "markdown": result.markdown})
            self.result.toc.append({"card": i, "title": name, "anchor": anchor})
        return self.result

    def _check_fences(self, tree: SyntaxTreeNode) -> None:
        """An unclosed code fence runs to the end of the file and swallows every card
        after it: an error rather than a surprise."""
        lines = self.text.split("\n")
        for node in tree.children:
            if node.type != "fence" or node.map is None:
                continue
            start, end = node.map
            last = lines[end - 1] if end - 1 > start and end - 1 < len(lines) else ""
            m = _CLOSING_FENCE.match(last)
            if not (m and m.group(1)[0] == node.markup[0]
                    and len(m.group(1)) >= len(node.markup)):
                raise self.err(f"code block opened with {node.markup} is never closed",
                               start + 1)

    def _split_cards(self, nodes: list[SyntaxTreeNode]
                     ) -> list[tuple[str, list[SyntaxTreeNode]]]:
        title: str | None = None
        cards: list[tuple[str, list[SyntaxTreeNode]]] = []
        intro: list[SyntaxTreeNode] = []
        for node in nodes:
            line = node.map[0] + 1 if node.map else None
            level = node.tag if node.type == "heading" else ""
            if level == "h1":
                if title is not None:
                    raise self.err("a lesson has one '# ' title; use '## ' for cards and "
                                   "'### ' inside a card", line)
                if intro:
                    raise self.err("text before the lesson's '# ' title line", line)
                title = self._heading_text(node)
                if not title:
                    raise self.err("empty lesson title", line)
            elif level == "h2":
                if title is None:
                    raise self.err("'## ' card heading before the lesson's '# ' title", line)
                name = self._heading_text(node)
                if not name:
                    raise self.err("empty card heading", line)
                cards.append((name, []))
            elif cards:
                cards[-1][1].append(node)
            else:
                intro.append(node)      # before the title: an error once the title comes
        if title is None:
            raise self.err("lesson has no '# ' title line", None)
        if intro:
            cards.insert(0, (title, intro))
        if not cards:
            raise self.err("lesson has no content", None)
        self.result.title = title
        return cards

    def _heading_text(self, node: SyntaxTreeNode) -> str:
        """A title as plain text; its links and images are checked like the card's."""
        sanitize_nodes([node], self.rules)
        inline = node.children[0] if node.children else None
        text = " ".join(plain_text(inline).split()) if inline is not None else ""
        # the title is stored (and re-checked at install) as plain text: the same rule here,
        # so nothing passes the build that a tablet would refuse (e.g. a heading "<!--")
        for finding in check(text, Kind.PLAIN):
            raise self.err(f"heading: {finding.message}", node.map[0] + 1 if node.map else None)
        return text

    # -- targets ---------------------------------------------------------------------
    def image(self, target: str, line: int, alone: bool) -> str:
        if not target:
            raise self.err("image without a path", line)
        if scheme_of(target) is not None:
            raise self.err(f"remote image {shown(shown_url(target))} is not allowed: images "
                           "must be files in the pack (put it in media/ and use a relative "
                           "path)", line)
        rel = posixpath.normpath(posixpath.join(self.src_dir, unquote(target)))
        if rel.startswith("../") or rel == ".." or posixpath.isabs(rel) or "\\" in target:
            raise self.err(f"image {shown(target)} points outside the pack", line)
        pack_path = self.media_lookup(rel)
        if pack_path is None:
            raise self.err(f"image {shown(target)} not found: expected a media file at {rel}",
                           line)
        if not alone:
            raise self.err("an image must stand in its own paragraph (not inside a list, "
                           "quote, table, heading or link)", line)
        self.result.media.add(pack_path)
        return pack_path

    def link(self, target: str, line: int) -> Link:
        if not target:
            raise self.err("link has no target", line)
        scheme = scheme_of(target)
        if scheme in ("http", "https", "mailto"):
            return Rules.as_text(target)       # shown, never fetched
        if scheme is not None:
            raise self.err(bad_scheme(shown_url(target)), line)
        path, _, anchor = unquote(target).partition("#")
        if not path:
            course, lesson, lang = self.course, self.lesson, self.lang
        else:
            rel = posixpath.normpath(posixpath.join(self.src_dir, path))
            lm = _LESSON_FILE.match(rel)
            if not lm:
                raise self.err(f"link {shown(target)} does not point to a lesson file "
                               "(<nn>-<slug>.<lang>.md in courses/<course>/)", line)
            course, lesson, lang = lm.groups()
        if anchor and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", anchor):
            raise self.err(f"link {shown(target)}: no card can have the anchor "
                           f"{shown(anchor)}", line)
        self.result.links.append(PendingLink(self.display, line, course, lesson, lang, anchor))
        return Link(href=f"lesson:{course}/{lesson}" + (f"#{anchor}" if anchor else ""))


Parsed = dict[tuple[str, str, str], ParsedLesson]   # (course, lesson, language) → lesson


def link_target_failed(link: PendingLink, known: dict[str, list[str]], listed: set[str],
                       failed: set[tuple[str, str, str]]) -> bool:
    """Whether a link points into a course or a lesson file that had a problem of its own
    (reported already: the link is not judged)."""
    if link.course not in known:
        return link.course in listed
    return (link.course, link.lesson, link.lang) in failed


def check_link(link: PendingLink, known: dict[str, list[str]], lessons: Parsed) -> None:
    """A link between lessons must reach a course, lesson and card of this pack."""
    def fail(msg: str) -> PackSourceError:
        return PackSourceError(msg, path=link.display, line=link.line)

    if link.course not in known:
        raise fail(f"broken link: course {link.course!r} is not in this pack")
    if link.lesson not in known[link.course]:
        raise fail(f"broken link: lesson {link.lesson!r} is not in course "
                   f"{link.course!r} (lessons: {', '.join(known[link.course])})")
    target = lessons.get((link.course, link.lesson, link.lang))
    if target is None:
        raise fail(f"broken link: courses/{link.course}/{link.lesson}.{link.lang}.md "
                   "does not exist")
    if link.anchor and link.anchor not in target.anchors:
        raise fail(f"broken link: no card {link.anchor!r} in {link.lesson}.{link.lang}.md "
                   f"(cards: {', '.join(c['anchor'] for c in target.cards)})")
