"""Fold snapshots: a learner's state derived from their events, saved so that sign-in
costs what happened since, not the whole history.

The store does not know what a fold is; it keeps opaque payloads with two facts:

- the `HistoryMark` the payload covers: the first `count` documents of the learner's
  segments (positions never change — segments are append-only), the last of them
  `last_id`; `Store.history_since(learner, mark, apply)` hands over exactly the events
  beyond it, or None when the mark does not fit the stored history (then the caller
  recomputes from nothing);
- the caller's `version` (its fold code and payload format): a payload of another
  version is useless to it.

A folded state may also hold events beyond the mark (the current journal's, handed over
before they were folded into the segments): they come again after the mark, and the
folds (idempotent by event id) ignore them. So a snapshot is never ahead of the stored
history and never misses an event: restored + what comes after = a full recompute.

The files: ``learners/<key>/<name>.snap`` (atomic.write_binary_file: header with the
payload's size and CRC-32, then the payload), written atomically — a crash while one is
written leaves the previous one whole — and read back only whole: damaged, foreign or
unreadable ones are ignored (logged), since a snapshot can always be recomputed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import StoreError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
#: longest version text a caller may use
MAX_VERSION_CHARS = 200


@dataclass(frozen=True, slots=True)
class HistoryMark:
    """How much of a learner's stored history a state covers: the first `count` stored
    documents, the last of them with id `last_id` (None when count is 0)."""

    count: int
    last_id: str | None
    #: the generation of the learner's segments the mark was taken from (in memory only;
    #: segments.LearnerLog.generation): a rewrite — retention — starts a new one, and a
    #: mark of an older one no longer fits, whatever its count and last id say (the
    #: documents after it may have aged out unseen). 0: unknown, checked by position only
    generation: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    mark: HistoryMark
    version: str
    #: bytes to write; a read gives a memoryview of the bytes read (no copy)
    payload: bytes | memoryview


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"snapshot name: expected [a-z][a-z0-9-]{{0,31}}, got {name!r}")
    return name


def meta_of(device_id: str, learner_id: str, name: str, snapshot: Snapshot) -> dict[str, Any]:
    if not isinstance(snapshot.version, str) or len(snapshot.version) > MAX_VERSION_CHARS:
        raise StoreError(f"snapshot version: expected text of at most {MAX_VERSION_CHARS} "
                         "characters")
    if not isinstance(snapshot.payload, bytes | memoryview):
        raise StoreError("snapshot payload: expected bytes")
    return {"device": device_id, "learner": learner_id, "name": name,
            "version": snapshot.version, "count": snapshot.mark.count,
            "last_id": snapshot.mark.last_id}


def snapshot_of(device_id: str, learner_id: str, name: str, meta: dict[str, Any],
                payload: bytes | memoryview, generation: int = 0, *,
                any_device: bool = False) -> Snapshot | None:
    """The snapshot a file's header describes, or None when it is not this store's
    (positions are per data folder: the device id — unless `any_device`, for a payload
    that names no positions), this learner's `name` snapshot, or the header is
    malformed."""
    count, last_id, version = meta.get("count"), meta.get("last_id"), meta.get("version")
    if (meta.get("device") != device_id and not any_device) \
            or meta.get("learner") != learner_id or meta.get("name") != name:
        return None
    if type(count) is not int or count < 1 or not isinstance(last_id, str) \
            or not isinstance(version, str):
        return None
    return Snapshot(HistoryMark(count, last_id, generation), version, payload)
