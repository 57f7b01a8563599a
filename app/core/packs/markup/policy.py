"""What pack text may hold, and the one sanitiser every pack string goes through.

Three kinds of text (docs/pack-format.md §1 "Text"):

* ``LESSON`` — a lesson card: Markdown; images only as pack media files
  (``media/…png``) standing in their own paragraph; links only to lessons
  (``lesson:<course>/<lesson>#<anchor>``).
* ``RICH`` — quiz ``case`` and ``explanation``: Markdown without images or links.
* ``PLAIN`` — every other string (titles, prompts, options, feedback, descriptions,
  labels): shown as plain text, so it may hold no link, image or HTML at all.

Everywhere: no raw HTML (it is text, never markup), no control or bidi-override
characters, web addresses only as visible text, never a fetchable image or a live link.

``sanitize`` gives the safe Markdown *and* the findings: the builder turns the first
finding into an error with file and line, the device refuses a pack with an ``unsafe``
finding, and the app renders only ``sanitize``'s output (defence in depth: even text
that slipped past both checks is rendered harmless).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from urllib.parse import unquote

from markdown_it.tree import SyntaxTreeNode

from app.core.packs.markup.chars import first_forbidden, without_forbidden
from app.core.packs.markup.parser import parse, raw_html, shown_url
from app.core.packs.markup.render import Link, Renderer, escape, plain_text

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
LESSON_LINK = re.compile(r"^lesson:([a-z0-9][a-z0-9_-]{0,63})/([a-z0-9][a-z0-9_-]{0,63})"
                         r"(?:#([A-Za-z0-9_-]{1,128}))?$")
PACK_IMAGE = re.compile(r"^media/(?:[A-Za-z0-9][A-Za-z0-9._-]*/)*[A-Za-z0-9][A-Za-z0-9._-]*"
                        r"\.(?:png|jpe?g|webp|gif)$", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SQUEEZE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f"
                      r"\u2060-\u206f\u3000\ufeff]")
WEB_SCHEMES = ("http", "https")


class Kind(Enum):
    LESSON = "lesson"
    RICH = "rich"
    PLAIN = "plain"


@dataclass(frozen=True)
class Finding:
    """A problem in one text. ``unsafe``: a device refuses a pack that has it; otherwise it
    is an authoring rule the builder enforces and the app quietly works around."""

    line: int
    message: str
    unsafe: bool = True


@dataclass(frozen=True)
class Result:
    markdown: str
    findings: tuple[Finding, ...]

    @property
    def unsafe(self) -> list[Finding]:
        return [f for f in self.findings if f.unsafe]


def shown(target: str) -> str:
    """A target as quoted in messages (short, one line)."""
    return repr(target[:80])


def scheme_of(target: str) -> str | None:
    """The URL scheme as a browser would read it (percent-escapes decoded, spaces and
    control characters dropped, lower case), ``"//"`` for a network path, else None."""
    squeezed = _SQUEEZE.sub("", unquote(target))
    m = _SCHEME.match(squeezed)
    if m:
        return m.group(1).lower()
    if squeezed.startswith(("//", "\\\\", "/\\", "\\/")):
        return "//"
    return None


# -- rules ------------------------------------------------------------------------------
@dataclass
class Rules:
    """The link and image rules of one kind of *built* text (what a device accepts).

    ``media``: the pack's media paths, when known (install); the app only checks the form
    of the path (the pack's media route refuses anything else).
    Subclasses (the builder's) resolve source-relative targets instead.
    """

    kind: Kind
    media: Collection[str] | None = None
    findings: list[Finding] = field(default_factory=list)

    def note(self, line: int, message: str, *, unsafe: bool = True) -> None:
        self.findings.append(Finding(line, message, unsafe))

    def link(self, href: str, line: int) -> Link:
        if self.kind is Kind.LESSON and LESSON_LINK.match(href):
            return Link(href=href)
        self.note(line, self.link_message(href))
        return self.as_text(href)

    def link_message(self, href: str) -> str:
        if self.kind is Kind.PLAIN:
            return PLAIN_LINK
        if self.kind is Kind.LESSON:
            return (f"live link to {shown(href)} (a built lesson links only to lessons; "
                    "web addresses are written as text)")
        return f"live link to {shown(href)} (quiz texts show web addresses as text)"

    @staticmethod
    def as_text(href: str) -> Link:
        """A link shown as its label (plus the address for web and mail links)."""
        scheme = scheme_of(href)
        if scheme in WEB_SCHEMES:
            return Link(shown=shown_url(href))
        if scheme == "mailto":
            return Link(shown=shown_url(href)[len("mailto:"):])
        return Link()

    def image(self, src: str, line: int, alone: bool) -> str | None:
        if self.kind is not Kind.LESSON:
            self.note(line, IMAGE_OUTSIDE_LESSON)
            return None
        if not PACK_IMAGE.match(src) or (self.media is not None and src not in self.media):
            self.note(line, f"image {shown(src)} is not a file of the pack (remote images "
                            "are refused)")
            return None
        if not alone:
            self.note(line, IMAGE_PLACEMENT, unsafe=False)
            return None
        return src


@dataclass
class SourceRules(Rules):
    """Quiz texts and plain texts as an author writes them: web and mail links become
    text (``label (https://…)``), anything else is an error."""

    def link(self, href: str, line: int) -> Link:
        scheme = scheme_of(href)
        if self.kind is Kind.PLAIN:
            self.note(line, PLAIN_LINK)
        elif scheme in (*WEB_SCHEMES, "mailto"):
            pass
        elif scheme is None:
            self.note(line, f"link {shown(href)}: only lessons can link to lessons")
        else:
            self.note(line, bad_scheme(href))
        return self.as_text(href)


def bad_scheme(href: str) -> str:
    return (f"link {shown(href)} uses an unsupported scheme; allowed: http, https, mailto or "
            "a relative link to a lesson")


PLAIN_LINK = ("this text is shown as plain text, so it cannot hold a link; write the web "
              "address as text")
IMAGE_OUTSIDE_LESSON = "images are shown only in lessons, not in this text"
IMAGE_PLACEMENT = ("an image must stand in its own paragraph (not inside a list, quote, "
                   "table, heading or link)")
FALLBACK = ("the formatting here cannot be kept as written (emphasis next to an entity "
            "such as &#32;?); simplify it")


# -- the sanitiser ---------------------------------------------------------------------
def sanitize(text: str, rules: Rules) -> Result:
    """Safe Markdown for ``text`` under ``rules``, and every finding (sorted by line)."""
    findings = text_findings(text)
    result = sanitize_nodes(parse(without_forbidden(text)).children, rules)
    return Result(result.markdown, _sorted([*findings, *result.findings]))


def text_findings(text: str) -> list[Finding]:
    """Findings about the text as written: forbidden characters and raw HTML."""
    findings: list[Finding] = []
    bad = first_forbidden(text)
    if bad is not None:
        findings.append(Finding(bad[0], forbidden_message(bad[1])))
    findings += [Finding(line, html_message(what))
                 for line, what in raw_html(without_forbidden(text))]
    return findings


def sanitize_nodes(nodes: list[SyntaxTreeNode], rules: Rules, *, stable: bool = True
                   ) -> Result:
    """Safe Markdown for some top-level nodes of a parsed text (a lesson's card).

    ``stable=False`` only collects the findings (the install check): the output is then
    safe but not always written back in its most faithful form."""
    renderer = Renderer(rules.link, rules.image, stable=stable)
    out = renderer.document(nodes)
    findings = [*rules.findings,
                *(Finding(line, forbidden_message(cp)) for line, cp in renderer.forbidden),
                *(Finding(line, FALLBACK, unsafe=False) for line in renderer.flattened)]
    if stable and not _stable_and_safe(out, rules.kind):
        out = _fallback(nodes, rules)
        first = next((n.map[0] + 1 for n in nodes if n.map), 1)
        findings.append(Finding(first, FALLBACK, unsafe=False))
    return Result(out, _sorted(findings))


def _sorted(findings: list[Finding]) -> tuple[Finding, ...]:
    """By line (unsafe first), otherwise in the order found; without repeats."""
    return tuple(sorted(dict.fromkeys(findings), key=lambda f: (f.line, not f.unsafe)))


def forbidden_message(codepoint: str) -> str:
    return f"invalid character {codepoint} (a control or bidi-override character)"


def html_message(what: str) -> str:
    return f"raw HTML {what} is not allowed: write Markdown (to show a \"<\", write \\<)"


def _keep(href: str, line: int) -> Link:
    return Link(href=href)


def _keep_image(src: str, line: int, alone: bool) -> str | None:
    return src


def _stable_and_safe(out: str, kind: Kind) -> bool:
    """The output reads back as itself, and holds only what ``kind`` allows."""
    tree = parse(out)
    if Renderer(_keep, _keep_image).document(tree.children) != out:
        return False
    check = Rules(kind)
    Renderer(check.link, check.image).document(tree.children)
    return not check.findings and not raw_html(out)


def _fallback(nodes: list[SyntaxTreeNode], rules: Rules) -> str:
    quiet = Rules(rules.kind, rules.media)      # the findings are already known
    out = Renderer(quiet.link, quiet.image, flat=True).document(nodes)
    if _stable_and_safe(out, rules.kind):
        return out
    return _last_resort(nodes)


def _last_resort(nodes: list[SyntaxTreeNode]) -> str:
    """Every block as one escaped paragraph of its plain text: always stable."""
    paragraphs: list[str] = []

    def walk(node: SyntaxTreeNode) -> None:
        if node.type == "inline":
            paragraphs.append(plain_text(node))
        elif node.type in ("fence", "code_block"):
            paragraphs.append(node.content)
        else:
            for child in node.children:
                walk(child)

    for node in nodes:
        walk(node)
    lines = (" ".join(p.split()) for p in paragraphs)
    return "\n\n".join(escape(p, line_start=True) for p in lines if p)


# -- what the rest of the app calls ------------------------------------------------------
def check(text: str, kind: Kind, *, media: Collection[str] | None = None) -> list[Finding]:
    """Findings a device refuses a built text for (``unsafe`` ones, in line order)."""
    if kind is Kind.PLAIN:
        return [f for f in check_plain(text) if f.unsafe]
    rules = Rules(kind, media)
    found = sanitize_nodes(parse(without_forbidden(text)).children, rules, stable=False)
    return [f for f in _sorted([*text_findings(text), *found.findings]) if f.unsafe]


def check_plain(text: str, *, source: bool = False) -> list[Finding]:
    """Findings in a plain-text field (its text is used as it is, never re-rendered)."""
    findings = text_findings(text)
    if "[" in text or "<" in text:
        clean = without_forbidden(text)
        rules = SourceRules(Kind.PLAIN) if source else Rules(Kind.PLAIN)
        Renderer(rules.link, rules.image).document(parse(clean).children)
        findings += rules.findings
    return sorted(findings, key=lambda f: f.line)


@lru_cache(maxsize=256)
def safe_markdown(text: str, kind: Kind) -> str:
    """What the app renders for a built ``LESSON`` or ``RICH`` text."""
    return sanitize(text, Rules(kind)).markdown


def plain(text: str) -> str:
    """What the app shows for a ``PLAIN`` text."""
    return without_forbidden(text)


def split_images(markdown: str) -> list[tuple[str, str, str]]:
    """A lesson card, sanitised, as ("markdown", text, "") and ("image", alt, pack path)
    pieces, so the app shows each pack image with its own control."""
    pieces: list[tuple[str, str, str]] = []
    group: list[SyntaxTreeNode] = []

    def flush() -> None:
        text = Renderer(_keep, _keep_image).document(group) if group else ""
        if text.strip():
            pieces.append(("markdown", text, ""))
        group.clear()

    for node in parse(safe_markdown(markdown, Kind.LESSON)).children:
        inline = node.children[0] if node.type == "paragraph" and node.children else None
        if inline is None or not any(c.type == "image" for c in inline.children):
            group.append(node)
            continue
        flush()
        run: list[SyntaxTreeNode] = []
        for child in [*inline.children, None]:
            if child is not None and child.type != "image":
                run.append(child)
                continue
            text = Renderer(_keep, _keep_image).inline_run(run)
            if text:
                pieces.append(("markdown", text, ""))
            run = []
            if child is not None:
                pieces.append(("image", plain_text(child), str(child.attrs.get("src", ""))))
    flush()
    return pieces
