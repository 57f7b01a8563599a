"""Quiz quality figures of a pack source (issue 19 item 1; the checks issue 16 will move
into `pack build`).

    python -m tools.quiz_quality content_packs/promote-core [more sources…]

prints, per course quiz and language: how many choice items have the correct option as
the longest (a test-wise learner picks the longest option), the worst longest/shortest
option length ratio, duplicate or near-duplicate options, "all/none of the above", missing
feedback or explanations, proper names of scenarios that also appear in the pack's
lessons (the scenario then tests recall, not transfer), questions not tagged with a
learning outcome, outcomes tested by fewer than two questions, and a bank smaller than
twice the draw. tests/unit/test_content_quiz_quality.py asserts the thresholds below for
the shipped packs.

Definitions (kept simple so an author can check them by hand):

* a *choice item* is a `single` or `multiple` question or scenario part (true/false items
  have no option texts); its *correct option is longest* when an option of maximal length
  in characters is a correct one (ties count against the item);
* two options are *near-duplicates* when, lower-cased and stripped of punctuation, they are
  equal or `difflib` finds them ≥ 85 % similar;
* a *proper name* is a capitalised word (not an acronym) that is written with a capital
  inside a sentence somewhere in the pack, and such that no lower-case word of the pack's
  text in that language is the same word or starts with the same five letters; so
  sentence-initial words drop out ("Dalijatės" / "dalijasi", "Equal" / "equal"). Names
  are compared on their first four letters, which catches inflected forms ("Petras",
  "Petro"). A name that only ever starts sentences is missed: write at least one
  "Officer Laura" or "asks Laura". German capitalises every noun, so a capital says
  nothing there: in German a word counts as a name only if, in addition, it is a name of
  the pack's default language, possibly with the genitive -s (names are not translated:
  "Karim" stays "Karim", "Lucians Bericht" is still Lucian's report).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.packs import PackSource, read_source  # noqa: E402

#: a quiz fails when the correct option is the longest in more than this share of its
#: choice items (issue 16)
MAX_CORRECT_LONGEST = 0.40
#: longest / shortest option text of one item, in characters
MAX_LENGTH_RATIO = 1.6
NEAR_DUPLICATE = 0.85
#: each learning outcome must be tested by at least this many questions of the bank
MIN_QUESTIONS_PER_OUTCOME = 2

ALL_NONE = re.compile(
    r"all of the above|none of the above|both of the above|all the above"
    r"|visi (?:aukščiau )?(?:išvardyti|pateikti|atsakymai)|nė vienas (?:iš )?(?:aukščiau|išvardytų)"
    r"|toate (?:cele )?de mai sus|toate variantele|niciuna (?:dintre|din) (?:cele )?de mai sus"
    r"|nici una (?:dintre|din) (?:cele )?de mai sus"
    r"|todas as (?:opções|respostas) anteriores|nenhuma das (?:opções|respostas) anteriores"
    r"|alle (?:oben genannten|genannten|Antworten)|keine der (?:oben genannten|genannten|Antworten)",
    re.I)
_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*", re.U)
#: capitalised words that are not names of people or places (titles, days, months,
#: the instruments cited); the corpus rule catches the rest
NOT_NAMES = {
    "officer", "european", "prison", "rules", "rule", "nelson", "mandela", "council",
    "europe", "probation", "nations", "united", "standard", "minimum", "recommendation",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "ngo", "cv", "id", "tv",
    "europos", "nelsono", "mandelos", "tarybos", "regulile", "regula", "consiliului",
    "europei", "penitenciare", "europene", "luni", "marți", "miercuri", "joi", "vineri",
    "sâmbătă", "duminică", "pirmadienį", "antradienį", "trečiadienį", "ketvirtadienį",
    "penktadienį", "šeštadienį", "sekmadienį",
    # pt: the instruments cited ("Regras Penitenciárias Europeias", "Regras Mínimas das
    # Nações Unidas para o Tratamento de Reclusos", "Conselho da Europa"); pt weekdays and
    # months are written in lower case
    "regras", "regra", "penitenciárias", "europeias", "conselho", "europa", "nações",
    "unidas", "mínimas", "tratamento", "reclusos", "recomendação",
}


@dataclass
class QuizFigures:
    """The quality figures of one course quiz in one language."""

    course: str
    lang: str
    questions: int = 0
    draw: int = 0
    choice_items: int = 0
    correct_longest: int = 0
    worst_ratio: float = 0.0
    ratios_over: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    all_none: list[str] = field(default_factory=list)
    missing_feedback: list[str] = field(default_factory=list)
    reused_names: list[str] = field(default_factory=list)
    untagged: list[str] = field(default_factory=list)
    thin_outcomes: list[str] = field(default_factory=list)

    @property
    def correct_longest_share(self) -> float:
        return self.correct_longest / self.choice_items if self.choice_items else 0.0

    def problems(self) -> list[str]:
        """Everything that breaks a threshold, one line each."""
        out = []
        if self.correct_longest_share > MAX_CORRECT_LONGEST:
            out.append(f"correct option is the longest in {self.correct_longest} of "
                       f"{self.choice_items} choice items ({self.correct_longest_share:.0%} > "
                       f"{MAX_CORRECT_LONGEST:.0%})")
        out += [f"option lengths very unequal: {r}" for r in self.ratios_over]
        out += [f"near-duplicate options: {d}" for d in self.duplicates]
        out += [f"'all/none of the above': {a}" for a in self.all_none]
        out += [f"missing feedback or explanation: {m}" for m in self.missing_feedback]
        out += [f"scenario reuses a name from the lessons: {n}" for n in self.reused_names]
        out += [f"question not tagged with a learning outcome: {u}" for u in self.untagged]
        out += [f"learning outcome tested by fewer than {MIN_QUESTIONS_PER_OUTCOME} "
                f"questions: {t}" for t in self.thin_outcomes]
        if self.draw and self.questions < 2 * self.draw:
            out.append(f"bank of {self.questions} questions is smaller than twice the draw "
                       f"({self.draw})")
        return [f"{self.course} [{self.lang}]: {p}" for p in out]

    def summary(self) -> str:
        return (f"{self.course:<18} {self.lang}  questions {self.questions:>2} draw "
                f"{self.draw:>2}  correct-longest {self.correct_longest:>2}/"
                f"{self.choice_items:<2} ({self.correct_longest_share:4.0%})  max ratio "
                f"{self.worst_ratio:4.2f}  dup {len(self.duplicates)}  all/none "
                f"{len(self.all_none)}  no-feedback {len(self.missing_feedback)}  "
                f"reused-names {len(self.reused_names)}  untagged {len(self.untagged)}")


def items(quiz: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(scored item, its scenario or None) for every question and scenario part."""
    for q in quiz["questions"]:
        if q["type"] == "scenario":
            for part in q["parts"]:
                yield part, q
        else:
            yield q, None


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _lesson_texts(source: PackSource, lang: str) -> list[str]:
    out = []
    for course in source.manifest["courses"]:
        for lesson in course["lessons"]:
            path = lesson["files"].get(lang)
            if path is None:
                continue
            data = source.files[path]
            raw = data if isinstance(data, bytes) else Path(data).read_bytes()
            doc = json.loads(raw)
            out.append(doc["title"])
            out += [c["title"] + "\n" + c["markdown"] for c in doc["cards"]]
    return out


def _strings(node: Any, lang: str) -> Iterator[str]:
    """Every text of ``lang`` in a manifest fragment."""
    if isinstance(node, dict):
        if lang in node and isinstance(node[lang], str):
            yield node[lang]
        for value in node.values():
            yield from _strings(value, lang)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, lang)


#: languages that write every noun with a capital letter
CAPITALISED_NOUNS = frozenset({"de"})


class Names:
    """Proper names of one language of a pack (see the module docstring).

    ``only``: when given, a word is a name only if it is one of these lower-case names (the
    default language's names, for a language that capitalises every noun), possibly with
    a genitive -s or apostrophe."""

    def __init__(self, corpus: list[str], only: set[str] | None = None) -> None:
        self.only = only
        self.lower = {w.lower() for text in corpus for w in _WORD.findall(text)
                      if w[0].islower()}
        #: first letters of every lower-case word: "Dalijatės" (a verb that starts a
        #: sentence) shares them with "dalijasi", a name such as "Vytautas" with none
        self.prefixes = {w[:PREFIX] for w in self.lower if len(w) >= PREFIX}
        #: stems of words written with a capital inside a sentence somewhere in the pack:
        #: "Equal" only ever starts a heading, "Laura" follows "Officer"
        self.inside = {stem(w) for text in corpus for w in _capitals_inside(text)}

    def is_name(self, w: str) -> bool:
        low = w.lower()
        acronym = w.isupper() or (w.endswith("s") and w[:-1].isupper())    # NGO, NGOs
        if len(w) < 2 or not w[0].isupper() or acronym or low in NOT_NAMES:
            return False
        if self.only is not None and not ({low, low.rstrip("'’"), low.removesuffix("s")}
                                          & self.only):
            return False
        return (low not in self.lower and stem(w) in self.inside
                and (len(low) < PREFIX or low[:PREFIX] not in self.prefixes))

    def of(self, text: str) -> set[str]:
        return {w for w in _WORD.findall(text) if self.is_name(w)}


#: letters a capitalised word must not share with any lower-case word to count as a name
PREFIX = 5
#: characters between a sentence end and the next word: spaces, quotes (opening and
#: closing), brackets, Markdown marks, list bullets and numbers
_OPENERS = " \t“”„\"«»‘’'()*_#>[]-–—0123456789"


def _capitals_inside(text: str) -> Iterator[str]:
    """Capitalised words that do not start a sentence, a line or a quotation."""
    for m in _WORD.finditer(text):
        w = m.group()
        if w[0].isupper():
            before = text[: m.start()].rstrip(_OPENERS)
            if before and before[-1] not in ".!?:;…\n":
                yield w


def stem(name: str) -> str:
    return name.lower()[:4]


def quiz_figures(source: PackSource) -> list[QuizFigures]:
    """The figures of every course quiz of ``source`` in every complete language."""
    m = source.manifest
    langs = [lang for lang in m["languages"] if lang not in m["partial_languages"]]
    out = []
    source_names: set[str] | None = None
    for lang in langs:
        lessons = _lesson_texts(source, lang)
        corpus = lessons + list(_strings(m["courses"], lang))
        only = None
        if lang in CAPITALISED_NOUNS:
            if source_names is None:
                source_names = _names_of_language(source, m["default_language"])
            only = source_names
        names = Names(corpus, only)
        lesson_names: dict[str, str] = {}
        for text in lessons:
            for name in names.of(text):
                lesson_names.setdefault(stem(name), name)
        for course in m["courses"]:
            out.append(_course_figures(course, lang, names, lesson_names))
    return out


def _names_of_language(source: PackSource, lang: str) -> set[str]:
    """The proper names (lower case) in the lessons and course texts of one language."""
    corpus = _lesson_texts(source, lang) + list(_strings(source.manifest["courses"], lang))
    names = Names(corpus)
    return {w.lower() for text in corpus for w in names.of(text)}


def _course_figures(course: dict[str, Any], lang: str, names: Names,
                    lesson_names: dict[str, str]) -> QuizFigures:
    quiz = course["quiz"]
    f = QuizFigures(course["id"], lang, questions=len(quiz["questions"]), draw=quiz["draw"])
    outcomes = [o["id"] for o in course.get("outcomes", [])]
    tested: Counter[str] = Counter()
    for q in quiz["questions"]:
        tags = {q.get("outcome")} | {p.get("outcome") for p in q.get("parts", [])}
        tested.update(t for t in tags if t)
        if q["type"] == "scenario":
            text = " ".join(_strings([q.get("case"), q.get("prompt"), q["parts"]], lang))
            for name in sorted(names.of(text)):
                if stem(name) in lesson_names:
                    f.reused_names.append(f"{q['id']}: {name!r} (lessons: "
                                          f"{lesson_names[stem(name)]!r})")
    f.thin_outcomes = [o for o in outcomes if tested[o] < MIN_QUESTIONS_PER_OUTCOME]
    for item, scenario in items(quiz):
        where = item["id"]
        if not (item.get("outcome") or (scenario or {}).get("outcome")):
            f.untagged.append(where)
        if not item.get("explanation", {}).get(lang):
            f.missing_feedback.append(f"{where}: explanation")
        for o in item["options"]:
            if not (o.get("feedback") or {}).get(lang):
                f.missing_feedback.append(f"{where}/{o['id']}: feedback")
        if item["type"] == "true_false":
            continue
        f.choice_items += 1
        texts = [o["text"][lang] for o in item["options"]]
        lengths = [len(t) for t in texts]
        longest = max(lengths)
        if any(o["correct"] and n == longest for o, n in zip(item["options"], lengths,
                                                              strict=True)):
            f.correct_longest += 1
        ratio = longest / max(1, min(lengths))
        f.worst_ratio = max(f.worst_ratio, ratio)
        if ratio > MAX_LENGTH_RATIO:
            f.ratios_over.append(f"{where}: {ratio:.2f}")
        normed = [_norm(t) for t in texts]
        for i in range(len(normed)):
            for j in range(i + 1, len(normed)):
                a, b = normed[i], normed[j]
                if a == b or difflib.SequenceMatcher(None, a, b).ratio() >= NEAR_DUPLICATE:
                    f.duplicates.append(f"{where}: {item['options'][i]['id']} ~ "
                                        f"{item['options'][j]['id']}")
        for o, t in zip(item["options"], texts, strict=True):
            if ALL_NONE.search(t):
                f.all_none.append(f"{where}/{o['id']}")
    return f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="pack source folders")
    args = parser.parse_args(argv)
    failed = False
    for src in args.sources:
        source = read_source(src)
        print(f"== {source.id} (version {source.version})")
        for fig in quiz_figures(source):
            print("  " + fig.summary())
            for problem in fig.problems():
                failed = True
                print("    " + problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
