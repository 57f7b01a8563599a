"""The translation workspace of a draft (issue 20, docs/authoring.md "Translation
workspace") as services: the role checks, the audit log and one writer per draft around
the domain code of sync_server/authoring/translation/.

    view            strings of one language with status, progress of every language
    save_string     a translator's text for one string (author or reviewer)
    mark_reviewed   sign strings off as reviewed (reviewer or full admin only)
    export_language XLIFF 2.0 or PO of one language (author or reviewer)
    import_language an XLIFF or PO file back (author or reviewer; a reviewer's
                    reviewed/final units stay reviewed, anyone else's become drafts)
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from app.core.clock import now_iso, now_utc
from sync_server.authoring.translation import po, xliff
from sync_server.authoring.translation.exchange import ImportReport, apply_import
from sync_server.authoring.translation.extract import pack_languages
from sync_server.authoring.translation.model import Entry, Status, TranslationError
from sync_server.authoring.translation.workspace import (
    Change,
    Progress,
    entries,
    progress,
    save,
)
from sync_server.authoring.translation.workspace import (
    mark_reviewed as mark_strings_reviewed,
)
from sync_server.db.repository import Admin, Repository
from sync_server.errors import ForbiddenError, ServerError
from sync_server.services import audit, drafts, roles
from sync_server.settings import Settings

FORMATS = ("xliff", "po")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(draft_id: str) -> threading.Lock:
    """One writer per draft at a time (a save reads, changes and writes several files)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(draft_id, threading.Lock())


@dataclass
class WorkspaceView:
    draft_id: str
    pack_id: str
    default_language: str
    lang: str
    entries: list[Entry]
    progress: list[Progress]


def _today() -> dt.date:
    return now_utc().date()


def _source(repo: Repository, settings: Settings, draft_id: str) -> Path:
    return drafts.draft_source_dir(settings=settings, draft_id=draft_id, repo=repo)


def _translator(repo: Repository, by: Admin, action: str, target: str) -> None:
    """Authors and reviewers translate; anyone else is refused (and it is recorded)."""
    if roles.has_role(by, roles.AUTHOR) or roles.has_role(by, roles.REVIEWER):
        return
    audit.record(repo, by.name, action, target=target, outcome="refused",
                 needs="author or reviewer", roles=sorted(roles.roles_of(by)))
    raise ForbiddenError(f"{by.name!r} may not translate: this needs the 'author' or "
                         "'reviewer' role (ask a full administrator)")


def _writable(repo: Repository, draft_id: str) -> None:
    if drafts.get_draft(repo=repo, draft_id=draft_id).status == "closed":
        raise ServerError(f"draft {draft_id} is closed (read-only)")


def _fail(exc: TranslationError) -> ServerError:
    return ServerError(str(exc)[:2000])


def view(*, repo: Repository, settings: Settings, draft_id: str, lang: str = "",
         status: str = "") -> WorkspaceView:
    """The strings of ``lang`` (default: the first target language), filtered by status
    (``""``: all), and the progress of every target language."""
    src = _source(repo, settings, draft_id)
    draft = drafts.get_draft(repo=repo, draft_id=draft_id)
    try:
        langs = pack_languages(src)
        if not langs.targets:
            return WorkspaceView(draft_id, draft.pack_id, langs.default, "", [], [])
        lang = lang or langs.targets[0]
        per_lang = {t: entries(src, t) for t in langs.targets}
    except TranslationError as exc:
        raise _fail(exc) from None
    if lang not in per_lang:
        raise ServerError(f"{lang[:10]!r} is not a target language of this pack "
                          f"({', '.join(langs.targets)})")
    shown = per_lang[lang]
    if status:
        if status not in {s.value for s in Status}:
            raise ServerError(f"status filter {status[:20]!r}: one of "
                              f"{', '.join(s.value for s in Status)}")
        shown = [e for e in shown if e.status.value == status]
    return WorkspaceView(draft_id, draft.pack_id, langs.default, lang, shown,
                         [progress(t, items) for t, items in per_lang.items()])


def save_string(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                lang: str, string_id: str, text: str, machine: bool = False) -> Entry:
    """Store a translator's text (``""``: back to untranslated) as a draft, or as a
    machine translation when ``machine`` (pasted from a machine-translation tool)."""
    _translator(repo, by, "translation.save", draft_id)
    _writable(repo, draft_id)
    src = _source(repo, settings, draft_id)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    status = Status.UNTRANSLATED if not text else Status.MACHINE if machine else Status.DRAFT
    with _lock(draft_id):
        try:
            items = save(src, lang, {string_id: Change(text, status)}, by.name, _today())
        except TranslationError as exc:
            raise _fail(exc) from None
    repo.touch_draft(draft_id, by.name, now_iso(), audit=audit.entry(
        by.name, "translation.save", target=draft_id, lang=lang, string=string_id[:200],
        status=status.value))
    return next(e for e in items if e.unit.id == string_id)


def mark_reviewed(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                  lang: str, string_ids: list[str]) -> list[Entry]:
    """Sign strings off (reviewer or full admin only; refused for anyone else, in the
    service, so no page or API can skip it). When every string of the language is
    reviewed, pack.toml records ``[reviews.<lang>]`` and drops it from machine_translated."""
    roles.require_role(repo, by, roles.REVIEWER, "translation.review", target=draft_id)
    _writable(repo, draft_id)
    src = _source(repo, settings, draft_id)
    with _lock(draft_id):
        try:
            items = mark_strings_reviewed(src, lang, string_ids, by.name, _today())
        except TranslationError as exc:
            raise _fail(exc) from None
    done = all(e.status is Status.REVIEWED for e in items)
    repo.touch_draft(draft_id, by.name, now_iso(), audit=audit.entry(
        by.name, "translation.review", target=draft_id, lang=lang, strings=len(string_ids),
        first=(string_ids[0][:200] if string_ids else ""), language_reviewed=done))
    return items


def export_language(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                    lang: str, fmt: str) -> tuple[str, bytes]:
    """(file name, content) of one language as XLIFF 2.0 or PO."""
    _translator(repo, by, "translation.export", draft_id)
    if fmt not in FORMATS:
        raise ServerError(f"format {fmt[:10]!r}: one of {', '.join(FORMATS)}")
    wv = view(repo=repo, settings=settings, draft_id=draft_id, lang=lang)
    if fmt == "xliff":
        data = xliff.export(wv.entries, wv.default_language, lang, wv.pack_id).encode()
        name = f"{wv.pack_id}.{lang}.xlf"
    else:
        data = po.export(wv.entries, wv.default_language, lang, wv.pack_id)
        name = f"{wv.pack_id}.{lang}.po"
    audit.record(repo, by.name, "translation.export", target=draft_id, lang=lang, format=fmt,
                 strings=len(wv.entries))
    return name, data


def import_language(*, repo: Repository, settings: Settings, by: Admin, draft_id: str,
                    lang: str, fmt: str, data: bytes) -> ImportReport:
    """Apply an XLIFF or PO file of ``lang``; refused as a whole (nothing written) when any
    unit is wrong. Strings whose source changed since the export are reported, not applied."""
    _translator(repo, by, "translation.import", draft_id)
    _writable(repo, draft_id)
    if fmt not in FORMATS:
        raise ServerError(f"format {fmt[:10]!r}: one of {', '.join(FORMATS)}")
    src = _source(repo, settings, draft_id)
    with _lock(draft_id):
        try:
            incoming = xliff.parse(data) if fmt == "xliff" else po.parse(data)
            report = apply_import(src, lang, incoming, by.name, _today(),
                                  may_review=roles.has_role(by, roles.REVIEWER))
        except TranslationError as exc:
            audit.record(repo, by.name, "translation.import", target=draft_id, lang=lang,
                         format=fmt, outcome="refused", reason=str(exc)[:200])
            raise _fail(exc) from None
    repo.touch_draft(draft_id, by.name, now_iso(), audit=audit.entry(
        by.name, "translation.import", target=draft_id, lang=lang, format=fmt,
        applied=len(report.applied), stale=len(report.stale), unchanged=report.unchanged))
    return report
