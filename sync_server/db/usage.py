"""Per-device daily usage of the push endpoint (the quota rules: services/quota.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.base import SqlBase, placeholders
from sync_server.db.locks import LOCK_USAGE


@dataclass(frozen=True)
class DeviceUsage:
    """A device's push usage on one UTC day. `refused` names the quota that was already
    used up ("events_per_day" / "bytes_per_day") when a charge was refused, else None."""

    events: int
    bytes: int
    refused: str | None = None


class UsageStore(Protocol):
    def charge_usage(self, device_id: str, day: str, *, events: int, bytes_: int,
                     max_events: int, max_bytes: int) -> DeviceUsage:
        """Add a push to the device's usage of `day`, unless a quota (0 = none) is used up
        already — then nothing is charged and `refused` names it. The device's rows of
        earlier days are dropped when its first push of a day comes."""
        ...

    def device_usage(self, device_id: str, day: str) -> DeviceUsage: ...


@dataclass(frozen=True)
class UsageCharge:
    """One push's charge, made inside another write transaction (the push's events:
    EventSql.insert_events), so an accepted push costs one transaction, not two."""

    device_id: str
    day: str
    events: int
    bytes_: int
    max_events: int
    max_bytes: int


class UsageRefused(Exception):
    """Raised inside a write transaction when a charge is refused (the quota is used up
    already): the transaction rolls back, nothing of the push is stored or charged."""

    def __init__(self, usage: DeviceUsage) -> None:
        super().__init__(usage.refused)
        self.usage = usage


def charge_on(cur: Any, dialect: str, charge: UsageCharge) -> DeviceUsage:
    """`charge` on the cursor of a write transaction holding LOCK_USAGE (see
    UsageStore.charge_usage): the usage after it, or the usage with `refused` set."""
    device_id, day = charge.device_id, charge.day
    # the common case in one statement (it runs under the write lock of every push):
    # today's row exists and has room
    cur.execute(placeholders(dialect, "UPDATE device_usage SET events = events + ?, "
                                      "bytes = bytes + ? WHERE device_id = ? AND day = ? "
                                      "AND (? = 0 OR events < ?) AND (? = 0 OR bytes < ?) "
                                      "RETURNING events, bytes"),
                (charge.events, charge.bytes_, device_id, day, charge.max_events,
                 charge.max_events, charge.max_bytes, charge.max_bytes))
    charged = cur.fetchone()
    if charged is not None:
        return DeviceUsage(int(charged[0]), int(charged[1]))
    cur.execute(placeholders(dialect, "SELECT events, bytes FROM device_usage "
                                      "WHERE device_id = ? AND day = ?"), (device_id, day))
    row = cur.fetchone()
    if row is not None:     # today's row has no room left: refused
        used_events, used_bytes = int(row[0]), int(row[1])
        full = charge.max_events and used_events >= charge.max_events
        return DeviceUsage(used_events, used_bytes, "events_per_day" if full else "bytes_per_day")
    cur.execute(placeholders(dialect, "DELETE FROM device_usage WHERE device_id = ? "
                                      "AND day < ?"), (device_id, day))
    cur.execute(placeholders(dialect, "INSERT INTO device_usage (device_id, day, events, "
                                      "bytes) VALUES (?, ?, ?, ?)"),
                (device_id, day, charge.events, charge.bytes_))
    return DeviceUsage(charge.events, charge.bytes_)


class UsageSql(SqlBase):
    def charge_usage(self, device_id: str, day: str, *, events: int, bytes_: int,
                     max_events: int, max_bytes: int) -> DeviceUsage:
        # charges of every server process are serialised (LOCK_USAGE), so two pushes
        # cannot both slip past a limit
        with self._write(LOCK_USAGE) as cur:
            return charge_on(cur, self.dialect, UsageCharge(device_id, day, events, bytes_,
                                                            max_events, max_bytes))

    def device_usage(self, device_id: str, day: str) -> DeviceUsage:
        row = self._one("SELECT events, bytes FROM device_usage WHERE device_id = ? AND day = ?",
                        (device_id, day))
        return DeviceUsage(int(row[0]), int(row[1])) if row else DeviceUsage(0, 0)
