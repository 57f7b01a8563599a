"""The workpris-ngo content pack (issue 19 items 4 and 5): the course "Working in prison as
a third-sector (NGO) practitioner" and the DACUM profile "NGO / third-sector practitioner in
prison", built, signed, verified, installed and read back in en, lt and ro through the real
pack, learning and self-assessment code.

It fails when: a string lacks a language, falls back or is the English copied; a lesson
changes structure between languages, does not end with the "try this" card, cites a rule
number nobody reviewed or a number that could be a statistic; a quiz item lacks a correct
answer, an explanation or feedback on an option, or a wrong option scores full marks; the
quiz bank misses a quality threshold; an outcome does not read in every language; the
profile is not DACUM-shaped, lacks its draft note, or its gap report recommends nothing /
names the wrong skills as not covered; a skill shared with promote-core has another label.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.core.assessment.engine import SelfAssessment
from app.core.errors import PackSourceError
from app.core.learning.catalog import Catalog
from app.core.learning.engine import LearningEngine
from app.core.learning.quiz import question_view, score_choice
from app.core.learning.text import Text, localize
from app.core.packs import (
    PackLibrary,
    TrustedKeys,
    build_pack,
    generate_keypair,
    install_pack,
    read_source,
    verify_pack,
)
from tests.support.content_checks import (
    citation_problems,
    lesson_text,
    lessons_of,
    statistic_problems,
    structure_problems,
)
from tests.support.learning_fixtures import Recorder
from tests.unit.test_content_promote_core import (
    missing_languages,
    spelling_problems,
    untranslated,
)
from tools.quiz_quality import quiz_figures

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "content_packs" / "workpris-ngo"
CORE = ROOT / "content_packs" / "promote-core"
PACK = "workpris-ngo"
COURSE = "working-in-prison"
PROFILE = "ngo-practitioner"
LANGS = ("en", "lt", "ro")
ROLES = ["ngo_staff", "social_worker", "reintegration_specialist", "trainer", "manager"]
#: checked against the instruments: European Prison Rules 7 (cooperation with outside social
#: services, civil society), 23 (legal advice), 24 (contact with the outside world);
#: Nelson Mandela Rules 61 (legal adviser, confidential), 88 (community agencies), 106
#: (family relations), 108 (agencies helping released prisoners, their access)
REVIEWED_RULES = {"7", "23", "24", "61", "88", "106", "108"}
#: numbers a lesson may contain besides rule numbers: CM/Rec(2018)5
DOCUMENT_NUMBERS = {"2018", "5"}
LESSON_TOPICS = {  # lesson → words its English text must contain (the WORKPRIS themes)
    "01-access-and-security": ["security clearance", "alarm", "official route"],
    "02-boundaries-and-confidentiality": ["limits of confidentiality", "manipulation",
                                          "General Data Protection Regulation"],
    "03-working-with-prison-staff": ["contact person", "self-harm or suicide",
                                     "call medical staff immediately"],
    "04-legal-and-job-counselling": ["legal information", "defence lawyer", "conviction"],
    "05-family-contact-and-mediation": ["agreement of both", "child's interests",
                                        "Do not mediate where there is domestic violence"],
    "06-debt-and-money": ["written consent", "Deal first",
                          "Never promise"],
}


@dataclass
class Built:
    manifest: dict[str, Any]
    library: PackLibrary
    trust: TrustedKeys
    device: Path

    def lesson(self, pack: str, path: str) -> dict[str, Any]:
        return self.library.lesson(pack, path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp(PACK)
    private, public = generate_keypair()
    trust = TrustedKeys([public])
    pack_file = build_pack(SRC, private, tmp / "out")
    verified = verify_pack(pack_file, trust)
    installed = install_pack(pack_file, tmp / "device", trust)
    assert installed.manifest == verified.manifest
    return Built(verified.manifest, PackLibrary(tmp / "device"), trust, tmp / "device")


@pytest.fixture(scope="module")
def source() -> Any:
    return read_source(SRC)


def test_pack_frame(built: Built) -> None:
    m = built.manifest
    assert (m["id"], m["version"], m["default_language"]) == (PACK, 1, "en")
    assert m["languages"] == list(LANGS) and m["partial_languages"] == []
    assert m["machine_translated"] == ["lt", "ro"] and "reviews" not in m
    assert m["audience_roles"] == ROLES
    assert [c["id"] for c in m["courses"]] == [COURSE]
    assert [p["id"] for p in m["profiles"]] == [PROFILE]
    assert m["licence"] == "CC BY-SA 4.0" and m["authors"]


def test_every_string_has_every_language_in_its_own_words(built: Built) -> None:
    m = built.manifest
    assert missing_languages(m) == []
    assert untranslated(m) == []
    assert spelling_problems(m) == []
    note = m["profiles"][0]["validation"]["note"]
    assert set(note) == set(LANGS) and len(set(note.values())) == 3


def test_every_lesson_reads_in_every_language_and_role_without_fallback(built: Built) -> None:
    [course] = built.manifest["courses"]
    for role in ROLES:
        for lang in LANGS:
            engine = LearningEngine([built.manifest], learner="content-test", role=role,
                                    language=lang, load_lesson=built.lesson)
            for entry in course["lessons"]:
                view = engine.lesson(PACK, COURSE, entry["id"])
                where = f"{role}/{entry['id']}.{lang}"
                assert (view.lang, view.fallback) == (lang, False), where
                assert len(view.cards) == entry["cards"], where
                assert all(c.title.strip() and c.markdown.strip() for c in view.cards), where


def test_lessons_keep_structure_citations_and_no_statistics(source: Any) -> None:
    problems = [f"source warning: {w}" for w in source.warnings]
    for lid, docs in lessons_of(source, COURSE).items():
        problems += structure_problems(f"{COURSE}/{lid}", docs, LANGS)
        texts = {lang: lesson_text(docs[lang]) for lang in LANGS}
        problems += citation_problems(lid, texts, REVIEWED_RULES)
        for lang, text in texts.items():
            problems += statistic_problems(f"{lid}.{lang}", text,
                                           REVIEWED_RULES | DOCUMENT_NUMBERS)
    assert problems == []


def test_the_lessons_cover_the_workpris_themes(source: Any) -> None:
    docs = lessons_of(source, COURSE)
    assert list(docs) == list(LESSON_TOPICS)
    missing = [(lid, w) for lid, words in LESSON_TOPICS.items() for w in words
               if w not in lesson_text(docs[lid]["en"])]
    assert missing == []


def test_every_quiz_item_has_a_correct_answer_and_feedback_in_every_language(
        built: Built) -> None:
    catalog = Catalog.from_manifests([built.manifest])
    quiz = catalog.course(PACK, COURSE).quiz
    assert quiz is not None
    for q in built.manifest["courses"][0]["quiz"]["questions"]:
        for item in (q["parts"] if q["type"] == "scenario" else [q]):
            where = item["id"]
            correct = [o["id"] for o in item["options"] if o["correct"]]
            assert correct and score_choice(item, correct) == 1.0, where
            for o in item["options"]:
                if not o["correct"]:
                    assert score_choice(item, [o["id"]]) < 1.0, f"{where}/{o['id']}"
            for lang in LANGS:
                view = question_view(quiz, item["id"], 0, 0, lang, "en", correct)
                assert view.score == 1.0, where
                texts: list[Text | None] = [view.prompt, view.explanation]
                if view.scenario is not None:
                    texts.append(view.case)
                if item["type"] != "true_false":
                    texts += [o.text for o in view.options]
                texts += [o.feedback for o in view.options]
                for t in texts:
                    assert t is not None and t.text.strip(), f"{where}.{lang}: missing text"
                    assert (t.lang, t.fallback) == (lang, False), f"{where}.{lang}: fallback"


def test_outcomes_read_in_every_language_and_every_question_tests_one(built: Built) -> None:
    [course] = built.manifest["courses"]
    outcomes = {o["id"]: o["text"] for o in course["outcomes"]}
    assert 3 <= len(outcomes) <= 6
    for oid, text in outcomes.items():
        for lang in LANGS:
            t = localize(text, lang, "en")
            assert (t.lang, t.fallback) == (lang, False) and t.text.strip(), oid
    tested: dict[str, int] = dict.fromkeys(outcomes, 0)
    for q in course["quiz"]["questions"]:
        tags = {q.get("outcome")} | {p.get("outcome") for p in q.get("parts", [])}
        assert tags - {None} <= set(outcomes), q["id"]
        for tag in tags - {None}:
            tested[tag] += 1
    assert min(tested.values()) >= 2, tested


def test_the_quiz_is_a_bank_that_meets_the_quality_thresholds(source: Any) -> None:
    [course] = source.manifest["courses"]
    quiz = course["quiz"]
    types = [q["type"] for q in quiz["questions"]]
    assert len(course["outcomes"]) <= quiz["draw"] and len(types) >= 2 * quiz["draw"]
    assert types.count("scenario") * 2 > len(types)
    assert course["pass_mark"] == 70 and quiz["max_attempts"] == 3
    figures = quiz_figures(source)
    assert {f.lang for f in figures} == set(LANGS)
    for f in figures:
        assert f.problems() == [], f.problems()


# -- the DACUM profile -----------------------------------------------------------------
def test_the_profile_follows_the_dacum_shape(built: Built) -> None:
    [p] = built.manifest["profiles"]
    assert p["roles"] == ["ngo_staff", "social_worker", "trainer", "manager"]
    assert [s["level"] for s in p["scale"]] == [0, 1, 2, 3, 4]
    assert 7 <= len(p["duties"]) <= 10
    for d in p["duties"]:
        assert 4 <= len(d["tasks"]) <= 8, d["id"]
        for t in d["tasks"]:
            assert t["skills"], t["id"]
            assert set(t["expected"]) == set(p["roles"]), t["id"]
    assert p["validation"]["status"] == "draft"
    assert (p["esco_occupation"], p["isco"]) == ("", "")       # none claimed: see the TOML


def test_the_profile_and_its_draft_note_read_in_every_language(built: Built) -> None:
    catalog = Catalog.from_manifests([built.manifest])
    for role in ("ngo_staff", "social_worker", "trainer", "manager"):
        for lang in LANGS:
            sa = SelfAssessment(catalog, learner="content-test", role=role, language=lang)
            [entry] = sa.profiles()
            view = sa.profile(PACK, PROFILE)
            assert view.validation is not None and view.validation.draft
            assert entry.validation == view.validation
            texts = [view.title, view.description, view.validation.note,
                     *(label for _, label in view.scale)]
            for duty in view.duties:
                texts += [duty.title, *(t.title for t in duty.tasks)]
                assert all(t.expected in (0, 1, 2, 3, 4) for t in duty.tasks)
            assert all((t.lang, t.fallback) == (lang, False) and t.text.strip()
                       for t in texts), f"{role}.{lang}"
            assert "DACUM" in view.validation.note.text


def _beginner_report(manifests: list[dict[str, Any]], role: str) -> Any:
    sa = SelfAssessment(Catalog.from_manifests(manifests), learner="content-test", role=role,
                        language="ro")
    log = Recorder(sa)
    assessment = log.add(sa.start(PACK, PROFILE)).assessment
    for duty in sa.profile(PACK, PROFILE).duties:
        for task in duty.tasks:
            log.add(sa.rate(PACK, PROFILE, assessment, task.id, 0))
    log.add(sa.complete(PACK, PROFILE, assessment))
    return sa.gap_report(PACK, PROFILE)


@pytest.mark.parametrize("role", ["ngo_staff", "social_worker", "manager"])
def test_a_beginner_gets_the_course_and_the_uncovered_skills(built: Built, role: str) -> None:
    report = _beginner_report([built.manifest], role)
    assert {r.course for r in report.recommendations} == {COURSE}
    assert not any(r.title.fallback for r in report.recommendations)
    assert {s.key for s in report.not_covered} == {"suicide-and-self-harm-prevention",
                                                   "staff-wellbeing"}


def test_with_promote_core_installed_the_gap_report_recommends_its_courses(built: Built
                                                                          ) -> None:
    """Shared skill keys: the NGO profile's not-covered skills are taught by promote-core,
    so with both packs on a tablet the report recommends those courses instead."""
    core = read_source(CORE).manifest
    report = _beginner_report([built.manifest, core], "ngo_staff")
    recommended = {(r.pack, r.course) for r in report.recommendations}
    assert {(PACK, COURSE), ("promote-core", "mental-health"),
            ("promote-core", "dynamic-security")} <= recommended
    assert report.not_covered == ()


def test_skills_shared_with_promote_core_have_the_same_labels(built: Built) -> None:
    core = read_source(CORE).manifest["skills"]
    mine = built.manifest["skills"]
    shared = set(core) & set(mine)
    assert {"professional-boundaries", "multi-agency-working", "staff-wellbeing",
            "suicide-and-self-harm-prevention"} <= shared
    for key in shared:
        assert mine[key] == core[key], key
    assert all(s["uri"] == "" for s in mine.values())        # no ESCO skill URI is known


# -- hostile copies --------------------------------------------------------------------
def test_a_missing_romanian_lesson_and_a_missing_lithuanian_outcome_are_named(
        tmp_path: Path) -> None:
    src = tmp_path / PACK
    shutil.copytree(SRC, src)
    (src / "courses" / COURSE / "06-debt-and-money.ro.md").unlink()
    with pytest.raises(PackSourceError, match="06-debt-and-money.ro.md"):
        read_source(src)
    shutil.rmtree(src)
    shutil.copytree(SRC, src)
    toml = src / "courses" / COURSE / "course.toml"
    lines = toml.read_text(encoding="utf-8").splitlines(keepends=True)
    victim = next(i for i, line in enumerate(lines) if line.startswith("lt = ")
                  and i > 0 and lines[i - 2].startswith("[outcomes.support-families]"))
    del lines[victim]
    toml.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    assert exc.value.path and exc.value.path.endswith("course.toml")
    assert exc.value.line is not None and "missing translation for lt" in str(exc.value)
