"""XLIFF 2.0 (OASIS, urn:oasis:names:tc:xliff:document:2.0) export and import of one
language, for professional translation tools.

Export: one ``<file>``, one ``<unit>`` per string; the workspace id is the unit's
``name`` (its ``id`` is the same id with the characters an NMTOKEN cannot hold escaped);
notes carry the place and the text rules; ``state`` is initial / translated / final and
``subState`` keeps machine, draft and needs-review apart (``shift:machine`` …).

Import: parsed with expat directly, DOCTYPE and entity declarations refused before they
are read (no DTD, no entity expansion, no external entity can be fetched), size bounded
by the caller; any element outside the XLIFF core the export writes is ignored, inline
markup inside ``<source>``/``<target>`` is refused (plain text only).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from sync_server.authoring.translation.exchange import ExchangeFile, Incoming, check_size
from sync_server.authoring.translation.model import Entry, Status, TranslationError

NS = "urn:oasis:names:tc:xliff:document:2.0"
_STATE = {Status.UNTRANSLATED: ("initial", ""), Status.MACHINE: ("translated", "shift:machine"),
          Status.DRAFT: ("translated", "shift:draft"),
          Status.NEEDS_REVIEW: ("translated", "shift:needs-review"),
          Status.REVIEWED: ("final", "shift:reviewed")}
_NOT_NMTOKEN = re.compile(r"[^A-Za-z0-9._:-]")
MAX_DEPTH = 16


def unit_id(uid: str) -> str:
    return _NOT_NMTOKEN.sub(lambda m: f"_x{ord(m.group()):04X}_", uid.replace("_", "_x005F_"))


def export(items: list[Entry], source_lang: str, target_lang: str, original: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<xliff xmlns="{NS}" version="2.0" srcLang={quoteattr(source_lang)} '
           f'trgLang={quoteattr(target_lang)}>',
           f'  <file id="f1" original={quoteattr(original)}>']
    for e in items:
        state, sub = _STATE[e.status]
        out.append(f"    <unit id={quoteattr(unit_id(e.unit.id))} name={quoteattr(e.unit.id)}>")
        out.append("      <notes>")
        out.append(f'        <note category="location">{_text(e.unit.context)}</note>')
        out.append(f'        <note category="format">{_text(e.unit.kind.value)}</note>')
        if e.by:
            out.append(f'        <note category="status">{_text(e.status.value)} by '
                       f'{_text(e.by)}{" on " + e.on.isoformat() if e.on else ""}</note>')
        out.append("      </notes>")
        attrs = f"state={quoteattr(state)}" + (f" subState={quoteattr(sub)}" if sub else "")
        out.append(f"      <segment {attrs}>")
        out.append(f"        <source>{_text(e.unit.source)}</source>")
        if e.unit.target:
            out.append(f"        <target>{_text(e.unit.target)}</target>")
        out.append("      </segment>")
        out.append("    </unit>")
    out += ["  </file>", "</xliff>", ""]
    return "\n".join(out)


def _text(s: str) -> str:
    return escape(s).replace("\r", "&#13;")


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    line: int
    text: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


def _parse(text: str) -> _Node:
    """A tree of the document; DTDs, entities and processing of external data refused."""
    p = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    p.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root = _Node("", {}, 0)
    stack = [root]

    def refuse(what: str) -> None:
        raise TranslationError(f"line {p.CurrentLineNumber}: {what} are not allowed in an "
                               "XLIFF import (no DTD, no entities)")

    def start(tag: str, attrs: dict[str, str]) -> None:
        if len(stack) > MAX_DEPTH:
            raise TranslationError(f"line {p.CurrentLineNumber}: elements nested too deep")
        node = _Node(tag, attrs, p.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    p.StartDoctypeDeclHandler = lambda *a: refuse("DOCTYPE declarations")
    p.EntityDeclHandler = lambda *a: refuse("entity declarations")
    p.ExternalEntityRefHandler = lambda *a: refuse("external entities")  # type: ignore[assignment]
    p.StartElementHandler = start
    p.EndElementHandler = lambda tag: stack.pop()
    p.CharacterDataHandler = lambda data: stack[-1].text.append(data)
    try:
        p.Parse(text.encode("utf-8"), True)
    except xml.parsers.expat.ExpatError as exc:
        raise TranslationError(f"line {exc.lineno}: not well-formed XML "
                               f"({xml.parsers.expat.ErrorString(exc.code)})") from None
    if len(root.children) != 1:
        raise TranslationError("not an XLIFF document")
    return root.children[0]


def _q(tag: str) -> str:
    return f"{NS} {tag}"


def parse(data: bytes) -> ExchangeFile:
    root = _parse(check_size(data))
    if root.tag != _q("xliff") or root.attrs.get("version") != "2.0":
        raise TranslationError("not an XLIFF 2.0 document (root <xliff version=\"2.0\"> in "
                               f"namespace {NS})")
    src, trg = root.attrs.get("srcLang", ""), root.attrs.get("trgLang", "")
    if not trg:
        raise TranslationError("the XLIFF document has no trgLang (target language)")
    out = ExchangeFile(src, trg)
    for f in (c for c in root.children if c.tag == _q("file")):
        for unit in (c for c in f.children if c.tag == _q("unit")):
            out.items.append(_unit(unit))
    return out


def _unit(unit: _Node) -> Incoming:
    uid = unit.attrs.get("name") or unit.attrs.get("id", "")
    segs = [c for c in unit.children if c.tag == _q("segment")]
    if len(segs) != 1:
        raise TranslationError(f"line {unit.line}: unit {uid!r} must have exactly one "
                               "<segment> (this workspace exports one per unit)")
    seg = segs[0]
    source = _only_text(seg, "source", uid)
    target = _only_text(seg, "target", uid)
    if source is None:
        raise TranslationError(f"line {seg.line}: unit {uid!r} has no <source>")
    state = seg.attrs.get("state", "initial")
    if state not in ("initial", "translated", "reviewed", "final"):
        raise TranslationError(f"line {seg.line}: unit {uid!r}: unknown state {state!r}")
    status = (Status.UNTRANSLATED if not target else
              Status.REVIEWED if state in ("reviewed", "final") else Status.DRAFT)
    return Incoming(uid, source, target or "", status, unit.line)


def _only_text(seg: _Node, tag: str, uid: str) -> str | None:
    found = [c for c in seg.children if c.tag == _q(tag)]
    if not found:
        return None
    node = found[0]
    if node.children:
        raise TranslationError(f"line {node.children[0].line}: unit {uid!r}: inline markup "
                               f"in <{tag}> is not supported (plain text only)")
    return "".join(node.text)
