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
  and every seq still in the journal files (seqs only grow, so the newest journal file
  that holds events has the highest: `find_next_seq` reads only that one).

The index (which ids wait, in which journal file) is built on first use (`load`), from
the journal's index of closed files (journal.py) — not on open: a tablet that never
synced opens without reading its whole outbox. Until then `done` is what outbox.json
says, and nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.events import MAX_SEQ
from app.core.store.atomic import AtomicJSONStorage
from app.core.store.journal import Journal, JournalFile

#: seq numbers a merged event can never move this device's counter into (skip_seqs_past):
#: 2^40, a million taps a day for three thousand years
SEQ_HEADROOM = 2 ** 40

Event = dict[str, Any]


class Outbox:
    def __init__(self, root: Path, journal: Journal) -> None:
        self.journal = journal
        self._storage = AtomicJSONStorage(root / "outbox.json", "outbox")
        self._path = root / "outbox.json"
        #: the index below is built (`load`); until then nothing is in it
        self.loaded = False
        #: outbox ids in append order → the number of the journal file holding the event
        self.pending: dict[str, int] = {}
        #: every id of each journal file still on disk
        self.journal_ids: dict[int, set[str]] = {}
        #: acknowledged or rejected, journal file not yet deleted (until `load`: as
        #: outbox.json has it)
        self.done: set[str] = set()
        self.next_seq = 1
        self._saved_last_seq = 0   # last_seq as outbox.json has it on disk

    def read_state(self) -> None:
        """Read outbox.json (on open): `last_seq`, and the ids answered for whose journal
        files still exist."""
        state = self._storage.read() or {}
        meta = state.get("meta", {}).get("1", {})
        last_seq = meta.get("last_seq", 0)
        if not isinstance(last_seq, int) or last_seq < 0:
            raise StoreError(f"{self._path}: meta.last_seq: expected an integer")
        self._saved_last_seq = last_seq
        self.next_seq = last_seq + 1
        self.done = {d["id"] for d in state.get("done", {}).values()
                     if isinstance(d, dict) and isinstance(d.get("id"), str)}

    def find_next_seq(self, device_id: str) -> JournalFile | None:
        """On open: read the newest journal files only — the last one (appended to next,
        maybe half folded: returned) and, walking back, the first that holds events (it
        has the highest seq) — and set the next seq past it."""
        last: JournalFile | None = None
        max_seq = self.next_seq - 1
        for number in reversed(self.journal.numbers()):
            jf = self.journal.read(number, repair=True)
            last = last or jf
            if jf.events:
                own = [int(e.get("seq", 0)) for e in jf.events
                       if e.get("device") == device_id]
                max_seq = max([max_seq, *own])
                break
        self.next_seq = max_seq + 1
        return last

    def load(self, rejected: set[str]) -> None:
        """Build the index on first use: from the journal index, plus any file it has no
        record of, plus the current journal in memory."""
        if self.loaded:
            return
        current = self.journal.current
        numbers = [n for n in self.journal.numbers()
                   if current is None or n != current.number]
        files = self.journal.closed_ids(numbers)
        if current is not None:
            files[current.number] = [e["id"] for e in current.events]
        pending: dict[str, int] = {}        # in journal order: oldest first
        journal_ids: dict[int, set[str]] = {}
        for number in sorted(files):
            ids = files[number]
            journal_ids[number] = set(ids)
            pending.update(dict.fromkeys(ids, number))
        left = {i for i in self.done if i in pending}
        left.update(i for i in rejected if i in pending)
        for event_id in left:
            del pending[event_id]
        self.pending, self.journal_ids, self.done = pending, journal_ids, left
        self.loaded = True
        self.drop_finished_journals()

    def add(self, event_id: str, number: int) -> None:
        """A local event was written to journal file `number`."""
        if not self.loaded:
            return
        self.pending[event_id] = number
        self.journal_ids.setdefault(number, set()).add(event_id)

    def started(self, number: int) -> None:
        """A new journal file was started."""
        if self.loaded:
            self.journal_ids.setdefault(number, set())

    def skip_seqs_past(self, seq: int) -> None:
        """Events of this device id made elsewhere (a restored backup) were merged: the
        counter moves past them, on disk at once — but never into the last SEQ_HEADROOM
        numbers: an event pulled with this device's id and a seq near the largest
        allowed (another tablet's forgery: the id is in every event it pulls) would
        leave no number for the next tap, and the tablet could record nothing again."""
        if self.next_seq <= seq < MAX_SEQ - SEQ_HEADROOM:
            self.next_seq = seq + 1
            self.write_state(self.done)

    def first(self, limit: int, skip: Container[str] = ()) -> list[str]:
        """Up to `limit` outbox ids, oldest first, leaving out those in `skip`."""
        wanted: list[str] = []
        for event_id in self.pending:
            if len(wanted) >= limit:
                break
            if event_id not in skip:
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
        if not self.loaded:
            return        # nothing left the outbox since the store was opened
        current = self.journal.current.number if self.journal.current else None
        finished = [n for n in sorted(self.journal_ids)
                    if n != current and self.journal_ids[n] <= self.done]
        if not finished:
            return
        if self._saved_last_seq < self.next_seq - 1:
            # the seqs in these files must stay known after they are gone
            self.write_state(self.done)
        self.journal.delete(finished)
        for number in finished:
            self.done -= self.journal_ids.pop(number)

    def write_state(self, done: set[str]) -> None:
        self._storage.write({
            "meta": {"1": {"last_seq": self.next_seq - 1}},
            "done": {str(i + 1): {"id": d} for i, d in enumerate(sorted(done))},
        })
        self._saved_last_seq = self.next_seq - 1

    def bodies(self, ids: list[str],
               stored: Callable[[list[str]], dict[str, Event]]) -> dict[str, Event]:
        """Event bodies of outbox ids, read from their journal files (the caller copies
        them before handing them out); `stored` reads ids from the segments, which hold
        every folded event too (a journal line damaged after its file was indexed)."""
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
            out.update(stored(list(missing)))
            missing = wanted - set(out)
        if missing:
            raise StoreError(f"outbox: {len(missing)} event(s) missing from the journal files "
                             f"(e.g. {next(iter(missing))})")
        return out
