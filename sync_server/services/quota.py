"""Per-device daily quotas of the push endpoint (docs/sync-protocol.md §4.5).

One stolen or misbehaving device token must not be able to fill the server's disk or
keep its CPU busy: every push is charged to its device for the current UTC day — the
events it carries and its body bytes (after gzip inflation; bodies that fail to parse
are charged too, they cost the server the same). Once a quota is used up the device's
pushes are answered 429 with `Retry-After` (seconds to the next UTC day) and code
`quota_exceeded`; nothing of that request is stored, and the tablet keeps its outbox
and tries again after the reset. The push that reaches a limit is still accepted, so a
chunk can never be too large to ever fit (overshoot ≤ one chunk: 500 events, 16 MiB).

Limits come from Settings (SHIFT_DEVICE_EVENTS_PER_DAY, SHIFT_DEVICE_BYTES_PER_DAY;
0 = no limit). Usage is kept in the database, so every server process counts together.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from app.core.clock import now_utc
from app.core.events import format_at
from sync_server.db.devices import Device
from sync_server.db.usage import UsageStore
from sync_server.errors import QuotaExceededError
from sync_server.logs import log
from sync_server.settings import Settings

logger = logging.getLogger("sync_server.sync")


def charge_push(*, repo: UsageStore, settings: Settings, device: Device, events: int,
                body_bytes: int, now: datetime | None = None) -> None:
    """Charge one push to the device's usage today, or raise QuotaExceededError (nothing
    charged, logged) when a quota is used up already."""
    if not settings.device_events_per_day and not settings.device_bytes_per_day:
        return
    moment = now or now_utc()
    day = moment.date().isoformat()
    usage = repo.charge_usage(device.id, day, events=events, bytes_=body_bytes,
                              max_events=settings.device_events_per_day,
                              max_bytes=settings.device_bytes_per_day)
    if usage.refused is None:
        return
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    wait = max(1, math.ceil((midnight - moment).total_seconds()))
    if usage.refused == "events_per_day":
        limit, used = settings.device_events_per_day, usage.events
    else:
        limit, used = settings.device_bytes_per_day, usage.bytes
    log(logger, logging.WARNING, "push refused: quota exceeded", device=device.id,
        quota=usage.refused, used=used, limit=limit)
    raise QuotaExceededError(usage.refused, limit=limit, used=used,
                             resets_at=format_at(midnight), retry_after=wait)
