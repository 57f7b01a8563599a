"""The admin services (sync_server/services/): one function per action, validating once,
so the JSON API, the console and the CLI refuse the same input with the same message."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.db import open_repository
from sync_server.db.repository import Repository
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.services import certificates, devices, facilities, learners, packs
from sync_server.settings import Settings
from tests.support.server import ADMIN_PASSWORD, seed

BASE = "http://testserver"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    r = open_repository(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    facilities.create_facility(repo=r, facility_id="f1", name="  One  ")
    yield r
    r.close()


def test_facility_rules_are_checked_once(repo: Repository) -> None:
    assert facilities.get_facility(repo=repo, facility_id="f1").name == "One"   # stripped
    for fid, name, message in (("Bad Id!", "x", "facility id 'Bad Id!'"),
                               ("../f1", "x", "facility id"), ("f2", "   ", "facility name"),
                               ("f2", "x" * 201, "facility name: 1–200")):
        with pytest.raises(ServerError, match=re.escape(message)):
            facilities.create_facility(repo=repo, facility_id=fid, name=name)
    with pytest.raises(AlreadyExistsError):
        facilities.create_facility(repo=repo, facility_id="f1", name="again")
    assert [f.id for f in facilities.list_facilities(repo=repo)] == ["f1"]


def test_device_and_learner_actions_name_what_is_missing(repo: Repository) -> None:
    with pytest.raises(NotFoundError, match="facility 'nowhere' does not exist"):
        devices.create_enrol_code(repo=repo, facility_id="nowhere", ttl_s=60, by="boss")
    code = devices.create_enrol_code(repo=repo, facility_id="f1", ttl_s=60, by="boss")
    enrolled = devices.enrol(repo=repo, code=code.code, device_id="tab", name="Tab",
                             proof_token=None)
    assert enrolled.facility_name == "One"
    assert devices.device_for_token(repo=repo, token=enrolled.token) == enrolled.device
    assert devices.revoke_device(repo=repo, device_id="tab").changed
    again = devices.revoke_device(repo=repo, device_id="tab")
    assert not again.changed and again.device.revoked
    with pytest.raises(NotFoundError, match="device 'ghost'"):
        devices.revoke_device(repo=repo, device_id="ghost")
    with pytest.raises(NotFoundError, match="learner 'ghost'"):
        learners.reset_pin(repo=repo, learner_id="ghost", setup_ttl_s=60)
    with pytest.raises(ServerError, match="unknown role"):
        learners.create_learner(repo=repo, staff_number="S1", display_name="A", role="warden",
                                language="en", facility_id="f1", setup_ttl_s=60)


def test_a_csv_import_registers_the_good_rows_and_names_the_bad_ones(repo: Repository) -> None:
    sheet = (b"staff_number,name,facility,role\n"
             b"LT-1,Ona,f1,prison_officer\n"
             b"LT-1,Again,f1,prison_officer\n"            # repeats line 2
             b"LT-2,Jonas,nowhere,prison_officer\n")
    result = learners.import_learners(repo=repo, data=sheet, setup_ttl_s=60)
    assert [m.learner.display_name for m in result.registered] == ["Ona"]
    assert [(e.line, e.field) for e in result.errors] == [(3, "staff_number"), (4, "facility")]
    again = learners.import_learners(repo=repo, data=sheet.splitlines(True)[0] + b"lt-1,X,f1,"
                                     b"prison_officer\n", setup_ttl_s=60)
    assert not again.registered and "already belongs" in again.errors[0].message


def test_publish_and_revoke_validate_their_input(repo: Repository) -> None:
    with pytest.raises(ServerError, match=r"Unknown role\(s\): jailer"):
        packs.publish(repo=repo, pack_id="p", version=1, facilities=[], roles=["jailer"],
                      by="boss")
    with pytest.raises(NotFoundError, match="was not uploaded"):
        packs.publish(repo=repo, pack_id="p", version=1, facilities=[], roles=[], by="boss")
    cid = str(uuid.uuid4())
    with pytest.raises(ServerError, match="not a UUID"):
        certificates.revoke_certificate(repo=repo, certificate_id="x", by="boss", reason="r")
    with pytest.raises(ServerError, match="reason: expected 1–200"):
        certificates.revoke_certificate(repo=repo, certificate_id=cid, by="boss", reason=" ")
    with pytest.raises(NotFoundError, match="no such certificate, or already revoked"):
        certificates.revoke_certificate(repo=repo, certificate_id=cid.upper(), by="boss",
                                        reason="wrong person")
    assert certificates.find(repo=repo, certificate_id="not-a-uuid") is None


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    data = tmp_path / "srv"
    app = create_app(Settings(data_dir=data, public_base_url=BASE))
    seed(data, facilities={"f1": "One"})
    with TestClient(app) as c:
        yield c


def _console_login(c: TestClient) -> None:
    page = c.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)   # type: ignore[union-attr]
    r = c.post("/admin/login", data={"csrf": csrf, "name": "admin", "password": ADMIN_PASSWORD},
               follow_redirects=False)
    assert r.status_code == 303


def _console_csrf(c: TestClient, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)  # type: ignore[union-attr]


def test_the_api_and_the_console_refuse_with_the_same_message(client: TestClient) -> None:
    token = client.post("/api/v1/admin/login",
                        json={"name": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    _console_login(client)
    cid = str(uuid.uuid4())
    cases = (
        (("/api/v1/admin/facilities", {"id": "f9", "name": "   "}),
         ("/admin/facilities", {"id": "f9", "name": "   "}), "/admin/devices", 400),
        (("/api/v1/admin/packs/p1/publish", {"version": 1, "roles": ["jailer"]}),
         ("/admin/packs/p1/publish", {"version": "1", "all_facilities": "1", "roles": "jailer"}),
         "/admin/packs", 400),
        ((f"/api/v1/admin/certificates/{cid}/revoke", {"reason": "wrong person"}),
         (f"/admin/certificates/{cid}/revoke", {"reason": "wrong person"}),
         "/admin/certificates", 404),
    )
    for (api_path, body), (page_path, form), shown_on, status in cases:
        answer = client.post(api_path, json=body, headers=bearer)
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        r = client.post(page_path, data={**form, "csrf": _console_csrf(client, shown_on)},
                        follow_redirects=False)
        # the console either redirects to the page that shows the message, or answers the
        # form again with the message next to what was typed (issue 21)
        assert r.status_code in (303, 422)
        page = client.get(shown_on).text if r.status_code == 303 else r.text
        assert html.escape(detail, quote=True) in page, detail
