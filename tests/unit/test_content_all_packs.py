"""Every pack source in content_packs/ (the sample and the real content alike), read through
the learning engine in every language it declares: no string falls back to the default
language where the translation is declared complete (courses, lessons, quizzes, learning
outcomes, profiles), every quiz item has a correct answer that scores full marks and is
tagged with a learning outcome of its course, and every profile task's skills are taught
by a course of the pack or listed as not covered yet (and nothing listed as not covered is
taught).

tests/unit/test_content_promote_core.py goes further for promote-core (card counts,
spelling, the built and installed pack); this file keeps the same promises for any pack
an author adds.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.core.assessment import SelfAssessment
from app.core.learning import Catalog, LearningEngine
from app.core.learning.quiz import question_view, score_choice
from app.core.learning.text import Text, localize
from app.core.packs import PackSource, read_source

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p.parent.name for p in (ROOT / "content_packs").glob("*/pack.toml"))


@pytest.fixture(scope="module", params=SOURCES)
def source(request: pytest.FixtureRequest) -> PackSource:
    return read_source(ROOT / "content_packs" / request.param)


def complete_languages(source: PackSource) -> list[str]:
    m = source.manifest
    return [lang for lang in m["languages"] if lang not in m["partial_languages"]]


def loader(source: PackSource) -> Any:
    def load(pack: str, path: str) -> dict[str, Any]:
        content = source.files[path]
        data = content if isinstance(content, bytes) else Path(content).read_bytes()
        return json.loads(data)
    return load


def roles_of(manifest: dict[str, Any]) -> list[str]:
    roles = set(manifest["audience_roles"])
    for course in manifest["courses"]:
        roles |= set(course["roles"])
    return sorted(roles)


def assert_own_language(texts: list[Text | None], lang: str, where: str) -> None:
    for text in texts:
        assert text is not None, f"{where}: missing text"
        assert (text.lang, text.fallback) == (lang, False), f"{where}: falls back to {text.lang}"
        assert text.text.strip(), f"{where}: empty"


def test_the_content_folder_has_the_sample_and_the_real_pack() -> None:
    assert {"promote-sample", "promote-core"} <= set(SOURCES)


def test_every_course_and_lesson_reads_in_every_declared_language(source: PackSource) -> None:
    catalog = Catalog.from_manifests([source.manifest])
    pack = source.id
    for lang in complete_languages(source):
        for role in roles_of(source.manifest):
            engine = LearningEngine(catalog, learner="content", role=role, language=lang,
                                    load_lesson=loader(source))
            for entry in engine.library(today=date(2026, 11, 23)).courses:
                where = f"{pack}/{entry.course}.{lang}"
                assert_own_language([entry.title, entry.summary], lang, where)
                outline = engine.outline(pack, entry.course)
                assert_own_language([lesson.title for lesson in outline.lessons], lang, where)
                for lesson in outline.lessons:
                    view = engine.lesson(pack, entry.course, lesson.id)
                    assert (view.lang, view.fallback) == (lang, False), f"{where}/{lesson.id}"
                    assert len(view.cards) == lesson.cards, f"{where}/{lesson.id}"
                    assert all(c.title.strip() and c.markdown.strip() for c in view.cards)


def test_every_quiz_item_has_a_correct_answer_in_every_declared_language(
        source: PackSource) -> None:
    catalog = Catalog.from_manifests([source.manifest])
    default = source.manifest["default_language"]
    for course in source.manifest["courses"]:
        quiz = catalog.course(source.id, course["id"]).quiz
        assert quiz is not None and quiz.questions, f"{course['id']}: no quiz"
        for qid in quiz.scored_ids(q["id"] for q in quiz.questions):
            item = quiz.items[qid]
            where = f"{source.id}/{course['id']}/{qid}"
            correct = [o["id"] for o in item["options"] if o["correct"]]
            assert correct, f"{where}: no correct option"
            assert score_choice(item, correct) == 1.0, where
            for lang in complete_languages(source):
                view = question_view(quiz, qid, 0, 0, lang, default, correct)
                texts: list[Text | None] = [view.prompt]
                if view.scenario is not None:
                    texts.append(view.case)
                if item["type"] != "true_false":          # labels come from the app
                    texts += [o.text for o in view.options]
                with_feedback = {o["id"] for o in item["options"] if o.get("feedback")}
                texts += [o.feedback for o in view.options if o.id in with_feedback]
                if item.get("explanation"):
                    texts.append(view.explanation)
                assert_own_language(texts, lang, f"{where}.{lang}")


def test_every_learning_outcome_reads_in_every_declared_language(source: PackSource) -> None:
    """Outcomes (course.toml [outcomes]) and the questions' tags: every outcome text exists
    in every complete language, and every question names an outcome of its course."""
    default = source.manifest["default_language"]
    for course in source.manifest["courses"]:
        outcomes = course.get("outcomes", [])
        assert outcomes, f"{source.id}/{course['id']}: no learning outcomes"
        ids = {o["id"] for o in outcomes}
        for outcome in outcomes:
            for lang in complete_languages(source):
                assert_own_language([localize(outcome["text"], lang, default)], lang,
                                    f"{source.id}/{course['id']}/{outcome['id']}.{lang}")
        for q in course["quiz"]["questions"]:
            for item in [q, *q.get("parts", [])]:
                assert item.get("outcome") in ids, f"{source.id}/{course['id']}/{item['id']}"


def test_every_profile_reads_in_every_declared_language(source: PackSource) -> None:
    catalog = Catalog.from_manifests([source.manifest])
    for profile in source.manifest["profiles"]:
        for role in profile["roles"]:
            for lang in complete_languages(source):
                sa = SelfAssessment(catalog, learner="content", role=role, language=lang)
                view = sa.profile(source.id, profile["id"])
                texts = [view.title, *(label for _, label in view.scale)]
                if profile.get("description"):
                    texts.append(view.description)
                for duty in view.duties:
                    texts += [duty.title, *(task.title for task in duty.tasks)]
                assert_own_language(texts, lang, f"{source.id}/{profile['id']}.{lang}")


def test_skill_labels_are_translated(source: PackSource) -> None:
    for key, skill in source.manifest["skills"].items():
        for lang in complete_languages(source):
            assert skill["label"].get(lang, "").strip(), f"{source.id}: skill {key}.{lang}"


def test_every_task_skill_is_taught_or_listed_as_not_covered(source: PackSource) -> None:
    taught = {s for c in source.manifest["courses"] for s in c["skills"]}
    for profile in source.manifest["profiles"]:
        not_covered = set(profile["not_covered"])
        for duty in profile["duties"]:
            for task in duty["tasks"]:
                for skill in task["skills"]:
                    assert skill in taught | not_covered, (
                        f"{source.id}/{profile['id']}/{task['id']}: skill {skill!r} is taught "
                        "by no course and not listed in not_covered")
        assert not not_covered & taught, f"{source.id}/{profile['id']}: stale not_covered"


def test_the_checks_catch_a_lesson_that_falls_back(tmp_path: Path) -> None:
    """A language declared partial may lack a lesson; a test that treated it as complete
    must see the fallback (so the checks above are not vacuous)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "content_packs" / "promote-sample", src)
    toml = src / "pack.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "partial_languages = []", 'partial_languages = ["lt"]'), encoding="utf-8")
    (src / "courses/boundaries/03-what-to-do.lt.md").unlink()
    source = read_source(src)
    engine = LearningEngine([source.manifest], learner="content", role="prison_officer",
                            language="lt", load_lesson=loader(source))
    view = engine.lesson(source.id, "boundaries", "03-what-to-do")
    with pytest.raises(AssertionError, match="falls back to en"):
        assert_own_language([Text(view.title, view.lang, view.fallback)], "lt", "lesson")
