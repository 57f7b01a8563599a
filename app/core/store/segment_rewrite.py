"""Rewriting one learner's segments without some of their documents, crash-safely
(tablet retention: app/core/store/ageing.py).

Segments are otherwise append-only, and a document's position is its place in them, so a
rewrite writes the documents that stay into *new* segment files numbered after the old
ones, then deletes the old ones. A marker file, ``learners/<key>/rewrite.json``
``{"old_last": n, "new_segments": m}``, is written (atomically, fsync'd) before the first
new segment and deleted after the last old one is gone; `recover` — called whenever a
learner folder is loaded — finishes or undoes a rewrite a crash interrupted:

* all `m` new segments are there (each was written atomically: whole or absent) → the
  old ones (numbers ≤ n) are deleted: the rewrite is done;
* fewer → the new ones are deleted: the old segments, untouched, are the history.

Either way no document is lost or doubled, and the marker goes last. The marker has a
copy, ``rewrite.copy.json`` (`_write_markers`): either will do; only when neither can be
read (damaged, tampered with) or fits is the decision taken from the segments
(`_unplanned`; docs/store.md "A marker that cannot be read").
Positions change,
so the caller drops what names positions (the id index, the fold snapshot's mark: both
are checked against the segments and rebuilt — idindex.py, snapshots.py).

A rewrite of a long history is written in steps, so that the store's lock is not held
for all of it (ageing.py): `begin` writes the marker ``{"staged_from": f}`` and
`write_next` adds full new segments numbered from `f` = old last + GAP + 1 (a tap's
events appended meanwhile take the numbers just after the old last segment, below `f`);
`commit` writes the rest — the last documents and any appended since — after replacing
the marker by ``{"old_last": n, "new_segments": m}``, and from then on goes as above.
`recover` of a ``staged_from`` marker deletes the segments from `f` on: a crash while
staging leaves the old segments and whatever was appended since, as if no rewrite had
begun. `abandon` does the same at once. Should the log grow up to `f` while a rewrite is
staged (GAP segments' worth appended meanwhile), the segment that would take `f` first
abandons the rewrite (`LearnerLog.release_reserved`): a staged number never becomes one
of the log's own, which `abandon` or `recover` would then delete.

Once `commit` has begun, its own ending settles the files — `recover` reads the marker
on disk and finishes or undoes the rewrite, whichever it says — so `abandon` does
nothing after it, even when `commit` raised: the marker may already name the new
segments as the only history.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.errors import StoreError
from app.core.store.atomic import (
    AtomicJSONStorage,
    atomic_write_bytes,
    describe_os_error,
    fsync_dir,
    load_tables,
    read_file_bytes,
)

log = logging.getLogger("app.core.store.store")

MARKER = "rewrite.json"
#: the marker and its copy (`_write_markers`)
MARKERS = (MARKER, "rewrite.copy.json")
KIND = "segment"
#: new segments are numbered from the old last one + GAP + 1: what a tap appends while a
#: rewrite is staged takes the numbers in between (256,000 documents at the default
#: capacity: more than any history gains in one rewrite; should it, the rewrite is
#: abandoned first — module docstring)
GAP = 1000
_GENERATIONS = itertools.count(1)


def next_generation() -> int:
    """A number no learner log of this process had (snapshots.HistoryMark.generation)."""
    return next(_GENERATIONS)


class LearnerLog(Protocol):
    """What a rewrite changes of a learner's segments (segments.LearnerLog)."""

    folder: Path
    learner_id: str
    capacity: int
    numbers: list[int]
    last_count: int
    reserved_from: int | None
    release_reserved: Callable[[], None] | None
    generation: int
    broken: bool

    def path_of(self, number: int) -> Path: ...

    def close(self) -> None: ...


def listed(folder: Path) -> list[int]:
    """The numbers of the segment files in `folder`, in order (as they are on disk)."""
    return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())


def recovered(folder: Path) -> list[int]:
    """The numbers of the learner's segments in `folder`, once an interrupted rewrite
    there is finished or undone (`recover`)."""
    return recover(folder, listed(folder))


def recover(folder: Path, numbers: list[int]) -> list[int]:
    """Finish or undo an interrupted rewrite in `folder` (module docstring); returns the
    segment numbers that remain. The plan is in the marker and in its copy (either
    will do: a bit flipped in one is not a guess); only when neither can be read, or
    what they say cannot fit these segments, do the segments decide (`_unplanned`)."""
    markers = [folder / name for name in MARKERS if (folder / name).exists()]
    if not markers:
        return numbers
    plan = _plan(folder, markers, numbers)
    if plan is None:
        doomed = _unplanned(folder, numbers)
    elif "staged_from" in plan:
        doomed = [n for n in numbers if n >= plan["staged_from"]]
    else:
        new = [n for n in numbers if n > plan["old_last"]]
        doomed = [n for n in numbers if n <= plan["old_last"]] \
            if len(new) == plan["new_segments"] else new
    for number in doomed:
        with contextlib.suppress(FileNotFoundError):
            (folder / f"{number:06d}.json").unlink()
    fsync_dir(folder)
    _drop_markers(folder)
    return [n for n in numbers if n not in doomed]


def _plan(folder: Path, markers: list[Path], numbers: list[int]) -> dict[str, int] | None:
    """The first plan of `markers` that can be read and fits `numbers`; None when none
    does (logged). A plan fits when a rewrite could have written it: a staged rewrite
    always leaves an old segment below the staged ones, a commit always writes at least
    one new segment. A marker that does not open stays where it is (an encrypted folder
    would move it aside, and a recovery cut short would then leave the next load no
    marker at all, reading both sets of segments as one history); the recovery deletes
    it at its end, like any."""
    for marker in markers:
        raw = read_file_bytes(marker, set_aside=False)   # the plaintext, encrypted too
        if raw is None:                    # does not open (sealed.py)
            log.error("%s: the rewrite marker does not open", marker)
            continue
        try:
            plan = json.loads(raw)
        except ValueError:
            plan = None
        if isinstance(plan, dict) and all(type(v) is int for v in plan.values()):
            if set(plan) == {"staged_from"} and numbers and numbers[0] < plan["staged_from"]:
                return plan
            if set(plan) == {"old_last", "new_segments"} and plan["new_segments"] >= 1:
                return plan
        log.error("%s: a rewrite marker that does not fit the segments (%r)", marker,
                  bytes(raw[:80]))
    log.error("%s: no rewrite marker can be read; the segments decide whether the "
              "interrupted rewrite is finished or undone", folder)
    return None


def _write_markers(folder: Path, plan: dict[str, int]) -> None:
    """The plan into the marker, then into its copy (each atomic, fsync'd). A crash
    between leaves the copy one step behind: a staged plan where the commit's is in
    the marker — which undoes the rewrite, right at that point (no old segment has gone
    before both say the commit's plan)."""
    body = json.dumps(plan).encode()
    for name in MARKERS:
        atomic_write_bytes(folder / name, body)


def _drop_markers(folder: Path) -> None:
    """The copy first: a marker left alone is read the next time, and says the same."""
    for name in reversed(MARKERS):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    fsync_dir(folder)


def _unplanned(folder: Path, numbers: list[int]) -> list[int]:
    """The segments to delete when no marker says which rewrite step was cut short —
    both damaged. The numbers say where: the new segments are numbered from the old
    last one + GAP + 1, so a rewrite under way leaves two runs, the old below a jump of
    more than GAP / 2 and the new above it (each stays a run: both are deleted from
    their low end). The ids say what: a rewrite copies documents of the old segments,
    so a new one holding an id that none of the old holds means the old ones had begun
    to go — which happens only once every new segment is there: the rewrite is finished
    (the old ones go). Otherwise it is undone (the new ones go): the old hold every
    document the new ones do, and an old segment that went held only documents that aged
    out (the retained fold has them, ageing.py).

    Nothing is deleted — both runs stay, a kept document may show twice — whenever that
    reasoning could be misled by damage: a segment that does not open, or a hole in the
    old run (a damaged segment moved aside: its ids would look like a finish). One run:
    nothing was staged yet, or nothing of the old is left."""
    jumps = [i for i in range(1, len(numbers)) if numbers[i] - numbers[i - 1] > GAP // 2]
    if len(jumps) != 1:
        return []
    old, new = numbers[:jumps[0]], numbers[jumps[0]:]
    if old[-1] - old[0] != len(old) - 1:
        log.error("%s: a hole in the old segments; none is deleted", folder)
        return []
    try:
        kept: set[str] = set()
        for number in old:
            kept.update(_ids(folder / f"{number:06d}.json"))
        if any(not kept.issuperset(_ids(folder / f"{number:06d}.json")) for number in new):
            return old
    except StoreError as exc:
        log.error("%s: %s; no segment is deleted", folder, exc)
        return []
    return new


def _ids(path: Path) -> set[str]:
    """The event ids of one segment file (StoreError when it does not open)."""
    tables = load_tables(path, KIND)
    if tables is None:
        raise StoreError(f"{path}: missing or moved aside")
    docs = tables.get("events", {})
    out: set[str] = set()
    for doc in docs.values() if isinstance(docs, dict) else ():
        event = doc.get("event") if isinstance(doc, dict) else None
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            out.add(event["id"])
    return out


@dataclass
class Rewrite:
    """A rewrite being staged (module docstring)."""

    log: LearnerLog
    first: int                       # the number of the first new segment
    segments: int = 0                # new full segments written so far
    committed: bool = False          # commit began: its ending settles the files, no undo
    abandoning: bool = False         # an abandon began (it may have failed half-way)
    abandoned: bool = False          # its staged segments are gone
    numbers: list[int] = field(default_factory=list)

    @property
    def documents(self) -> int:
        """The documents staged so far (every staged segment is full)."""
        return self.segments * self.log.capacity

    def clashes(self) -> bool:
        """Whether the rewrite can no longer go on: abandoned (the log grew up to the
        staged numbers), or the log's own segments reached them."""
        return self.abandoning or (bool(self.log.numbers) and self.log.numbers[-1] >= self.first)


def begin(learner: LearnerLog) -> Rewrite:
    """Start staging a rewrite of the learner's segments (under the store's lock)."""
    if any((learner.folder / name).exists() for name in MARKERS):
        raise StoreError(f"{learner.folder}: a rewrite of these segments is under way")
    first = learner.numbers[-1] + GAP + 1
    _write_markers(learner.folder, {"staged_from": first})
    staged = Rewrite(learner, first)
    learner.reserved_from, learner.release_reserved = first, lambda: abandon(staged)
    return staged


def write_next(rewrite: Rewrite, chunk: list[dict[str, Any]]) -> None:
    """Add one full new segment (`capacity` documents; under the store's lock)."""
    if len(chunk) != rewrite.log.capacity:
        raise StoreError(f"{rewrite.log.folder}: a staged segment holds "
                         f"{rewrite.log.capacity} documents, not {len(chunk)}")
    number = rewrite.first + rewrite.segments
    rewrite.numbers.append(number)      # before the write: `abandon` removes a torn one
    _write(rewrite.log, number, chunk)
    rewrite.segments += 1


def abandon(rewrite: Rewrite) -> None:
    """Undo a staged rewrite that was not committed: its segments and marker go, the
    log's own segments stay as they are (under the store's lock). Done once it all
    succeeded, and only then is the reservation let go: a number it freed may then be
    taken by the log. A file that cannot be deleted is a StoreError and the rewrite stays
    reserved — the segment that would take a staged number tries again first, so none
    is taken while the `staged_from` marker (which the next load acts on) is there."""
    if rewrite.committed or rewrite.abandoned:
        return
    rewrite.abandoning = True            # whatever happens below, it stages no more
    folder = rewrite.log.folder
    try:
        for number in rewrite.numbers:
            with contextlib.suppress(FileNotFoundError):
                rewrite.log.path_of(number).unlink()
        if folder.is_dir():
            _drop_markers(folder)
    except OSError as exc:
        raise StoreError(describe_os_error(exc, folder, "undoing a staged rewrite")) \
            from exc
    rewrite.abandoned = True
    _release(rewrite.log)


def _release(learner: LearnerLog) -> None:
    learner.reserved_from, learner.release_reserved = None, None


def commit(rewrite: Rewrite, rest: list[dict[str, Any]], count: int,
           prepare: Callable[[], None] | None = None) -> None:
    """Finish a staged rewrite: `rest` (the documents after the staged ones) goes into
    the last new segments, then the old segments go (under the store's lock; module
    docstring). The staged documents and `rest` must be `count`, at least one — else
    (a segment read short, say) nothing changes. `prepare()` runs once the rewrite is
    sure to go ahead, before the old segments can go (the caller drops its caches that
    name positions). StoreError when a check or a write fails: undone, now or by the
    next load."""
    learner = rewrite.log
    if count < 1 or rewrite.documents + len(rest) != count:
        abandon(rewrite)
        raise StoreError("a rewrite keeps at least one document" if count < 1 else
                         f"{learner.folder}: a rewrite got {rewrite.documents + len(rest)} "
                         f"documents, expected {count}")
    if rewrite.clashes():
        abandon(rewrite)
        raise StoreError(f"{learner.folder}: segments were added up to the staged ones")
    if prepare is not None:
        prepare()
    learner.close()                      # the open TinyDB of the last segment
    capacity = learner.capacity
    segments = rewrite.segments + -(-len(rest) // capacity)
    old_last, old_count = learner.numbers[-1], learner.last_count
    rewrite.committed = True             # from here on the `finally` settles the files
    _release(learner)
    try:
        _write_markers(learner.folder, {"old_last": old_last, "new_segments": segments})
        for start in range(0, len(rest), capacity):
            number = rewrite.first + rewrite.segments + start // capacity
            _write(learner, number, rest[start:start + capacity])
    finally:      # done, or undone after a failed write: the log matches the files again
        try:
            learner.numbers = recovered(learner.folder)
        except OSError as exc:           # the next use tries again (LearnerLog.recover_now)
            learner.broken = True
            raise StoreError(describe_os_error(exc, learner.folder, "finishing a rewrite")) \
                from exc
        except BaseException:
            learner.broken = True
            raise
        done = learner.numbers[-1] > old_last
        if done:                         # positions moved: older marks no longer fit
            learner.generation = next_generation()
        last = len(rest) - (-(-len(rest) // capacity) - 1) * capacity if rest else capacity
        learner.last_count = last if done else old_count
    if not done:                         # staged segments went missing meanwhile
        raise StoreError(f"{learner.folder}: the rewrite was undone (its new segments were "
                         "not all there); the history is as it was")


def rewrite(learner: LearnerLog, count: int, docs: Iterable[dict[str, Any]]) -> None:
    """Replace the learner's segments by segments holding exactly `docs` — `count` of
    them, at least one — in order, in one go (the store's lock held throughout; it may
    read the old segments: they go only at the end). StoreError when a write fails, or
    `docs` does not hold `count`: undone at once (or by the next load)."""
    if count < 1:                        # before any file is written
        raise StoreError("a rewrite keeps at least one document")
    staged = begin(learner)
    try:
        chunk: list[dict[str, Any]] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) == learner.capacity:
                write_next(staged, chunk)
                chunk = []
        commit(staged, chunk, count)
    finally:
        abandon(staged)                  # a no-op once committed


def _write(learner: LearnerLog, number: int, chunk: list[dict[str, Any]]) -> int:
    AtomicJSONStorage(learner.path_of(number), KIND).write(
        {"meta": {"1": {"learner": learner.learner_id}},
         "events": {str(i + 1): dict(d) for i, d in enumerate(chunk)}})
    return len(chunk)
