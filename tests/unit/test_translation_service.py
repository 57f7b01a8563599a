"""services/translations.py on both backends: who may translate and sign off (refused in
the service, audited), the draft's files changed, closed drafts read-only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_server.db import open_repository
from sync_server.db.repository import Admin, Repository
from sync_server.errors import ForbiddenError, ServerError
from sync_server.services import admin_auth, audit, drafts, roles, translations
from sync_server.settings import Settings
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"
Q1 = "courses/boundaries/quiz.toml:questions[q1].prompt"


@dataclass
class World:
    repo: Repository
    settings: Settings
    people: dict[str, Admin]
    draft_id: str


@pytest.fixture
def world(tmp_path: Path, database_url: str | None) -> Iterator[World]:  # noqa: F811
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url,
                        development=True)
    repo = open_repository(settings.effective_database_url)
    people = {}
    for name, role in (("root", "admin"), ("ana", "author"), ("rasa", "reviewer"),
                       ("pete", "publisher")):
        admin_auth.create_admin(repo=repo, name=name, password="long-password-1")
        if role != "admin":
            roles.set_roles(repo=repo, name=name, roles=role, by="root")
        found = repo.get_admin_by_name(name)
        assert found is not None
        people[name] = found
    draft = drafts.create_draft(repo=repo, settings=settings, by=people["ana"],
                                pack_id="promote-sample", title="x", languages=["en", "lt"],
                                default_language="en", audience_roles=["prison_officer"])
    src = drafts.draft_source_dir(settings=settings, draft_id=draft.id)
    shutil.rmtree(src)
    shutil.copytree(SAMPLE, src)
    yield World(repo, settings, people, draft.id)
    repo.close()


def _actions(w: World) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.outcome) for e in w.repo.audit_entries(audit.query())]


def test_authors_translate_reviewers_sign_off_others_are_refused(world: World) -> None:
    w = world
    kw = {"repo": w.repo, "settings": w.settings, "draft_id": w.draft_id, "lang": "lt"}
    saved = translations.save_string(by=w.people["ana"], string_id=Q1, text="Kitas?", **kw)
    assert saved.status.value == "draft" and saved.by == "ana"
    for who in ("ana", "pete"):
        with pytest.raises(ForbiddenError, match="reviewer"):
            translations.mark_reviewed(by=w.people[who], string_ids=[Q1], **kw)
    with pytest.raises(ForbiddenError, match="author' or 'reviewer"):
        translations.save_string(by=w.people["pete"], string_id=Q1, text="x", **kw)
    with pytest.raises(ForbiddenError):
        translations.export_language(by=w.people["pete"], fmt="po", **kw)
    items = translations.mark_reviewed(by=w.people["rasa"], string_ids=[Q1], **kw)
    assert {e.unit.id: e for e in items}[Q1].status.value == "reviewed"
    items = translations.mark_reviewed(by=w.people["root"], string_ids=["pack.toml:title"],
                                       **kw)
    assert {e.unit.id: e for e in items}["pack.toml:title"].by == "root"
    got = _actions(w)
    assert ("ana", "translation.save", "ok") in got
    assert ("ana", "translation.review", "refused") in got
    assert ("pete", "translation.review", "refused") in got
    assert ("pete", "translation.save", "refused") in got
    assert ("rasa", "translation.review", "ok") in got
    assert drafts.get_draft(repo=w.repo, draft_id=w.draft_id).updated_by == "root"


def test_import_by_an_author_stores_drafts_and_bad_input_is_a_clear_error(world: World) -> None:
    w = world
    kw = {"repo": w.repo, "settings": w.settings, "draft_id": w.draft_id, "lang": "lt"}
    name, data = translations.export_language(by=w.people["ana"], fmt="xliff", **kw)
    assert name == "promote-sample.lt.xlf"
    text = data.decode().replace('state="translated" subState="shift:machine">\n'
                                 "        <source>Professional boundaries (sample)</source>\n"
                                 "        <target>Profesinės ribos (pavyzdys)</target>",
                                 'state="final">\n        <source>Professional boundaries '
                                 "(sample)</source>\n        <target>Ribos</target>")
    report = translations.import_language(by=w.people["ana"], fmt="xliff",
                                          data=text.encode(), **kw)
    assert report.applied == ["pack.toml:title"]
    view = translations.view(repo=w.repo, settings=w.settings, draft_id=w.draft_id,
                             lang="lt", status="draft")
    assert [e.unit.id for e in view.entries] == ["pack.toml:title"]   # final → draft: author
    with pytest.raises(ServerError, match="format"):
        translations.import_language(by=w.people["ana"], fmt="docx", data=b"", **kw)
    with pytest.raises(ServerError, match="not a target language"):
        translations.view(repo=w.repo, settings=w.settings, draft_id=w.draft_id, lang="en")
    with pytest.raises(ServerError, match="status filter"):
        translations.view(repo=w.repo, settings=w.settings, draft_id=w.draft_id, lang="lt",
                          status="bogus")
    with pytest.raises(ServerError, match="DOCTYPE"):
        translations.import_language(by=w.people["ana"], fmt="xliff",
                                     data=b"<!DOCTYPE x><x/>", **kw)
    assert ("ana", "translation.import", "refused") in _actions(w)
