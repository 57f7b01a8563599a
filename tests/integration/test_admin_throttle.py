"""Admin login lock-out: rules on the repository (SQLite and PostgreSQL), on a real
console, and across two server processes sharing one database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sync_server.errors import TooManyAttemptsError
from sync_server.services.login_throttle import LoginThrottle
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures
from tests.support.server import ServerProcess, open_repo, running_server, seed

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_throttle_rules(tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    repo = open_repo(tmp_path / "srv", database_url)
    try:
        t = LoginThrottle(repo, max_failures=3, window_s=60, name_failures=10,
                          name_window_s=600)
        for i in range(3):
            assert not t.blocked("Ann", "10.0.0.1", now=at(i))
            t.failed("Ann", "10.0.0.1", now=at(i))
        assert t.blocked("ann ", "10.0.0.1", now=at(5))       # that name from that address
        assert not t.blocked("Ann", "10.0.0.2", now=at(5))    # not Ann at her own desk
        assert not t.blocked("Ben", "10.0.0.1", now=at(5))    # address limit is 4× higher
        assert not t.blocked("Ann", "10.0.0.1", now=at(63))   # the window passed
        for i in range(12):
            t.failed(f"user{i}", "10.0.0.9", now=at(100))
        assert t.blocked("someone-new", "10.0.0.9", now=at(101))  # spraying names
        t.failed("Cy", "10.0.0.3", now=at(200))
        t.succeeded("CY", "10.0.0.3", now=at(200))
        assert repo.count_login_failures("pair:cy|10.0.0.3", "2000-01-01T00:00:00.000Z") == 0
        # a second throttle on the same database (another process) sees the same count
        other = LoginThrottle(repo, max_failures=3, window_s=60)
        for i in range(3):
            t.failed("Dan", "10.0.0.5", now=at(300 + i))
        assert other.blocked("dan", "10.0.0.5", now=at(303))
        # old entries are pruned on the next failure: the table does not grow forever
        t.failed("Eve", "10.0.0.7", now=at(10_000))
        assert repo.count_login_failures("pair:ann|10.0.0.1", "2000-01-01T00:00:00.000Z") == 0
    finally:
        repo.close()


def test_a_distributed_guess_cannot_lock_the_admin_out_of_a_known_address(
        tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    """Issue 13 row 8 (lock-out aim): failures from many addresses for the admin's name
    trip the slower name-wide limit — which refuses new addresses but never one the admin
    logged in from before. Nothing else is changed by the attack."""
    repo = open_repo(tmp_path / "srv", database_url)
    try:
        t = LoginThrottle(repo, max_failures=3, window_s=60, name_failures=10,
                          name_window_s=600)
        t.succeeded("admin", "192.0.2.10", now=at(0))           # the admin's desk
        for i in range(10):                                      # one try per address
            address = f"198.51.100.{i}"
            assert not t.blocked("admin", address, now=at(10 + i))
            t.failed("admin", address, now=at(10 + i))
        assert t.blocked("admin", "198.51.100.77", now=at(30))   # new addresses: wait
        assert not t.blocked("admin", "192.0.2.10", now=at(30))  # the admin's own desk: in
        assert not t.blocked("bob", "198.51.100.77", now=at(30)) # other names: unaffected
        with pytest.raises(TooManyAttemptsError, match="from many addresses"):
            t.check("admin", "198.51.100.78", now=at(31))
        assert not t.blocked("admin", "198.51.100.77", now=at(10 + 600 + 10))  # window over
    finally:
        repo.close()


def test_unknown_and_known_names_cost_the_same(tmp_path: Path,
                                               database_url: str | None) -> None:  # noqa: F811
    """An unknown name is checked against a dummy hash: the same work as a wrong password
    (counted as hash runs, not timed); a name with NUL is refused without a database error."""
    from unittest import mock

    from sync_server.services import admin_auth
    from sync_server.settings import Settings

    seed(tmp_path / "srv", database_url)
    repo = open_repo(tmp_path / "srv", database_url)
    settings = Settings(data_dir=tmp_path / "srv")
    calls: list[str] = []
    real = admin_auth.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(stored.split("$")[1])
        return real(password, stored)

    def login(name: str, password: str, address: str) -> admin_auth.AdminSession | None:
        return admin_auth.login(repo=repo, name=name, password=password, address=address,
                                session_ttl_s=settings.admin_session_ttl_s)

    try:
        with mock.patch.object(admin_auth, "verify_password", counting), \
                mock.patch("sync_server.security.verify_password", counting):
            assert login("admin", "wrong password", "10.1.1.1") is None
            assert login("nobody", "wrong password", "10.1.1.2") is None
            assert login("nul\x00\x1b[0m", "x", "10.1.1.3") is None
        assert calls == ["argon2id"] * 3
        assert login("admin", "correct horse battery", "10.1.1.1")
    finally:
        repo.close()


def _login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/admin/login", data={"csrf": csrf, "name": name, "password": password})


def test_console_login_is_throttled(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data)
    with running_server(data) as base, httpx.Client(base_url=base) as client:
        codes = [_login(client, "admin", f"guess {i}").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        # even the right password waits now, also through the JSON API
        right = _login(client, "admin", "correct horse battery")
        assert right.status_code == 429 and "Too many failed logins" in right.text
        api = client.post("/api/v1/admin/login", json={"name": "admin", "password": "x"})
        assert api.status_code == 429
        # another admin name from the same address is still allowed to try
        assert _login(client, "other", "x").status_code == 401


def test_lock_out_holds_across_server_processes(tmp_path: Path,
                                                database_url: str | None) -> None:  # noqa: F811
    """Failures made on one server instance lock the name out on the other one too."""
    data = tmp_path / "srv"
    seed(data, database_url)
    one, two = ServerProcess(data, database_url), ServerProcess(data, database_url)
    base1, base2 = one.start(), two.start()
    try:
        for i in range(3):
            r = httpx.post(f"{base1}/api/v1/admin/login", json={"name": "admin", "password": f"g{i}"})
            assert r.status_code == 401
        for i in range(2):
            r = httpx.post(f"{base2}/api/v1/admin/login", json={"name": "admin", "password": f"h{i}"})
            assert r.status_code == 401
        for base in (base1, base2):
            with httpx.Client(base_url=base) as client:
                assert _login(client, "admin", "still guessing").status_code == 429
    finally:
        one.stop()
        two.stop()


@pytest.mark.parametrize("name", ["", " ", "x" * 500, "admin'; DROP TABLE admins; --", "ä\u0000"])
def test_hostile_names_are_just_wrong(tmp_path: Path, name: str) -> None:
    repo = open_repo(tmp_path / "srv")
    try:
        t = LoginThrottle(repo)
        t.failed(name, "::1")
        assert not t.blocked(name, "::1")
        assert repo.get_admin_by_name("admin") is None and repo.list_admins() == []
    finally:
        repo.close()
