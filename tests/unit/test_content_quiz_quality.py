"""Quiz quality rules (issue 16 item 1; app/core/packs/quality.py, docs/authoring.md §4)
on the shipped packs and on hostile copies, in every language:

- the correct option is the longest in at most 40 % of a quiz's choice items;
- within an item the longest option is at most 1.6× the shortest;
- no duplicate or near-duplicate options, no "all/none of the above";
- feedback on every option and an explanation on every item;
- no proper name of a scenario appears in a lesson of the same pack (transfer, not recall);
- every question tagged with a learning outcome, every outcome tested by ≥ 2 questions;
- a quiz that draws N questions has a bank of at least 2N and N ≥ the outcomes it tests.

Each rule fires on a damaged copy, and a finding of a source names its file and line.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.core.packs import PackSource, read_source
from app.core.packs.quality import (
    MAX_CORRECT_LONGEST,
    MAX_LENGTH_RATIO,
    RULES,
    QualityReport,
    quiz_quality,
    source_quality,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p.parent.name for p in (ROOT / "content_packs").glob("*/pack.toml"))
SAMPLE = ROOT / "content_packs" / "promote-sample"


@pytest.fixture(scope="module", params=SOURCES)
def source(request: pytest.FixtureRequest) -> PackSource:
    return read_source(ROOT / "content_packs" / request.param)


@pytest.fixture(scope="module")
def core() -> PackSource:
    return read_source(ROOT / "content_packs" / "promote-core")


def test_the_thresholds_are_the_agreed_ones() -> None:
    assert (MAX_CORRECT_LONGEST, MAX_LENGTH_RATIO) == (0.40, 1.6)


def test_every_shipped_quiz_passes_every_check_in_every_language(source: PackSource) -> None:
    report = source_quality(source)
    langs = [lang for lang in source.manifest["languages"]
             if lang not in source.manifest["partial_languages"]]
    assert {(f.course, f.lang) for f in report.figures} == {
        (c["id"], lang) for c in source.manifest["courses"] for lang in langs}
    assert [str(f) for f in report.findings] == []
    for f in report.figures:
        assert f.choice_items >= 5, f"{f.course}: too few choice items to measure"
        assert f.correct_longest_share <= MAX_CORRECT_LONGEST, f.summary()


def test_promote_core_quizzes_are_banks_that_cover_every_outcome(core: PackSource) -> None:
    figures = source_quality(core).figures
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
        for f in figures:
            if f.course == where:
                assert f.correct_longest >= 3, f.summary()


# -- hostile copies: each check fires -------------------------------------------------
def _report(source: PackSource, manifest: dict[str, Any]) -> QualityReport:
    damaged = PackSource(source.src_dir, manifest, source.files, source.warnings)
    return source_quality(damaged)


def _messages(report: QualityReport, rule: str, course: str, lang: str | None = None
              ) -> list[str]:
    return [str(f) for f in report.of(rule) if f.course == course
            and (lang is None or f.lang == lang)]


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
    report = _report(core, m)
    [fig] = [f for f in report.figures if (f.course, f.lang) == ("de-escalation", "en")]
    assert fig.correct_longest_share > MAX_CORRECT_LONGEST
    [msg] = _messages(report, "correct-longest", "de-escalation", "en")
    assert "courses/de-escalation/quiz.toml:" in msg and "[questions[0]]" in msg
    assert _messages(report, "correct-longest", "de-escalation", "lt") == []


def test_unequal_duplicate_and_all_of_the_above_options_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    items = _choice_items(_course(m, "reintegration"))
    items[0]["options"][1]["text"]["lt"] = "Ne"
    items[1]["options"][2]["text"]["ro"] = items[1]["options"][3]["text"]["ro"] + "."
    items[2]["options"][3]["text"]["en"] = "All of the above"
    items[3]["options"][0]["text"]["pt"] = "Nenhuma das opções anteriores"
    items[4]["options"][1]["text"]["de"] = "Keine der genannten"
    report = _report(core, m)
    assert any(f"{items[0]['id']}: the longest option" in x
               for x in _messages(report, "unequal-lengths", "reintegration", "lt"))
    assert any(f"{items[1]['id']}: options 'c' and 'd' say the same" in x
               for x in _messages(report, "duplicate-options", "reintegration", "ro"))
    for i, lang, oid in ((2, "en", "d"), (3, "pt", "a"), (4, "de", "b")):
        assert any(f"{items[i]['id']}: option {oid!r}" in x
                   for x in _messages(report, "all-none-of-the-above", "reintegration", lang))


def test_missing_feedback_explanation_and_outcome_tags_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    course = _course(m, "dynamic-security")
    first = course["quiz"]["questions"][0]          # a scenario
    part = first["parts"][0]
    del part["options"][2]["feedback"]
    del part["explanation"]
    single = next(q for q in course["quiz"]["questions"] if q["type"] == "single")
    del single["outcome"]
    report = _report(core, m)
    assert any(f"option 'c' of {part['id']} has no feedback" in x
               for x in _messages(report, "missing-feedback", "dynamic-security"))
    assert any(f"{part['id']} has no explanation" in x
               for x in _messages(report, "missing-explanation", "dynamic-security"))
    assert any(f"{single['id']} is not tagged" in x
               for x in _messages(report, "untagged", "dynamic-security"))


def test_an_untested_outcome_a_thin_one_and_a_small_bank_fail(core: PackSource) -> None:
    m = copy.deepcopy(core.manifest)
    course = _course(m, "de-escalation")
    course["outcomes"].append({"id": "de-extra", "text": {"en": "x", "lt": "x", "ro": "x"}})
    course["quiz"]["draw"] = 9
    report = _report(core, m)
    assert any("'de-extra' is tested by no question" in x
               for x in _messages(report, "outcome-untested", "de-escalation"))
    assert any("fewer than twice the draw (9)" in x
               for x in _messages(report, "small-bank", "de-escalation"))
    # one question only for an outcome, and a draw too small to cover every outcome
    course["quiz"]["questions"][0]["outcome"] = "de-extra"
    for p in course["quiz"]["questions"][0].get("parts", []):
        p["outcome"] = "de-extra"
    course["quiz"]["draw"] = 2
    report = _report(core, m)
    assert _messages(report, "outcome-thin", "de-escalation")
    assert _messages(report, "draw-below-outcomes", "de-escalation")


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
    found = _messages(_report(core, m), "reused-name", "reintegration", lang)
    assert any(f"scenario {scenario['id']} uses the name" in x for x in found), found


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
    scenario["case"]["de"] += (" Bei der Dienstübergabe meldet die Justizvollzugsbeamtin"
                               " den Haftraum der Schule.")
    scenario["case"]["pt"] += " Ouvir ajuda. As Regras Penitenciárias Europeias (Regra 6)."
    assert _report(core, m).of("reused-name") == []


# -- file:line of a source, and the manifest places of an uploaded pack -------------------
def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1)
                if needle in line)


def test_a_finding_in_a_source_names_its_file_line_field_and_rule(tmp_path: Path) -> None:
    src = tmp_path / "promote-sample"
    shutil.copytree(SAMPLE, src)
    quiz = src / "courses/boundaries/quiz.toml"
    text = quiz.read_text()
    text = text.replace('text = { en = "Giving him your phone number for emergencies"',
                        'text = { en = "None of the above"', 1)
    text = text.replace('outcome = "spot-manipulation"\n', "", 1)
    quiz.write_text(text)
    report = source_quality(read_source(src))
    [allnone] = report.of("all-none-of-the-above")
    assert (allnone.path, allnone.line) == (str(quiz), _line_of(quiz, '"None of the above"'))
    assert allnone.field == "questions[0].options[2].text.en" and allnone.lang == "en"
    assert str(allnone).startswith(f"{quiz}:{allnone.line} [questions[0].options[2].text.en]: ")
    assert str(allnone).endswith("(en) [rule all-none-of-the-above]")
    [untagged] = report.of("untagged")
    assert untagged.line == _line_of(quiz, 'id = "q2"') - 1     # the [[questions]] header
    # an outcome tested by one question points at course.toml
    thin = report.of("outcome-thin")
    assert [f.field for f in thin] == ["outcomes.spot-manipulation"]
    course_toml = src / "courses/boundaries/course.toml"
    assert thin[0].path == str(course_toml)
    assert thin[0].line == _line_of(course_toml, "[outcomes.spot-manipulation]")


def test_an_uploaded_pack_is_judged_from_its_manifest_and_lesson_blobs() -> None:
    source = read_source(SAMPLE)
    m = copy.deepcopy(source.manifest)
    m["courses"][0]["quiz"]["questions"][0]["options"][1]["text"]["lt"] = "Visi išvardyti"
    lessons = {p: json.loads(c) for p, c in source.files.items()
               if isinstance(c, bytes) and p.startswith("lessons/")}
    report = quiz_quality(m, lessons.__getitem__)
    [f] = report.of("all-none-of-the-above")
    assert (f.rule, f.path, f.line, f.field) == (
        "all-none-of-the-above", "manifest.json", None,
        "courses[0].quiz.questions[0].options[1].text.lt")


def test_every_rule_is_documented_in_the_authoring_guide() -> None:
    guide = (ROOT / "docs" / "authoring.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in guide, rule


def test_the_server_judges_a_stored_pack_from_its_blob_store(tmp_path: Path) -> None:
    """services.packs.stored_quality: a built .pack uploaded to the console is judged
    from its manifest and its lesson blobs (findings name manifest fields)."""
    import hashlib

    from app.core.packs import BlobStore
    from sync_server.services.packs import stored_quality

    source = read_source(SAMPLE)
    m = copy.deepcopy(source.manifest)
    m["courses"][0]["quiz"]["questions"][0]["options"][1]["text"]["en"] = (
        "All of the above are professional answers")
    store = BlobStore(tmp_path / "blobs")
    m["files"] = []
    for path, content in source.files.items():
        if isinstance(content, bytes):
            sha = hashlib.sha256(content).hexdigest()
            store.put_stream(sha, len(content), [content])
            m["files"].append({"path": path, "size": len(content), "sha256": sha})
    [f] = stored_quality(blobs=store, manifest=m)
    assert (f.rule, f.path, f.field) == ("all-none-of-the-above", "manifest.json",
                                         "courses[0].quiz.questions[0].options[1].text.en")


def test_a_strange_signed_manifest_is_reported_unchecked_not_crashed(tmp_path: Path) -> None:
    """Hostile input: an option text that is a list, a lesson the store lacks."""
    from app.core.packs import BlobStore
    from sync_server.services.packs import stored_quality

    m = copy.deepcopy(read_source(SAMPLE).manifest)
    m["courses"][0]["quiz"]["questions"][0]["options"][0]["text"] = ["not", "a", "table"]
    m["files"] = []                                   # no lesson blob either
    [f] = stored_quality(blobs=BlobStore(tmp_path / "blobs"), manifest=m)
    assert f.rule == "unchecked" and "could not read" in f.message
