"""Learning engine: courses, lesson cards, quizzes, spaced review and progress, all
computed from the installed pack manifests and a fold over the learner's events.

Public API (docs/learning.md):
    Catalog.from_manifests(manifests)
    LearningEngine(catalog, learner=, role=, language=, load_lesson=, events=())
    LearningEngine.load_history(store, learner) / load_history — the folds at sign-in;
    save_history — the snapshot a sign-in deferred, at the session's end
    LearnerState (the fold), statement (xAPI, in app.core.learning.xapi)
"""

from app.core.learning.catalog import Catalog, CourseInfo, QuizInfo
from app.core.learning.engine import LearningEngine
from app.core.learning.history import LearnerHistory, load_history, save_history
from app.core.learning.payloads import check_payload
from app.core.learning.state import LearnerState
from app.core.learning.text import Text, localize

__all__ = ["Catalog", "CourseInfo", "LearnerHistory", "LearnerState", "LearningEngine",
           "QuizInfo", "Text", "check_payload", "load_history", "localize", "save_history"]
