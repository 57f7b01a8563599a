"""Anonymous per-course counts that raw events are folded into before erasure or
retention deletes them (db/erasure.py `course_summary`; docs/privacy.md).

A row is (pack, course, facility, year) → events, quiz attempts, quiz passes,
completions. It holds no learner id, no event id, no score and no time finer than a
year, so it cannot be traced back to a person once the events are gone; it keeps the
long-run statistics (how many completed a course in a facility in a year) that a
training service reports on.
"""

from __future__ import annotations

import json
from typing import Any

from sync_server.db.repository import Repository, SummaryRow


def fold(rows: list[tuple[str, str]]) -> list[SummaryRow]:
    """(facility id, event content JSON) → summary rows (one per key, counts added).
    An event that does not parse is counted under pack and course "" (never lost from
    the totals, never kept)."""
    acc: dict[tuple[str, str, str, str], list[int]] = {}
    for facility_id, content in rows:
        try:
            event: Any = json.loads(content)
        except ValueError:
            event = {}
        if not isinstance(event, dict):
            event = {}
        ref = event.get("ref") if isinstance(event.get("ref"), dict) else {}
        pack = str(event.get("pack") or "")[:64]
        course = str(ref.get("course") or "")[:64]
        year = str(event.get("at") or "")[:4]
        counts = acc.setdefault((pack, course, facility_id, year), [0, 0, 0, 0])
        counts[0] += 1
        kind = event.get("type")
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if kind == "quiz.submitted":
            counts[1] += 1
            counts[2] += 1 if data.get("passed") is True else 0
        elif kind == "course.completed":
            counts[3] += 1
    return [SummaryRow(p, c, f, y, *n) for (p, c, f, y), n in sorted(acc.items())]


def summaries(*, repo: Repository) -> list[SummaryRow]:
    return repo.course_summaries()
