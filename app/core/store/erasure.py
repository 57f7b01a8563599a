"""Purge an erased learner from this tablet (docs/sync-protocol.md §4.7, docs/privacy.md).

The server erases a learner and sends a *tombstone* (their id) in the pull; this module
removes everything of theirs from the data folder:

* the learner's segments (``learners/<key>/``) — their folded history;
* their events in the journal files: every journal file that holds one is rewritten
  without it (atomic replace), so the journal keeps nothing of theirs and the outbox
  (which *is* the journal) no longer offers their events — nothing is re-uploaded;
* their outbox entries, rejected events, conflict rows and quarantined items;
* their profile (the tile is gone) and any retired record / re-attribution plan naming
  them; their fold snapshots (in their segment folder); the in-memory history cache; the
  id index and the journal index (both rebuilt from the files on first use).

First of all the id is written to ``erased.json``: from then on `Store.append` and
`Store.merge` refuse / ignore events of that learner, so a session still open for them
or a late page cannot bring anything back. A row stays ``done: false`` until the purge
finished; `purge` always finishes unfinished rows too, so a crash half-way is completed
by the next call (the sync client calls it at every pull that brings tombstones and
after every push). Ids that are not canonical UUIDs are ignored (a hostile server cannot
make the tablet touch anything else).

This module reaches into the store's parts on purpose (one small job, kept apart from
store.py); it runs under the store's lock.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.clock import now_iso
from app.core.errors import ProfileFieldError
from app.core.profile_rules import learner_id as canonical_learner_id
from app.core.store import reattribute
from app.core.store.atomic import atomic_write_bytes, fsync_dir
from app.core.store.erased_file import read_rows as _rows
from app.core.store.erased_file import write_rows as _write_rows
from app.core.store.journal import HEADER
from app.core.store.records import encode_record
from app.core.store.sealed import CORRUPT, DAMAGED
from app.core.store.segments import learner_key

if TYPE_CHECKING:
    from app.core.store.store import Store

#: the reason a server gives when it refuses an erased learner's event or profile
REFUSED = "erased"
#: the per-learner display preferences (app/core/application: text size, contrast)
LEARNER_DISPLAY = "learner_display"


@dataclass
class PurgeReport:
    learners: list[str]           # learners purged by this call (new or unfinished)
    events: int = 0               # events removed (segments + journal)
    outbox: int = 0               # of them, waiting for the server


def _canonical(ids: Iterable[object]) -> list[str]:
    out = []
    for value in ids:
        try:
            out.append(canonical_learner_id(value))
        except ProfileFieldError:
            continue
    return list(dict.fromkeys(out))


def purge(store: Store, learner_ids: Iterable[object]) -> PurgeReport:
    """Record `learner_ids` as erased and remove everything of theirs (module docstring);
    also finishes any purge a crash interrupted. Idempotent."""
    wanted = _canonical(learner_ids)
    with store._lock:
        store._check_open()
        root = store.root
        rows = _rows(root)
        known = {r["learner"] for r in rows.values()}
        fresh = [i for i in wanted if i not in known]
        if fresh:
            next_key = max((int(k) for k in rows if k.isdigit()), default=0)
            for offset, lid in enumerate(fresh, start=1):
                rows[str(next_key + offset)] = {"learner": lid, "at": now_iso(), "done": False}
            _write_rows(root, rows)                     # durable before anything goes
        store._erased = frozenset(r["learner"] for r in rows.values())
        todo = [r["learner"] for r in rows.values() if not r.get("done")]
        report = PurgeReport(todo)
        if not todo:
            back = _profiles_of(store, store._erased)
            if back:                 # pulled again from a server restored from a backup
                _purge_profiles(store, back)
            return report
        # the offline profiles re-attributed to them (reattribute.py) are theirs too:
        # their events, still on this tablet under the old id, and its rejected rows
        gone = set(todo) | _retired_into(store, set(todo))
        report.events, report.outbox = _purge_events(store, gone)
        _purge_logs(store, gone)
        _purge_profiles(store, gone)
        drop_damaged_copies(store)
        for row in rows.values():
            if row["learner"] in gone:
                row["done"] = True
        _write_rows(root, rows)
        return report


#: what the names of the copies of damaged files kept for inspection hold (sealed.py)
DAMAGED_COPIES = (DAMAGED, CORRUPT)


def drop_damaged_copies(store: Store) -> int:
    """Delete the copies of damaged files kept for inspection (returns how many). They
    may hold anyone's events or profile — an encrypted one cannot even be searched for
    the learner — so an erasure or a wipe cannot leave them behind."""
    gone = 0
    folders = set()
    for path in store.root.rglob("*"):
        if any(mark in path.name for mark in DAMAGED_COPIES) and path.is_file():
            path.unlink(missing_ok=True)
            folders.add(path.parent)
            gone += 1
    for folder in folders:
        fsync_dir(folder)
    return gone


def _retired_into(store: Store, learners: set[str]) -> set[str]:
    """Ids of retired profiles merged into one of `learners`."""
    tables = store.profiles._storage.read() or {}
    return {d["id"] for d in tables.get("retired", {}).values()
            if isinstance(d, dict) and isinstance(d.get("id"), str)
            and d.get("merged_into") in learners}


def _profiles_of(store: Store, learners: frozenset[str]) -> set[str]:
    """Which of `learners` have a profile or retired record here."""
    tables = store.profiles._storage.read() or {}
    return {d["id"] for table in ("profiles", "retired") for d in tables.get(table, {}).values()
            if isinstance(d, dict) and d.get("id") in learners}


def purge_refused(store: Store) -> PurgeReport:
    """Learners whose events the server refused as erased (a tablet that missed the
    tombstone, e.g. its cursor was saved by an older app version): purge them too."""
    refused = [r["event"].get("learner") for r in store.rejected()
               if str(r.get("reason", "")).startswith(REFUSED)]
    if not refused:
        with store._lock:
            return PurgeReport([])
    return purge(store, refused)


def _purge_events(store: Store, gone: set[str]) -> tuple[int, int]:
    """Segments and journal files without the learners; outbox and caches updated."""
    learners, journal, outbox = store._learners, store._journal, store._outbox
    # the outbox from the journal files themselves: a purge cut short (a crash, a disk
    # error) after rewriting files left an index — and an outbox built from it — that
    # still names the events it removed, and the files alone no longer say which
    journal.forget_index()
    outbox.loaded = False
    outbox.load(store._rejected.ids)
    # 1. everything into the segments and a fresh, empty journal file
    if journal.current is not None and journal.current.events:
        learners.fold_current(dedupe=False)
        store._start_journal()
    outbox.write_state(outbox.done)          # last_seq on disk: seqs are never reused
    # 2. rewrite every older journal file that holds one of their events
    removed_ids: set[str] = set()
    current = journal.current.number if journal.current is not None else None
    for number in journal.numbers():
        if number == current:
            continue
        jf = journal.read(number)
        keep = [e for e in jf.events if e.get("learner") not in gone]
        if len(keep) == len(jf.events):
            continue
        removed_ids.update(e["id"] for e in jf.events if e.get("learner") in gone)
        atomic_write_bytes(jf.path, HEADER + b"".join(encode_record(e) for e in keep))
        outbox.journal_ids[number] = {e["id"] for e in keep}
    if removed_ids:
        journal.forget_index()               # it listed the ids of the rewritten files
    in_outbox = [i for i in removed_ids if i in outbox.pending]
    for event_id in in_outbox:
        del outbox.pending[event_id]
    outbox.done -= removed_ids
    outbox.write_state(outbox.done)
    outbox.drop_finished_journals()          # files left empty go
    # 3. the segments
    count = 0
    for lid in gone:
        log_ = learners.logs.pop(lid, None)
        if log_ is not None:
            if not log_.broken:      # (a broken log's count would first recover it: the
                count += log_.count  # folder goes whole anyway)
            log_.close()
        folder = learners.folder / learner_key(lid)
        if folder.exists():
            shutil.rmtree(folder)
            fsync_dir(learners.folder)
        learners._history.discard(lid)
    # the id index (index/ids.bin + ids.log) names their event ids: start it afresh, it
    # is rebuilt from the segments on first use
    learners.ids.forget()
    return max(count, len(removed_ids)), len(in_outbox)


def _purge_logs(store: Store, gone: set[str]) -> None:
    """Rejected events, conflict rows, quarantined items of the learners."""
    rejected = store._rejected
    if rejected._db is not None:
        table = rejected._db.table("rejected")
        doomed = [d.doc_id for d in table.all()
                  if isinstance(d.get("event"), dict) and d["event"].get("learner") in gone]
        if doomed:
            table.remove(doc_ids=doomed)
            rejected.ids = {str(d["event"]["id"]) for d in table.all()}
    def conflict_of(row: dict[str, Any]) -> bool:
        return row.get("learner") in gone

    def quarantined_of(row: dict[str, Any]) -> bool:
        text = str(row.get("text", "")) + str(row.get("id", ""))
        return any(lid in text for lid in gone)

    _rewrite(store._conflicts, "conflicts", conflict_of)
    _rewrite(store._quarantine, "quarantine", quarantined_of)


def _rewrite(log_: Any, table: str, doomed: Callable[[dict[str, Any]], bool]) -> None:
    """A bounded log (conflicts.py, quarantine.py) without the rows `doomed` picks."""
    rows = log_._rows()
    keep = [r for r in rows if not doomed(r)]
    if len(keep) != len(rows):
        log_._storage.write({table: {str(i + 1): r for i, r in enumerate(keep)}})
        log_._seen = {(r["id"], r["digest"]) for r in keep}


def _purge_profiles(store: Store, gone: set[str]) -> None:
    """Profiles, retired records and re-attribution plans naming the learners."""
    profiles = store.profiles
    tables = profiles._storage.read() or {}
    live = {k: d for k, d in tables.get("profiles", {}).items() if d.get("id") not in gone}
    retired = {k: d for k, d in tables.get("retired", {}).items()
               if d.get("id") not in gone and d.get("merged_into") not in gone}
    if (len(live), len(retired)) != (len(tables.get("profiles", {})),
                                     len(tables.get("retired", {}))):
        profiles._storage.write({**tables, "profiles": live, "retired": retired})
    for lid in gone:
        profiles._pushed_revs.pop(lid, None)
    plans = reattribute.pending(store)
    kept = {k: v for k, v in plans.items() if k not in gone and v not in gone}
    if kept != plans:
        store.settings.set(reattribute.PENDING, kept)
    notices = store.settings.get(reattribute.NOTICES, [])
    if isinstance(notices, list) and any(n in gone for n in notices):
        store.settings.set(reattribute.NOTICES, [n for n in notices if n not in gone])
    display = store.settings.get(LEARNER_DISPLAY, {})
    if isinstance(display, dict) and any(lid in display for lid in gone):
        store.settings.set(LEARNER_DISPLAY,
                           {k: v for k, v in display.items() if k not in gone})
