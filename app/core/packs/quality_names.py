"""Proper names for the quiz quality rule "a scenario reuses a name used in the lessons".

A scenario that retells a lesson's example (same officer, same person in custody) tests
recall, not transfer. This module finds the proper names of one language of a pack;
app/core/packs/quality.py compares a scenario's names with the lessons' names.

Definitions (kept simple so an author can check them by hand):

* a *proper name* is a capitalised word (not an acronym) that is written with a capital
  inside a sentence somewhere in the pack, and such that no lower-case word of the pack's
  text in that language is the same word or starts with the same five letters; so
  sentence-initial words drop out ("Dalijatės" / "dalijasi", "Equal" / "equal");
* names are compared on their first four letters, which catches inflected forms
  ("Petras", "Petro"); a name that only ever starts sentences is missed: write at least
  one "Officer Laura" or "asks Laura";
* German capitalises every noun, so a capital says nothing there: in German a word counts
  as a name only if it is also a name of the pack's default language, possibly with the
  genitive -s (names are not translated: "Lucians Bericht" is still Lucian's report).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*", re.U)
#: letters a capitalised word must not share with any lower-case word to count as a name
PREFIX = 5
#: languages that write every noun with a capital letter
CAPITALISED_NOUNS = frozenset({"de"})
#: characters between a sentence end and the next word: spaces, quotes (opening and
#: closing), brackets, Markdown marks, list bullets and numbers
_OPENERS = " \t“”„\"«»‘’'()*_#>[]-–—0123456789"
#: capitalised words that are not names of people or places (titles, days, months,
#: the instruments cited); the corpus rule catches the rest
NOT_NAMES = frozenset({
    "officer", "european", "prison", "rules", "rule", "nelson", "mandela", "council",
    "europe", "probation", "nations", "united", "standard", "minimum", "recommendation",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "ngo", "cv", "id", "tv",
    "europos", "nelsono", "mandelos", "tarybos", "regulile", "regula", "consiliului",
    "europei", "penitenciare", "europene", "luni", "marți", "miercuri", "joi", "vineri",
    "sâmbătă", "duminică", "pirmadienį", "antradienį", "trečiadienį", "ketvirtadienį",
    "penktadienį", "šeštadienį", "sekmadienį",
    # pt: the instruments cited; pt weekdays and months are written in lower case
    "regras", "regra", "penitenciárias", "europeias", "conselho", "europa", "nações",
    "unidas", "mínimas", "tratamento", "reclusos", "recomendação",
})


def stem(name: str) -> str:
    """What two spellings of one name share ("Laura", "Lauros")."""
    return name.lower()[:4]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def strings(node: Any, lang: str) -> Iterator[str]:
    """Every text of ``lang`` in a manifest fragment (localized tables anywhere in it)."""
    if isinstance(node, dict):
        if lang in node and isinstance(node[lang], str):
            yield node[lang]
        for value in node.values():
            yield from strings(value, lang)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, lang)


def _capitals_inside(text: str) -> Iterator[str]:
    """Capitalised words that do not start a sentence, a line or a quotation."""
    for m in _WORD.finditer(text):
        w = m.group()
        if w[0].isupper():
            before = text[: m.start()].rstrip(_OPENERS)
            if before and before[-1] not in ".!?:;…\n":
                yield w


class Names:
    """Proper names of one language of a pack (see the module docstring).

    ``only``: when given, a word is a name only if it is one of these lower-case names (the
    default language's names, for a language that capitalises every noun), possibly with
    a genitive -s or apostrophe."""

    def __init__(self, corpus: list[str], only: set[str] | None = None) -> None:
        self.only = only
        self.lower = {w.lower() for text in corpus for w in _WORD.findall(text)
                      if w[0].islower()}
        self.prefixes = {w[:PREFIX] for w in self.lower if len(w) >= PREFIX}
        self.inside = {stem(w) for text in corpus for w in _capitals_inside(text)}

    def is_name(self, w: str) -> bool:
        low = w.lower()
        acronym = w.isupper() or (w.endswith("s") and w[:-1].isupper())    # NGO, NGOs
        if len(w) < 2 or not w[0].isupper() or acronym or low in NOT_NAMES:
            return False
        if self.only is not None and not ({low, low.rstrip("'’"), low.removesuffix("s")}
                                          & self.only):
            return False
        return (low not in self.lower and stem(w) in self.inside
                and (len(low) < PREFIX or low[:PREFIX] not in self.prefixes))

    def of(self, text: str) -> set[str]:
        return {w for w in _WORD.findall(text) if self.is_name(w)}


def names_of_language(lessons: list[str], courses: list[Any], lang: str,
                      default_names: set[str] | None = None) -> Names:
    """The name finder for one language: ``lessons`` are its lesson texts, ``courses`` the
    manifest's courses (their texts join the corpus). ``default_names``: the default
    language's names, required for a language that capitalises every noun."""
    corpus = lessons + list(strings(courses, lang))
    only = default_names if lang in CAPITALISED_NOUNS else None
    return Names(corpus, only)


def all_names(lessons: list[str], courses: list[Any], lang: str) -> set[str]:
    """Every proper name (lower case) in the lessons and course texts of one language."""
    corpus = lessons + list(strings(courses, lang))
    names = Names(corpus)
    return {w.lower() for text in corpus for w in names.of(text)}
