"""Schema check of a built manifest (docs/pack-format.md §2, verification step 4).

The builder only writes valid manifests, but devices and the server verify what arrives:
a trusted key may still have signed a manifest made by a buggy or foreign tool. Errors are
PackVerifyError naming the field path, e.g. ``manifest field courses[0].lessons[2].files.en``.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import PackVerifyError
from app.core.packs.limits import MAX_ENTRY_BYTES, SUPPORTED_FORMATS

PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ITEM_ID = PACK_ID
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CLEAN_PATH = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
QUESTION_TYPES = ("multiple", "scenario", "single", "true_false")
PART_TYPES = ("multiple", "single", "true_false")


class ManifestIdentity:
    """``id`` and ``version`` of an object holding a (source or built) ``manifest``."""

    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def version(self) -> int:
        return int(self.manifest["version"])


def _fail(path: str, msg: str) -> PackVerifyError:
    return PackVerifyError(f"manifest field {path}: {msg}")


def _need(obj: dict[str, Any], key: str, typ: type | tuple[type, ...], path: str) -> Any:
    if key not in obj:
        raise _fail(f"{path}.{key}" if path else key, "missing")
    v = obj[key]
    if isinstance(v, bool) and typ is int or not isinstance(v, typ):
        name = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise _fail(f"{path}.{key}" if path else key, f"must be {name}")
    return v


def _ident(obj: dict[str, Any], key: str, path: str, pattern: re.Pattern[str] = ITEM_ID) -> str:
    v = _need(obj, key, str, path)
    if not pattern.match(v):
        raise _fail(f"{path}.{key}" if path else key, f"invalid id {v!r}")
    return str(v)


def _loc(v: Any, path: str) -> None:
    if not isinstance(v, dict) or not v or not all(
            isinstance(k, str) and isinstance(t, str) for k, t in v.items()):
        raise _fail(path, "must be an object of language → text")


def check_format(manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise PackVerifyError("manifest.json is not a JSON object")
    fmt = manifest.get("format")
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise PackVerifyError("manifest.json has no integer 'format'")
    if fmt not in SUPPORTED_FORMATS:
        raise PackVerifyError(f"unsupported pack format {fmt}: this app reads format "
                              f"{', '.join(map(str, SUPPORTED_FORMATS))} (update the app)")


def check_manifest(m: dict[str, Any]) -> None:
    """Raise PackVerifyError on the first schema violation."""
    check_format(m)
    _ident(m, "id", "", PACK_ID)
    version = _need(m, "version", int, "")
    if version < 1:
        raise _fail("version", "must be ≥ 1")
    langs = _need(m, "languages", list, "")
    if not langs or not all(isinstance(x, str) for x in langs):
        raise _fail("languages", "must be a non-empty list of language codes")
    if _need(m, "default_language", str, "") not in langs:
        raise _fail("default_language", "not in languages")
    for key in ("partial_languages", "machine_translated", "audience_roles", "authors"):
        v = _need(m, key, list, "")
        if not all(isinstance(x, str) for x in v):
            raise _fail(key, "must be a list of strings")
    _loc(_need(m, "title", dict, ""), "title")
    _need(m, "licence", str, "")
    skills = _need(m, "skills", dict, "")
    for key, s in skills.items():
        if not ITEM_ID.match(key) or not isinstance(s, dict):
            raise _fail(f"skills.{key}", "invalid skill entry")
    paths = _files(m)
    for i, c in enumerate(_need(m, "courses", list, "")):
        _course(c, f"courses[{i}]", paths)
    for i, p in enumerate(_need(m, "profiles", list, "")):
        _profile(p, f"profiles[{i}]")


def _files(m: dict[str, Any]) -> set[str]:
    files = _need(m, "files", list, "")
    paths: set[str] = set()
    sizes: dict[str, int] = {}
    last = ""
    for i, f in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(f, dict):
            raise _fail(where, "must be an object")
        path = _need(f, "path", str, where)
        if not CLEAN_PATH.match(path) or ".." in path.split("/"):
            raise _fail(f"{where}.path", f"unsafe or invalid path {path!r}")
        if path in paths:
            raise _fail(f"{where}.path", f"duplicate path {path!r}")
        if path < last:
            raise _fail(f"{where}.path", "files must be sorted by path")
        last = path
        paths.add(path)
        size = _need(f, "size", int, where)
        if not 0 <= size <= MAX_ENTRY_BYTES:
            raise _fail(f"{where}.size", f"{size} is outside 0–{MAX_ENTRY_BYTES}")
        sha = _need(f, "sha256", str, where)
        if not SHA256.match(sha):
            raise _fail(f"{where}.sha256", "must be 64 lowercase hex digits")
        if sizes.setdefault(sha, size) != size:
            raise _fail(f"{where}.size", "same sha256 listed with two sizes")
    return paths


def _course(c: Any, path: str, paths: set[str]) -> None:
    if not isinstance(c, dict):
        raise _fail(path, "must be an object")
    _ident(c, "id", path)
    _loc(_need(c, "title", dict, path), f"{path}.title")
    pm = _need(c, "pass_mark", int, path)
    if not 0 <= pm <= 100:
        raise _fail(f"{path}.pass_mark", "must be 0–100")
    for j, lesson in enumerate(_need(c, "lessons", list, path)):
        lp = f"{path}.lessons[{j}]"
        if not isinstance(lesson, dict):
            raise _fail(lp, "must be an object")
        _ident(lesson, "id", lp)
        for lang, fp in _need(lesson, "files", dict, lp).items():
            if fp not in paths:
                raise _fail(f"{lp}.files.{lang}", f"{fp!r} is not in files")
    outcomes = _outcomes(c, path)
    quiz = _need(c, "quiz", dict, path)
    for k, q in enumerate(_need(quiz, "questions", list, f"{path}.quiz")):
        _question(q, f"{path}.quiz.questions[{k}]", outcomes)


def _outcomes(c: dict[str, Any], path: str) -> set[str]:
    """Learning outcomes (optional): a list of {id, text}; ids unique."""
    if "outcomes" not in c:
        return set()
    ids: set[str] = set()
    for i, o in enumerate(_need(c, "outcomes", list, path)):
        op = f"{path}.outcomes[{i}]"
        if not isinstance(o, dict):
            raise _fail(op, "must be an object")
        oid = _ident(o, "id", op)
        if oid in ids:
            raise _fail(f"{op}.id", f"duplicate outcome id {oid!r}")
        ids.add(oid)
        _loc(_need(o, "text", dict, op), f"{op}.text")
    return ids


def _question(q: Any, path: str, outcomes: set[str], types: tuple[str, ...] = QUESTION_TYPES
              ) -> None:
    if not isinstance(q, dict):
        raise _fail(path, "must be an object")
    _ident(q, "id", path)
    qtype = _need(q, "type", str, path)
    if qtype not in types:
        raise _fail(f"{path}.type", f"unknown question type {qtype!r}")
    if "outcome" in q and _need(q, "outcome", str, path) not in outcomes:
        raise _fail(f"{path}.outcome", f"unknown learning outcome {q['outcome']!r}")
    if qtype == "scenario":
        parts = _need(q, "parts", list, path)
        if not parts:
            raise _fail(f"{path}.parts", "a scenario needs at least one part")
        for i, part in enumerate(parts):
            _question(part, f"{path}.parts[{i}]", outcomes, PART_TYPES)
        return
    opts = _need(q, "options", list, path)
    if not 2 <= len(opts) <= 8 or not all(isinstance(o, dict) and isinstance(o.get("id"), str)
                                          and isinstance(o.get("correct"), bool) for o in opts):
        raise _fail(f"{path}.options", "needs 2–8 options with id and correct")


def _profile(p: Any, path: str) -> None:
    if not isinstance(p, dict):
        raise _fail(path, "must be an object")
    _ident(p, "id", path)
    _need(p, "scale", list, path)
    for i, d in enumerate(_need(p, "duties", list, path)):
        dp = f"{path}.duties[{i}]"
        if not isinstance(d, dict):
            raise _fail(dp, "must be an object")
        _ident(d, "id", dp)
        for j, t in enumerate(_need(d, "tasks", list, dp)):
            if not isinstance(t, dict):
                raise _fail(f"{dp}.tasks[{j}]", "must be an object")
            _ident(t, "id", f"{dp}.tasks[{j}]")
            if "esco_skills" in t:
                labels = t["esco_skills"]
                if not isinstance(labels, list) or not all(
                        isinstance(x, str) and 0 < len(x) <= 200 for x in labels):
                    raise _fail(f"{dp}.tasks[{j}].esco_skills",
                                "must be a list of labels (1–200 characters)")
    if "validation" in p:
        _validation(p["validation"], f"{path}.validation")


def _validation(v: Any, path: str) -> None:
    """A profile's DACUM validation status (docs/pack-format.md: profiles)."""
    if not isinstance(v, dict):
        raise _fail(path, "must be an object")
    status = v.get("status")
    if status not in ("draft", "validated"):
        raise _fail(f"{path}.status", "must be 'draft' or 'validated'")
    _loc(v.get("note"), f"{path}.note")
    if status == "validated":
        for key in ("panel", "date"):
            if not isinstance(v.get(key), str) or not v[key]:
                raise _fail(f"{path}.{key}", "a validated profile names its panel and date")
