"""xAPI export with bad events among good ones (issue 13): an event whose payload cannot
make a valid xAPI 1.0.3 statement is reported and skipped, and the push to the LRS goes
on; a statement an LRS still refuses (400) costs only itself. The LRS is a strict fake on
127.0.0.1 that validates statements with its own rules (not the project's) and refuses a
whole batch with one invalid statement, as real LRSs do. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.core.events import content_of
from sync_server.db.repository import EventRow
from sync_server.services.exports import push_to_lrs
from tests.integration.test_admin_certificates import console_login, page_csrf, upload_and_publish
from tests.support.learner_work import server_manifest, study
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    admin_token,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    running_server,
    seed,
)

DURATION = re.compile(r"^P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
USER, PASSWORD = "lrs", "secret"


def lrs_problem(statement: Any) -> str | None:
    """The strict LRS's own check (independent of app.core.learning.xapi_check)."""
    if not isinstance(statement, dict):
        return "not an object"
    try:
        uuid.UUID(statement["id"])
    except (KeyError, ValueError, TypeError):
        return "id"
    if not {"actor", "verb", "object"} <= set(statement):
        return "actor/verb/object"
    result = statement.get("result", {})
    if "duration" in result and (not DURATION.match(result["duration"])
                                 or result["duration"] in ("P", "PT")):
        return f"result.duration {result['duration']!r}"
    score = result.get("score", {})
    scaled = score.get("scaled", 0)
    if not isinstance(scaled, int | float) or not math.isfinite(scaled) or not -1 <= scaled <= 1:
        return "result.score.scaled"
    if "raw" in score and not score.get("min", -math.inf) <= score["raw"] <= score.get("max", math.inf):
        return "result.score.raw"
    return None


class StrictLrs:
    def __init__(self) -> None:
        self.statements: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("authorization") != expected:
                    return self._send(401, b"{}")
                batch = json.loads(body)
                problems = [p for p in map(lrs_problem, batch) if p]
                if problems:                      # the whole batch is refused
                    lrs.refused += problems
                    return self._send(400, json.dumps({"message": problems[0]}).encode())
                if any(s["id"] in lrs.statements for s in batch):
                    return self._send(409, b"{}")
                for s in batch:
                    lrs.statements[s["id"]] = s
                self._send(200, json.dumps([s["id"] for s in batch]).encode())

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
def lrs() -> Iterator[StrictLrs]:
    server = StrictLrs()
    yield server
    server.close()


def test_an_invalid_statement_costs_only_itself(lrs: StrictLrs) -> None:
    """What an older exporter produced (duration "PT1e+07S") among valid statements: the
    LRS refuses the batch, the push re-sends one by one, only that one is left out."""
    good = [{"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "account": {
        "homePage": "https://learn.example.org", "name": f"L{i}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": f"https://learn.example.org/xapi/activities/p/card/{i}"},
        "result": {"duration": "PT12.5S"}} for i in range(7)]
    bad = json.loads(json.dumps(good[3]))
    bad["id"], bad["result"]["duration"] = str(uuid.uuid4()), "PT1e+07S"
    result = push_to_lrs([*good[:3], bad, *good[3:]], lrs.url, username=USER, password=PASSWORD)
    assert result.ok and result.sent == 7 and result.already == 0
    assert len(result.rejected) == 1 and bad["id"] in result.rejected[0]
    assert "duration" in result.rejected[0]
    assert set(lrs.statements) == {s["id"] for s in good}
    again = push_to_lrs([*good, bad], lrs.url, username=USER, password=PASSWORD)
    assert (again.sent, again.already, len(again.rejected)) == (0, 7, 1)
    # a wrong password still stops the push (nothing is "rejected": it failed)
    denied = push_to_lrs(good, lrs.url, username=USER, password="wrong")
    assert not denied.ok and not denied.rejected and "401" in denied.failed[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_events_are_reported_and_skipped_and_the_push_goes_on(
        backend: str, tmp_path: Any, lrs: StrictLrs) -> None:
    url = url_for_backend(backend)
    data = tmp_path / "srv"
    seed(data, url, facilities={"f1": "Vilnius"})
    with running_server(data, url) as base:
        token = admin_token(base)
        upload_and_publish(base, token, ["f1"])
        device = enrol_device(base, token, "f1", "tab-1")
        learner = make_profile(name="Ona")
        work = study(server_manifest(base, device.headers, "promote-sample", 1), learner["id"],
                     "boundaries")
        r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                       json={"profiles": [learner], "events": work})
        assert len(r.json()["stored"]) == len(work)
        # events stored before payload checks existed at push (or by an older server)
        bad = [make_event(learner["id"], "tab-old", 1, pack="promote-sample",
                          data={"seconds": 1e7}),
               make_event(learner["id"], "tab-old", 2, type="answer.given", pack="promote-sample",
                          ref={"course": "boundaries", "attempt": "a1", "question": "q1"},
                          data={"choice": ["a"], "score": 7})]
        repo = open_repo(data, url)
        try:
            repo.insert_events([EventRow(e["id"], e["learner"], e["device"], "f1", e["type"],
                                         e["at"], content_of(e).decode(), e["at"], "tab-old")
                                for e in bad])
        finally:
            repo.close()

        lines = httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl",
                          headers={"Authorization": f"Bearer {token}"}).text.splitlines()
        exported = {json.loads(line)["id"] for line in lines}
        good_ids = {e["id"] for e in work} | {
            e["id"] for e in pull_certificates(base, device.headers)}
        assert exported == good_ids                      # the good ones, not the bad ones
        log = (data / "server.log").read_text(errors="replace")
        for e in bad:
            assert any("event skipped" in line and e["id"] in line for line in log.splitlines())

        with httpx.Client(base_url=base) as client:
            console_login(client)
            page = client.post("/admin/exports/lrs", data={
                "csrf": page_csrf(client, "/admin/exports"), "endpoint": lrs.url,
                "username": USER, "password": PASSWORD})
        assert page.status_code == 200, page.text
        assert f"Sent {len(good_ids)}, already in the LRS 0, not mappable 2" in page.text
        for e in bad:
            assert e["id"] in page.text                  # each reported with its reason
        assert "data.seconds" in page.text and "data.score" in page.text
        assert set(lrs.statements) == good_ids and not lrs.refused


def pull_certificates(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    body = httpx.post(f"{base}/api/v1/sync/pull", headers=headers, json={"limit": 5000}).json()
    return [e for e in body["events"] if e["type"] == "certificate.received"]
