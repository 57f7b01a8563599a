"""A lesson as the tablet shows it, in HTML, for the studio's live preview.

The pipeline is the app's: the Markdown file is normalised by the builder's lesson parser
(``app.core.packs.lessons.parse_lesson``: split into cards at ``#``/``##``, raw HTML an
error, images only pack media, web links as text), each card is split at its images by
``app.core.packs.markup.split_images`` (what the lesson view's ``card_blocks`` does; the
server may not import the app's application layer), and each Markdown
block is rendered by markdown-it with raw HTML **off** (the app's Markdown control gets
the same text). Nothing an author types can become an element of the console page: with
HTML off, ``<script>`` is text, and markdown-it escapes every text it writes.

An error of the lesson (the builder's message and line) is shown instead of the cards.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt

from app.core.errors import PackSourceError
from app.core.packs.lessons import parse_lesson
from app.core.packs.markup import LESSON_LINK, split_images

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}
                 ).enable(["table", "strikethrough"])
#: the inert view of a lesson with an error: no image is fetched, no link is live
_INERT = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]
                                                          ).disable(["image", "link"])
#: the longest lesson text the preview renders (the builder's own bound is larger; a
#: preview of more is not useful and would only cost the server time)
MAX_PREVIEW_CHARS = 200_000


@dataclass(frozen=True)
class Preview:
    html: str              # the cards (the text rendered inert when it has an error)
    error: str = ""        # the builder's message
    line: int | None = None


def render_lesson(text: str, *, course: str, lesson: str, lang: str,
                  media_lookup: Callable[[str], str | None],
                  media_url: Callable[[str], str]) -> Preview:
    """The lesson file ``text`` as cards. ``media_lookup`` maps a source-relative image
    path to its pack path (None: not a media file of the draft); ``media_url`` gives the
    console URL that serves a pack path of the draft."""
    if len(text) > MAX_PREVIEW_CHARS:
        return Preview("", f"the lesson is longer than {MAX_PREVIEW_CHARS} characters; "
                           "split it into two lessons")
    try:
        parsed = parse_lesson(text, display="lesson", src_path=f"courses/{course}/"
                              f"{lesson}.{lang}.md", course=course, lesson=lesson, lang=lang,
                              media_lookup=media_lookup)
    except PackSourceError as exc:
        message = str(exc)
        for prefix in (f"lesson:{exc.line}: ", "lesson: "):
            message = message.removeprefix(prefix)
        # still show the text — as text: with raw HTML off nothing in it becomes markup
        inert: str = _INERT.render(text)
        return Preview(f'<section class="card unbuilt">{inert}</section>',
                       message, exc.line)
    out = [f'<h1 class="lesson-title">{html.escape(parsed.title)}</h1>']
    for i, card in enumerate(parsed.cards):
        out.append(f'<section class="card" id="card-{html.escape(card["anchor"])}">')
        out.append(f'<h2>{html.escape(card["title"])}</h2>'
                   f'<p class="card-no">{i + 1} / {len(parsed.cards)}</p>')
        for kind, text, path in split_images(card["markdown"]):
            if kind == "image":
                out.append(f'<figure><img src="{html.escape(media_url(path))}" '
                           f'alt="{html.escape(text)}"></figure>')
            else:
                out.append(_markdown(text))
        out.append("</section>")
    return Preview("\n".join(out))


def _markdown(text: str) -> str:
    tokens = _MD.parse(text)
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                target = LESSON_LINK.match(str(child.attrs.get("href", "")))
                anchor = str(child.attrs.get("href", "")).partition("#")[2] if target else ""
                # a lesson link: to a card of this preview, or inert (another lesson)
                child.attrs["href"] = f"#card-{anchor}" if anchor else "#"
    rendered: str = _MD.renderer.render(tokens, _MD.options, {})
    return rendered
