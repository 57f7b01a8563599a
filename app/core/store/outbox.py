"""The outbox: local events the server has not acknowledged or rejected yet, and the
per-device ``seq`` counter (part of the Store, app/core/store/store.py; not thread-safe
on its own — the Store calls it under its lock).

The journal files (journal.py) hold every local event until the server has answered for
all of a file's events; ``outbox.json`` records the ids answered for while their journal
file still exists, and ``last_seq``. Invariants (tests/integration/test_store_crash.py):

* ids leave the outbox only after ``outbox.json`` says so (written first), so a crash
  right after an acknowledgement cannot bring them back;
* ``last_seq`` is written before any journal file is deleted, so a seq is never handed
  out twice, whatever was killed when: the next seq is 1 + the highest of ``last_seq``
  and every seq still in the journal files.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.store.atomic import AtomicJSONStorage
from app.core.store.journal import Journal, JournalFile

Event = dict[str, Any]


class Outbox:
    def __init__(self, root: Path, journal: Journal) -> None:
        self.journal = journal
        self._storage = AtomicJSONStorage(root / "outbox.json", "outbox")
        self._path = root / "outbox.json"
        #: outbox ids in append order → the number of the journal file holding the event
        self.pending: OrderedDict[str, int] = OrderedDict()
        #: every id of each journal file still on disk
        self.journal_ids: dict[int, set[str]] = {}
        #: acknowledged or rejected, journal file not yet deleted
        self.done: set[str] = set()
        self.next_seq = 1
        self._saved_last_seq = 0   # last_seq as outbox.json has it on disk

    def read_state(self) -> set[str]:
        """Read outbox.json (on open): `last_seq`, and the ids answered for whose journal
        files still exist (returned)."""
        state = self._storage.read() or {}
        meta = state.get("meta", {}).get("1", {})
        last_seq = meta.get("last_seq", 0)
        if not isinstance(last_seq, int) or last_seq < 0:
            raise StoreError(f"{self._path}: meta.last_seq: expected an integer")
        self._saved_last_seq = last_seq
        self.next_seq = last_seq + 1
        return {d["id"] for d in state.get("done", {}).values()
                if isinstance(d, dict) and isinstance(d.get("id"), str)}

    def scan(self, files: list[JournalFile], device_id: str, done: set[str],
             rejected: set[str]) -> None:
        """Rebuild the outbox from the journal files found on open."""
        max_seq = self.next_seq - 1
        for jf in files:
            ids = set()
            for event in jf.events:
                ids.add(event["id"])
                if event.get("device") == device_id:
                    max_seq = max(max_seq, int(event.get("seq", 0)))
                if event["id"] not in done and event["id"] not in rejected:
                    self.pending[event["id"]] = jf.number
            self.journal_ids[jf.number] = ids
        all_journal_ids = set().union(*self.journal_ids.values()) if files else set()
        self.done = all_journal_ids & (done | rejected)
        self.next_seq = max_seq + 1

    def add(self, event_id: str, number: int) -> None:
        """A local event was written to journal file `number`."""
        self.pending[event_id] = number
        self.journal_ids.setdefault(number, set()).add(event_id)

    def started(self, number: int) -> None:
        """A new journal file was started."""
        self.journal_ids.setdefault(number, set())

    def skip_seqs_past(self, seq: int) -> None:
        """Events of this device id made elsewhere (a restored backup) were merged: the
        counter moves past them, on disk at once."""
        if seq >= self.next_seq:
            self.next_seq = seq + 1
            self.write_state(self.done)

    def first(self, limit: int) -> list[str]:
        """Up to `limit` outbox ids, oldest first."""
        wanted: list[str] = []
        for event_id in self.pending:
            if len(wanted) >= limit:
                break
            wanted.append(event_id)
        return wanted

    def pending_of(self, ids: Iterable[str]) -> list[str]:
        """Those of `ids` still in the outbox, each once."""
        return [i for i in dict.fromkeys(ids) if i in self.pending]

    def finish(self, hits: list[str]) -> None:
        """`hits` leave the outbox for good (acknowledged or rejected): outbox.json is
        written first, so a crash right after cannot bring them back."""
        self.write_state(self.done | set(hits))
        self.done.update(hits)
        for event_id in hits:
            del self.pending[event_id]
        self.drop_finished_journals()

    def drop_finished_journals(self) -> None:
        """Delete journal files whose events were all acknowledged or rejected."""
        current = self.journal.current.number if self.journal.current else None
        finished = [n for n in sorted(self.journal_ids)
                    if n != current and self.journal_ids[n] <= self.done]
        if not finished:
            return
        if self._saved_last_seq < self.next_seq - 1:
            # the seqs in these files must stay known after they are gone
            self.write_state(self.done)
        for number in finished:
            self.journal.delete(number)
            self.done -= self.journal_ids.pop(number)

    def write_state(self, done: set[str]) -> None:
        self._storage.write({
            "meta": {"1": {"last_seq": self.next_seq - 1}},
            "done": {str(i + 1): {"id": d} for i, d in enumerate(sorted(done))},
        })
        self._saved_last_seq = self.next_seq - 1

    def bodies(self, ids: list[str]) -> dict[str, Event]:
        """Event bodies of outbox ids, read from their journal files (the caller copies
        them before handing them out)."""
        out: dict[str, Event] = {}
        wanted = set(ids)
        numbers = sorted({self.pending[i] for i in ids if i in self.pending})
        current = self.journal.current
        for number in numbers:
            jf = current if current is not None and number == current.number \
                else self.journal.read(number)
            for event in jf.events:
                if event["id"] in wanted:
                    out[event["id"]] = event
        missing = wanted - set(out)
        if missing:
            raise StoreError(f"outbox: {len(missing)} event(s) missing from the journal files "
                             f"(e.g. {next(iter(missing))})")
        return out
