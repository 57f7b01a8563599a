"""The engines on real built + installed packs (content_packs/) and the real device Store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.core.assessment import SelfAssessment
from app.core.learning import Catalog, LearningEngine
from app.core.learning.xapi import statement
from app.core.packs import PackLibrary, TrustedKeys, build_pack, generate_keypair, install_pack
from app.core.store import Store
from tests.support.learning_fixtures import Recorder

ROOT = Path(__file__).resolve().parents[2]
LEARNER = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> PackLibrary:
    tmp = tmp_path_factory.mktemp("packs")
    private, public = generate_keypair()
    for name in ("promote-sample", "promote-core"):
        src = ROOT / "content_packs" / name
        if not (src / "pack.toml").is_file():
            pytest.skip(f"content_packs/{name} is not there")
        install_pack(build_pack(src, private, tmp / "out"), tmp / "data", TrustedKeys([public]))
    return PackLibrary(tmp / "data")


def correct_choice(catalog: Catalog, pack: str, course: str, question: str) -> list[str]:
    q = catalog.course(pack, course).quiz.items[question]
    return [o["id"] for o in q["options"] if o["correct"]]


def test_every_installed_course_and_lesson_renders(library: PackLibrary) -> None:
    manifests = [p.manifest for p in library.installed()]
    catalog = Catalog.from_manifests(manifests)
    assert len(catalog.courses) >= 2
    for lang in ("en", "lt", "ro", "pt"):
        engine = LearningEngine(catalog, learner=LEARNER, role="prison_officer",
                                language=lang, load_lesson=library.lesson)
        lib = engine.library(today=date(2026, 11, 23))
        assert lib.courses
        for entry in lib.courses:
            outline = engine.outline(entry.pack, entry.course)
            for lesson in outline.lessons:
                view = engine.lesson(entry.pack, entry.course, lesson.id)
                assert len(view.cards) == lesson.cards and all(c.markdown for c in view.cards)
                assert view.fallback == (view.lang != lang)
            step = Recorder(engine).add(engine.start_quiz(entry.pack, entry.course, seed=11))
            view = engine.attempt(entry.pack, entry.course, step.attempt)
            assert view.questions and all(q.prompt.text for q in view.questions)


def test_a_learner_journey_through_the_store(library: PackLibrary, tmp_path: Path) -> None:
    catalog = Catalog.from_manifests([p.manifest for p in library.installed()])
    store = Store.open(tmp_path)
    engine = LearningEngine(catalog, learner=LEARNER, role="prison_officer", language="lt",
                            load_lesson=library.lesson, events=store.events(LEARNER))
    sa = SelfAssessment(catalog, learner=LEARNER, role="prison_officer", language="lt",
                        learning=engine.state)

    def on_events(events: list[dict]) -> None:
        for e in events:
            engine.apply(e)
            sa.apply(e)
    store.subscribe(on_events)

    def commit(step) -> None:
        for event in step.events:
            store.append(event)

    pack, course = "promote-sample", "boundaries"
    for lesson in engine.outline(pack, course).lessons:
        commit(engine.open_lesson(pack, course, lesson.id))
        for card in engine.lesson(pack, course, lesson.id).cards:
            commit(engine.view_card(pack, course, lesson.id, card.index, seconds=15))
    assert engine.resume().kind == "quiz"
    start = engine.start_quiz(pack, course)
    commit(start)
    view = engine.attempt(pack, course, start.attempt)
    first = view.questions[0]
    commit(engine.answer(pack, course, start.attempt, first.id,
                         [o.id for o in first.options
                          if o.id not in correct_choice(catalog, pack, course, first.id)][:1]))
    for q in view.questions[1:]:
        commit(engine.answer(pack, course, start.attempt, q.id,
                             correct_choice(catalog, pack, course, q.id)))
    result = engine.submit(pack, course, start.attempt)
    commit(result)
    assert result.passed == (result.score >= catalog.course(pack, course).pass_mark)
    outline = engine.outline(pack, course)
    assert outline.completed == result.passed
    assert engine.review_queue(today=date(2099, 1, 1))[0].question.id == first.id

    profile = sa.profiles()[0]
    a = sa.start(profile.pack, profile.id)
    commit(a)
    while (point := sa.resume(profile.pack, profile.id, a.assessment)) is not None:
        commit(sa.rate(profile.pack, profile.id, a.assessment, point.task, 1))
    commit(sa.complete(profile.pack, profile.id, a.assessment))
    report = sa.gap_report(profile.pack, profile.id)
    assert report.tasks and report.tasks[0].gap >= report.tasks[-1].gap
    assert all(s.uri is not None for t in report.tasks for s in t.skills)

    before = engine.snapshot(today=date(2026, 12, 1))
    store.close()
    # sign in again: the state rebuilt from the stored events is the same
    store = Store.open(tmp_path)
    events = store.events(LEARNER)
    again = LearningEngine(catalog, learner=LEARNER, role="prison_officer", language="lt",
                           load_lesson=library.lesson, events=events)
    assert again.snapshot(today=date(2026, 12, 1)) == before
    for event in events:
        stmt = statement(event, home_page="https://learn.example.org")
        assert stmt["id"] == event["id"] and stmt["actor"]["account"]["name"] == LEARNER
    store.close()
