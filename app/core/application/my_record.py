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

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape

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


_HTML = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }} — {{ r.learner.display_name }}</title>
<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem;
text-align:left}</style></head><body>
<h1>{{ t.title }}</h1>
<p>{{ r.learner.display_name }} · {{ role }} · {{ t.generated }} {{ r.generated_at }}</p>
<h2>{{ t.courses }}</h2>
{% if not r.courses %}<p>{{ t.none }}</p>{% else %}
<table><tr><th>{{ t.course }}</th><th>{{ t.completed }}</th><th>{{ t.best }}</th>
<th>{{ t.attempts }}</th></tr>
{% for c in r.courses %}<tr><td>{{ c.title }}</td><td>{{ c.completed_at or "–" }}</td>
<td>{{ "–" if c.best_score is none else c.best_score ~ " %" }}</td>
<td>{{ c.quiz_attempts | length }}</td></tr>{% endfor %}</table>{% endif %}
<h2>{{ t.self }}</h2>
{% if not r.self_assessments %}<p>{{ t.none }}</p>{% endif %}
{% for a in r.self_assessments %}<h3>{{ a.profile }} ({{ a.completed_at or a.started_at }})</h3>
<ul>{% for x in a.ratings %}<li>{{ x.task }}: {{ x.level }}</li>{% endfor %}</ul>{% endfor %}
<h2>{{ t.practice }}</h2>
{% if not r.observed_practice %}<p>{{ t.none }}</p>{% endif %}
<ul>{% for p in r.observed_practice %}<li>{{ p.task }} — {{ p.mentor }},
{{ p.date or p.at }}{% if p.level is not none and p.level is defined %} ({{ p.level }}){% endif %}
</li>{% endfor %}</ul>
<h2>{{ t.certificates }}</h2>
{% if not r.certificates %}<p>{{ t.none }}</p>{% endif %}
<ul>{% for c in r.certificates %}<li>{{ c.title or c.course }} · {{ c.received_at }} ·
{{ c.file }}{% if c.verify_url %} · <a href="{{ c.verify_url }}">{{ t.verify }}</a>{% endif %}
</li>{% endfor %}</ul>
</body></html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_TEMPLATE = _ENV.from_string(_HTML)

#: Headings of record.html (translated in the UI catalogs).
HEADINGS = {
    "title": N_("My learning record"), "generated": N_("Made on"),
    "courses": N_("Courses"), "course": N_("Course"), "completed": N_("Completed"),
    "best": N_("Best score"), "attempts": N_("Quiz attempts"),
    "self": N_("Self-assessments"), "practice": N_("Observed practice"),
    "certificates": N_("Certificates"), "verify": N_("Check this certificate online"),
    "none": N_("Nothing yet."),
}


def record_html(record: dict[str, Any], tr: Translator, lang: str) -> str:
    role = record["learner"]["role"]
    return _TEMPLATE.render(r=record, lang=lang, t={k: tr.gettext(v) for k, v in HEADINGS.items()},
                            role=tr.gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else role)


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
