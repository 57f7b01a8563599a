"""Input that cannot poison (issue 13, attack rows 2, 5 server side, 7 and 10; quotas;
`/docs`): each attack through a real uvicorn server with a real httpx client, on SQLite
and PostgreSQL. Every test asserts the refusal AND that nothing else changed: the
stored events, another device's pull, another tablet's token and facility."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.bounded_json import MAX_DEPTH
from app.core.events import content_of
from sync_server.db.repository import EventRow
from tests.support.postgres import (  # noqa: F401 - database_url: parametrised fixture
    BACKENDS,
    database_url,
    url_for_backend,
)
from tests.support.server import (
    Enrolled,
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    running_server,
    seed,
)


@dataclass
class Srv:
    url: str
    data_dir: Path
    database_url: str | None
    admin: str

    def device(self, facility: str = "f1", device_id: str | None = None) -> Enrolled:
        return enrol_device(self.url, self.admin, facility, device_id)

    def code(self, facility: str) -> str:
        r = httpx.post(f"{self.url}/api/v1/admin/enrol-codes", headers=bearer(self.admin),
                       json={"facility_id": facility})
        r.raise_for_status()
        return str(r.json()["code"])

    def push(self, dev: Enrolled, events: list[Any], profiles: list[Any] | None = None
             ) -> httpx.Response:
        return httpx.post(self.url + "/api/v1/sync/push", headers=dev.headers, timeout=60,
                          json={"profiles": profiles or [], "events": events})

    def pull_all(self, dev: Enrolled) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = httpx.post(self.url + "/api/v1/sync/pull", headers=dev.headers, timeout=60,
                              json={"events_after": cursor, "limit": 5000}).json()
            got += page["events"]
            cursor = page["events_cursor"]
            if not page["more"]:
                return got

    def stored_ids(self) -> list[str]:
        repo = open_repo(self.data_dir, self.database_url)
        try:
            return list(repo.all_event_ids())
        finally:
            repo.close()


def _srv(data: Path, db: str | None, env: dict[str, str] | None = None) -> Iterator[Srv]:
    with running_server(data, db, env=env) as url:
        seed(data, db, facilities={"f1": "Facility one", "f2": "Facility two"})
        yield Srv(url, data, db, admin_token(url))


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    yield from _srv(tmp_path_factory.mktemp("srv"), url_for_backend(request.param))


@pytest.fixture
def learner(srv: Srv) -> tuple[Enrolled, dict[str, Any]]:
    """A tablet of f1 with one registered learner and a little stored history."""
    dev = srv.device("f1")
    p = make_profile()
    r = srv.push(dev, [make_event(p["id"], dev.device_id, i + 1) for i in range(3)], [p])
    assert len(r.json()["stored"]) == 3
    return dev, p


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# ------------------------------------------------------------------------ row 2: deep JSON
def test_row2_an_event_nested_900_levels_is_refused_and_poisons_nobody(
        srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    dev, p = learner
    colleague = srv.device("f1")
    before_ids, before_pull = srv.stored_ids(), srv.pull_all(colleague)
    good = make_event(p["id"], dev.device_id, 10)
    poison = make_event(p["id"], dev.device_id, 11, data=_nested(900))
    deeper = make_event(p["id"], dev.device_id, 12, data=_nested(MAX_DEPTH))  # event level 33
    edge = make_event(p["id"], dev.device_id, 13, data=_nested(MAX_DEPTH - 1))  # level 32
    answer = srv.push(dev, [good, poison, deeper, edge]).json()
    assert sorted(answer["stored"]) == sorted([good["id"], edge["id"]])
    refused = {r["id"]: r for r in answer["rejected"]}
    assert set(refused) == {poison["id"], deeper["id"]}
    assert all(r["reason"] == "bad_schema" and f"deeper than {MAX_DEPTH}" in r["detail"]
               for r in refused.values())
    # nothing else changed: exactly the two good events were added, and every tablet of
    # the facility still syncs (the pull is plain JSON a client can parse)
    assert srv.stored_ids() == before_ids + [good["id"], edge["id"]]
    after = srv.pull_all(colleague)
    assert [e["id"] for e in after] == [e["id"] for e in before_pull] + [good["id"], edge["id"]]
    # a body nested beyond what the parser can follow is refused whole (422), no row added
    bomb = ('{"events":[{"data":' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}]}").encode()
    r = httpx.post(srv.url + "/api/v1/sync/push", content=bomb,
                   headers={**dev.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "too_deep"
    assert srv.stored_ids() == before_ids + [good["id"], edge["id"]]


def test_a_number_beyond_a_double_is_refused_not_stored_as_infinity(
        srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    """`1e400` parses as inf; stored as `Infinity` (not JSON) it would fail every pull of
    the facility. Refused by the shared validator, by itself, in a chunk with good events."""
    dev, p = learner
    colleague = srv.device("f1")
    before_ids, before_pull = srv.stored_ids(), srv.pull_all(colleague)
    good = make_event(p["id"], dev.device_id, 30)
    bad = make_event(p["id"], dev.device_id, 31)
    bad["data"] = {"x": "INF"}
    body = json.dumps({"events": [good, bad]}).replace('"INF"', "1e400")
    r = httpx.post(srv.url + "/api/v1/sync/push", content=body.encode(),
                   headers={**dev.headers, "Content-Type": "application/json"})
    answer = r.json()
    assert answer["stored"] == [good["id"]]
    assert [(x["id"], x["reason"]) for x in answer["rejected"]] == [(bad["id"], "bad_schema")]
    assert "not storable as JSON" in answer["rejected"][0]["detail"]
    assert srv.stored_ids() == before_ids + [good["id"]]
    assert [e["id"] for e in srv.pull_all(colleague)] == [e["id"] for e in before_pull] + [good["id"]]


def test_row2_a_poisoned_row_stored_before_the_fix_is_not_served(srv: Srv) -> None:
    """A server that stored a deep event before this release: pulls leave it out (its seq
    still moves the cursor), so tablets that have not been updated keep syncing."""
    dev = srv.device("f2")
    p = make_profile()
    assert srv.push(dev, [make_event(p["id"], dev.device_id, 1)], [p]).status_code == 200
    poison = make_event(p["id"], dev.device_id, 2, data=_nested(900))
    repo = open_repo(srv.data_dir, srv.database_url)
    try:
        repo.insert_events([EventRow(poison["id"], p["id"], dev.device_id, "f2", poison["type"],
                                     poison["at"], content_of(poison).decode(),
                                     "2026-01-01T00:00:00.000Z", dev.device_id)])
    finally:
        repo.close()
    later = make_event(p["id"], dev.device_id, 3)
    assert srv.push(dev, [later]).json()["stored"] == [later["id"]]
    pulled = httpx.post(srv.url + "/api/v1/sync/pull", headers=dev.headers,
                        json={"limit": 5000}).content
    assert b'"a":{"a":{"a"' not in pulled              # the client never sees it
    ids = [e["id"] for e in json.loads(pulled)["events"] if e["learner"] == p["id"]]
    assert poison["id"] not in ids and later["id"] in ids


# ------------------------------------------------------------------------ payloads, seq
def test_every_payload_is_checked_with_the_devices_check_payload(
        srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    dev, p = learner
    before = srv.stored_ids()
    bad = [
        make_event(p["id"], dev.device_id, 20, type="quiz.submitted",
                   ref={"course": "c", "attempt": str(uuid.uuid4())}, data={"score": 250}),
        make_event(p["id"], dev.device_id, 21, type="answer.given",
                   ref={"course": "c", "attempt": str(uuid.uuid4()), "question": "q"},
                   data={"choice": [], "score": 1}),
        make_event(p["id"], dev.device_id, 22, type="card.viewed",
                   ref={"course": "c", "lesson": "l", "card": "../../x"}),
        make_event(p["id"], dev.device_id, 23, pack=None),
    ]
    unknown = make_event(p["id"], dev.device_id, 24, type="prisoner.searched")
    ok = make_event(p["id"], dev.device_id, 25, type="quiz.submitted",
                    ref={"course": "c", "attempt": str(uuid.uuid4())},
                    data={"score": 80, "passed": True})
    answer = srv.push(dev, [*bad, unknown, ok]).json()
    assert answer["stored"] == [ok["id"]]
    reasons = {r["index"]: (r["reason"], r["detail"]) for r in answer["rejected"]}
    assert [reasons[i][0] for i in range(4)] == ["bad_payload"] * 4
    assert "data.score" in reasons[0][1] and "data.choice" in reasons[1][1]
    assert "ref.card" in reasons[2][1] and "pack" in reasons[3][1]
    assert reasons[4][0] == "bad_schema" and "unknown event type" in reasons[4][1]
    assert srv.stored_ids() == before + [ok["id"]]


def test_seq_is_at_most_2_to_the_53(srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    dev, p = learner
    before = srv.stored_ids()
    top = make_event(p["id"], dev.device_id, 2**53)
    over = make_event(p["id"], dev.device_id, 2**53 + 1)
    huge = make_event(p["id"], dev.device_id, 10**30)
    answer = srv.push(dev, [top, over, huge]).json()
    assert answer["stored"] == [top["id"]]
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(1, "bad_schema"),
                                                                      (2, "bad_schema")]
    assert all("seq" in r["detail"] for r in answer["rejected"])
    assert srv.stored_ids() == before + [top["id"]]


# ------------------------------------------------------------------------ row 5 (server side)
def test_row5_a_pushed_certificate_received_is_refused_with_a_reason(
        srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    dev, p = learner
    colleague = srv.device("f1")
    before_ids, before_pull = srv.stored_ids(), srv.pull_all(colleague)
    credential = {"type": ["VerifiableCredential", "OpenBadgeCredential"],
                  "credentialSubject": {"achievement": {"name": "Anything I like"}}}

    def forged(device: str, seq: int) -> dict[str, Any]:
        return make_event(p["id"], device, seq, type="certificate.received",
                          ref={"certificate": str(uuid.uuid4()), "course": "boundaries"},
                          data={"credential": credential, "title": "Anything I like"})

    as_server, as_device = forged("server", 7), forged(dev.device_id, 30)
    answer = srv.push(dev, [as_server, as_device]).json()
    assert answer["stored"] == [] and answer["duplicate"] == []
    assert [(r["id"], r["reason"]) for r in answer["rejected"]] == [
        (as_server["id"], "server_only"), (as_device["id"], "server_only")]
    assert "only by the server" in answer["rejected"][0]["detail"]
    assert srv.stored_ids() == before_ids
    assert srv.pull_all(colleague) == before_pull
    r = httpx.get(srv.url + "/api/v1/admin/certificates", headers=bearer(srv.admin))
    assert all(c.get("learner_id") != p["id"] for c in r.json())


# ------------------------------------------------------------------------ row 7: enrolment
def test_row7_enrolment_never_takes_over_an_existing_device_id(srv: Srv) -> None:
    victim = srv.device("f2")
    p = make_profile()
    assert srv.push(victim, [make_event(p["id"], victim.device_id, 1)], [p]).status_code == 200
    code = srv.code("f1")
    attack = httpx.post(srv.url + "/api/v1/devices/enrol",
                        json={"code": code, "device_id": victim.device_id, "name": "evil"})
    assert attack.status_code == 409 and "enrolled already" in attack.json()["detail"]
    # ... also with a token that is not the victim's (the attacker's own device's)
    other = srv.device("f1")
    attack = httpx.post(srv.url + "/api/v1/devices/enrol", headers=other.headers,
                        json={"code": code, "device_id": victim.device_id, "name": "evil"})
    assert attack.status_code == 409
    # nothing changed: the victim's token works, it is still in f2 under its name
    me = httpx.get(srv.url + "/api/v1/devices/me", headers=victim.headers)
    assert me.status_code == 200
    assert (me.json()["facility_id"], me.json()["name"]) == ("f2", "test tablet")
    assert srv.push(victim, [make_event(p["id"], victim.device_id, 2)]).json()["stored"]
    # and the refused attempt did not use up the code: it still enrols a new id
    fresh = httpx.post(srv.url + "/api/v1/devices/enrol",
                       json={"code": code, "device_id": f"dev-{uuid.uuid4().hex}", "name": "new"})
    assert fresh.status_code == 201


def test_row7_a_tablet_re_enrols_itself_with_its_current_token(srv: Srv) -> None:
    tablet = srv.device("f1")
    moved = httpx.post(srv.url + "/api/v1/devices/enrol", headers=tablet.headers,
                       json={"code": srv.code("f2"), "device_id": tablet.device_id, "name": "moved"})
    assert moved.status_code == 201 and moved.json()["facility_id"] == "f2"
    assert httpx.get(srv.url + "/api/v1/devices/me", headers=tablet.headers).status_code == 401
    new = bearer(moved.json()["token"])
    assert httpx.get(srv.url + "/api/v1/devices/me", headers=new).json()["facility_id"] == "f2"
    # revoked by the admin, then re-admitted with a new code: the old (revoked) token is
    # still the proof that this is the same tablet
    r = httpx.post(f"{srv.url}/api/v1/admin/devices/{tablet.device_id}/revoke",
                   headers=bearer(srv.admin))
    assert r.status_code == 200
    back = httpx.post(srv.url + "/api/v1/devices/enrol", headers=new,
                      json={"code": srv.code("f2"), "device_id": tablet.device_id, "name": "back"})
    assert back.status_code == 201
    assert httpx.get(srv.url + "/api/v1/devices/me",
                     headers=bearer(back.json()["token"])).status_code == 200


# ------------------------------------------------------------------------ row 10: UUID spellings
def test_row10_one_uuid_spelled_five_ways_is_stored_once(
        srv: Srv, learner: tuple[Enrolled, dict[str, Any]]) -> None:
    dev, p = learner
    before = srv.stored_ids()
    u = uuid.uuid4()
    spellings = [str(u), "{" + str(u) + "}", str(u).upper(), u.hex, u.urn]
    events = [{**make_event(p["id"], dev.device_id, 40 + i), "id": s}
              for i, s in enumerate(spellings)]
    answer = srv.push(dev, events).json()
    assert answer["stored"] == [str(u)]
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3, 4]
    assert all(r["reason"] == "bad_schema" and "lower-case UUID" in r["detail"]
               for r in answer["rejected"])
    assert srv.stored_ids() == before + [str(u)]
    # a learner (profile) id in another spelling is not another learner either
    # (refused alone with the profile field rules' reason; other profiles would go on)
    upper = {**make_profile(), "id": str(uuid.uuid4()).upper()}
    r = srv.push(dev, [], [upper])
    assert r.status_code == 200
    assert [(o["status"], o["reason"]) for o in r.json()["profiles"]] == [("rejected", "bad_field")]
    assert srv.stored_ids() == before + [str(u)]


# ------------------------------------------------------------------------ /docs
def test_swagger_ui_is_not_offered_outside_development(srv: Srv) -> None:
    """Swagger UI and ReDoc load scripts from a CDN: a production server does not serve
    them; the OpenAPI description itself stays."""
    assert httpx.get(srv.url + "/docs").status_code == 404
    assert httpx.get(srv.url + "/redoc").status_code == 404
    assert "/api/v1/sync/push" in httpx.get(srv.url + "/openapi.json").json()["paths"]


# ------------------------------------------------------------------------ quotas
@pytest.fixture
def quota_srv(database_url: str | None, tmp_path: Path) -> Iterator[Srv]:  # noqa: F811
    yield from _srv(tmp_path / "srv", database_url,
                    env={"SHIFT_DEVICE_EVENTS_PER_DAY": "120",
                         "SHIFT_DEVICE_BYTES_PER_DAY": "150000"})


def test_per_device_quotas_answer_429_and_store_nothing_more(quota_srv: Srv) -> None:
    srv = quota_srv
    busy, noisy, calm = srv.device("f1"), srv.device("f1"), srv.device("f1")
    p = make_profile()
    assert srv.push(calm, [], [p]).status_code == 200
    seq = iter(range(1, 10_000))

    def chunk(dev: Enrolled, n: int) -> list[dict[str, Any]]:
        return [make_event(p["id"], dev.device_id, next(seq)) for _ in range(n)]

    # events per day: 50 + 50 + 50 (the push that reaches 120 is still taken) …
    for _ in range(3):
        assert len(srv.push(busy, chunk(busy, 50)).json()["stored"]) == 50
    before = srv.stored_ids()
    refused = srv.push(busy, chunk(busy, 5))
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "quota_exceeded" and body["quota"] == "events_per_day"
    assert (body["limit"], body["used"]) == (120, 150)
    assert 0 < int(refused.headers["retry-after"]) <= 86_400
    assert int(refused.headers["retry-after"]) == body["retry_after"]
    assert body["resets_at"].endswith("T00:00:00.000Z")
    assert srv.stored_ids() == before                   # nothing of it was stored
    late = make_profile()                               # a refused push saves no profile
    assert srv.push(busy, chunk(busy, 1), [late]).status_code == 429
    pulled = httpx.post(srv.url + "/api/v1/sync/pull", headers=calm.headers, json={}).json()
    assert late["id"] not in {q["id"] for q in pulled["profiles"]}
    # bytes per day: bodies that do not even parse are charged too
    junk = b'{"events": "' + b"x" * 60_000 + b'"}'
    headers = {**noisy.headers, "Content-Type": "application/json"}
    for _ in range(3):
        r = httpx.post(srv.url + "/api/v1/sync/push", content=junk, headers=headers)
        assert r.status_code == 422
    r = httpx.post(srv.url + "/api/v1/sync/push", content=junk, headers=headers)
    assert r.status_code == 429 and r.json()["quota"] == "bytes_per_day"
    r = srv.push(noisy, chunk(noisy, 1))
    assert r.status_code == 429 and srv.stored_ids() == before
    # profiles count as events: every tablet of the facility pulls each of them
    flood = srv.device("f1")
    assert srv.push(flood, [], [make_profile() for _ in range(121)]).status_code == 200
    more = srv.push(flood, [], [make_profile()])
    assert more.status_code == 429 and more.json()["quota"] == "events_per_day"
    # another device of the same facility is not affected, pulls are not limited
    assert len(srv.push(calm, chunk(calm, 20)).json()["stored"]) == 20
    assert httpx.post(srv.url + "/api/v1/sync/pull", headers=busy.headers,
                      json={}).status_code == 200
