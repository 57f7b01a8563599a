"""A learner's work on a course as a real tablet makes it: the events the learning engine
proposes (app.core.learning.LearningEngine) for reading every card and taking the quiz,
stamped like the Store does — for tests that push honest (or tampered) work to a server.

    manifest = server_manifest(base, device.headers, "promote-sample", 1)
    events = study(manifest, learner_id, "boundaries", device="tab-1")      # passes
    events = study(manifest, learner_id, "boundaries", answers="wrong")     # fails
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core.learning import LearningEngine
from tests.support.learning_fixtures import Recorder

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
#: item (question or scenario part) dict → the option ids to choose
Chooser = Callable[[dict[str, Any]], list[str]]


def right(item: dict[str, Any]) -> list[str]:
    return [o["id"] for o in item["options"] if o["correct"]]


def wrong(item: dict[str, Any]) -> list[str]:
    return [next(o["id"] for o in item["options"] if not o["correct"])]


def half_right(item: dict[str, Any]) -> list[str]:
    """Right for single / true-false; for a multiple question one correct option and one
    wrong one when it has both (partial credit)."""
    if item["type"] != "multiple":
        return right(item)
    correct = right(item)
    bad = [o["id"] for o in item["options"] if not o["correct"]]
    return [correct[0], bad[0]] if bad else correct


CHOOSERS: dict[str, Chooser] = {"right": right, "wrong": wrong, "half": half_right}


def server_manifest(base: str, headers: dict[str, str], pack: str, version: int) -> dict[str, Any]:
    """The manifest exactly as the server publishes it to a device."""
    r = httpx.get(f"{base}/api/v1/packs/{pack}/{version}/manifest", headers=headers)
    r.raise_for_status()
    return dict(json.loads(r.content))


def study(manifest: dict[str, Any], learner: str, course: str, *, device: str = "tab-1",
          answers: str | Chooser = "right", seed: int | None = None, read: bool = True,
          role: str = "prison_officer", start: datetime = START, first_seq: int = 0
          ) -> list[dict[str, Any]]:
    """Events of one learner reading every card of `course` (if `read`) and taking one
    quiz attempt with `answers`, as the engine makes them (course.completed included
    when the engine proposes it). The attempt is drawn from the bank by the learner's
    attempt number (app/core/learning/draw.py), as the app does; an explicit `seed` makes
    an attempt as apps before item banks did (no `number`, the old seed rule)."""
    engine = LearningEngine([manifest], learner=learner, role=role, language="en",
                            load_lesson=lambda pack, path: {})
    log = Recorder(engine, device=device, start=start, step=timedelta(seconds=20))
    log.seq = first_seq
    pack = manifest["id"]
    info = engine.catalog.course(pack, course)
    if read:
        for lesson in info.lessons:
            log.add(engine.open_lesson(pack, course, lesson.id))
            for card in range(lesson.cards):
                log.add(engine.view_card(pack, course, lesson.id, card, seconds=12))
    choose = CHOOSERS[answers] if isinstance(answers, str) else answers
    step = log.add(engine.start_quiz(pack, course, seed=seed))
    attempt = engine.attempt(pack, course, step.attempt)
    assert info.quiz is not None
    for view in attempt.questions:
        log.add(engine.answer(pack, course, step.attempt, view.id,
                              choose(info.quiz.items[view.id])))
    log.add(engine.submit(pack, course, step.attempt))
    return log.events


def server_time(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))
