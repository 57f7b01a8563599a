"""The lesson editor: one Markdown file per lesson and language, new lessons, and images
(with alt text) stored as course media (docs/pack-format.md "Lessons")."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from app.core.packs.markup import IMAGE_EXTENSIONS
from app.core.packs.markup.render import escape
from app.core.packs.media import image_type
from sync_server.authoring.drafts import read_toml, write_bytes, write_text
from sync_server.authoring.editors.common import check_id, course_dir, langs_of, save_toml
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError

#: the largest lesson file the editor saves (a lesson is read in cards on a tablet)
MAX_LESSON_CHARS = 200_000
#: the largest image an author uploads in the studio (photos for a tablet screen)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT = 300
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def lesson_path(src: Path, course: str, lesson: str, lang: str) -> Path:
    folder = course_dir(src, course)
    langs = langs_of(src)
    if lang not in langs.all:
        raise NotFoundError(f"language {lang[:10]!r} is not a language of this pack")
    if lesson not in read_toml(folder / "course.toml").get("lessons", []):
        raise NotFoundError(f"no lesson {lesson[:70]!r} in course {course!r}")
    return folder / f"{lesson}.{lang}.md"


def read_lesson(src: Path, course: str, lesson: str, lang: str) -> str:
    path = lesson_path(src, course, lesson, lang)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError:
        raise ServerError(f"{path.name} is not UTF-8 text: fix it in the zipped source"
                          ) from None


def save_lesson(src: Path, course: str, lesson: str, lang: str, markdown: str) -> None:
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_LESSON_CHARS:
        raise ServerError(f"the lesson is longer than {MAX_LESSON_CHARS} characters; split "
                          "it into two lessons")
    write_text(lesson_path(src, course, lesson, lang), text.rstrip("\n") + "\n")


def add_lesson(src: Path, course: str, lesson: str, title: str) -> str:
    """A new lesson at the end of the course, one file per language."""
    stem = check_id(lesson, "lesson name")
    folder = course_dir(src, course)
    doc = read_toml(folder / "course.toml")
    listed = [x for x in doc.get("lessons", []) if isinstance(x, str)]
    if stem in listed:
        raise AlreadyExistsError(f"lesson {stem!r} exists already")
    title = " ".join(title.split()) or stem
    for lang in langs_of(src).all:
        write_text(folder / f"{stem}.{lang}.md", f"# {escape(title)}\n\nWrite the first card "
                   "here.\n")
    doc["lessons"] = [*listed, stem]
    save_toml(folder / "course.toml", doc)
    return stem


def media_lookup(src: Path, course: str) -> Callable[[str], str | None]:
    """The builder's image resolver for a preview: a source-relative path → pack path."""
    def lookup(rel: str) -> str | None:
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts) or not (src / rel).is_file():
            return None
        if parts[0] == "media":
            return rel
        if parts[:3] == ["courses", course, "media"] and len(parts) > 3:
            return "/".join(["media", course, *parts[3:]])
        return None
    return lookup


def media_file(src: Path, pack_path: str) -> Path:
    """The draft file of a pack media path (``media/<course>/x.png`` or ``media/x.png``),
    for the preview's images; NotFoundError for anything else."""
    parts = pack_path.split("/")
    if len(parts) < 2 or parts[0] != "media" or any(p in ("", ".", "..") or p.startswith(".")
                                                    for p in parts):
        raise NotFoundError("no such media file")
    candidates = [src.joinpath(*parts)]
    if len(parts) > 2:
        candidates.insert(0, src.joinpath("courses", parts[1], "media", *parts[2:]))
    for path in candidates:
        if path.is_file() and not path.is_symlink():
            return path
    raise NotFoundError("no such media file")


def add_image(src: Path, course: str, filename: str, data: bytes, alt: str) -> str:
    """Store an uploaded image as course media; returns the Markdown line to put in the
    lesson (``![alt](media/name)``). The alt text is required (what a screen reader says
    and what the tablet shows if the image cannot be drawn); type by content, not name."""
    folder = course_dir(src, course)
    alt = " ".join(alt.split())
    if not alt:
        raise ServerError("alt text: describe the image (required)")
    if len(alt) > MAX_ALT:
        raise ServerError(f"alt text: at most {MAX_ALT} characters")
    if not data:
        raise ServerError("image: the file is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ServerError(f"image: larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB; make it "
                          "smaller for a tablet screen")
    kind = image_type(data[:16])
    if kind is None:
        raise ServerError("image: not a PNG, JPEG, GIF or WebP image (its content matches none "
                          "of them)")
    stem = _NAME.sub("-", Path(filename).stem).strip("-._")[:60] or "image"
    ext = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "webp": ".webp"}.get(kind, "")
    if ext not in IMAGE_EXTENSIONS:
        raise ServerError(f"image: {kind} is not accepted")
    name, n = f"{stem}{ext}", 2
    while (folder / "media" / name).exists():
        name, n = f"{stem}-{n}{ext}", n + 1
    write_bytes(folder / "media" / name, data)
    return f"![{escape(alt)}](media/{name})"
