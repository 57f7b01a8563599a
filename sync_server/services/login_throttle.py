"""Slow down password guessing on admin logins (JSON API and console alike) without
handing an attacker a way to lock the real admin out.

Three counts of failed logins, kept in the database (`login_failures`) so every server
process behind one address (PostgreSQL, `serve --workers N`) shares them and a restart
does not reset them:

* per (admin name, client address): MAX_FAILURES within WINDOW_S → that pair waits.
  An attacker elsewhere therefore cannot lock the admin out of their own desk.
* per client address: ADDRESS_FAILURES within WINDOW_S, whatever the names (spraying).
* per admin name, from all addresses: NAME_FAILURES within NAME_WINDOW_S (a slower,
  global limit against guessing from many addresses) → further tries for that name are
  refused — except from an address that logged in successfully as that name within
  KNOWN_S (`login_known`), so even a distributed attack cannot aim the lock-out at the
  admin's usual workplace.

A successful login clears its (name, address) count and remembers the pair; it does not
clear the name-wide count (else the attacker could resume at once). The client address
is whatever the server was told by a trusted proxy only (docs/deployment.md,
SHIFT_TRUSTED_PROXIES): a spoofed X-Forwarded-For from anyone else is ignored, and even a
spoofed address only ever reaches the name-wide limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.clock import now_utc
from app.core.events import format_at
from sync_server.db.audit import AuditEntry
from sync_server.db.logins import LoginStore
from sync_server.errors import TooManyAttemptsError

MAX_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW_S = 300.0
NAME_FAILURES = 50
NAME_WINDOW_S = 3600.0
KNOWN_S = 90 * 86400.0


def _clean(text: str, limit: int) -> str:
    # NUL cannot be stored in PostgreSQL text; control characters never occur in a real name
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def name_key(name: str) -> str:
    """Admin names compare without case and surrounding spaces."""
    return _clean(name.strip().lower(), 64)


class LoginThrottle:
    """The three counts of the module docstring over a `LoginStore` (the repository)."""

    def __init__(self, repo: LoginStore, max_failures: int = MAX_FAILURES,
                 window_s: float = WINDOW_S, *, address_failures: int | None = None,
                 name_failures: int = NAME_FAILURES, name_window_s: float = NAME_WINDOW_S,
                 known_s: float = KNOWN_S) -> None:
        self.repo = repo
        self.max_failures = max_failures
        self.window_s = window_s
        self.address_failures = address_failures or 4 * max_failures
        self.name_failures = name_failures
        self.name_window_s = name_window_s
        self.known_s = known_s

    @staticmethod
    def _keys(name: str, address: str) -> tuple[str, str, str]:
        who, where = name_key(name), _clean(address, 100)
        return f"pair:{who}|{where}", f"addr:{where}", f"name:{who}"

    @staticmethod
    def _ago(moment: datetime, seconds: float) -> str:
        return format_at(moment - timedelta(seconds=seconds))

    def check(self, name: str, address: str, now: datetime | None = None) -> None:
        """Raise TooManyAttemptsError while this name may not be tried from this address."""
        moment = now or now_utc()
        pair, addr, whole = self._keys(name, address)
        since = self._ago(moment, self.window_s)
        minutes = max(1, int(self.window_s // 60))
        if self.repo.count_login_failures(pair, since) >= self.max_failures:
            raise TooManyAttemptsError(f"too many failed logins for {name_key(name)!r} from "
                                       f"this address; try again in {minutes} minutes")
        if self.repo.count_login_failures(addr, since) >= self.address_failures:
            raise TooManyAttemptsError("too many failed logins from this address; try again in "
                                       f"{minutes} minutes")
        if (self.repo.count_login_failures(whole, self._ago(moment, self.name_window_s))
                >= self.name_failures
                and not self.repo.known_login(name_key(name), _clean(address, 100),
                                              self._ago(moment, self.known_s))):
            raise TooManyAttemptsError(
                f"too many failed logins for {name_key(name)!r} from many addresses; try again "
                f"in {max(1, int(self.name_window_s // 60))} minutes, or from an address this "
                "admin used before")

    def blocked(self, name: str, address: str, now: datetime | None = None) -> bool:
        try:
            self.check(name, address, now)
        except TooManyAttemptsError:
            return True
        return False

    def failed(self, name: str, address: str, now: datetime | None = None, *,
               audit: AuditEntry | None = None) -> None:
        moment = now or now_utc()
        oldest = self._ago(moment, max(self.window_s, self.name_window_s))
        self.repo.record_login_failure(list(self._keys(name, address)), format_at(moment), oldest,
                                       audit=audit)

    def succeeded(self, name: str, address: str = "?", now: datetime | None = None) -> None:
        moment = now or now_utc()
        self.repo.clear_login_failures(self._keys(name, address)[0])
        self.repo.remember_login(name_key(name), _clean(address, 100), format_at(moment))
