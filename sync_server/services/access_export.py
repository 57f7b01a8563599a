"""The learner's record as the server holds it (GDPR Art. 15 access, Art. 20
portability): one zip with `record.json` (machine-readable) and `record.html` (for
people), made by an admin from the console, the JSON API or the CLI.

What is in it — everything the server holds about that one learner and nothing about
anyone else: the profile (without the PIN verifier: whether a PIN is set is said), every
stored event, the devices their events came from, their certificates (the signed
credentials), the anonymous summary is *not* included (it is about nobody), and the
audit entries naming them. Making it is itself recorded in the audit log first, so the
file lists its own making.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict
from typing import Any

from jinja2 import Environment, select_autoescape

from app.core.clock import now_iso
from sync_server.db.repository import AuditQuery, Repository
from sync_server.errors import NotFoundError
from sync_server.services import audit
from sync_server.services.erasure import check_learner_id

FORMAT = "shift-learner-record/1"

_HTML = Environment(autoescape=select_autoescape(default=True, default_for_string=True)
                    ).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Learning record of {{ p.display_name }}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .4em;text-align:left;vertical-align:top}</style>
</head><body>
<h1>Learning record of {{ p.display_name }}</h1>
<p>Everything this training server holds about you, made on {{ r.generated_at }}.
The same data is in <code>record.json</code> in this file, for another system.</p>
<h2>Profile</h2>
<table>
<tr><th>Name</th><td>{{ p.display_name }}</td></tr>
<tr><th>Staff number</th><td>{{ p.staff_number }}</td></tr>
<tr><th>Facility</th><td>{{ p.facility_id }}</td></tr>
<tr><th>Role</th><td>{{ p.role }}</td></tr>
<tr><th>Language</th><td>{{ p.language }}</td></tr>
<tr><th>PIN set</th><td>{{ "yes" if p.has_pin else "no" }} (the PIN itself is never stored)</td></tr>
<tr><th>Learner id</th><td>{{ p.id }}</td></tr>
</table>
<h2>Certificates ({{ r.certificates|length }})</h2>
<table><tr><th>Course</th><th>Issued</th><th>Status</th><th>Id</th></tr>
{% for c in r.certificates %}<tr><td>{{ c.pack_id }} / {{ c.course_id }}</td><td>{{ c.issued_at }}</td>
<td>{{ "revoked " ~ c.revoked_at ~ " (" ~ c.revoke_reason ~ ")" if c.revoked_at else "valid" }}</td><td>{{ c.id }}</td></tr>
{% else %}<tr><td colspan="4">none</td></tr>{% endfor %}</table>
<h2>Devices your work came from ({{ r.devices|length }})</h2>
<table><tr><th>Device</th><th>Name</th><th>Facility</th></tr>
{% for d in r.devices %}<tr><td>{{ d.id }}</td><td>{{ d.name }}</td><td>{{ d.facility_id }}</td></tr>{% endfor %}</table>
<h2>Learning events ({{ r.events|length }})</h2>
<table><tr><th>When</th><th>What</th><th>Course / item</th><th>Details</th></tr>
{% for e in r.events %}<tr><td>{{ e.at }}</td><td>{{ e.type }}</td><td>{{ e.pack }} {{ e.ref|tojson }}</td><td>{{ e.data|tojson }}</td></tr>{% endfor %}</table>
<h2>Administrators' actions about you ({{ r.audit|length }})</h2>
<table><tr><th>When</th><th>Who</th><th>What</th><th>Details</th></tr>
{% for a in r.audit %}<tr><td>{{ a.at }}</td><td>{{ a.actor }}</td><td>{{ a.action }}</td><td>{{ a.detail|tojson }}</td></tr>{% endfor %}</table>
</body></html>
""")


def learner_record(*, repo: Repository, learner_id: str) -> dict[str, Any]:
    """Everything held about one learner (module docstring), as JSON-ready data.
    ServerError for a malformed id, NotFoundError for an unknown (or erased) learner."""
    lid = check_learner_id(learner_id)
    p = repo.get_learner(lid)
    if p is None:
        raise NotFoundError(f"learner {lid!r} does not exist")
    events = []
    for stored in repo.learner_events(lid):
        event = json.loads(stored.content)
        event["received_at"] = stored.received_at
        events.append(event)
    device_ids = sorted({str(e.get("device")) for e in events} - {"server"})
    devices = [d for d in (repo.get_device(i) for i in device_ids) if d is not None]
    certs = repo.list_certificates(learner_id=lid, limit=1_000_000)
    entries = [asdict(a) for a in repo.audit_entries(AuditQuery(learner_id=lid,
                                                                limit=1_000_000))]
    return {
        "format": FORMAT, "generated_at": now_iso(),
        "learner": {"id": p.id, "display_name": p.display_name, "staff_number": p.staff_number,
                    "facility_id": p.facility_id, "role": p.role, "language": p.language,
                    "updated_at": p.updated_at, "has_pin": bool(p.pin_verifier),
                    "pin_setup_expires_at": None if p.pin_verifier else p.pin_setup_expires_at},
        "events": events,
        "devices": [{"id": d.id, "name": d.name, "facility_id": d.facility_id,
                     "enrolled_at": d.enrolled_at, "last_seen_at": d.last_seen_at}
                    for d in devices],
        "certificates": [{"id": c.id, "pack_id": c.pack_id, "pack_version": c.pack_version,
                          "course_id": c.course_id, "issued_at": c.issued_at,
                          "revoked_at": c.revoked_at, "revoke_reason": c.revoke_reason,
                          "credential": c.credential} for c in certs],
        "audit": list(reversed(entries)),
    }


def export_zip(*, repo: Repository, learner_id: str, by: str) -> bytes:
    """The zip (record.json + record.html); the export is audited before it is made."""
    lid = check_learner_id(learner_id)
    if repo.get_learner(lid) is None:
        raise NotFoundError(f"learner {lid!r} does not exist")
    audit.record(repo, by, "learner.export", target=lid, learner_id=lid)
    record = learner_record(repo=repo, learner_id=lid)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("record.json", json.dumps(record, ensure_ascii=False, indent=1,
                                              sort_keys=True))
        zf.writestr("record.html", _HTML.render(r=record, p=record["learner"]))
    return out.getvalue()
