"""Translation fidelity of two promote-core courses: dynamic-security and de-escalation.

test_content_promote_core.py checks that every string exists in every language. This file
checks what a reviewer of the translations would ask next, read through the real pack
source reader (app.core.packs.read_source → normalised lesson JSON and quiz manifest):

- each lt / ro / de / pt lesson has the same card structure as the English one (nothing
  dropped or merged), ends with the localized "try this" card, and keeps the same images and
  links;
- image alt text is translated, not left in English;
- every rule number cited in English (European Prison Rules, Nelson Mandela Rules) is
  cited in lt, ro, de and pt too, and no number appears that a reviewer has not checked;
- English cards stay tablet-sized, and the source reader raises no warnings.

Hostile copies (a dropped card, a lost citation, an unreviewed rule number, English alt
text) show that the checks fail when they should.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.core.packs import read_source

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "content_packs" / "promote-core"
COURSES = ("dynamic-security", "de-escalation")
LANGS = ("en", "lt", "ro", "de", "pt")
TRANSLATIONS = ("lt", "ro", "de", "pt")
TRY_THIS = {"en": "Try this on your next shift", "lt": "Išbandykite per kitą pamainą",
            "ro": "Încercați în următoarea tură",
            "de": "Probieren Sie es in Ihrer nächsten Schicht aus",
            "pt": "Experimente no seu próximo turno"}
#: rule numbers an author checked against the instruments' published texts (EPR 2006/2020:
#: 1 respect for human rights, 2 rights retained, 49, 51, 56.2, 64; Nelson Mandela Rules: 1,
#: 2, 38, 76, 82; docs/content-glossary.md says what each one says). A new number needs a
#: check.
REVIEWED_RULES = {"1", "2", "38", "49", "51", "56.2", "64", "76", "82"}
#: "Rule 51" / "Rules 51" · "51 taisyklė" / "56.2 taisyklė" · "Regula 51" · "Nr. 51" (European
#: Prison Rules, as German texts number the Strafvollzugsgrundsätze) / "Regel 82" (Mandela) ·
#: "Regra 51" / "Regras 107"
RULE = {
    "en": re.compile(r"\bRules? (\d+(?:\.\d+)?)"),
    "lt": re.compile(r"\b(\d+(?:\.\d+)?) taisykl"),
    "ro": re.compile(r"\bRegula (\d+(?:\.\d+)?)"),
    "de": re.compile(r"(?:\bNr\.|\bRegeln?) (\d+(?:\.\d+)?)"),
    "pt": re.compile(r"\bRegras? (\d+(?:\.\d+)?)"),
}
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)]+)\)")
WORDS_PER_CARD = (40, 180)  # en: one tablet screen, 1–2 minutes; lists may be shorter


def lessons_of(source: Any, course_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """lesson id → language → normalised lesson document (what the device receives)."""
    course = next(c for c in source.manifest["courses"] if c["id"] == course_id)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for lesson in course["lessons"]:
        out[lesson["id"]] = {}
        for lang, path in lesson["files"].items():
            data = source.files[path]
            raw = data if isinstance(data, bytes) else Path(data).read_bytes()
            out[lesson["id"]][lang] = json.loads(raw)
    return out


def quiz_strings(course: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every localized string of a course quiz, with a readable location."""
    found: list[tuple[str, dict[str, str]]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node and set(node) == set(LANGS) and all(isinstance(v, str) for v in node.values()):
                found.append((where, node))
                return
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{node[i].get('id', i) if isinstance(value, dict) else i}]")

    walk(course["quiz"], course["id"] + ".quiz")
    return found


def citation_problems(where: str, texts: dict[str, str]) -> list[str]:
    cited = {lang: set(RULE[lang].findall(texts[lang])) for lang in LANGS}
    problems = [f"{where}: {lang} cites rules {sorted(cited[lang])}, en cites "
                f"{sorted(cited['en'])}" for lang in TRANSLATIONS if cited[lang] != cited["en"]]
    for lang in LANGS:
        for number in sorted(cited[lang] - REVIEWED_RULES):
            problems.append(f"{where}: {lang} cites rule {number}, which nobody has reviewed")
    return problems


def lesson_problems(course_id: str, lesson_id: str, docs: dict[str, dict[str, Any]]) -> list[str]:
    where = f"{course_id}/{lesson_id}"
    problems: list[str] = []
    en = docs["en"]
    for lang in LANGS:
        doc = docs[lang]
        cards = doc["cards"]
        if not 3 <= len(cards) <= 6:
            problems.append(f"{where}.{lang}: {len(cards)} cards, expected 3–6")
        if cards and cards[-1]["title"] != TRY_THIS[lang]:
            problems.append(f"{where}.{lang}: last card is {cards[-1]['title']!r}")
        if len(cards) != len(en["cards"]):
            problems.append(f"{where}.{lang}: {len(cards)} cards, en has {len(en['cards'])}")
            continue
        for i, (card, en_card) in enumerate(zip(cards, en["cards"], strict=True)):
            images = IMAGE.findall(card["markdown"])
            en_images = IMAGE.findall(en_card["markdown"])
            if [src for _, src in images] != [src for _, src in en_images]:
                problems.append(f"{where}.{lang} card {i}: images differ from en")
            if lang != "en":
                for (alt, _), (en_alt, _) in zip(images, en_images, strict=False):
                    if not alt.strip() or alt == en_alt:
                        problems.append(f"{where}.{lang} card {i}: alt text not translated")
            if LINK.findall(card["markdown"]) != LINK.findall(en_card["markdown"]):
                problems.append(f"{where}.{lang} card {i}: links differ from en")
    text = {lang: "\n".join(c["markdown"] for c in docs[lang]["cards"]) for lang in LANGS}
    problems += citation_problems(where, text)
    for i, card in enumerate(en["cards"]):
        words = len(IMAGE.sub("", card["markdown"]).split())
        if not WORDS_PER_CARD[0] <= words <= WORDS_PER_CARD[1]:
            problems.append(f"{where}.en card {i}: {words} words")
    return problems


def all_problems(source: Any) -> list[str]:
    problems = [f"source warning: {w}" for w in source.warnings
                if any(c in w for c in COURSES)]
    for course_id in COURSES:
        for lesson_id, docs in lessons_of(source, course_id).items():
            problems += lesson_problems(course_id, lesson_id, docs)
        course = next(c for c in source.manifest["courses"] if c["id"] == course_id)
        for where, texts in quiz_strings(course):
            problems += citation_problems(where, texts)
    return problems


@pytest.fixture(scope="module")
def source() -> Any:
    return read_source(SRC)


def test_the_two_courses_are_listed_with_six_lessons_in_every_language(source: Any) -> None:
    for course_id in COURSES:
        lessons = lessons_of(source, course_id)
        assert len(lessons) == 6
        assert all(set(docs) == set(LANGS) for docs in lessons.values())


def test_translations_keep_structure_images_links_and_citations(source: Any) -> None:
    assert all_problems(source) == []


def test_every_course_illustrates_a_lesson_with_its_own_diagram(source: Any) -> None:
    for course_id in COURSES:
        images = {src for docs in lessons_of(source, course_id).values()
                  for doc in docs.values() for card in doc["cards"]
                  for _, src in IMAGE.findall(card["markdown"])}
        assert images and all(src.startswith(f"media/{course_id}/") for src in images)
        for src in images:
            data = source.files[src]
            size = len(data) if isinstance(data, bytes) else Path(data).stat().st_size
            assert size <= 60 * 1024, src


def test_quizzes_cite_rules_in_every_language(source: Any) -> None:
    """The de-escalation quiz cites the use-of-force rules; each language must keep them."""
    course = next(c for c in source.manifest["courses"] if c["id"] == "de-escalation")
    cited = {lang: set() for lang in LANGS}
    for _, texts in quiz_strings(course):
        for lang in LANGS:
            cited[lang] |= set(RULE[lang].findall(texts[lang]))
    assert cited["en"] >= {"64", "82"}
    assert cited["lt"] == cited["ro"] == cited["de"] == cited["pt"] == cited["en"]


# -- hostile copies: the checks must fail --------------------------------------------
@pytest.fixture()
def copy_src(tmp_path: Path) -> Path:
    dst = tmp_path / "promote-core"
    shutil.copytree(SRC, dst)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_dropped_romanian_card_is_named(copy_src: Path) -> None:
    lesson = copy_src / "courses/dynamic-security/02-professional-boundaries.ro.md"
    _edit(lesson, "## Prietenos, dar nu prieten\n", "")
    problems = all_problems(read_source(copy_src))
    assert any("02-professional-boundaries.ro: 4 cards, en has 5" in p for p in problems)


def test_a_lost_lithuanian_citation_and_an_unreviewed_number_are_named(copy_src: Path) -> None:
    course = copy_src / "courses/de-escalation"
    _edit(course / "06-when-de-escalation-is-not-enough.lt.md", "(64 taisyklė)", "")
    _edit(course / "06-when-de-escalation-is-not-enough.ro.md", "(Regula 64)", "(Regula 99)")
    problems = all_problems(read_source(copy_src))
    assert any("06-when-de-escalation-is-not-enough: lt cites rules ['82']" in p
               for p in problems)
    assert any("ro cites rule 99, which nobody has reviewed" in p for p in problems)


def test_a_lost_german_citation_is_named(copy_src: Path) -> None:
    course = copy_src / "courses/de-escalation"
    _edit(course / "06-when-de-escalation-is-not-enough.de.md", "(Nr. 64)", "")
    problems = all_problems(read_source(copy_src))
    assert any("06-when-de-escalation-is-not-enough: de cites rules ['82']" in p
               for p in problems), problems


def test_english_alt_text_in_a_translation_is_named(copy_src: Path) -> None:
    en = copy_src / "courses/de-escalation/01-how-conflict-escalates.en.md"
    lt = copy_src / "courses/de-escalation/01-how-conflict-escalates.lt.md"
    en_alt = IMAGE.search(en.read_text(encoding="utf-8")).group(1)
    lt_alt = IMAGE.search(lt.read_text(encoding="utf-8")).group(1)
    _edit(lt, lt_alt, en_alt)
    problems = all_problems(read_source(copy_src))
    assert problems == ["de-escalation/01-how-conflict-escalates.lt card 2: alt text not "
                        "translated"]


def test_a_lost_portuguese_citation_is_named(copy_src: Path) -> None:
    course = copy_src / "courses/de-escalation"
    _edit(course / "06-when-de-escalation-is-not-enough.pt.md", " (Regra 64)", "")
    problems = all_problems(read_source(copy_src))
    assert any("06-when-de-escalation-is-not-enough: pt cites rules ['82']" in p
               for p in problems)
