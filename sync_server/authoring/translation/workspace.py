"""The translation workspace of one source folder: strings with their status, saving
targets, marking them reviewed, progress — the domain behind the console pages and the
XLIFF / PO import. Who may review is the caller's decision (services/translations.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.core.packs.markup import check_plain, text_findings
from sync_server.authoring.translation.extract import Extraction, extract, read_text
from sync_server.authoring.translation.lesson_blocks import rebuild, segments
from sync_server.authoring.translation.model import (
    Entry,
    Kind,
    Mark,
    Status,
    TranslationError,
    Unit,
    source_hash,
)
from sync_server.authoring.translation.pack_status import sync_pack_toml
from sync_server.authoring.translation.state import load_marks, save_marks, write_atomic
from sync_server.authoring.translation.toml_edit import Edit, apply_edits

MAX_TEXT = 20_000          # characters of one target string
ORDER = (Status.UNTRANSLATED, Status.MACHINE, Status.DRAFT, Status.NEEDS_REVIEW,
         Status.REVIEWED)


@dataclass(frozen=True)
class Change:
    """A new target text (``""``: untranslated) and the status it is stored with."""

    text: str
    status: Status


@dataclass(frozen=True)
class Progress:
    lang: str
    total: int
    counts: dict[Status, int]

    @property
    def reviewed_percent(self) -> int:
        return (100 * self.counts.get(Status.REVIEWED, 0)) // self.total if self.total else 0


def entries(src: Path, lang: str) -> list[Entry]:
    ex = extract(src, lang)
    return _entries(ex, load_marks(src, lang))


def _entries(ex: Extraction, marks: dict[str, Mark]) -> list[Entry]:
    out = []
    for u in ex.units:
        out.append(_entry(u, marks.get(u.id), ex))
    return out


def _entry(u: Unit, mark: Mark | None, ex: Extraction) -> Entry:
    langs = ex.langs
    if mark is not None and mark.status is Status.UNTRANSLATED \
            and mark.source_sha == source_hash(u.source):
        if u.target in ("", u.source):     # a lesson block still holding the source text
            return Entry(Unit(u.id, u.file, u.context, u.kind, u.source, ""),
                         Status.UNTRANSLATED)
        return Entry(u, Status.DRAFT)       # translated outside the workspace since
    if not u.target:
        return Entry(u, Status.UNTRANSLATED)
    if mark is not None:
        if mark.source_sha != source_hash(u.source):
            return Entry(u, Status.NEEDS_REVIEW, mark.by, mark.on)
        if mark.target_sha and mark.target_sha != source_hash(u.target):
            return Entry(u, Status.DRAFT)   # changed outside the workspace: not signed off
        return Entry(u, mark.status, mark.by, mark.on)
    review = langs.reviews.get(ex.lang)
    if isinstance(review, dict) and ex.lang not in langs.machine_translated:
        on = review.get("date")
        return Entry(u, Status.REVIEWED, str(review.get("reviewer", "")),
                     on if isinstance(on, dt.date) else None)
    if ex.lang in langs.machine_translated:
        return Entry(u, Status.MACHINE)
    return Entry(u, Status.DRAFT)


def progress(lang: str, items: list[Entry]) -> Progress:
    counts = Counter(e.status for e in items)
    return Progress(lang, len(items), {s: counts.get(s, 0) for s in ORDER})


_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|<((?:https?://|mailto:)[^>\s]+)>")


def links_of(text: str, lang: str, default: str) -> list[str]:
    """The link targets of a Markdown text, the language of lesson links and anchors
    taken out (``02-x.lt.md#zonos`` → ``02-x.<default>.md``): a translation keeps them."""
    out = []
    for m in _LINK.finditer(text):
        href = (m.group(1) or m.group(2)).split("#", 1)[0]
        out.append(re.sub(rf"\.{re.escape(lang)}\.md$", f".{default}.md", href))
    return sorted(out)


def check_links(u: Unit, text: str, lang: str, default: str) -> None:
    """Web addresses and lesson links of the source stay in the translation (the
    translated anchor and the target language's lesson file may differ)."""
    if u.kind not in (Kind.LESSON, Kind.BLOCK, Kind.RICH):
        return
    want, got = links_of(u.source, default, default), links_of(text, lang, default)
    if want != got:
        missing = sorted(set(want) - set(got)) or want
        raise TranslationError(f"{u.id}: keep the links of the source text "
                               f"({', '.join(missing)[:200]}); only their words are "
                               "translated")


def check_target(u: Unit, text: str, lang: str = "", default: str = "") -> None:
    """Refuse a target the builder would refuse, with the string's id (raw HTML, control
    or bidi characters, Markdown in a plain field, a line break where one line is due)."""
    if len(text) > MAX_TEXT:
        raise TranslationError(f"{u.id}: longer than {MAX_TEXT} characters")
    findings = check_plain(text, source=True) if u.kind is Kind.PLAIN else text_findings(text)
    if findings:
        raise TranslationError(f"{u.id}: {findings[0].message}")
    if lang and default:
        check_links(u, text, lang, default)
    one_line = u.kind is Kind.ALT or u.context.startswith(("heading", "cell"))
    if one_line and "\n" in text:
        raise TranslationError(f"{u.id}: must stay on one line")


def save(src: Path, lang: str, changes: dict[str, Change], by: str, on: dt.date
         ) -> list[Entry]:
    """Write the targets of ``changes`` into the source files (TOML in place, lessons
    rebuilt segment by segment) and their statuses into translations/<lang>.toml; then
    bring pack.toml's language lists and review table in step. All checks run before
    anything is written."""
    ex = extract(src, lang)
    units = {u.id: u for u in ex.units}
    for uid, ch in changes.items():
        if uid not in units:
            raise TranslationError(f"unknown string id {uid!r}")
        if ch.text:
            check_target(units[uid], ch.text, lang, ex.langs.default)
        elif ch.status is not Status.UNTRANSLATED:
            raise TranslationError(f"{uid}: an empty translation can only be untranslated")
    marks = load_marks(src, lang)
    by_file: dict[str, list[Edit]] = {}
    lessons: dict[str, dict[int, str]] = {}
    for uid, ch in changes.items():
        u = units[uid]
        if uid in ex.toml:
            s = ex.toml[uid]
            texts = dict(s.texts)
            if ch.text:
                texts[lang] = ch.text
            else:
                texts.pop(lang, None)
            by_file.setdefault(u.file, []).append(Edit((*s.keys,), s.index_path, texts))
        else:
            lessons.setdefault(uid.rpartition("#")[0], {})[int(uid.rpartition("#")[2])] = ch.text
        marks[uid] = Mark(ch.status, source_hash(u.source), by if ch.status in (
            Status.REVIEWED, Status.DRAFT, Status.MACHINE) else "", on,
            source_hash(ch.text) if ch.text else "")
    writes = {rel: apply_edits(read_text(src / rel), edits) for rel, edits in by_file.items()}
    for stem, new in lessons.items():
        rel, text, untranslated = _lesson_text(src, ex, stem, new)
        writes[rel] = text
        for i in untranslated:
            marks.setdefault(f"{stem}#{i}", Mark(Status.UNTRANSLATED,
                                                 source_hash(units[f"{stem}#{i}"].source)))
    for rel, text in writes.items():
        if not (src / rel).is_file() or read_text(src / rel) != text:
            write_atomic(src / rel, text)
    save_marks(src, lang, {k: v for k, v in marks.items() if k in units})
    items = entries(src, lang)
    sync_pack_toml(src, lang, items)
    return items


def _lesson_text(src: Path, ex: Extraction, stem: str, new: dict[int, str]
                 ) -> tuple[str, str, list[int]]:
    """The target lesson's new text, and the source segments left untranslated in it.

    A target file with the source's structure is edited in place; otherwise (no file yet,
    or a different structure) it is rebuilt on the source file: each segment gets its
    translation, its old target text, or the source text (marked untranslated)."""
    pair, _ = ex.segment[f"{stem}#0"]
    if pair.aligned and pair.target is not None:
        template = read_text(src / pair.target_file)
        segs = pair.target
        texts = {i: new.get(i, s.text) or pair.source[i].text for i, s in enumerate(segs)}
        untranslated = [i for i, t in new.items() if not t]
    else:
        template = read_text(src / pair.source_file)
        segs = pair.source
        texts, untranslated = {}, []
        for i, s in enumerate(segs):
            t = pair.target_of[i]
            old = pair.target[t].text if pair.target is not None and t is not None else ""
            texts[i] = new[i] if new.get(i) else (old if i not in new else "") or s.text
            if not (new.get(i) or (old and i not in new)):
                untranslated.append(i)
    out = rebuild(template, segs, texts)
    check = segments(out)
    if [s.shape for s in check] != [s.shape for s in segs] or any(
            check[i].text != t for i, t in texts.items()):
        bad = next((i for i in range(min(len(check), len(segs)))
                    if check[i].shape != segs[i].shape or check[i].text != texts[i]),
                   min(len(check), len(segs)))
        raise TranslationError(f"{stem}.md#{bad}: the translation changes the lesson's "
                               "Markdown structure (a new paragraph, heading, list or table "
                               "row); translate the text of this block only")
    return pair.target_file, out, untranslated


def mark_reviewed(src: Path, lang: str, ids: list[str], by: str, on: dt.date) -> list[Entry]:
    """Sign strings off as reviewed (the target text stays); an untranslated one cannot be."""
    current = {e.unit.id: e for e in entries(src, lang)}
    changes = {}
    for uid in ids:
        e = current.get(uid)
        if e is None:
            raise TranslationError(f"unknown string id {uid!r}")
        if e.status is Status.UNTRANSLATED:
            raise TranslationError(f"{uid}: untranslated; save a translation first")
        changes[uid] = Change(e.unit.target, Status.REVIEWED)
    return save(src, lang, changes, by, on)
