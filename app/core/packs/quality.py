"""Quiz quality checks of a pack (issue 16): the rules of docs/authoring.md §4
"Quiz quality rules", run by ``pack build`` (warnings; errors with ``--strict``), by
``make packs`` (strict) and by the server when a pack is uploaded (the console shows the
report).

Every rule works on the manifest (the built pack's, or a source's before building), so
the same code judges a source folder and an uploaded ``.pack``; a *locator* turns a
finding's place into ``file:line [field]`` (source: quiz.toml / course.toml with their
lines, see ``source_quality``) or into a manifest field path (uploaded packs).

Definitions (an author can check each by hand):

* a *choice item* is a ``single`` or ``multiple`` question or scenario part (true/false
  items have no option texts); its *correct option is longest* when an option of maximal
  length in characters is a correct one (ties count against the item);
* *length ratio* of an item: characters of its longest option text divided by those of
  its shortest (per language, surrounding spaces ignored); above ``MAX_LENGTH_RATIO``
  the lengths give the answer away;
* two options are *near-duplicates* when, lower-cased and stripped of punctuation, they
  are equal or ``difflib`` finds them at least ``NEAR_DUPLICATE`` similar;
* proper names: app/core/packs/quality_names.py.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.packs.quality_names import (
    CAPITALISED_NOUNS,
    Names,
    all_names,
    names_of_language,
    stem,
    strings,
    words,
)
from app.core.packs.source import PackSource
from app.core.packs.tomldoc import TomlDoc

#: the correct option may be the longest in at most this share of a quiz's choice items
MAX_CORRECT_LONGEST = 0.40
#: longest / shortest option text of one item, in characters
MAX_LENGTH_RATIO = 1.6
NEAR_DUPLICATE = 0.85
#: each learning outcome should be tested by at least this many questions of the bank
MIN_QUESTIONS_PER_OUTCOME = 2

#: rule id → what it checks (the same words as docs/authoring.md)
RULES: dict[str, str] = {
    "correct-longest": "correct option is the longest in more than 40 % of the choice items",
    "unequal-lengths": "option lengths very unequal within an item (longest > 1.6 × shortest)",
    "duplicate-options": "duplicate or near-duplicate options",
    "all-none-of-the-above": "an option 'all of the above' / 'none of the above'",
    "missing-feedback": "an option without feedback",
    "missing-explanation": "an item without an explanation",
    "reused-name": "a scenario reuses a proper name used in the lessons",
    "untagged": "a question not tagged with the learning outcome it tests",
    "small-bank": "the bank has fewer than twice the questions drawn per attempt",
    "outcome-untested": "a learning outcome no question of the bank tests",
    "outcome-thin": "a learning outcome tested by only one question",
    "draw-below-outcomes": "the draw is smaller than the number of outcomes the bank tests",
    "unchecked": "the rules could not read an uploaded pack's manifest (server only)",
}

#: "all / none of the above" in every language of the shipped packs (en, lt, ro, de, pt)
ALL_NONE = re.compile(
    r"all of the above|none of the above|both of the above|all the above"
    r"|visi (?:aukščiau )?(?:išvardyti|pateikti|atsakymai)|nė vienas (?:iš )?(?:aukščiau|išvardytų)"
    r"|toate (?:cele )?de mai sus|toate variantele|niciuna (?:dintre|din) (?:cele )?de mai sus"
    r"|nici una (?:dintre|din) (?:cele )?de mai sus"
    r"|todas as (?:opções|respostas) anteriores|nenhuma das (?:opções|respostas) anteriores"
    r"|alle (?:oben genannten|genannten|Antworten)|keine der (?:oben genannten|genannten|Antworten)",
    re.I)

#: pack path of a lesson file → its JSON document
LessonLoader = Callable[[str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Ref:
    """Where a finding is, before a locator places it: ``file`` is "quiz" or "course",
    ``toml`` the field path in that source file, ``manifest`` the path in the manifest."""

    course_index: int
    course: str
    file: str
    toml: str
    manifest: str


@dataclass(frozen=True, slots=True)
class Place:
    path: str | None
    line: int | None
    field: str | None


Locator = Callable[[Ref], Place]


@dataclass(frozen=True, slots=True)
class QualityFinding:
    """One broken rule: ``rule`` (a key of RULES), where, and what, in one line."""

    rule: str
    course: str
    message: str
    path: str | None
    line: int | None
    field: str | None
    lang: str | None = None

    @property
    def where(self) -> str:
        out = self.path or ""
        if self.line is not None:
            out += f":{self.line}"
        if self.field:
            out += f" [{self.field}]" if out else f"[{self.field}]"
        return out

    def __str__(self) -> str:
        lang = f" ({self.lang})" if self.lang else ""
        return f"{self.where}: {self.message}{lang} [rule {self.rule}]"


@dataclass
class QuizFigures:
    """The figures of one course quiz in one language (what ``tools.quiz_quality`` prints)."""

    course: str
    lang: str
    questions: int = 0
    draw: int = 0
    choice_items: int = 0
    correct_longest: int = 0
    worst_ratio: float = 0.0

    @property
    def correct_longest_share(self) -> float:
        return self.correct_longest / self.choice_items if self.choice_items else 0.0

    def summary(self) -> str:
        return (f"{self.course:<18} {self.lang}  questions {self.questions:>2} draw "
                f"{self.draw:>2}  correct-longest {self.correct_longest:>2}/"
                f"{self.choice_items:<2} ({self.correct_longest_share:4.0%})  max ratio "
                f"{self.worst_ratio:4.2f}")


@dataclass
class QualityReport:
    findings: list[QualityFinding] = field(default_factory=list)
    figures: list[QuizFigures] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def of(self, rule: str) -> list[QualityFinding]:
        return [f for f in self.findings if f.rule == rule]


def manifest_locator(ref: Ref) -> Place:
    """Places in a built manifest (an uploaded .pack has no source lines)."""
    return Place("manifest.json", None, f"courses[{ref.course_index}].{ref.manifest}")


def quiz_quality(manifest: dict[str, Any], load_lesson: LessonLoader,
                 locate: Locator = manifest_locator) -> QualityReport:
    """Every quality finding of every course quiz of ``manifest``, in every complete
    language (partial languages are not checked: their texts fall back)."""
    langs = [lang for lang in manifest["languages"]
             if lang not in manifest.get("partial_languages", [])]
    courses = manifest["courses"]
    report = QualityReport()
    for i, course in enumerate(courses):
        _structure(report, i, course, locate)
    default = manifest["default_language"]
    default_names: set[str] | None = None
    for lang in langs:
        lessons = _lesson_texts(courses, lang, load_lesson)
        if default_names is None and lang in CAPITALISED_NOUNS:
            default_names = all_names(_lesson_texts(courses, default, load_lesson), courses,
                                      default)
        names = names_of_language(lessons, courses, lang, default_names)
        lesson_names: dict[str, str] = {}
        for text in lessons:
            for name in names.of(text):
                lesson_names.setdefault(stem(name), name)
        for i, course in enumerate(courses):
            report.figures.append(_texts(report, i, course, lang, names, lesson_names, locate))
    return report


def source_quality(source: PackSource) -> QualityReport:
    """``quiz_quality`` of a read pack source, its findings placed at file:line."""
    docs: dict[tuple[str, str], TomlDoc] = {}

    def locate(ref: Ref) -> Place:
        rel = f"courses/{ref.course}/{ref.file}.toml"
        doc = docs.get((ref.course, ref.file))
        if doc is None:
            doc = docs[(ref.course, ref.file)] = TomlDoc.load(source.src_dir / rel,
                                                              str(source.src_dir / rel))
        return Place(doc.display, doc.line_of(ref.toml), ref.toml)

    def load(path: str) -> dict[str, Any]:
        data = source.files[path]
        raw = data if isinstance(data, bytes) else Path(data).read_bytes()
        doc: dict[str, Any] = json.loads(raw)
        return doc

    return quiz_quality(source.manifest, load, locate)


# -- the rules -----------------------------------------------------------------------------
def _items(quiz: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None,
                                                   str]]:
    """(scored item, its scenario or None, its path) for every question and part."""
    for j, q in enumerate(quiz["questions"]):
        if q["type"] == "scenario":
            for k, part in enumerate(q["parts"]):
                yield part, q, f"questions[{j}].parts[{k}]"
        else:
            yield q, None, f"questions[{j}]"


@dataclass(frozen=True, slots=True)
class _Sink:
    """Adds the findings of one course (and language) to a report, placed by the locator."""

    report: QualityReport
    locate: Locator
    index: int
    course: str
    lang: str | None = None

    def add(self, rule: str, message: str, path: str, *, file: str = "quiz",
            manifest: str | None = None) -> None:
        place = self.locate(Ref(self.index, self.course, file, path,
                                manifest or f"quiz.{path}"))
        self.report.findings.append(QualityFinding(rule, self.course, message, place.path,
                                                   place.line, place.field, self.lang))


def _structure(report: QualityReport, i: int, course: dict[str, Any], locate: Locator) -> None:
    """The rules that do not depend on a language: tags, outcomes, bank, feedback."""
    quiz = course.get("quiz") or {"questions": [], "draw": 0}
    if not quiz["questions"]:
        return
    add = _Sink(report, locate, i, course["id"]).add
    outcomes = [o["id"] for o in course.get("outcomes", [])]
    tested: Counter[str] = Counter()
    for q in quiz["questions"]:
        tags = {q.get("outcome")} | {p.get("outcome") for p in q.get("parts", [])}
        tested.update(t for t in tags if t)
    for k, oid in enumerate(outcomes):
        if tested[oid] == 0:
            add("outcome-untested", f"learning outcome {oid!r} is tested by no question",
                f"outcomes.{oid}", file="course", manifest=f"outcomes[{k}]")
        elif tested[oid] < MIN_QUESTIONS_PER_OUTCOME:
            add("outcome-thin", f"learning outcome {oid!r} is tested by only one question "
                                "(a retake cannot vary it)",
                f"outcomes.{oid}", file="course", manifest=f"outcomes[{k}]")
    draw, bank = quiz["draw"], len(quiz["questions"])
    if draw and bank < 2 * draw:
        add("small-bank", f"the bank has {bank} questions, fewer than twice the draw "
                          f"({draw}): retakes would repeat most items", "draw")
    if draw and len(tested) > draw:
        add("draw-below-outcomes", f"draw = {draw} cannot cover the {len(tested)} learning "
                                   "outcomes the bank tests", "draw")
    for item, scenario, path in _items(quiz):
        if not (item.get("outcome") or (scenario or {}).get("outcome")):
            add("untagged", f"{item['id']} is not tagged with a learning outcome "
                            "(outcome = \"…\")", path)
        if not item.get("explanation"):
            add("missing-explanation", f"{item['id']} has no explanation", path)
        for m, o in enumerate(item["options"]):
            if not o.get("feedback"):
                where = (f"{path}.feedback_{o['id']}" if item["type"] == "true_false"
                         else f"{path}.options[{m}]")
                add("missing-feedback", f"option {o['id']!r} of {item['id']} has no feedback",
                    where, manifest=f"quiz.{path}.options[{m}]")


def _texts(report: QualityReport, i: int, course: dict[str, Any], lang: str, names: Names,
           lesson_names: dict[str, str], locate: Locator) -> QuizFigures:
    """The rules about the texts of one language; returns the quiz's figures."""
    quiz = course.get("quiz") or {"questions": [], "draw": 0}
    fig = QuizFigures(course["id"], lang, questions=len(quiz["questions"]), draw=quiz["draw"])
    add = _Sink(report, locate, i, course["id"], lang).add
    for j, q in enumerate(quiz["questions"]):
        if q["type"] != "scenario":
            continue
        text = " ".join(strings([q.get("case"), q.get("prompt"), q["parts"]], lang))
        for name in sorted(names.of(text)):
            if stem(name) in lesson_names:
                add("reused-name", f"scenario {q['id']} uses the name {name!r}, which a "
                                   f"lesson uses too ({lesson_names[stem(name)]!r}): "
                                   "choose a name no lesson uses", f"questions[{j}].case.{lang}")
    longest_items = []
    for item, _, path in _items(quiz):
        if item["type"] == "true_false":
            continue
        fig.choice_items += 1
        texts = [o["text"][lang].strip() for o in item["options"] if lang in o.get("text", {})]
        if len(texts) != len(item["options"]):
            continue
        lengths = [len(t) for t in texts]
        longest = max(lengths)
        if any(o["correct"] and n == longest
               for o, n in zip(item["options"], lengths, strict=True)):
            fig.correct_longest += 1
            longest_items.append(item["id"])
        ratio = longest / max(1, min(lengths))
        fig.worst_ratio = max(fig.worst_ratio, ratio)
        if ratio > MAX_LENGTH_RATIO:
            add("unequal-lengths", f"{item['id']}: the longest option is {ratio:.2f}× the "
                                   f"shortest (at most {MAX_LENGTH_RATIO})", f"{path}.options")
        normed = [" ".join(words(t.lower())) for t in texts]
        for a in range(len(normed)):
            for b in range(a + 1, len(normed)):
                x, y = normed[a], normed[b]
                if x == y or difflib.SequenceMatcher(None, x, y).ratio() >= NEAR_DUPLICATE:
                    add("duplicate-options", f"{item['id']}: options "
                                             f"{item['options'][a]['id']!r} and "
                                             f"{item['options'][b]['id']!r} say the same",
                        f"{path}.options[{b}].text.{lang}")
        for m, t in enumerate(texts):
            if ALL_NONE.search(t):
                add("all-none-of-the-above", f"{item['id']}: option "
                                             f"{item['options'][m]['id']!r} is {t!r}",
                    f"{path}.options[{m}].text.{lang}")
    if fig.correct_longest_share > MAX_CORRECT_LONGEST:
        add("correct-longest", f"the correct option is the longest in {fig.correct_longest} "
                               f"of {fig.choice_items} choice items "
                               f"({fig.correct_longest_share:.0%} > {MAX_CORRECT_LONGEST:.0%}): "
                               f"{', '.join(longest_items)}", "questions[0]")
    return fig


def _lesson_texts(courses: list[dict[str, Any]], lang: str, load: LessonLoader) -> list[str]:
    out = []
    for course in courses:
        for lesson in course["lessons"]:
            path = lesson["files"].get(lang)
            if path is None:
                continue
            doc = load(path)
            out.append(str(doc.get("title", "")))
            out += [f"{c.get('title', '')}\n{c.get('markdown', '')}" for c in doc["cards"]]
    return out
