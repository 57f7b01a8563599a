"""The device store: event log + outbox, profiles and settings in one data folder.

Layout (all under ``<data_dir>/store/``; docs/store.md has the why and the measurements)::

    store.lock            exclusive lock while a Store is open
    device.json           the device id, made once
    journal/NNNNNNNN.log  append journal of local events = the outbox (see journal.py)
    learners/<key>/NNNNNN.json   per-learner TinyDB segments (see segments.py)
    outbox.json           ids acknowledged while their journal file still exists + last seq
    rejected.json         events the server rejected, with the reason
    conflicts.json        pulled events whose id was stored with other content (conflicts.py)
    quarantine.json       pulled items refused as malformed or over the limits (quarantine.py)
    profiles.json settings.json secrets.json

Invariants the crash test checks:
- `append` returns only after its journal line is fsync'd.
- Every journal file but the last one has been folded into the learner segments; the last
  one may be partly folded (crash during the fold) and is folded again, deduplicated by
  id, on open.
- seq: the next seq is 1 + the highest of `outbox.json` last_seq and every seq in the
  journal files; last_seq is written before any journal file is deleted, so a seq is
  never handed out twice, whatever was killed when.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from app.core.errors import EventError, StoreError
from app.core.events import new_id, order_key, utc_now_iso, validate_event
from app.core.store.atomic import AtomicJSONStorage, clean_stale_temps, fsync_dir
from app.core.store.conflicts import ConflictLog, differs
from app.core.store.history import HISTORY_CACHE_BYTES, HistoryCache, copy_json
from app.core.store.idindex import IdIndex
from app.core.store.journal import Journal, JournalFile
from app.core.store.lock import DirLock
from app.core.store.profiles import Profiles
from app.core.store.quarantine import QuarantineLog
from app.core.store.segments import LearnerLog, learner_key
from app.core.store.settings import Settings
from app.core.store.snapshots import HistoryMark, Snapshot, check_name, meta_of, snapshot_of

log = logging.getLogger(__name__)

#: Events per journal file; a full journal is folded into the segments (amortised cost).
JOURNAL_CAPACITY = 128
#: Events per learner segment; a segment write rewrites at most this many documents.
SEGMENT_CAPACITY = 256
MAX_REASON_CHARS = 1000

Event = dict[str, Any]
Subscriber = Callable[[list[Event]], None]
Batch = Callable[[list[Event]], Any]


def _detached(value: Any, what: str) -> Any:
    """A deep copy through JSON: also proves the value can be stored."""
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise EventError(f"{what}: not storable as JSON ({exc})") from None


def _sort_key(event: Event) -> tuple[tuple[str, str, int], str]:
    return order_key(event), event["id"]


class Store:
    """One device data folder. Methods are thread-safe (one re-entrant lock)."""

    def __init__(self, root: Path, *, journal_capacity: int, segment_capacity: int,
                 history_cache_bytes: int = HISTORY_CACHE_BYTES) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._dir_lock = DirLock(root)
        self._journal_capacity = journal_capacity
        self._segment_capacity = segment_capacity
        self._subscribers: list[Subscriber] = []
        self._learners: dict[str, LearnerLog] = {}
        # the outbox index, built on first use (_ensure_outbox):
        self._outbox_loaded = False
        self._pending: dict[str, int] = {}  # outbox: id -> journal number, oldest first
        self._journal_ids: dict[int, set[str]] = {}
        # acknowledged or rejected, journal not yet deleted (until the outbox index is
        # built: as outbox.json has it)
        self._done: set[str] = set()
        self._rejected_ids: set[str] = set()
        self._folded: set[str] = set()    # ids of the current journal already in segments
        self._ids = IdIndex(root / "index")   # id -> (learner, position); loaded on use
        self._history = HistoryCache(_sort_key, history_cache_bytes)  # learner -> events
        self._next_seq = 1
        self._saved_last_seq = 0  # last_seq as outbox.json has it on disk
        self._closed = True
        self.device_id = ""

    # ------------------------------------------------------------------ open / close
    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], *,
             journal_capacity: int = JOURNAL_CAPACITY,
             segment_capacity: int = SEGMENT_CAPACITY,
             history_cache_bytes: int = HISTORY_CACHE_BYTES) -> Store:
        """Create or open the store of `data_dir`; repair what a crash left behind.

        `segment_capacity` only applies when the folder is new (it is recorded there);
        `journal_capacity` may differ from one open to the next. `history_cache_bytes`
        bounds the in-memory cache of `events()` (0 = no cache; see history.py)."""
        if journal_capacity < 1 or segment_capacity < 1:
            raise StoreError("journal_capacity and segment_capacity must be >= 1")
        if not isinstance(history_cache_bytes, int) or history_cache_bytes < 0:
            raise StoreError("history_cache_bytes must be an integer >= 0")
        root = Path(data_dir) / "store"
        try:
            root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(f"{data_dir}: not a folder") from None
        except OSError as exc:
            raise StoreError(f"{root}: cannot create the store folder: {exc.strerror}") from exc
        store = cls(root, journal_capacity=journal_capacity, segment_capacity=segment_capacity,
                    history_cache_bytes=history_cache_bytes)
        store._dir_lock.acquire()
        try:
            store._load()
        except BaseException:
            store._release_files()
            raise
        store._closed = False
        return store

    def _load(self) -> None:
        root = self.root
        created = False
        for folder in (root, root / "journal", root / "learners", root / "index"):
            if not folder.is_dir():
                folder.mkdir()
                created = True
            clean_stale_temps(folder)
        if created:  # make the new folders themselves survive a power loss
            fsync_dir(root.parent)
            fsync_dir(root)
        self.device_id = self._load_device_id()
        self._outbox_storage = AtomicJSONStorage(root / "outbox.json", "outbox")
        state = self._outbox_storage.read() or {}
        meta = state.get("meta", {}).get("1", {})
        last_seq = meta.get("last_seq", 0)
        if not isinstance(last_seq, int) or last_seq < 0:
            raise StoreError(f"{root / 'outbox.json'}: meta.last_seq: expected an integer")
        self._saved_last_seq = last_seq
        done = {d["id"] for d in state.get("done", {}).values()
                if isinstance(d, dict) and isinstance(d.get("id"), str)}
        self._rejected_db = TinyDB(root / "rejected.json", storage=AtomicJSONStorage,
                                   kind="rejected")
        try:
            self._rejected_ids = {r["event"]["id"]
                                  for r in self._rejected_db.table("rejected").all()}
        except (KeyError, TypeError):
            raise StoreError(f"{root / 'rejected.json'}: rejected.event.id: missing") from None
        for folder in sorted((root / "learners").iterdir()):
            if folder.is_dir():
                learner = LearnerLog.load(folder, self._segment_capacity)
                if learner is not None:
                    self._learners[learner.learner_id] = learner
        self._journal = Journal(root / "journal", self._journal_capacity)
        # Only the newest journal files are read here: the last one (appended to next,
        # and maybe half folded) and, walking back, the first that holds events (seqs
        # only grow, so it has the highest one). The outbox index of the others is built
        # on first use (_ensure_outbox) from the journal index.
        self._done = done
        numbers = self._journal.numbers()
        last: JournalFile | None = None
        max_seq = last_seq
        for number in reversed(numbers):
            jf = self._journal.read(number, repair=True)
            last = last or jf
            own = [e.get("seq", 0) for e in jf.events if e.get("device") == self.device_id]
            if jf.events:
                max_seq = max([max_seq, *(int(seq) for seq in own)])
                break
        self._next_seq = max_seq + 1
        if last is not None and last.events:
            # the last journal may be partly folded (crash) or not at all (no close)
            self._journal.open_for_append(last)
            self._fold_current(dedupe=True)
            self._close_journal()
        elif last is not None:
            self._journal.open_for_append(last)
        else:
            self._start_journal()
        self._conflicts = ConflictLog(root / "conflicts.json", self._lock)
        self._quarantine = QuarantineLog(root / "quarantine.json", self._lock)
        self.profiles = Profiles(root / "profiles.json", self._lock)
        self.settings = Settings(root / "settings.json", root / "secrets.json", self._lock)

    def _load_device_id(self) -> str:
        storage = AtomicJSONStorage(self.root / "device.json", "device")
        tables = storage.read()
        if tables is None:
            device_id = "dev-" + uuid.uuid4().hex
            storage.write({"device": {"1": {"id": device_id, "created_at": utc_now_iso(),
                                            "segment_capacity": self._segment_capacity}}})
            return device_id
        doc = tables.get("device", {}).get("1", {})
        found = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(found, str) or not found.startswith("dev-"):
            raise StoreError(f"{self.root / 'device.json'}: device.id: missing or malformed")
        # segment size is fixed per data folder: event counts rely on full segments
        capacity = doc.get("segment_capacity", SEGMENT_CAPACITY)
        if not isinstance(capacity, int) or capacity < 1:
            raise StoreError(f"{self.root / 'device.json'}: device.segment_capacity: malformed")
        self._segment_capacity = capacity
        return found

    def close(self) -> None:
        """Fold the journal into the segments and release the folder. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._journal.current is not None and self._journal.current.events:
                    self._fold_current(dedupe=False)
                    self._close_journal()
            except StoreError as exc:  # nothing lost: the next open folds the journal
                log.warning("store close could not fold the journal: %s", exc)
            finally:
                self._release_files()

    def _release_files(self) -> None:
        journal = getattr(self, "_journal", None)
        if journal is not None:
            journal.close()
        for learner in self._learners.values():
            learner.close()
        self._ids.close()
        self._history.clear()
        rejected = getattr(self, "_rejected_db", None)
        if rejected is not None:
            rejected.close()
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
            event = _detached(event_dict, "event")
            if event.get("device") is None:
                event["device"] = self.device_id
            elif event["device"] != self.device_id:
                raise EventError(f"device: an appended event must come from this device "
                                 f"({self.device_id}), got {event['device']!r}")
            if event.get("seq") is None:
                event["seq"] = self._next_seq
            elif not isinstance(event["seq"], int) or isinstance(event["seq"], bool):
                raise EventError(f"seq: expected an integer >= 1, got {event['seq']!r}")
            elif event["seq"] < self._next_seq:
                raise EventError(f"seq: {event['seq']} was already used on this device "
                                 f"(leave it out: the store assigns it)")
            if event.get("at") is None:
                event["at"] = utc_now_iso()
            if event.get("id") is None:
                event["id"] = new_id()
            validate_event(event)
            if event_dict.get("id") is not None and self._is_stored(event["id"]):
                raise EventError(f"id: {event['id']} is already stored")
            if self._journal.broken:
                self._journal.append(event)  # raises the "reopen the store" StoreError
            if self._journal.full:
                self._fold_current(dedupe=False)
                self._close_journal()
            self._next_seq = event["seq"] + 1  # burnt even if the write fails: never reused
            self._journal.append(event)
            if self._outbox_loaded:
                number = self._journal.current.number  # type: ignore[union-attr]
                self._pending[event["id"]] = number
                self._journal_ids.setdefault(number, set()).add(event["id"])
            self._history.add(event["learner"], [copy_json(event)])
            listeners = bool(self._subscribers)
        if listeners:
            self._notify([_detached(event, "event")])
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
            return self._history_of(learner_id)

    def _history_of(self, learner_id: str) -> list[Event]:
        """The learner's sorted events: a fresh list the caller owns."""
        cached = self._history.get(learner_id)
        if cached is not None:
            return cached
        out: list[Event] = []
        log_ = self._learners.get(learner_id)
        if log_ is not None:
            out.extend(doc["event"] for doc in log_.all_docs())
        out.extend(copy_json(e) for e in self._unfolded() if e["learner"] == learner_id)
        out.sort(key=_sort_key)
        self._history.put(learner_id, out)
        return out

    def history_since(self, learner_id: str, mark: HistoryMark | None,
                      apply: Batch) -> HistoryMark | None:
        """Hand the learner's stored events beyond `mark` (all of them for None) to
        `apply`, in batches (one per segment, then the events not yet folded into the
        segments), under the store lock, so that nothing is written meanwhile; return
        the mark now covered. Order inside and across batches is storage order, not
        event order: for folds that do not depend on order (snapshots.py).

        Returns None, without calling `apply`, when `mark` does not fit this history
        (more documents than stored, or another event at its position): the caller
        then starts from nothing. Events are fresh copies the caller owns."""
        if not isinstance(learner_id, str):
            raise StoreError(f"learner_id: expected text, got {type(learner_id).__name__}")
        if mark is not None and (not isinstance(mark, HistoryMark) or mark.count < 0):
            raise StoreError("mark: expected a HistoryMark or None")
        with self._lock:
            self._check_open()
            learner = self._learners.get(learner_id)
            count = learner.count if learner is not None else 0
            start, last_id = 0, None
            if mark is not None and mark.count > 0:
                if mark.count > count or learner is None or mark.last_id is None:
                    return None
                start, last_id = mark.count, mark.last_id
            if learner is not None and (start < count or last_id is not None):
                docs_iter = learner.docs_from(start, after=last_id)
                try:
                    first = next(docs_iter, None)
                except ValueError:      # another event where the mark's last one was
                    return None
                for docs in itertools.chain([first] if first else [], docs_iter):
                    apply([doc["event"] for doc in docs])
                    last_id = docs[-1]["event"]["id"]
            unfolded = [copy_json(e) for e in self._unfolded() if e["learner"] == learner_id]
            if unfolded:
                apply(unfolded)
            return HistoryMark(count, last_id if count else None)

    def read_snapshot(self, learner_id: str, name: str) -> Snapshot | None:
        """The learner's snapshot `name` (snapshots.py), or None when there is none or
        it cannot be used (damaged, another learner's: logged)."""
        check_name(name)
        with self._lock:
            self._check_open()
            learner = self._learners.get(learner_id)
            if learner is None:
                return None
            try:
                found = learner.read_snapshot(name)
            except StoreError as exc:
                log.warning("snapshot ignored (it will be recomputed): %s", exc)
                return None
            if found is None:
                return None
            return snapshot_of(self.device_id, learner_id, name, *found)

    def write_snapshot(self, learner_id: str, name: str, snapshot: Snapshot) -> None:
        """Save (atomically) the learner's snapshot `name`, replacing the previous one.
        Its mark must fit the stored history (one `history_since` returned). StoreError
        when it does not or the write fails (the previous snapshot then stays)."""
        check_name(name)
        if not isinstance(snapshot, Snapshot):
            raise StoreError("snapshot: expected a Snapshot")
        meta = meta_of(self.device_id, learner_id, name, snapshot)
        with self._lock:
            self._check_open()
            learner = self._learners.get(learner_id)
            mark = snapshot.mark
            if learner is None or not 0 < mark.count <= learner.count:
                raise StoreError(f"snapshot of {learner_id!r}: covers {mark.count} stored "
                                 "events, which this history does not have")
            learner.write_snapshot(name, meta, snapshot.payload)

    def outbox(self, limit: int = 500) -> list[Event]:
        """Local events not yet acknowledged or rejected, oldest first."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise StoreError(f"limit: expected an integer >= 0, got {limit!r}")
        with self._lock:
            self._check_open()
            self._ensure_outbox()
            wanted: list[str] = []
            for event_id in self._pending:
                if len(wanted) >= limit:
                    break
                wanted.append(event_id)
            bodies = self._bodies(wanted)
        return [bodies[i] for i in wanted]

    def acknowledge(self, ids: Iterable[str]) -> int:
        """The server stored these: they leave the outbox and stay in the history.
        Unknown or already acknowledged ids are ignored. Returns how many left."""
        with self._lock:
            self._check_open()
            self._ensure_outbox()
            hits = [i for i in dict.fromkeys(self._id_list(ids)) if i in self._pending]
            if not hits:
                return 0
            self._finish(hits)
            return len(hits)

    def reject(self, ids_with_reasons: dict[str, str]) -> int:
        """The server rejected these: they leave the outbox and are kept, with the reason,
        in `rejected()`. Ids not in the outbox are ignored. Returns how many moved."""
        if not isinstance(ids_with_reasons, dict):
            raise StoreError("reject: expected a mapping of event id -> reason")
        for event_id, reason in ids_with_reasons.items():
            if not isinstance(reason, str):
                raise StoreError(f"reject[{event_id!r}]: reason: expected text")
        with self._lock:
            self._check_open()
            self._ensure_outbox()
            hits = [i for i in ids_with_reasons if isinstance(i, str) and i in self._pending]
            if not hits:
                return 0
            bodies = self._bodies(hits)
            at = utc_now_iso()
            self._rejected_db.table("rejected").insert_multiple(
                {"event": bodies[i], "reason": ids_with_reasons[i][:MAX_REASON_CHARS], "at": at}
                for i in hits)
            self._rejected_ids.update(hits)
            self._finish(hits)
            return len(hits)

    def rejected(self) -> list[dict[str, Any]]:
        """Events the server rejected: ``[{"event": {...}, "reason": str, "at": str}]``."""
        with self._lock:
            self._check_open()
            rows = self._rejected_db.table("rejected").all()
            return [_detached(dict(r), "rejected") for r in rows]

    def merge(self, events: Iterable[Event]) -> int:
        """Add events pulled from the server: union by id, idempotent, order-independent.

        The whole batch is validated first (EventError names ``events[i].field``); then
        new events are written to their learners' segments. Merged events never enter the
        outbox. Returns how many were new. An id already stored keeps its first copy; if
        the copy received differs (server stamps aside) it is recorded in `conflicts()`.
        """
        if isinstance(events, dict) or not isinstance(events, Iterable):
            raise StoreError("merge: expected a list of events")
        batch: list[Event] = []
        for i, raw in enumerate(events):
            try:
                event = _detached(raw, "event")
                validate_event(event, allow_server_fields=True)
            except EventError as exc:
                raise EventError(f"events[{i}].{exc}") from None
            batch.append(event)
        with self._lock:
            self._check_open()
            index = self._ensure_index()
            unfolded = {e["id"]: e for e in self._unfolded()}
            fresh: dict[str, Event] = {}
            known: list[Event] = []
            for event in batch:
                if event["id"] in unfolded or index.find(event["id"]) is not None:
                    known.append(event)
                elif event["id"] in fresh:
                    if differs(fresh[event["id"]], event):
                        known.append(event)
                else:
                    fresh[event["id"]] = event
            conflicts = self._find_conflicts(known, fresh, unfolded)
            if conflicts:
                self._conflicts.record(conflicts)   # before the write: a failure re-pulls
            if not fresh:
                return 0
            own = [e["seq"] for e in fresh.values() if e["device"] == self.device_id]
            if own and max(own) >= self._next_seq:
                # events of this device id made elsewhere (restored backup): skip past them
                self._next_seq = max(own) + 1
                self._write_outbox_state(self._done)
            by_learner: dict[str, list[Event]] = {}
            for event in fresh.values():
                by_learner.setdefault(event["learner"], []).append(event)
            written: list[Event] = []
            failure: StoreError | None = None
            try:
                for learner_id, group in by_learner.items():
                    self._write_docs(learner_id, [{"event": e, "local": False} for e in group],
                                     on_written=written.extend)
            except StoreError as exc:
                failure = exc
            for learner_id in {e["learner"] for e in written}:
                self._history.add(learner_id, [copy_json(e) for e in written
                                               if e["learner"] == learner_id])
            notify = list(written) if self._subscribers else []
        if notify:
            self._notify(notify)  # what did get stored is announced, even on failure
        if failure is not None:
            raise failure
        return len(fresh)

    def conflicts(self) -> list[dict[str, Any]]:
        """Pulled events whose id was already stored with different content (the first
        copy is kept): ``[{"id", "learner", "kept", "received", "at", "digest"}]``,
        oldest first, at most conflicts.MAX_CONFLICTS — for an admin / settings screen."""
        with self._lock:
            self._check_open()
            return self._conflicts.all()

    def conflict_count(self) -> int:
        """How many rows `conflicts()` has (no copying)."""
        with self._lock:
            self._check_open()
            return self._conflicts.count()

    def quarantine(self, items: Iterable[tuple[str | None, str, str]]) -> int:
        """Keep pulled items the tablet refused (malformed, too deep, too large) as
        (event id or None, reason, text) for a supervisor; nothing else changes. Each
        distinct item is kept once, at most quarantine.MAX_QUARANTINED rows. Returns how
        many were new."""
        rows = list(items)
        with self._lock:
            self._check_open()
            return self._quarantine.record(rows)

    def quarantined(self) -> list[dict[str, Any]]:
        """Pulled items refused by this tablet: ``[{"id", "reason", "text", "digest",
        "at"}]``, oldest first (`text` is the item as received, cut to 2,000 chars)."""
        with self._lock:
            self._check_open()
            return self._quarantine.all()

    def quarantine_count(self) -> int:
        """How many rows `quarantined()` has (no copying)."""
        with self._lock:
            self._check_open()
            return self._quarantine.count()

    def _find_conflicts(self, known: list[Event], fresh: dict[str, Event],
                        unfolded: dict[str, Event]) -> list[tuple[Event, Event]]:
        """(kept, received) pairs for received events whose id is stored differently.
        The stored copies are read by position (only the segments that hold them)."""
        if not known:
            return []
        stored = self._stored_events([e["id"] for e in known
                                      if e["id"] not in fresh and e["id"] not in unfolded])
        pairs: list[tuple[Event, Event]] = []
        for event in known:
            kept = fresh.get(event["id"]) or unfolded.get(event["id"]) \
                or stored.get(event["id"])
            if kept is not None and differs(kept, event):
                pairs.append((copy_json(kept), event))
        return pairs

    def _stored_events(self, ids: list[str]) -> dict[str, Event]:
        """{id: event} of these ids as the segments hold them (via the id index)."""
        index = self._ensure_index()
        wanted: dict[str, dict[int, str]] = {}
        for event_id in ids:
            where = index.find(event_id)
            if where is not None:
                wanted.setdefault(where[0], {})[where[1]] = event_id
        out: dict[str, Event] = {}
        for learner_id, positions in wanted.items():
            learner = self._learners.get(learner_id)
            if learner is None:
                continue
            for position, event in learner.events_at(list(positions)).items():
                if event.get("id") == positions[position]:
                    out[positions[position]] = event
        return out

    # ------------------------------------------------------------------ queries
    def learner_ids(self) -> list[str]:
        """Learners that have events in this store."""
        with self._lock:
            self._check_open()
            ids = set(self._learners) | {e["learner"] for e in self._unfolded()}
        return sorted(ids)

    def event_count(self, learner_id: str | None = None) -> int:
        with self._lock:
            self._check_open()
            unfolded = self._unfolded()
            if learner_id is None:
                return sum(lg.count for lg in self._learners.values()) + len(unfolded)
            learner = self._learners.get(learner_id)
            return ((learner.count if learner else 0)
                    + sum(1 for e in unfolded if e["learner"] == learner_id))

    def outbox_count(self) -> int:
        with self._lock:
            if self._closed:
                return len(self._pending)
            self._ensure_outbox()
            return len(self._pending)

    def storage_bytes(self) -> int:
        """Bytes of every store file on disk."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(dirpath, name))
        return total

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(list_of_new_events)` after each append / merge that stored
        something (outside the store lock, on the caller's thread). Returns an
        unsubscribe function. A failing callback is logged, never breaks the write."""
        if not callable(callback):
            raise StoreError("subscribe: callback must be callable")
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    # ------------------------------------------------------------------ internals
    def _notify(self, events: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback([_detached(e, "event") for e in events])
            except Exception:  # the events are stored; a broken listener must not undo that
                log.exception("store subscriber %r failed", callback)

    @staticmethod
    def _id_list(ids: Iterable[str]) -> list[str]:
        if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
            raise StoreError("ids: expected a list of event ids")
        return [i for i in ids if isinstance(i, str)]

    def _unfolded(self) -> list[Event]:
        current = self._journal.current
        if current is None:
            return []
        return [e for e in current.events if e["id"] not in self._folded]

    def _ensure_index(self) -> IdIndex:
        """The id index of every event in the segments (idindex.py: two small files,
        checked against the segments on load), kept up to date by `_write_docs`."""
        if not self._ids.loaded:
            self._ids.load(self._learners)
        return self._ids

    def _is_stored(self, event_id: str) -> bool:
        """Is this id stored (segments or the current journal)?"""
        if any(e["id"] == event_id for e in self._unfolded()):
            return True
        return self._ensure_index().find(event_id) is not None

    def _learner_log(self, learner_id: str) -> LearnerLog:
        learner = self._learners.get(learner_id)
        if learner is None:
            folder = self.root / "learners" / learner_key(learner_id)
            learner = LearnerLog(folder, learner_id, self._segment_capacity)
            self._learners[learner_id] = learner
        return learner

    def _write_docs(self, learner_id: str, docs: list[dict[str, Any]],
                    on_written: Callable[[list[Event]], None]) -> None:
        learner = self._learner_log(learner_id)
        rest = docs
        try:
            while rest:
                start = learner.count
                n = learner.add_chunk(rest)
                done = [d["event"] for d in rest[:n]]
                self._ids.record(learner_id, start, [e["id"] for e in done])
                on_written(done)
                rest = rest[n:]
            if self._ids.wants_load:
                self._ensure_index()
        finally:
            if not learner.numbers:  # nothing ever written for this learner
                self._learners.pop(learner_id, None)

    def _fold_current(self, *, dedupe: bool) -> None:
        """Copy the current journal's events into the learner segments."""
        current = self._journal.current
        if current is None:
            return
        todo = [e for e in current.events if e["id"] not in self._folded]
        if dedupe and todo:
            # after a crash the fold may have been half done: skip what is already there
            index = self._ensure_index()
            known = {e["id"] for e in todo if index.find(e["id"]) is not None}
            self._folded.update(known)
            todo = [e for e in todo if e["id"] not in known]
        by_learner: dict[str, list[Event]] = {}
        for event in todo:
            by_learner.setdefault(event["learner"], []).append(event)
        for learner_id, group in by_learner.items():
            self._write_docs(learner_id, [{"event": e, "local": True} for e in group],
                             on_written=lambda evs: self._folded.update(e["id"] for e in evs))

    def _start_journal(self) -> None:
        jf = self._journal.start_new()
        if self._outbox_loaded:
            self._journal_ids.setdefault(jf.number, set())
        self._folded.clear()

    def _close_journal(self) -> None:
        """The current journal is folded: note its ids in the journal index, start the
        next one, delete files whose events all left the outbox."""
        current = self._journal.current
        if current is not None and current.events:
            self._journal.record_closed(current)
        self._start_journal()
        self._drop_finished_journals()

    def _ensure_outbox(self) -> None:
        """Build the outbox index (which ids wait, in which journal file) on first use:
        from the journal index, plus any file it has no record of, plus the current
        journal in memory."""
        if self._outbox_loaded:
            return
        current = self._journal.current
        numbers = [n for n in self._journal.numbers()
                   if current is None or n != current.number]
        files = self._journal.closed_ids(numbers)
        if current is not None:
            files[current.number] = [e["id"] for e in current.events]
        pending: dict[str, int] = {}        # in journal order: oldest first
        journal_ids: dict[int, set[str]] = {}
        for number in sorted(files):
            ids = files[number]
            journal_ids[number] = set(ids)
            pending.update(dict.fromkeys(ids, number))
        left = {i for i in self._done if i in pending}
        left.update(i for i in self._rejected_ids if i in pending)
        for event_id in left:
            del pending[event_id]
        self._pending, self._journal_ids = pending, journal_ids
        self._done = left
        self._outbox_loaded = True
        self._drop_finished_journals()

    def _finish(self, hits: list[str]) -> None:
        """`hits` leave the outbox for good (acknowledged or rejected): outbox.json is
        written first, so a crash right after cannot bring them back."""
        self._write_outbox_state(self._done | set(hits))
        self._done.update(hits)
        for event_id in hits:
            del self._pending[event_id]
        self._drop_finished_journals()

    def _drop_finished_journals(self) -> None:
        """Delete journal files whose events were all acknowledged or rejected."""
        if not self._outbox_loaded:
            return        # nothing left the outbox since the store was opened
        current = self._journal.current.number if self._journal.current else None
        finished = [n for n in sorted(self._journal_ids)
                    if n != current and self._journal_ids[n] <= self._done]
        if not finished:
            return
        if self._saved_last_seq < self._next_seq - 1:
            # the seqs in these files must stay known after they are gone
            self._write_outbox_state(self._done)
        for number in finished:
            self._journal.delete(number)
            self._done -= self._journal_ids.pop(number)

    def _write_outbox_state(self, done: set[str]) -> None:
        self._outbox_storage.write({
            "meta": {"1": {"last_seq": self._next_seq - 1}},
            "done": {str(i + 1): {"id": d} for i, d in enumerate(sorted(done))},
        })
        self._saved_last_seq = self._next_seq - 1

    def _bodies(self, ids: list[str]) -> dict[str, Event]:
        """Event bodies of outbox ids, read from their journal files."""
        out: dict[str, Event] = {}
        wanted = set(ids)
        numbers = sorted({self._pending[i] for i in ids if i in self._pending})
        current = self._journal.current
        for number in numbers:
            if current is not None and number == current.number:
                jf: JournalFile = current
            else:
                jf = self._journal.read(number)
            for event in jf.events:
                if event["id"] in wanted:
                    out[event["id"]] = _detached(event, "event")
        missing = wanted - set(out)
        if missing:   # a journal line damaged after its file was indexed: the segments
            # hold every folded event too
            out.update(self._stored_events(list(missing)))
            missing = wanted - set(out)
        if missing:
            raise StoreError(f"outbox: {len(missing)} event(s) missing from the journal files "
                             f"(e.g. {next(iter(missing))})")
        return out
