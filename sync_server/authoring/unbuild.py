"""A pack source folder (docs/pack-format.md §1) written back from a built pack.

The server keeps what it was given as a built pack: the signed manifest and the blobs
(lesson JSON, media), never the source it was built from. To open an uploaded version as
a draft the studio writes the source the manifest describes: pack.toml, skills.toml,
courses/<id>/course.toml + quiz.toml + one Markdown file per lesson and language,
course and pack media, profiles/<id>.toml. Building that folder again gives the same
manifest content (tested on the shipped packs): lesson cards are the sanitiser's
normalised Markdown, so they are written as they are, with their pack targets turned back
into source-relative ones (``media/<course>/x.png`` → ``media/x.png`` next to the
course, ``lesson:c/l#a`` → ``../c/l.<lang>.md#a``). Comments and the author's own layout
of the original files are not in a built pack and cannot come back.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.packs.markup import LESSON_LINK, Kind, Link, Rules, parse
from app.core.packs.markup.render import Renderer, escape
from sync_server.authoring.tomlwrite import dumps

ReadFile = Callable[[str], bytes]   # pack path (media/…, lessons/…) → content


def write_source(manifest: dict[str, Any], read_file: ReadFile, dest: Path) -> None:
    """Write the source folder of ``manifest`` into ``dest`` (created; must be empty)."""
    dest.mkdir(parents=True, exist_ok=True)
    _write(dest / "pack.toml", dumps(_pack_toml(manifest)))
    if manifest.get("skills"):
        _write(dest / "skills.toml", dumps({"skills": manifest["skills"]}))
    for course in manifest.get("courses", []):
        _course(dest, course, read_file, manifest)
    for profile in manifest.get("profiles", []):
        _write(dest / "profiles" / f"{profile['id']}.toml", dumps(_profile(profile)))
    for entry in manifest.get("files", []):
        path = str(entry["path"])
        if path.startswith("media/"):
            _write_bytes(dest / source_media_path(path, manifest), read_file(path))


def source_media_path(pack_path: str, manifest: dict[str, Any]) -> str:
    """``media/<course>/x`` → ``courses/<course>/media/x``; pack-wide media stay."""
    parts = pack_path.split("/")
    courses = {c["id"] for c in manifest.get("courses", [])}
    if len(parts) > 2 and parts[1] in courses:
        return "/".join(["courses", parts[1], "media", *parts[2:]])
    return pack_path


def _pack_toml(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: m[k] for k in (
        "format", "id", "version", "default_language", "languages", "partial_languages",
        "machine_translated", "audience_roles", "title", "description", "licence", "authors")
        if k in m}
    out["courses"] = [c["id"] for c in m.get("courses", [])]
    if m.get("reviews"):
        out["reviews"] = {lang: {**r, "date": dt.date.fromisoformat(r["date"])}
                          for lang, r in m["reviews"].items()}
    if m.get("programmes"):
        out["programmes"] = [{k: v for k, v in p.items()
                              if not (k == "observed_tasks" and v == 0)}
                             for p in m["programmes"]]
    return out


def _course(dest: Path, course: dict[str, Any], read_file: ReadFile,
            manifest: dict[str, Any]) -> None:
    cid = course["id"]
    folder = dest / "courses" / cid
    toml: dict[str, Any] = {k: course[k] for k in ("title", "summary", "roles", "skills",
                                                    "minutes", "pass_mark") if k in course}
    toml["lessons"] = [entry["id"] for entry in course.get("lessons", [])]
    if course.get("outcomes"):
        toml["outcomes"] = {o["id"]: o["text"] for o in course["outcomes"]}
    if course.get("recognition"):
        toml["recognition"] = course["recognition"]
    if course.get("certificate"):
        toml["certificate"] = course["certificate"]
    if course.get("tasks"):
        toml["tasks"] = course["tasks"]
    _write(folder / "course.toml", dumps(toml))
    _write(folder / "quiz.toml", dumps(_quiz(course.get("quiz") or {})))
    for entry in course.get("lessons", []):
        for lang, path in sorted(entry.get("files", {}).items()):
            lesson = json.loads(read_file(path))
            text = lesson_markdown(lesson, course=cid, lang=lang, manifest=manifest)
            _write(folder / f"{entry['id']}.{lang}.md", text)


def _quiz(quiz: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: quiz[k] for k in ("max_attempts", "draw", "shuffle_questions",
                                                "shuffle_options") if k in quiz}
    out["questions"] = [_question(q) for q in quiz.get("questions", [])]
    if not out["questions"]:
        del out["questions"]
    return out


def _question(q: dict[str, Any], inherited: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": q["id"], "type": q["type"]}
    if q.get("outcome") and q["outcome"] != inherited:
        out["outcome"] = q["outcome"]
    for k in ("case", "prompt", "explanation"):
        if k in q:
            out[k] = q[k]
    if q["type"] == "scenario":
        out["parts"] = [_question(p, q.get("outcome")) for p in q.get("parts", [])]
    elif q["type"] == "true_false":
        options = {o["id"]: o for o in q.get("options", [])}
        out["answer"] = bool(options.get("true", {}).get("correct"))
        for name in ("true", "false"):
            if "feedback" in options.get(name, {}):
                out[f"feedback_{name}"] = options[name]["feedback"]
    else:
        out["options"] = q.get("options", [])
    return out


def _profile(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: p[k] for k in ("title", "description", "esco_occupation", "isco",
                                             "roles", "not_covered") if k in p}
    if p.get("validation"):
        v = dict(p["validation"])
        if "date" in v:
            v["date"] = dt.date.fromisoformat(v["date"])
        out["validation"] = v
    out["scale"] = p.get("scale", [])
    out["duties"] = [{"id": d["id"], "title": d["title"],
                      "tasks": [{k: t[k] for k in ("id", "title", "skills", "expected",
                                                   "esco_skills") if k in t and
                                 not (k == "expected" and not t[k])}
                                for t in d.get("tasks", [])]}
                     for d in p.get("duties", [])]
    return out


class _BackToSource(Rules):
    """Card Markdown with its pack targets turned into source-relative ones."""

    def __init__(self, course: str, lang: str, manifest: dict[str, Any]) -> None:
        super().__init__(Kind.LESSON)
        self.course, self.lang, self.manifest = course, lang, manifest

    def link(self, href: str, line: int) -> Link:
        m = LESSON_LINK.match(href)
        if not m:
            return Link(href=href)
        course, lesson = m.group(1), m.group(2)
        anchor = href.partition("#")[2]
        target = f"{lesson}.{self.lang}.md" if course == self.course \
            else f"../{course}/{lesson}.{self.lang}.md"
        return Link(href=target + (f"#{anchor}" if anchor else ""))

    def image(self, src: str, line: int, alone: bool) -> str | None:
        here = f"courses/{self.course}"
        return posixpath.relpath(source_media_path(src, self.manifest), here)


def lesson_markdown(lesson: dict[str, Any], *, course: str, lang: str,
                    manifest: dict[str, Any]) -> str:
    """A built lesson (title + cards) as the Markdown file that builds it again."""
    rules = _BackToSource(course, lang, manifest)
    title = str(lesson["title"])
    parts = [f"# {escape(title)}"]
    for i, card in enumerate(lesson.get("cards", [])):
        # the card is the sanitiser's output already: render it once more, only the
        # link and image targets change (the builder re-checks everything)
        renderer = Renderer(rules.link, rules.image, stable=True)
        body = renderer.document(parse(str(card["markdown"])).children).strip()
        if not (i == 0 and card["title"] == title):
            parts.append(f"## {escape(str(card['title']))}")
        if body:
            parts.append(body)
    return "\n\n".join(parts) + "\n"


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
