"""The device store: event log + outbox, profiles and settings in one data folder.

The data folder's layout: layout.py (docs/store.md has the why and the measurements).

Invariants the crash test checks: `append` returns only after its journal line is
fsync'd; every journal file but the last one has been folded into the learner segments
(learners.py: the last may be partly folded and is folded again, deduplicated, on open);
a seq is never handed out twice and an answered id never comes back (outbox.py).
The parts: journal.py, outbox.py, learners.py (+ segments.py, history.py, idindex.py,
snapshots.py), rejected.py, conflicts.py, quarantine.py, profiles.py, settings.py,
device_file.py, subscribers.py. The caches that make open, sign-in and the first merge
cost what changed (id index, journal index, snapshots) are checked against the fsync'd
files they derive from, and rebuilt from them when they do not fit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Container, Iterable
from pathlib import Path
from typing import Any

from app.core.clock import now_iso
from app.core.errors import EventError, StoreError
from app.core.events import new_id, validate_event
from app.core.store.conflicts import ConflictLog
from app.core.store.device_file import load_device_file
from app.core.store.erased_file import erased_ids
from app.core.store.history import HISTORY_CACHE_BYTES, copy_json, detached, history_order
from app.core.store.journal import Journal
from app.core.store.keys import KeyProvider
from app.core.store.layout import folder_bytes, prepare_folders, store_root
from app.core.store.learners import LearnerLogs
from app.core.store.lock import DirLock
from app.core.store.outbox import Outbox
from app.core.store.profiles import Profiles
from app.core.store.quarantine import QuarantineLog
from app.core.store.rejected import RejectedLog
from app.core.store.sealing import SealState, check_guarded, close_sealed, open_sealed
from app.core.store.settings import Settings
from app.core.store.snapshots import HistoryMark, Snapshot, check_name
from app.core.store.subscribers import Subscriber, Subscribers
from app.core.store.supervisor_logs import SupervisorLogs

log = logging.getLogger(__name__)

#: Events per journal file; a full journal is folded into the segments (amortised cost).
JOURNAL_CAPACITY = 128
#: Events per learner segment; a segment write rewrites at most this many documents.
SEGMENT_CAPACITY = 256

Event = dict[str, Any]
Batch = Callable[[list[Event]], Any]


class Store(SupervisorLogs):
    """One device data folder. Methods are thread-safe (one re-entrant lock)."""

    def __init__(self, root: Path, *, journal_capacity: int, segment_capacity: int,
                 history_cache_bytes: int = HISTORY_CACHE_BYTES) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._dir_lock = DirLock(root)
        self._segment_capacity = segment_capacity
        self._subscribers = Subscribers(self._lock)
        self._journal = Journal(root / "journal", journal_capacity)
        self._outbox = Outbox(root, self._journal)   # pending ids, seq counter (outbox.py)
        #: per-learner segments, id index, history cache, snapshots (learners.py)
        self._learners = LearnerLogs(root / "learners", root / "index", self._journal,
                                     history_order, history_cache_bytes)
        self._rejected = RejectedLog(root / "rejected.json")
        self._closed = True
        self.device_id = ""
        self._erased: frozenset[str] = frozenset()   # erased on the server: erasure.py
        self._seal: SealState | None = None           # encryption at rest: sealing.py

    # ------------------------------------------------------------------ open / close
    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *,
             journal_capacity: int = JOURNAL_CAPACITY,
             segment_capacity: int = SEGMENT_CAPACITY,
             history_cache_bytes: int = HISTORY_CACHE_BYTES,
             keys: KeyProvider | None = None) -> Store:
        """Create or open the store of `data_dir`; repair what a crash left behind.
        With `keys` every file is encrypted at rest (sealing.py; a plaintext folder is
        encrypted on this open); without, an encrypted folder is refused.

        `segment_capacity` only applies when the folder is new (it is recorded there);
        `journal_capacity` may differ from one open to the next. `history_cache_bytes`
        bounds the in-memory cache of `events()` (0 = no cache; see history.py)."""
        if journal_capacity < 1 or segment_capacity < 1:
            raise StoreError("journal_capacity and segment_capacity must be >= 1")
        if not isinstance(history_cache_bytes, int) or history_cache_bytes < 0:
            raise StoreError("history_cache_bytes must be an integer >= 0")
        root = store_root(data_dir)
        store = cls(root, journal_capacity=journal_capacity, segment_capacity=segment_capacity,
                    history_cache_bytes=history_cache_bytes)
        store._dir_lock.acquire()
        try:
            if keys is not None:
                store._seal = open_sealed(root, keys)
            elif (root / "sealed.json").exists():
                raise StoreError(f"{root}: this data folder is encrypted: open it with its key")
            store._load()
            if store._seal is not None:
                check_guarded(store._seal)
        except BaseException:
            store._release_files()
            raise
        store._closed = False
        return store

    def _load(self) -> None:
        root = self.root
        prepare_folders(root)
        self._erased = erased_ids(root)
        self.device_id, self._segment_capacity = load_device_file(
            root, self._segment_capacity, recorded_default=SEGMENT_CAPACITY)
        self._outbox.read_state()
        self._rejected.load()
        self._learners.load(self._segment_capacity)
        # Only the newest journal files are read: the outbox index of the others is built
        # on first use, from the journal index (outbox.py).
        last = self._outbox.find_next_seq(self.device_id)
        if last is not None and last.events:
            # the last journal may be partly folded (crash) or not at all (no close)
            self._journal.open_for_append(last)
            self._learners.fold_current(dedupe=True)
            self._close_journal()
        elif last is not None:
            self._journal.open_for_append(last)
        else:
            self._start_journal()
        self._conflicts = ConflictLog(root / "conflicts.json", self._lock)
        self._quarantine = QuarantineLog(root / "quarantine.json", self._lock)
        self.profiles = Profiles(root / "profiles.json", self._lock,
                                 lock_floor=lambda: self.pin_lock_floor,
                                 erased=lambda: self._erased)
        self.settings = Settings(root / "settings.json", root / "secrets.json", self._lock)

    def close(self) -> None:
        """Fold the journal into the segments and release the folder. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._journal.current is not None and self._journal.current.events:
                    self._learners.fold_current(dedupe=False)
                    self._close_journal()
            except StoreError as exc:  # nothing lost: the next open folds the journal
                log.warning("store close could not fold the journal: %s", exc)
            finally:
                self._release_files()

    def _release_files(self) -> None:
        self._journal.close()
        self._learners.close()
        self._rejected.close()
        close_sealed(self._seal)
        self._dir_lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, device={self.device_id!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    # ------------------------------------------------------------------ event log
    def append(self, event_dict: Event) -> str:
        """Validate, complete (id, seq, at, device) and durably store one local event.

        Returns the event id once the event is on disk (fsync'd). The event enters the
        outbox. Raises EventError naming the field, or StoreError (disk full, …) with
        nothing stored.
        """
        if not isinstance(event_dict, dict):
            raise EventError(f"event: expected an object, got {type(event_dict).__name__}")
        with self._lock:
            self._check_open()
            event = detached(event_dict, "event")
            if event.get("device") is None:
                event["device"] = self.device_id
            elif event["device"] != self.device_id:
                raise EventError(f"device: an appended event must come from this device "
                                 f"({self.device_id}), got {event['device']!r}")
            if event.get("seq") is None:
                event["seq"] = self._outbox.next_seq
            elif not isinstance(event["seq"], int) or isinstance(event["seq"], bool):
                raise EventError(f"seq: expected an integer >= 1, got {event['seq']!r}")
            elif event["seq"] < self._outbox.next_seq:
                raise EventError(f"seq: {event['seq']} was already used on this device "
                                 f"(leave it out: the store assigns it)")
            if event.get("at") is None:
                event["at"] = now_iso()
            if event.get("id") is None:
                event["id"] = new_id()
            validate_event(event)
            if event["learner"] in self._erased:
                raise EventError("learner: this learner's record was erased on the server")
            if event_dict.get("id") is not None and self._learners.is_stored(event["id"]):
                raise EventError(f"id: {event['id']} is already stored")
            if self._journal.broken:
                self._journal.append(event)  # raises the "reopen the store" StoreError
            if self._journal.full:
                self._learners.fold_current(dedupe=False)
                self._close_journal()
            self._outbox.next_seq = event["seq"] + 1  # burnt even if the write fails
            self._journal.append(event)
            self._outbox.add(event["id"], self._journal.current.number)  # type: ignore[union-attr]
            self._learners.stored([event])
            listeners = bool(self._subscribers.callbacks)
        if listeners:
            self._notify([detached(event, "event")])
        event_id: str = event["id"]  # checked by validate_event
        return event_id

    def events(self, learner_id: str) -> list[Event]:
        """Every event of one learner (local and merged), ordered by (at, device, seq).

        Fresh copies each call. The sorted history is kept in a bounded in-memory cache
        (history.py), so asking again for the same learner costs an unpack, not a
        re-read and re-sort of every segment."""
        if not isinstance(learner_id, str):
            raise StoreError(f"learner_id: expected text, got {type(learner_id).__name__}")
        with self._lock:
            self._check_open()
            return self._learners.history_of(learner_id)

    def history_since(self, learner_id: str, mark: HistoryMark | None,
                      apply: Batch) -> HistoryMark | None:
        """Hand the learner's stored events beyond `mark` (all for None) to `apply`, in
        batches (one per segment, then those not yet folded into the segments), under the
        store lock (nothing is written meanwhile); return the mark now covered. Storage
        order, not event order: for folds that do not depend on order (snapshots.py).
        None, without calling `apply`, when `mark` does not fit this history (more
        documents than stored, another event at its position). Fresh copies."""
        if not isinstance(learner_id, str):
            raise StoreError(f"learner_id: expected text, got {type(learner_id).__name__}")
        if mark is not None and (not isinstance(mark, HistoryMark) or mark.count < 0):
            raise StoreError("mark: expected a HistoryMark or None")
        with self._lock:
            self._check_open()
            return self._learners.history_since(learner_id, mark, apply)

    def read_snapshot(self, learner_id: str, name: str, *, cache: bool = True
                      ) -> Snapshot | None:
        """The learner's snapshot `name` (snapshots.py), or None when there is none or
        it cannot be used (damaged, another learner's or data folder's: logged).

        `cache=False` — a payload that is no cache, the only copy of what it holds (the
        retained fold, ageing.py): a file that cannot be read at all is a StoreReadError,
        never taken for its absence (which would be saved on as "nothing there"), and a
        damaged one is moved aside (``<name>.snap.damaged-<time>``, kept) before it reads
        as missing, so that nothing is written over it."""
        check_name(name)
        with self._lock:
            self._check_open()
            return self._learners.read_snapshot(self.device_id, learner_id, name,
                                                cache=cache)

    def write_snapshot(self, learner_id: str, name: str, snapshot: Snapshot) -> None:
        """Save (atomically) the learner's snapshot `name`, replacing the previous one.
        Its mark must fit the stored history (one `history_since` returned). StoreError
        when it does not or the write fails (the previous snapshot then stays)."""
        check_name(name)
        if not isinstance(snapshot, Snapshot):
            raise StoreError("snapshot: expected a Snapshot")
        with self._lock:
            self._check_open()
            self._learners.write_snapshot(self.device_id, learner_id, name, snapshot)

    def outbox(self, limit: int = 500, *, skip: Container[str] = ()) -> list[Event]:
        """Local events not yet acknowledged or rejected, oldest first. `skip`: ids left
        out (neither counted nor read), e.g. those a push has in flight."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise StoreError(f"limit: expected an integer >= 0, got {limit!r}")
        with self._lock:
            self._check_open()
            wanted = self._outbox_index().first(limit, skip)
            bodies = self._bodies(wanted)
        return [bodies[i] for i in wanted]

    def acknowledge(self, ids: Iterable[str]) -> int:
        """The server stored these: they leave the outbox and stay in the history.
        Unknown or already acknowledged ids are ignored. Returns how many left."""
        with self._lock:
            self._check_open()
            hits = self._outbox_index().pending_of(self._id_list(ids))
            if not hits:
                return 0
            self._outbox.finish(hits)
            return len(hits)

    def reject(self, ids_with_reasons: dict[str, str]) -> int:
        """The server rejected these: they leave the outbox and are kept, with the reason,
        in `rejected()`. Ids not in the outbox are ignored. Returns how many moved."""
        if not isinstance(ids_with_reasons, dict):
            raise StoreError("reject: expected a mapping of event id -> reason")
        wrong = [i for i, reason in ids_with_reasons.items() if not isinstance(reason, str)]
        if wrong:
            raise StoreError(f"reject[{wrong[0]!r}]: reason: expected text")
        with self._lock:
            self._check_open()
            pending = self._outbox_index().pending
            hits = [i for i in ids_with_reasons if isinstance(i, str) and i in pending]
            if not hits:
                return 0
            bodies = self._bodies(hits)
            self._rejected.record((bodies[i], ids_with_reasons[i]) for i in hits)
            self._outbox.finish(hits)
            return len(hits)

    def rejected(self) -> list[dict[str, Any]]:
        """Events the server rejected: ``[{"event": {...}, "reason": str, "at": str}]``."""
        with self._lock:
            self._check_open()
            return [detached(r, "rejected") for r in self._rejected.rows()]

    def merge(self, events: Iterable[Event]) -> int:
        """Add events pulled from the server: union by id, idempotent, order-independent.

        Validates the whole batch first (EventError names ``events[i].field``); new events
        go to their learners' segments, never the outbox; returns how many were new. A
        stored id keeps its first copy, a differing one (server stamps aside) is a conflict.
        """
        if isinstance(events, dict) or not isinstance(events, Iterable):
            raise StoreError("merge: expected a list of events")
        batch: list[Event] = []
        for i, raw in enumerate(events):
            try:
                event = detached(raw, "event")
                validate_event(event, allow_server_fields=True)
            except EventError as exc:
                raise EventError(f"events[{i}].{exc}") from None
            if event["learner"] not in self._erased:   # erased: never stored again
                batch.append(event)
        with self._lock:
            self._check_open()
            fresh, conflicts = self._learners.sort_out(batch)
            if conflicts:
                self._conflicts.record(conflicts)   # before the write: a failure re-pulls
            if not fresh:
                return 0
            own = [e["seq"] for e in fresh.values() if e["device"] == self.device_id]
            if own:   # events of this device id made elsewhere (restored backup)
                self._outbox.skip_seqs_past(max(own))
            by_learner: dict[str, list[Event]] = {}
            for event in fresh.values():
                by_learner.setdefault(event["learner"], []).append(event)
            written: list[Event] = []
            failure: StoreError | None = None
            try:
                for learner_id, group in by_learner.items():
                    self._learners.write(learner_id,
                                         [{"event": e, "local": False} for e in group],
                                         on_written=written.extend)
            except StoreError as exc:
                failure = exc
            self._learners.stored(written)
            notify = list(written) if self._subscribers.callbacks else []
        if notify:
            self._notify(notify)  # what did get stored is announced, even on failure
        if failure is not None:
            raise failure
        return len(fresh)

    # ------------------------------------------------------------------ queries
    def learner_ids(self) -> list[str]:
        """Learners that have events in this store."""
        with self._lock:
            self._check_open()
            return sorted(self._learners.learner_ids())

    def event_count(self, learner_id: str | None = None) -> int:
        with self._lock:
            self._check_open()
            return self._learners.count(learner_id)

    def outbox_count(self) -> int:
        with self._lock:
            if self._closed:
                return len(self._outbox.pending)
            return len(self._outbox_index().pending)

    def storage_bytes(self) -> int:
        """Bytes of every store file on disk."""
        return folder_bytes(self.root)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(list_of_new_events)` after each append / merge that stored
        something (outside the store lock, on the caller's thread). Returns an
        unsubscribe function. A failing callback is logged, never breaks the write."""
        return self._subscribers.add(callback)

    # ------------------------------------------------------------------ internals
    def _notify(self, events: list[Event]) -> None:
        self._subscribers.notify(events, lambda e: detached(e, "event"))

    @staticmethod
    def _id_list(ids: Iterable[str]) -> list[str]:
        if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
            raise StoreError("ids: expected a list of event ids")
        return [i for i in ids if isinstance(i, str)]

    def _start_journal(self) -> None:
        jf = self._journal.start_new()
        self._outbox.started(jf.number)
        self._learners.folded.clear()

    def _close_journal(self) -> None:
        """The current journal is folded: note its ids in the journal index, start the
        next one, delete files whose events all left the outbox."""
        current = self._journal.current
        if current is not None and current.events:
            self._journal.record_closed(current)
        self._start_journal()
        self._outbox.drop_finished_journals()

    def _outbox_index(self) -> Outbox:
        """The outbox, its index built on first use (outbox.py)."""
        self._outbox.load(self._rejected.ids)
        return self._outbox

    def _bodies(self, ids: list[str]) -> dict[str, Event]:
        """Fresh copies of the event bodies of outbox ids. `copy_json`, not `detached`:
        these bodies were proved storable when they were appended and were read back
        from JSON, so a JSON round trip proves nothing more and costs ≈ 13 µs an event
        (a sync of 2,000 queued events spent 26 ms on it)."""
        bodies = self._outbox.bodies(ids, self._learners.stored_events)
        return {i: copy_json(e) for i, e in bodies.items()}
