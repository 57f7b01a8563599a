"""safe_extract_zip: what the server uses to unpack an uploaded, zipped pack source."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.core.packs import UnsafeZipError, read_source, safe_extract_zip
from tests.unit.test_packs_support import SAMPLE, Entry, write_entries


def test_extracts_a_zipped_source_folder_that_then_reads(tmp_path: Path) -> None:
    zpath = tmp_path / "src.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(SAMPLE.rglob("*")):
            zf.write(p, "promote-sample/" + p.relative_to(SAMPLE).as_posix())
    files = safe_extract_zip(zpath, tmp_path / "x", max_files=100, max_bytes=10_000_000)
    assert len(files) == sum(1 for p in SAMPLE.rglob("*") if p.is_file())
    assert read_source(tmp_path / "x" / "promote-sample").id == "promote-sample"


@pytest.mark.parametrize(("entries", "message"), [
    ([Entry("../evil", b"x")], "'..' escapes"),
    ([Entry("a/../../evil", b"x")], "'..' escapes"),
    ([Entry("/etc/evil", b"x")], "absolute path"),
    ([Entry("C:/evil", b"x")], "absolute path"),
    ([Entry("a\\evil", b"x")], "backslash"),
    ([Entry("link", b"/etc/passwd", 0, 0o120777)], "symbolic link"),
    ([Entry("fifo", b"", 0, 0o010644)], "special file"),
    ([Entry("dev", b"", 0, 0o060600)], "special file"),
    ([Entry("sock", b"", 0, 0o140600)], "special file"),
    ([Entry("d/", b"hidden data", 0, 0o040755)], "directory entry that holds data"),
    ([Entry("d/", b"hidden data", 0, 0o755)], "directory entry that holds data"),
    ([Entry("d", b"", 0, 0o040755)], "without a trailing '/'"),
    ([Entry("a.txt", b"x"), Entry("A.TXT", b"y")], "duplicate entry"),
    ([Entry("a", b"x"), Entry("a/b", b"y")], "is inside the file 'a'"),
    ([Entry("zeros", b"\0" * 2_000_000)], "zip bomb"),
    ([Entry(f"f{i}", b"x") for i in range(11)], "the limit is 10"),
    ([Entry("big", bytes(range(256)) * 400, zipfile.ZIP_STORED)], "expands to more than"),
])
def test_unsafe_zips_are_refused_and_nothing_is_left(tmp_path: Path, entries: list[Entry],
                                                     message: str) -> None:
    zpath = write_entries(entries, tmp_path / "bad.zip")
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeZipError, match=message):
        safe_extract_zip(zpath, dest, max_files=10, max_bytes=100_000)
    assert not any(dest.iterdir())
    assert not (tmp_path / "evil").exists()


def test_not_a_zip_and_non_empty_destination(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"nope")
    with pytest.raises(UnsafeZipError, match="not a readable zip"):
        safe_extract_zip(bad, tmp_path / "d")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a", "b")
    good = tmp_path / "good.zip"
    good.write_bytes(buf.getvalue())
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(UnsafeZipError, match="not empty"):
        safe_extract_zip(good, tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "keep"


def test_writestr_entries_without_file_type_bits_are_regular_files(tmp_path: Path) -> None:
    """ZipFile.writestr(name, data) stores mode 0o600 with no file-type bits (and
    ZipInfo(name) stores 0): both are regular files; an empty 'folder/' is no file."""
    zpath = tmp_path / "src.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(SAMPLE.rglob("*")):
            if p.is_file():
                zf.writestr("promote-sample/" + p.relative_to(SAMPLE).as_posix(), p.read_bytes())
        zf.writestr(zipfile.ZipInfo("promote-sample/notes.txt"), b"plain ZipInfo, mode 0")
        zf.writestr("promote-sample/empty-folder/", b"")
    infos = zipfile.ZipFile(zpath).infolist()
    assert any(i.external_attr >> 16 == 0o600 for i in infos)       # the case being fixed
    files = safe_extract_zip(zpath, tmp_path / "x", max_files=100, max_bytes=10_000_000)
    assert len(files) == sum(1 for p in SAMPLE.rglob("*") if p.is_file()) + 1
    assert not (tmp_path / "x" / "promote-sample" / "empty-folder").is_file()
    assert read_source(tmp_path / "x" / "promote-sample").id == "promote-sample"
