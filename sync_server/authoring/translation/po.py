"""gettext PO export and import of one language (babel's reader and writer).

Each string is one message: ``msgctxt`` the workspace id, ``msgid`` the source text,
``msgstr`` the target (empty: untranslated); ``#.`` comments give the place, the text
rules and the status; machine, draft and needs-review strings are ``#, fuzzy`` (a PO
tool shows them as "needs work"), reviewed ones are not. The ``Language`` header names the
target language and is checked on import. A PO file cannot say "reviewed": a changed
string imported from PO is stored as a draft, for a reviewer to sign off.
"""

from __future__ import annotations

import io

from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, write_po

from sync_server.authoring.translation.exchange import ExchangeFile, Incoming, check_size
from sync_server.authoring.translation.model import Entry, Status, TranslationError

_FUZZY = (Status.MACHINE, Status.DRAFT, Status.NEEDS_REVIEW)


def export(items: list[Entry], source_lang: str, target_lang: str, project: str) -> bytes:
    catalog = Catalog(project=project, fuzzy=False, charset="utf-8",
                      header_comment=f"# {project}: {source_lang} -> {target_lang}, exported "
                                     "by the Shift Learning translation workspace.\n"
                                     "# Keep msgctxt (the string id); translate msgstr.")
    for e in items:
        comments = [f"{e.unit.context} ({e.unit.kind.value}; source: {source_lang})",
                    f"status: {e.status.value}" + (f" by {e.by}" if e.by else "")
                    + (f" on {e.on.isoformat()}" if e.on else "")]
        catalog.add(e.unit.source, e.unit.target, context=e.unit.id,
                    auto_comments=comments,
                    flags=("fuzzy",) if e.status in _FUZZY and e.unit.target else ())
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, omit_header=False)
    text = buf.getvalue().decode("utf-8")
    # babel writes the header without a Language; name the target language there
    text = text.replace('"Content-Type:', f'"Language: {target_lang}\\n"\n"Content-Type:', 1)
    return text.encode("utf-8")


def parse(data: bytes) -> ExchangeFile:
    text = check_size(data)
    try:
        catalog = read_po(io.StringIO(text), abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        raise TranslationError(f"not a readable PO file ({exc})") from None
    headers = {k.lower(): v for k, v in catalog.mime_headers}
    lang = headers.get("language", "").strip()
    if not lang:
        raise TranslationError("the PO file has no Language header (the target language)")
    out = ExchangeFile("", lang)
    for msg in catalog:
        if not msg.id:
            continue
        if msg.pluralizable or not isinstance(msg.id, str) or not isinstance(msg.string, str):
            raise TranslationError(f"line {msg.lineno}: plural forms are not used by packs")
        if not msg.context:
            raise TranslationError(f"line {msg.lineno}: message without msgctxt (the string "
                                   "id); export the language again")
        status = Status.UNTRANSLATED if not msg.string else Status.DRAFT
        out.items.append(Incoming(msg.context, msg.id, msg.string or "", status, msg.lineno or 0))
    return out
