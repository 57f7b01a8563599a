"""Dashboard cost on a realistic SQLite database, as ratios to reading the same rows raw.

    python benchmarks/admin_dashboard.py [--learners 600] [--events-per-learner 200]

Builds a temp server database (SQLite, the real repository) with facilities, learners and
a mix of learning events (mostly card.viewed, as on a real tablet), then times:
  baseline  – a raw `SELECT content FROM events WHERE type IN (…)` of the rows the
              dashboard folds (no parsing);
  first     – the whole dashboard (fold, rates, gap map, SVG) on a cold cache;
  reload    – the same again with no new events (cache hit);
  +1 %      – after 1 % more events arrived (cache topped up).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.events import content_of  # noqa: E402
from sync_server.admin.pages import dashboard_context  # noqa: E402
from sync_server.db import open_repository  # noqa: E402
from sync_server.db.repository import EventRow, Learner, PackVersion  # noqa: E402
from sync_server.services.queries import DASHBOARD_TYPES, Queries  # noqa: E402

MANIFEST = {"id": "bench", "version": 1, "audience_roles": ["prison_officer", "psychologist"],
            "courses": [{"id": f"c{i}", "title": {"en": f"Course {i}"}} for i in range(6)],
            "profiles": [{"id": "po", "title": {"en": "Officer"}, "scale": [{"level": 4}],
                          "duties": [{"id": d, "title": {"en": f"Duty {d}"}, "tasks": [
                              {"id": f"{d}{t}", "expected": {"prison_officer": 3, "psychologist": 2}}
                              for t in range(4)]} for d in "abcdef"]}]}


def make_events(learners: list[Learner], per_learner: int, rnd: random.Random, start: int) -> list[EventRow]:
    rows = []
    for n, learner in enumerate(learners):
        for i in range(per_learner):
            kind = rnd.random()
            course = f"c{rnd.randrange(6)}"
            if kind < 0.80:
                etype, ref, data = "card.viewed", {"course": course, "lesson": "l1", "card": str(i % 9)}, {}
            elif kind < 0.90:
                etype, ref = "quiz.submitted", {"course": course, "attempt": f"a{i}"}
                score = rnd.randrange(101)
                data = {"score": score, "passed": score >= 70}
            elif kind < 0.93:
                etype, ref, data = "course.completed", {"course": course}, {}
            else:
                duty = rnd.choice("abcdef")
                etype = "selfassessment.rated"
                ref = {"profile": "po", "assessment": "s1", "task": f"{duty}{rnd.randrange(4)}"}
                data = {"level": rnd.randrange(5)}
            seq = start + n * per_learner + i + 1
            at = f"2026-0{1 + seq % 9}-1{seq % 10}T10:{seq % 60:02d}:00.000Z"
            event = {"id": str(uuid.uuid4()), "learner": learner.id, "device": "dev", "seq": seq,
                     "at": at, "type": etype, "pack": "bench", "pack_version": 1, "ref": ref,
                     "data": data}
            rows.append(EventRow(event["id"], learner.id, "dev", learner.facility_id, etype, at,
                                 content_of(event).decode(), at, "dev"))
    return rows


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=600)
    parser.add_argument("--events-per-learner", type=int, default=200)
    args = parser.parse_args()
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        repo = open_repository(f"sqlite:///{tmp}/bench.sqlite3", pool_size=2)
        now = "2026-11-23T10:00:00.000Z"
        for f in range(6):
            repo.create_facility(f"f{f}", f"Facility {f}", now)
        learners = [Learner(str(uuid.uuid4()), f"S{i}", f"f{i % 6}",
                            "prison_officer" if i % 3 else "psychologist", "en", f"L{i}", None, now)
                    for i in range(args.learners)]
        for learner in learners:
            repo.save_profile(learner)
        manifest = json.dumps(MANIFEST).encode()
        repo.add_pack_version(PackVersion("bench", 1, manifest, b"{}", '{"en": "Bench"}', 0, now, "b"))
        repo.publish("bench", 1, [], [], "b", now)
        rows = make_events(learners, args.events_per_learner, rnd, 0)
        for i in range(0, len(rows), 5000):
            repo.insert_events(rows[i:i + 5000])
        queries = Queries(repo)
        baseline = timed(lambda: repo.scan_events(0, 10**9, DASHBOARD_TYPES))
        first = timed(lambda: dashboard_context(repo, queries, "", ""))
        reload = timed(lambda: dashboard_context(repo, queries, "", ""))
        more = make_events(learners[: max(1, args.learners // 100)], args.events_per_learner, rnd,
                           len(rows))
        repo.insert_events(more)
        topped = timed(lambda: dashboard_context(repo, queries, "", ""))
        n_dash = len(queries.cached_events())
        repo.close()
    print(f"{len(rows) + len(more):,} events stored, {n_dash:,} folded by the dashboard, "
          f"{args.learners} learners")
    print(f"{'baseline raw SELECT':22} {baseline * 1000:9.1f} ms      1.0×")
    for name, t in (("first render", first), ("reload (cached)", reload), ("+1 % events", topped)):
        print(f"{name:22} {t * 1000:9.1f} ms {t / baseline:6.1f}×")


if __name__ == "__main__":
    main()
