"""Manifest + lesson dicts per docs/pack-format.md, and a tiny event recorder, for tests
of the learning engine and anything built on it (UI, store integration).

    manifest = sample_manifest()                # pack "promote-test", version 1
    engine = LearningEngine([manifest], learner=LEARNER, role="prison_officer",
                            language="lt", load_lesson=load_lesson)
    log = Recorder(engine)                      # stamps id/seq/at/device and applies
    log.add(engine.open_lesson(PACK, "boundaries", "01-why"))

    engine = learning_engine(language="lt")     # the same engine in one call
    learning, sa = engine_pair(events)          # learning + self-assessment of one learner
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.assessment import SelfAssessment
from app.core.events import format_at, validate_event
from app.core.learning import LearningEngine

PACK = "promote-test"
LEARNER = "learner-1"


def t(en: str, lt: str | None = None) -> dict[str, str]:
    return {"en": en, "lt": lt} if lt is not None else {"en": en}


def option(oid: str, correct: bool, text: str) -> dict[str, Any]:
    return {"id": oid, "correct": correct, "text": t(text, f"{text} (lt)"),
            "feedback": t(f"why {oid} is {'right' if correct else 'wrong'}")}


def true_false(qid: str, answer: bool) -> dict[str, Any]:
    """Normalised true/false question (options true/false, no `answer`)."""
    return {"id": qid, "type": "true_false", "prompt": t(f"Is {qid} true?", f"{qid}?"),
            "explanation": t(f"{qid} explained"),
            "options": [{"id": "true", "correct": answer, "feedback": t("you said true")},
                        {"id": "false", "correct": not answer, "feedback": t("you said false")}]}


def boundaries_quiz() -> dict[str, Any]:
    return {"max_attempts": 3, "draw": 0, "shuffle_questions": True, "shuffle_options": True,
            "questions": [
                {"id": "q1", "type": "single", "prompt": t("Pick a", "Rinkis a"),
                 "explanation": t("a is the one", "a"),
                 "options": [option("a", True, "A"), option("b", False, "B"),
                             option("c", False, "C")]},
                {"id": "q2", "type": "multiple", "prompt": t("Pick a and b"),
                 "explanation": t("a and b"),
                 "options": [option("a", True, "A"), option("b", True, "B"),
                             option("c", False, "C"), option("d", False, "D")]},
                true_false("q3", False),
                {"id": "q4", "type": "scenario", "case": t("A case text", "Atvejis"),
                 "parts": [
                     {"id": "q4a", "type": "single", "prompt": t("In the case, pick b"),
                      "explanation": t("b"),
                      "options": [option("a", False, "A"), option("b", True, "B")]},
                     true_false("q4b", True)]},
            ]}


def bank_quiz(n: int = 4, draw: int = 2) -> dict[str, Any]:
    return {"max_attempts": 0, "draw": draw, "shuffle_questions": True, "shuffle_options": True,
            "questions": [{"id": f"b{i}", "type": "single", "prompt": t(f"Bank {i}"),
                           "explanation": t(f"bank {i}"),
                           "options": [option("x", True, "X"), option("y", False, "Y"),
                                       option("z", False, "Z")]} for i in range(n)]}


def lesson_entry(course: str, lid: str, title: str, cards: int, langs: tuple[str, ...]
                 ) -> dict[str, Any]:
    return {"id": lid, "title": t(title, f"{title} (lt)") if "lt" in langs else t(title),
            "cards": cards,
            "files": {lang: f"lessons/{course}/{lid}.{lang}.json" for lang in langs}}


def sample_manifest(version: int = 1, pack: str = PACK) -> dict[str, Any]:
    """A pack with three courses, a skills registry and one DACUM profile.

    boundaries (prison_officer; lessons 3 + 2 cards, lesson 2 has no `lt` file;
    quiz: single, multiple, true_false, scenario with two parts; 3 attempts, pass 70),
    reporting (prison_officer + reintegration_specialist; 1 lesson; bank of 4, draw 2,
    unlimited attempts, pass 50), psychology (psychologist only; no `lt` title).
    """
    return {
        "format": 1, "id": pack, "version": version, "default_language": "en",
        "languages": ["en", "lt"], "partial_languages": ["lt"], "machine_translated": [],
        "audience_roles": ["prison_officer", "reintegration_specialist", "psychologist"],
        "title": t("Test pack", "Bandomasis"), "description": t("For tests"),
        "licence": "CC BY-SA 4.0", "authors": ["tests"],
        "skills": {
            "deescalation": {"uri": "http://data.europa.eu/esco/skill/deesc",
                             "label": t("apply de-escalation techniques", "deeskalacija")},
            "boundaries": {"uri": "http://data.europa.eu/esco/skill/bound",
                           "label": t("keep professional boundaries")},
            "reporting": {"uri": "", "label": t("write incident reports")},
            "first-aid": {"uri": "http://data.europa.eu/esco/skill/aid",
                          "label": t("provide first aid")},
        },
        "courses": [
            {"id": "boundaries", "title": t("Boundaries", "Ribos"), "summary": t("Why", "Kodėl"),
             "roles": ["prison_officer"], "skills": ["boundaries", "deescalation"],
             "minutes": 30, "pass_mark": 70,
             "lessons": [lesson_entry("boundaries", "01-why", "Why", 3, ("en", "lt")),
                         lesson_entry("boundaries", "02-grooming", "Grooming", 2, ("en",))],
             "quiz": boundaries_quiz()},
            {"id": "reporting", "title": t("Reporting", "Ataskaitos"), "summary": t("Reports"),
             "roles": ["prison_officer", "reintegration_specialist"], "skills": ["reporting"],
             "minutes": 10, "pass_mark": 50,
             "lessons": [lesson_entry("reporting", "01-intro", "Intro", 1, ("en", "lt"))],
             "quiz": bank_quiz()},
            {"id": "psychology", "title": t("Psychology"), "summary": t("Minds"),
             "roles": ["psychologist"], "skills": ["deescalation"], "minutes": 5,
             "pass_mark": 80,
             "lessons": [lesson_entry("psychology", "01-minds", "Minds", 1, ("en",))],
             "quiz": bank_quiz(2, 0)},
        ],
        "profiles": [sample_profile()],
        "files": [],
    }


def sample_profile() -> dict[str, Any]:
    return {
        "id": "prison-officer", "title": t("Prison officer", "Pareigūnas"),
        "description": t("DACUM chart"),
        "esco_occupation": "http://data.europa.eu/esco/occupation/3327a087",
        "isco": "5413", "roles": ["prison_officer", "reintegration_specialist"],
        "not_covered": ["first-aid"],
        "scale": [{"level": i, "label": t(f"level {i}")} for i in range(5)],
        "duties": [
            {"id": "a", "title": t("Maintain dynamic security", "Saugumas"), "tasks": [
                {"id": "a1", "title": t("De-escalate conflicts"), "skills": ["deescalation"],
                 "expected": {"prison_officer": 3, "reintegration_specialist": 2}},
                {"id": "a2", "title": t("Keep boundaries"), "skills": ["boundaries"],
                 "expected": {"prison_officer": 2}},
            ]},
            {"id": "b", "title": t("Report and record"), "tasks": [
                {"id": "b1", "title": t("Write incident reports"), "skills": ["reporting"],
                 "expected": {"prison_officer": 4, "reintegration_specialist": 3}},
                {"id": "b2", "title": t("Give first aid"), "skills": ["first-aid"],
                 "expected": {"prison_officer": 2}},
            ]},
        ],
    }


def _lesson(title: str, lang: str, n: int) -> dict[str, Any]:
    cards = [{"title": f"{title} card {i}", "anchor": f"card-{i}",
              "markdown": f"# {title} {i}\n\nText ({lang})."} for i in range(n)]
    return {"title": f"{title} ({lang})", "lang": lang,
            "toc": [{"card": i, "title": c["title"], "anchor": c["anchor"]}
                    for i, c in enumerate(cards)],
            "cards": cards}


def lesson_bodies(manifest: dict[str, Any] | None = None) -> dict[tuple[str, str], dict]:
    manifest = manifest or sample_manifest()
    out = {}
    for course in manifest["courses"]:
        for lesson in course["lessons"]:
            for lang, path in lesson["files"].items():
                out[(manifest["id"], path)] = _lesson(lesson["title"]["en"], lang, lesson["cards"])
    return out


_BODIES = lesson_bodies()


def load_lesson(pack: str, path: str) -> dict[str, Any]:
    """The `load_lesson(pack_id, path)` callable for the sample manifest."""
    try:
        return copy.deepcopy(_BODIES[(pack, path)])
    except KeyError:
        raise FileNotFoundError(f"{pack}: {path}") from None


START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def learning_engine(role: str = "prison_officer", language: str = "en", events: Any = (),
                    manifest: dict[str, Any] | None = None, loader: Any = load_lesson
                    ) -> LearningEngine:
    """A LearningEngine of LEARNER on the sample manifest (or ``manifest``)."""
    return LearningEngine([manifest or sample_manifest()], learner=LEARNER, role=role,
                          language=language, load_lesson=loader, events=events)


def self_assessment(role: str = "prison_officer", language: str = "en", events: Any = (),
                    learning: Any = None, manifest: dict[str, Any] | None = None
                    ) -> SelfAssessment:
    """A SelfAssessment of LEARNER on the sample manifest (``learning``: a LearnerState)."""
    return SelfAssessment([manifest or sample_manifest()], learner=LEARNER, role=role,
                          language=language, events=events, learning=learning)


def engine_pair(events: Any = (), *, role: str = "prison_officer", language: str = "lt"
                ) -> tuple[LearningEngine, SelfAssessment]:
    """Both engines of LEARNER over the same events, the assessment seeing the learning
    fold (as the app wires them)."""
    events = list(events)
    learning = learning_engine(role, language, events)
    return learning, self_assessment(role, language, events, learning.state)


class Recorder:
    """Plays the Store: stamps proposed events with id/device/seq/at, validates the
    envelope, keeps them in `events` and feeds them to the subscribers."""

    def __init__(self, *subscribers: Any, device: str = "tab-a", start: datetime = START,
                 step: timedelta = timedelta(seconds=30)) -> None:
        self.subscribers = list(subscribers)
        self.device = device
        self.now = start
        self.step = step
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def add(self, step_or_events: Any) -> Any:
        events = getattr(step_or_events, "events", step_or_events)
        for proposed in events:
            self.seq += 1
            self.now += self.step
            event = {"id": str(uuid.uuid4()), "device": self.device, "seq": self.seq,
                     "at": format_at(self.now), **proposed}
            validate_event(event)
            self.events.append(event)
            for sub in self.subscribers:
                sub.apply(event)
        return step_or_events
