"""Safe extraction of an uploaded zip (the server unpacks a zipped pack *source* folder).

Rejects absolute paths, ``..``, backslashes, drive letters, symlinks and other special
files, duplicate names, too many entries, too many bytes and extreme compression ratios
(zip bombs). Sizes are enforced while extracting, not only from the (forgeable) headers.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from zlib import error as ZlibError

from app.core.errors import PackError
from app.core.packs.limits import CHUNK, MAX_RATIO


class UnsafeZipError(PackError):
    """An uploaded zip is unsafe or too large to extract."""


def safe_extract_zip(zip_path: Path, dest_dir: Path, *, max_files: int = 5000,
                     max_bytes: int = 1024 * 1024 * 1024) -> list[Path]:
    """Extract ``zip_path`` into ``dest_dir`` (created; must be empty). Returns the files."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise UnsafeZipError(f"{dest}: extraction folder is not empty")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeZipError(f"{zip_path}: not a readable zip file ({exc})") from None
    out: list[Path] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise UnsafeZipError(f"zip has {len(infos)} entries; the limit is {max_files}")
        seen: set[str] = set()
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        declared = 0
        for info in infos:
            name = info.orig_filename
            shown = name[:80]
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\\" in name \
                    or "\x00" in name:
                raise UnsafeZipError(f"unsafe entry {shown!r}: absolute path or backslash")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if ".." in parts:
                raise UnsafeZipError(f"unsafe entry {shown!r}: '..' escapes the folder")
            _check_kind(info, shown)
            key = "/".join(parts).lower()
            if key in seen:
                raise UnsafeZipError(f"duplicate entry {shown!r}")
            seen.add(key)
            if info.flag_bits & 0x1:
                raise UnsafeZipError(f"entry {shown!r} is encrypted")
            if info.file_size and (info.compress_size == 0
                                   or info.file_size > MAX_RATIO * info.compress_size):
                raise UnsafeZipError(f"entry {shown!r} expands more than {MAX_RATIO}:1 "
                                     "(zip bomb refused)")
            declared += info.file_size
            if declared > max_bytes:
                raise UnsafeZipError(f"zip expands to more than {max_bytes} bytes")
            if parts and not info.is_dir():
                plan.append((info, PurePosixPath(*parts)))
        files = {"/".join(rel.parts).lower() for _, rel in plan}
        for info, rel in plan:
            for parent in list(rel.parents)[:-1]:
                if parent.as_posix().lower() in files:
                    raise UnsafeZipError(f"entry {info.orig_filename[:80]!r} is inside the "
                                         f"file {parent.as_posix()!r}")
        total = 0
        try:
            for info, rel in plan:
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.resolve().is_relative_to(dest.resolve()):
                    raise UnsafeZipError(f"unsafe entry {info.orig_filename[:80]!r}")
                written = 0
                with zf.open(info) as src, open(target, "xb") as dst:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if written > info.file_size or total > max_bytes:
                            raise UnsafeZipError(f"entry {info.orig_filename[:80]!r} is larger "
                                                 "than declared (zip bomb refused)")
                        dst.write(chunk)
                out.append(target)
        except (zipfile.BadZipFile, EOFError, ZlibError, OSError) as exc:
            _clear(dest)
            raise UnsafeZipError(f"{zip_path}: damaged zip ({exc})") from None
        except BaseException:
            _clear(dest)
            raise
    return out


def _check_kind(info: zipfile.ZipInfo, shown: str) -> None:
    """Allow regular files and empty directories only.

    The Unix file type sits in the top bits of ``external_attr`` (when the creator was
    Unix). Python's ``ZipFile.writestr(name, data)`` and some tools store permission bits
    without a file type (e.g. 0o600): a type of 0 counts as a regular file (or a
    directory when the name ends with '/'). Symbolic links, devices, FIFOs and sockets are
    refused, and so is a directory entry that carries data.
    """
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeZipError(f"unsafe entry {shown!r}: symbolic link or special file")
    is_dir = kind == stat.S_IFDIR or info.filename.endswith("/") or bool(info.external_attr & 0x10)
    if is_dir and (info.file_size or info.compress_size > 2):
        raise UnsafeZipError(f"unsafe entry {shown!r}: a directory entry that holds data")
    if kind == stat.S_IFDIR and not info.filename.endswith("/"):
        raise UnsafeZipError(f"unsafe entry {shown!r}: a directory entry without a trailing '/'")


def _clear(dest: Path) -> None:
    for p in dest.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
