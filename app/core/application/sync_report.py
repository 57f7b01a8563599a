"""What one sync moved (SyncReport) and how each pack update ended (PackOutcome).

Plain data: the sync client (app/sync/client.py) fills it in, `python -m app sync` prints
``lines()``, and the application layer keeps the last one in its SyncStatus
(app/core/application/sync.py). It lives here, below the client, so the application
layer can name it without importing app.sync.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PackOutcome:
    id: str
    version: int
    status: str              # "installed" | "up_to_date" | "refused" | "failed"
    detail: str = ""
    bytes_downloaded: int = 0
    blobs_downloaded: int = 0


@dataclass
class SyncReport:
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    events_pulled: int = 0            # events in the pull pages
    events_merged: int = 0            # of those, new on this device
    events_skipped: int = 0           # malformed events the server sent (not stored)
    #: of those, id (or "pulled #n" when unreadable) → why; kept in store.quarantined()
    events_quarantined: dict[str, str] = field(default_factory=dict)
    events_conflicting: int = 0       # pulled with an id stored here with other content
    profiles_pulled: int = 0
    profiles_changed: int = 0
    profiles_skipped: int = 0         # malformed profiles the store refused
    profiles_pushed: int = 0
    profiles_refused: dict[str, str] = field(default_factory=dict)   # id → reason
    profiles_reattributed: dict[str, str] = field(default_factory=dict)  # old → learner id
    events_pushed: int = 0
    events_acknowledged: int = 0      # stored + already had
    events_duplicate: int = 0
    events_rejected: dict[str, str] = field(default_factory=dict)    # id → reason
    events_held: dict[str, str] = field(default_factory=dict)        # id → why kept in outbox
    outbox_left: int = 0
    server_restored: bool = False     # the pull saw a new server_epoch (app/sync/recovery.py)
    events_reoffered: int = 0         # history pushed again after a server restore
    events_recovered: int = 0         # of those, ones the server had lost (stored again)
    events_reoffer_refused: int = 0   # of those, ones the server refused (only counted)
    #: set when the server's daily quota for this tablet is used up: pushing resumes
    #: after this time (the outbox is kept whole)
    push_deferred_until: str | None = None
    packs: list[PackOutcome] = field(default_factory=list)
    packs_error: str | None = None    # the pack step as a whole could not run
    notes: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    bytes_received: int = 0
    requests: int = 0
    retries: int = 0

    @property
    def ok(self) -> bool:
        return self.packs_error is None and not any(p.status == "failed" for p in self.packs)

    def lines(self) -> list[str]:
        """Human summary, one fact per line (CLI output)."""
        out = [f"pulled {self.events_pulled} events ({self.events_merged} new), "
               f"{self.profiles_pulled} profiles ({self.profiles_changed} changed)",
               f"pushed {self.events_pushed} events: {self.events_acknowledged} acknowledged "
               f"({self.events_duplicate} already on the server), "
               f"{len(self.events_rejected)} rejected, {len(self.events_held)} kept for later; "
               f"{self.profiles_pushed} profiles",
               f"outbox: {self.outbox_left} events waiting"]
        if self.events_reoffered:
            out.append(f"after the server restore: offered {self.events_reoffered} events "
                       f"again, {self.events_recovered} of them were missing there"
                       + (f", {self.events_reoffer_refused} refused"
                          if self.events_reoffer_refused else ""))
        if self.push_deferred_until:
            out.append(f"push: the server's daily quota for this tablet is used up; the "
                       f"outbox is kept and sending resumes after {self.push_deferred_until}")
        if self.events_quarantined:
            out.append(f"quarantined: {len(self.events_quarantined)} pulled events refused "
                       "as malformed (`python -m app sync --quarantined` lists them)")
        if self.events_conflicting:
            out.append(f"conflicts: {self.events_conflicting} pulled events differ from the "
                       "copy stored here under the same id (first copy kept; "
                       "`python -m app sync --conflicts` lists them)")
        for pid, why in sorted(self.profiles_refused.items()):
            out.append(f"profile {pid} refused: {why}")
        for pid, learner in sorted(self.profiles_reattributed.items()):
            out.append(f"profile {pid} retired: its work was re-attributed to learner "
                       f"{learner}")
        reasons: dict[str, int] = {}
        for why in self.events_rejected.values():
            reasons[why] = reasons.get(why, 0) + 1
        for why, n in sorted(reasons.items()):
            out.append(f"rejected: {n} × {why}")
        for p in self.packs:
            extra = f" ({p.detail})" if p.detail else ""
            size = f", {p.bytes_downloaded} bytes in {p.blobs_downloaded} blobs" \
                if p.bytes_downloaded else ""
            out.append(f"pack {p.id} v{p.version}: {p.status}{size}{extra}")
        if self.packs_error:
            out.append(f"packs: {self.packs_error}")
        out.extend(self.notes)
        out.append(f"{self.requests} requests, {self.bytes_sent} bytes sent, "
                   f"{self.bytes_received} received, {self.seconds:.2f} s")
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
