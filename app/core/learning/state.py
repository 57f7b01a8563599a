"""LearnerState: a learner's progress as an incremental fold over their events.

Every aggregate is built from commutative pieces (set unions, minimum / maximum by
(order_key, event id) — the id breaks ties, so even two events with one key fold the
same in any order — and integer sums), and events are de-duplicated by id, so the state
is the same for any order of the same events, with duplicates, and after merging two
tablets' logs. `apply` is O(1) per event apart from the few per-question review
encounters, so the Store can call it for every new event and the views stay cheap.

That is also what makes a saved state (a snapshot, app.core.learning.history) plus the
events stored since equal to a fold of everything. `to_plain` / `from_plain` turn the
state into plain data and back; `FOLD_VERSION` names what the fold computes — bump it
whenever a change here (or in course_progress.py, fold.py, payloads.py, review.py) can
change the state some events fold to, so saved snapshots are recomputed
(tests/unit/test_fold_snapshots.py notices a change of the fold code and asks).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.core.learning.course_progress import (
    Answer,
    Attempt,
    Certificate,
    CourseKey,
    CourseProgress,
    pack_plain,
    unpack_plain,
)
from app.core.learning.fold import EventFold, Key, utc_day
from app.core.learning.payloads import MAX_SECONDS_PER_CARD
from app.core.learning.review import Encounter, Leitner, leitner, step

#: what the learning fold computes (see the module docstring): bump on any change of it
FOLD_VERSION = 3

#: packed chunks of one question's answers before they are joined into one
MAX_CHUNKS = 8
Item = tuple[str, str, str]     # (pack, course, question)
LEARNING_TYPES = frozenset({"lesson.opened", "card.viewed", "quiz.started", "answer.given",
                            "quiz.submitted", "course.completed", "review.answered",
                            "certificate.received"})
POSITION_TYPES = frozenset({"lesson.opened", "card.viewed", "quiz.started", "answer.given",
                            "quiz.submitted"})


class LearnerState(EventFold):
    """Fold of one learner's learning events (selfassessment.* are folded by
    app.core.assessment.AssessmentState)."""

    types = LEARNING_TYPES

    def __init__(self, learner: str | None = None) -> None:
        super().__init__(learner)
        self.courses: dict[CourseKey, CourseProgress] = {}
        #: (pack, course, question) → its answers. A question restored from a snapshot
        #: stays packed (`_packed_encounters`, with its Leitner state and latest answer)
        #: while new answers come later than all before: each advances the state by one
        #: `review.step` and waits in `_extra_encounters`; an earlier one (a merge)
        #: unpacks the question and recomputes it.
        self.encounters: dict[Item, list[Encounter]] = {}
        self._packed_encounters: dict[Item, tuple[bytes, ...]] = {}
        self._extra_encounters: dict[Item, list[Encounter]] = {}
        self._latest_encounter: dict[Item, Encounter] = {}
        self._leitner: dict[Item, Leitner] = {}
        self.certificates: dict[str, Certificate] = {}

    # -- folding ---------------------------------------------------------------------
    def _admit(self, event: dict[str, Any], etype: str) -> date:
        return utc_day(event["at"])          # the day of a review encounter; checks `at`

    def _fold(self, event: dict[str, Any], event_id: str, etype: str, key: Key,
              day: date) -> None:
        ref = event["ref"]
        if etype == "certificate.received":
            data = event.get("data") or {}
            self.certificates[event_id] = Certificate(
                id=ref["certificate"], event=event_id, at=event["at"], pack=event.get("pack"),
                course=ref.get("course"), credential=data.get("credential"),
                title=data.get("title") if isinstance(data.get("title"), str) else None)
            return
        pack = event["pack"]
        course = self.courses.get((pack, ref["course"]))
        if course is None:
            course = self.courses[(pack, ref["course"])] = CourseProgress(pack, ref["course"])
        course.version += 1
        data = event.get("data") or {}
        if etype in POSITION_TYPES:
            last = course.last
            if last is None or key > last[0] or (key == last[0] and event_id > last[1]):
                course.last = (key, event_id, etype, dict(ref))
        if etype == "card.viewed":
            lesson = ref["lesson"]
            viewed = course.viewed.get(lesson)
            if viewed is None:
                viewed = course.viewed[lesson] = set()
            viewed.add(int(ref["card"]))
            course.opened.add(lesson)
            seconds = data.get("seconds")
            if seconds:
                # integer milliseconds: a float sum would depend on the order of events
                course.millis += round(min(float(seconds), MAX_SECONDS_PER_CARD) * 1000)
                course.seconds = course.millis / 1000
        elif etype == "lesson.opened":
            course.opened.add(ref["lesson"])
        elif etype == "answer.given":
            attempt = self._attempt(course, ref["attempt"], key)
            qid = ref["question"]
            old = attempt.answers.get(qid)
            if old is None or (key, event_id) < (old.key, old.event):
                attempt.answers[qid] = Answer(key, event_id, list(data["choice"]),
                                              float(data["score"]), event.get("pack_version"))
            self._encounter(pack, ref["course"], qid,
                            Encounter(key, day, data["score"] >= 1.0, False))
        elif etype == "quiz.started":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.started is None \
                    or (key, event_id) < (attempt.started, attempt.started_event):
                attempt.started, attempt.seed = key, data["seed"]
                attempt.number = data.get("number")
                attempt.started_event = event_id
                attempt.questions = list(data["questions"])
                attempt.lang = data.get("lang") if isinstance(data.get("lang"), str) else None
                attempt.pack_version = event.get("pack_version")
        elif etype == "quiz.submitted":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.submitted is None \
                    or (key, event_id) < (attempt.submitted[0], attempt.submitted_event):
                attempt.submitted = (key, float(data["score"]), bool(data["passed"]))
                attempt.submitted_version = event.get("pack_version")
                attempt.submitted_event = event_id
        elif etype == "course.completed":
            course.completions[event_id] = key
        elif etype == "review.answered":
            self._encounter(pack, ref["course"], ref["question"],
                            Encounter(key, day, data["score"] >= 1.0, True))

    def _course(self, pack: str, course: str) -> CourseProgress:
        progress = self.courses.get((pack, course))
        if progress is None:
            progress = self.courses[(pack, course)] = CourseProgress(pack, course)
        return progress

    @staticmethod
    def _attempt(course: CourseProgress, attempt_id: str, key: Key) -> Attempt:
        attempt = course.attempts.get(attempt_id)
        if attempt is None:
            attempt = course.attempts[attempt_id] = Attempt(attempt_id)
        if attempt.first is None or key < attempt.first:
            attempt.first = key
        return attempt

    def _encounter(self, pack: str, course: str, question: str, enc: Encounter) -> None:
        item = (pack, course, question)
        if item in self._packed_encounters:
            cached = self._leitner.get(item)
            if cached is not None and enc > self._latest_encounter[item]:
                self._extra_encounters.setdefault(item, []).append(enc)
                self._latest_encounter[item] = enc
                self._leitner[item] = step(cached, enc)
                return
        self._unpack_item(item)
        self.encounters.setdefault(item, []).append(enc)
        self._leitner.pop(item, None)

    def encounters_of(self, item: Item) -> list[Encounter]:
        """The answers to one question (unpacked from a snapshot on first use)."""
        self._unpack_item(item)
        return self.encounters.get(item, [])

    def _unpack_item(self, item: Item) -> None:
        chunks = self._packed_encounters.pop(item, None)
        if chunks is not None:
            self.encounters[item] = [*(e for chunk in chunks for e in _unpack_encounters(chunk)),
                                     *self._extra_encounters.pop(item, [])]
            self._latest_encounter.pop(item, None)

    def review_questions(self) -> list[Item]:
        """Every question with at least one answer."""
        return [*(i for i, found in self.encounters.items() if found),
                *(i for i in self._packed_encounters if i not in self.encounters)]

    # -- plain data (snapshots) ------------------------------------------------------
    def to_plain(self) -> tuple[Any, ...]:
        """The whole state as tuples, lists, dicts, sets, bytes and scalars (for
        marshal). Attempt details and each question's answers are nested marshal bytes,
        so restoring builds no object for them until they are read."""
        courses = [
            (c.pack, c.course, c.viewed, c.opened,
             [(a.id, a.started, a.started_event, a.seed, a.lang, a.pack_version, a.submitted,
               a.submitted_event, a.submitted_version, a.first, a.packed_detail(), a.number)
              for a in c.attempts.values()],
             c.completions, c.last, c.seconds, c.version, c.millis)
            for c in self.courses.values()]
        review = []
        for item in self.review_questions():
            chunks = self._packed_encounters.get(item)
            if chunks is None:
                encounters = self.encounters[item]
                chunks = (_pack_encounters(encounters),)
            else:
                # the answers since the snapshot become one more chunk: saving again
                # costs what changed; many chunks are joined now and then
                extra = self._extra_encounters.get(item)
                if extra:
                    chunks = (*chunks, _pack_encounters(extra))
                if len(chunks) > MAX_CHUNKS:
                    chunks = (_pack_encounters([e for chunk in chunks
                                                for e in _unpack_encounters(chunk)]),)
                encounters = [self._latest_encounter[item]]
            state = self.leitner(*item)
            latest = max(encounters)
            review.append((item, chunks, (state.box, state.due.toordinal() if state.due
                                          else None, state.retired),
                           (latest.key, latest.day.toordinal(), latest.correct,
                            latest.review)))
        certificates = [(c.event, c.id, c.at, c.pack, c.course, c.credential, c.title)
                        for c in self.certificates.values()]
        return (*self._base_plain(), courses, review, certificates)

    @classmethod
    def from_plain(cls, learner: str | None, plain: Any) -> LearnerState:
        """The state `to_plain` described (TypeError/ValueError/KeyError/IndexError on
        anything else)."""
        *base, courses, review, certificates = plain
        state = cls(learner)
        state._restore_base(base)
        for (pack, course, viewed, opened, attempts, completions, last, seconds, version,
             millis) in courses:
            progress = CourseProgress(pack, course, _dict(viewed), _set(opened), {},
                                      _dict(completions), last, float(seconds),
                                      int(version), int(millis))
            for (aid, started, started_event, seed, lang, pack_version, submitted,
                 submitted_event, submitted_version, first, detail, number) in attempts:
                if type(detail) is not bytes:
                    raise TypeError("attempt detail: expected bytes")
                progress.attempts[aid] = Attempt.with_packed_detail(
                    detail, id=aid, started=started, seed=seed, lang=lang,
                    pack_version=pack_version, submitted=submitted,
                    submitted_version=submitted_version, first=first,
                    started_event=started_event, submitted_event=submitted_event,
                    number=number)
            state.courses[(pack, course)] = progress
        for item, chunks, (box, due, retired), (key, day, correct, review_) in review:
            if type(chunks) is not tuple or not all(type(c) is bytes for c in chunks):
                raise TypeError("review answers: expected a tuple of bytes")
            state._packed_encounters[item] = chunks
            state._leitner[item] = Leitner(box, date.fromordinal(due) if due else None,
                                           bool(retired))
            state._latest_encounter[item] = Encounter(key, date.fromordinal(day),
                                                      bool(correct), bool(review_))
        for event, cid, at, pack, course, credential, title in certificates:
            state.certificates[event] = Certificate(cid, event, at, pack, course, credential,
                                                    title)
        return state

    # -- queries ---------------------------------------------------------------------
    def course(self, pack: str, course: str) -> CourseProgress:
        """Progress of a course (an empty one if the learner never touched it)."""
        return self.courses.get((pack, course)) or CourseProgress(pack, course)

    def leitner(self, pack: str, course: str, question: str) -> Leitner:
        item = (pack, course, question)
        cached = self._leitner.get(item)
        if cached is None:
            encounters = (self.encounters_of(item) if item in self._packed_encounters
                          else self.encounters.get(item, []))
            cached = self._leitner[item] = leitner(encounters)
        return cached

    def review_items(self) -> list[tuple[tuple[str, str, str], Leitner]]:
        """Every question currently in a Leitner box, with its box and due day."""
        out = []
        for item in self.review_questions():
            state = self.leitner(*item)
            if state.box is not None:
                out.append((item, state))
        return out

    def due(self, today: date) -> list[tuple[tuple[str, str, str], Leitner]]:
        """Questions due on or before `today`, most overdue first (then lowest box)."""
        items = [(i, s) for i, s in self.review_items() if s.due is not None and s.due <= today]
        items.sort(key=lambda x: (x[1].due, x[1].box, x[0]))
        return items


def _dict(value: Any) -> dict[Any, Any]:
    if type(value) is not dict:
        raise TypeError(f"expected a dict, got {type(value).__name__}")
    return value


def _set(value: Any) -> set[Any]:
    if type(value) is not set:
        raise TypeError(f"expected a set, got {type(value).__name__}")
    return value


def _pack_encounters(encounters: list[Encounter]) -> bytes:
    return pack_plain([(e.key, e.day.toordinal(), e.correct, e.review) for e in encounters])


def _unpack_encounters(packed: bytes) -> list[Encounter]:
    days: dict[int, date] = {}
    out = []
    for key, ordinal, correct, review in unpack_plain(packed):
        day = days.get(ordinal)
        if day is None:
            day = days[ordinal] = date.fromordinal(ordinal)
        out.append(Encounter(key, day, correct, review))
    return out
