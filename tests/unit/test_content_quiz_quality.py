"""Quiz quality of the shipped packs (issue 19 item 1, the thresholds of issue 16), measured
by tools/quiz_quality.py on the real pack sources, in every language:

- the correct option is the longest in at most 40 % of a quiz's choice items;
- within an item the longest option is at most 1.6× the shortest;
- no duplicate or near-duplicate options, no "all/none of the above";
- feedback on every option and an explanation on every item;
- no proper name of a scenario appears in a lesson of the same pack (transfer, not recall);
- every question tagged with a learning outcome of its course, every outcome tested;
- a quiz that draws N questions has a bank of at least 2N.

promote-core goes further: every course draws from a bank, has 3–6 outcomes, each tested by
at least three questions. Hostile copies show that each check fires.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.core.packs import PackSource, read_source
from tools.quiz_quality import MAX_CORRECT_LONGEST, MAX_LENGTH_RATIO, QuizFigures, quiz_figures

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p.parent.name for p in (ROOT / "content_packs").glob("*/pack.toml"))


@pytest.fixture(scope="module", params=SOURCES)
def source(request: pytest.FixtureRequest) -> PackSource:
    return read_source(ROOT / "content_packs" / request.param)


@pytest.fixture(scope="module")
def core() -> PackSource:
    return read_source(ROOT / "content_packs" / "promote-core")


def test_the_thresholds_are_the_agreed_ones() -> None:
    assert (MAX_CORRECT_LONGEST, MAX_LENGTH_RATIO) == (0.40, 1.6)


def test_every_shipped_quiz_passes_every_check_in_every_language(source: PackSource) -> None:
    figures = quiz_figures(source)
    langs = [lang for lang in source.manifest["languages"]
             if lang not in source.manifest["partial_languages"]]
    assert {(f.course, f.lang) for f in figures} == {
        (c["id"], lang) for c in source.manifest["courses"] for lang in langs}
    problems = [p for f in figures for p in f.problems()]
    assert problems == []
    for f in figures:
        assert f.choice_items >= 5, f"{f.course}: too few choice items to measure"
        assert f.correct_longest_share <= MAX_CORRECT_LONGEST, f.summary()


def test_promote_core_quizzes_are_banks_that_cover_every_outcome(core: PackSource) -> None:
    for course in core.manifest["courses"]:
        quiz, where = course["quiz"], course["id"]
        outcomes = [o["id"] for o in course["outcomes"]]
        assert 3 <= len(outcomes) <= 6, where
        assert quiz["draw"] >= 6 and len(quiz["questions"]) >= 2 * quiz["draw"], where
        tested: dict[str, int] = dict.fromkeys(outcomes, 0)
        for q in quiz["questions"]:
            tags = {q["outcome"]} | {p["outcome"] for p in q.get("parts", [])}
            for tag in tags:
                tested[tag] += 1
        assert min(tested.values()) >= 3, f"{where}: {tested}"
        # the correct option should not be systematically the shortest either
        for f in quiz_figures(core):
            if f.course == where:
                assert f.correct_longest >= 3, f.summary()


# -- hostile copies: each check fires -------------------------------------------------
def _figures(source: PackSource, manifest: dict[str, Any], course: str, lang: str
             ) -> QuizFigures:
    damaged = PackSource(source.src_dir, manifest, source.files, source.warnings)
    [fig] = [f for f in quiz_figures(damaged) if (f.course, f.lang) == (course, lang)]
    return fig


def _course(manifest: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in manifest["courses"] if c["id"] == cid)


def _choice_items(course: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for q in course["quiz"]["questions"]:
        for item in (q["parts"] if q["type"] == "scenario" else [q]):
            if item["type"] != "true_false":
                out.append(item)
    return out


def test_a_quiz_whose_correct_options_are_longest_fails(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    for item in _choice_items(_course(m, "de-escalation")):
        for o in item["options"]:
            if o["correct"]:
                o["text"]["en"] += " (and explain it)"
    fig = _figures(core, m, "de-escalation", "en")
    assert fig.correct_longest_share > MAX_CORRECT_LONGEST
    assert any("correct option is the longest" in p for p in fig.problems())


def test_unequal_duplicate_and_all_of_the_above_options_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    items = _choice_items(_course(m, "reintegration"))
    items[0]["options"][1]["text"]["lt"] = "Ne"
    items[1]["options"][2]["text"]["ro"] = items[1]["options"][3]["text"]["ro"] + "."
    items[2]["options"][3]["text"]["en"] = "All of the above"
    lt = _figures(core, m, "reintegration", "lt").problems()
    ro = _figures(core, m, "reintegration", "ro").problems()
    en = _figures(core, m, "reintegration", "en").problems()
    assert any(f"option lengths very unequal: {items[0]['id']}" in p for p in lt)
    assert any(f"near-duplicate options: {items[1]['id']}: c ~ d" in p for p in ro)
    assert any(f"'all/none of the above': {items[2]['id']}/d" in p for p in en)


def test_missing_feedback_explanation_and_outcome_tags_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    course = _course(m, "dynamic-security")
    first = course["quiz"]["questions"][0]          # a scenario
    part = first["parts"][0]
    del part["options"][2]["feedback"]
    del part["explanation"]
    single = next(q for q in course["quiz"]["questions"] if q["type"] == "single")
    del single["outcome"]
    problems = _figures(core, m, "dynamic-security", "ro").problems()
    assert any(f"{part['id']}/c: feedback" in p for p in problems)
    assert any(f"{part['id']}: explanation" in p for p in problems)
    assert any(f"not tagged with a learning outcome: {single['id']}" in p for p in problems)


def test_an_untested_outcome_and_a_small_bank_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    course = _course(m, "de-escalation")
    course["outcomes"].append({"id": "de-extra", "text": {"en": "x", "lt": "x", "ro": "x"}})
    course["quiz"]["draw"] = 9
    problems = _figures(core, m, "de-escalation", "en").problems()
    assert any("fewer than 2 questions: de-extra" in p for p in problems)
    assert any("smaller than twice the draw (9)" in p for p in problems)


@pytest.mark.parametrize(("lang", "planted"), [
    ("en", "Officer Laura, who"),                  # a lesson's officer
    ("lt", "pareigūnė Lauros kolegė"),             # inflected: Laura → Lauros
    ("ro", "colegul lui Radu, care"),              # a lesson's person in prison
    ("de", "Justizvollzugsbeamtin Lauras Kollegin"),  # German genitive: Laura → Lauras
    ("pt", "a colega da Laura, que"),              # a lesson's officer, in pt
])
def test_a_scenario_that_reuses_a_lesson_name_fails(core: PackSource, lang: str, planted: str
                                                    ) -> None:
    m = copy.deepcopy(core.manifest)
    scenario = next(q for q in _course(m, "reintegration")["quiz"]["questions"]
                    if q["type"] == "scenario")
    scenario["case"][lang] = scenario["case"][lang] + " " + planted + " ..."
    problems = _figures(core, m, "reintegration", lang).problems()
    assert any(f"scenario reuses a name from the lessons: {scenario['id']}" in p
               for p in problems), problems


def test_sentence_initial_words_and_acronyms_are_not_names(core: PackSource) -> None:
    """The name rule must not flag a verb or acronym that merely starts a sentence, or
    every quiz would fail on words like "Ascultați" or "NGOs", nor a German noun (German
    capitalises them all)."""
    m = copy.deepcopy(core.manifest)
    scenario = next(q for q in _course(m, "reintegration")["quiz"]["questions"]
                    if q["type"] == "scenario")
    scenario["case"]["en"] += " Equal treatment matters. NGOs help. Mark each step."
    scenario["case"]["lt"] += " Dalijatės informacija. Žinojimas padeda."
    scenario["case"]["ro"] += " Ascultați mai mult. Ascunderea creează riscul."
    # German writes every noun with a capital: nouns of the lessons are not names
    scenario["case"]["de"] += (" Bei der Dienstübergabe meldet die Justizvollzugsbeamtin"
                               " den Haftraum der Schule.")
    scenario["case"]["pt"] += " Ouvir ajuda. As Regras Penitenciárias Europeias (Regra 6)."
    for lang in ("en", "lt", "ro", "de", "pt"):
        fig = _figures(core, m, "reintegration", lang)
        assert fig.reused_names == [], fig.reused_names
