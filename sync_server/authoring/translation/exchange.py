"""What an XLIFF or PO file of one language carries, and applying it to a source folder.

Both formats are read into the same ``Incoming`` list and checked in full before one
``workspace.save``: a wrong language, an unknown or repeated id, a target the builder
would refuse (raw HTML, control or bidi characters) refuses the whole file and nothing
is written. A string whose source text changed since the export is *not* applied: it is
listed in the report as stale, for the translator to look at again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sync_server.authoring.translation.extract import pack_languages
from sync_server.authoring.translation.model import Status, TranslationError
from sync_server.authoring.translation.workspace import Change, check_target, entries, save

MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_UNITS = 50_000


@dataclass(frozen=True)
class Incoming:
    """One string of an imported file. ``status`` is what the file says about it
    (UNTRANSLATED when it has no target; REVIEWED only for XLIFF reviewed/final)."""

    id: str
    source: str
    target: str
    status: Status
    line: int = 0


@dataclass
class ExchangeFile:
    source_lang: str
    target_lang: str
    items: list[Incoming] = field(default_factory=list)


@dataclass
class ImportReport:
    applied: list[str] = field(default_factory=list)
    unchanged: int = 0
    stale: list[str] = field(default_factory=list)      # source changed since the export
    skipped_empty: int = 0


def check_size(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise TranslationError(f"file too large: {len(data)} bytes (at most "
                               f"{MAX_IMPORT_BYTES})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TranslationError(f"line {line}: the file is not valid UTF-8") from None


def apply_import(src: Path, lang: str, incoming: ExchangeFile, by: str, on: dt.date, *,
                 may_review: bool) -> ImportReport:
    """Apply an imported language file. ``may_review``: the importer is a reviewer, so a
    changed string the file marks reviewed/final is stored reviewed (else draft)."""
    current = {e.unit.id: e for e in entries(src, lang)}
    langs = pack_languages(src)
    if incoming.target_lang != lang:
        raise TranslationError(f"the file is for language {incoming.target_lang!r}, not "
                               f"{lang!r}")
    if len(incoming.items) > MAX_UNITS:
        raise TranslationError(f"too many strings: {len(incoming.items)} (at most {MAX_UNITS})")
    seen: set[str] = set()
    report = ImportReport()
    changes: dict[str, Change] = {}
    for item in incoming.items:
        where = f"line {item.line}: " if item.line else ""
        e = current.get(item.id)
        if e is None:
            raise TranslationError(f"{where}unknown string id {item.id!r} (not in this pack; "
                                   "was the file exported from another pack or version?)")
        if item.id in seen:
            raise TranslationError(f"{where}string id {item.id!r} appears twice")
        seen.add(item.id)
        if item.target:
            check_target(e.unit, item.target, lang, langs.default)
        if item.source != e.unit.source:
            report.stale.append(item.id)
            continue
        if not item.target:
            report.skipped_empty += 1
            continue
        signs_off = item.status is Status.REVIEWED and may_review
        if item.target == e.unit.target and (e.status is Status.REVIEWED or not signs_off):
            report.unchanged += 1
            continue
        status = Status.REVIEWED if signs_off else Status.DRAFT
        changes[item.id] = Change(item.target, status)
    if changes:
        save(src, lang, changes, by, on)
    report.applied = list(changes)
    return report
