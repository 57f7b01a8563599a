"""Every translatable string of a pack source folder, with its text in one target
language (docs/authoring.md "Translation workspace").

TOML strings are read from pack.toml, skills.toml, each listed course's course.toml and
quiz.toml and profiles/*.toml; lessons from ``<stem>.<default>.md`` cut into segments,
paired with the segments of ``<stem>.<lang>.md`` (block by block where the two files
have the same structure, else by the longest matching run of block shapes).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.core.packs.fields import LANG_RE
from sync_server.authoring.translation.lesson_blocks import Segment, segments
from sync_server.authoring.translation.model import Kind, TranslationError, Unit
from sync_server.authoring.translation.toml_strings import TomlString, localized_strings

MAX_SOURCE_FILE = 8 * 1024 * 1024


@dataclass
class PackLanguages:
    default: str
    languages: list[str]
    machine_translated: list[str]
    partial: list[str]
    reviews: dict[str, dict[str, Any]]

    @property
    def targets(self) -> list[str]:
        return [lang for lang in self.languages if lang != self.default]


@dataclass
class LessonPair:
    """A lesson's source and target segments; ``target_of[i]`` is the target segment of
    source segment ``i`` (None: no counterpart)."""

    source_file: str
    target_file: str
    source: list[Segment]
    target: list[Segment] | None
    target_of: list[int | None]
    aligned: bool                 # same structure: the target file is edited in place


@dataclass
class Extraction:
    langs: PackLanguages
    lang: str
    units: list[Unit] = field(default_factory=list)
    toml: dict[str, TomlString] = field(default_factory=dict)            # unit id -> string
    segment: dict[str, tuple[LessonPair, int]] = field(default_factory=dict)
    lessons: list[LessonPair] = field(default_factory=list)

    def unit(self, unit_id: str) -> Unit:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise TranslationError(f"unknown string id {unit_id!r}")


def read_text(path: Path) -> str:
    if path.stat().st_size > MAX_SOURCE_FILE:
        raise TranslationError(f"{path.name}: larger than {MAX_SOURCE_FILE} bytes")
    return path.read_text(encoding="utf-8")


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; the same (path, size, mtime) is parsed once (a workspace page reads
    every TOML file of the pack, and a large quiz takes a while to parse). Callers never
    change the result."""
    st = path.stat()
    return _parsed(path, st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=128)
def _parsed(path: Path, size: int, mtime_ns: int, inode: int) -> dict[str, Any]:
    try:
        return tomllib.loads(read_text(path))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TranslationError(f"{path.name}: not readable TOML ({exc})") from None


def pack_languages(src: Path) -> PackLanguages:
    pack = read_toml(src / "pack.toml")
    languages = [x for x in pack.get("languages", []) if isinstance(x, str)]
    bad = [x for x in languages if not LANG_RE.match(x)]
    if bad:      # a language code names files (translations/<lang>.toml, <lesson>.<lang>.md)
        raise TranslationError(f"pack.toml: {bad[0][:20]!r} is not a language code")
    default = pack.get("default_language")
    if not isinstance(default, str) or default not in languages:
        raise TranslationError("pack.toml: default_language is not one of languages")
    reviews = pack.get("reviews", {})
    return PackLanguages(default, languages, list(pack.get("machine_translated", [])),
                         list(pack.get("partial_languages", [])),
                         reviews if isinstance(reviews, dict) else {})


def toml_files(src: Path) -> list[str]:
    """The TOML sources in reading order (courses in pack.toml order)."""
    pack = read_toml(src / "pack.toml")
    out = ["pack.toml"]
    if (src / "skills.toml").is_file():
        out.append("skills.toml")
    for cid in course_ids(pack):
        for name in ("course.toml", "quiz.toml"):
            if (src / "courses" / cid / name).is_file():
                out.append(f"courses/{cid}/{name}")
    out += [p.relative_to(src).as_posix() for p in sorted((src / "profiles").glob("*.toml"))]
    return out


def course_ids(pack: dict[str, Any]) -> list[str]:
    return [c for c in pack.get("courses", []) if isinstance(c, str) and "/" not in c
            and c not in ("", ".", "..")]


def extract(src: Path, lang: str) -> Extraction:
    langs = pack_languages(src)
    if lang not in langs.targets:
        raise TranslationError(f"{lang!r} is not a target language of this pack "
                               f"({', '.join(langs.targets) or 'none'})")
    out = Extraction(langs, lang)
    for rel in toml_files(src):
        for s in localized_strings(read_toml(src / rel), langs.languages, langs.default):
            uid = f"{rel}:{s.id_path}"
            if uid in out.toml or not s.texts[langs.default]:
                continue
            out.toml[uid] = s
            out.units.append(Unit(uid, rel, s.id_path, s.kind, s.texts[langs.default],
                                  s.texts.get(lang, "")))
    pack = read_toml(src / "pack.toml")
    for cid in course_ids(pack):
        course_toml = src / "courses" / cid / "course.toml"
        stems = read_toml(course_toml).get("lessons", []) if course_toml.is_file() else []
        for stem in stems:
            if isinstance(stem, str) and "/" not in stem and ".." not in stem:
                _lesson(src, f"courses/{cid}/{stem}", langs.default, lang, out)
    return out


def _lesson(src: Path, stem: str, default: str, lang: str, out: Extraction) -> None:
    source_file, target_file = f"{stem}.{default}.md", f"{stem}.{lang}.md"
    if not (src / source_file).is_file():
        return
    source = segments(read_text(src / source_file))
    target = segments(read_text(src / target_file)) if (src / target_file).is_file() else None
    pair = LessonPair(source_file, target_file, source, target, [None] * len(source), False)
    if target is not None:
        a, b = [s.shape for s in source], [s.shape for s in target]
        pair.aligned = a == b
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                pair.target_of[block.a + k] = block.b + k
    out.lessons.append(pair)
    for i, seg in enumerate(source):
        t = pair.target_of[i]
        text = target[t].text if target is not None and t is not None else ""
        uid = f"{stem}.md#{i}"
        out.segment[uid] = (pair, i)
        context = f"{seg.shape}, line {seg.line + 1}" + (" (raw Markdown)" if
                                                         seg.kind is Kind.BLOCK else "")
        out.units.append(Unit(uid, stem, context, seg.kind, seg.text, text))
