"""The authoring studio on a real uvicorn server with a real httpx client (no browser),
on SQLite and PostgreSQL: an author writes a pack (course, lesson with an image, quiz),
sees the builder's errors and the quiz quality warnings next to the fields, cannot build
or publish; a publisher builds it (version bumped, signed, verified) and publishes it;
the downloaded zipped source builds with `python -m sync_server pack build` to the same
content. Hostile input: raw HTML in a lesson, TOML injection through form fields, an
image without alt text / of the wrong type / too large, a zip-slip source upload."""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import open_repo, running_server, seed

ROOT = Path(__file__).resolve().parents[2]
PNG = (ROOT / "content_packs/promote-sample/courses/boundaries/media/boundary-zones.png"
       ).read_bytes()
PASSWORD = "long-password-1"


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("studio") / "srv"
    seed(data, url, facilities={"f1": "Vilnius"})
    from sync_server.services import admin_auth, roles
    repo = open_repo(data, url)
    try:
        for name, role in (("ana", "author"), ("pete", "publisher")):
            admin_auth.create_admin(repo=repo, name=name, password=PASSWORD)
            roles.set_roles(repo=repo, name=name, roles=role, by="admin")
    finally:
        repo.close()
    with running_server(data, url) as base:
        yield base, data, url


@contextmanager
def client_for(base: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as c:
        if name == "admin":
            console_login(c)
        else:
            console_login(c, name, PASSWORD)
        yield c


def post(c: httpx.Client, path: str, data: dict[str, Any], page: str | None = None,
         files: dict[str, Any] | None = None) -> httpx.Response:
    return c.post(path, data={"csrf": page_csrf(c, page or "/admin/studio"), **data},
                  files=files)


def quiz_form(questions: list[dict[str, Any]], **bank: Any) -> dict[str, Any]:
    """The quiz editor's form fields for single-choice questions
    (id, outcome, prompt, explanation, options [(id, correct, text, feedback)])."""
    form: dict[str, Any] = {"max_attempts": 0, "draw": bank.get("draw", 0),
                            "shuffle_questions": "1", "shuffle_options": "1",
                            "question_count": len(questions)}
    for i, q in enumerate(questions):
        p = f"q{i}"
        form.update({f"{p}.id": q["id"], f"{p}.type": "single", f"{p}.outcome": q["outcome"],
                     f"{p}.prompt.en": q["prompt"], f"{p}.prompt.lt": q["prompt"] + " (lt)",
                     f"{p}.option_count": len(q["options"])})
        if q.get("explanation"):
            form[f"{p}.explanation.en"] = q["explanation"]
            form[f"{p}.explanation.lt"] = q["explanation"] + " (lt)"
        for j, (oid, correct, text, feedback) in enumerate(q["options"]):
            o = f"{p}.o{j}"
            form.update({f"{o}.id": oid, f"{o}.text.en": text, f"{o}.text.lt": text + " lt",
                         f"{o}.feedback.en": feedback, f"{o}.feedback.lt": feedback + " lt"})
            if correct:
                form[f"{o}.correct"] = "1"
    return form


def four_questions(explained: bool) -> list[dict[str, Any]]:
    out = []
    for n in range(1, 5):
        out.append({"id": f"q{n}", "outcome": "spot" if n % 2 else "report",
                    "prompt": f"Question {n}: what do you do first?",
                    "explanation": f"Because rule {n} says so." if explained else "",
                    "options": [("a", True, f"Report it {n}", "Right: report it."),
                                ("b", False, f"Ignore it {n}", "No: it grows."),
                                ("c", False, f"Wait it out {n}", "No: act now."),
                                ("d", False, f"Ask a peer {n}", "Not first.")]})
    return out


def test_author_writes_a_pack_and_a_publisher_builds_and_publishes_it(srv, tmp_path: Path
                                                                      ) -> None:
    base, data, url = srv
    pack_id = f"studio-{url is None and 'sqlite' or 'pg'}"
    with client_for(base, "ana") as ana:
        assert ana.get("/admin/").headers["location"] == "/admin/studio"   # studio only
        assert ana.get("/admin/learners").status_code == 303               # not full admin
        r = post(ana, "/admin/studio/new", {"pack_id": pack_id, "title": "Studio pack",
                                            "languages": "en lt", "roles": "prison_officer"})
        assert r.status_code == 303, r.text
        draft = r.headers["location"].rsplit("/", 1)[1]
        home = f"/admin/studio/{draft}"
        # a course: TOML injection through the title stays a title
        r = post(ana, f"{home}/courses", {"course_id": "first-steps", "title": "First steps"},
                 home)
        assert r.status_code == 303
        course = f"{home}/courses/first-steps"
        evil = 'Hi"\n[pack]\nid = "evil"\n# '
        r = post(ana, course, {"title.en": evil, "title.lt": "Pirmi žingsniai",
                               "summary.en": "Start here.", "summary.lt": "Pradėkite čia.",
                               "minutes": "abc", "pass_mark": "70", "eqf_level": "4",
                               "lessons": "01-introduction", "outcome_count": "0",
                               "new_outcome.id": "spot", "new_outcome.text.en": "Spot signs.",
                               "new_outcome.text.lt": "Atpažinti ženklus."}, course)
        assert r.status_code == 200
        # "minutes" is not a number: the builder's message, next to the field
        assert re.search(r'data-field="minutes"><span class="tag">error', r.text), r.text[-3000:]
        src = data / "drafts" / draft
        import tomllib
        written = tomllib.loads((src / "courses/first-steps/course.toml").read_text())
        assert written["title"]["en"] == evil.strip() and "evil" not in (src / "pack.toml").read_text()
        r = post(ana, course, {"title.en": "First steps", "title.lt": "Pirmi žingsniai",
                               "summary.en": "Start here.", "summary.lt": "Pradėkite čia.",
                               "minutes": "20", "pass_mark": "70", "eqf_level": "4",
                               "workload_hours": "1.5",
                               "lessons": "01-introduction", "outcome_count": "1",
                               "outcome0.id": "spot", "outcome0.text.en": "Spot signs.",
                               "outcome0.text.lt": "Atpažinti ženklus.",
                               "new_outcome.id": "report", "new_outcome.text.en": "Report.",
                               "new_outcome.text.lt": "Pranešti."}, course)
        assert 'data-field="minutes"' not in r.text
        assert 'data-field="recognition' not in r.text
        # the lesson: raw HTML is an error and never markup in the preview
        lesson = f"{course}/lessons/01-introduction/en"
        r = post(ana, lesson, {"markdown": "# Welcome\n\nHello <script>alert(1)</script>\n"},
                 lesson)
        assert "raw HTML &lt;script&gt; is not allowed" in r.text
        assert "<script>alert" not in r.text
        r = post(ana, f"{lesson}/preview", {"markdown": "# W\n\n<img src=x onerror=alert(1)>"},
                 lesson)
        assert "<img src=x" not in r.text and "&lt;img src=x" in r.text
        text = "# Welcome\n\nWhy boundaries matter.\n\n## Warning signs\n\nSmall favours first.\n"
        r = post(ana, lesson, {"markdown": text}, lesson)
        assert "Saved." in r.text and 'id="preview-360"' in r.text and "Small favours" in r.text
        # images: alt text required, type by content, size bounded
        r = post(ana, f"{lesson}/image", {"alt": "", "markdown": text}, lesson,
                 files={"image": ("zones.png", PNG, "image/png")})
        assert r.status_code == 422 and "alt text" in r.text
        r = post(ana, f"{lesson}/image", {"alt": "x", "markdown": text}, lesson,
                 files={"image": ("evil.png", b"<svg onload=alert(1)>", "image/png")})
        assert r.status_code == 422 and "not a PNG" in r.text
        r = post(ana, f"{lesson}/image", {"alt": "x", "markdown": text}, lesson,
                 files={"image": ("big.png", PNG[:16] + b"0" * (5 * 1024 * 1024), "image/png")})
        assert r.status_code == 422 and "larger than" in r.text
        r = post(ana, f"{lesson}/image", {"alt": "Three zones [of] contact", "markdown": text},
                 lesson, files={"image": ("zones.png", PNG, "image/png")})
        assert r.status_code == 200 and "Image added" in r.text, r.text[-2000:]
        img = re.search(r'<img src="(/admin/studio/[^"]+)" alt="Three zones \[of\] contact"',
                        r.text)
        assert img and ana.get(img.group(1)).content == PNG
        assert ana.get(f"{home}/media/../../pack.toml").status_code == 404
        lt = f"{course}/lessons/01-introduction/lt"
        post(ana, lt, {"markdown": "# Sveiki\n\n![Trys zonos](media/zones.png)\n\nTekstas.\n"},
             lt)
        # the quiz: four questions without explanations → a quality warning per question
        quiz = f"{course}/quiz"
        r = post(ana, quiz, {"question_count": 0, "add_question": "single"}, quiz)
        assert 'name="q0.o3.id" value="d"' in r.text         # a new question, four options
        r = post(ana, quiz, {**_current_fields(ana, quiz), "add_question": "true_false"}, quiz)
        assert 'name="q1.answer" value="true" checked' in r.text
        r = post(ana, quiz, quiz_form(four_questions(explained=False)), quiz)
        assert "warning · missing-explanation" in r.text, r.text[-3000:]
        assert r.text.count("missing-explanation") >= 4
        r = post(ana, quiz, quiz_form(four_questions(explained=True)), quiz)
        assert "missing-explanation" not in r.text
        assert "The builder accepts this draft" in r.text
        # an author cannot build or publish
        r = post(ana, f"{home}/build", {}, home)
        assert r.status_code == 422 and "publisher" in r.text
        r = post(ana, f"/admin/packs/{pack_id}/publish", {"version": "1", "all_facilities": "1",
                                                          "all_roles": "1", "confirmed": "1"})
        assert r.status_code == 303 and r.headers["location"] == "/admin/studio"
        zipped = ana.get(f"{home}/source.zip")
        assert zipped.status_code == 200
    with client_for(base, "pete") as pete:
        r = post(pete, f"{home}/build", {}, home)
        assert r.status_code == 303, r.text[-3000:]
        assert r.headers["location"].startswith(f"/admin/packs#pack-{pack_id}-1")
        r = post(pete, f"/admin/packs/{pack_id}/publish", {
            "version": "1", "facilities": "f1", "all_roles": "1", "confirmed": "1"},
            "/admin/packs")
        assert r.status_code == 303 and "Published" in pete.get("/admin/packs").text
        r = post(pete, f"{home}/build", {}, home)          # built again: the next version
        assert r.headers["location"].startswith(f"/admin/packs#pack-{pack_id}-2")
    # the zipped source builds with the CLI to the same content as the studio's build
    (tmp_path / "zip").write_bytes(zipped.content)
    with zipfile.ZipFile(tmp_path / "zip") as zf:
        zf.extractall(tmp_path / "src")
    out = _cli_build(tmp_path / "src" / pack_id, tmp_path / "out", data)
    cli_manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    repo = open_repo(data, url)
    try:
        stored = json.loads(repo.get_pack_version(pack_id, 1).manifest)
        actions = {e.action for e in repo.audit_entries(_all())}
    finally:
        repo.close()
    assert {k: v for k, v in cli_manifest.items() if k != "version"} == \
        {k: v for k, v in stored.items() if k != "version"}
    assert {"draft.create", "draft.edit", "draft.export", "draft.build", "pack.publish"} <= actions


def _all() -> Any:
    from sync_server.services import audit
    return audit.query(limit=1000)


def _cli_build(src: Path, out: Path, data: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "sync_server", "pack", "build", str(src),
                        "--out", str(out), "--key", str(data / "keys" / "server.key")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return next(out.glob("*.pack"))


def _current_fields(c: httpx.Client, quiz: str) -> dict[str, Any]:
    """The quiz form as the page holds it (the hidden counts and the current values)."""
    html = c.get(quiz).text
    fields: dict[str, Any] = {}
    for m in re.finditer(r'<input type="(?:hidden|text)" name="([^"]+)" value="([^"]*)"', html):
        if m.group(1) != "csrf":
            fields[m.group(1)] = m.group(2)
    for m in re.finditer(r'<select name="([^"]+)">(.*?)</select>', html, re.S):
        sel = re.search(r'<option value="([^"]*)" selected', m.group(2))
        fields[m.group(1)] = sel.group(1) if sel else ""
    for m in re.finditer(r'<input type="checkbox" name="([^"]+)" value="1" checked', html):
        fields[m.group(1)] = "1"
    return fields


def test_a_hostile_source_upload_leaves_the_draft_as_it_was(srv, tmp_path: Path) -> None:
    base, data, url = srv
    with client_for(base, "admin") as c:
        r = post(c, "/admin/studio/new", {"pack_id": f"hostile-{'sqlite' if url is None else 'pg'}", "title": "H",
                                          "languages": "en", "roles": "prison_officer"})
        draft = r.headers["location"].rsplit("/", 1)[1]
        before = (data / "drafts" / draft / "pack.toml").read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("x/pack.toml", before)
            zf.writestr("x/../../../escape.txt", b"owned")
        r = post(c, f"/admin/studio/{draft}/upload", {}, f"/admin/studio/{draft}",
                 files={"file": ("evil.zip", buf.getvalue(), "application/zip")})
        assert r.status_code == 422 and "escapes the folder" in r.text
        assert (data / "drafts" / draft / "pack.toml").read_bytes() == before
        assert not list(data.rglob("escape.txt"))


def test_cli_sets_console_roles(tmp_path: Path) -> None:
    from tests.integration.test_server_cli import cli
    data = tmp_path / "cli"
    r = cli("admin", "create", "rita", "--password-stdin", data=data, stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = cli("admin", "roles", "rita", "author,publisher", data=data)
    assert r.returncode == 0 and "author, publisher" in r.stdout, r.stderr
    r = cli("admin", "roles", "rita", "owner", data=data)
    assert r.returncode == 1 and "choose from" in r.stderr
    r = cli("admin", "roles", "nobody", "author", data=data)
    assert r.returncode == 1 and "does not exist" in r.stderr
    repo = open_repo(data)
    try:
        assert repo.get_admin_by_name("rita").roles == "author,publisher"
    finally:
        repo.close()


def test_every_editor_opens_a_shipped_pack_and_the_profile_editor_saves(srv) -> None:
    """promote-sample (outcomes, tasks, recognition, a scenario, a DACUM profile) uploaded,
    opened as a draft; every editor page renders it; a profile edit is checked."""
    base, data, url = srv
    from tests.integration.test_admin_certificates import zipped_source
    with client_for(base, "admin") as c:
        if "promote-sample" not in c.get("/admin/packs").text:
            r = c.post("/admin/packs/upload", data={"csrf": page_csrf(c, "/admin/packs"),
                                                    "kind": "source"},
                       files={"file": ("s.zip", zipped_source(), "application/zip")})
            assert r.status_code in (200, 303), r.text[-2000:]
        r = post(c, "/admin/studio/open", {"version": "promote-sample@1"})
        assert r.status_code == 303, r.text[-2000:]
        home = r.headers["location"]
        page = c.get(home).text
        assert "The builder accepts this draft" in page
        course = f"{home}/courses/boundaries"
        assert "spot-manipulation" in c.get(course).text
        quiz = c.get(f"{course}/quiz").text
        assert "A scenario (" in quiz and 'name="q0.prompt.lt"' in quiz
        lesson = c.get(f"{course}/lessons/01-why-boundaries/lt")
        assert lesson.status_code == 200 and '<section class="card"' in lesson.text
        profile_path = re.search(r'href="(/admin/studio/[^"]+/profiles/[^"]+)"', page).group(1)
        form = c.get(profile_path).text
        assert 'name="d0.t0.expected.prison_officer"' in form
        fields: dict[str, str] = {}
        for tag in re.findall(r"<input [^>]*>", form):
            name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
            if name and name.group(1) != "csrf" and 'type="checkbox"' not in tag:
                fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
        for m in re.finditer(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', form):
            fields[m.group(1)] = html.unescape(m.group(2))
        fields["d0.t0.expected.prison_officer"] = "7"          # not on the scale
        r = post(c, profile_path, {**fields, "roles": "prison_officer"}, profile_path)
        assert r.status_code == 200
        assert re.search(r'data-field="duties\[0\]\.tasks\[0\]\.expected\.prison_officer">'
                         r'<span class="tag">error', r.text), r.text[-3000:]
