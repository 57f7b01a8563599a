"""The console's privacy pages on a real uvicorn (SQLite and PostgreSQL) with a real
httpx client: the audit log page (filters, CSV), erasing a learner (a confirmation page
naming the person, the staff number typed back, CSRF), the learner's record as a zip."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import httpx
import pytest

from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    admin_token,
    bearer,
    running_server,
    seed,
)


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("privacy-console") / "srv"
    seed(data, url, facilities={"f1": "Vilnius"})
    with running_server(data, url) as base:
        yield base


@pytest.fixture
def client(srv: str):
    with httpx.Client(base_url=srv, timeout=60) as c:
        console_login(c, ADMIN_NAME, ADMIN_PASSWORD)
        yield c


def make_learner(client: httpx.Client, staff: str, name: str) -> str:
    r = client.post("/admin/learners", data={"csrf": page_csrf(client, "/admin/learners"),
                                             "staff_number": staff, "name": name,
                                             "facility": "f1", "role": "prison_officer",
                                             "language": "en"})
    assert r.status_code == 200, r.text
    listed = httpx.get(f"{client.base_url}/api/v1/admin/learners",
                       headers=bearer(admin_token(str(client.base_url)))).json()
    return next(p["id"] for p in listed if p["staff_number"] == staff)


def test_erase_needs_csrf_and_the_staff_number_typed_back(client: httpx.Client) -> None:
    lid = make_learner(client, "C-ERASE-1", "Console <Erika>")
    page = client.get(f"/admin/learners/{lid}/erase")
    assert page.status_code == 200
    assert "Erase Console &lt;Erika&gt;?" in page.text and "C-ERASE-1" in page.text
    # no CSRF token / a wrong one: 403, nothing erased
    for data in ({"confirm": "C-ERASE-1"}, {"confirm": "C-ERASE-1", "csrf": "0" * 64}):
        r = client.post(f"/admin/learners/{lid}/erase", data=data)
        assert r.status_code == 403
    # a cross-site form (no session cookie at all) cannot do it either
    with httpx.Client(base_url=client.base_url) as stranger:
        r = stranger.post(f"/admin/learners/{lid}/erase", data={"confirm": "C-ERASE-1"})
        assert r.status_code in (303, 403)
    csrf = page_csrf(client, f"/admin/learners/{lid}/erase")
    r = client.post(f"/admin/learners/{lid}/erase", data={"csrf": csrf, "confirm": "C-ERASE-2"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/{lid}/erase")
    assert "C-ERASE-1" in client.get("/admin/learners").text            # still there
    r = client.post(f"/admin/learners/{lid}/erase", data={"csrf": csrf, "confirm": "c-erase-1"})
    assert r.status_code == 303
    assert "C-ERASE-1" not in client.get("/admin/learners").text
    # twice: refused, the page says so
    r = client.post(f"/admin/learners/{lid}/erase", data={"csrf": csrf, "confirm": "C-ERASE-1"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/learners"
    audit = client.get("/admin/audit", params={"learner": lid})
    assert "learner erased" in audit.text and "learner created" in audit.text
    assert "Console" not in audit.text                       # ids only, never the name


def test_audit_page_filters_and_csv(client: httpx.Client) -> None:
    lid = make_learner(client, "C-AUDIT-1", "Audit Person")
    r = client.get("/admin/audit", params={"action": "learner.create", "learner": lid})
    assert r.status_code == 200 and lid in r.text
    assert client.get("/admin/audit", params={"date_from": "2026-99-01"}).status_code == 400
    assert client.get("/admin/audit", params={"action": "<script>"}).status_code == 400
    r = client.get("/admin/audit.csv", params={"learner": lid})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["seq", "at", "actor", "action"]
    assert [row[3] for row in rows[1:]] == ["learner.create"]
    assert rows[1][2] == ADMIN_NAME
    # the export was audited
    r = client.get("/admin/audit", params={"action": "export.audit"})
    assert ADMIN_NAME in r.text
    # the JSON API: same filters, admin only
    api = httpx.get(f"{client.base_url}/api/v1/admin/audit", params={"learner": lid},
                    headers=bearer(admin_token(str(client.base_url))))
    assert [e["action"] for e in api.json()] == ["learner.create"]
    assert httpx.get(f"{client.base_url}/api/v1/admin/audit").status_code == 401


def test_the_console_export_is_that_learners_record(client: httpx.Client) -> None:
    mine = make_learner(client, "C-EXP-1", "Exported Person")
    make_learner(client, "C-EXP-2", "Someone Else")
    r = client.get(f"/admin/learners/{mine}/export.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        record = json.loads(zf.read("record.json"))
        html = zf.read("record.html").decode()
    assert record["learner"]["staff_number"] == "C-EXP-1"
    assert "Someone Else" not in html + json.dumps(record) and "C-EXP-2" not in html
    assert "Exported Person" in html
