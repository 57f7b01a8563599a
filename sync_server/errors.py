"""Server-side errors (subclasses of the project's ShiftError tree)."""

from __future__ import annotations

from app.core.errors import ShiftError


class ServerError(ShiftError):
    """Something the server refuses to do; the message is safe to show to the caller."""


class ConfigError(ServerError, ValueError):
    """A setting (environment variable) is missing or malformed; the message names it."""


class NotFoundError(ServerError):
    """A named facility, device, learner or pack does not exist."""


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
