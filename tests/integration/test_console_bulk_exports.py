"""Issue 21 on a real uvicorn server, SQLite and PostgreSQL, with httpx (no browser):
bulk actions on the learners page (review page naming the people, one transaction, one
audit entry each, ≤ 500, CSRF, a stale confirmation does nothing), the filtered progress
CSV from the console and the JSON API (not-started rows, the facility in the file name,
bad dates refused with the field named, every download audited), and the console's
language (cookie, Accept-Language, `lang` on <html>)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from urllib.parse import unquote

import httpx
import pytest

from sync_server.db.repository import AuditQuery, PackVersion
from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import admin_token, bearer, open_repo, running_server, seed

T0 = "2026-01-01T00:00:00.000Z"


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("bulk") / "srv"
    seed(data, url, facilities={"vil": "Vilnius", "kau": "Kaunas", "iasi": "Iasi"})
    repo = open_repo(data, url)
    try:   # one pack published to Kaunas only, every role
        body = {"id": "pk", "version": 1, "audience_roles": [],
                "courses": [{"id": "c1", "title": {"en": "Boundaries"}}]}
        repo.add_pack_version(PackVersion("pk", 1, json.dumps(body).encode(), b"{}",
                                          '{"en": "pk"}', 0, T0, "t"))
        repo.publish("pk", 1, ["kau"], [], "t", T0)
    finally:
        repo.close()
    with running_server(data, url) as base:
        yield base, data, url


@pytest.fixture
def client(srv):
    base = srv[0]
    with httpx.Client(base_url=base, timeout=60) as c:
        console_login(c)
        yield c


def create(client: httpx.Client, staff: str, name: str, facility: str) -> None:
    r = client.post("/admin/learners", data={
        "csrf": page_csrf(client, "/admin/learners"), "staff_number": staff, "name": name,
        "facility": facility, "role": "prison_officer", "language": "lt"})
    assert r.status_code == 200 and 'class="pin-code"' in r.text, r.text


def ids_on(client: httpx.Client, query: str) -> dict[str, str]:
    """Name → learner id, from the learners page's bulk checkboxes."""
    page = client.get(f"/admin/learners?{query}").text
    return {html.unescape(n): i for i, n in re.findall(
        r'name="ids" value="([^"]+)" form="bulk" aria-label="Tick ([^"]+)"', page)}


def audit(srv, action: str) -> list:
    repo = open_repo(srv[1], srv[2])
    try:
        return repo.audit_entries(AuditQuery(action=action))
    finally:
        repo.close()


def test_bulk_deactivate_with_confirmation(srv, client) -> None:
    for staff, name in (("B-1", "Bulk Ana"), ("B-2", "Bulk Ben"), ("B-3", "Bulk Cid")):
        create(client, staff, name, "vil")
    ids = ids_on(client, "q=Bulk&facility=vil")
    assert set(ids) == {"Bulk Ana", "Bulk Ben", "Bulk Cid"}
    csrf = page_csrf(client, "/admin/learners")
    two = [ids["Bulk Ana"], ids["Bulk Ben"]]
    # no CSRF, no action
    assert client.post("/admin/learners/bulk", data={"action": "deactivate",
                                                     "ids": two}).status_code == 403
    review = client.post("/admin/learners/bulk", data={
        "csrf": csrf, "action": "deactivate", "ids": two, "back": "/admin/learners?q=Bulk"})
    assert review.status_code == 200
    assert "Deactivate 2 learners?" in review.text
    people = re.search(r'<ol class="people" id="bulk-people">(.*?)</ol>', review.text).group(1)
    assert "Bulk Ana (B-1) · Vilnius" in people and "Bulk Ben (B-2)" in people
    assert "Bulk Cid" not in people
    assert audit(srv, "learner.deactivate") == [], "nothing done before the confirmation"
    done = client.post("/admin/learners/bulk/confirm", data={
        "csrf": csrf, "action": "deactivate", "ids": two, "back": "/admin/learners?q=Bulk"})
    assert done.status_code == 303 and done.headers["location"] == "/admin/learners?q=Bulk"
    flash = client.get(done.headers["location"]).text
    assert "Deactivated 2 learners: Bulk Ana (B-1), Bulk Ben (B-2)." in flash
    assert set(ids_on(client, "q=Bulk&status=deactivated")) == {"Bulk Ana", "Bulk Ben"}
    entries = [e for e in audit(srv, "learner.deactivate") if e.learner_id in two]
    assert sorted(e.learner_id for e in entries) == sorted(two)
    assert all(e.actor == "admin" and e.detail == {"bulk": 2} for e in entries)
    # the same confirmation again: they are deactivated already → nothing, and said so
    again = client.post("/admin/learners/bulk/confirm", data={
        "csrf": csrf, "action": "deactivate", "ids": two})
    assert "nothing was done" in client.get(again.headers["location"]).text
    # reviewing all three leaves the two out with the reason
    review = client.post("/admin/learners/bulk", data={
        "csrf": csrf, "action": "deactivate", "ids": list(ids.values())}).text
    assert "Deactivate 1 learner?" in review and "deactivated already" in review
    # reactivate both: new PIN set-up codes on printable slips
    back = client.post("/admin/learners/bulk/confirm", data={
        "csrf": csrf, "action": "reactivate", "ids": two})
    assert back.status_code == 200 and back.text.count('class="pin-code"') == 2


def test_bulk_move_pin_reset_and_limits(srv, client) -> None:
    create(client, "M-1", "Move Ana", "vil")
    create(client, "M-2", "Move Ben", "vil")
    create(client, "M-1", "Kaunas Ana", "kau")       # the same staff number in Kaunas
    ids = ids_on(client, "q=Move&facility=vil")
    csrf = page_csrf(client, "/admin/learners")
    review = client.post("/admin/learners/bulk", data={
        "csrf": csrf, "action": "move", "facility": "kau", "ids": list(ids.values())}).text
    assert "Move 1 learner to Kaunas?" in review
    assert "Move Ana (M-1): that facility already has someone with this staff number" in review
    assert 'name="ids" value="' + ids["Move Ben"] + '"' in review
    assert 'name="ids" value="' + ids["Move Ana"] + '"' not in review
    done = client.post("/admin/learners/bulk/confirm", data={
        "csrf": csrf, "action": "move", "facility": "kau", "ids": [ids["Move Ben"]]})
    assert "Moved 1 learner to Kaunas: Move Ben (M-2)." in \
        client.get(done.headers["location"]).text
    assert "Move Ben" in ids_on(client, "q=Move&facility=kau")
    (moved,) = [e for e in audit(srv, "learner.move") if e.learner_id == ids["Move Ben"]]
    assert moved.detail == {"bulk": 1, "from": "vil", "to": "kau"}
    # a move without a facility, an unknown action, nobody ticked, too many
    for data, text in (({"action": "move", "ids": [ids["Move Ana"]]},
                        "Choose the facility to move them to."),
                       ({"action": "explode", "ids": [ids["Move Ana"]]}, "Choose an action."),
                       ({"action": "deactivate"}, "Tick at least one learner first."),
                       ({"action": "deactivate", "ids": [f"x{i}" for i in range(501)]},
                        "501 learners ticked: at most 500 per action.")):
        r = client.post("/admin/learners/bulk", data={"csrf": csrf, **data})
        assert r.status_code == 303, r.text
        assert text in html.unescape(client.get(r.headers["location"]).text), data
    # new PIN codes for Move Ana: a slip each, one audit entry each
    r = client.post("/admin/learners/bulk/confirm", data={
        "csrf": csrf, "action": "pin_reset", "ids": [ids["Move Ana"]]})
    assert r.status_code == 200 and r.text.count('class="pin-code"') == 1
    assert [e.detail for e in audit(srv, "learner.pin_reset")
            if e.learner_id == ids["Move Ana"]] == [{"bulk": 1}]


def test_filtered_progress_csv_from_the_console_and_the_api(srv, client) -> None:
    base = srv[0]
    create(client, "K-9", "Kaunas Starter", "kau")
    r = client.get("/admin/exports/progress.csv?facility=kau&dates=activity&from=&to=")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    name = unquote(r.headers["content-disposition"])
    assert re.search(r'filename="progress-facility-kau-\d{8}-\d{4}\.csv"', name), name
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    mine = [row for row in rows if row["staff_number"] == "K-9"]
    assert [(row["pack"], row["course"], row["status"]) for row in mine] == [
        ("pk", "c1", "not started")]
    assert {row["facility"] for row in rows} == {"kau"}
    # bad dates: the page again, the field named, nothing exported
    before = len(audit(srv, "export.progress"))
    bad = client.get("/admin/exports/progress.csv?facility=kau&from=2026-02-30&to=")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "2026-02-30" in bad.text and 'id="filter-error"' in bad.text
    assert 'value="kau" selected' in bad.text, "the typed filter stays"
    order = client.get("/admin/exports/xapi.jsonl?from=2026-03-02&to=2026-03-01")
    assert order.status_code == 422
    assert len(audit(srv, "export.progress")) == before
    dated = client.get("/admin/exports/progress.csv?dates=completed&from=2026-01-01"
                       "&to=2026-12-31")
    assert "completed-2026-01-01-to-2026-12-31" in dated.headers["content-disposition"]
    entries = audit(srv, "export.progress")
    assert {"facility": "kau"} in [e.detail for e in entries]
    assert {"dates": "completed", "from": "2026-01-01", "to": "2026-12-31"} in \
        [e.detail for e in entries]
    # the JSON API: the same filters as query parameters, 400 naming the field
    token = admin_token(base)
    api = httpx.get(f"{base}/api/v1/admin/exports/progress.csv?facility=kau",
                    headers=bearer(token))
    assert api.status_code == 200 and "K-9" in api.text and "facility-kau" in \
        api.headers["content-disposition"]
    wrong = httpx.get(f"{base}/api/v1/admin/exports/progress.csv?to=31.12.2026",
                      headers=bearer(token))
    assert wrong.status_code == 400 and "to:" in wrong.json()["detail"]
    assert httpx.get(f"{base}/api/v1/admin/exports/progress.csv?facility=nowhere",
                     headers=bearer(token)).status_code == 400


def test_console_language(srv) -> None:
    base = srv[0]
    with httpx.Client(base_url=base, timeout=60,
                      headers={"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}) as c:
        login = c.get("/admin/login")
        assert '<html lang="ro">' in login.text and "Autentificare" in login.text
        console_login(c)
        page = c.get("/admin/learners")
        assert '<html lang="ro">' in page.text and page.headers["content-language"] == "ro"
        assert ">Cursanți</a>" in page.text                   # the navigation
        # the switcher: a cookie for /admin, back to the page (a local path only)
        r = c.get("/admin/language?lang=lt&next=/admin/learners")
        assert r.status_code == 303 and r.headers["location"] == "/admin/learners"
        cookie = r.headers["set-cookie"].lower()
        assert "shift_console_lang=lt" in cookie and "samesite=strict" in cookie
        page = c.get("/admin/learners").text
        assert '<html lang="lt">' in page and "Besimokantieji" in page
        assert "Su pažymėtais besimokančiaisiais" in page   # the bulk bar
        # a refused bulk action's message comes in the page's language, by its code
        r = c.post("/admin/learners/bulk", data={
            "csrf": page_csrf(c, "/admin/learners"), "action": "deactivate"})
        assert "Pirmiausia pažymėkite bent vieną besimokantįjį." in \
            c.get(r.headers["location"]).text
        bad = c.get("/admin/exports/progress.csv?from=31.12.2026")
        assert bad.status_code == 422 and "nėra data" in html.unescape(bad.text)
        # the switcher comes back to a GET page with its query, or from a POST's result
        # page to its section
        assert 'name="next" value="/admin/learners?q=x&amp;status=all"' in \
            c.get("/admin/learners?q=x&status=all").text
        create(c, "L-1", "Lang Test", "iasi")
        (lid,) = re.findall(r'name="ids" value="([^"]+)"', c.get("/admin/learners?q=Lang").text)
        review = c.post("/admin/learners/bulk", data={
            "csrf": page_csrf(c, "/admin/learners"), "action": "pin_reset", "ids": [lid]})
        assert review.status_code == 200 and "Lang Test (L-1)" in review.text
        assert 'name="next" value="/admin/learners"' in review.text
        # unknown languages and foreign redirects are ignored
        r = c.get("/admin/language?lang=klingon&next=//evil.example/")
        assert r.headers["location"] == "/admin/" and "set-cookie" not in r.headers
        assert '<html lang="lt">' in c.get("/admin/devices").text
