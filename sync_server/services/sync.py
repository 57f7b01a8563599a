"""Push and pull of the sync protocol (docs/sync-protocol.md).

Push: profiles first (so a learner made offline exists before their events), then every
event is checked — envelope (app.core.events.validate_event: canonical UUID, seq ≤ 2^53,
size and depth limits of app.core.bounded_json), not a server-only type, the payload
(app.core.learning.payloads.check_payload, the same check the tablet's engine and folds
use), sane `at`, known learner of the pushing device's facility — and stored
idempotently. The answer names every id as
stored, duplicate or rejected with a reason; a client drops stored + duplicate ids from
its outbox.

`receive_push` is the endpoint's entry: the push is charged to the device's daily quota
(quota.py) — in the transaction that stores its events, or first when it carries
profiles — and the events it newly stored go to the `PushHook`s (the certificate
issuer, services/issuing.py) before the answer is sent.

Pull: events of every learner of the device's facility (so a colleague who used another
tablet finds their history on this one) and the facility's profiles, each after its own
cursor, a page at a time (`pull`; the answer is spliced by `pull_body`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from app.core.bounded_json import MAX_DEPTH, within_depth
from app.core.canonical import canonical_json
from app.core.clock import now_iso, now_utc
from app.core.errors import EventError
from app.core.events import format_at, validated_json
from app.core.learning.payloads import check_payload
from sync_server.db.repository import Device, EventRow, ProfileResult, Repository, StoredEvent
from sync_server.db.usage import UsageCharge, UsageRefused
from sync_server.services import profiles as profile_service
from sync_server.services import quota
from sync_server.settings import Settings

MAX_FUTURE = timedelta(days=1)
EARLIEST_AT = datetime(2020, 1, 1, tzinfo=UTC)
MAX_PROFILES_PAGE = 1000
#: Event types only the server makes (a device that pushes one is refused: a certificate
#: is value the server creates after checking its own records, docs/certificates.md) —
#: except exactly an event this server made, which a tablet offers back after the server
#: was restored from a backup (``server_made`` checks, docs/sync-protocol.md).
SERVER_ONLY_TYPES = frozenset({"certificate.received"})
logger = logging.getLogger("sync_server.sync")

#: An on-stored hook gets the events one push newly stored (envelopes as pushed, without
#: duplicates and rejected ones). It runs before the push is answered; it must not fail
#: the push, so an exception is logged and the next push goes on.
StoredHook = Callable[[list[dict[str, Any]]], object]
#: Says whether a pushed server-only event is exactly one this server made.
ServerMadeCheck = Callable[[dict[str, Any]], bool]


class PushHook(Protocol):
    """A part of the server that follows pushes — the certificate issuer
    (services/issuing.py), given to the push by create_app (ServerState.push_hooks)."""

    def on_stored(self, events: list[dict[str, Any]]) -> object:
        """The events one push newly stored (a StoredHook)."""
        ...

    def is_own_event(self, event: dict[str, Any]) -> bool:
        """Whether a pushed server-only event is exactly one this server made (a tablet
        offers those back after a restore from a backup)."""
        ...


@dataclass
class PushResult:
    received_at: str
    stored: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[ProfileResult] = field(default_factory=list)

    def reject(self, index: int, event_id: str | None, reason: str, detail: str) -> None:
        _reject(self.rejected, index, event_id, reason, detail)


def _reject(into: list[dict[str, Any]], index: int, event_id: str | None, reason: str,
            detail: str) -> None:
    into.append({"index": index, "id": event_id, "reason": reason, "detail": detail})


def save_profiles(repo: Repository, device: Device, profiles: list[dict[str, Any]], *,
                  now: datetime | None = None, pin_min_digits: int = 4) -> list[ProfileResult]:
    """Pushed profiles: the rules live in services/profiles.py."""
    return profile_service.save_pushed(repo, device, profiles, now=now,
                                       pin_min_digits=pin_min_digits)


@dataclass
class Checked:
    """The events of a push that passed every check that needs no database (`check_events`):
    (index, event, canonical content) — and the refusals, in the order of the chunk."""
    candidates: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def check_events(events: list[dict[str, Any]], *, moment: datetime,
                 server_made: Sequence[ServerMadeCheck] = (),
                 encode: Callable[[Any], bytes] = canonical_json) -> Checked:
    """Envelope, server-only types, payload and `at` bounds of every event (see the module
    docstring); pure. `encode` must return `canonical_json`'s bytes (or raise what it
    raises): the push's fast path gives sync_server.fastjson.canonical."""
    out = Checked()

    def reject(index: int, event_id: str | None, reason: str, detail: str) -> None:
        _reject(out.rejected, index, event_id, reason, detail)

    # `at` bounds are compared as text: validate_event guarantees the fixed-width form
    # YYYY-MM-DDTHH:MM:SS…Z, whose first 19 characters sort like the times (to the second).
    latest = format_at(moment + MAX_FUTURE)[:19]
    earliest = format_at(EARLIEST_AT)[:19]
    candidates = out.candidates
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            reject(index, None, "bad_schema", "event: expected an object")
            continue
        event_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        event = {k: v for k, v in raw.items() if k != "received_at"} if "received_at" in raw else raw
        try:
            # == content_of: no server stamps
            content = validated_json(event, encode=encode).decode("utf-8")
        except EventError as exc:
            reject(index, event_id, "bad_schema", str(exc))
            continue
        if event["type"] in SERVER_ONLY_TYPES and not any(own(event) for own in server_made):
            reject(index, event_id, "server_only",
                   f"type: {event['type']} is made only by the server; a device "
                   "cannot push it")
            continue
        try:
            check_payload(event)
        except EventError as exc:
            reject(index, event_id, "bad_payload", str(exc))
            continue
        at = event["at"][:19]
        if at > latest:
            reject(index, event_id, "at_in_future",
                   f"at: {event['at']} is more than a day ahead of the server clock")
            continue
        if at < earliest:
            reject(index, event_id, "at_too_old", f"at: {event['at']} is before 2020")
            continue
        candidates.append((index, event, content))
    return out


#: the refusals a push makes for the learner's sake, before the insert or under its lock
#: (db/events.py: erased, or moved to another facility, meanwhile): code and reason
_REFUSED = {
    "other_facility": ("other_facility", "learner: belongs to another facility than this device"),
    "erased": ("erased", "learner: this learner's record was erased; the event is not kept"),
}


def push(repo: Repository, device: Device, events: list[dict[str, Any]],
         profiles: list[dict[str, Any]] | None = None, *, now: datetime | None = None,
         on_stored: Sequence[StoredHook] = (),
         server_made: Sequence[ServerMadeCheck] = (), pin_min_digits: int = 4,
         checked: Checked | None = None, charge: UsageCharge | None = None) -> PushResult:
    """Store a chunk of pushed events (and profiles, first); see the module docstring.
    `checked`: `check_events` of these `events` at `now`, when the caller made it
    (before the profiles were saved: only an accepted certificate.received depends on
    them, and a learner saved later does not change an acceptance). `charge`: the push's
    quota charge, made in the events' transaction (UsageRefused: nothing stored)."""
    moment = now or now_utc()
    result = PushResult(received_at=format_at(moment))
    if profiles:
        result.profiles = save_profiles(repo, device, profiles, now=moment,
                                        pin_min_digits=pin_min_digits)
    if checked is None:
        # after the profiles: `server_made` looks the learner of a certificate offered
        # back after a restore up, and the profile may come in the same chunk
        checked = check_events(events, moment=moment, server_made=server_made)
    result.rejected = list(checked.rejected)
    candidates = checked.candidates

    learners = repo.learners_by_ids([e["learner"] for _, e, _ in candidates])
    unknown = [e["learner"] for _, e, _ in candidates if e["learner"] not in learners]
    erased = repo.erased_among(unknown) if unknown else set()
    rows: list[EventRow] = []
    first: dict[str, tuple[str, int]] = {}     # id → (content, index) of its first copy
    kept: dict[str, dict[str, Any]] = {}       # id → its first copy
    repeats: list[tuple[int, str, str]] = []   # (index, id, content) of later copies
    facility, received_at, device_id = device.facility_id, result.received_at, device.id
    for index, event, content in candidates:
        event_id, learner_id = event["id"], event["learner"]
        learner = learners.get(learner_id)
        if learner is None or learner.facility_id != facility:
            if learner is not None:
                result.reject(index, event_id, *_REFUSED["other_facility"])
            elif learner_id in erased:
                result.reject(index, event_id, *_REFUSED["erased"])
            else:
                result.reject(index, event_id, "unknown_learner",
                              f"learner: {learner_id} is not registered on the server; push "
                              "the profile first")
            continue
        if event_id in first:
            repeats.append((index, event_id, content))
            continue
        first[event_id] = (content, index)
        kept[event_id] = event
        # positional: a named tuple built from keywords costs twice as much (≈ 0.3 µs more)
        rows.append(EventRow(event_id, learner_id, event["device"], facility, event["type"],
                             event["at"], content, received_at, device_id, event))

    status = repo.insert_events(rows, charge=charge)
    for row in rows:
        st = status[row.id]
        if st == "stored":
            result.stored.append(row.id)
        elif st == "duplicate":
            result.duplicate.append(row.id)
        elif st in _REFUSED:    # erased or moved while this push was being checked
            result.reject(first[row.id][1], row.id, *_REFUSED[st])
        else:
            result.reject(first[row.id][1], row.id, "conflict",
                          "id: another event with this id and different content is stored")
    for index, event_id, content in repeats:
        if status[event_id] in _REFUSED:
            result.reject(index, event_id, *_REFUSED[status[event_id]])
        elif content == first[event_id][0] and status[event_id] != "conflict":
            result.duplicate.append(event_id)
        else:
            result.reject(index, event_id, "conflict",
                          "id: repeated in this chunk with different content")
    if result.stored and on_stored:
        _run_hooks(on_stored, [kept[eid] for eid in result.stored])
    return result


def receive_push(*, repo: Repository, settings: Settings, device: Device,
                 events: list[dict[str, Any]], profiles: list[dict[str, Any]], body_bytes: int,
                 hooks: Sequence[PushHook] = (), now: datetime | None = None,
                 checked: Checked | None = None) -> PushResult:
    """One push as the endpoint gets it: charged to the device's daily quota (nothing is
    stored when it is used up: QuotaExceededError), then stored, the hooks following.
    `checked`: the endpoint's `check_events` of `events` at `now` (its fast path).

    Without profiles the charge is made in the transaction that stores the events (one
    write transaction per push); with profiles it comes first, in its own, so a refused
    push saves no profile either."""
    moment = now or now_utc()
    charge = None
    if profiles:    # a profile counts as an event: every tablet of the facility pulls it
        quota.charge_push(repo=repo, settings=settings, device=device,
                          events=len(events) + len(profiles), body_bytes=body_bytes,
                          now=moment)
    else:
        charge = quota.pending_charge(settings=settings, device=device, events=len(events),
                                      body_bytes=body_bytes, now=moment)
    try:
        return push(repo, device, events, profiles, now=moment,
                    on_stored=[h.on_stored for h in hooks],
                    server_made=[h.is_own_event for h in hooks],
                    pin_min_digits=settings.pin_digits, checked=checked, charge=charge)
    except UsageRefused as refused:
        raise quota.refusal(settings=settings, device=device, usage=refused.usage,
                            now=moment) from None


def _run_hooks(hooks: Sequence[StoredHook], stored: list[dict[str, Any]]) -> None:
    for hook in hooks:
        try:
            hook(stored)
        except Exception:  # noqa: BLE001 - a hook must never fail a push that was stored
            logger.exception("on-stored hook %r failed", hook)


def _servable(event: StoredEvent) -> bool:
    """False for an event stored before the depth limit existed (attack: one event nested
    ~900 levels stopped every tablet of the facility). It is left out of pulls (its seq
    still moves the cursor) and logged; counting brackets makes this nearly free."""
    if within_depth(event.content, MAX_DEPTH):
        return True
    logger.warning("pull: stored event seq %d nests deeper than %d levels; not served",
                   event.seq, MAX_DEPTH)
    return False


def pull_body(repo: Repository, device: Device, events_after: int, profiles_after: int,
              limit: int, tombstones_after: int = 0, pin_min_digits: int = 4,
              retention_years: int | None = None) -> bytes:
    """The pull answer as JSON bytes.

    Stored events are canonical JSON text; they are spliced into the answer with their
    `received_at` instead of being parsed and re-serialised (a pull page can hold
    thousands of events).
    """
    stored = repo.events_after(device.facility_id, events_after, limit + 1)
    more = len(stored) > limit
    stored = stored[:limit]
    profiles = repo.profiles_after(device.facility_id, profiles_after, MAX_PROFILES_PAGE + 1)
    more = more or len(profiles) > MAX_PROFILES_PAGE
    profiles = profiles[:MAX_PROFILES_PAGE]
    # tombstones of every facility: one names only an id, and a learner erased after a
    # move still has a history on the old facility's tablets (docs/sync-protocol.md §4.7)
    tombstones = repo.tombstones_after(tombstones_after, MAX_PROFILES_PAGE + 1)
    more = more or len(tombstones) > MAX_PROFILES_PAGE
    tombstones = tombstones[:MAX_PROFILES_PAGE]
    policy: dict[str, int] = {"pin_min_digits": pin_min_digits}
    if retention_years is not None:     # tablets age out sent events after it too
        policy["retention_events_years"] = retention_years
    parts = [ev.content[:-1] + ',"received_at":' + json.dumps(ev.received_at) + "}"
             for ev in stored if _servable(ev)]
    head = {
        "events_cursor": stored[-1].seq if stored else events_after,
        "profiles": [profile_service.profile_json(p) for p in profiles],
        "profiles_cursor": profiles[-1].rev if profiles else profiles_after,
        "tombstones": [{"learner": t.learner_id, "erased_at": t.erased_at} for t in tombstones],
        "tombstones_cursor": tombstones[-1].seq if tombstones else tombstones_after,
        "more": more,
        "server_epoch": repo.server_epoch(),
        "policy": policy,
    }
    tail = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return ('{"events":[' + ",".join(parts) + "]," + tail[1:]).encode("utf-8")


def pull(*, repo: Repository, device: Device, events_after: int, profiles_after: int,
         limit: int, installed: dict[str, int] | None = None,
         tombstones_after: int = 0, pin_min_digits: int = 4,
         retention_years: int | None = None) -> bytes:
    """A pull answer (pull_body), after recording the device's installed packs — written
    only when they differ from the stored report, so a burst of pulls does not queue
    behind pushes holding the write lock."""
    if installed:
        stored = {i.pack_id: i.version for i in repo.installed_packs(device_id=device.id)}
        changed = {k: v for k, v in installed.items() if stored.get(k) != v}
        if changed:
            repo.report_installed(device.id, changed, now_iso())
    return pull_body(repo, device, events_after, profiles_after, limit, tombstones_after,
                     pin_min_digits, retention_years)


def seen(*, repo: Repository, device_id: str) -> None:
    """Stamp the device's `last_seen_at` (run after a pull's answer is sent)."""
    repo.touch_device(device_id, now_iso())
