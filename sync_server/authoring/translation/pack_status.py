"""What pack.toml says about a language, kept in step with its strings' statuses.

The rule (docs/pack-format.md "Translation state"): a language whose every string is
*reviewed* gets ``[reviews.<lang>]`` (the reviewers, the latest review date) and leaves
``machine_translated``; any other language is listed in ``machine_translated`` (the app
flags it as not checked by a native speaker) and has no review table. A language with an
untranslated string is listed in ``partial_languages`` (the app falls back to the default
language for what is missing); a complete one is not.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from sync_server.authoring import tomlwrite
from sync_server.authoring.translation.model import Entry, Status
from sync_server.authoring.translation.state import write_atomic
from sync_server.authoring.translation.toml_edit import Edit, apply_edits, rewrite

MAX_REVIEWER = 200


def wanted(pack: dict[str, Any], lang: str, entries: list[Entry]
           ) -> tuple[list[str], list[str], dict[str, Any] | None]:
    """(machine_translated, partial_languages, review table or None) for ``lang``."""
    languages = list(pack.get("languages", []))
    mt = set(pack.get("machine_translated", []))
    partial = set(pack.get("partial_languages", []))
    reviewed = bool(entries) and all(e.status is Status.REVIEWED for e in entries)
    (mt.discard if reviewed else mt.add)(lang)
    missing = any(e.status is Status.UNTRANSLATED for e in entries)
    (partial.add if missing else partial.discard)(lang)
    review = None
    if reviewed:
        names = sorted({e.by for e in entries if e.by}) or ["(unnamed reviewer)"]
        reviewer = ", ".join(names)
        if len(reviewer) > MAX_REVIEWER:
            reviewer = f"{names[0]} and {len(names) - 1} others"
        dates = [e.on for e in entries if e.on is not None]
        review = {"reviewer": reviewer, "date": max(dates) if dates else dt.date.today()}
        old = pack.get("reviews", {}).get(lang)
        if isinstance(old, dict) and isinstance(old.get("note"), str):
            review["note"] = old["note"]
    order = [x for x in languages if x in mt], [x for x in languages if x in partial]
    return order[0], order[1], review


def sync_pack_toml(src: Path, lang: str, entries: list[Entry]) -> bool:
    """Update pack.toml for ``lang`` (in place, comments kept); True if it changed."""
    path = src / "pack.toml"
    text = path.read_text(encoding="utf-8")
    pack = tomllib.loads(text)
    mt, partial, review = wanted(pack, lang, entries)
    old_review = pack.get("reviews", {}).get(lang) if isinstance(pack.get("reviews"), dict) \
        else None
    if (mt == pack.get("machine_translated", []) and partial == pack.get("partial_languages", [])
            and review == old_review):
        return False
    edits = [Edit(("machine_translated",), "machine_translated", mt),
             Edit(("partial_languages",), "partial_languages", partial)]
    new = apply_edits(text, edits)
    if review != old_review:
        new = _set_review(new, lang, review)
    write_atomic(path, new)
    return True


def _set_review(text: str, lang: str, review: dict[str, Any] | None) -> str:
    """Drop the ``[reviews.<lang>]`` block and append the new one at the end of the file;
    the whole file is written again if the table is not a block of its own."""
    want = tomllib.loads(text)
    reviews = want.setdefault("reviews", {})
    reviews.pop(lang, None)
    if review is not None:
        reviews[lang] = review
    if not reviews:
        want.pop("reviews")
    header = re.compile(rf"^\s*\[\s*reviews\s*\.\s*\"?{re.escape(lang)}\"?\s*\]\s*(#.*)?$")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is not None:
        end = start + 1
        while end < len(lines) and not lines[end].lstrip().startswith("["):
            end += 1
        while end > start + 1 and lines[end - 1].strip() == "":
            end -= 1
        del lines[start:end]
    out = "".join(lines).rstrip("\n") + "\n"
    if review is not None:
        block = [f"[reviews.{tomlwrite.key(lang)}]"]
        block += [f"{k} = {tomlwrite.value(v)}" for k, v in review.items()]
        out = out.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    try:
        if tomllib.loads(out) == want:
            return out
    except tomllib.TOMLDecodeError:
        pass
    return rewrite(want, text)
