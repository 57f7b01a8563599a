"""Pack drafts of the authoring studio (issue 20, docs/authoring.md "Studio").

A draft is a pack source folder kept by the server (sync_server/authoring/drafts.py) plus
its row in `drafts` (who, from which version, when, status). Every function here checks
the actor's console role (services/roles.py) before it acts and records the action in
the audit log, so the console, the JSON API and the CLI are held to the same rules:

    create_draft            a new pack (author)
    open_version_as_draft   an uploaded version's source written back (author)
    draft_source_dir        the folder of a draft (for the editors and the translation
                            workspace)
    export_draft_zip        the draft as a zipped source folder (author)
    import_draft_zip        a zipped source folder replaces the draft (author)
    saved                   record an editor's save (author)
    build_draft             build + sign with the server key + verify + store as the
                            next version (publisher); then the packs page publishes it
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from app.core.clock import now_iso
from app.core.packs import BlobStore, build_from_source, read_source
from app.core.roles import is_role
from sync_server.authoring import drafts as files
from sync_server.authoring.tomlwrite import dumps
from sync_server.authoring.unbuild import write_source
from sync_server.db.drafts import Draft
from sync_server.db.repository import Admin, PackVersion, Repository
from sync_server.errors import NotFoundError, ServerError
from sync_server.keyring import Keyring
from sync_server.services import audit, packs
from sync_server.services.roles import AUTHOR, PUBLISHER, require_role
from sync_server.settings import Settings


def draft_source_dir(*, settings: Settings, draft_id: str,
                     repo: Repository | None = None) -> Path:
    """The source folder of a draft; with `repo`, NotFoundError unless the draft exists."""
    path = files.source_dir(settings.data_dir, draft_id)
    if repo is not None and repo.get_draft(draft_id) is None:
        raise NotFoundError(f"no draft {draft_id!r}")
    return path


def get_draft(*, repo: Repository, draft_id: str) -> Draft:
    found = repo.get_draft(draft_id)
    if found is None:
        raise NotFoundError(f"no draft {draft_id[:40]!r}")
    return found


def list_drafts(*, repo: Repository, pack_id: str | None = None) -> list[Draft]:
    return repo.list_drafts(pack_id)


def _text(value: str, name: str, limit: int = 200) -> str:
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        raise ServerError(f"{name}: 1–{limit} printable characters")
    return value


def create_draft(*, repo: Repository, settings: Settings, by: Admin, pack_id: str,
                 title: str, languages: list[str], default_language: str,
                 audience_roles: list[str], licence: str = "CC BY-SA 4.0",
                 authors: list[str] | None = None) -> Draft:
    """A new pack as a draft: pack.toml only (courses come from the course editor)."""
    require_role(repo, by, AUTHOR, "draft.create", target=pack_id[:64])
    if not files.PACK_ID.match(pack_id):
        raise ServerError(f"pack id {pack_id[:70]!r}: lowercase letters, digits, '-' and '_' "
                          "(≤ 64 characters, starting with a letter or digit)")
    if any(p.pack_id == pack_id for p in repo.list_pack_versions()):
        raise ServerError(f"pack {pack_id!r} exists already: open one of its versions as a "
                          "draft instead")
    langs = list(dict.fromkeys(lang.strip() for lang in languages if lang.strip()))
    if default_language not in langs:
        raise ServerError(f"default language {default_language[:10]!r} must be one of the "
                          "languages")
    bad = [r for r in audience_roles if not is_role(r)]
    if bad or not audience_roles:
        raise ServerError(f"audience roles: choose at least one known role "
                          f"({', '.join(bad)[:80]} unknown)" if bad else
                          "audience roles: choose at least one")
    draft_id = files.new_draft_id()
    dest = files.source_dir(settings.data_dir, draft_id)
    files.new_pack_source(dest, pack_id=pack_id, title=_text(title, "title"), languages=langs,
                          default_language=default_language, audience_roles=audience_roles,
                          licence=_text(licence, "licence"),
                          authors=[_text(a, "author") for a in (authors or [by.name])])
    now = now_iso()
    return _record(repo, Draft(draft_id, pack_id, None, "open", by.name, now, by.name, now,
                               None), dest, audit.entry(by.name, "draft.create",
                                                        target=draft_id, pack=pack_id))


def _record(repo: Repository, draft: Draft, dest: Path, entry: audit.AuditEntry) -> Draft:
    try:
        return repo.create_draft(draft, audit=entry)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def open_version_as_draft(*, repo: Repository, settings: Settings, blobs: BlobStore,
                          by: Admin, pack_id: str, version: int) -> Draft:
    """A stored version as a new draft: its source folder written back from the signed
    manifest and the blobs (authoring/unbuild.py; the server keeps built packs only)."""
    require_role(repo, by, AUTHOR, "draft.open", target=f"{pack_id[:64]}@{version}")
    stored = repo.get_pack_version(pack_id, version)
    if stored is None:
        raise NotFoundError(f"pack {pack_id!r} version {version} was not uploaded")
    manifest = json.loads(stored.manifest)
    shas = {f["path"]: f["sha256"] for f in manifest.get("files", [])}

    def read_file(path: str) -> bytes:
        with blobs.open(shas[path]) as fh:
            return fh.read()

    draft_id = files.new_draft_id()
    dest = files.source_dir(settings.data_dir, draft_id)
    try:
        write_source(manifest, read_file, dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    now = now_iso()
    return _record(repo, Draft(draft_id, pack_id, version, "open", by.name, now, by.name, now,
                               None), dest, audit.entry(by.name, "draft.open", target=draft_id,
                                                        pack=f"{pack_id}@{version}"))


def saved(*, repo: Repository, by: Admin, draft_id: str, what: str) -> Draft:
    """Record a change an editor wrote into the draft's folder (author)."""
    require_role(repo, by, AUTHOR, "draft.edit", target=draft_id)
    return repo.touch_draft(draft_id, by.name, now_iso(), audit=audit.entry(
        by.name, "draft.edit", target=draft_id, what=what[:120]))


def require_author(*, repo: Repository, by: Admin, draft_id: str) -> Draft:
    """The draft, if `by` may edit it (an editor asks before it writes anything)."""
    require_role(repo, by, AUTHOR, "draft.edit", target=draft_id)
    draft = get_draft(repo=repo, draft_id=draft_id)
    if draft.status == "closed":
        raise ServerError(f"draft {draft_id} is closed (read-only)")
    return draft


def export_draft_zip(*, repo: Repository, settings: Settings, by: Admin, draft_id: str
                     ) -> Path:
    """The draft as a zipped source folder in the server's temp folder (the caller
    deletes it once sent)."""
    require_role(repo, by, AUTHOR, "draft.export", target=draft_id)
    draft = get_draft(repo=repo, draft_id=draft_id)
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkstemp(prefix="draft-", suffix=".zip", dir=tmp_dir)[1])
    try:
        files.zip_source(draft_source_dir(settings=settings, draft_id=draft_id), out,
                         draft.pack_id)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    audit.record(repo, by.name, "draft.export", target=draft_id, pack=draft.pack_id)
    return out


def import_draft_zip(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                     zip_path: Path) -> Draft:
    """A zipped source folder (the same pack id) replaces the draft's content. The
    zip is unpacked with the pack upload's checks (zip-slip, links, count, size); a
    refused zip leaves the draft as it was."""
    draft = require_author(repo=repo, by=by, draft_id=draft_id)
    files.replace_from_zip(zip_path, draft_source_dir(settings=settings, draft_id=draft_id),
                           pack_id=draft.pack_id, work_dir=settings.data_dir / "tmp")
    return repo.touch_draft(draft_id, by.name, now_iso(), audit=audit.entry(
        by.name, "draft.import", target=draft_id, pack=draft.pack_id))


def next_version(*, repo: Repository, pack_id: str, src: Path) -> int:
    """One more than every stored version of the pack (and never below pack.toml's)."""
    known = [p.version for p in repo.list_pack_versions() if p.pack_id == pack_id]
    written = files.read_toml(src / "pack.toml").get("version")
    floor = written if isinstance(written, int) and not isinstance(written, bool) else 1
    return max([floor - 1, *known]) + 1


def build_draft(*, repo: Repository, settings: Settings, keyring: Keyring, blobs: BlobStore,
                by: Admin, draft_id: str) -> PackVersion:
    """Build the draft as the next version of its pack, signed with the server key, and
    store it through the same verification as any uploaded pack (``packs.ingest_pack_file``).
    PackSourceErrors lists every problem (file, line, field) — nothing is stored then.
    The draft's pack.toml gets the built version, so its zipped source builds the same
    pack with `python -m sync_server pack build`."""
    require_role(repo, by, PUBLISHER, "draft.build", target=draft_id)
    draft = get_draft(repo=repo, draft_id=draft_id)
    src = draft_source_dir(settings=settings, draft_id=draft_id)
    version = next_version(repo=repo, pack_id=draft.pack_id, src=src)
    source = read_source(src)              # raises with every problem of the draft
    if source.manifest["id"] != draft.pack_id:
        raise ServerError(f"pack.toml id {source.manifest['id']!r} is not this draft's pack "
                          f"{draft.pack_id!r}")
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="draft-build-", dir=tmp_dir))
    try:
        built = build_from_source(source, keyring.private_key, out, version=version)
        pack = packs.ingest_pack_file(repo, keyring, blobs, built, by.name)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    doc = files.read_toml(src / "pack.toml")
    doc["version"] = pack.version
    files.write_text(src / "pack.toml", dumps(doc))
    repo.touch_draft(draft_id, by.name, now_iso(), status="built", built_version=pack.version,
                     audit=audit.entry(by.name, "draft.build", target=draft_id,
                                       pack=f"{pack.pack_id}@{pack.version}"))
    return pack


def delete_draft(*, repo: Repository, settings: Settings, by: Admin, draft_id: str) -> None:
    """Delete a draft: its row and its folder (author). Versions built from it stay."""
    require_role(repo, by, AUTHOR, "draft.delete", target=draft_id)
    draft = get_draft(repo=repo, draft_id=draft_id)
    repo.delete_draft(draft_id, audit=audit.entry(by.name, "draft.delete", target=draft_id,
                                                  pack=draft.pack_id))
    shutil.rmtree(draft_source_dir(settings=settings, draft_id=draft_id), ignore_errors=True)
