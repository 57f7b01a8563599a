"""The LRS push report (issue 21 item 8) against a fake LRS on 127.0.0.1 that answers
204 for statement ids it already has and 400 with a reason for a bad statement: the
console counts *sent*, *already in the LRS* and *refused* apart, and shows the LRS's own
error text (bounded, escaped)."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.server import (
    admin_token,
    enrol_device,
    make_event,
    make_profile,
    running_server,
    seed,
)

HOSTILE = "<script>alert(1)</script> actor.mbox must be a mailto IRI " + "x" * 600


class Lrs204:
    """POST /xapi/statements: new ids are stored (200 with their ids); a batch with an id
    already stored is 204 (the new ones in it are stored too, but the answer says no
    more); a batch with a statement whose id is in `bad` is 400 with a JSON reason; the
    answer to `fail_with` is that status with a text body."""

    def __init__(self, bad: set[str]) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.bad = bad
        self.fail_with: int | None = None
        expected = "Basic " + base64.b64encode(b"lrs:secret").decode()
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if self.headers.get("authorization") != expected:
                    return self._send(401, b'{"message": "bad credentials"}')
                if lrs.fail_with:
                    return self._send(lrs.fail_with, b"database on fire\n" * 50)
                if any(s["id"] in lrs.bad for s in body):
                    return self._send(400, json.dumps({"message": HOSTILE}).encode())
                known = any(s["id"] in lrs.stored for s in body)
                new = [s["id"] for s in body if s["id"] not in lrs.stored]
                for s in body:
                    lrs.stored.setdefault(s["id"], s)
                if known:
                    return self._send(204, b"")
                self._send(200, json.dumps(new).encode())

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xapi"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    data = tmp_path / "srv"
    seed(data, facilities={"f1": "Vilnius"})
    with running_server(data) as base:
        device = enrol_device(base, admin_token(base), "f1", "tab-lrs")
        who = make_profile(name="Rasa")
        events = [make_event(who["id"], "tab-lrs", i, type="selfassessment.rated",
                             ref={"profile": "prison-officer", "assessment": "s1",
                                  "task": f"a{i}"}, data={"level": 1}) for i in range(1, 8)]
        r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                       json={"profiles": [who], "events": events})
        assert len(r.json()["stored"]) == 7, r.text
        yield base, [e["id"] for e in events]


def _push(client: httpx.Client, lrs: Lrs204, password: str = "secret") -> httpx.Response:
    return client.post("/admin/exports/lrs", data={
        "csrf": page_csrf(client, "/admin/exports"), "endpoint": lrs.url, "username": "lrs",
        "password": password})


def _count(page: str, name: str) -> int:
    return int(re.search(rf'id="lrs-{name}">(\d+)<', page).group(1))


def test_lrs_report_counts_204_apart_and_shows_the_lrs_reason(server) -> None:
    base, ids = server
    lrs = Lrs204(bad={ids[3]})
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            console_login(client)
            lrs.stored[ids[0]] = {"id": ids[0]}           # the LRS knows one already
            lines = client.get("/admin/exports/xapi.jsonl").text.splitlines()
            total = len(lines)
            assert total >= 7
            first = _push(client, lrs).text
            assert (_count(first, "sent"), _count(first, "already"), _count(first, "refused")) \
                == (total - 2, 1, 1), first
            refused = re.search(r'<ul class="lrs-errors lrs-refused"><li>([^<]*)</li>', first).group(1)
            assert refused.startswith(f"statement {ids[3]}: LRS refused it: &lt;script&gt;")
            assert "<script>alert" not in first                        # escaped
            assert len(refused) < 450 and refused.endswith("…")         # bounded
            second = _push(client, lrs).text                            # nothing new now
            assert (_count(second, "sent"), _count(second, "already"),
                    _count(second, "refused")) == (0, total - 1, 1)
            lrs.fail_with = 500
            broken = _push(client, lrs)
            assert broken.status_code == 502
            assert re.search(r"LRS answered HTTP 500: database on fire database on fire", broken.text)
            assert len(re.search(r"HTTP 500: ([^<]*)<", broken.text).group(1)) <= 300
            lrs.fail_with = None
            denied = _push(client, lrs, password="wrong").text
            assert "LRS answered HTTP 401: bad credentials" in denied
    finally:
        lrs.close()
