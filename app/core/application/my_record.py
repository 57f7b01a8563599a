"""My progress → "My record": the signed-in learner's own record as one file (issue 15
item 1, device side; GDPR Art. 15 and 20 — the server side is the admin's access export).

The file is a zip:

* ``record.json`` — machine-readable: the profile's public fields, courses (dates,
  scores, quiz attempts, reading time), self-assessments (every rating), observed
  practice (mentor confirmations and ratings), certificates (status on this tablet,
  verify link);
* ``record.html`` — the same, readable, in the learner's language (Jinja2, autoescaped:
  a name or a course title can never become markup);
* ``certificates/<id>.json`` — each Open Badges 3.0 credential exactly as received.
  The certificate PDF is made by the server and never stored on a tablet, so the record
  carries each certificate's verify link (``<server>/verify/<id>``), where the PDF is.

Exactly the signed-in learner's: everything comes from that learner's own events
(``store.events(learner)``, each checked to name the learner) and her own engines. The
one thing about another person is the display name of the mentor who observed her
practice (part of her record: who confirmed it). No staff number, PIN verifier, lock-out
state or device id is written.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.application.profiles import ROLE_LABELS, LearnerProfile
from app.core.application.session import Session
from app.core.clock import now_utc
from app.core.errors import AuthError, ErrorCode
from app.core.events import format_at
from app.core.i18n import N_, Translator
from app.core.learning.views import MyProgress

FORMAT = "shift-learning-record/1"
Event = dict[str, Any]


@dataclass(frozen=True)
class RecordFile:
    """The export: a file name for the person and the zip's bytes."""

    name: str
    data: bytes


def _iso(value: str | None) -> str | None:
    return value or None


def _events(events: Iterable[Event], learner: str, *types: str) -> list[Event]:
    return sorted((e for e in events if e.get("learner") == learner and e.get("type") in types),
                  key=lambda e: (str(e.get("at", "")), int(e.get("seq", 0) or 0)))


def self_assessments(events: list[Event], learner: str) -> list[dict[str, Any]]:
    """Every self-assessment of the learner with its ratings (a later rating of the same
    task in one assessment replaces the earlier one, as in the app)."""
    found: dict[str, dict[str, Any]] = {}
    for e in _events(events, learner, "selfassessment.started", "selfassessment.rated",
                     "selfassessment.completed"):
        ref, data = e.get("ref") or {}, e.get("data") or {}
        key = str(ref.get("assessment", ""))
        item = found.setdefault(key, {"pack": e.get("pack"), "profile": ref.get("profile"),
                                      "assessment": key, "started_at": None,
                                      "completed_at": None, "ratings": {}})
        if e["type"] == "selfassessment.started":
            item["started_at"] = e.get("at")
        elif e["type"] == "selfassessment.completed":
            item["completed_at"] = e.get("at")
        else:
            item["ratings"][str(ref.get("task"))] = {
                "task": ref.get("task"), "duty": ref.get("duty"), "level": data.get("level"),
                "min": data.get("min"), "max": data.get("max"), "at": e.get("at")}
    return [{**a, "ratings": list(a["ratings"].values())} for a in found.values()]


def observed_practice(events: list[Event], learner: str,
                      mentor_name: Callable[[str], str]) -> list[dict[str, Any]]:
    out = []
    for e in _events(events, learner, "practice.observed", "practice.rated"):
        ref, data = e.get("ref") or {}, e.get("data") or {}
        row: dict[str, Any] = {"kind": e["type"].split(".", 1)[1], "pack": e.get("pack"),
                               "task": ref.get("task"),
                               "mentor": mentor_name(str(ref.get("mentor", ""))),
                               "at": e.get("at")}
        if e["type"] == "practice.observed":
            row.update(course=ref.get("course"), date=data.get("date"),
                       checklist=list(data.get("checklist") or []))
        else:
            row.update(profile=ref.get("profile"), level=data.get("level"),
                       self_level=data.get("self_level"))
        out.append(row)
    return out


def record_data(*, profile: LearnerProfile, progress: MyProgress, events: list[Event],
                certificate_status: Callable[[Any], str], mentor_name: Callable[[str], str],
                server_url: str, now: str) -> dict[str, Any]:
    """The record as plain data (``record.json``)."""
    base = server_url.rstrip("/")
    return {
        "format": FORMAT,
        "generated_at": now,
        "learner": {"id": profile.id, "display_name": profile.display_name,
                    "role": profile.role, "language": profile.language},
        "courses": [{
            "pack": r.pack, "course": r.course, "title": r.title.text,
            "completed_at": _iso(r.completed_at), "best_score": r.best_score,
            "reading_seconds": round(r.seconds),
            "quiz_attempts": [{"number": a.number, "at": a.at, "score": a.score,
                               "passed": a.passed} for a in r.attempts]}
            for r in progress.courses],
        "self_assessments": self_assessments(events, profile.id),
        "observed_practice": observed_practice(events, profile.id, mentor_name),
        "certificates": [{
            "id": c.id, "title": c.title, "course": c.course, "pack": c.pack,
            "received_at": c.at, "status_on_this_tablet": certificate_status(c),
            "verify_url": f"{base}/verify/{c.id}" if base else None,
            "file": f"certificates/{c.id}.json"}
            for c in progress.certificates],
    }


#: Headings of record.html (translated in the UI catalogs).
HEADINGS = {
    "title": N_("My learning record"), "generated": N_("Made on"),
    "courses": N_("Courses"), "course": N_("Course"), "completed": N_("Completed"),
    "best": N_("Best score"), "attempts": N_("Quiz attempts"),
    "self": N_("Self-assessments"), "practice": N_("Observed practice"),
    "certificates": N_("Certificates"), "verify": N_("Check this certificate online"),
    "none": N_("Nothing yet."),
}


_STYLE = ("body{font-family:sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}"
          "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;"
          "padding:.3rem;text-align:left}")


def _e(value: Any) -> str:
    """Text of the record as HTML: every value escaped (names, titles and ids come from
    packs, the server and people: never markup)."""
    return html.escape("" if value is None else str(value), quote=True)


def _list(items: list[str], none: str) -> str:
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else \
        f"<p>{_e(none)}</p>"


def record_html(record: dict[str, Any], tr: Translator, lang: str) -> str:
    """record.html: the same facts as record.json, readable; built from escaped pieces
    (no template engine on the tablet)."""
    t = {k: tr.gettext(v) for k, v in HEADINGS.items()}
    role = record["learner"]["role"]
    role = tr.gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else role
    name = record["learner"]["display_name"]
    out = [f'<!doctype html>\n<html lang="{_e(lang)}"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(t['title'])} — {_e(name)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{_e(t['title'])}</h1>",
           f"<p>{_e(name)} · {_e(role)} · {_e(t['generated'])} {_e(record['generated_at'])}</p>",
           f"<h2>{_e(t['courses'])}</h2>"]
    if not record["courses"]:
        out.append(f"<p>{_e(t['none'])}</p>")
    else:
        out.append(f"<table><tr><th>{_e(t['course'])}</th><th>{_e(t['completed'])}</th>"
                   f"<th>{_e(t['best'])}</th><th>{_e(t['attempts'])}</th></tr>")
        for c in record["courses"]:
            best = "–" if c["best_score"] is None else f"{c['best_score']} %"
            out.append(f"<tr><td>{_e(c['title'])}</td><td>{_e(c['completed_at'] or '–')}</td>"
                       f"<td>{_e(best)}</td><td>{len(c['quiz_attempts'])}</td></tr>")
        out.append("</table>")
    out.append(f"<h2>{_e(t['self'])}</h2>")
    if not record["self_assessments"]:
        out.append(f"<p>{_e(t['none'])}</p>")
    for a in record["self_assessments"]:
        out.append(f"<h3>{_e(a['profile'])} ({_e(a.get('completed_at') or a.get('started_at'))})"
                   "</h3>")
        out.append(_list([f"{_e(x['task'])}: {_e(x['level'])}" for x in a["ratings"]], ""))
    out.append(f"<h2>{_e(t['practice'])}</h2>")
    out.append(_list([f"{_e(p['task'])} — {_e(p['mentor'])}, {_e(p.get('date') or p.get('at'))}"
                      + (f" ({_e(p['level'])})" if p.get("level") is not None else "")
                      for p in record["observed_practice"]], t["none"]))
    out.append(f"<h2>{_e(t['certificates'])}</h2>")
    out.append(_list([f"{_e(c['title'] or c['course'])} · {_e(c['received_at'])} · "
                      f"{_e(c['file'])}"
                      + (f' · <a href="{_e(c["verify_url"])}">{_e(t["verify"])}</a>'
                         if c.get("verify_url") else "")
                      for c in record["certificates"]], t["none"]))
    out.append("</body></html>\n")
    return "\n".join(out)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "learner"


def record_zip(record: dict[str, Any], html: str, credentials: dict[str, Any],
               when: datetime) -> bytes:
    """The zip; entry names are fixed or made of certificate UUIDs (no path from data)."""
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, text: str) -> None:
            zf.writestr(zipfile.ZipInfo(name, stamp), text.encode("utf-8"),
                        compress_type=zipfile.ZIP_DEFLATED)
        put("record.json", json.dumps(record, ensure_ascii=False, indent=2))
        put("record.html", html)
        for cert_id, credential in credentials.items():
            if not re.fullmatch(r"[0-9a-f-]{36}", cert_id):
                continue
            put(f"certificates/{cert_id}.json", credential if isinstance(credential, str)
                else json.dumps(credential, ensure_ascii=False, indent=2))
    return buf.getvalue()


def file_name(profile: LearnerProfile, when: datetime) -> str:
    return f"my-record-{_safe_name(profile.display_name)}-{when:%Y-%m-%d}.zip"


def export(session: Session) -> RecordFile:
    """The signed-in learner's record file (AuthError NOT_SIGNED_IN when nobody is)."""
    learner = session.learner
    if learner is None:
        raise AuthError("not signed in", code=ErrorCode.NOT_SIGNED_IN)
    progress = session.learning.my_progress()
    events = [e for e in session.device.store.events(learner.id) if e.get("learner") == learner.id]
    when = now_utc()
    server = session.device.setting("server_url", "")
    record = record_data(
        profile=learner, progress=progress, events=events,
        certificate_status=lambda c: str(session.learning.certificate_check(c).shown),
        mentor_name=session.practice.mentor_name,
        server_url=server if isinstance(server, str) else "", now=format_at(when))
    credentials = {c.id: c.credential for c in progress.certificates}
    html = record_html(record, session.translator, session.locale)
    return RecordFile(file_name(learner, when), record_zip(record, html, credentials, when))
