"""Slow down password guessing on admin logins (JSON API and console alike).

After MAX_FAILURES failed logins for the same admin name, or 4 × MAX_FAILURES from the
same client address (several admins may share one office address), within WINDOW_S
seconds, further tries for that name / address are refused (HTTP 429) until the window
has passed. A successful login clears the name's record.

The failures are kept in the database (`login_failures`, Repository.record_login_failure),
not in process memory: several server processes behind one address (PostgreSQL, or
`serve --workers N`) share one count, and a restart does not reset it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.events import format_at
from sync_server.db.repository import Repository
from sync_server.errors import TooManyAttemptsError

MAX_FAILURES = 5
WINDOW_S = 300.0


class LoginThrottle:
    def __init__(self, repo: Repository, max_failures: int = MAX_FAILURES,
                 window_s: float = WINDOW_S) -> None:
        self.repo = repo
        self.max_failures = max_failures
        self.window_s = window_s

    @staticmethod
    def _keys(name: str, address: str) -> tuple[str, str]:
        # NUL cannot be stored in PostgreSQL text; it never occurs in a real name
        return f"name:{name.strip().lower()}".replace("\x00", ""), f"addr:{address}"

    def _since(self, now: datetime | None) -> tuple[datetime, str]:
        moment = now or datetime.now(UTC)
        return moment, format_at(moment - timedelta(seconds=self.window_s))

    def check(self, name: str, address: str, now: datetime | None = None) -> None:
        """Raise TooManyAttemptsError while the name or the address is locked out."""
        _, since = self._since(now)
        by_name, by_addr = self._keys(name, address)
        if self.repo.count_login_failures(by_name, since) >= self.max_failures:
            raise TooManyAttemptsError(f"too many failed logins for {name!r}; try again in "
                                       f"{int(self.window_s // 60)} minutes")
        if self.repo.count_login_failures(by_addr, since) >= 4 * self.max_failures:
            raise TooManyAttemptsError("too many failed logins from this address; try again in "
                                       f"{int(self.window_s // 60)} minutes")

    def blocked(self, name: str, address: str, now: datetime | None = None) -> bool:
        try:
            self.check(name, address, now)
        except TooManyAttemptsError:
            return True
        return False

    def failed(self, name: str, address: str, now: datetime | None = None) -> None:
        moment, since = self._since(now)
        self.repo.record_login_failure(list(self._keys(name, address)), format_at(moment), since)

    def succeeded(self, name: str) -> None:
        self.repo.clear_login_failures(self._keys(name, "")[0])
