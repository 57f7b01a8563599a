"""Learning fold benchmark: a learner with 20,000 events.

Baselines measured in the same run: loading those events from the device Store
(`Store.events(learner)`, real TinyDB files in a temp folder) and from a JSON file.
Figures: the cold fold (LearningEngine built from the events), the library + a course
outline on the folded state, and one "tap" (a new event applied, then library + outline
rebuilt). Target (issue 4): library + outline ≤ 50 ms.

    python benchmarks/learning_fold.py [--events N]

`rows(quick)` gives the two figures with a target to `make bench` (benchmarks/table.py).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.events import format_at  # noqa: E402
from app.core.learning import LearningEngine  # noqa: E402

PACK, LEARNER, ROLE = "bench-pack", "learner-bench", "prison_officer"
COURSES, LESSONS, CARDS, QUESTIONS = 12, 6, 8, 10
TARGET_MS = 50.0


def manifest() -> dict[str, Any]:
    def t(s: str) -> dict[str, str]:
        return {"en": s, "lt": s + " (lt)"}
    courses = []
    for c in range(COURSES):
        cid = f"c{c:02d}"
        courses.append({
            "id": cid, "title": t(f"Course {c}"), "summary": t("…"), "roles": [ROLE],
            "skills": [f"s{c}"], "minutes": 30, "pass_mark": 70,
            "lessons": [{"id": f"l{i}", "title": t(f"Lesson {i}"), "cards": CARDS,
                         "files": {"en": f"lessons/{cid}/l{i}.en.json"}}
                        for i in range(LESSONS)],
            "quiz": {"max_attempts": 0, "draw": 0, "shuffle_questions": True,
                     "shuffle_options": True,
                     "questions": [{"id": f"q{q}", "type": "single", "prompt": t("?"),
                                    "explanation": t("!"),
                                    "options": [{"id": o, "correct": o == "a", "text": t(o),
                                                 "feedback": t(o)} for o in "abcd"]}
                                   for q in range(QUESTIONS)]}})
    return {"format": 1, "id": PACK, "version": 1, "default_language": "en",
            "languages": ["en", "lt"], "audience_roles": [ROLE], "title": t("Bench"),
            "skills": {f"s{c}": {"uri": "", "label": t(f"skill {c}")} for c in range(COURSES)},
            "courses": courses, "profiles": [], "files": []}


def events(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """A plausible history: lessons re-read, many quiz attempts, daily reviews."""
    rng = random.Random(seed)
    at = datetime(2025, 1, 1, 8, tzinfo=UTC)
    out: list[dict[str, Any]] = []

    def add(etype: str, course: str, ref: dict[str, str], data: dict[str, Any]) -> None:
        nonlocal at
        at += timedelta(seconds=rng.randint(5, 600))
        out.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "learner": LEARNER, "device": rng.choice(["tab-a", "tab-b"]),
                    "seq": len(out) + 1, "at": format_at(at), "type": etype, "pack": PACK,
                    "pack_version": 1, "ref": {"course": course, **ref}, "data": data})

    while len(out) < n:
        course = f"c{rng.randrange(COURSES):02d}"
        kind = rng.random()
        if kind < 0.55:
            lesson = f"l{rng.randrange(LESSONS)}"
            add("lesson.opened", course, {"lesson": lesson}, {"lang": "en"})
            for card in range(CARDS):
                add("card.viewed", course, {"lesson": lesson, "card": str(card)},
                    {"seconds": rng.randint(3, 90), "lang": "en"})
        elif kind < 0.9:
            attempt = str(uuid.uuid4())
            order = [f"q{q}" for q in range(QUESTIONS)]
            rng.shuffle(order)
            add("quiz.started", course, {"attempt": attempt},
                {"seed": rng.getrandbits(40), "questions": order, "lang": "en"})
            total = 0.0
            for q in order:
                score = 1.0 if rng.random() < 0.75 else 0.0
                total += score
                add("answer.given", course, {"attempt": attempt, "question": q},
                    {"choice": ["a" if score else "b"], "score": score,
                     "correct": bool(score), "type": "single"})
            pct = round(100 * total / QUESTIONS, 2)
            add("quiz.submitted", course, {"attempt": attempt},
                {"score": pct, "passed": pct >= 70, "pass_mark": 70, "answered": QUESTIONS,
                 "total": QUESTIONS})
        else:
            q = f"q{rng.randrange(QUESTIONS)}"
            score = 1.0 if rng.random() < 0.6 else 0.0
            add("review.answered", course, {"question": q},
                {"choice": ["a" if score else "c"], "score": score, "correct": bool(score),
                 "type": "single"})
    return out[:n]


def times_ms(fn: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def best_ms(fn: Any, repeat: int) -> float:
    return min(times_ms(fn, repeat))


def median_ms(fn: Any, repeat: int) -> float:
    return statistics.median(times_ms(fn, repeat))


Row = tuple[str, str, str, float, str, bool]


def measure(n_events: int, repeat: int) -> dict[str, float]:
    """The figures in milliseconds (`store_load` is the baseline)."""
    man = manifest()
    history = events(n_events)
    today = datetime.fromisoformat(history[-1]["at"].replace("Z", "+00:00")).date()

    def lesson(pack: str, path: str) -> dict[str, Any]:
        return {"cards": [{"markdown": "x"}]}

    from app.core.store import Store
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "events.json"
        json_path.write_text(json.dumps(history))
        load_json = best_ms(lambda: json.loads(json_path.read_text()), repeat)
        store = Store.open(tmp)
        store.merge(history)
        store_load = best_ms(lambda: store.events(LEARNER), repeat)
        loaded = store.events(LEARNER)
        store.close()
        assert len(loaded) == n_events

        def build() -> LearningEngine:
            return LearningEngine([man], learner=LEARNER, role=ROLE, language="lt",
                                  load_lesson=lesson, events=loaded)

        fold = best_ms(build, repeat)
        engines = [build() for _ in range(repeat)]
        views = []
        for engine in engines:
            t0 = time.perf_counter()
            engine.library(today=today)
            engine.outline(PACK, "c03")
            views.append((time.perf_counter() - t0) * 1000)
        engine = engines[0]
        it = iter(events(repeat * 20, seed=99))

        def tap() -> None:
            engine.apply(next(it))
            engine.library(today=today)
            engine.outline(PACK, "c03")

        tap_ms = median_ms(tap, repeat * 20)
        cached = median_ms(lambda: (engine.library(today=today),
                                    engine.outline(PACK, "c03")), 50)
    return {"store_load": store_load, "load_json": load_json, "fold": fold,
            "first_views": min(views), "tap": tap_ms, "cached": cached}


def rows(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """The table rows (benchmarks/table.py): the two figures with a target (issue 4)."""
    n = 5_000 if quick else 20_000
    log(f"learning fold: {n:,} events …")
    got = measure(n, 3 if quick else 5)
    base = got["store_load"]
    out: list[Row] = []
    for key, name in (("first_views", f"library + outline, first build, {n:,} events"),
                      ("tap", f"tap: 1 event applied + library + outline, {n:,} events")):
        out.append((name, f"{got[key]:.2f} ms", f"{base:.1f} ms Store.events()",
                    got[key] / base, f"≤ {TARGET_MS:.0f} ms", got[key] <= TARGET_MS))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    got = measure(args.events, args.repeat)
    base, load_json, fold = got["store_load"], got["load_json"], got["fold"]
    first_views, tap_ms, cached = got["first_views"], got["tap"], got["cached"]
    print(f"learning fold, {args.events} events of one learner "
          f"({COURSES} courses × {LESSONS} lessons × {CARDS} cards, {QUESTIONS}-question quizzes)")
    print(f"  baseline  load events (Store.events()) {base:9.1f} ms   = 1.00")
    print(f"            load events (json.loads)     {load_json:9.1f} ms   = "
          f"{load_json / base:.3g} × baseline")
    print(f"  cold fold (engine from events)         {fold:9.1f} ms   = {fold / base:.3g} × baseline")
    print(f"  library + outline, first build         {first_views:9.2f} ms   = "
          f"{first_views / base:.3g} × baseline")
    print(f"  tap: apply 1 event + library + outline {tap_ms:9.3f} ms   = "
          f"{tap_ms / base:.3g} × baseline")
    print(f"  library + outline, cached              {cached:9.4f} ms   = "
          f"{cached / base:.3g} × baseline")
    ok = first_views <= TARGET_MS and tap_ms <= TARGET_MS
    print(f"  target library + outline ≤ {TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
