"""Hostile packs: each is refused with its own clear message and the installed pack
(version 1 of the sample) keeps working, byte for byte."""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

import app.core.packs.verify as verify_mod
from app.core.errors import PackError, PackInstallError, PackSourceError, PackVerifyError
from app.core.packs import PackLibrary, generate_keypair, install_pack, verify_pack
from tests.unit.test_packs_support import (
    TRUST,
    Entry,
    build,
    copy_sample,
    manifest_of,
    replace_file,
    resign,
    rewrite,
    snapshot,
    write_entries,
)

LESSON = "lessons/boundaries/01-why-boundaries.en.json"


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    base = tmp_path_factory.mktemp("hostile")
    src = copy_sample(base)
    v1 = build(src, base / "v1")
    # version 2 changes a lesson, so its blob is new to a device that has version 1
    lesson = src / "courses/boundaries/01-why-boundaries.en.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nUpdated.\n", encoding="utf-8")
    return SimpleNamespace(base=base, src=src, v1=v1, v2=build(src, base / "v2", version=2))


@pytest.fixture()
def device(packs: SimpleNamespace, tmp_path: Path) -> Path:
    data = tmp_path / "device"
    install_pack(packs.v1, data, TRUST)
    return data


def _lesson_with(markdown: str) -> bytes:
    doc = {"title": "T", "lang": "en", "toc": [{"card": 0, "title": "T", "anchor": "t"}],
           "cards": [{"title": "T", "anchor": "t", "markdown": markdown}]}
    return json.dumps(doc).encode()


def _tamper_blob(entries: list[Entry]) -> list[Entry]:
    sha = next(f["sha256"] for f in manifest_of(entries)["files"] if f["path"] == LESSON)
    out = []
    for e in entries:
        if e.name == f"blobs/{sha}":
            data = bytearray(e.data)
            data[10] ^= 0x01                       # one bit, same size, valid zip CRC
            e = Entry(e.name, bytes(data), e.compress)
        out.append(e)
    return out


def _tamper_manifest(entries: list[Entry]) -> list[Entry]:
    return [Entry(e.name, e.data.replace(b"Professional boundaries", b"Professional boundarieZ"))
            if e.name == "manifest.json" else e for e in entries]


def _with_format(fmt: int) -> Callable[[list[Entry]], list[Entry]]:
    def change(entries: list[Entry]) -> list[Entry]:
        m = manifest_of(entries)
        m["format"] = fmt
        return resign(entries, m)
    return change


def _bomb(entries: list[Entry]) -> list[Entry]:
    return replace_file(entries, LESSON, b"\0" * (20 * 1024 * 1024))


def _symlink(entries: list[Entry]) -> list[Entry]:
    out = list(entries)
    last = out[-1]
    out[-1] = Entry(last.name, b"/etc/passwd", 0, 0o120777)
    return out


def _unsafe_manifest_path(entries: list[Entry]) -> list[Entry]:
    m = manifest_of(entries)
    m["files"][0]["path"] = "../../outside.json"
    m["files"].sort(key=lambda f: f["path"])
    return resign(entries, m)


def _extra_blob(entries: list[Entry]) -> list[Entry]:
    return [*entries, Entry("blobs/" + "ab" * 32, b"not listed")]


def _oversized_blob(entries: list[Entry]) -> list[Entry]:
    sha = next(f["sha256"] for f in manifest_of(entries)["files"] if f["path"] == LESSON)
    return [Entry(e.name, e.data + b"\0" * 4096, e.compress) if e.name == f"blobs/{sha}" else e
            for e in entries]


def _huge_lesson(entries: list[Entry]) -> list[Entry]:
    """A signed lesson file over the 4 MiB lesson limit, stored (so no zip-bomb ratio)."""
    out = replace_file(entries, LESSON, _lesson_with("x " * (2 * 1024 * 1024 + 10)))
    return [Entry(e.name, e.data, zipfile.ZIP_STORED) if e.name.startswith("blobs/") else e
            for e in out]


def _missing_blob(entries: list[Entry]) -> list[Entry]:
    return entries[:-1]


def _nested_scenario(entries: list[Entry]) -> list[Entry]:
    m = manifest_of(entries)
    questions = m["courses"][0]["quiz"]["questions"]
    scenario = next(q for q in questions if q["type"] == "scenario")
    scenario["parts"].append({"id": "deep", "type": "scenario", "case": {"en": "x"},
                              "parts": []})
    return resign(entries, m)


HOSTILE: dict[str, tuple[Callable[[list[Entry]], list[Entry]], str]] = {
    "tampered blob": (_tamper_blob, "was tampered with: sha256 does not match"),
    "tampered manifest": (_tamper_manifest, "signature does not match manifest.json"),
    "zip-slip path": (lambda es: [*es, Entry("../../evil.sh", b"x")], "zip-slip"),
    "absolute path": (lambda es: [*es, Entry("/etc/cron.d/evil", b"x")], "absolute path"),
    "backslash path": (lambda es: [*es, Entry("blobs\\..\\evil", b"x")], "backslash"),
    "symlink entry": (_symlink, "symbolic link"),
    "duplicate entries": (lambda es: [*es, es[-1]], "duplicate entry"),
    "zip bomb": (_bomb, "zip bomb refused"),
    "unsupported format": (_with_format(2), "unsupported pack format 2"),
    "raw <script> in a lesson": (
        lambda es: replace_file(es, LESSON, _lesson_with("hi\n\n<script>steal()</script>\n")),
        "card 1: raw HTML <script> is not allowed"),
    "remote image": (
        lambda es: replace_file(es, LESSON, _lesson_with("![x](https://evil.example/t.png)")),
        "remote images are refused"),
    "unexpected entry": (lambda es: [*es, Entry("readme.txt", b"x")], "unexpected entry"),
    "blob not in manifest": (_extra_blob, "is not listed in the manifest"),
    "blob missing": (_missing_blob, "is missing from the pack"),
    "oversized blob": (_oversized_blob, "the manifest says"),
    "oversized lesson": (_huge_lesson, "bytes; the limit is 4194304"),
    "unsafe manifest path": (_unsafe_manifest_path, "unsafe or invalid path"),
    "no signature": (lambda es: [e for e in es if e.name != "manifest.sig"], "no manifest.sig"),
    "deeply nested signature": (
        lambda es: [Entry("manifest.sig", b"[" * 4000, zipfile.ZIP_STORED) if e.name == "manifest.sig" else e
                    for e in es], "manifest.sig is not valid JSON"),
    "scenario inside a scenario": (_nested_scenario, "unknown question type 'scenario'"),
}


def _assert_untouched(data: Path, before: dict[str, bytes]) -> None:
    assert snapshot(data) == before
    lib = PackLibrary(data)
    assert lib.current_version("promote-sample") == 1
    lesson = lib.lesson("promote-sample", LESSON)
    assert lesson["title"] == "Why boundaries matter"
    assert "Updated." not in lesson["cards"][-1]["markdown"]
    assert lib.media_path("promote-sample", "media/boundaries/boundary-zones.png").is_file()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_pack_is_refused_and_leaves_the_installed_pack_working(
        case: str, packs: SimpleNamespace, device: Path, tmp_path: Path) -> None:
    change, message = HOSTILE[case]
    bad = rewrite(packs.v2, tmp_path / "bad.pack", change)
    before = snapshot(device)
    with pytest.raises(PackVerifyError) as exc:
        install_pack(bad, device, TRUST)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
    _assert_untouched(device, before)
    with pytest.raises(PackVerifyError) as exc2:           # the stand-alone verifier agrees
        verify_pack(bad, TRUST)
    assert message in str(exc2.value)


def test_each_hostile_case_is_refused_with_its_own_message(packs: SimpleNamespace,
                                                           tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    for case, (change, _) in sorted(HOSTILE.items()):
        bad = rewrite(packs.v2, tmp_path / f"{len(seen)}.pack", change)
        with pytest.raises(PackVerifyError) as exc:
            verify_pack(bad, TRUST)
        message = str(exc.value)
        assert message not in seen, f"{case!r} and {seen.get(message)!r} read the same"
        seen[message] = case
    assert len(seen) == len(HOSTILE)


def test_unknown_key(packs: SimpleNamespace, device: Path, tmp_path: Path) -> None:
    other, _ = generate_keypair()
    bad = build(packs.src, tmp_path / "other", version=2, key=other)
    before = snapshot(device)
    with pytest.raises(PackVerifyError, match="signed by unknown key"):
        install_pack(bad, device, TRUST)
    _assert_untouched(device, before)


def test_rollback(packs: SimpleNamespace, device: Path) -> None:
    install_pack(packs.v2, device, TRUST)
    before = snapshot(device)
    with pytest.raises(PackVerifyError, match="rollback refused: .* version 1 is not newer than "
                                              "the installed version 2"):
        install_pack(packs.v1, device, TRUST)
    assert snapshot(device) == before
    with pytest.raises(PackVerifyError, match="rollback refused"):
        install_pack(packs.v2, device, TRUST)          # the same version again
    assert snapshot(device) == before


@pytest.mark.parametrize(("limit", "value", "message"), [
    ("MAX_ENTRY_BYTES", 1000, "bytes uncompressed; the limit is 1000"),
    ("MAX_ENTRIES", 5, "entries; the limit is 5"),
    ("MAX_TOTAL_BYTES", 5000, "pack expands to"),
    ("MAX_MANIFEST_BYTES", 2000, "manifest.json is"),
])
def test_size_limits(limit: str, value: int, message: str, packs: SimpleNamespace,
                     device: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real limits (512 MiB per entry, 20,000 entries, 4 GiB) are lowered so the sample
    pack exceeds them; the code path is the same."""
    monkeypatch.setattr(verify_mod, limit, value)
    before = snapshot(device)
    with pytest.raises(PackVerifyError) as exc:
        install_pack(packs.v2, device, TRUST)
    assert message in str(exc.value)
    _assert_untouched(device, before)


def test_not_a_zip(device: Path, tmp_path: Path) -> None:
    bad = tmp_path / "x.pack"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip" * 10)
    before = snapshot(device)
    with pytest.raises(PackVerifyError, match="not a readable pack"):
        install_pack(bad, device, TRUST)
    _assert_untouched(device, before)


def test_damaged_deflate_stream(packs: SimpleNamespace, device: Path, tmp_path: Path) -> None:
    raw = bytearray(packs.v2.read_bytes())
    # corrupt the middle of the compressed manifest: the zip is still "readable"
    raw[60:80] = b"\xff" * 20
    bad = tmp_path / "damaged.pack"
    bad.write_bytes(bytes(raw))
    before = snapshot(device)
    with pytest.raises(PackVerifyError):
        install_pack(bad, device, TRUST)
    _assert_untouched(device, before)


def test_not_enough_free_disk(packs: SimpleNamespace, device: Path) -> None:
    before = snapshot(device)
    with pytest.raises(PackInstallError, match="not enough free disk space"):
        install_pack(packs.v2, device, TRUST, disk_usage=lambda _p: SimpleNamespace(free=10))
    _assert_untouched(device, before)


def test_bomb_ratio_is_measured_per_entry(tmp_path: Path) -> None:
    data = b"\0" * (4 * 1024 * 1024)
    assert len(data) / len(zlib.compress(data)) > 100
    bad = write_entries([Entry("manifest.json", b"{}"), Entry("manifest.sig", b"{}"),
                         Entry("blobs/" + "0" * 64, data)], tmp_path / "b.pack")
    with pytest.raises(PackVerifyError, match=r"expands \d+:1 \(limit 100:1\)"):
        verify_pack(bad, TRUST)


# -- source-level hostility: refused at build, so nothing reaches the device ----------
@pytest.mark.parametrize(("rel", "text", "message"), [
    ("pack.toml", "format = 1\nid = [\n", "TOML syntax error"),
    ("courses/boundaries/01-why-boundaries.en.md", "# T\n\n![x](https://evil.example/a.png)\n",
     "remote image"),
])
def test_hostile_source_is_refused_at_build(rel: str, text: str, message: str,
                                            packs: SimpleNamespace, device: Path,
                                            tmp_path: Path) -> None:
    src = copy_sample(tmp_path, "bad-src")
    (src / rel).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(PackSourceError, match=message) as exc:
        build(src, out, version=2)
    assert exc.value.line is not None
    assert not out.exists() or not any(out.iterdir())


def test_script_in_source_lesson_is_refused_before_it_can_reach_a_device(
        tmp_path: Path) -> None:
    """Raw HTML used to be stripped at build (a regex); it is now an error naming file and
    line, so what the author wrote and what a device shows can never differ."""
    src = copy_sample(tmp_path, "s")
    lesson = src / "courses/boundaries/03-what-to-do.en.md"
    lesson.write_text("# T\n\nhello <script>fetch('x')</script> world\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(PackSourceError, match="raw HTML <script> is not allowed") as exc:
        build(src, out, version=2)
    assert exc.value.line == 3 and exc.value.path.endswith("03-what-to-do.en.md")
    assert not out.exists() or not any(out.iterdir())


def test_errors_share_the_pack_error_base() -> None:
    assert issubclass(PackVerifyError, PackError) and issubclass(PackInstallError, PackError)
