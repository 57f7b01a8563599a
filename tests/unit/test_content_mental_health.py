"""The promote-core course "Mental health, self-harm and suicide prevention for prison
staff" (issue 19 item 4), read through the real pack source reader in en, lt and ro.

Beyond test_content_promote_core.py (every string in every language, the built pack read
back through the engine, a correct answer everywhere), this checks what a reviewer of this
course asks:

- the substance of the public WHO/IASP guidance "Preventing suicide in jails and prisons" is
  taught: risk factors, warning signs and high-risk times; screening at reception and again
  at high-risk times; asking directly (it does not plant the idea); never leaving a person
  at risk alone; a safer environment that is never a punishment; communication between
  staff; care after self-harm and after a death;
- the lesson says exactly when to call medical staff, in every language;
- safe messaging: no method detail, no "commit suicide", no statistics (no percentage and no
  number except the reviewed rule numbers), rule numbers cited identically in every
  language and only where a reviewer checked them;
- the quiz is a bank that meets the quality thresholds in every language.

Hostile copies show that each check fails when it should.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from app.core.learning.text import localize
from app.core.packs import PackSource, read_source
from tests.support.content_checks import (
    citation_problems,
    course_of,
    lesson_text,
    lessons_of,
    statistic_problems,
    strings,
    structure_problems,
)
from tools.quiz_quality import quiz_figures

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "content_packs" / "promote-core"
COURSE = "mental-health"
LANGS = ("en", "lt", "ro")
LESSONS = ["01-mental-health-in-prison", "02-risk-and-warning-signs",
           "03-reception-and-screening", "04-asking-and-calling-for-help",
           "05-keeping-a-person-safe", "06-after-self-harm-or-a-death"]
#: checked against the instruments: Nelson Mandela Rules 30 (health examination on
#: admission, incl. risk of suicide or self-harm) and 76 (staff training, incl. early
#: detection of mental-health issues); European Prison Rules 47.2 (psychiatric treatment,
#: special attention to suicide prevention)
REVIEWED_RULES = {"30", "76", "47.2"}
#: the card that says when to call medical staff (lesson 04, card 3), per language: title,
#: the bold "immediately", and the situations it must name (any self-harm, stated intent)
WHEN_TO_CALL = {
    "en": ("When to call medical staff", "**immediately**",
           ["self-harmed in any way", "intend to end their life"]),
    "lt": ("Kada kviesti medicinos personalą", "**nedelsdami**",
           ["kaip nors susižalojo", "ketinantis nutraukti savo gyvenimą"]),
    "ro": ("Când chemați personalul medical", "**imediat**",
           ["s-a autovătămat în orice fel", "intenționează să-și pună capăt vieții"]),
}
#: (lesson, phrase) pairs that carry the WHO/IASP guidance in the English lessons
WHO_SUBSTANCE = [
    ("02-risk-and-warning-signs", "have self-harmed or attempted suicide before"),
    ("02-risk-and-warning-signs", "on remand"),
    ("02-risk-and-warning-signs", "the first night"),
    ("02-risk-and-warning-signs", "after a long sentence"),
    ("02-risk-and-warning-signs", "after bad news"),
    ("02-risk-and-warning-signs", "segregation"),
    ("02-risk-and-warning-signs", "a sudden calm after a period of great distress"),
    ("03-reception-and-screening", "held in private"),
    ("03-reception-and-screening", "Screening is not a one-off"),
    ("04-asking-and-calling-for-help", "It does not."),
    ("04-asking-and-calling-for-help", "Are you thinking about suicide?"),
    ("04-asking-and-calling-for-help", "Do not promise to keep it secret"),
    ("05-keeping-a-person-safe", "Do not leave a person at high risk alone"),
    ("05-keeping-a-person-safe", "never a punishment"),
    ("05-keeping-a-person-safe", "the escort staff must know"),
    ("05-keeping-a-person-safe", "between officers and health staff"),
    ("06-after-self-harm-or-a-death", "It must never be punished"),
    ("06-after-self-harm-or-a-death", "at higher risk themselves"),
    ("06-after-self-harm-or-a-death", "debriefing"),
]
#: safe messaging (WHO media guidance, applied to training): no method or means detail,
#: no "commit(ted) suicide", no "successful/failed" suicide
UNSAFE = {
    "en": re.compile(r"\bhang|ligature|noose|razor|blade|strangl|\bjump|"
                     r"\bcommit(?:ted|s)? suicide|successful suicide|failed (?:suicide|attempt)",
                     re.I),
    "lt": re.compile(r"pasikar|pasikor|kilp|skustuv|ašmen|nušok", re.I),
    "ro": re.compile(r"spânzur|ștreang|lam[ăe] de ras|\blam[ăe]\b|s-a aruncat|sugruma", re.I),
}


@pytest.fixture(scope="module")
def source() -> PackSource:
    return read_source(SRC)


def test_the_course_has_six_lessons_in_every_language_and_is_for_every_staff_role(
        source: PackSource) -> None:
    course = course_of(source, COURSE)
    assert [lesson["id"] for lesson in course["lessons"]] == LESSONS
    assert set(course["roles"]) == set(source.manifest["audience_roles"])
    assert len(course["roles"]) == 8          # every staff role of app/core/roles.py
    assert {"mental-health-awareness", "suicide-and-self-harm-prevention"} <= set(
        course["skills"])
    assert (course["pass_mark"], course["quiz"]["max_attempts"]) == (70, 3)
    docs = lessons_of(source, COURSE)
    problems = [p for lid, d in docs.items() for p in structure_problems(f"{COURSE}/{lid}", d,
                                                                         LANGS)]
    assert problems == []


def test_the_lessons_carry_the_who_guidance(source: PackSource) -> None:
    docs = lessons_of(source, COURSE)
    missing = [(lid, phrase) for lid, phrase in WHO_SUBSTANCE
               if phrase not in lesson_text(docs[lid]["en"])]
    assert missing == []


def test_every_language_says_exactly_when_to_call_medical_staff(source: PackSource) -> None:
    docs = lessons_of(source, COURSE)["04-asking-and-calling-for-help"]
    assert when_to_call_problems(docs) == []


def when_to_call_problems(docs: dict) -> list[str]:
    problems = []
    for lang, (title, bold, musts) in WHEN_TO_CALL.items():
        card = docs[lang]["cards"][3]
        if card["title"] != title:
            problems.append(f"{lang}: card 3 is {card['title']!r}")
            continue
        text = card["markdown"]
        if bold not in text:
            problems.append(f"{lang}: no {bold}")
        bullets = [line for line in text.splitlines() if line.startswith("- ")]
        if len(bullets) < 5:
            problems.append(f"{lang}: {len(bullets)} situations, expected ≥ 5")
        problems += [f"{lang}: does not name {m!r}" for m in musts if m not in text]
    return problems


def safety_problems(source: PackSource) -> list[str]:
    """Unsafe wording, statistics and unreviewed or lost citations, in lessons and quiz."""
    problems = []
    course = course_of(source, COURSE)
    for lid, docs in lessons_of(source, COURSE).items():
        texts = {lang: lesson_text(docs[lang]) for lang in LANGS}
        problems += citation_problems(f"{lid}", texts, REVIEWED_RULES)
        for lang, text in texts.items():
            problems += [f"{lid}.{lang}: unsafe wording {m.group()!r}"
                         for m in UNSAFE[lang].finditer(text)]
            problems += statistic_problems(f"{lid}.{lang}", text, REVIEWED_RULES)
    for lang in LANGS:
        quiz = " ".join(strings(course["quiz"], lang))
        problems += [f"quiz.{lang}: unsafe wording {m.group()!r}"
                     for m in UNSAFE[lang].finditer(quiz)]
        problems += [f"quiz.{lang}: percentage" for _ in re.finditer("%", quiz)]
    return problems


def test_safe_messaging_no_statistics_and_only_reviewed_rule_numbers(
        source: PackSource) -> None:
    assert safety_problems(source) == []


def test_the_outcomes_read_in_every_language(source: PackSource) -> None:
    course = course_of(source, COURSE)
    outcomes = course["outcomes"]
    assert 3 <= len(outcomes) <= 6
    for o in outcomes:
        for lang in LANGS:
            text = localize(o["text"], lang, "en")
            assert (text.lang, text.fallback) == (lang, False), o["id"]
            assert lang == "en" or text.text != o["text"]["en"], o["id"]
        assert not o["text"]["en"].lower().startswith(("understand", "know")), o["id"]


def test_the_quiz_is_a_bank_that_meets_the_quality_thresholds(source: PackSource) -> None:
    course = course_of(source, COURSE)
    quiz = course["quiz"]
    types = [q["type"] for q in quiz["questions"]]
    assert quiz["draw"] >= len(course["outcomes"])           # a draw can cover every outcome
    assert len(types) >= 2 * quiz["draw"]
    assert types.count("scenario") * 2 > len(types)          # mostly scenarios
    figures = [f for f in quiz_figures(source) if f.course == COURSE]
    assert {f.lang for f in figures} == set(LANGS)
    for f in figures:
        assert f.problems() == [], f.problems()
        assert f.correct_longest_share <= 0.40 and f.worst_ratio <= 1.6


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


def test_a_statistic_an_unsafe_word_and_an_unreviewed_rule_are_named(copy_src: Path) -> None:
    lessons = copy_src / "courses" / COURSE
    _edit(lessons / "02-risk-and-warning-signs.ro.md", "Mai mulți factori împreună",
          "În 40% din cazuri, mai mulți factori împreună")
    _edit(lessons / "06-after-self-harm-or-a-death.en.md", "Do not spread details",
          "Do not say that he hanged himself or spread details")
    _edit(lessons / "03-reception-and-screening.lt.md", "(30 taisyklė)", "(31 taisyklė)")
    problems = safety_problems(read_source(copy_src))
    assert "02-risk-and-warning-signs.ro: percentage '%'" in problems
    assert "02-risk-and-warning-signs.ro: number '40'" in problems
    assert "06-after-self-harm-or-a-death.en: unsafe wording 'hang'" in problems
    assert "03-reception-and-screening: lt cites rules ['31'], en cites ['30']" in problems
    assert "03-reception-and-screening: lt cites rule 31, which nobody has reviewed" in problems


def test_a_weakened_when_to_call_card_is_named(copy_src: Path) -> None:
    lesson = copy_src / "courses" / COURSE / "04-asking-and-calling-for-help.ro.md"
    _edit(lesson, "**imediat**", "cât de curând")
    _edit(lesson, "- o persoană s-a autovătămat în orice fel – oricât de minoră ar părea "
                  "vătămarea;\n", "")
    docs = lessons_of(read_source(copy_src), COURSE)["04-asking-and-calling-for-help"]
    assert when_to_call_problems(docs) == [
        "ro: no **imediat**", "ro: 4 situations, expected ≥ 5",
        "ro: does not name 's-a autovătămat în orice fel'"]


def test_a_scenario_that_reuses_a_lesson_name_fails_the_quiz_quality(copy_src: Path) -> None:
    """Laura is the officer of a de-escalation lesson: a scenario about her tests recall."""
    _edit(copy_src / "courses" / COURSE / "quiz.toml", 'case.en = "Dorin, 19,',
          'case.en = "Laura, 19,')
    [en] = [f for f in quiz_figures(read_source(copy_src))
            if f.course == COURSE and f.lang == "en"]
    assert any("'Laura'" in r for r in en.reused_names), en.reused_names
