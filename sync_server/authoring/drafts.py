"""Draft source folders on disk: where they are, a new pack's first files, and a draft
as a zipped source folder (out and back in).

A draft lives in `<data dir>/drafts/<draft id>/` (``Settings.data_dir``; the blobs are in
`<data dir>/blobs`). Its content is exactly a pack source folder, so
`python -m sync_server pack build` builds a downloaded draft, and a zipped source made by
hand can be uploaded into a draft. Every write replaces files whole (write to a temporary
name, then rename), and an upload replaces the folder only after it was unpacked and
found to be a pack source of the same pack: a refused upload leaves the draft untouched.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from app.core.errors import PackError
from app.core.packs import safe_extract_zip
from sync_server.authoring.tomlwrite import dumps
from sync_server.errors import NotFoundError, ServerError

DRAFT_ID = re.compile(r"^d-[0-9a-f]{16}$")
PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: the bounds of an uploaded zipped source: the same as a source upload on the packs page
#: (services/packs.py SOURCE_MAX_FILES / SOURCE_MAX_BYTES)
MAX_FILES = 5_000
MAX_BYTES = 512 * 1024 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)


def new_draft_id() -> str:
    return "d-" + secrets.token_hex(8)


def drafts_root(data_dir: Path) -> Path:
    return Path(data_dir) / "drafts"


def source_dir(data_dir: Path, draft_id: str) -> Path:
    """The source folder of a draft (NotFoundError for an id that is not a draft id:
    nothing from a URL is ever joined to a path unchecked)."""
    if not isinstance(draft_id, str) or not DRAFT_ID.match(draft_id):
        raise NotFoundError(f"no draft {str(draft_id)[:40]!r}")
    return drafts_root(data_dir) / draft_id


def write_text(path: Path, text: str) -> None:
    """Replace a file whole (temporary file + fsync + rename): a crash leaves the old or
    the new file, never half of one."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def new_pack_source(dest: Path, *, pack_id: str, title: str, languages: list[str],
                    default_language: str, audience_roles: list[str], licence: str,
                    authors: list[str]) -> None:
    """The first file of a new pack: pack.toml with no course yet (the course editor
    adds them). The values are checked by the builder like any pack.toml."""
    doc: dict[str, Any] = {
        "format": 1, "id": pack_id, "version": 1, "default_language": default_language,
        "languages": languages, "partial_languages": [], "machine_translated": [],
        "audience_roles": audience_roles,
        "title": {lang: title for lang in languages},
        "description": {lang: title for lang in languages},
        "licence": licence, "authors": authors, "courses": [],
    }
    write_text(dest / "pack.toml", dumps(doc))


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file of a draft (ServerError naming it when it is not valid TOML)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise NotFoundError(f"{path.name} is missing from the draft") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ServerError(f"{path.name}: not valid TOML ({exc})") from None


def pack_id_of(src: Path) -> str:
    value = read_toml(src / "pack.toml").get("id")
    return value if isinstance(value, str) else ""


def zip_source(src: Path, out: Path, top: str) -> Path:
    """The draft as a zipped source folder under one top folder (`<pack id>/…`), entries
    sorted with fixed timestamps (the same draft gives the same bytes)."""
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink()
                   and not any(part.startswith(".") for part in p.relative_to(src).parts))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"{top}/{path.relative_to(src).as_posix()}", _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, path.read_bytes())
    return out


def _source_root(folder: Path) -> Path:
    if (folder / "pack.toml").is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    if len(subdirs) == 1 and (subdirs[0] / "pack.toml").is_file():
        return subdirs[0]
    raise PackError("source zip: no pack.toml at the top level or in a single top folder")


def replace_from_zip(zip_path: Path, dest: Path, *, pack_id: str, work_dir: Path) -> None:
    """Unpack a zipped source (zip-slip, links, file count and size bounded by
    ``safe_extract_zip``) and make it the draft's folder. PackError when it is not a
    pack source of `pack_id`; the draft is unchanged then."""
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="draft-in-", dir=work_dir))
    try:
        safe_extract_zip(zip_path, tmp / "x", max_files=MAX_FILES, max_bytes=MAX_BYTES)
        root = _source_root(tmp / "x")
        found = pack_id_of(root)
        if found != pack_id:
            raise PackError(f"source zip: pack.toml has id {found[:64]!r}, this draft is "
                            f"pack {pack_id!r} (create a new draft for another pack)")
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(root, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
