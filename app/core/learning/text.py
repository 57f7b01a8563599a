"""Picking one language out of a pack's localized strings, with the fallback flagged.

Every string picked here is cleaned of control and bidi-override characters
(``app.core.packs.markup.plain``) even though install refused packs holding them: what
the app shows is checked where it is shown, too. Texts the app renders as Markdown go
through ``markdown()`` (the pack-text sanitiser) as well.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.core.packs.markup import Kind, plain, safe_markdown


@dataclass(frozen=True, slots=True)
class Text:
    """A string shown to the learner.

    `fallback` is True when the learner's language was missing and the pack's default
    language (or, failing that, any language present) is shown instead; the UI marks it.
    """

    text: str
    lang: str
    fallback: bool = False


def localize(value: Any, lang: str, default: str) -> Text:
    """Choose `lang` from a `{language: text}` table, else `default`, else the first entry.

    A missing or empty table gives an empty, flagged text rather than an exception: a
    manifest has been schema-checked by the pack verifier before it reaches this point,
    so an absent optional string (e.g. no feedback for an option) is the only case.
    """
    if isinstance(value, dict):
        text = value.get(lang)
        if isinstance(text, str):
            return Text(plain(text), lang, False)
        text = value.get(default)
        if isinstance(text, str):
            return Text(plain(text), default, True)
        for code in sorted(value):
            if isinstance(value[code], str):
                return Text(plain(value[code]), code, True)
    elif isinstance(value, str):
        return Text(plain(value), lang, False)
    return Text("", lang, value is not None)


def markdown(text: Text) -> Text:
    """A quiz text the app renders as Markdown (case, explanation), sanitised: no image,
    link or HTML can survive, whatever the installed pack holds."""
    return replace(text, text=safe_markdown(text.text, Kind.RICH))
