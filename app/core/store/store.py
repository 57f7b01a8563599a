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
import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from app.core.clock import now_iso
from app.core.errors import EventError, StoreError
from app.core.events import new_id, order_key, validate_event
from app.core.store.atomic import AtomicJSONStorage, clean_stale_temps, fsync_dir
from app.core.store.conflicts import ConflictLog, differs
from app.core.store.history import HISTORY_CACHE_BYTES, HistoryCache, copy_json
from app.core.store.journal import Journal, JournalFile
from app.core.store.lock import DirLock
from app.core.store.profiles import Profiles
from app.core.store.quarantine import QuarantineLog
from app.core.store.segments import LearnerLog, learner_key
from app.core.store.settings import Settings

log = logging.getLogger(__name__)

#: Events per journal file; a full journal is folded into the segments (amortised cost).
JOURNAL_CAPACITY = 128
#: Events per learner segment; a segment write rewrites at most this many documents.
SEGMENT_CAPACITY = 256
MAX_REASON_CHARS = 1000

Event = dict[str, Any]
Subscriber = Callable[[list[Event]], None]


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
        self._pending: OrderedDict[str, int] = OrderedDict()  # outbox: id -> journal number
        self._journal_ids: dict[int, set[str]] = {}
        self._done: set[str] = set()      # acknowledged or rejected, journal not yet deleted
        self._rejected_ids: set[str] = set()
        self._folded: set[str] = set()    # ids of the current journal already in segments
        self._index: dict[str, str] | None = None  # every stored id -> learner (lazy)
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
        for folder in (root, root / "journal", root / "learners"):
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
        done = {d.get("id") for d in state.get("done", {}).values() if isinstance(d, dict)}
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
        files = [self._journal.read(n, repair=True) for n in self._journal.numbers()]
        max_seq = last_seq
        for jf in files:
            ids = set()
            for event in jf.events:
                ids.add(event["id"])
                if event.get("device") == self.device_id:
                    max_seq = max(max_seq, int(event.get("seq", 0)))
                if event["id"] not in done and event["id"] not in self._rejected_ids:
                    self._pending[event["id"]] = jf.number
            self._journal_ids[jf.number] = ids
        all_journal_ids = set().union(*self._journal_ids.values()) if files else set()
        self._done = all_journal_ids & (done | self._rejected_ids)
        self._next_seq = max_seq + 1
        if files and files[-1].events:
            # the last journal may be partly folded (crash) or not at all (no close)
            self._journal.open_for_append(files[-1])
            self._fold_current(dedupe=True)
            self._start_journal()
        elif files:
            self._journal.open_for_append(files[-1])
        else:
            self._start_journal()
        self._drop_finished_journals()
        self._conflicts = ConflictLog(root / "conflicts.json", self._lock)
        self._quarantine = QuarantineLog(root / "quarantine.json", self._lock)
        self.profiles = Profiles(root / "profiles.json", self._lock)
        self.settings = Settings(root / "settings.json", root / "secrets.json", self._lock)

    def _load_device_id(self) -> str:
        storage = AtomicJSONStorage(self.root / "device.json", "device")
        tables = storage.read()
        if tables is None:
            device_id = "dev-" + uuid.uuid4().hex
            storage.write({"device": {"1": {"id": device_id, "created_at": now_iso(),
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
                    self._start_journal()
                    self._drop_finished_journals()
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
                event["at"] = now_iso()
            if event.get("id") is None:
                event["id"] = new_id()
            validate_event(event)
            if event_dict.get("id") is not None and event["id"] in self._ensure_index():
                raise EventError(f"id: {event['id']} is already stored")
            if self._journal.broken:
                self._journal.append(event)  # raises the "reopen the store" StoreError
            if self._journal.full:
                self._fold_current(dedupe=False)
                self._start_journal()
                self._drop_finished_journals()
            self._next_seq = event["seq"] + 1  # burnt even if the write fails: never reused
            self._journal.append(event)
            number = self._journal.current.number  # type: ignore[union-attr]
            self._pending[event["id"]] = number
            self._journal_ids.setdefault(number, set()).add(event["id"])
            if self._index is not None:
                self._index[event["id"]] = event["learner"]
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

    def outbox(self, limit: int = 500) -> list[Event]:
        """Local events not yet acknowledged or rejected, oldest first."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise StoreError(f"limit: expected an integer >= 0, got {limit!r}")
        with self._lock:
            self._check_open()
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
            hits = [i for i in ids_with_reasons if isinstance(i, str) and i in self._pending]
            if not hits:
                return 0
            bodies = self._bodies(hits)
            at = now_iso()
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
            fresh: dict[str, Event] = {}
            known: list[Event] = []
            for event in batch:
                if event["id"] in index:
                    known.append(event)
                elif event["id"] in fresh:
                    if differs(fresh[event["id"]], event):
                        known.append(event)
                else:
                    fresh[event["id"]] = event
            conflicts = self._find_conflicts(known, fresh, index)
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
            for event in written:
                index[event["id"]] = event["learner"]
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
                        index: dict[str, str]) -> list[tuple[Event, Event]]:
        """(kept, received) pairs for received events whose id is stored differently."""
        if not known:
            return []
        by_learner: dict[str, dict[str, Event]] = {}
        pairs: list[tuple[Event, Event]] = []
        for event in known:
            kept = fresh.get(event["id"])
            if kept is None:
                learner_id = index[event["id"]]
                stored = by_learner.get(learner_id)
                if stored is None:
                    stored = {e["id"]: e for e in self._history_of(learner_id)}
                    by_learner[learner_id] = stored
                kept = stored.get(event["id"])
            if kept is not None and differs(kept, event):
                pairs.append((copy_json(kept), event))
        return pairs

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

    def _ensure_index(self) -> dict[str, str]:
        """id -> learner of every stored event; read once, then kept up to date."""
        if self._index is None:
            index: dict[str, str] = {}
            for learner_id, learner in self._learners.items():
                for doc in learner.all_docs():
                    index[doc["event"]["id"]] = learner_id
            for event in self._unfolded():
                index[event["id"]] = event["learner"]
            self._index = index
        return self._index

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
                n = learner.add_chunk(rest)
                on_written([d["event"] for d in rest[:n]])
                rest = rest[n:]
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
            known: set[str] = set()
            for learner_id in {e["learner"] for e in todo}:
                learner = self._learners.get(learner_id)
                if learner is not None:
                    known.update(doc["event"]["id"] for doc in learner.all_docs())
            self._folded.update(e["id"] for e in todo if e["id"] in known)
            todo = [e for e in todo if e["id"] not in known]
        by_learner: dict[str, list[Event]] = {}
        for event in todo:
            by_learner.setdefault(event["learner"], []).append(event)
        for learner_id, group in by_learner.items():
            self._write_docs(learner_id, [{"event": e, "local": True} for e in group],
                             on_written=lambda evs: self._folded.update(e["id"] for e in evs))

    def _start_journal(self) -> None:
        jf = self._journal.start_new()
        self._journal_ids.setdefault(jf.number, set())
        self._folded.clear()

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
        if missing:
            raise StoreError(f"outbox: {len(missing)} event(s) missing from the journal files "
                             f"(e.g. {next(iter(missing))})")
        return out
