"""Packs from the admin side (JSON API, console): upload, publish, roll back, list.

Upload: verify a built .pack with the trusted keys (or build one from a zipped source
folder with the server key), put its blobs into the content-addressed store, record the
version — versions only grow. Publish: a version to facilities and/or roles (the API's
`publish`: empty = all; the console's `check_audience` + `publish_to`: explicit, nothing
implicit). Withdraw: a pack's publications end (devices hide it). Roll back: the content of an older version republished as a new, higher version
(devices never go backwards). The device side is pack_delivery.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from app.core.canonical import canonical_json
from app.core.clock import now_iso
from app.core.errors import PackError, PackSourceError, PackSourceErrors
from app.core.packs import BlobStore
from app.core.packs.builder import sign_manifest
from app.core.packs.lesson_check import MAX_LESSON_BYTES
from app.core.packs.quality import QualityFinding, quiz_quality, source_quality
from app.core.roles import ROLE_LABELS_EN, ROLES, is_role
from sync_server.db.repository import (
    Facility,
    InstalledPack,
    PackVersion,
    Publication,
    Repository,
)
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.keyring import Keyring
from sync_server.services import audit, pack_delivery
from sync_server.services.gap_mapping import ensure_gap_mapping

CHUNK = 1024 * 1024
SOURCE_MAX_FILES = 5_000
SOURCE_MAX_BYTES = 512 * 1024 * 1024


def _zip_chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with zf.open(name) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk


@contextmanager
def _hide_path(path: Path, label: str) -> Iterator[None]:
    """Errors name the upload, not the server's temp folder."""
    try:
        yield
    except PackSourceErrors as many:   # every problem keeps its file, line and field
        raise PackSourceErrors([_relabel(p, path, label) for p in many.problems],
                               total=many.total) from None
    except PackError as exc:
        message = str(exc).replace(str(path), label)
        if message == str(exc):
            raise
        try:
            new = type(exc)(message)
        except TypeError:
            new = PackError(message)
        raise new from None


def _relabel(problem: PackSourceError, path: Path, label: str) -> PackSourceError:
    """The same problem with the upload's name instead of the server's temp folder."""
    text = str(problem)
    prefix = problem.path or ""
    if problem.line is not None:
        prefix += f":{problem.line}"
    if problem.field:
        prefix += f" [{problem.field}]" if prefix else f"[{problem.field}]"
    message = text[len(prefix) + 2:] if prefix and text.startswith(prefix + ": ") else text
    def fix(value: str) -> str:   # a path inside the upload: relative to it
        return value.replace(str(path) + "/", "").replace(str(path), label)

    return PackSourceError(fix(message), path=fix(problem.path) if problem.path else None,
                           line=problem.line, field=problem.field)


def ingest_pack_file(repo: Repository, keyring: Keyring, blobs: BlobStore, pack_file: Path,
                     uploaded_by: str) -> PackVersion:
    """Verify `pack_file` with the trusted keys and store it (blobs + manifest + sig).

    The version must be greater than every version of the same pack already uploaded.
    Blobs are written hash-checked into the store before the version is recorded, so a
    failure leaves nothing a device could see.
    """
    from app.core.packs import verify_pack

    with _hide_path(pack_file, "upload"):
        verified = verify_pack(pack_file, keyring.trusted)
    manifest = verified.manifest
    known = [p.version for p in repo.list_pack_versions() if p.pack_id == verified.id]
    if known and verified.version <= max(known):
        raise AlreadyExistsError(f"pack {verified.id!r} version {verified.version} is not newer "
                                 f"than the uploaded version {max(known)} (versions only grow)")
    total = 0
    with zipfile.ZipFile(pack_file) as zf:
        for entry in manifest["files"]:
            sha, size = entry["sha256"], int(entry["size"])
            total += size
            if not blobs.has(sha):
                blobs.put_stream(sha, size, _zip_chunks(zf, f"blobs/{sha}"))
    pack = PackVersion(pack_id=verified.id, version=verified.version,
                       manifest=verified.manifest_bytes, sig=verified.sig_bytes,
                       title=json.dumps(manifest.get("title", {}), ensure_ascii=False),
                       total_bytes=total, uploaded_at=now_iso(), uploaded_by=uploaded_by)
    repo.add_pack_version(pack, audit=audit.entry(uploaded_by, "pack.upload",
                                                  target=f"{pack.pack_id}@{pack.version}"))
    return pack


def _source_root(folder: Path) -> Path:
    if (folder / "pack.toml").is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    if len(subdirs) == 1 and (subdirs[0] / "pack.toml").is_file():
        return subdirs[0]
    raise PackError("source zip: no pack.toml at the top level or in a single top folder")


def ingest_source_zip(repo: Repository, keyring: Keyring, blobs: BlobStore, zip_file: Path,
                      uploaded_by: str, work_dir: Path) -> PackVersion:
    """Unpack a zipped source folder safely, build + sign it with the server key, ingest it."""
    return _ingest_source_zip(repo, keyring, blobs, zip_file, uploaded_by, work_dir).pack


def _ingest_source_zip(repo: Repository, keyring: Keyring, blobs: BlobStore, zip_file: Path,
                       uploaded_by: str, work_dir: Path) -> UploadReport:
    from app.core.packs import build_from_source, read_source, safe_extract_zip

    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="source-", dir=work_dir))
    try:
        src = tmp / "src"
        with _hide_path(zip_file, "source zip"), _hide_path(src, "source"):
            safe_extract_zip(zip_file, src, max_files=SOURCE_MAX_FILES, max_bytes=SOURCE_MAX_BYTES)
            out = tmp / "out"
            out.mkdir()
            root = _source_root(src)
            source = read_source(root)
            findings = [_relative_to(f, root) for f in source_quality(source).findings]
            built = build_from_source(source, keyring.private_key, out)
        pack = ingest_pack_file(repo, keyring, blobs, Path(built), uploaded_by)
        return UploadReport(pack, findings)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class UploadReport:
    """A stored upload and the quiz quality findings of its content (docs/authoring.md
    "Quiz quality rules"): file:line of the zipped source, or manifest fields of a .pack.
    Findings do not refuse an upload; the console shows them."""

    pack: PackVersion
    quality: list[QualityFinding]


def _relative_to(finding: QualityFinding, root: Path) -> QualityFinding:
    """A finding whose path names the file inside the upload, not the server's temp folder."""
    if finding.path and finding.path.startswith(str(root) + "/"):
        return replace(finding, path=finding.path[len(str(root)) + 1:])
    return finding


def stored_quality(*, blobs: BlobStore, manifest: dict[str, Any]) -> list[QualityFinding]:
    """The quality findings of a stored pack version, judged from its manifest and the
    lesson files in the blob store (a built pack has no source lines: findings name
    manifest fields)."""
    shas = {f["path"]: f["sha256"] for f in manifest.get("files", [])}

    def load(path: str) -> dict[str, Any]:
        with blobs.open(shas[path]) as fh:
            # the verifier checked every lesson (≤ MAX_LESSON_BYTES, valid JSON) at upload
            doc: dict[str, Any] = json.loads(fh.read(MAX_LESSON_BYTES + 1))
        return doc

    try:
        return quiz_quality(manifest, load).findings
    except (KeyError, TypeError, AttributeError, ValueError, OSError) as exc:
        # a manifest a foreign tool signed may be valid for devices yet odd in places the
        # quality rules read: say so, never fail an upload that was already stored
        return [QualityFinding("unchecked", "", f"the quiz quality rules could not read this "
                               f"pack ({type(exc).__name__}: {str(exc)[:120]})",
                               "manifest.json", None, None)]




UploadKind = Literal["pack", "source", "auto"]


def is_built_pack(path: Path) -> bool:
    """Whether an upload looks like a built pack (manifest + signature) rather than a
    zipped source folder; a file that is no zip at all is left to the pack verifier."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile:
        return True
    return "manifest.json" in names and "manifest.sig" in names


def upload_pack(*, repo: Repository, keyring: Keyring, blobs: BlobStore, path: Path, by: str,
                work_dir: Path, kind: UploadKind = "auto") -> PackVersion:
    """Store an uploaded file as a new pack version: a built .pack (verified) or a zipped
    source folder (built and signed here); "auto" tells them apart. PackError names what
    is wrong (file, line, field); AlreadyExistsError a version that is not newer."""
    if kind == "source" or (kind == "auto" and not is_built_pack(path)):
        return ingest_source_zip(repo, keyring, blobs, path, by, work_dir)
    return ingest_pack_file(repo, keyring, blobs, path, by)


def upload_pack_with_report(*, repo: Repository, keyring: Keyring, blobs: BlobStore, path: Path,
                            by: str, work_dir: Path, kind: UploadKind = "auto") -> UploadReport:
    """``upload_pack`` plus the quiz quality report of what was stored (the console)."""
    if kind == "source" or (kind == "auto" and not is_built_pack(path)):
        return _ingest_source_zip(repo, keyring, blobs, path, by, work_dir)
    pack = ingest_pack_file(repo, keyring, blobs, path, by)
    return UploadReport(pack, stored_quality(blobs=blobs, manifest=json.loads(pack.manifest)))


def publish(*, repo: Repository, pack_id: str, version: int, facilities: list[str],
            roles: list[str], by: str) -> Publication:
    """Publish an uploaded version to facilities and/or roles (empty = all). ServerError
    for an unknown role; NotFoundError for an unknown version or facility."""
    bad = [r for r in roles if not is_role(r)]
    if bad:
        raise ServerError(f"Unknown role(s): {', '.join(bad)} (roles: {', '.join(ROLES)})")
    pub = repo.publish(pack_id, version, facilities, roles, by, now_iso(), audit=audit.entry(
        by, "pack.publish", target=f"{pack_id}@{version}", facilities=facilities, roles=roles))
    ensure_gap_mapping(repo)        # the gap map follows the new audience (now, not at render)
    return pub


@dataclass(frozen=True)
class Audience:
    """An explicit audience, checked and named (the console's confirmation step).
    Empty `facilities` / `roles` mean *all*, but only when the admin chose "all"."""

    facilities: tuple[str, ...]
    roles: tuple[str, ...]
    facility_names: tuple[str, ...]     # the names, for the confirmation sentence
    role_names: tuple[str, ...]

    def text(self) -> str:
        where = ", ".join(self.facility_names) or "all facilities"
        who = ", ".join(self.role_names) or "all roles"
        return f"{where} · {who}"


def check_audience(*, repo: Repository, facilities: list[str], roles: list[str],
                   all_facilities: bool, all_roles: bool) -> Audience:
    """The audience an admin chose, with nothing implicit: no facility ticked and "all
    facilities" not chosen (or the same for roles) is a ServerError saying so; an unknown
    facility is NotFoundError, an unknown role ServerError."""
    if not facilities and not all_facilities:
        raise ServerError("Choose the facilities to publish to (or tick \"all facilities\"): "
                          "nothing is published to everyone by default.",
                          refusal="audience_no_facility")
    if not roles and not all_roles:
        raise ServerError("Choose the roles to publish to (or tick \"all roles\"): "
                          "nothing is published to everyone by default.",
                          refusal="audience_no_role")
    bad = [r for r in roles if not is_role(r)]
    if bad:
        raise ServerError(f"Unknown role(s): {', '.join(bad)} (roles: {', '.join(ROLES)})")
    names = {f.id: f.name for f in repo.list_facilities()}
    missing = [f for f in facilities if f not in names]
    if missing:
        raise NotFoundError(f"facility {missing[0]!r} does not exist")
    where = () if all_facilities else tuple(sorted(set(facilities)))
    who = () if all_roles else tuple(sorted(set(roles)))
    return Audience(where, who, tuple(names[f] for f in where),
                    tuple(ROLE_LABELS_EN.get(r, r) for r in who))


def publish_to(*, repo: Repository, pack_id: str, version: int, audience: Audience,
               by: str) -> Publication:
    """Publish a version to an audience made by ``check_audience`` (the console's way:
    explicit, confirmed). NotFoundError for a version never uploaded."""
    pub = repo.publish(pack_id, version, list(audience.facilities), list(audience.roles),
                       by, now_iso(), audit=audit.entry(
                           by, "pack.publish", target=f"{pack_id}@{version}",
                           facilities=list(audience.facilities), roles=list(audience.roles)))
    ensure_gap_mapping(repo)
    return pub


def withdraw(*, repo: Repository, pack_id: str, by: str) -> int:
    """Withdraw a pack: every active publication of it ends, so it leaves the catalogue
    of every device and tablets hide it at their next sync (the catalogue's ``withdrawn``
    list, docs/sync-protocol.md); learners' progress is kept (events are never touched).
    Returns how many publications ended; NotFoundError for an unknown pack, ServerError
    when nothing of it is published."""
    if not any(p.pack_id == pack_id for p in repo.list_pack_versions()):
        raise NotFoundError(f"pack {pack_id!r} was not uploaded")
    ended = repo.withdraw_publications(pack_id, by, now_iso())
    if not ended:
        raise ServerError(f"pack {pack_id!r} is not published: nothing to withdraw")
    audit.record(repo, by, "pack.withdraw", target=pack_id, publications=ended)
    ensure_gap_mapping(repo)
    return ended


def rollback_audience(*, repo: Repository, pack_id: str) -> Publication | None:
    """The publication a roll-back republishes to: the newest active one of the pack
    (None: nothing published, the roll-back only uploads)."""
    pubs = [p for p in repo.list_publications() if p.pack_id == pack_id and p.active]
    return max(pubs, key=lambda p: (p.version, p.id)) if pubs else None


def rollback(*, repo: Repository, keyring: Keyring, pack_id: str, version: int,
             by: str) -> PackVersion:
    """Republish the content of `version` as a new, higher version (devices never go
    backwards): same files, manifest with the new version number, signed with the server
    key; published to the audience of the newest active publication of the pack
    (``rollback_audience``; the console says which before and after)."""
    old = repo.get_pack_version(pack_id, version)
    if old is None:
        raise NotFoundError(f"pack {pack_id!r} version {version} was not uploaded")
    newest = max(p.version for p in repo.list_pack_versions() if p.pack_id == pack_id)
    manifest = json.loads(old.manifest)
    manifest["version"] = newest + 1
    manifest_bytes = canonical_json(manifest)
    pack = PackVersion(pack_id=pack_id, version=newest + 1, manifest=manifest_bytes,
                       sig=sign_manifest(manifest_bytes, keyring.private_key),
                       title=old.title, total_bytes=old.total_bytes, uploaded_at=now_iso(),
                       uploaded_by=f"{by} (rollback to v{version})")
    last = rollback_audience(repo=repo, pack_id=pack_id)
    repo.add_pack_version(pack, audit=audit.entry(by, "pack.rollback",
                                                  target=f"{pack_id}@{pack.version}",
                                                  content_of=version))
    if last is not None:
        repo.publish(pack_id, pack.version, list(last.facilities), list(last.roles), by,
                     now_iso())
        ensure_gap_mapping(repo)
    return pack


def find_version(*, repo: Repository, pack_id: str, version: int) -> PackVersion | None:
    return repo.get_pack_version(pack_id, version)


def list_pack_versions(*, repo: Repository) -> list[PackVersion]:
    return repo.list_pack_versions()


def list_publications(*, repo: Repository) -> list[Publication]:
    return repo.list_publications()


def installed_packs(*, repo: Repository, facility_id: str | None = None) -> list[InstalledPack]:
    """The pack versions each device reported at its last sync."""
    return repo.installed_packs(facility_id)


def newest_manifests(*, repo: Repository, published_only: bool) -> list[dict[str, Any]]:
    """The manifest of the newest (published, or uploaded) version of every pack."""
    newest: dict[str, int] = {}
    versions = repo.list_publications() if published_only else repo.list_pack_versions()
    for item in versions:
        pack_id = item.pack_id
        newest[pack_id] = max(newest.get(pack_id, 0), item.version)
    out = []
    for pack_id, version in sorted(newest.items()):
        pack = repo.get_pack_version(pack_id, version)
        if pack is not None:
            out.append(json.loads(pack.manifest))
    return out


@dataclass
class PackOverview:
    """What the console's packs page shows: every version with its publications, who
    has what installed, the newest published version per pack."""

    versions: dict[str, list[tuple[PackVersion, list[Publication]]]]
    facilities: list[Facility]
    installed: list[tuple[str, str, dict[str, int]]]   # device name, facility, pack → version
    pack_ids: list[str]
    newest_published: dict[str, int]
    devices: list[InstalledRow] = field(default_factory=list)   # with what each should have


@dataclass(frozen=True)
class InstalledRow:
    """One device in "Installed on devices": what it reported, and the newest version
    of each pack published (active) to *its* facility — what it should have."""

    device_id: str
    name: str
    facility_id: str
    versions: dict[str, int]         # pack → version reported
    offered: dict[str, int]          # pack → newest version published to its facility
    reported_at: str                 # the last report (UTC)
    revoked: bool

    def stale(self, pack_id: str) -> bool:
        have = self.versions.get(pack_id)
        return have is not None and have < self.offered.get(pack_id, 0)


def overview(*, repo: Repository) -> PackOverview:
    pubs = repo.list_publications()
    versions: dict[str, list[tuple[PackVersion, list[Publication]]]] = {}
    for p in repo.list_pack_versions():
        versions.setdefault(p.pack_id, []).append(
            (p, [x for x in pubs if x.pack_id == p.pack_id and x.version == p.version]))
    for rows in versions.values():
        rows.sort(key=lambda row: -row[0].version)
    newest_published: dict[str, int] = {}
    for pub in pubs:
        if pub.active:
            newest_published[pub.pack_id] = max(newest_published.get(pub.pack_id, 0),
                                                pub.version)
    names = {d.id: d.name for d in repo.list_devices()}
    by_device: dict[str, tuple[str, str, dict[str, int]]] = {}
    installed = repo.installed_packs()
    for item in installed:
        row = by_device.setdefault(item.device_id, (names.get(item.device_id, item.device_id),
                                                    item.facility_id, {}))
        row[2][item.pack_id] = item.version
    offered: dict[str, dict[str, int]] = {}
    for enrolled in repo.list_devices():
        if enrolled.facility_id not in offered:
            offered[enrolled.facility_id] = {
                i.pack.pack_id: i.pack.version
                for i in pack_delivery.catalogue(repo=repo, facility_id=enrolled.facility_id)}
    devices = {d.id: d for d in repo.list_devices()}
    table: dict[str, InstalledRow] = {}
    for item in installed:
        device = devices.get(item.device_id)
        line = table.get(item.device_id)
        if line is None:
            line = table[item.device_id] = InstalledRow(
                item.device_id, device.name if device else item.device_id, item.facility_id,
                {}, offered.get(item.facility_id, {}), item.reported_at,
                bool(device and device.revoked))
        line.versions[item.pack_id] = item.version
        if item.reported_at > line.reported_at:
            table[item.device_id] = replace(line, reported_at=item.reported_at)
    return PackOverview(versions, repo.list_facilities(), list(by_device.values()),
                        sorted({i.pack_id for i in installed} | set(versions)), newest_published,
                        sorted(table.values(), key=lambda r: (r.facility_id, r.name)))
