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
A push without profiles is charged in the transaction that stores its events
(`pending_charge`, db/events.py): one write transaction per accepted push; a push with
profiles is charged first in its own (`charge_push`), before the profiles are saved.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from app.core.clock import now_utc
from app.core.events import format_at
from sync_server.db.devices import Device
from sync_server.db.usage import DeviceUsage, UsageCharge, UsageStore
from sync_server.errors import QuotaExceededError
from sync_server.logs import log
from sync_server.settings import Settings

logger = logging.getLogger("sync_server.sync")


def pending_charge(*, settings: Settings, device: Device, events: int, body_bytes: int,
                   now: datetime | None = None) -> UsageCharge | None:
    """The push's charge, to be made in the transaction that stores its events
    (EventSql.insert_events; `refusal` when it raises UsageRefused), or None when no
    quota is set."""
    if not settings.device_events_per_day and not settings.device_bytes_per_day:
        return None
    moment = now or now_utc()
    return UsageCharge(device.id, moment.date().isoformat(), events, body_bytes,
                       settings.device_events_per_day, settings.device_bytes_per_day)


def charge_push(*, repo: UsageStore, settings: Settings, device: Device, events: int,
                body_bytes: int, now: datetime | None = None) -> None:
    """Charge one push to the device's usage today (its own transaction), or raise
    QuotaExceededError (nothing charged, logged) when a quota is used up already."""
    moment = now or now_utc()
    charge = pending_charge(settings=settings, device=device, events=events,
                            body_bytes=body_bytes, now=moment)
    if charge is None:
        return
    usage = repo.charge_usage(device.id, charge.day, events=events, bytes_=body_bytes,
                              max_events=charge.max_events, max_bytes=charge.max_bytes)
    if usage.refused is not None:
        raise refusal(settings=settings, device=device, usage=usage, now=moment)


def refusal(*, settings: Settings, device: Device, usage: DeviceUsage,
            now: datetime) -> QuotaExceededError:
    """The 429 of a refused charge (`usage.refused` names the quota used up), logged."""
    quota = usage.refused or "events_per_day"
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    wait = max(1, math.ceil((midnight - now).total_seconds()))
    if quota == "events_per_day":
        limit, used = settings.device_events_per_day, usage.events
    else:
        limit, used = settings.device_bytes_per_day, usage.bytes
    log(logger, logging.WARNING, "push refused: quota exceeded", device=device.id,
        quota=quota, used=used, limit=limit)
    return QuotaExceededError(quota, limit=limit, used=used,
                              resets_at=format_at(midnight), retry_after=wait)
