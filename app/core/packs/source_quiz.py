"""A course's quiz.toml, read and checked: the quiz part of a pack source (source.py).

Question types: ``single``, ``multiple``, ``true_false`` and ``scenario`` (a case with
parts of the other types). Every short text is inline per language; every problem is a
PackSourceError naming the file, line and field (through ``Fields``).
"""

from __future__ import annotations

from typing import Any

from app.core.packs.fields import Fields, Languages, unique_ids
from app.core.packs.manifest import PART_TYPES, QUESTION_TYPES
from app.core.packs.markup import Kind
from app.core.packs.tomldoc import TomlDoc


def read_quiz(doc: TomlDoc, langs: Languages, outcomes: list[str]) -> dict[str, Any]:
    """A course's quiz.toml as its manifest entry (questions in bank order)."""
    f = Fields(doc, doc.data, "", langs)
    f.only(["max_attempts", "draw", "shuffle_questions", "shuffle_options", "questions"])
    questions = f.tables("questions")
    seen: dict[str, str] = {}
    out = [_question(q, seen, QUESTION_TYPES, outcomes) for q in questions]
    draw = f.integer("draw", required=False, default=0, lo=0)
    if draw > len(out):
        raise f.error("draw", f"draws {draw} questions but the bank has {len(out)}")
    return {"max_attempts": f.integer("max_attempts", required=False, default=0, lo=0),
            "draw": draw,
            "shuffle_questions": f.boolean("shuffle_questions", required=False,
                                           default=True),
            "shuffle_options": f.boolean("shuffle_options", required=False, default=True),
            "questions": out}


def _question(q: Fields, seen: dict[str, str], types: tuple[str, ...],
              outcomes: list[str], inherited: str | None = None) -> dict[str, Any]:
    qid = q.ident("id")
    unique_ids([q], "id", seen)
    qtype = q.string("type")
    if qtype not in types:
        raise q.error("type", f"unknown question type {qtype!r}; known types: "
                              f"{', '.join(types)}")
    common = ["id", "type", "prompt", "explanation", "outcome"]
    out: dict[str, Any] = {"id": qid, "type": qtype}
    outcome = _outcome(q, outcomes) or inherited
    if outcome:
        out["outcome"] = outcome      # a part inherits its scenario's outcome
    if qtype == "scenario":
        q.only([*common, "case", "parts"])
        out["case"] = q.loc("case", kind=Kind.RICH)
        if q.has("prompt"):
            out["prompt"] = q.loc("prompt")
        if q.has("explanation"):
            out["explanation"] = q.loc("explanation", kind=Kind.RICH)
        out["parts"] = [_question(p, seen, PART_TYPES, outcomes, outcome)
                        for p in q.tables("parts")]
        return out
    out["prompt"] = q.loc("prompt")
    if q.has("explanation"):
        out["explanation"] = q.loc("explanation", kind=Kind.RICH)
    if qtype == "true_false":
        q.only([*common, "answer", "feedback_true", "feedback_false"])
        answer = q.boolean("answer")
        opts = []
        for value in (True, False):
            name = "true" if value else "false"
            opt: dict[str, Any] = {"id": name, "correct": answer is value}
            fb = q.loc(f"feedback_{name}", required=False)
            if fb is not None:
                opt["feedback"] = fb
            opts.append(opt)
        out["options"] = opts
        return out
    q.only([*common, "options"])
    options = q.tables("options")
    if not 2 <= len(options) <= 8:
        raise q.error("options", f"a {qtype} question needs 2–8 options, has {len(options)}")
    unique_ids(options, "id")
    opts = []
    for o in options:
        o.only(["id", "correct", "text", "feedback"])
        opt = {"id": o.ident("id"), "correct": o.boolean("correct", required=False),
               "text": o.loc("text")}
        fb = o.loc("feedback", required=False)
        if fb is not None:
            opt["feedback"] = fb
        opts.append(opt)
    n = sum(1 for o in opts if o["correct"])
    if qtype == "single" and n != 1:
        raise q.error("options", f"a single-choice question needs exactly one correct "
                                 f"option, has {n}")
    if qtype == "multiple" and n < 1:
        raise q.error("options", "a multiple-choice question needs at least one correct "
                                 "option")
    out["options"] = opts
    return out


def _outcome(q: Fields, outcomes: list[str]) -> str | None:
    if not q.has("outcome"):
        return None
    oid = q.ident("outcome")
    if oid not in outcomes:
        known = (f"course.toml defines: {', '.join(outcomes)}" if outcomes else
                 "course.toml defines no [outcomes] table")
        raise q.error("outcome", f"unknown learning outcome {oid!r}; {known}")
    return oid
