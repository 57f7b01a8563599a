"""Checks shared by the content tests of the courses added in issue 19 (the mental-health
course of promote-core, the workpris-ngo pack): what a reviewer of a translated course asks
first, applied to the normalised lessons and manifest the device receives.

Each check returns a list of problems (empty = fine), so the hostile tests can show that it
names what it should.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.packs import PackSource

TRY_THIS = {"en": "Try this on your next shift", "lt": "Išbandykite per kitą pamainą",
            "ro": "Încercați în următoarea tură"}
#: "Rule 51" / "Rules 51" · "51 taisyklė" · "Regula 51"
RULE = {
    "en": re.compile(r"\bRules? (\d+(?:\.\d+)?)"),
    "lt": re.compile(r"\b(\d+(?:\.\d+)?) taisykl"),
    "ro": re.compile(r"\bRegula (\d+(?:\.\d+)?)"),
}
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
PERCENT = re.compile(r"%|\bper ?cent\b|\bprocent|\bla sută\b", re.I)
CEDILLA = re.compile("[şţŞŢ]")
LITHUANIAN = re.compile("[ąčęėįšųūžĄČĘĖĮŠŲŪŽ]")
WORDS_PER_CARD = (40, 180)


def course_of(source: PackSource, course_id: str) -> dict[str, Any]:
    return next(c for c in source.manifest["courses"] if c["id"] == course_id)


def lessons_of(source: PackSource, course_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """lesson id → language → normalised lesson document (what the device receives)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for lesson in course_of(source, course_id)["lessons"]:
        out[lesson["id"]] = {}
        for lang, path in lesson["files"].items():
            data = source.files[path]
            raw = data if isinstance(data, bytes) else Path(data).read_bytes()
            out[lesson["id"]][lang] = json.loads(raw)
    return out


def lesson_text(doc: dict[str, Any]) -> str:
    return "\n".join([doc["title"]] + [c["title"] + "\n" + c["markdown"] for c in doc["cards"]])


def strings(node: Any, lang: str) -> Iterator[str]:
    """Every text of ``lang`` in a manifest fragment."""
    if isinstance(node, dict):
        if isinstance(node.get(lang), str):
            yield node[lang]
        for value in node.values():
            yield from strings(value, lang)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, lang)


def structure_problems(where: str, docs: dict[str, dict[str, Any]], langs: tuple[str, ...]
                       ) -> list[str]:
    """5–6 cards ending with the "try this" card, the same cards in every language, each
    translated (not the English), English cards tablet-sized, ro without cedillas, lt with
    Lithuanian letters."""
    problems = []
    en = docs["en"]
    for lang in langs:
        doc = docs.get(lang)
        if doc is None:
            problems.append(f"{where}.{lang}: missing")
            continue
        cards = doc["cards"]
        if not 5 <= len(cards) <= 6:
            problems.append(f"{where}.{lang}: {len(cards)} cards, expected 5–6")
        if cards and cards[-1]["title"] != TRY_THIS[lang]:
            problems.append(f"{where}.{lang}: last card is {cards[-1]['title']!r}")
        if len(cards) != len(en["cards"]):
            problems.append(f"{where}.{lang}: {len(cards)} cards, en has {len(en['cards'])}")
            continue
        if lang != "en":
            if doc["title"] == en["title"]:
                problems.append(f"{where}.{lang}: English title")
            for i, (mine, theirs) in enumerate(zip(cards, en["cards"], strict=True)):
                if mine["markdown"] == theirs["markdown"]:
                    problems.append(f"{where}.{lang} card {i}: English text")
        text = lesson_text(doc)
        if lang == "ro" and CEDILLA.search(text):
            problems.append(f"{where}.ro: cedilla ş/ţ (use ș ț)")
        if lang == "lt" and not LITHUANIAN.search(text):
            problems.append(f"{where}.lt: no Lithuanian letters")
    for i, card in enumerate(en["cards"]):
        words = len(card["markdown"].split())
        if not WORDS_PER_CARD[0] <= words <= WORDS_PER_CARD[1]:
            problems.append(f"{where}.en card {i}: {words} words")
    return problems


def citation_problems(where: str, texts: dict[str, str], reviewed: set[str]) -> list[str]:
    """Every language cites the same rule numbers as the English, and only reviewed ones."""
    cited = {lang: set(RULE[lang].findall(text)) for lang, text in texts.items()}
    problems = [f"{where}: {lang} cites rules {sorted(cited[lang])}, en cites "
                f"{sorted(cited['en'])}" for lang in texts if cited[lang] != cited["en"]]
    for lang in texts:
        for number in sorted(cited[lang] - reviewed):
            problems.append(f"{where}: {lang} cites rule {number}, which nobody has reviewed")
    return problems


def statistic_problems(where: str, text: str, allowed: set[str]) -> list[str]:
    """No invented statistics: no percentages, and no number in a lesson except the rule
    numbers and document references a reviewer checked."""
    problems = [f"{where}: percentage {m.group()!r}" for m in PERCENT.finditer(text)]
    problems += [f"{where}: number {n!r}" for n in NUMBER.findall(text) if n not in allowed]
    return problems
