"""Exports: progress as CSV, events as xAPI statements (JSON lines), push to an LRS.

xAPI statements come from ``app.core.learning.xapi.statement(event, *, home_page)``; the
statement id is the event id, so pushing the same events again is idempotent at the LRS
(xAPI 1.0.3: an LRS never changes a stored statement; a repeat gets 204 or 409).

One bad event never stops an export: the mapping validates every statement (xAPI 1.0.3)
and an event it refuses is reported (logged, and counted with its reason on the console)
and skipped; a batch the LRS still refuses as invalid (400) is re-sent one statement at a
time, so only the statement the LRS refuses is left out and the push goes on.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sync_server.db.repository import ReportRow
from sync_server.services.learners_csv import csv_safe
from sync_server.services.stats import CourseInfo, CourseProgress, LearnerLike

PROGRESS_COLUMNS = ("staff_number", "name", "facility", "role", "pack", "course", "course_title",
                    "cards_viewed", "quiz_attempts", "best_score", "passed", "completed_at",
                    "certificate", "status", "last_activity", "active")
#: the `status` column, by how far the learner got (a "not started" row is a course
#: published to an active learner who has no progress in it: services/progress_report.py)
NOT_STARTED, IN_PROGRESS, PASSED, COMPLETED = "not started", "in progress", "passed", "completed"
LRS_BATCH = 50
XAPI_VERSION = "1.0.3"
log = logging.getLogger("sync_server.exports")


def progress_csv(learners: Sequence[LearnerLike], courses: Sequence[CourseInfo],
                 progress: dict[tuple[str, str, str], CourseProgress],
                 certificates: dict[tuple[str, str, str], str]) -> str:
    """One row per learner × course the learner has any progress in (UTF-8, with BOM so
    spreadsheet programs open diacritics right; cells safe from formula injection), from
    a fold of events (the server streams the same file from its aggregates, with the
    "not started" rows too: services/progress_report.py)."""
    by_id = {learner.id: learner for learner in learners}
    rows = []
    for (learner_id, pack_id, course_id), p in sorted(
            progress.items(), key=lambda kv: (getattr(by_id.get(kv[0][0]), "staff_number", ""),
                                              kv[0][1], kv[0][2])):
        learner = by_id.get(learner_id)
        if learner is None:
            continue
        rows.append(ReportRow(
            learner.staff_number, learner.display_name, learner.facility_id, learner.role,
            pack_id, course_id, p.cards_viewed, p.attempts,
            None if p.best_score is None else str(p.best_score), int(p.passed), p.completed_at,
            certificates.get((learner_id, pack_id, course_id)), learner_id, None, None))
    return "".join(progress_csv_lines(rows, courses))


def status_of(row: ReportRow) -> str:
    """How far the learner got in the course of `row` (the `status` column)."""
    return _status(row.pack_id, row.cards_viewed, row.attempts, row.passed, row.completed_at)


def _status(pack: str | None, cards: int | None, attempts: int | None, passed: int | None,
            done: str | None) -> str:
    if done:
        return COMPLETED
    if passed:
        return PASSED
    return IN_PROGRESS if pack is not None and (cards or attempts) else NOT_STARTED


#: (facility, role) → the courses published to it, (pack, course) in order
Published = Callable[[str, str], Sequence[tuple[str, str]]]


def progress_csv_lines(rows: Iterable[ReportRow], courses: Sequence[CourseInfo],
                       batch: int = 1000, published: Published | None = None
                       ) -> Iterator[str]:
    """The progress CSV as text pieces (BOM and header first, then about `batch` rows per
    piece), so a report of any size streams in constant memory.

    Rows come ordered by learner, so the learner's cells (made formula-safe and quoted
    by the csv module) are written once per learner; counts, the score, times, ids and
    the status are numbers or fixed forms that need neither (a score is 0–100, as
    validated). With `published`, each *active* learner's rows are followed by a "not
    started" row (no counts, no dates) for every course published to their facility and
    role that they have no row for; a row without a course (`pack_id` None: a learner
    with no progress at all) only brings its learner in. The merge is done here, in the
    one loop over the rows, because it is the report's hot path (benchmarks/
    admin_dashboard.py)."""
    titles = {(c.pack_id, c.course_id): c.title for c in courses}
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PROGRESS_COLUMNS)
    cells = io.StringIO()
    quote = csv.writer(cells, lineterminator="\r\n")   # quotes cells with CR / LF too
    course_cells: dict[tuple[str, str], str] = {}

    def safe_line(values: Iterable[object]) -> str:
        cells.seek(0)
        cells.truncate()
        quote.writerow([csv_safe(v) for v in values])
        return cells.getvalue()[:-2]

    def course_cell(key: tuple[str, str]) -> str:
        cell = course_cells.get(key)
        if cell is None:
            cell = course_cells[key] = safe_line((*key, titles.get(key, key[1])))
        return cell

    def not_started(head: str, expected: Sequence[tuple[str, str]],
                    have: set[tuple[str, str]]) -> list[str]:
        return [f"{head},{course_cell(key)},0,0,,no,,,{NOT_STARTED},,yes\r\n"
                for key in expected if key not in have]

    learner: str | None = None
    head, active = "", "yes"
    expected: Sequence[tuple[str, str]] = ()
    have: set[tuple[str, str]] = set()
    piece: list[str] = [out.getvalue()]
    for (staff, name, facility, role, pack, course_id, cards, attempts, best, passed, done,
         cert, learner_id, last, gone) in rows:
        if learner_id != learner:
            if expected:
                piece.extend(not_started(head, expected, have))
            if len(piece) >= batch:
                yield "".join(piece)
                piece = []
            learner = learner_id
            head = safe_line((staff, name, facility, role))
            active = "no" if gone else "yes"
            expected = published(facility, role) if published is not None and not gone else ()
            have = set()
        if pack is None:
            continue
        key = (pack, course_id or "")
        if expected:
            have.add(key)
        status = (COMPLETED if done else PASSED if passed else IN_PROGRESS
                  if cards or attempts else NOT_STARTED)     # _status, inlined (hot loop)
        cell = course_cells.get(key) or course_cell(key)
        piece.append(f"{head},{cell},{cards or 0},{attempts or 0},{best or ''},"
                     f"{'yes' if passed else 'no'},{done or ''},{cert or ''},{status},"
                     f"{last or ''},{active}\r\n")
    if expected:
        piece.extend(not_started(head, expected, have))
    yield "".join(piece)


def statement_function() -> Callable[..., dict[str, Any]]:
    """The xAPI mapping of the learning engine (imported late: it is another module's)."""
    from app.core.learning.xapi import statement
    return statement


def xapi_lines(events: Iterable[dict[str, Any]], home_page: str) -> Iterator[str]:
    """One JSON statement per line; an event the mapping refuses is skipped and logged
    with its reason."""
    statements, skipped = xapi_statements(events, home_page)
    for reason in skipped:
        log.warning("xAPI export: event skipped: %s", reason)
    for statement in statements:
        yield json.dumps(statement, ensure_ascii=False, separators=(",", ":")) + "\n"


def xapi_statements(events: Iterable[dict[str, Any]], home_page: str
                    ) -> tuple[list[dict[str, Any]], list[str]]:
    """(statements, ids of events that could not be mapped, with the reason)."""
    statement = statement_function()
    out, skipped = [], []
    for event in events:
        try:
            out.append(statement(event, home_page=home_page))
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop an export
            skipped.append(f"{event.get('id')}: {exc}")
    return out, skipped


@dataclass
class LrsResult:
    sent: int = 0
    already: int = 0           # the LRS had them: 204 / 409, or left out of a 200's ids
    #: statements the LRS refused as invalid (400), each with the LRS's answer; skipped
    rejected: list[str] = field(default_factory=list)
    #: what stopped the push (network, authentication, a server error)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def push_to_lrs(statements: Sequence[dict[str, Any]], endpoint: str, *, username: str,
                password: str, timeout: float = 20.0,
                client: httpx.Client | None = None) -> LrsResult:
    """POST statements to ``{endpoint}/statements`` in batches with basic auth.

    A 409 for a batch means some statement ids are already stored, a 400 that some
    statement is refused: the batch is then re-sent one statement at a time, so the
    others still arrive (repeats count as ``already``; a refused one goes to
    ``rejected`` with the LRS's reason, and the push goes on). Stops at the first
    network, authentication or server failure.
    """
    url = endpoint.rstrip("/") + "/statements"
    result = LrsResult()
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    headers = {"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"}
    auth = httpx.BasicAuth(username, password)

    def post(batch: Sequence[dict[str, Any]]) -> httpx.Response:
        return http.post(url, content=json.dumps(list(batch), ensure_ascii=False).encode(),
                         headers=headers, auth=auth)

    try:
        for start in range(0, len(statements), LRS_BATCH):
            batch = statements[start:start + LRS_BATCH]
            answer = post(batch)
            status = answer.status_code
            if status == 200:
                stored = _stored_ids(answer, batch)
                result.sent += stored
                result.already += len(batch) - stored
                continue
            if status not in (204, 400, 409):
                result.failed.append(f"statements {start + 1}–{start + len(batch)}: "
                                     f"LRS answered HTTP {status}: {_detail(answer)}")
                return result
            for one in batch:   # 204 (nothing new said), 400 or 409: one at a time
                single = post([one])
                if single.status_code == 200:
                    stored = _stored_ids(single, [one])
                    result.sent += stored
                    result.already += 1 - stored
                elif single.status_code in (204, 409):
                    result.already += 1
                elif single.status_code == 400:
                    reason = f"statement {one.get('id')}: LRS refused it: {_detail(single)}"
                    log.warning("LRS push: %s", reason)
                    result.rejected.append(reason)
                else:
                    result.failed.append(f"statement {one.get('id')}: LRS answered HTTP "
                                         f"{single.status_code}: {_detail(single)}")
                    return result
    except httpx.HTTPError as exc:
        result.failed.append(f"LRS unreachable: {type(exc).__name__}: {exc}")
    finally:
        if own:
            http.close()
    return result


def _stored_ids(response: httpx.Response, batch: Sequence[dict[str, Any]]) -> int:
    """How many statements of `batch` a 200 answer says were stored: xAPI answers POST
    with the list of stored ids; an LRS that answers otherwise is taken at its word (all)."""
    try:
        ids = response.json()
    except ValueError:
        return len(batch)
    if not isinstance(ids, list):
        return len(batch)
    sent = {str(one.get("id")) for one in batch}
    return min(len(batch), len(sent & {str(i) for i in ids if isinstance(i, str)}))


#: how much of an LRS's error answer the console shows (the log has the same text)
DETAIL_CHARS = 300


def _detail(response: httpx.Response) -> str:
    """The LRS's own reason, short and printable: from a JSON answer its ``message`` /
    ``error`` member, else the text (the page escapes it)."""
    text = response.text
    try:
        body = response.json()
        if isinstance(body, dict):
            found = next((body[k] for k in ("message", "error", "detail", "reason")
                          if isinstance(body.get(k), str)), None)
            text = found if found is not None else text
    except ValueError:
        pass
    text = " ".join(text.split())
    text = "".join(c for c in text if c.isprintable())
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS - 1] + "…"
    return text or f"HTTP {response.status_code} (no reason given)"
