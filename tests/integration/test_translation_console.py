"""The translation workspace on a real server (uvicorn on 127.0.0.1, SQLite): a draft of
promote-sample, a reviewer exports Lithuanian as PO, edits one string, imports it, marks
strings reviewed; a publisher-only account is refused; the built pack carries the string
and records the review status."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import httpx
import pytest

from sync_server.services import audit, roles
from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.server import open_repo, running_server, seed

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"
OLD = "Kuris kontaktas priklauso „profesionaliai“ zonai?"
NEW = "Kuris kontaktas yra „profesionalioje“ zonoje?"
Q1 = "courses/boundaries/quiz.toml:questions[q1].prompt"


def _source_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(SAMPLE.rglob("*")):
            if p.is_file():
                zf.write(p, f"promote-sample/{p.relative_to(SAMPLE).as_posix()}")
    return buf.getvalue()


@pytest.fixture
def server(tmp_path: Path):
    data = tmp_path / "srv"
    with running_server(data) as base:
        seed(data)
        for name, role in (("rasa", "reviewer"), ("pete", "publisher"), ("ana", "author")):
            seed(data, admin=(name, "correct horse battery"))
            repo = open_repo(data)
            try:
                roles.set_roles(repo=repo, name=name, roles=role, by="test")
            finally:
                repo.close()
        yield base, data


def _client(base: str, name: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    console_login(c, name)
    return c


def test_po_round_trip_review_and_build(server) -> None:
    base, data = server
    admin = _client(base, "admin")
    r = admin.post("/admin/studio/new", data={
        "csrf": page_csrf(admin, "/admin/studio"), "pack_id": "promote-sample",
        "title": "Sample", "languages": "en lt", "roles": ["prison_officer"]})
    assert r.status_code == 303, r.text
    draft = r.headers["location"].rsplit("/", 1)[-1]
    r = admin.post(f"/admin/studio/{draft}/upload",
                   data={"csrf": page_csrf(admin, f"/admin/studio/{draft}")},
                   files={"file": ("promote-sample.zip", _source_zip(), "application/zip")})
    assert r.status_code == 303, r.text

    rasa = _client(base, "rasa")
    page = rasa.get(f"/admin/studio/{draft}/translate?lang=lt")
    assert page.status_code == 200 and OLD in page.text and 'data-status="machine"' in page.text
    po_file = rasa.get(f"/admin/studio/{draft}/translate/lt/export.po")
    assert po_file.status_code == 200
    assert "attachment" in po_file.headers["content-disposition"]
    text = po_file.text
    assert f'msgctxt "{Q1}"' in text and '"Language: lt\\n"' in text
    edited = text.replace(f'msgstr "{OLD}"', f'msgstr "{NEW}"')
    assert edited != text
    r = rasa.post(f"/admin/studio/{draft}/translate/lt/import",
                  data={"csrf": page_csrf(rasa, f"/admin/studio/{draft}/translate")},
                  files={"file": ("promote-sample.lt.po", edited.encode(), "text/x-po")})
    assert r.status_code == 200, r.text
    assert "1 string(s) changed" in r.text and NEW in r.text
    drafts_only = rasa.get(f"/admin/studio/{draft}/translate?lang=lt&status=draft").text
    assert drafts_only.count('class="translate-row status-') == 1 and NEW in drafts_only

    # a publisher-only account may read but not sign off; the refusal is audited
    pete = _client(base, "pete")
    csrf = page_csrf(pete, f"/admin/studio/{draft}/translate")
    r = pete.post(f"/admin/studio/{draft}/translate/lt/review", data={"csrf": csrf, "id": Q1})
    assert r.status_code == 403 and "reviewer" in r.text
    # an author translates but cannot sign off either
    ana = _client(base, "ana")
    r = ana.post(f"/admin/studio/{draft}/translate/lt/save", data={
        "csrf": page_csrf(ana, f"/admin/studio/{draft}/translate"), "id": Q1, "text": NEW,
        "review": "1"})
    assert r.status_code == 403

    # the reviewer signs every string off, page by page
    while True:
        page = rasa.get(f"/admin/studio/{draft}/translate?lang=lt&status=machine").text
        bulk = page.split('class="translate-rows"')[0]     # the "mark every shown" form
        ids = re.findall(r'name="id" value="([^"]+)"', bulk)
        if not ids:
            break
        r = rasa.post(f"/admin/studio/{draft}/translate/lt/review",
                      data={"csrf": page_csrf(rasa, f"/admin/studio/{draft}/translate"),
                            "id": ids})
        assert r.status_code == 303, r.text
    r = rasa.post(f"/admin/studio/{draft}/translate/lt/review",
                  data={"csrf": page_csrf(rasa, f"/admin/studio/{draft}/translate"), "id": Q1})
    assert r.status_code == 303
    page = rasa.get(f"/admin/studio/{draft}/translate?lang=lt").text
    assert 'data-status="reviewed">' in page and "100 %" in page

    r = admin.post(f"/admin/studio/{draft}/build",
                   data={"csrf": page_csrf(admin, f"/admin/studio/{draft}")})
    assert r.status_code == 303, r.text
    repo = open_repo(data)
    try:
        built = max((p for p in repo.list_pack_versions() if p.pack_id == "promote-sample"),
                    key=lambda p: p.version)
        manifest = json.loads(built.manifest)
        actions = [(e.actor, e.action, e.outcome)
                   for e in repo.audit_entries(audit.query())]
    finally:
        repo.close()
    assert manifest["courses"][0]["quiz"]["questions"][0]["prompt"]["lt"] == NEW
    assert manifest["machine_translated"] == []
    assert manifest["reviews"]["lt"]["reviewer"] == "rasa"
    assert ("rasa", "translation.export", "ok") in actions
    assert ("rasa", "translation.import", "ok") in actions
    assert ("rasa", "translation.review", "ok") in actions
    assert ("pete", "translation.review", "refused") in actions


def test_hostile_import_is_refused_on_the_page(server) -> None:
    base, _ = server
    admin = _client(base, "admin")
    r = admin.post("/admin/studio/new", data={
        "csrf": page_csrf(admin, "/admin/studio"), "pack_id": "tiny", "title": "Tiny",
        "languages": "en lt", "roles": ["prison_officer"]})
    draft = r.headers["location"].rsplit("/", 1)[-1]
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" trgLang="lt">'
           b'<file id="f"><unit id="u" name="pack.toml:title"><segment><source>Tiny</source>'
           b"<target>&e;</target></segment></unit></file></xliff>")
    r = admin.post(f"/admin/studio/{draft}/translate/lt/import",
                   data={"csrf": page_csrf(admin, f"/admin/studio/{draft}/translate")},
                   files={"file": ("x.xlf", xxe, "application/xml")})
    assert r.status_code == 422 and "DOCTYPE" in r.text and "root:" not in r.text


def test_a_draft_the_workspace_cannot_read_gets_a_clear_page(server) -> None:
    base, data = server
    admin = _client(base, "admin")
    r = admin.post("/admin/studio/new", data={
        "csrf": page_csrf(admin, "/admin/studio"), "pack_id": "broken", "title": "B",
        "languages": "en lt", "roles": ["prison_officer"]})
    draft = r.headers["location"].rsplit("/", 1)[-1]
    pack = data / "drafts" / draft / "pack.toml"
    assert pack.is_file()
    pack.write_text(pack.read_text() + "\nthis is not toml\n")
    r = admin.get(f"/admin/studio/{draft}/translate")
    assert r.status_code == 422 and "not readable TOML" in r.text
    assert "cannot open this draft" in r.text
    assert admin.get("/admin/studio/nope/translate").status_code == 404
    pack.write_text(pack.read_text().replace("\nthis is not toml\n", ""))
    r = admin.post(f"/admin/studio/{draft}/translate/xx/save", data={
        "csrf": page_csrf(admin, f"/admin/studio/{draft}"), "id": "pack.toml:title",
        "text": "x"})
    assert r.status_code == 422 and "not a target language" in r.text


def test_the_studio_and_the_workspace_speak_the_console_language(server) -> None:
    """Issue 21: with the console in Lithuanian the studio's pages, its check summary, its
    flashes and the workspace are Lithuanian (English stays the default: the other tests)."""
    base, _ = server
    admin = _client(base, "admin")
    admin.cookies.set("shift_console_lang", "lt")
    r = admin.post("/admin/studio/new", data={
        "csrf": page_csrf(admin, "/admin/studio"), "pack_id": "promote-sample",
        "title": "Sample", "languages": "en lt", "roles": ["prison_officer"]})
    draft = r.headers["location"].rsplit("/", 1)[-1]
    r = admin.post(f"/admin/studio/{draft}/upload",
                   data={"csrf": page_csrf(admin, f"/admin/studio/{draft}")},
                   files={"file": ("promote-sample.zip", _source_zip(), "application/zip")},
                   follow_redirects=True)
    assert "Įkeltas šaltinis pakeitė juodraštį." in r.text            # the flash
    assert "Juodraštis: promote-sample" in r.text and "būsena atviras" in r.text
    assert "Paketų kūrimo įrankis priima šį juodraštį" in r.text      # the check summary
    for english in ("Open the translation workspace", "Build the next version",
                    "The builder accepts", "status open", "Upload source"):
        assert english not in r.text, english
    page = admin.get(f"/admin/studio/{draft}/translate?lang=lt").text
    assert "Vertimo darbo sritis: promote-sample" in page and "mašininis" in page
    assert 'data-status="machine"' in page                     # the values stay as stored
    for english in ("Progress", "Save and mark reviewed", "machine translation",
                    "Professional translators", ">machine<"):
        assert english not in page, english
    course = admin.get(f"/admin/studio/{draft}/courses/boundaries/quiz").text
    assert "Testas: boundaries" in course and "maišyti klausimus" in course
    assert "shuffle questions" not in course and "Save and check" not in course
