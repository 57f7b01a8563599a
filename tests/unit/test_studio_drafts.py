"""The studio's draft store (issue 20): drafts table on both backends, roles, open a
stored version as a draft, zip out / zip in, build (docs/authoring.md "Studio")."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.errors import PackError, PackSourceErrors
from app.core.packs import BlobStore, build_pack, read_source
from sync_server.db import open_repository
from sync_server.db.repository import Admin, Repository
from sync_server.errors import ForbiddenError, NotFoundError, ServerError
from sync_server.keyring import Keyring, load_keyring
from sync_server.services import admin_auth, audit, drafts, packs, roles
from sync_server.settings import Settings
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"


@dataclass
class World:
    repo: Repository
    settings: Settings
    keyring: Keyring
    blobs: BlobStore
    full: Admin
    author: Admin
    publisher: Admin


@pytest.fixture
def world(tmp_path: Path, database_url: str | None) -> Iterator[World]:  # noqa: F811
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url,
                        development=True)
    repo = open_repository(settings.effective_database_url)
    keyring = load_keyring(settings)
    accounts = {}
    for name, role in (("root", "admin"), ("ana", "author"), ("pete", "publisher")):
        admin_auth.create_admin(repo=repo, name=name, password="long-password-1")
        if role != "admin":
            roles.set_roles(repo=repo, name=name, roles=role, by="root")
        found = repo.get_admin_by_name(name)
        assert found is not None
        accounts[name] = found
    yield World(repo, settings, keyring, BlobStore(settings.blob_dir), accounts["root"],
                accounts["ana"], accounts["pete"])
    repo.close()


def _new(w: World, pack_id: str = "studio-test") -> str:
    return drafts.create_draft(repo=w.repo, settings=w.settings, by=w.author, pack_id=pack_id,
                               title="Studio test", languages=["en", "lt"],
                               default_language="en",
                               audience_roles=["prison_officer"]).id


def test_existing_admins_keep_full_rights_and_new_roles_are_checked(world: World) -> None:
    assert world.full.roles == "admin" and roles.is_full_admin(world.full)
    assert roles.has_role(world.full, "publisher") and roles.has_role(world.full, "author")
    assert roles.roles_of(world.author) == {"author"}
    assert not roles.has_role(world.author, "publisher")
    with pytest.raises(ServerError, match="choose from"):
        roles.set_roles(repo=world.repo, name="ana", roles="author,owner", by="root")
    with pytest.raises(NotFoundError):
        roles.set_roles(repo=world.repo, name="nobody", roles="author", by="root")


def test_a_new_draft_is_a_source_folder_and_a_row(world: World) -> None:
    draft_id = _new(world)
    row = drafts.get_draft(repo=world.repo, draft_id=draft_id)
    assert (row.pack_id, row.based_on, row.status, row.created_by) == \
        ("studio-test", None, "open", "ana")
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft_id, repo=world.repo)
    assert src == world.settings.data_dir / "drafts" / draft_id
    source = read_source(src)                       # the builder accepts it as it is
    assert source.manifest["id"] == "studio-test" and source.manifest["courses"] == []
    assert [d.id for d in drafts.list_drafts(repo=world.repo)] == [draft_id]
    actions = [e.action for e in audit.entries(repo=world.repo, filters=audit.query())]
    assert "draft.create" in actions


@pytest.mark.parametrize("bad", ["../etc", "d-../../x", "D-0123456789abcdef", ""])
def test_a_draft_id_from_a_url_never_becomes_a_path(world: World, bad: str) -> None:
    with pytest.raises(NotFoundError):
        drafts.draft_source_dir(settings=world.settings, draft_id=bad)


def test_an_author_cannot_build_and_the_refusal_is_audited(world: World) -> None:
    draft_id = _new(world)
    with pytest.raises(ForbiddenError, match="publisher"):
        drafts.build_draft(repo=world.repo, settings=world.settings, keyring=world.keyring,
                           blobs=world.blobs, by=world.author, draft_id=draft_id)
    refused = [e for e in audit.entries(repo=world.repo, filters=audit.query())
               if e.outcome == "refused"]
    assert refused and refused[0].action == "draft.build" and refused[0].actor == "ana"
    with pytest.raises(ForbiddenError, match="author"):
        _new(World(world.repo, world.settings, world.keyring, world.blobs, world.full,
                   world.publisher, world.publisher))
    assert packs.list_pack_versions(repo=world.repo) == []


def _upload_sample(w: World, tmp_path: Path) -> None:
    built = build_pack(SAMPLE, w.keyring.private_key, tmp_path / "built")
    packs.upload_pack(repo=w.repo, keyring=w.keyring, blobs=w.blobs, path=built, by="root",
                      work_dir=tmp_path / "work")


def _content(manifest: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in manifest.items() if k != "version"}


def test_open_a_version_as_draft_and_build_it_again(world: World, tmp_path: Path) -> None:
    _upload_sample(world, tmp_path)
    first = packs.find_version(repo=world.repo, pack_id="promote-sample", version=1)
    assert first is not None
    draft = drafts.open_version_as_draft(repo=world.repo, settings=world.settings,
                                         blobs=world.blobs, by=world.author,
                                         pack_id="promote-sample", version=1)
    assert draft.based_on == 1
    pack = drafts.build_draft(repo=world.repo, settings=world.settings, keyring=world.keyring,
                              blobs=world.blobs, by=world.publisher, draft_id=draft.id)
    assert pack.version == 2                      # bumped past every stored version
    assert _content(json.loads(pack.manifest)) == _content(json.loads(first.manifest))
    row = drafts.get_draft(repo=world.repo, draft_id=draft.id)
    assert (row.status, row.built_version, row.updated_by) == ("built", 2, "pete")
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft.id)
    assert read_source(src).manifest["version"] == 2   # the draft says what was built


def test_zip_out_and_back_in(world: World, tmp_path: Path) -> None:
    _upload_sample(world, tmp_path)
    draft = drafts.open_version_as_draft(repo=world.repo, settings=world.settings,
                                         blobs=world.blobs, by=world.author,
                                         pack_id="promote-sample", version=1)
    out = drafts.export_draft_zip(repo=world.repo, settings=world.settings, by=world.author,
                                  draft_id=draft.id)
    names = zipfile.ZipFile(out).namelist()
    assert "promote-sample/pack.toml" in names
    assert any(n.endswith(".png") for n in names)
    again = drafts.export_draft_zip(repo=world.repo, settings=world.settings, by=world.author,
                                    draft_id=draft.id)
    assert out.read_bytes() == again.read_bytes()      # the same draft, the same zip
    # an edited zip comes back in
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(edited, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("pack.toml"):
                data = data.replace(b'licence = "', b'licence = "Edited ')
            zout.writestr(name, data)
    drafts.import_draft_zip(repo=world.repo, settings=world.settings, by=world.author,
                            draft_id=draft.id, zip_path=edited)
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft.id)
    assert read_source(src).manifest["licence"].startswith("Edited ")


def _zip(tmp_path: Path, entries: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    path = tmp_path / "hostile.zip"
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("entries,match", [
    ({"../../evil.toml": b"x", "pack.toml": b'id = "studio-test"'}, "escapes"),
    ({"/etc/passwd": b"x"}, "absolute"),
    ({"other/pack.toml": b'id = "another-pack"'}, "another-pack"),
    ({"readme.txt": b"no pack here"}, "no pack.toml"),
])
def test_a_hostile_zip_leaves_the_draft_untouched(world: World, tmp_path: Path,
                                                  entries: dict[str, bytes], match: str) -> None:
    draft_id = _new(world)
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft_id)
    before = (src / "pack.toml").read_bytes()
    with pytest.raises(PackError, match=match):
        drafts.import_draft_zip(repo=world.repo, settings=world.settings, by=world.author,
                                draft_id=draft_id, zip_path=_zip(tmp_path, entries))
    assert (src / "pack.toml").read_bytes() == before
    assert not (world.settings.data_dir / "evil.toml").exists()
    assert not list((world.settings.data_dir / "tmp").glob("draft-in-*"))


def test_a_draft_with_errors_is_not_built(world: World) -> None:
    draft_id = _new(world)
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft_id)
    text = (src / "pack.toml").read_text().replace('courses = []', 'courses = ["missing"]')
    (src / "pack.toml").write_text(text)
    with pytest.raises((PackError, PackSourceErrors), match="missing"):
        drafts.build_draft(repo=world.repo, settings=world.settings, keyring=world.keyring,
                           blobs=world.blobs, by=world.publisher, draft_id=draft_id)
    assert packs.list_pack_versions(repo=world.repo) == []


def test_delete_a_draft_removes_row_and_folder(world: World) -> None:
    draft_id = _new(world)
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft_id)
    with pytest.raises(ForbiddenError):
        drafts.delete_draft(repo=world.repo, settings=world.settings, by=world.publisher,
                            draft_id=draft_id)
    assert src.is_dir()
    drafts.delete_draft(repo=world.repo, settings=world.settings, by=world.author,
                        draft_id=draft_id)
    assert not src.exists() and drafts.list_drafts(repo=world.repo) == []
    with pytest.raises(NotFoundError):
        drafts.get_draft(repo=world.repo, draft_id=draft_id)


def test_admins_of_an_older_database_keep_full_rights_after_the_migration(tmp_path: Path
                                                                          ) -> None:
    import sqlite3

    from sync_server.db.migrate import apply_schema, schema_version_of
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    cur = conn.cursor()
    apply_schema(cur, "sqlite", current=schema_version_of(cur), target=10)
    cur.execute("INSERT INTO admins (id, name, password_hash, created_at) VALUES "
                "('a1', 'old-admin', 'x', '2026-01-01T00:00:00.000Z')")
    conn.commit()
    conn.close()
    repo = open_repository(f"sqlite:///{path}")
    try:
        old = repo.get_admin_by_name("old-admin")
        assert old is not None and old.roles == "admin" and roles.is_full_admin(old)
        assert repo.list_drafts() == []
    finally:
        repo.close()


def test_a_backup_holds_the_draft_folders_and_a_restore_brings_them_back(world: World,
                                                                          tmp_path: Path) -> None:
    from sync_server.backup.archive import BackupArchive
    from sync_server.backup.create import create_backup
    from sync_server.backup.restore import restore_backup

    draft_id = _new(world)
    src = drafts.draft_source_dir(settings=world.settings, draft_id=draft_id)
    (src / "media").mkdir()
    (src / "media" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    (src / ".pack.toml.tmp").write_text("half written")          # never backed up
    archive = tmp_path / "b.zip"
    create_backup(world.settings, archive)
    with BackupArchive.open(archive) as opened:
        paths = {f.path for f in opened.manifest.files if f.path.startswith("drafts/")}
    assert paths == {f"drafts/{draft_id}/pack.toml", f"drafts/{draft_id}/media/x.png"}
    target = Settings(data_dir=tmp_path / "restored", development=True)
    restore_backup(target, archive)
    again = target.data_dir / "drafts" / draft_id
    assert (again / "pack.toml").read_bytes() == (src / "pack.toml").read_bytes()
    assert (again / "media" / "x.png").read_bytes() == (src / "media" / "x.png").read_bytes()
    assert not (again / ".pack.toml.tmp").exists()
    restored = open_repository(target.effective_database_url)
    try:
        assert [d.id for d in restored.list_drafts()] == [draft_id]
    finally:
        restored.close()


@pytest.mark.parametrize("path", ["drafts/d-0123456789abcdef/../../keys/server.key",
                                  "drafts/d-0123456789abcdef/.hidden", "drafts/x/pack.toml",
                                  "drafts/d-0123456789abcdef", "drafts/d-0123456789abcdef//a"])
def test_a_backup_cannot_name_a_draft_file_outside_a_draft(path: str) -> None:
    from sync_server.backup.archive import DRAFT_RE
    assert not DRAFT_RE.match(path)
