"""Server-side errors (subclasses of the project's ShiftError tree)."""

from __future__ import annotations

from app.core.errors import ErrorCode, ShiftError


class ServerError(ShiftError):
    """Something the server refuses to do; the message is safe to show to the caller.

    `refusal` (optional) is a stable key of *what* was refused and `facts` the values its
    sentence needs, so the console can say it in the admin's language
    (sync_server/admin/refusals.py) without reading the English text."""

    refusal: str = ""

    def __init__(self, message: str = "", *, code: ErrorCode | None = None,
                 refusal: str = "", **facts: object) -> None:
        super().__init__(message, code=code)
        if refusal:
            self.refusal = refusal
        self.facts = facts


class ConfigError(ServerError, ValueError):
    """A setting (environment variable) is missing or malformed; the message names it."""


class NotFoundError(ServerError):
    """A named facility, device, learner or pack does not exist."""


class ErasedError(NotFoundError):
    """The learner's record was erased (db/erasure.py): nothing new is kept for them."""


class AlreadyExistsError(ServerError):
    """Creating something that already exists (admin name, facility id, pack version)."""


class EnrolError(ServerError):
    """An enrolment code is unknown, expired or already used (`reason` says which)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"enrolment code {reason}")


class DatabaseError(ServerError):
    """The database cannot be opened or migrated (the URL or file is named)."""


class TooManyAttemptsError(ServerError):
    """Too many failed logins for one admin name; try again later (HTTP 429)."""


class BackupError(ServerError):
    """A backup cannot be written, or an archive cannot be restored (damaged, foreign,
    truncated, made by a newer server) or not into this target (not empty)."""


class DeviceIdTakenError(ServerError):
    """Enrolment named a device id that is enrolled already, without proving it is that
    device (its current token). Enrolment never takes over another tablet (HTTP 409)."""


class DeviceRevokedError(ServerError):
    """The device token is genuine but an admin revoked the tablet (HTTP 401 with code
    ``device_revoked``). The tablet wipes its learners' data when it reads that answer
    (docs/sync-protocol.md §2, docs/privacy.md §4); only the holder of the real token can
    get it, so nobody else can make a tablet wipe itself."""

    def __init__(self) -> None:
        super().__init__("device token revoked: this tablet was withdrawn by an "
                         "administrator; it removes its learners' data and must be "
                         "enrolled again")


class QuotaExceededError(ServerError):
    """The device's quota for this UTC day is used up (HTTP 429 with Retry-After).

    `quota` names it ("events_per_day" or "bytes_per_day"); `retry_after` is the number
    of seconds until the next UTC day, when the quota starts afresh."""

    def __init__(self, quota: str, *, limit: int, used: int, resets_at: str,
                 retry_after: int) -> None:
        self.quota, self.limit, self.used = quota, limit, used
        self.resets_at, self.retry_after = resets_at, retry_after
        unit = "events" if quota == "events_per_day" else "bytes"
        super().__init__(f"quota exceeded: this device pushed {used} {unit} today (limit "
                         f"{limit} per UTC day); nothing was stored from this request — "
                         f"keep it and send it again after {resets_at}")


class ForbiddenError(ServerError):
    """The admin account lacks the console role an action needs (HTTP 403); the
    message names the role (services/roles.py)."""
