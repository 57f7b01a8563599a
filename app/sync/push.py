"""Push: this tablet's new profiles, then its outbox, in idempotent chunks.

``OutboxPush(store, chunk_size).run(transport, report, progress)`` (one per sync, called by
SyncClient.sync, app/sync/client.py). The rules (docs/sync-client.md):

* profiles made or changed here go first, with the first events, synchronously: which
  events can go depends on the answer;
* then the outbox, oldest first, with one request in flight while the next chunk is read
  and the previous one acknowledged (disk and network overlap);
* only ids the server names as stored or duplicate leave the outbox; rejected events go
  to ``store.reject`` with the reason; events of a learner whose profile the server does
  not have yet, and events with ``at_in_future`` (tablet clock ahead), are *held* in the
  outbox for a later sync;
* a chunk refused with HTTP 413 is retried at half the size (``smaller_chunk``).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.core.application.sync import PhaseProgress
from app.core.application.sync_report import SyncReport
from app.core.errors import StoreError, SyncError, SyncProtocolError
from app.core.store import Store, reattribute
from app.core.store.settings import PIN_POLICY_SETTING
from app.sync.answers import expect_list
from app.sync.transport import Transport

READ_WINDOW = 2000              # outbox events read from the journal at a time
PROFILE_FIELDS = ("id", "staff_number", "display_name", "role", "language", "pin_verifier",
                  "pin_proof", "pin_digits", "updated_at")
HOLD_NO_PROFILE = "the learner's profile is not on the server yet"
HOLD_CLOCK = "at_in_future: the tablet clock is ahead of the server; retried at a later sync"


def post_push(t: Transport, profiles: list[dict[str, Any]],
              events: list[dict[str, Any]]) -> Any:
    """One push request; the answer must be a JSON object."""
    answer = t.call("POST", "/api/v1/sync/push", body={"profiles": profiles, "events": events})
    if not isinstance(answer, dict):
        raise SyncProtocolError("push: expected a JSON object")
    return answer


def smaller_chunk(exc: SyncProtocolError, chunk: int) -> int:
    """The next chunk size after the server refused a push: half, when the answer was HTTP
    413 (body too large for this server) — decided by the status, never by the text;
    any other refusal is raised again."""
    if exc.status == 413 and chunk > 1:
        return max(1, chunk // 2)
    raise exc


class OutboxPush:
    def __init__(self, store: Store, chunk_size: int) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self._buffer: list[dict[str, Any]] = []   # outbox events read, not yet sent
        self._seen: set[str] = set()              # ids this sync has taken already

    def run(self, t: Transport, report: SyncReport, cb: PhaseProgress) -> None:
        """Profiles first (with the first events, synchronously: which events can go
        depends on the answer), then the outbox with one request in flight while the
        next chunk is read and the previous one acknowledged (disk and network overlap)."""
        store = self.store
        # `pin_digits` goes only to a server that announced a PIN policy (an older one
        # forbids unknown fields)
        fields = PROFILE_FIELDS if store.settings.get(PIN_POLICY_SETTING, None) is not None \
            else tuple(f for f in PROFILE_FIELDS if f != "pin_digits")
        profiles = [{k: p.get(k) for k in fields} for p in store.profiles.pending_push()]
        #: profiles not (yet) stored on the server
        waiting: set[str] = {str(p["id"]) for p in profiles}
        held: dict[str, str] = {}
        report.events_held = held
        total = store.outbox_count()
        chunk = self.chunk_size

        def tick() -> None:
            cb("push", report.events_acknowledged + len(report.events_rejected) + len(held),
               total)

        cb("push", 0, total)
        while profiles:
            prof_chunk = profiles[:chunk]
            send = self._next_batch(held, chunk, waiting, hold_waiting=False)
            try:
                answer = post_push(t, prof_chunk, send)
            except SyncProtocolError as exc:
                chunk = smaller_chunk(exc, chunk)
                self._unsee(send)
                continue
            profiles = profiles[len(prof_chunk):]
            self._profile_outcomes(answer, prof_chunk, waiting, report)
            self._event_outcomes(answer, send, waiting, held, report)
            tick()
        with ThreadPoolExecutor(1, thread_name_prefix="shift-push") as pool:
            inflight: tuple[Future[Any], list[dict[str, Any]]] | None = None
            while True:
                send = self._next_batch(held, chunk, waiting, hold_waiting=True)
                future = pool.submit(post_push, t, [], send) if send else None
                if inflight is not None:
                    try:
                        answer = inflight[0].result()
                    except SyncProtocolError as exc:
                        chunk = smaller_chunk(exc, chunk)
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

    def _unsee(self, events: list[dict[str, Any]]) -> None:
        """Send these again (their request was refused as too large)."""
        for event in events:
            self._seen.discard(event["id"])
        self._buffer = []

    def _next_batch(self, held: dict[str, str], chunk: int, waiting: set[str],
                    *, hold_waiting: bool) -> list[dict[str, Any]]:
        """The next ≤ `chunk` outbox events not held and not in flight. With
        `hold_waiting`, events of learners whose profile the server refused are held
        here instead of being sent to certain rejection.

        The outbox is read into a buffer, leaving out what this sync took already
        (`_seen`: held, in flight or answered), so events appended meanwhile are
        picked up by the next refill. Reading journal files is the costly part of a
        push: the first read is one chunk, so the first request leaves at once, and
        later reads, READ_WINDOW events each, overlap requests in flight. When nothing
        new is waiting, the read skips every id and reads no file."""
        while True:
            if not self._buffer:
                window = chunk if not self._seen else READ_WINDOW
                self._buffer = self.store.outbox(window, skip=self._seen)
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
        outcomes = expect_list(answer, "profiles", "push") if sent else []
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
                elif item.get("reason") in ("pin_not_proven", "pin_too_short") \
                        and isinstance(item.get("current"),
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
        stored = [i for i in expect_list(answer, "stored", "push") if i in by_id]
        duplicate = [i for i in expect_list(answer, "duplicate", "push") if i in by_id]
        rejected: dict[str, str] = {}
        for item in expect_list(answer, "rejected", "push"):
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
