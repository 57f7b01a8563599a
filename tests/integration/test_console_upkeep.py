"""The console as a training officer's desk (issue 21 items 3, 5, 9) on a real uvicorn
server, SQLite and PostgreSQL: enrolment codes listed, cancelled (a cancelled code enrols
nothing) and printed; facilities listed, renamed, created with the browser's id rule and
the typed fields kept on an error; learners searched, paged, edited, moved, deactivated
(their PIN leaves every tablet at the next sync) and reactivated; CSV role labels and the
template download."""

from __future__ import annotations

import csv
import io
import re
import uuid

import httpx
import pytest

from sync_server.services.facilities import FACILITY_ID_HTML, SLUG_PATTERN
from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import admin_token, enrol_device, running_server, seed


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("upkeep") / "srv"
    seed(data, url, facilities={"vil": "Vilnius Correctional House", "ias": "Iasi"})
    with running_server(data, url) as base:
        yield base


@pytest.fixture
def client(srv):
    with httpx.Client(base_url=srv, timeout=60) as c:
        console_login(c)
        yield c


def _code(client: httpx.Client, facility: str) -> str:
    r = client.post("/admin/devices/enrol-code",
                    data={"csrf": page_csrf(client, "/admin/devices"), "facility": facility})
    assert r.status_code == 200
    return re.search(r'id="enrol-code">([A-Z0-9-]+)<', r.text).group(1)


def test_enrol_codes_listed_cancelled_and_printed(srv, client) -> None:
    r = client.post("/admin/devices/enrol-code",
                    data={"csrf": page_csrf(client, "/admin/devices"), "facility": "ias"})
    code = re.search(r'id="enrol-code">([A-Z0-9-]+)<', r.text).group(1)
    # the sheet is a print view: QR, the server address, steps, a print button
    assert "data-print" in r.text and "<svg" in r.text and srv in r.text
    page = client.get("/admin/devices").text
    listed = re.findall(r'action="/admin/devices/enrol-codes/([0-9a-f]{64})/cancel"', page)
    assert listed and code not in page          # listed by reference; the code is never shown
    assert "Iasi" in page and "Expires (UTC)" in page and ">admin<" in page
    cancelled = client.post(f"/admin/devices/enrol-codes/{listed[0]}/cancel",
                            data={"csrf": page_csrf(client, "/admin/devices")})
    assert cancelled.status_code == 303
    after = client.get("/admin/devices").text
    assert "Enrolment code for Iasi" in after and "cancelled." in after
    assert listed[0] not in after
    refused = httpx.post(f"{srv}/api/v1/devices/enrol",
                         json={"code": code, "device_id": "tab-leak", "name": "Leaked QR"})
    assert refused.status_code == 403 and "cancelled" in refused.text
    again = client.post(f"/admin/devices/enrol-codes/{listed[0]}/cancel",
                        data={"csrf": page_csrf(client, "/admin/devices")})
    assert "no open enrolment code" in client.get(again.headers["location"]).text
    hostile = client.post("/admin/devices/enrol-codes/<script>/cancel",
                          data={"csrf": page_csrf(client, "/admin/devices")})
    assert hostile.status_code in (303, 404)
    # a used code leaves the list
    used = _code(client, "vil")
    assert httpx.post(f"{srv}/api/v1/devices/enrol", json={
        "code": used, "device_id": f"tab-{uuid.uuid4().hex[:6]}", "name": "T"}).status_code == 201
    assert len(re.findall(r"/cancel\"", client.get("/admin/devices").text)) == 0


def test_facilities_pattern_rename_and_typed_fields_kept(client) -> None:
    page = client.get("/admin/devices").text
    # the HTML pattern is the server's rule, written so Chromium's v-flag mode accepts it
    assert f'pattern="{FACILITY_ID_HTML}"' in page.replace("&#92;", "\\")
    assert f"^{FACILITY_ID_HTML}$" == SLUG_PATTERN and r"_\-]" in FACILITY_ID_HTML
    bad = client.post("/admin/facilities", data={"csrf": page_csrf(client, "/admin/devices"),
                                                 "id": "Bad Id", "name": "Šiaulių namai"})
    assert bad.status_code == 422 and "lower-case letters" in bad.text
    assert 'value="Bad Id"' in bad.text and 'value="Šiaulių namai"' in bad.text
    hostile = client.post("/admin/facilities", data={"csrf": page_csrf(client, "/admin/devices"),
                                                     "id": '"><script>', "name": "x"})
    assert hostile.status_code == 422 and "<script>" not in hostile.text
    ok = client.post("/admin/facilities", data={"csrf": page_csrf(client, "/admin/devices"),
                                                "id": "siau-1_b", "name": "Šiauliai"})
    assert ok.status_code == 303
    r = client.post("/admin/facilities/siau-1_b/rename",
                    data={"csrf": page_csrf(client, "/admin/devices"), "name": "Šiauliai remand"})
    assert "Facility siau-1_b is now called Šiauliai remand." in client.get(r.headers["location"]).text
    for name in ("", "x" * 201, "bad\u202ename"):
        r = client.post("/admin/facilities/siau-1_b/rename",
                        data={"csrf": page_csrf(client, "/admin/devices"), "name": name})
        assert "facility name" in client.get(r.headers["location"]).text
    r = client.post("/admin/facilities/nowhere/rename",
                    data={"csrf": page_csrf(client, "/admin/devices"), "name": "X"})
    assert "does not exist" in client.get(r.headers["location"]).text


def _learner_id(client: httpx.Client, name: str) -> str:
    page = client.get("/admin/learners", params={"q": name, "status": "all"}).text
    return re.search(rf'href="/admin/learners/([0-9a-f-]+)">{re.escape(name)}<', page).group(1)


def test_learners_search_page_edit_deactivate_reactivate(srv, client) -> None:
    csrf = page_csrf(client, "/admin/learners")
    sheet = "staff_number,name,facility,role,language\n" + "".join(
        f"P-{i:03d},Person {i:03d},vil,{'Prison officer' if i % 2 else 'psychologist'},en\n"
        for i in range(60))
    r = client.post("/admin/learners/import", data={"csrf": csrf},
                    files={"file": ("staff.csv", sheet.encode(), "text/csv")})
    assert "Imported 60 learners; 0 rows with errors." in r.text   # labels and ids
    first = client.get("/admin/learners", params={"facility": "vil"}).text
    assert "Page 1 of 2" in first and len(re.findall(r'href="/admin/learners/[0-9a-f-]{36}"', first)) == 50
    second = client.get("/admin/learners", params={"facility": "vil", "page": 2}).text
    assert "Page 2 of 2" in second and "Person 059" in second
    assert "Page 2 of 2" in client.get("/admin/learners", params={"facility": "vil",
                                                                   "page": 99}).text
    found = client.get("/admin/learners", params={"q": "p-01 1"}).text   # staff no., no case
    assert "Person 011" in found and "Person 012" not in found
    assert "No learners match" in client.get("/admin/learners", params={"q": "<b>zz"}).text

    lid = _learner_id(client, "Person 007")
    page = client.get(f"/admin/learners/{lid}").text
    assert '<option value="lt"' in page and "Lietuvių" in page       # language: a select
    bad = client.post(f"/admin/learners/{lid}/edit", data={
        "csrf": csrf, "name": "Ona\u0000", "role": "psychologist", "language": "lt"})
    assert bad.status_code == 422 and "display_name" in bad.text
    assert '<option value="psychologist" selected>' in bad.text      # typed choices kept
    ok = client.post(f"/admin/learners/{lid}/edit", data={
        "csrf": csrf, "name": "Ona Petraitienė", "role": "psychologist", "language": "lt"})
    assert ok.status_code == 303
    assert "Saved Ona Petraitienė" in client.get(ok.headers["location"]).text
    for field, value in (("role", "warden"), ("language", "../x")):
        data = {"csrf": csrf, "name": "Ona", "role": "psychologist", "language": "lt",
                field: value}
        assert client.post(f"/admin/learners/{lid}/edit", data=data).status_code == 422

    # a tablet of the facility gets the edit, then the deactivation (PIN gone)
    tablet = enrol_device(srv, admin_token(srv), "vil", f"tab-{uuid.uuid4().hex[:6]}")

    def pulled() -> dict:
        body = httpx.post(f"{srv}/api/v1/sync/pull", headers=tablet.headers,
                          json={"events_after": 0, "profiles_after": 0}).json()
        return next(p for p in body["profiles"] if p["id"] == lid)

    assert (pulled()["display_name"], pulled()["role"], pulled()["language"]) == (
        "Ona Petraitienė", "psychologist", "lt")
    assert pulled()["pin_setup_verifier"]                     # the import's set-up code
    r = client.post(f"/admin/learners/{lid}/deactivate", data={"csrf": csrf})
    assert "is deactivated: their PIN is removed" in client.get(r.headers["location"]).text
    gone = pulled()
    assert gone["pin_verifier"] is None and gone["pin_setup_verifier"] is None
    assert "Ona Petraitienė" not in client.get("/admin/learners", params={"q": "Ona"}).text
    assert "Ona Petraitienė" in client.get("/admin/learners", params={
        "q": "Ona", "status": "deactivated"}).text
    r = client.post(f"/admin/learners/{lid}/pin-setup", data={"csrf": csrf})
    assert "reactivate them first" in client.get(r.headers["location"]).text
    r = client.post(f"/admin/learners/{lid}/deactivate", data={"csrf": csrf})
    assert "deactivated already" in client.get(r.headers["location"]).text
    back = client.post(f"/admin/learners/{lid}/reactivate", data={"csrf": csrf})
    assert back.status_code == 200 and re.search(r'class="pin-code">[A-Z0-9-]{14}<', back.text)
    assert pulled()["pin_setup_verifier"]
    assert "Ona Petraitienė" in client.get("/admin/learners", params={"q": "Ona"}).text
    assert client.get("/admin/learners/not-a-learner").status_code == 303


def test_csv_template_and_role_labels(client) -> None:
    r = client.get("/admin/learners/template.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["staff_number", "name", "facility", "role", "language"]
    assert rows[0]["role"] == "Prison officer" and rows[0]["facility"] in ("ias", "siau-1_b", "vil")
    # the template itself imports (role as a label)
    filled = r.content.decode("utf-8-sig").replace("LT-0001", f"T-{uuid.uuid4().hex[:6]}")
    done = client.post("/admin/learners/import", data={"csrf": page_csrf(client, "/admin/learners")},
                       files={"file": ("t.csv", filled.encode(), "text/csv")})
    assert "Imported 1 learner; 0 rows with errors." in done.text
    sheet = (b"staff_number,name,facility,role\n"
             b"L-1,Label Case,ias,  reintegration   SPECIALIST \n"
             b"L-2,Bad Label,ias,Prison guard\n")
    r = client.post("/admin/learners/import", data={"csrf": page_csrf(client, "/admin/learners")},
                    files={"file": ("s.csv", sheet, "text/csv")})
    assert "Imported 1 learner; 1 row with errors." in r.text
    assert re.search(r"<tr><td>3</td><td>role</td><td>unknown role &#39;Prison guard&#39;; "
                     r"known: Prison officer \(prison_officer\)", r.text)


def test_upload_lists_every_problem_of_the_source_at_once(client, tmp_path) -> None:
    from tests.integration.test_admin_console_flows import source_zip_with, upload

    data = source_zip_with(tmp_path, {
        "courses/boundaries/02-warning-signs.en.md": ("## Small favours", "## Small favours\n\n<script>x</script>"),
        "courses/boundaries/03-what-to-do.en.md": ("#the-three-zones", "#no-such-card"),
        "profiles/prison-officer.toml": ('roles = ["prison_officer"]', 'roles = ["<b>warden</b>"]')})
    r = upload(client, data)
    assert r.status_code == 422
    table = r.text[r.text.index('<div class="problems"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'<tr><td data-label="File">([^<]*)</td><td data-label="Line">([^<]*)</td>'
                      r'<td data-label="Field">([^<]*)</td><td data-label="Problem">([^<]*)</td></tr>',
                      table)
    assert sorted((path, line, field) for path, line, field, _ in rows) == [
        ("promote-sample/courses/boundaries/02-warning-signs.en.md", "8", ""),
        ("promote-sample/courses/boundaries/03-what-to-do.en.md", "14", ""),
        ("promote-sample/profiles/prison-officer.toml", "6", "roles"),
    ], rows
    assert "<b>warden" not in r.text and "/source-" not in r.text and "/tmp/" not in r.text
    assert '<div class="scroll"><table class="errors stack">' in r.text  # stacks on a phone
    assert "3 problems — all of them are listed" in r.text
