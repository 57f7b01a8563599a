"""The event log: every learner event a device pushed (and the certificate deliveries
the server makes), append-only, each with a server-side `seq`.

`seq` is the pull cursor. A pull must never skip a row that commits later with a smaller
seq, so event writers are serialised (LOCK_EVENTS: SQLite's single write lock, or a
PostgreSQL advisory lock); then seq order is commit order across every server process.

The report aggregates (aggregates.py) follow in the same transaction: the rows one
insert newly stored are added to them before it commits, so a report never sees an
event without its aggregate or the other way round.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from sync_server.db.aggregate_fold import AGGREGATE_TYPES, parsed
from sync_server.db.aggregates import apply_events
from sync_server.db.base import SqlBase, in_lists
from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS, LOCK_USAGE, take_later
from sync_server.db.usage import UsageCharge, UsageRefused, charge_on

InsertStatus = Literal["stored", "duplicate", "conflict", "erased", "other_facility"]
_STORED = "seq, content, received_at"


class EventRow(NamedTuple):
    """One event to insert (a named tuple: the push builds 500 at a time, and a frozen
    dataclass's __init__ cost as much as checking the event)."""
    id: str
    learner_id: str
    device_id: str
    facility_id: str
    type: str
    at: str
    content: str          # canonical JSON (app.core.events.content_of), no server stamps
    received_at: str
    received_from: str    # the device that pushed it
    #: the parsed event when the caller has it (the push does): spares the aggregates
    #: parsing `content` again
    event: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    content: str
    received_at: str


@dataclass
class EventCounts:
    total: int = 0
    by_facility: dict[str, int] = field(default_factory=dict)


class EventStore(Protocol):
    def insert_events(self, rows: list[EventRow], *,
                      charge: UsageCharge | None = None) -> dict[str, InsertStatus]:
        """Store new events; an id already present is `duplicate` when its content is
        byte-identical, else `conflict` (the stored copy is never overwritten); an event
        of an erased learner is not stored (`erased`, db/erasure.py), nor one whose
        registered learner is no longer in the row's facility (`other_facility`: moved
        since the caller looked — its tablets there would never pull it). `charge`: the
        push's quota charge, made first in the same transaction (UsageRefused when the
        quota is used up: nothing is stored or charged)."""
        ...

    def events_after(self, facility_id: str, after_seq: int, limit: int) -> list[StoredEvent]:
        """A facility's events after the cursor, in seq order (the pull)."""
        ...

    def count_events(self) -> EventCounts: ...
    def all_event_ids(self) -> list[str]: ...

    def scan_events(self, after_seq: int, limit: int,
                    types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        """Events of every facility after `after_seq` in seq order (only `types` if given)."""
        ...

    def learner_events(self, learner_id: str,
                       types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        """Every stored event of one learner (any facility), in seq order."""
        ...


def _aggregate(cur: Any, dialect: str, stored: list[EventRow]) -> None:
    """Add the rows this insert stored to the report aggregates (same transaction)."""
    if not stored:
        return
    totals = Counter(r.facility_id for r in stored)
    apply_events(cur, dialect, totals, (
        r.event if r.event is not None else parsed(r.content)
        for r in stored if r.type in AGGREGATE_TYPES))


#: the columns an insert writes (`seq` is the database's), in EventRow's order
EVENT_COLUMNS = ("id, learner_id, device_id, facility_id, type, at, content, received_at, "
                 "received_from")


@functools.lru_cache(maxsize=16)
def insert_sql(rows: int) -> str:
    """`INSERT … ON CONFLICT (id) DO NOTHING` of `rows` event rows (`?` placeholders)."""
    values = ",".join(["(?,?,?,?,?,?,?,?,?)"] * rows)
    return f"INSERT INTO events ({EVENT_COLUMNS}) VALUES {values} ON CONFLICT (id) DO NOTHING"


def _stored(rows: list[tuple[Any, ...]]) -> list[StoredEvent]:
    return [StoredEvent(int(s), c, r) for s, c, r in rows]


class EventSql(SqlBase):
    def insert_events(self, rows: list[EventRow], *,
                      charge: UsageCharge | None = None) -> dict[str, InsertStatus]:
        # Optimistic: insert everything with ON CONFLICT DO NOTHING and look rows up only
        # when fewer rows were inserted than sent. Writers are serialised (module
        # docstring), so rows with a seq above the pre-insert maximum are this call's.
        status: dict[str, InsertStatus] = {}
        unique: dict[str, EventRow] = {}
        for row in rows:            # a repeated id inside one call keeps its first copy
            unique.setdefault(row.id, row)
        if not unique and charge is None:
            return status
        locks = (LOCK_EVENTS,) if charge is None else (LOCK_EVENTS, LOCK_USAGE)
        # every column but `event`, sent before the locks where the database can take them
        offered = [r[:9] for r in unique.values()]
        with self._write(*locks, prepare=lambda cur: self._stage_event_rows(cur, offered)) as cur:
            if charge is not None:
                usage = charge_on(cur, self.dialect, charge)
                if usage.refused is not None:
                    raise UsageRefused(usage)      # rolls the transaction back
            erased, facility = self._learners_now(
                cur, sorted({r.learner_id for r in unique.values()}))
            for eid, r in list(unique.items()):
                if r.learner_id in erased:
                    status[eid] = "erased"
                elif facility.get(r.learner_id, r.facility_id) != r.facility_id:
                    status[eid] = "other_facility"      # moved since the caller looked
                else:
                    continue
                del unique[eid]
            fresh = list(unique.values())
            if not fresh:
                return status
            cur.execute(self._sql("SELECT COALESCE(MAX(seq), 0) FROM events"))
            top = int(cur.fetchone()[0])
            rows9 = offered if len(fresh) == len(offered) else [r[:9] for r in fresh]
            if self._insert_event_rows(cur, rows9, offered) == len(fresh):
                status.update({r.id: "stored" for r in fresh})
            else:
                found = self._stored_rows(cur, sorted(unique))
                for eid, row in unique.items():
                    seq, content = found[eid]
                    if seq > top:
                        status[eid] = "stored"
                    else:
                        status[eid] = "duplicate" if content == row.content else "conflict"
            # the aggregates' triggers move per-group totals, which every learner writer
            # moves too (db/group_totals.py): taken this late, the learners' lock is held
            # only for the aggregates and the commit, not the event inserts
            take_later(cur, self.dialect, LOCK_LEARNERS)
            _aggregate(cur, self.dialect, [r for r in fresh if status[r.id] == "stored"])
        return status

    def _learners_now(self, cur: Any, learner_ids: list[str]
                      ) -> tuple[set[str], dict[str, str]]:
        """Which of the learners are erased, and the facility of those registered, read
        under the events' lock — which an erasure and a move hold too, so neither can
        change between this read and the insert (one query: under the lock, on
        PostgreSQL, every round trip is time the other pushes wait)."""
        erased: set[str] = set()
        facility: dict[str, str] = {}
        for part, marks in in_lists(learner_ids):
            cur.execute(self._sql(
                f"SELECT learner_id, NULL FROM erasures WHERE learner_id IN ({marks}) "
                f"UNION ALL SELECT id, facility_id FROM learners WHERE id IN ({marks})"),
                (*part, *part))
            for learner_id, fac in cur.fetchall():
                if fac is None:
                    erased.add(learner_id)
                else:
                    facility[learner_id] = fac
        return erased, facility

    def _stored_rows(self, cur: Any, ids: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for part, marks in in_lists(ids):
            cur.execute(self._sql(f"SELECT id, seq, content FROM events WHERE id IN ({marks})"),
                        part)
            found.update((eid, (int(seq), content)) for eid, seq, content in cur.fetchall())
        return found

    def events_after(self, facility_id: str, after_seq: int, limit: int) -> list[StoredEvent]:
        return _stored(self._all(f"SELECT {_STORED} FROM events WHERE facility_id = ? "
                                 "AND seq > ? ORDER BY seq LIMIT ?",
                                 (facility_id, after_seq, limit)))

    def count_events(self) -> EventCounts:
        # kept at ingest (aggregates.py): counting 10M rows takes seconds
        counts = EventCounts()
        for fac, n in self._all("SELECT facility_id, events FROM event_totals "
                                "WHERE events > 0 ORDER BY facility_id"):
            counts.by_facility[fac] = int(n)
            counts.total += int(n)
        return counts

    def all_event_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT id FROM events ORDER BY seq")]

    def scan_events(self, after_seq: int, limit: int,
                    types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        return self._select("seq > ?", [after_seq], types, limit)

    def learner_events(self, learner_id: str,
                       types: tuple[str, ...] | None = None) -> list[StoredEvent]:
        return self._select("learner_id = ?", [learner_id], types)

    def _select(self, where: str, params: list[Any], types: tuple[str, ...] | None,
                limit: int | None = None) -> list[StoredEvent]:
        """Events matching `where` (and of `types`, if given) in seq order."""
        if types is not None:
            if not types:
                return []
            where += f" AND type IN ({','.join('?' * len(types))})"
            params = [*params, *types]
        sql = f"SELECT {_STORED} FROM events WHERE {where} ORDER BY seq"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return _stored(self._all(sql, tuple(params)))
