"""The one sanitiser for pack text (app/core/packs/markup): unit cases for every trick of
attack row 11 (issue 13), and property tests: whatever the input, the output holds no raw
HTML, no image but a pack file, no link but a lesson link, no forbidden character, and
sanitising it again changes nothing; legitimate Markdown keeps its rendering."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app.core.packs.markup import (
    LESSON_LINK,
    PACK_IMAGE,
    Kind,
    Rules,
    SourceRules,
    check,
    check_plain,
    first_forbidden,
    plain,
    raw_html,
    safe_markdown,
    sanitize,
    split_images,
)

#: an HTML-aware reader (what a careless renderer would do with the output)
READER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
READER.validateLink = lambda url: True  # type: ignore[method-assign]
HTML_OFF = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _tokens(markdown: str):  # noqa: ANN202
    stack = list(READER.parse(markdown))
    while stack:
        token = stack.pop()
        yield token
        stack.extend(token.children or [])


def problems(markdown: str, kind: Kind) -> list[str]:
    """What an HTML-aware Markdown reader finds in ``markdown`` that ``kind`` forbids."""
    found = []
    for t in _tokens(markdown):
        if t.type in ("html_inline", "html_block"):
            found.append(f"html {t.content!r}")
        elif t.type == "image":
            src = str(t.attrs.get("src", ""))
            if kind is not Kind.LESSON or not PACK_IMAGE.match(src):
                found.append(f"image {src!r}")
        elif t.type == "link_open":
            href = str(t.attrs.get("href", ""))
            if kind is not Kind.LESSON or not LESSON_LINK.match(href):
                found.append(f"link {href!r}")
    if first_forbidden(markdown):
        found.append(f"character {first_forbidden(markdown)}")
    return found


def clean(text: str, kind: Kind = Kind.RICH) -> str:
    return sanitize(text, Rules(kind)).markdown


def messages(text: str, kind: Kind = Kind.RICH) -> list[str]:
    return [f.message for f in sanitize(text, Rules(kind)).findings]


# -- attack row 11, one trick at a time -----------------------------------------------
def test_less_than_signs_keep_their_text() -> None:
    """The old regex stripping turned "if a<b and c>d" into "if ad"."""
    for text in ("if a<b and c>d", "x < y", "<3 and a <- b", "press <Enter>"):
        out = clean(text)
        assert problems(out, Kind.RICH) == [] and messages(text) == []
        assert HTML_OFF.renderInline(out) == HTML_OFF.renderInline(text)   # same words
    assert clean("if a<b and c>d") == "if a\\<b and c>d"


@pytest.mark.parametrize("text", [
    "<p>![](https://evil.example/x.png)</p>",
    "<p>\n![x](https://evil.example/x.png)\n</p>",
    "<div markdown=1>![x](https://evil.example/x.png)</div>",
    "![x](https://evil.example/x.png)",
    "![x](//evil.example/x.png)",
    "![x](HTTPS://EVIL.EXAMPLE/x.png)",
    "![x](data:image/png;base64,AAAA)",
    "![x][r]\n\n[r]: https://evil.example/x.png",          # reference-style image
    "![x][]\n\n[x]: <https://evil.example/x.png>",
    "[![x](https://evil.example/x.png)](media/a.png)",       # image inside a link
    "![x](https&#58;//evil.example/x.png)",                   # entity in the target
    "![x](<https://evil.example/x y.png>)",
    "![a [nested [brackets]] b](https://evil.example/x.png)",
    "| a |\n|---|\n| ![x](https://evil.example/x.png) |",
    "- ![x](https://evil.example/x.png)",
    "> ![x](https://evil.example/x.png)",
])
@pytest.mark.parametrize("kind", [Kind.LESSON, Kind.RICH])
def test_no_remote_image_survives(text: str, kind: Kind) -> None:
    out = clean(text, kind)
    assert problems(out, kind) == [] and "evil" not in out.replace("evil.example", "")
    assert not any(t.type == "image" for t in _tokens(out))
    assert any(f.unsafe for f in sanitize(text, Rules(kind)).findings)
    assert check(text, kind), "a device refuses it"


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript&#58;alert(1)",
    "javascript&#x3A;alert(1)", "javascript&colon;alert(1)", "java%0ascript:alert(1)",
    "<java\tscript:alert(1)>", "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "file:///etc/passwd", "//evil.example/", "/\\evil.example", "https://evil.example/",
    "mailto:x@evil.example", "intent://x#Intent;end",
])
@pytest.mark.parametrize("kind", [Kind.LESSON, Kind.RICH])
def test_no_link_but_a_lesson_link_survives(target: str, kind: Kind) -> None:
    for text in (f"[click]({target})", f"[click][r]\n\n[r]: {target}",
                 f"[a [nested [b]] c]({target})", f"[![i](media/a.png)]({target})"):
        out = clean(text, kind)
        assert problems(out, kind) == [], (text, out)
        assert check(text, kind), text


def test_web_links_become_visible_text_and_autolinks_too() -> None:
    rules = SourceRules(Kind.RICH)
    result = sanitize("See [the rules](https://example.org/r_1) and <https://example.org/a>, "
                      "or [mail](mailto:a@example.org).", rules)
    assert result.findings == ()
    assert result.markdown == ("See the rules (https://example.org/r\\_1) and "
                               "https://example.org/a, or mail (a@example.org).")
    assert problems(result.markdown, Kind.RICH) == []
    # a bad scheme is an author's error, reported with its line
    bad = sanitize("ok\n\n[x](javascript:alert(1))", SourceRules(Kind.RICH))
    assert [(f.line, "unsupported scheme" in f.message) for f in bad.findings] == [(3, True)]


def test_lesson_links_and_pack_images_stay() -> None:
    text = "See [step 2](lesson:c/l-2#step-2).\n\n![A ladder](media/c/ladder.png)"
    assert clean(text, Kind.LESSON) == text
    assert messages(text, Kind.LESSON) == []
    assert check(text, Kind.LESSON, media={"media/c/ladder.png"}) == []
    assert check(text, Kind.LESSON, media={"media/c/other.png"})       # not a file of the pack
    for src in ("media/c/x.svg", "media/../x.png", "media/c/x.html", "lessons/c/l.en.json"):
        assert check(f"![x]({src})", Kind.LESSON), src


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "a <b>bold</b> word", "<!-- hidden -->", "line<br>break",
    '<img src="https://evil.example/x.png">', "<iframe src=x></iframe>", "<svg onload=x>",
    "<a href='javascript:x'>y</a>", "<p>\ntext\n</p>", "<?php x ?>", "<![CDATA[x]]>",
    "x <span style=\"background:url(https://evil.example)\">y</span>",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "\\<script>",
])
def test_raw_html_is_text_in_the_output(text: str) -> None:
    for kind in (Kind.LESSON, Kind.RICH):
        out = clean(text, kind)
        assert problems(out, kind) == []
    if not text.startswith(("&lt;", "\\")):      # entities and escapes are text already
        assert raw_html(text), "authors and devices are told about real HTML"


def test_raw_html_detection_ignores_code_and_comparisons() -> None:
    assert raw_html("`<b>code</b>`\n\n```\n<script>x()</script>\n```\n") == ()
    assert raw_html("if a<b and c>d, x < y, <Enter>, a </foo> b") == ()
    assert raw_html("x\n\n<b>y</b>") == ((3, "<b>"), (3, "</b>"))


def test_forbidden_characters() -> None:
    assert messages("a\u202eb") == ["invalid character U+202E (a control or bidi-override "
                                    "character)"]
    assert clean("a\u202eb\x00c\x1bd") == "abcd"
    assert clean("x&#x202E;y") == "xy" and messages("x&#x202E;y")   # via an entity too
    assert plain("name\u2066\x07") == "name"
    assert check_plain("Rtl mark \u200f is fine") == []


def test_plain_text_is_checked_not_rewritten() -> None:
    assert check_plain("if a<b and c>d; 1. **not** markdown") == []
    for text in ("![](https://evil.example/x.png)", "[x](javascript:alert(1))",
                 "<https://evil.example>", "<b>bold</b>", "a\u202eb"):
        assert check_plain(text), text
        assert check(text, Kind.PLAIN), text


def test_escaping_keeps_text_from_becoming_structure() -> None:
    cases = {"1986\\. was a year": "1986\\. was a year",
             "a\n\\# not a heading": "a\n\\# not a heading",
             "\\- not a list": "\\- not a list",
             "x\n\\===": "x\n\\===",
             "a &amp;copy; b": "a \\&copy; b",
             "tilde \\~\\~x\\~\\~ and $5": "tilde \\~\\~x\\~\\~ and \\$5",
             "pipe \\| a": "pipe \\| a",
             "\\![not](lesson:c/l)": "\\![not](lesson:c/l)"}
    for text, expected in cases.items():
        assert clean(text, Kind.LESSON) == expected, text
        assert HTML_OFF.render(clean(text, Kind.LESSON)) == HTML_OFF.render(text)


def test_structure_is_kept() -> None:
    text = ("Intro with **bold**, *em*, `code` and ~~old~~.\n\n### Detail\n\n- one\n- two\n"
            "  - nested\n\n1. first\n2. second\n\n> quoted\n> text\n\n```python\nx = '<b>'\n"
            "```\n\n| a | b |\n| :--- | ---: |\n| `c\\|d` | e |\n\n___\n\nlast\\\nline")
    assert clean(text, Kind.LESSON) == text
    assert messages(text, Kind.LESSON) == []


def test_split_images_serves_only_pack_images() -> None:
    md = ("Before ![A](media/c/a.png) after\n\n- list\n\n![B](https://evil.example/b.png)\n\n"
          "![C](media/c/c.png)")
    assert split_images(md) == [("markdown", "Before", ""), ("image", "A", "media/c/a.png"),
                                ("markdown", "after", ""), ("markdown", "- list\n\nB", ""),
                                ("image", "C", "media/c/c.png")]


def test_safe_markdown_is_what_the_app_renders() -> None:
    assert safe_markdown("<p>![x](https://evil.example/x.png)</p> [y](javascript:z)",
                         Kind.RICH) == "\\<p>x\\</p> y"


# -- properties -----------------------------------------------------------------------
PIECES = [*"ab1 <>[]()!*_`~|#-+=\\&;:/.\n\t$", "https://evil.example/a.png", "javascript:",
          "&#58;", "&#x3A;", "&colon;", "&#32;", "&#10;", "&nbsp;", "&#42;", "&lt;", "&amp;",
          "&#x202E;", "<script>", "</p>", "<p>", "<!--", "-->", "<img src=x>", "<b and c>",
          "media/c/x.png", "lesson:c/l#a", "![", "](", "[r]: ", "[r]", "\n\n", "```",
          "~~~", "    ", "> ", "- ", "1. ", "2) ", "| a | b |\n|---|---|\n", "\u202e", "\x00",
          "www.evil.example", "mailto:a@evil.example", "data:image/png;base64,AA", "**",
          "***", "<https://evil.example>", "\\\n", "  \n", "___\n", "---\n", "===\n",
          "\u00a0", "é"]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=50).map("".join)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(text=HOSTILE, kind=st.sampled_from([Kind.LESSON, Kind.RICH]))
def test_any_text_comes_out_safe_and_stable(text: str, kind: Kind) -> None:
    out = clean(text, kind)
    assert problems(out, kind) == [], (text, out)
    assert clean(out, kind) == out, (text, out)                       # idempotent
    assert not [f for f in sanitize(out, Rules(kind)).findings if f.unsafe], (text, out)


@FUZZ
@given(text=st.text(max_size=60), kind=st.sampled_from([Kind.LESSON, Kind.RICH]))
def test_any_unicode_comes_out_safe_and_stable(text: str, kind: Kind) -> None:
    out = clean(text, kind)
    assert problems(out, kind) == [] and clean(out, kind) == out, (text, out)


@FUZZ
@given(text=HOSTILE)
def test_card_pieces_are_safe(text: str) -> None:
    for kind, piece, path in split_images(text):
        if kind == "image":
            assert PACK_IMAGE.match(path)
        else:
            assert problems(piece, Kind.LESSON) == []
            assert not any(t.type == "image" for t in _tokens(piece)), piece


# legitimate Markdown: what authors write. Sanitising it reports nothing and keeps the
# rendering exactly (same HTML from the same reader).
WORD = st.sampled_from(["staff", "talk", "calm", "report", "Ribos", "ținută", "safety",
                        "rule 76", "(quiet)", "don't", "e.g.", "50%", "A–B", "yes!", "why?"])


@st.composite
def _inline(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        word = draw(WORD)
        style = draw(st.sampled_from(["", "", "", "*", "**", "`", "link"]))
        if style == "link":
            word = f"[{word}](lesson:c/l-{draw(st.integers(1, 3))}#part)"
        elif style:
            word = f"{style}{word}{style}"
        parts.append(word)
    return " ".join(parts)


@st.composite
def _block(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["p", "p", "list", "olist", "h", "quote", "code", "image",
                                 "table"]))
    if kind == "list":
        return "\n".join(f"- {draw(_inline())}" for _ in range(draw(st.integers(1, 4))))
    if kind == "olist":
        return "\n".join(f"{i}. {draw(_inline())}" for i in range(1, draw(st.integers(2, 4))))
    if kind == "h":
        return f"### {draw(_inline())}"
    if kind == "quote":
        return f"> {draw(_inline())}"
    if kind == "code":
        return "```\nif a < b: print('<b>')\n```"
    if kind == "image":
        return f"![{draw(WORD)}](media/c/figure-{draw(st.integers(1, 3))}.png)"
    if kind == "table":
        return f"| a | b |\n| --- | --- |\n| {draw(WORD)} | {draw(WORD)} |"
    return "\n".join(draw(_inline()) for _ in range(draw(st.integers(1, 3))))


@FUZZ
@given(blocks=st.lists(_block(), min_size=1, max_size=6))
def test_legitimate_markdown_keeps_its_rendering(blocks: list[str]) -> None:
    text = "\n\n".join(blocks)
    result = sanitize(text, Rules(Kind.LESSON))
    assert result.findings == ()
    assert HTML_OFF.render(result.markdown) == HTML_OFF.render(text)
    assert clean(result.markdown, Kind.LESSON) == result.markdown
