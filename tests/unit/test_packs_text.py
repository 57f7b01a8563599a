"""Attack row 11 of issue 13, in every variation: hostile text in any pack field is an
error with file and line at build, and a pack that bypassed the builder (a manifest or
lesson crafted and signed with a *trusted* key) is refused at install, leaving the
installed pack exactly as it was. What the app renders is sanitised again (see
test_ui_pack_text.py)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.core.errors import PackSourceError, PackVerifyError
from app.core.packs import (
    PackLibrary,
    install_from_blobs,
    install_pack,
    read_source,
    verify_manifest,
    verify_pack,
)
from tests.unit.test_packs_support import (
    TRUST,
    Entry,
    build,
    copy_sample,
    manifest_of,
    read_entries,
    replace_file,
    resign,
    rewrite,
    snapshot,
)

COURSE = "courses/boundaries"
LESSON = "lessons/boundaries/01-why-boundaries.en.json"

#: hostile value → what the message says, for a text shown as Markdown (RICH) and for a
#: text shown as plain text (PLAIN)
HOSTILE: dict[str, tuple[str, str]] = {
    "![x](https://evil.example/t.png)": ("images are shown only in lessons",) * 2,
    "<p>![](https://evil.example/t.png)</p>": ("raw HTML <p>",) * 2,   # then the image
    "![x][r]\n\n[r]: https://evil.example/t.png": ("images are shown only in lessons",) * 2,
    "[x](javascript:alert(1))": ("unsupported scheme", "cannot hold a link"),
    "[x](javascript&#58;alert(1))": ("unsupported scheme", "cannot hold a link"),
    "[a [b [c]] d](JaVaScRiPt:alert(1))": ("unsupported scheme", "cannot hold a link"),
    "<javascript:alert(1)>": ("unsupported scheme", "cannot hold a link"),
    "[x][r]\n\n[r]: vbscript:msgbox(1)": ("unsupported scheme", "cannot hold a link"),
    "a <b>bold</b> word": ("raw HTML <b>",) * 2,
    "<script>alert(1)</script>": ("raw HTML <script>",) * 2,
    "x <img src=https://evil.example/t.png>": ("raw HTML <img>",) * 2,
    "nice\u202etxt.exe": ("invalid character U+202E",) * 2,
}


# -- build ------------------------------------------------------------------------------
def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)     # a valid TOML basic string too


def set_english(src: Path, rel: str, needle: str, value: str) -> int:
    """Replace the English text on the line holding ``needle``; returns that line."""
    path = src / rel
    lines = path.read_text(encoding="utf-8").split("\n")
    no = next(i for i, line in enumerate(lines) if needle in line)
    lines[no], n = re.subn(r'en = "(?:[^"\\]|\\.)*"', lambda _m: f"en = {_toml_str(value)}",
                           lines[no], count=1)
    assert n == 1, lines[no]
    path.write_text("\n".join(lines), encoding="utf-8")
    return no + 1


#: (where, file, a text on the field's line, is the field shown as Markdown)
SOURCE_FIELDS = [
    ("quiz explanation", f"{COURSE}/quiz.toml", "Helping within your role", True),
    ("quiz case", f"{COURSE}/quiz.toml", "On a night shift", True),
    ("option text", f"{COURSE}/quiz.toml", "Explaining to him how", False),
    ("option feedback", f"{COURSE}/quiz.toml", "Right: this is part of your role.", False),
    ("question prompt", f"{COURSE}/quiz.toml", "Which contact sits", False),
    ("pack description", "pack.toml", "A short sample course", False),
    ("pack title", "pack.toml", "Professional boundaries (sample)", False),
    ("course summary", f"{COURSE}/course.toml", "Why boundaries protect", False),
    ("course title", f"{COURSE}/course.toml", "title = {", False),
    ("profile description", "profiles/prison-officer.toml", "Two duties from", False),
    ("profile scale label", "profiles/prison-officer.toml", "Never performed", False),
    ("profile duty title", "profiles/prison-officer.toml", "Keep professional relat", False),
    ("profile task title", "profiles/prison-officer.toml", "Keep boundaries with", False),
    ("skill label", "skills.toml", "maintain professional boundaries", False),
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(tmp_path_factory.mktemp("text-src"))


@pytest.mark.parametrize("value", sorted(HOSTILE))
@pytest.mark.parametrize(("where", "rel", "needle", "rich"), SOURCE_FIELDS,
                         ids=[f[0] for f in SOURCE_FIELDS])
def test_hostile_text_in_any_field_is_a_build_error_with_file_and_line(
        where: str, rel: str, needle: str, rich: bool, value: str, sample: Path,
        tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(sample, src)
    line = set_english(src, rel, needle, value)
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    err = exc.value
    expected = HOSTILE[value][0 if rich else 1]
    assert expected in str(err), str(err)
    assert err.path.endswith(rel) and err.line == line and err.field.endswith(".en")
    assert "\n" not in str(err)


@pytest.mark.parametrize(("body", "message", "line"), [
    ("<p>![](https://evil.example/t.png)</p>", "raw HTML <p>", 3),
    ("<p>\n![](https://evil.example/t.png)\n</p>", "raw HTML <p>", 3),
    ("text\n\n![x][r]\n\n[r]: https://evil.example/t.png", "remote image", 5),
    ("![x][]\n\n[x]: <//evil.example/t.png>", "remote image", 3),
    ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "remote image", 3),
    ("[x](javascript&#58;alert(1))", "unsupported scheme", 3),
    ("[x](javascript&#x3A;alert(1))", "unsupported scheme", 3),
    ("a\nb [a [b [c]] d](vbscript:x)", "unsupported scheme", 4),
    ("<javascript:alert(1)>", "unsupported scheme", 3),
    ("[x][r]\n\n[r]: data:text/html,<script>x</script>", "unsupported scheme", 3),
    ("a <b>bold</b> b", "raw HTML <b>", 3),
    ("x\n\n<script>\nsteal()\n</script>", "raw HTML <script>", 5),
    ("<!-- note -->", "raw HTML <!--", 3),
    ("- ![x](media/boundary-zones.png)", "must stand in its own paragraph", 3),
    ("[![x](media/boundary-zones.png)](02-warning-signs.en.md)", "own paragraph", 3),
    ("ok\n\nbad\u202eword", "invalid character U+202E", 5),
    ("## Card with ![x](media/boundary-zones.png)", "own paragraph", 3),
])
def test_hostile_lesson_text_is_a_build_error_with_file_and_line(
        body: str, message: str, line: int, sample: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(sample, src)
    rel = f"{COURSE}/03-what-to-do.en.md"
    (src / rel).write_text(f"# T\n\n{body}\n", encoding="utf-8")
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    assert message in str(exc.value) and exc.value.line == line, str(exc.value)
    assert exc.value.path.endswith(rel)


def test_web_addresses_become_visible_text_and_less_than_signs_stay(sample: Path,
                                                                    tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(sample, src)
    set_english(src, f"{COURSE}/quiz.toml", "Helping within your role",
                "See <https://example.org/rules> and [the guide](https://example.org/g), "
                "if a<b and c>d.")
    set_english(src, f"{COURSE}/course.toml", "title = {", "if a<b and c>d")
    (src / f"{COURSE}/03-what-to-do.en.md").write_text(
        "# T\n\nSee <https://example.org/rules> and [the guide](https://example.org/g), "
        "if a<b and c>d.\n", encoding="utf-8")
    source = read_source(src)
    course = source.manifest["courses"][0]
    assert course["quiz"]["questions"][0]["explanation"]["en"] == (
        "See https://example.org/rules and the guide (https://example.org/g), if a\\<b and c>d.")
    assert course["title"]["en"] == "if a<b and c>d"          # plain text: kept as written
    card = json.loads(source.files["lessons/boundaries/03-what-to-do.en.json"])["cards"][0]
    assert card["markdown"] == ("See https://example.org/rules and the guide "
                                "(https://example.org/g), if a\\<b and c>d.")


@pytest.mark.parametrize(("name", "data", "message"), [
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "unsupported media type .svg"),
    ("x.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
     "is not a PNG, JPEG, GIF or WebP image"),
    ("x.gif", b"<html><script>alert(1)</script></html>", "is not a PNG, JPEG, GIF or WebP"),
])
def test_svg_and_disguised_files_are_refused_at_build(name: str, data: bytes, message: str,
                                                      sample: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(sample, src)
    (src / "media").mkdir()
    (src / "media" / name).write_bytes(data)
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    assert message in str(exc.value) and exc.value.path.endswith(name)


# -- install ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    base = tmp_path_factory.mktemp("text-packs")
    src = copy_sample(base)
    v1 = build(src, base / "v1")
    v2 = build(src, base / "v2", version=2)
    device = base / "device"
    install_pack(v1, device, TRUST)
    return SimpleNamespace(base=base, v1=v1, v2=v2, device=device, before=snapshot(device))


def _scenario(m: dict[str, Any]) -> int:
    return next(i for i, q in enumerate(m["courses"][0]["quiz"]["questions"])
                if q["type"] == "scenario")


#: field paths in the built manifest, and whether the app renders the field as Markdown
MANIFEST_FIELDS: list[tuple[str, Callable[[dict[str, Any]], str], bool]] = [
    ("quiz explanation", lambda m: "courses[0].quiz.questions[0].explanation.en", True),
    ("quiz case", lambda m: f"courses[0].quiz.questions[{_scenario(m)}].case.en", True),
    ("scenario part explanation",
     lambda m: f"courses[0].quiz.questions[{_scenario(m)}].parts[0].explanation.en", True),
    ("option text", lambda m: "courses[0].quiz.questions[0].options[0].text.en", False),
    ("option feedback", lambda m: "courses[0].quiz.questions[0].options[0].feedback.en", False),
    ("question prompt", lambda m: "courses[0].quiz.questions[0].prompt.en", False),
    ("pack description", lambda m: "description.en", False),
    ("pack title", lambda m: "title.en", False),
    ("course summary", lambda m: "courses[0].summary.en", False),
    ("course title", lambda m: "courses[0].title.en", False),
    ("lesson title", lambda m: "courses[0].lessons[0].title.en", False),
    ("profile description", lambda m: "profiles[0].description.en", False),
    ("profile scale label", lambda m: "profiles[0].scale[0].label.en", False),
    ("profile task title", lambda m: "profiles[0].duties[0].tasks[0].title.en", False),
    ("skill label", lambda m: "skills.reporting.label.en", False),
    ("licence", lambda m: "licence", False),
    ("author", lambda m: "authors[0]", False),
]


def set_path(doc: Any, path: str, value: str) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part in parts[:-1]:
        doc = doc[int(part[1:-1])] if part.startswith("[") else doc[part]
    last = parts[-1]
    if last.startswith("["):
        doc[int(last[1:-1])] = value
    else:
        doc[last] = value


def _device(packs: SimpleNamespace, tmp_path: Path) -> Path:
    device = tmp_path / "device"
    shutil.copytree(packs.device, device)
    return device


def _assert_untouched(device: Path, packs: SimpleNamespace) -> None:
    assert snapshot(device) == packs.before
    lib = PackLibrary(device)
    assert lib.current_version("promote-sample") == 1
    assert lib.lesson("promote-sample", LESSON)["title"] == "Why boundaries matter"


def _refused_everywhere(bad: Path, device: Path, packs: SimpleNamespace, message: str) -> None:
    with pytest.raises(PackVerifyError) as exc:
        install_pack(bad, device, TRUST)
    assert message in str(exc.value) and "\n" not in str(exc.value), str(exc.value)
    _assert_untouched(device, packs)
    with pytest.raises(PackVerifyError, match=re.escape(message)):      # pack verify, server
        verify_pack(bad, TRUST)


@pytest.mark.parametrize("value", sorted(HOSTILE))
@pytest.mark.parametrize(("where", "path_of", "rich"), MANIFEST_FIELDS,
                         ids=[f[0] for f in MANIFEST_FIELDS])
def test_a_trusted_pack_with_hostile_text_in_any_field_is_refused_at_install(
        where: str, path_of: Callable[[dict[str, Any]], str], rich: bool, value: str,
        packs: SimpleNamespace, tmp_path: Path) -> None:
    """The manifest is crafted (no builder) and signed with the device's trusted key."""
    entries = read_entries(packs.v2)
    manifest = manifest_of(entries)
    path = path_of(manifest)
    set_path(manifest, path, value)
    bad = tmp_path / "bad.pack"
    rewrite(packs.v2, bad, lambda es: resign(es, manifest))
    device = _device(packs, tmp_path)
    _refused_everywhere(bad, device, packs, f"manifest field {path}: ")
    crafted = next(e.data for e in read_entries(bad) if e.name == "manifest.json")
    sig = next(e.data for e in read_entries(bad) if e.name == "manifest.sig")
    with pytest.raises(PackVerifyError, match=re.escape(path)):       # sync: before download
        verify_manifest(crafted, sig, TRUST)
    with pytest.raises(PackVerifyError, match=re.escape(path)):       # sync: network install
        install_from_blobs(crafted, sig, device, TRUST)
    _assert_untouched(device, packs)


def _lesson(markdown: str, *, title: str = "T", card_title: str = "T",
            toc_title: str | None = None) -> bytes:
    toc = [{"card": 0, "title": card_title if toc_title is None else toc_title, "anchor": "t"}]
    doc = {"title": title, "lang": "en", "toc": toc,
           "cards": [{"title": card_title, "anchor": "t", "markdown": markdown}]}
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("data", "message"), [
    (_lesson("<p>![](https://evil.example/t.png)</p>"), "card 1: raw HTML <p>"),
    (_lesson("<p>\n![](https://evil.example/t.png)\n</p>"), "card 1: raw HTML <p>"),
    (_lesson("![x](https://evil.example/t.png)"), "remote images are refused"),
    (_lesson("![x][r]\n\n[r]: https://evil.example/t.png"), "remote images are refused"),
    (_lesson("![x](//evil.example/t.png)"), "remote images are refused"),
    (_lesson("![x](media/boundaries/not-in-the-pack.png)"), "is not a file of the pack"),
    (_lesson("![x](media/boundaries/x.svg)"), "is not a file of the pack"),
    (_lesson("<https://evil.example/>"), "live link to 'https://evil.example/'"),
    (_lesson("[x](https://evil.example/)"), "live link to 'https://evil.example/'"),
    (_lesson("[x](javascript&#58;alert(1))"), "live link to 'javascript:alert(1)'"),
    (_lesson("[a [b [c]] d](javascript:alert(1))"), "live link to 'javascript:alert(1)'"),
    (_lesson("[x][r]\n\n[r]: javascript:alert(1)"), "live link to 'javascript:alert(1)'"),
    (_lesson("a <b>bold</b>"), "card 1: raw HTML <b>"),
    (_lesson("<script>steal()</script>"), "card 1: raw HTML <script>"),
    (_lesson("x&#x202E;y"), "invalid character U+202E"),
    (_lesson("ok", card_title="evil\u202etxt"), "toc entry 1: invalid character U+202E"),
    (_lesson("ok", card_title="evil\u202etxt", toc_title="T"),
     "card 1: invalid character U+202E"),
    (_lesson("ok", title="<script>x</script>"), "title: raw HTML <script>"),
])
def test_a_trusted_pack_with_a_hostile_lesson_is_refused_at_install(
        data: bytes, message: str, packs: SimpleNamespace, tmp_path: Path) -> None:
    bad = rewrite(packs.v2, tmp_path / "bad.pack", lambda es: replace_file(es, LESSON, data))
    device = _device(packs, tmp_path)
    _refused_everywhere(bad, device, packs, f"lesson {LESSON} ")
    with pytest.raises(PackVerifyError, match=re.escape(message)):
        verify_pack(bad, TRUST)


def test_an_old_builders_harmless_text_still_installs(packs: SimpleNamespace,
                                                      tmp_path: Path) -> None:
    """Markdown the old builder wrote (web links as text, unescaped "<" in prose) is not
    refused: only what is unsafe is."""
    text = "if a<b and c>d; see the Rules (https://example.org/r), **bold**."
    bad = rewrite(packs.v2, tmp_path / "ok.pack", lambda es: replace_file(es, LESSON,
                                                                         _lesson(text)))
    device = _device(packs, tmp_path)
    install_pack(bad, device, TRUST)
    assert PackLibrary(device).current_version("promote-sample") == 2


def _add_file(entries: list[Entry], path: str, data: bytes) -> list[Entry]:
    m = manifest_of(entries)
    sha = hashlib.sha256(data).hexdigest()
    m["files"] = sorted([*m["files"], {"path": path, "size": len(data), "sha256": sha}],
                        key=lambda f: f["path"])
    return resign([*entries, Entry(f"blobs/{sha}", data)], m)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'https://evil.example\')"/>'


@pytest.mark.parametrize(("change", "message"), [
    (lambda es: _add_file(es, "media/x.svg", SVG), "media file media/x.svg is not a PNG"),
    (lambda es: _add_file(es, "media/x.html", b"<script>x</script>"), "media/x.html is not a"),
    (lambda es: replace_file(es, "media/boundaries/boundary-zones.png", SVG),
     "media file media/boundaries/boundary-zones.png is not an image"),
])
def test_svg_and_disguised_media_are_refused_at_install(
        change: Callable[[list[Entry]], list[Entry]], message: str, packs: SimpleNamespace,
        tmp_path: Path) -> None:
    bad = rewrite(packs.v2, tmp_path / "bad.pack", change)
    _refused_everywhere(bad, _device(packs, tmp_path), packs, message)
