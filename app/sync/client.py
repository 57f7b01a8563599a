"""The sync client: enrol a tablet, then one sync = pull, push, pack updates.

Protocol: docs/sync-protocol.md (server side sync_server/api). Why this order:

1. **pull** (POST /api/v1/sync/pull, pages of ≤ 1000 events) — profiles of the facility
   (PIN verifiers only) are upserted and events of its learners merged (set union by
   id), so a colleague who started on another tablet resumes here. Both cursors are
   saved after each page *after* the page is stored: a crash re-pulls a page, and
   merging it again changes nothing.
2. **push** (POST /api/v1/sync/push, ≤ 500 per chunk) — profiles made or changed here
   first, then the outbox oldest first. Only ids the server names as stored or
   duplicate leave the outbox. Rejected events go to `store.reject` with the reason
   (kept for an admin, never silently dropped) — except two kinds that are *kept in
   the outbox* because they can succeed later: the learner's profile is not on the
   server yet (its push was refused or is pending), and `at_in_future` (the tablet's
   clock is ahead; the event is accepted once the server's clock catches up).
   A chunk is idempotent, so a dropped connection is simply retried, and a sync that
   gave up resumes where the outbox stands.
3. **certificates** (app/sync/certificates.py) — the server's certificate key and the
   revocation lists of the certificates on this tablet (never fails the sync).
4. **packs** (app/sync/packs.py) — catalogue → manifest → missing blobs (Range resume)
   → verify → atomic install; then the installed versions are reported in one more pull.

A profile refused with `staff_number_taken` (the learner made a profile here and another
tablet registered the same staff number first) is planned for re-attribution to the
`existing_id`; once that learner's profile has come with a pull, its work is copied to
that learner as new events and pushed in the same sync (app/core/store/reattribute.py).

A pull answer whose `server_epoch` differs from the one seen before means the server was
restored from a backup: the tablet pulls again from 0 and, after the push, offers its
whole history again so the server gets back what it lost (app/sync/recovery.py).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.application.sync import PhaseProgress
from app.core.application.sync_report import SyncReport
from app.core.bounded_json import BadItem
from app.core.clock import now_iso
from app.core.errors import (
    ErrorCode,
    EventError,
    PackError,
    ShiftError,
    StoreError,
    SyncError,
    SyncProtocolError,
    SyncQuotaError,
)
from app.core.events import format_at, parse_at, validate_event
from app.core.packs import PackLibrary, TrustedKeys
from app.core.store import reattribute
from app.sync import certificates, recovery
from app.sync.backoff import RetryPolicy
from app.sync.packs import PackUpdater
from app.sync.transport import Transport

TOKEN_SECRET = "device_token"
PROFILES_CURSOR = "sync_profiles_cursor"
#: the server that issued the device token (the only one it is ever sent to)
TOKEN_SERVER = "token_server_url"
CHUNK = 500                     # server MAX_CHUNK
PULL_LIMIT = 1000
READ_WINDOW = 2000              # outbox events read from the journal at a time
PROFILE_FIELDS = ("id", "staff_number", "display_name", "role", "language", "pin_verifier",
                  "pin_proof", "updated_at")
HOLD_NO_PROFILE = "the learner's profile is not on the server yet"
#: durable: no push before this time (the server's per-device quota is used up)
PUSH_AFTER = "sync_push_after"
MAX_PUSH_DEFERRAL = timedelta(days=1)
HOLD_CLOCK = "at_in_future: the tablet clock is ahead of the server; retried at a later sync"

TransportFactory = Callable[..., Transport]


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SyncProtocolError(f"{what}: expected an integer >= 0, got {value!r}")
    return value


def _list(answer: dict[str, Any], key: str, what: str) -> list[Any]:
    value = answer.get(key)
    if not isinstance(value, list):
        raise SyncProtocolError(f"{what}.{key}: expected a list")
    return value


def _noop(phase: str, done: int, total: int) -> None:
    return None


def _as_text(value: Any) -> str:
    """A refused pulled item as text for the quarantine log (never fails: a value nested
    too deep to serialise is named, not shown)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)[:2000]
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__} that cannot be shown as JSON>"


class SyncClient:
    """Sync of one device data folder (`store`, and `library` for pack updates)."""

    def __init__(self, store: Any, library: PackLibrary | None = None, *,
                 retry: RetryPolicy | None = None, chunk_size: int = CHUNK,
                 pull_limit: int = PULL_LIMIT, timeout: float = 20.0,
                 disk_usage: Callable[[str], Any] = shutil.disk_usage,
                 transport_factory: TransportFactory = Transport) -> None:
        if not 1 <= chunk_size <= CHUNK:
            raise SyncError(f"chunk_size: expected 1..{CHUNK}, got {chunk_size}")
        self.store = store
        self.library = library
        self.retry = retry or RetryPolicy()
        self.chunk_size = chunk_size
        self.pull_limit = pull_limit
        self.timeout = timeout
        self.disk_usage = disk_usage
        self.transport_factory = transport_factory

    # ------------------------------------------------------------------ set-up
    @property
    def server_url(self) -> str | None:
        url = self.store.settings.get("server_url")
        return url if isinstance(url, str) and url else None

    def enrolled(self) -> bool:
        return self.server_url is not None and self.store.settings.has_secret(TOKEN_SECRET)

    def transport(self, *, authed: bool = True) -> Transport:
        url = self.server_url
        if url is None:
            raise SyncError("no server address set: enter it in Settings (server_url)",
                            code=ErrorCode.NO_SERVER_ADDRESS)
        token = self.store.settings.get_secret(TOKEN_SECRET) if authed else None
        if authed and token is None:
            raise SyncError("this tablet is not enrolled: enter an enrolment code from the admin",
                            code=ErrorCode.NOT_ENROLLED)
        return self.transport_factory(url, token=token, retry=self.retry, timeout=self.timeout,
                                      ca_bundle=self.store.settings.get("ca_bundle", None))

    def enrol(self, code: str, server_url: str | None = None, *,
              name: str | None = None) -> dict[str, str]:
        """Trade a one-time code for a device token (kept as a secret, never printed).

        A tablet enrolled before sends its current token with the request: the server
        re-enrols an existing device id only for the tablet that proves it holds that
        id's token (enrolment never takes over another tablet). The token goes only to
        the server that issued it — not when `server_url` names another server.

        Returns {device_id, facility_id, facility_name}."""
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > 64:
            raise SyncError("enrolment code: expected the 1–64 character code from the admin",
                            code=ErrorCode.ENROLMENT_CODE_INVALID)
        before = self.server_url
        if server_url is not None:
            self.store.settings.set("server_url", server_url.strip())  # validated there
        issuer = self.store.settings.get(TOKEN_SERVER, None) or before
        proof = self.store.settings.get_secret(TOKEN_SECRET) \
            if issuer is not None and issuer == self.server_url else None
        device_id = self.store.device_id
        label = (name or f"tablet {device_id[4:12]}").strip()[:120] or "tablet"
        url = self.server_url
        if url is None:
            raise SyncError("no server address set: enter it in Settings (server_url)",
                            code=ErrorCode.NO_SERVER_ADDRESS)
        with self.transport_factory(url, token=proof, retry=self.retry, timeout=self.timeout,
                                    ca_bundle=self.store.settings.get("ca_bundle", None)) as t:
            answer = t.call("POST", "/api/v1/devices/enrol", idempotent=False,
                            body={"code": code.strip(), "device_id": device_id, "name": label})
        if not isinstance(answer, dict) or not all(
                isinstance(answer.get(k), str) and answer.get(k)
                for k in ("device_id", "facility_id", "token")):
            raise SyncProtocolError("enrol: the answer lacks device_id, facility_id or token")
        if answer["device_id"] != device_id:
            raise SyncProtocolError(f"enrol: the server enrolled {answer['device_id']!r}, "
                                    f"not this tablet ({device_id})")
        self.store.settings.set_secret(TOKEN_SECRET, answer["token"])
        info = {"device_id": device_id, "facility_id": answer["facility_id"],
                "facility_name": str(answer.get("facility_name") or answer["facility_id"])}
        self.store.settings.update({"facility_id": info["facility_id"],
                                    "facility_name": info["facility_name"],
                                    TOKEN_SERVER: url})
        return info

    def forget_enrolment(self) -> None:
        """Drop the token (e.g. after the admin revoked the tablet)."""
        self.store.settings.set_secret(TOKEN_SECRET, None)

    # ------------------------------------------------------------------ one sync
    def sync(self, progress: PhaseProgress | None = None, *, packs: bool = True) -> SyncReport:
        """Pull, push, then (if `packs`) update packs. Raises a SyncError subclass when
        the events could not be exchanged; pack trouble is reported per pack instead."""
        report = SyncReport(started_at=now_iso())
        cb = progress or _noop
        t0 = time.perf_counter()
        with self.transport() as t:
            try:
                self._pull(t, report, cb)
                self._reattribute(report)            # planned earlier, target now here
                pushed = self._within_quota(self._push, t, report, cb)
                if self._reattribute(report) and pushed:   # refused just now: move, send
                    pushed = self._within_quota(self._push, t, report, cb)
                if pushed and recovery.pending(self.store) is not None:  # server restored
                    pushed = self._within_quota(self._reoffer, t, report, cb)
                if pushed:
                    self.store.settings.set("last_sync_at", now_iso())
                certificates.refresh(t, self.store, report)    # issuer key, revocations
                if packs and self.library is not None:
                    self._packs(t, report, cb)
            finally:
                report.outbox_left = self.store.outbox_count()
                report.bytes_sent = t.stats.bytes_sent
                report.bytes_received = t.stats.bytes_received
                report.requests = t.stats.requests
                report.retries = t.stats.retries
                report.seconds = time.perf_counter() - t0
                report.finished_at = now_iso()
        return report

    # ------------------------------------------------------------------ pull
    def _installed(self) -> dict[str, int]:
        if self.library is None:
            return {}
        try:
            return {p.id: p.version for p in self.library.installed()}
        except PackError:
            return {}

    def _pull(self, t: Transport, report: SyncReport, cb: PhaseProgress, *, pages: int | None = None
              ) -> None:
        settings = self.store.settings
        events_after = settings.get("sync_cursor")
        events_after = events_after if isinstance(events_after, int) else 0
        profiles_after = settings.get(PROFILES_CURSOR, 0)
        profiles_after = profiles_after if isinstance(profiles_after, int) else 0
        installed = self._installed()
        page = 0
        cb("pull", 0, 0)
        while True:
            page += 1
            answer = t.call("POST", "/api/v1/sync/pull", items="events",
                            body={"events_after": events_after, "profiles_after": profiles_after,
                                  "limit": self.pull_limit, "installed_packs": installed})
            if not isinstance(answer, dict):
                raise SyncProtocolError("pull: expected a JSON object")
            events = _list(answer, "events", "pull")
            profiles = _list(answer, "profiles", "pull")
            new_events = _int(answer.get("events_cursor"), "pull.events_cursor")
            new_profiles = _int(answer.get("profiles_cursor"), "pull.profiles_cursor")
            more = answer.get("more")
            if not isinstance(more, bool):
                raise SyncProtocolError("pull.more: expected true or false")
            epoch = recovery.epoch_of(answer)
            if epoch is not None and recovery.observe(self.store, epoch,
                                                      ("sync_cursor", PROFILES_CURSOR)):
                # restored from a backup: this page answered old cursors; start again at 0
                if report.server_restored:
                    raise SyncProtocolError(
                        "pull: the server's epoch changed twice in one sync; are several "
                        "servers with different databases answering at this address?")
                report.server_restored = True
                report.notes.append("the server was restored from a backup: pulling "
                                    "everything again, then offering this tablet's events")
                events_after = profiles_after = 0
                continue
            if new_events < events_after or new_profiles < profiles_after:
                raise SyncProtocolError("pull: the server moved a cursor backwards "
                                        f"({events_after}→{new_events}, "
                                        f"{profiles_after}→{new_profiles}); was its database "
                                        "replaced?")
            self._store_profiles(profiles, report)
            self._store_events(events, report)
            if (new_events, new_profiles) != (events_after, profiles_after):  # saves an fsync
                settings.update({"sync_cursor": new_events, PROFILES_CURSOR: new_profiles})
            cb("pull", report.events_pulled, report.events_pulled + (self.pull_limit if more else 0))
            if not more or (pages is not None and page >= pages):
                return
            if (new_events, new_profiles) == (events_after, profiles_after):
                raise SyncProtocolError("pull: 'more' is true but the cursors did not move")
            events_after, profiles_after = new_events, new_profiles

    def _store_profiles(self, profiles: list[Any], report: SyncReport) -> None:
        report.profiles_pulled += len(profiles)
        # a profile without a PIN (registered by an admin) is kept: the learner sets a
        # first PIN on the tablet, and the next push carries the verifier up
        usable = [p for p in profiles if isinstance(p, dict)]
        report.profiles_skipped += len(profiles) - len(usable)
        if not usable:
            return
        try:
            report.profiles_changed += self.store.profiles.upsert_remote(usable)
            return
        except StoreError:
            pass   # one bad profile must not keep the others out: go one by one
        for profile in usable:
            try:
                report.profiles_changed += self.store.profiles.upsert_remote([profile])
            except StoreError:
                report.profiles_skipped += 1

    def _store_events(self, events: list[Any], report: SyncReport) -> None:
        """Merge the good events of a page; quarantine the rest (one bad event never stops
        a facility: the cursor moves past it, and a supervisor sees it with the reason)."""
        first = report.events_pulled
        report.events_pulled += len(events)
        good = []
        bad: list[tuple[str | None, str, str]] = []
        for index, event in enumerate(events):
            if isinstance(event, BadItem):
                item = (event.id, f"{event.code}: {event.detail}", event.excerpt)
            else:
                try:
                    good.append(validate_event(event, allow_server_fields=True))
                    continue
                except EventError as exc:
                    event_id = event.get("id") if isinstance(event, dict) else None
                    item = (event_id if isinstance(event_id, str) else None,
                            f"bad_schema: {exc}", _as_text(event))
            bad.append(item)
            # report key: the id it claims, else its place among this sync's pulled events
            report.events_quarantined[(item[0] or f"pulled #{first + index}")[:80]] = item[1]
        if bad:
            report.events_skipped += len(bad)
            self.store.quarantine(bad)   # kept for a supervisor before the cursor moves
        if good:
            count = getattr(self.store, "conflict_count", None)
            before = count() if count is not None else 0
            report.events_merged += self.store.merge(good)
            certificates.note_lists(self.store, good)
            if count is not None:
                report.events_conflicting += count() - before

    # ------------------------------------------------------------------ push
    def _push(self, t: Transport, report: SyncReport, cb: PhaseProgress) -> None:
        """Profiles first (with the first events, synchronously: which events can go
        depends on the answer), then the outbox with one request in flight while the
        next chunk is read and the previous one acknowledged (disk and network overlap)."""
        store = self.store
        profiles = [{k: p.get(k) for k in PROFILE_FIELDS} for p in store.profiles.pending_push()]
        waiting = {p["id"] for p in profiles}       # profiles not (yet) stored on the server
        held: dict[str, str] = {}
        report.events_held = held
        self._buffer: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        total = store.outbox_count()
        chunk = self.chunk_size

        def tick() -> None:
            cb("push", report.events_acknowledged + len(report.events_rejected) + len(held),
               total)

        cb("push", 0, total)
        while profiles:
            prof_chunk = profiles[:chunk]
            send = self._next_batch(held, set(), chunk, waiting, hold_waiting=False)
            try:
                answer = self._post_push(t, prof_chunk, send)
            except SyncProtocolError as exc:
                chunk = self._smaller(exc, chunk)
                self._unsee(send)
                continue
            profiles = profiles[len(prof_chunk):]
            self._profile_outcomes(answer, prof_chunk, waiting, report)
            self._event_outcomes(answer, send, waiting, held, report)
            tick()
        with ThreadPoolExecutor(1, thread_name_prefix="shift-push") as pool:
            inflight: tuple[Future[Any], list[dict[str, Any]]] | None = None
            while True:
                busy = {e["id"] for e in inflight[1]} if inflight else set()
                send = self._next_batch(held, busy, chunk, waiting, hold_waiting=True)
                future = pool.submit(self._post_push, t, [], send) if send else None
                if inflight is not None:
                    try:
                        answer = inflight[0].result()
                    except SyncProtocolError as exc:
                        chunk = self._smaller(exc, chunk)
                        if future is not None:   # its answer is dropped: those events
                            with contextlib.suppress(SyncError):   # go again (duplicates)
                                future.result()
                        self._unsee(inflight[1] + send)
                        inflight = None
                        continue
                    self._event_outcomes(answer, inflight[1], waiting, held, report)
                    tick()
                if future is None:
                    break
                inflight = (future, send)

    def _reoffer(self, t: Transport, report: SyncReport, cb: PhaseProgress) -> None:
        """Push the whole history again, learner by learner (app/sync/recovery.py)."""
        plan = recovery.pending(self.store)
        if plan is None:
            return
        learners = recovery.learners_left(self.store, plan)
        chunk = self.chunk_size
        for learner_id in learners:
            events = recovery.offer_order(self.store.events(learner_id))
            while events:
                send = [{k: v for k, v in e.items() if k != "received_at"}
                        for e in events[:chunk]]
                try:
                    answer = self._post_push(t, [], send)
                except SyncProtocolError as exc:
                    chunk = self._smaller(exc, chunk)
                    continue
                events = events[len(send):]
                stored = [i for i in _list(answer, "stored", "push") if isinstance(i, str)]
                duplicate = [i for i in _list(answer, "duplicate", "push")
                             if isinstance(i, str)]
                report.events_reoffered += len(send)
                report.events_recovered += len(stored)
                report.events_reoffer_refused += len(_list(answer, "rejected", "push"))
                if stored or duplicate:   # also in the outbox: acknowledged now
                    report.events_acknowledged += self.store.acknowledge(stored + duplicate)
                cb("push", report.events_reoffered, 0)
            recovery.learner_done(self.store, plan, learner_id)
        recovery.finish(self.store)

    def _within_quota(self, step: Callable[[Transport, SyncReport, PhaseProgress], None],
                      t: Transport, report: SyncReport, cb: PhaseProgress) -> bool:
        """Run a push step (the outbox, or the re-offer after a server restore), unless the server said this tablet's daily quota is used up (429
        `quota_exceeded`): then nothing is lost — unacknowledged events stay in the
        outbox — and pushing waits until the server's Retry-After has passed (durable
        setting `sync_push_after`, at most a day ahead, so a wrong clock cannot stop a
        tablet for long). Pull and pack updates go on meanwhile. False when not pushed."""
        settings = self.store.settings
        now = datetime.now(UTC)
        waiting = settings.get(PUSH_AFTER, None)
        if isinstance(waiting, str):
            try:
                until = parse_at(waiting)
            except EventError:
                until = now
            if now < until <= now + MAX_PUSH_DEFERRAL:
                report.push_deferred_until = waiting
                return False
            settings.set(PUSH_AFTER, None)
        try:
            step(t, report, cb)
        except SyncQuotaError as exc:
            wait = timedelta(seconds=min(max(exc.retry_after, 1.0),
                                         MAX_PUSH_DEFERRAL.total_seconds()))
            report.push_deferred_until = format_at(now + wait)
            settings.set(PUSH_AFTER, report.push_deferred_until)
            report.notes.append(f"push stopped: {exc}")
            return False
        return True

    def _reattribute(self, report: SyncReport) -> bool:
        """Carry out planned re-attributions (app/core/store/reattribute.py) whose
        existing learner's profile has arrived with a pull; True if any ran."""
        done = reattribute.run_ready(self.store)
        report.profiles_reattributed.update(done)
        return bool(done)

    def _unsee(self, events: list[dict[str, Any]]) -> None:
        """Send these again (their request was refused as too large)."""
        for event in events:
            self._seen.discard(event["id"])
        self._buffer = []

    @staticmethod
    def _smaller(exc: SyncProtocolError, chunk: int) -> int:
        if exc.status == 413 and chunk > 1:
            return max(1, chunk // 2)     # body too large for this server: halve the chunk
        raise exc

    def _post_push(self, t: Transport, profiles: list[dict[str, Any]],
                   events: list[dict[str, Any]]) -> Any:
        answer = t.call("POST", "/api/v1/sync/push", body={"profiles": profiles, "events": events})
        if not isinstance(answer, dict):
            raise SyncProtocolError("push: expected a JSON object")
        return answer

    def _next_batch(self, held: dict[str, str], busy: set[str], chunk: int, waiting: set[str],
                    *, hold_waiting: bool) -> list[dict[str, Any]]:
        """The next ≤ `chunk` outbox events not held and not in flight. With
        `hold_waiting`, events of learners whose profile the server refused are held
        here instead of being sent to certain rejection.

        The outbox is read READ_WINDOW events at a time into a buffer (reading journal
        files is the costly part of a push); `_seen` filters what this sync already
        sent, so events appended meanwhile are picked up by the next refill."""
        while True:
            if not self._buffer:
                # held and in-flight events are still in the outbox: anything beyond them
                # is new. Counting is free, reading bodies is not.
                if self.store.outbox_count() <= len(held) + len(busy):
                    return []
                window = self.store.outbox(len(held) + len(busy) + READ_WINDOW)
                self._buffer = [e for e in window if e["id"] not in self._seen]
                if not self._buffer:
                    return []
            batch, self._buffer = self._buffer[:chunk], self._buffer[chunk:]
            send = []
            for event in batch:
                self._seen.add(event["id"])
                if hold_waiting and event["learner"] in waiting:
                    held[event["id"]] = HOLD_NO_PROFILE
                else:
                    send.append(event)
            if send:
                return send

    def _profile_outcomes(self, answer: Any, sent: list[dict[str, Any]], waiting: set[str],
                          report: SyncReport) -> None:
        if not isinstance(answer, dict):
            raise SyncProtocolError("push: expected a JSON object")
        outcomes = _list(answer, "profiles", "push") if sent else []
        ok = []
        sent_ids = {p["id"] for p in sent}
        for item in outcomes:
            if not isinstance(item, dict) or item.get("id") not in sent_ids:
                continue
            pid, status = item["id"], item.get("status")
            if status in ("registered", "updated", "unchanged"):
                ok.append(pid)
            else:
                why = str(item.get("reason") or status)
                existing = item.get("existing_id")
                if existing:
                    why += f" (staff number held by learner {existing})"
                report.profiles_refused[pid] = why
                if item.get("reason") == "staff_number_taken" and isinstance(existing, str) \
                        and existing and existing != pid:
                    reattribute.plan(self.store, pid, existing)
                elif item.get("reason") == "pin_not_proven" and isinstance(item.get("current"),
                                                                           dict):
                    self._take_server_pin(item["current"], pid, waiting)
        if ok:
            self.store.profiles.mark_pushed(ok)
            waiting.difference_update(ok)
        report.profiles_pushed += len(ok)

    def _take_server_pin(self, current: dict[str, Any], pid: str, waiting: set[str]) -> None:
        """The server refused a PIN change made here (its proof no longer matches, e.g.
        the PIN was changed or reset elsewhere first, or a set-up code expired): the
        server's copy replaces the local PIN; the learner exists there, so their events
        go up as usual."""
        if current.get("id") != pid:
            return
        try:
            self.store.profiles.upsert_remote([current], server_pin_wins=True)
        except StoreError:
            return
        waiting.discard(pid)

    def _event_outcomes(self, answer: dict[str, Any], sent: list[dict[str, Any]],
                        waiting: set[str], held: dict[str, str], report: SyncReport) -> None:
        by_id = {e["id"]: e for e in sent}
        stored = [i for i in _list(answer, "stored", "push") if i in by_id]
        duplicate = [i for i in _list(answer, "duplicate", "push") if i in by_id]
        rejected: dict[str, str] = {}
        for item in _list(answer, "rejected", "push"):
            if not isinstance(item, dict):
                raise SyncProtocolError("push.rejected: expected objects")
            event_id = item.get("id")
            index = item.get("index")
            if event_id not in by_id and isinstance(index, int) and 0 <= index < len(sent):
                event_id = sent[index]["id"]
            if not isinstance(event_id, str) or event_id not in by_id:
                continue
            reason = str(item.get("reason") or "rejected")
            detail = str(item.get("detail") or "")
            learner = by_id[event_id]["learner"]
            if reason == "unknown_learner" and learner in waiting:
                held[event_id] = HOLD_NO_PROFILE
            elif reason == "at_in_future":
                held[event_id] = HOLD_CLOCK
            else:
                rejected[event_id] = f"{reason}: {detail}" if detail else reason
        acked = set(stored) | set(duplicate)
        for event_id in by_id:   # the server must name every id; keep unnamed ones for later
            if event_id not in acked and event_id not in rejected and event_id not in held:
                held[event_id] = "the server did not answer for this event"
        report.events_pushed += len(sent)
        if acked:
            report.events_acknowledged += self.store.acknowledge(sorted(acked))
        report.events_duplicate += len(set(duplicate))
        if rejected:
            self.store.reject(rejected)
            report.events_rejected.update(rejected)

    # ------------------------------------------------------------------ packs
    def trusted_keys(self) -> TrustedKeys:
        keys = self.store.settings.get("trusted_keys") or []
        return TrustedKeys.from_bytes(k.encode() for k in keys)

    def _packs(self, t: Transport, report: SyncReport, cb: PhaseProgress) -> None:
        assert self.library is not None
        try:
            trusted = self.trusted_keys()
        except PackError as exc:
            report.packs_error = f"trusted_keys: {exc}"
            return
        if not len(trusted):
            report.notes.append("packs: not checked, no trusted pack keys on this tablet "
                                "(trusted_keys)")
            return
        updater = PackUpdater(self.library, trusted, disk_usage=self.disk_usage)
        try:
            report.packs.extend(updater.update(t, cb))
        except SyncError:
            raise
        except ShiftError as exc:
            report.packs_error = str(exc)
        if any(p.status == "installed" for p in report.packs):
            self._pull(t, report, cb, pages=1)    # tells the server what is live now
