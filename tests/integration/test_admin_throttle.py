"""Console login throttling: unit rules, and on a real server (own server: the throttle
is per process and per client address)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from sync_server.admin.throttle import LoginThrottle
from tests.support.server import running_server, seed


def test_throttle_rules() -> None:
    t = LoginThrottle(max_failures=3, window_s=60)
    for i in range(3):
        assert not t.blocked("Ann", "10.0.0.1", now=i)
        t.failed("Ann", "10.0.0.1", now=i)
    assert t.blocked("ann", "10.0.0.2", now=5)          # by name, whatever the address
    assert not t.blocked("Ben", "10.0.0.1", now=5)      # address limit is 4× higher
    assert not t.blocked("Ann", "10.0.0.1", now=63)     # the window passed
    for i in range(12):
        t.failed(f"user{i}", "10.0.0.9", now=100)
    assert t.blocked("someone-new", "10.0.0.9", now=101)  # spraying names from one address
    t.failed("Cy", "10.0.0.3", now=200)
    t.succeeded("Cy")
    assert not t.blocked("Cy", "10.0.0.4", now=201)


def test_console_login_is_throttled(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data)
    with running_server(data) as base, httpx.Client(base_url=base) as client:
        page = client.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        codes = [client.post("/admin/login", data={"csrf": csrf, "name": "admin",
                                                   "password": f"guess {i}"}).status_code
                 for i in range(6)]
        assert codes == [401] * 5 + [429]
        # even the right password waits now
        right = client.post("/admin/login", data={"csrf": csrf, "name": "admin",
                                                  "password": "correct horse battery"})
        assert right.status_code == 429 and "Too many failed logins" in right.text
        # another admin name from the same address is still allowed to try
        other = client.post("/admin/login", data={"csrf": csrf, "name": "other", "password": "x"})
        assert other.status_code == 401
