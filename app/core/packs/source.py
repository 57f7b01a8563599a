"""Read and validate a pack source folder (docs/pack-format.md §1) into a PackSource.

Everything an author can get wrong is reported as a PackSourceError naming the file, the
line and the field. The result holds the manifest (without ``files``) and the exact bytes
or source file of every file the built pack will contain; nothing is written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.canonical import canonical_json
from app.core.errors import PackSourceError
from app.core.packs.fields import ID_RE, LANG_RE, Fields, Languages, unique_ids
from app.core.packs.lessons import ParsedLesson, check_link, link_target_failed, parse_lesson
from app.core.packs.limits import MAX_ENTRY_BYTES
from app.core.packs.manifest import ManifestIdentity
from app.core.packs.markup import IMAGE_EXTENSIONS
from app.core.packs.media import image_type
from app.core.packs.practice import add_programmes, read_course_practice
from app.core.packs.problems import Problems
from app.core.packs.recognition import read_recognition
from app.core.packs.source_profile import esco_labels, expected_levels, profile_validation
from app.core.packs.source_quiz import read_quiz
from app.core.packs.tomldoc import TomlDoc

SOURCE_FORMATS = (1,)
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS      # no SVG: see app/core/packs/media.py
_MEDIA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class PackSource(ManifestIdentity):
    """A validated pack source: manifest (minus ``files``) and the content of every file."""

    src_dir: Path
    manifest: dict[str, Any]
    files: dict[str, bytes | Path]        # pack path -> bytes, or a source file to stream
    warnings: list[str] = field(default_factory=list)


def read_source(src_dir: Path) -> PackSource:
    return _Reader(Path(src_dir)).read()


class _Reader:
    def __init__(self, src: Path) -> None:
        self.src = src
        self.files: dict[str, bytes | Path] = {}
        self.warnings: list[str] = []
        self.media: dict[str, str] = {}      # source rel path -> pack path
        self.skills: dict[str, Any] = {}
        self.audience: list[str] = []
        self.langs: Languages
        self.problems = Problems()
        self.failed_lessons: set[tuple[str, str, str]] = set()

    def disp(self, rel: str) -> str:
        return str(self.src / rel)

    def doc(self, rel: str) -> TomlDoc:
        return TomlDoc.load(self.src / rel, self.disp(rel))

    # ------------------------------------------------------------------------------------
    def read(self) -> PackSource:
        if not self.src.is_dir():
            raise PackSourceError("pack source folder not found", path=str(self.src))
        self._check_tree()
        manifest = self._pack_toml()
        self._skills()
        manifest["skills"] = self.skills
        self._media_index()
        lessons: dict[tuple[str, str, str], ParsedLesson] = {}
        listed, p = manifest["courses"], self.problems   # each part checked: problems.py
        manifest["courses"] = [c for c in (p.attempt(self._course, cid, lessons)
                                           for cid in listed) if c is not None]
        self._check_links(lessons, manifest["courses"], set(listed))
        manifest["profiles"] = self._profiles()
        p.raise_if_any()
        pack_doc = self.doc("pack.toml")
        add_programmes(manifest, Fields(pack_doc, pack_doc.data, "", self.langs))
        return PackSource(self.src, manifest, dict(sorted(self.files.items())), self.warnings)

    def _check_tree(self) -> None:
        for p in sorted(self.src.rglob("*")):
            rel = p.relative_to(self.src).as_posix()
            if p.is_symlink():
                raise PackSourceError("symbolic links are not allowed in a pack source",
                                      path=self.disp(rel))

    def _pack_toml(self) -> dict[str, Any]:
        doc = self.doc("pack.toml")
        f = Fields(doc, doc.data, "")
        f.only(["format", "id", "version", "default_language", "languages",
                "partial_languages", "machine_translated", "audience_roles", "title",
                "description", "licence", "authors", "courses", "reviews", "programmes"])
        fmt = f.integer("format")
        if fmt not in SOURCE_FORMATS:
            raise f.error("format", f"unsupported source format {fmt}; this builder reads "
                                    f"format {', '.join(map(str, SOURCE_FORMATS))}")
        pack_id = f.string("id")
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", pack_id):
            raise f.error("id", f"{pack_id!r} is not a valid pack id (lowercase letters, "
                                "digits, '-' and '_', ≤ 64 chars)")
        version = f.integer("version", lo=1)
        languages = f.str_list("languages", pattern=LANG_RE, what="language code",
                               nonempty=True)
        default = f.string("default_language")
        if default not in languages:
            raise f.error("default_language", f"{default!r} is not in languages "
                                              f"({', '.join(languages)})")
        partial = f.str_list("partial_languages", required=False)
        mt = f.str_list("machine_translated", required=False)
        for key, vals in (("partial_languages", partial), ("machine_translated", mt)):
            for lang in vals:
                if lang not in languages:
                    raise f.error(key, f"{lang!r} is not in languages ({', '.join(languages)})")
        if default in partial:
            raise f.error("partial_languages", "the default language cannot be partial")
        self.langs = Languages(default, languages, partial)
        f.langs = self.langs
        self.audience = f.roles("audience_roles")
        out = {
            "format": 1, "id": pack_id, "version": version, "default_language": default,
            "languages": languages, "partial_languages": partial, "machine_translated": mt,
            "audience_roles": self.audience, "title": f.loc("title"),
            "description": f.loc("description"), "licence": f.text("licence"),
            "authors": f.texts("authors"),
            "courses": f.id_list("courses"),
        }
        reviews = self._reviews(f, languages, mt, default)
        if reviews:
            out["reviews"] = reviews
        return out

    def _reviews(self, f: Fields, languages: list[str], mt: list[str], default: str
                 ) -> dict[str, dict[str, str]]:
        """``[reviews.<lang>]``: who signed a translation off as a native reviewer, and when.
        A reviewed language leaves ``machine_translated`` (that list is what the app flags)."""
        if not f.has("reviews"):
            return {}
        table = f.sub("reviews", f.table["reviews"])
        out = {}
        for lang, value in table.table.items():
            if lang not in languages:
                raise table.error(lang, f"{lang!r} is not in languages ({', '.join(languages)})")
            if lang == default:
                raise table.error(lang, "the default language is the source text; only "
                                        "translations are reviewed")
            if lang in mt:
                raise table.error(lang, f"{lang!r} has a native review recorded; remove it "
                                        "from machine_translated")
            r = table.sub(lang, value)
            r.only(["reviewer", "date", "note"])
            out[lang] = {"reviewer": r.text("reviewer"), "date": r.date("date")}
            if r.has("note"):
                out[lang]["note"] = r.text("note")
        return out

    def _skills(self) -> None:
        if not (self.src / "skills.toml").exists():
            return
        doc = self.doc("skills.toml")
        top = Fields(doc, doc.data, "", self.langs)
        top.only(["skills"])
        if not top.has("skills"):
            return
        table = top.sub("skills", top.table["skills"])
        for key, value in table.table.items():
            if not ID_RE.match(key):
                raise table.error(key, f"{key!r} is not a valid skill key")
            s = table.sub(key, value)
            s.only(["uri", "label"])
            self.skills[key] = {"uri": s.esco_uri("uri"), "label": s.loc("label")}

    def _media_index(self) -> None:
        roots: list[tuple[Path, str]] = [(self.src / "media", "media")]
        courses = self.src / "courses"
        if courses.is_dir():
            roots += [(d / "media", f"media/{d.name}") for d in sorted(courses.iterdir())
                      if d.is_dir()]
        for root, prefix in roots:
            if not root.is_dir():
                continue
            for p in sorted(root.rglob("*")):
                if p.is_dir():
                    continue
                rel = p.relative_to(self.src).as_posix()
                parts = p.relative_to(root).parts
                if any(part.startswith(".") for part in parts):
                    continue  # .DS_Store and friends
                if not all(_MEDIA_NAME.match(part) for part in parts):
                    raise PackSourceError("media file names may use only letters, digits, "
                                          "'.', '-' and '_'", path=self.disp(rel))
                if p.suffix.lower() not in MEDIA_EXTENSIONS:
                    raise PackSourceError(f"unsupported media type {p.suffix or '(none)'}; "
                                          f"allowed: {', '.join(MEDIA_EXTENSIONS)}",
                                          path=self.disp(rel))
                size = p.stat().st_size
                if size > MAX_ENTRY_BYTES:
                    raise PackSourceError(f"file is {size} bytes; the limit is "
                                          f"{MAX_ENTRY_BYTES}", path=self.disp(rel))
                with open(p, "rb") as fh:
                    head = fh.read(16)
                if image_type(head) is None:
                    raise PackSourceError("file is not a PNG, JPEG, GIF or WebP image (its "
                                          "content does not match any of them)",
                                          path=self.disp(rel))
                pack_path = f"{prefix}/{'/'.join(parts)}"
                if pack_path in self.files:
                    raise PackSourceError(f"two media files map to {pack_path}",
                                          path=self.disp(rel))
                self.media[rel] = pack_path
                self.files[pack_path] = p

    # -- courses ---------------------------------------------------------------------
    def _course(self, cid: str, lessons: dict[tuple[str, str, str], ParsedLesson]
                ) -> dict[str, Any]:
        base = f"courses/{cid}"
        if not (self.src / base / "course.toml").is_file():
            raise PackSourceError(f"course {cid!r} is listed in pack.toml but "
                                  f"{self.disp(base + '/course.toml')} is missing",
                                  path=self.disp("pack.toml"),
                                  line=self.doc("pack.toml").line_of("courses"), field="courses")
        doc = self.doc(f"{base}/course.toml")
        f = Fields(doc, doc.data, "", self.langs)
        f.only(["title", "summary", "roles", "skills", "minutes", "pass_mark", "lessons",
                "outcomes", "tasks", "certificate", "recognition"])
        outcomes = self._outcomes(f)
        course: dict[str, Any] = {
            "id": cid, "title": f.loc("title"), "summary": f.loc("summary"),
            # explicit in the manifest, so readers need not know the default rule
            "roles": f.roles("roles", required=False, default=self.audience),
            "skills": self._skill_keys(f, "skills"),
            "minutes": f.integer("minutes", lo=1, hi=10000),
            "pass_mark": f.integer("pass_mark", lo=0, hi=100),
        }
        stems = f.str_list("lessons", pattern=re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$"),
                           what="lesson name (file stem without .<lang>.md)", nonempty=True)
        listed = set()
        course["lessons"] = []
        for stem in stems:
            entry: dict[str, Any] = {"id": stem, "title": {}, "cards": 0, "files": {}}
            for lang in self.langs.all:
                rel = f"{base}/{stem}.{lang}.md"
                listed.add(rel)
                if not (self.src / rel).is_file():
                    if lang in self.langs.partial:
                        continue
                    raise f.error("lessons", f"lesson {stem!r} has no {lang} file: expected "
                                             f"{self.disp(rel)}")
                parsed = self.problems.attempt(self._lesson, rel, cid, stem, lang)
                if parsed is None:
                    self.failed_lessons.add((cid, stem, lang))
                    continue
                lessons[(cid, stem, lang)] = parsed
                out = f"lessons/{cid}/{stem}.{lang}.json"
                self.files[out] = canonical_json(parsed.as_json(lang))
                entry["title"][lang] = parsed.title
                entry["files"][lang] = out
                if lang == self.langs.default:
                    entry["cards"] = len(parsed.cards)
            course["lessons"].append(entry)
        course.update(read_course_practice(f, stems))
        for p in sorted((self.src / base).glob("*.md")):
            rel = p.relative_to(self.src).as_posix()
            if rel not in listed:
                self.warnings.append(f"{self.disp(rel)}: not listed in course.toml lessons "
                                     "(or language not in pack.languages); ignored")
        if outcomes:
            course["outcomes"] = outcomes
        recognition = read_recognition(f)            # EQF level, workload, ESCO
        if recognition:
            course["recognition"] = recognition
        course["quiz"] = self.problems.attempt(self._quiz, f"{base}/quiz.toml",
                                               [o["id"] for o in outcomes])
        return course

    def _outcomes(self, f: Fields) -> list[dict[str, Any]]:
        """``[outcomes.<id>]`` tables of language → text, in the order written (a list in
        the manifest, because canonical JSON sorts object keys)."""
        if not f.has("outcomes"):
            return []
        table = f.sub("outcomes", f.table["outcomes"])
        out = []
        for key in table.table:
            if not ID_RE.match(key):
                raise table.error(key, f"{key!r} is not a valid outcome id (lowercase letters, "
                                       "digits, '-' and '_', starting with a letter or digit, "
                                       "≤ 64 chars)")
            out.append({"id": key, "text": table.loc(key)})
        return out

    def _skill_keys(self, f: Fields, key: str) -> list[str]:
        keys = f.id_list(key, required=False)
        for k in keys:
            if k not in self.skills:
                raise f.error(key, f"unknown skill key {k!r}; define it in skills.toml"
                              + (f" (known: {', '.join(sorted(self.skills))})"
                                 if self.skills else ""))
        return keys

    def _lesson(self, rel: str, cid: str, stem: str, lang: str) -> ParsedLesson:
        raw = (self.src / rel).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PackSourceError("file is not valid UTF-8", path=self.disp(rel),
                                  line=raw[: exc.start].count(b"\n") + 1) from None
        parsed = parse_lesson(text, display=self.disp(rel), src_path=rel, course=cid,
                              lesson=stem, lang=lang, media_lookup=self.media.get)
        self.warnings += parsed.warnings
        return parsed

    def _check_links(self, lessons: dict[tuple[str, str, str], ParsedLesson],
                     courses: list[dict[str, Any]], listed: set[str]) -> None:
        known = {c["id"]: [entry["id"] for entry in c["lessons"]] for c in courses}
        for parsed in lessons.values():
            for link in parsed.links:
                if not link_target_failed(link, known, listed, self.failed_lessons):
                    self.problems.attempt(check_link, link, known, lessons)

    # -- quiz ------------------------------------------------------------------------
    def _quiz(self, rel: str, outcomes: list[str]) -> dict[str, Any]:
        return read_quiz(self.doc(rel), self.langs, outcomes)

    # -- profiles ----------------------------------------------------------------------
    def _profiles(self) -> list[dict[str, Any]]:
        folder = self.src / "profiles"
        if not folder.is_dir():
            return []
        found = (self.problems.attempt(self._profile, p) for p in sorted(folder.glob("*.toml")))
        return [profile for profile in found if profile is not None]

    def _profile(self, path: Path) -> dict[str, Any]:
        rel = path.relative_to(self.src).as_posix()
        pid = path.stem
        if not ID_RE.match(pid):
            raise PackSourceError(f"profile file name {pid!r} is not a valid id",
                                  path=self.disp(rel))
        doc = self.doc(rel)
        f = Fields(doc, doc.data, "", self.langs)
        f.only(["title", "description", "esco_occupation", "isco", "roles", "not_covered",
                "scale", "duties", "validation"])
        isco = f.string("isco", required=False, nonempty=False)
        if isco and not re.match(r"^\d{1,4}$", isco):
            raise f.error("isco", f"{isco!r} is not an ISCO-08 code (1–4 digits)")
        roles = f.roles("roles")
        scale = []
        levels: list[int] = []
        for s in f.tables("scale"):
            s.only(["level", "label"])
            lvl = s.integer("level", lo=0, hi=10)
            if levels and lvl <= levels[-1]:
                raise s.error("level", "scale levels must be listed in increasing order")
            levels.append(lvl)
            scale.append({"level": lvl, "label": s.loc("label")})
        if len(scale) < 2:
            raise f.error("scale", "a rating scale needs at least two levels")
        duties = []
        ids: dict[str, str] = {}
        for d in f.tables("duties"):
            d.only(["id", "title", "tasks"])
            unique_ids([d], "id", ids)
            tasks = []
            for t in d.tables("tasks"):
                t.only(["id", "title", "skills", "expected", "esco_skills"])
                unique_ids([t], "id", ids)
                task = {"id": t.ident("id"), "title": t.loc("title"),
                        "skills": self._skill_keys(t, "skills"),
                        "expected": expected_levels(t, roles, levels)}
                esco = esco_labels(t)
                if esco:
                    task["esco_skills"] = esco
                tasks.append(task)
            duties.append({"id": d.ident("id"), "title": d.loc("title"), "tasks": tasks})
        out = {"id": pid, "title": f.loc("title"), "description": f.loc("description",
                                                                          required=False),
               "esco_occupation": f.esco_uri("esco_occupation", required=False),
               "isco": isco, "roles": roles,
               "not_covered": self._skill_keys(f, "not_covered"),
               "scale": scale, "duties": duties}
        if out["description"] is None:
            del out["description"]
        validation = profile_validation(f)
        if validation:
            out["validation"] = validation
        return out
