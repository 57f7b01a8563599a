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

import json
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.core.application.sync import PhaseProgress
from app.core.application.sync_report import SyncReport
from app.core.bounded_json import BadItem
from app.core.clock import now_iso, now_utc
from app.core.errors import (
    DeviceRevokedError,
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
from app.core.store import Store, erasure, reattribute
from app.core.store.profile_merge import check_remote
from app.sync import certificates, forgetting, housekeeping, policy, recovery, relocation
from app.sync.answers import expect_int, expect_list
from app.sync.backoff import RetryPolicy
from app.sync.packs import PackUpdater
from app.sync.push import OutboxPush, post_push, smaller_chunk
from app.sync.transport import Transport

TOKEN_SECRET = "device_token"
#: a revoked tablet's old token: only its proof of its device id at re-enrolment
REVOKED_TOKEN_SECRET = "revoked_device_token"
PROFILES_CURSOR = "sync_profiles_cursor"
#: where the tombstones of erased learners were read up to (docs/sync-protocol.md §4.7)
TOMBSTONES_CURSOR = "sync_tombstones_cursor"
CURSORS = ("sync_cursor", PROFILES_CURSOR, TOMBSTONES_CURSOR)
#: the server that issued the device token (the only one it is ever sent to)
TOKEN_SERVER = "token_server_url"
CHUNK = 500                     # server MAX_CHUNK
PULL_LIMIT = 1000
#: durable: no push before this time (the server's per-device quota is used up)
PUSH_AFTER = "sync_push_after"
MAX_PUSH_DEFERRAL = timedelta(days=1)

TransportFactory = Callable[..., Transport]


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

    def __init__(self, store: Store, library: PackLibrary | None = None, *,
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

        Returns {device_id, facility_id, facility_name}; enrolled into another facility
        or by another server, the previous one's records go first (app/sync/relocation.py:
        `left_learners`, `left_unsent` then say how many)."""
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > 64:
            raise SyncError("enrolment code: expected the 1–64 character code from the admin",
                            code=ErrorCode.ENROLMENT_CODE_INVALID)
        was = relocation.enrolled(self.store.settings, TOKEN_SERVER, self.server_url)
        if server_url is not None:
            self.store.settings.set("server_url", server_url.strip())  # validated there
        secrets = self.store.settings
        proof = (secrets.get_secret(TOKEN_SECRET) or secrets.get_secret(REVOKED_TOKEN_SECRET)) \
            if was[0] is not None and was[0] == self.server_url else None   # its issuer
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
        info = {"device_id": device_id, "facility_id": answer["facility_id"],
                "facility_name": str(answer.get("facility_name") or answer["facility_id"])}
        if relocation.moved(was, url, answer["facility_id"]):   # before the new token
            info.update(relocation.leave(self.store, (*CURSORS, PUSH_AFTER)))
        self.store.settings.set_secret(TOKEN_SECRET, answer["token"])
        self.store.settings.set_secret(REVOKED_TOKEN_SECRET, None)
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
        self._merged_learners: set[str] = set()
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
                erasure.purge_refused(self.store)    # refused as erased: purge them too
                housekeeping.after_sync(self.store, self._merged_learners)  # snapshots
                if pushed:
                    self.store.settings.set("last_sync_at", now_iso())
                certificates.refresh(t, self.store, report)    # issuer key, revocations
                if packs and self.library is not None:
                    self._packs(t, report, cb)
            except DeviceRevokedError:           # withdrawn by an admin: nothing personal stays
                forgetting.revoked(self.store, token_secret=TOKEN_SECRET,
                                   proof_secret=REVOKED_TOKEN_SECRET, cursors=CURSORS)
                raise
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
        tombstones_after = settings.get(TOMBSTONES_CURSOR, 0)
        tombstones_after = tombstones_after if isinstance(tombstones_after, int) else 0
        installed = self._installed()
        page = 0
        cb("pull", 0, 0)
        while True:
            page += 1
            answer = t.call("POST", "/api/v1/sync/pull", items="events",
                            body={"events_after": events_after, "profiles_after": profiles_after,
                                  "tombstones_after": tombstones_after,
                                  "limit": self.pull_limit, "installed_packs": installed})
            if not isinstance(answer, dict):
                raise SyncProtocolError("pull: expected a JSON object")
            events = expect_list(answer, "events", "pull")
            profiles = expect_list(answer, "profiles", "pull")
            new_events = expect_int(answer.get("events_cursor"), "pull.events_cursor")
            new_profiles = expect_int(answer.get("profiles_cursor"), "pull.profiles_cursor")
            # a server without erasure (older than tombstones) sends neither field
            tombstones = answer.get("tombstones") or []
            if not isinstance(tombstones, list):
                raise SyncProtocolError("pull.tombstones: expected a list")
            new_tombstones = expect_int(answer.get("tombstones_cursor", tombstones_after),
                                        "pull.tombstones_cursor")
            more = answer.get("more")
            if not isinstance(more, bool):
                raise SyncProtocolError("pull.more: expected true or false")
            policy.take(self.store, answer.get("policy"))
            epoch = recovery.epoch_of(answer)
            if epoch is not None and recovery.observe(self.store, epoch, CURSORS):
                # restored from a backup: this page answered old cursors; start again at 0
                if report.server_restored:
                    raise SyncProtocolError(
                        "pull: the server's epoch changed twice in one sync; are several "
                        "servers with different databases answering at this address?")
                report.server_restored = True
                report.notes.append("the server was restored from a backup: pulling "
                                    "everything again, then offering this tablet's events")
                events_after = profiles_after = tombstones_after = 0
                continue
            if new_events < events_after or new_profiles < profiles_after:
                raise SyncProtocolError("pull: the server moved a cursor backwards "
                                        f"({events_after}→{new_events}, "
                                        f"{profiles_after}→{new_profiles}); was its database "
                                        "replaced?")
            self._store_profiles(profiles, report)
            self._store_events(events, report)
            forgetting.erase(self.store, tombstones, report)  # after the page's events
            cursors = (new_events, new_profiles, new_tombstones)
            if cursors != (events_after, profiles_after, tombstones_after):  # saves an fsync
                settings.update({"sync_cursor": new_events, PROFILES_CURSOR: new_profiles,
                                 TOMBSTONES_CURSOR: new_tombstones})
            cb("pull", report.events_pulled, report.events_pulled + (self.pull_limit if more else 0))
            if not more or (pages is not None and page >= pages):
                return
            if cursors == (events_after, profiles_after, tombstones_after):
                raise SyncProtocolError("pull: 'more' is true but the cursors did not move")
            events_after, profiles_after, tombstones_after = cursors

    def _store_profiles(self, profiles: list[Any], report: SyncReport) -> None:
        report.profiles_pulled += len(profiles)
        # a profile without a PIN (registered by an admin) is kept: the learner sets a
        # first PIN on the tablet, and the next push carries the verifier up
        # One bad profile must not keep the others out: it is skipped. A write that
        # fails (a full disk) is no bad profile: it stops the sync before the cursor
        # moves, or a PIN reset or deactivation pulled meanwhile would never arrive.
        usable = []
        for profile in profiles:
            try:
                check_remote(profile, "profile")
            except StoreError:
                report.profiles_skipped += 1
                continue
            usable.append(profile)
        if usable:
            report.profiles_changed += self.store.profiles.upsert_remote(usable)

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
            before = self.store.conflict_count()
            report.events_merged += self.store.merge(good)
            self._merged_learners.update(e["learner"] for e in good)
            certificates.note_lists(self.store, good)
            report.events_conflicting += self.store.conflict_count() - before

    # ------------------------------------------------------------------ push
    def _push(self, t: Transport, report: SyncReport, cb: PhaseProgress) -> None:
        OutboxPush(self.store, self.chunk_size).run(t, report, cb)

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
                    answer = post_push(t, [], send)
                except SyncProtocolError as exc:
                    chunk = smaller_chunk(exc, chunk)
                    continue
                events = events[len(send):]
                stored = [i for i in expect_list(answer, "stored", "push") if isinstance(i, str)]
                duplicate = [i for i in expect_list(answer, "duplicate", "push")
                             if isinstance(i, str)]
                report.events_reoffered += len(send)
                report.events_recovered += len(stored)
                report.events_reoffer_refused += len(expect_list(answer, "rejected", "push"))
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
        now = now_utc()
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
