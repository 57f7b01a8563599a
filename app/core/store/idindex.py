"""The id index: for every event id in the segments, its learner and position.

`merge` must know whether a pulled id is stored already (anywhere: union by id), and
where (to compare contents for the conflict log); an open after a crash must know which
journal events a half-done fold already wrote. Reading every segment of every learner
for that cost 1.4 s at 100,000 events; the index answers from two files:

``index/ids.bin`` — the base: a sorted blob of fixed-width records
    ``<id><learner number: 4 bytes><position: 4 bytes>`` (sortedids.py; looked up by
    binary search, loaded as one bytes object), with a header naming the learners and
    how many documents of each it covers (and the rare ids that are not 36 characters).
``index/ids.log`` — the tail: a record ``[learner, start, [id, …]]`` appended, without
    fsync, after every segment write (records.py format).

Both are a cache of the segments, checked against them on load: for each learner the
base's count plus the log records that follow it without a gap must not exceed the
learner's documents; what they lack (a record lost in a crash, a torn line, an older
app that wrote no index) is read from the segments, and an index that claims more than
the segments hold (a partial restore) is rebuilt from the segments. When the tail holds
`COMPACT_AFTER` ids it is merged into a new base (written atomically, then the log is
emptied; a crash in between leaves log records the base covers already, which are
skipped).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from app.core.errors import StoreError
from app.core.store.atomic import fsync_dir, read_binary_file, write_binary_file
from app.core.store.records import Appender, read_records, write_records
from app.core.store.sortedids import SortedIds, fits

log = logging.getLogger(__name__)

BASE_FILE = "ids.bin"
BASE_KIND = "id-index"
LOG_FILE = "ids.log"
LOG_KIND = "id-log"
#: ids in the tail that trigger a new base (amortised: one rewrite per this many events)
COMPACT_AFTER = 4096
#: log bytes after which an index nobody loaded yet should be loaded and compacted
#: (a tablet that never merges would otherwise grow the log with its history)
LOG_BYTES_LIMIT = 512 * 1024
_PAYLOAD = struct.Struct(">II")     # learner number, position

Where = tuple[str, int]             # (learner, position)


class Segments(Protocol):
    """What the index needs of a learner's segments (segments.LearnerLog)."""

    @property
    def count(self) -> int: ...

    def docs_from(self, start: int) -> Any: ...


class IdIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded = False
        self._log = Appender(folder / LOG_FILE, LOG_KIND)
        self._base = SortedIds(b"", _PAYLOAD.size)
        self._numbers: list[str] = []              # learner number -> learner id
        self._others: dict[str, Where] = {}        # ids that do not fit the blob
        self._tail: dict[str, Where] = {}          # beyond the base
        self._covered: dict[str, int] = {}         # learner -> documents indexed
        self.tail_limit = COMPACT_AFTER

    # -- writing -------------------------------------------------------------------------
    @property
    def wants_load(self) -> bool:
        """Not loaded, and the log grew past LOG_BYTES_LIMIT: load (and so compact) it."""
        return not self.loaded and self._log.size > LOG_BYTES_LIMIT

    def record(self, learner_id: str, start: int, ids: list[str]) -> None:
        """`ids` were just written at positions start, start+1, … of the learner."""
        self._log.append([[learner_id, start, ids]])
        if not self.loaded:
            return
        if self._covered.get(learner_id, 0) == start:
            self._covered[learner_id] = start + len(ids)
        for offset, event_id in enumerate(ids):
            self._tail[event_id] = (learner_id, start + offset)
        if len(self._tail) >= self.tail_limit:
            self.compact()

    # -- reading -------------------------------------------------------------------------
    def find(self, event_id: str) -> Where | None:
        """(learner, position) of a stored id, or None."""
        hit = self._tail.get(event_id)
        if hit is not None:
            return hit
        if fits(event_id):
            payload = self._base.find(event_id)
            if payload is None:
                return None
            number, position = _PAYLOAD.unpack(payload)
            return self._numbers[number], position
        return self._others.get(event_id)

    def __len__(self) -> int:
        return len(self._base) + len(self._others) + len(self._tail)

    # -- loading -------------------------------------------------------------------------
    def load(self, learners: Mapping[str, Segments]) -> None:
        """Read base + log, check them against the learners' segments, fill what they
        lack from the segments (see the module docstring)."""
        rewrite = not self._read_base()
        found = self._read_log()
        counts = {learner_id: seg.count for learner_id, seg in learners.items()}
        if any(n > counts.get(learner_id, 0) for learner_id, n in self._covered.items()):
            log.warning("%s: the id index lists events the segments do not hold; "
                        "rebuilt from the segments", self.folder)
            self._reset()
            rewrite = True
        elif found is not None:
            rewrite = self._take_log(found.records, counts) or bool(found.damaged) or rewrite
        for learner_id, seg in learners.items():
            have = self._covered.get(learner_id, 0)
            if have < seg.count:
                rewrite = True
                for docs in seg.docs_from(have):
                    for doc in docs:
                        self._tail[doc["event"]["id"]] = (learner_id, have)
                        have += 1
                self._covered[learner_id] = have
        self.loaded = True
        if rewrite or len(self._tail) >= self.tail_limit:
            self.compact()

    def forget(self) -> None:
        """Drop the index, files and memory (erasure.py: it names event ids that are gone);
        the next use rebuilds it from the segments, as for a tablet that never had one."""
        self._log.close()
        for name in (BASE_FILE, LOG_FILE):
            (self.folder / name).unlink(missing_ok=True)
        if self.folder.is_dir():         # durably: the files name ids or positions gone
            fsync_dir(self.folder)
        self._log = Appender(self.folder / LOG_FILE, LOG_KIND)
        self.loaded = False
        self._reset()

    def _reset(self) -> None:
        self._base = SortedIds(b"", _PAYLOAD.size)
        self._numbers, self._others, self._tail, self._covered = [], {}, {}, {}

    def _read_base(self) -> bool:
        """Load ids.bin; False when it is missing or unusable (then start empty)."""
        try:
            found = read_binary_file(self.folder / BASE_FILE, BASE_KIND)
        except StoreError as exc:
            log.warning("id index base ignored, rebuilt: %s", exc)
            return False
        if found is None:
            return False
        meta, blob = found
        try:
            numbers, covered, others = meta["learners"], meta["covered"], meta["others"]
            if not (isinstance(numbers, list) and all(isinstance(n, str) for n in numbers)
                    and isinstance(covered, dict) and isinstance(others, dict)):
                raise TypeError("learners, covered or others malformed")
            base = SortedIds(bytes(blob), _PAYLOAD.size)
            self._covered = {str(k): int(v) for k, v in covered.items()}
            self._others = {str(k): (numbers[v[0]], int(v[1])) for k, v in others.items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            log.warning("id index base ignored, rebuilt: %s", exc)
            self._reset()
            return False
        self._base, self._numbers = base, numbers
        return True

    def _read_log(self) -> Any:
        try:
            return read_records(self.folder / LOG_FILE, LOG_KIND)
        except StoreError as exc:
            log.warning("id log ignored: %s", exc)
            return None

    def _take_log(self, records: list[Any], counts: Mapping[str, int]) -> bool:
        """Add the log records that continue each learner's covered documents without
        a gap (others are left to the segment read). True when some were unusable."""
        spans: dict[str, list[tuple[int, list[str]]]] = {}
        bad = False
        for record in records:
            if (isinstance(record, list) and len(record) == 3 and isinstance(record[0], str)
                    and type(record[1]) is int and isinstance(record[2], list)):
                spans.setdefault(record[0], []).append((record[1], record[2]))
            else:
                bad = True
        for learner_id, found in spans.items():
            have = self._covered.get(learner_id, 0)
            for start, ids in sorted(found, key=lambda s: s[0]):
                if start > have:
                    bad = True
                    break
                for offset in range(have - start, len(ids)):
                    event_id = ids[offset]
                    if isinstance(event_id, str):
                        self._tail[event_id] = (learner_id, start + offset)
                have = max(have, start + len(ids))
            if have > counts.get(learner_id, 0):     # the log runs ahead of the segments
                log.warning("%s: the id log lists events of a learner the segments do not "
                            "hold; rebuilt from the segments", self.folder)
                self._reset()
                return True
            self._covered[learner_id] = have
        return bad

    # -- compaction ----------------------------------------------------------------------
    def compact(self) -> None:
        """Merge the tail into a new base (atomic), then empty the log. A failure leaves
        the previous files (logged: the next load checks them again)."""
        numbers = list(self._numbers)
        number_of = {learner_id: i for i, learner_id in enumerate(numbers)}

        def number(learner_id: str) -> int:
            if learner_id not in number_of:
                number_of[learner_id] = len(numbers)
                numbers.append(learner_id)
            return number_of[learner_id]

        others = dict(self._others)
        fitting = []
        for event_id, (learner_id, position) in self._tail.items():
            if fits(event_id):
                fitting.append((event_id, _PAYLOAD.pack(number(learner_id), position)))
            else:
                others[event_id] = (learner_id, position)
        base = self._base.merged(fitting)
        meta = {"learners": numbers, "covered": self._covered,
                "others": {k: [number(lid), pos] for k, (lid, pos) in others.items()}}
        self._log.close()
        try:
            self.folder.mkdir(exist_ok=True)
            write_binary_file(self.folder / BASE_FILE, BASE_KIND, meta, base.blob)
            write_records(self.folder / LOG_FILE, LOG_KIND, [])
        except (OSError, StoreError) as exc:
            log.warning("could not rewrite the id index (kept as it was): %s", exc)
            return
        finally:
            self._log = Appender(self.folder / LOG_FILE, LOG_KIND)
        self._base, self._numbers, self._others, self._tail = base, numbers, others, {}

    def close(self) -> None:
        self._log.close()
