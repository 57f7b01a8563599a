"""Folds as plain, comparable data — written from the fold classes' fields, not from the
snapshot codec, so a field the codec forgot shows up as a difference (and
`test_fold_snapshots.test_views_cover_every_field` fails when a field is added here
unseen)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from app.core.assessment.state import AssessmentState
from app.core.learning.course_progress import _ATTEMPT_FIELDS, CourseProgress
from app.core.learning.state import LearnerState

#: attributes of the fold objects that the views below cover (or deliberately skip)
LEARNER_STATE_ATTRS = {"learner", "seen", "ignored", "version", "courses", "encounters",
                       "_packed_encounters", "_extra_encounters", "_latest_encounter",
                       "_leitner", "certificates"}
ASSESSMENT_STATE_ATTRS = {"learner", "seen", "ignored", "version", "assessments"}


def _base(state: Any) -> dict[str, Any]:
    return {"learner": state.learner, "seen": set(state.seen), "ignored": dict(state.ignored),
            "version": state.version}


def attempt_view(attempt: Any) -> dict[str, Any]:
    out = {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}
    out["answers"] = {q: (a.key, a.event, list(a.choice), a.score, a.pack_version)
                      for q, a in attempt.answers.items()}
    out["questions"] = list(attempt.questions)
    return out


def course_view(progress: CourseProgress) -> dict[str, Any]:
    out = {f.name: getattr(progress, f.name) for f in fields(CourseProgress)}
    out["viewed"] = {lesson: set(cards) for lesson, cards in progress.viewed.items()}
    out["attempts"] = {k: attempt_view(a) for k, a in progress.attempts.items()}
    return out


def learning_view(state: LearnerState) -> dict[str, Any]:
    """Everything the learning fold holds. Leitner states are read first (a restored
    state computes them incrementally), then the encounters (unpacking them)."""
    items = state.review_questions()
    leitner = {item: state.leitner(*item) for item in items}
    return {**_base(state),
            "courses": {k: course_view(c) for k, c in state.courses.items()},
            "leitner": leitner,
            "encounters": {item: sorted(state.encounters_of(item)) for item in items},
            "certificates": dict(state.certificates)}


def assessment_view(state: AssessmentState) -> dict[str, Any]:
    return {**_base(state),
            "assessments": {k: (r.id, r.pack, r.profile, r.role, r.lang, r.started,
                                {t: (x.key, x.event, x.level, x.duty)
                                 for t, x in r.ratings.items()},
                                dict(r.completions))
                            for k, r in state.assessments.items()}}


def recomputed(events: list[dict[str, Any]], learner: str) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
    """(learning view, assessment view) of a fold of every event, from nothing."""
    learning, assessment = LearnerState(learner), AssessmentState(learner)
    learning.apply_many(events)
    assessment.apply_many(events)
    return learning_view(learning), assessment_view(assessment)


def history_views(history: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return learning_view(history.learning), assessment_view(history.assessment)
