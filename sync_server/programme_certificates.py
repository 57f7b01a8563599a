"""A programme (pack.toml ``[[programmes]]``) as an Open Badges achievement and credential.

A programme certificate is a certificate like a course certificate — the same signing key
(did:key issuer), the same revocation status lists, ``/verify`` and PDF — whose
achievement is the programme (``achievementType`` ``LearningProgram``; its id
``/achievements/{pack}/programmes/{programme}`` resolves). In the ``certificates`` table it
is stored with ``course_id`` = ``programme:<id>``: a course id cannot hold a colon, so the
table's UNIQUE (learner, pack, course) also makes a programme certificate exactly-once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import sign_credential
from app.core.errors import CertificateError
from sync_server.certificates import CourseAchievement, Issuer, Learner, build_credential

PROGRAMME_PREFIX = "programme:"

#: the programme's sentences per language (lt, ro, de, pt: machine-assisted drafts that a
#: native reviewer still has to check; other languages fall back to English)
TEXTS: dict[str, dict[str, str]] = {
    "en": {"title": "Programme certificate",
           "criteria": "Completed the courses {courses}{profile}{tasks}."},
    "lt": {"title": "Programos pažymėjimas",
           "criteria": "Baigti kursai {courses}{profile}{tasks}."},
    "ro": {"title": "Certificat de program",
           "criteria": "A absolvit cursurile {courses}{profile}{tasks}."},
    "de": {"title": "Programmzertifikat",
           "criteria": "Abgeschlossene Kurse: {courses}{profile}{tasks}."},
    "pt": {"title": "Certificado de programa",
           "criteria": "Concluiu os cursos {courses}{profile}{tasks}."},
}
PARTS: dict[str, dict[str, str]] = {
    "en": {"profile": "; completed a self-assessment against the profile {name}",
           "tasks": "; {n} workplace tasks observed by a mentor or trainer"},
    "lt": {"profile": "; atliktas įsivertinimas pagal profilį {name}",
           "tasks": "; mentoriaus ar mokytojo stebėtos darbo užduotys: {n}"},
    "ro": {"profile": "; a finalizat o autoevaluare după profilul {name}",
           "tasks": "; {n} sarcini de lucru observate de un mentor sau formator"},
    "de": {"profile": "; Selbsteinschätzung zum Profil {name} abgeschlossen",
           "tasks": "; {n} Tätigkeiten am Arbeitsplatz von einer Mentorin, einem Mentor "
                    "oder einer Ausbilderin beobachtet"},
    "pt": {"profile": "; concluiu uma autoavaliação face ao perfil {name}",
           "tasks": "; {n} tarefas no local de trabalho observadas por um mentor ou formador"},
}


def stored_course_id(programme_id: str) -> str:
    return PROGRAMME_PREFIX + programme_id


def programme_of(course_id: str) -> str | None:
    """The programme id of a certificate record's ``course_id`` (None: a course)."""
    return course_id[len(PROGRAMME_PREFIX):] if course_id.startswith(PROGRAMME_PREFIX) else None


def programme_url(public_base_url: str, pack_id: str, programme_id: str) -> str:
    return (f"{public_base_url.rstrip('/')}/achievements/{quote(pack_id, safe='')}/programmes/"
            f"{quote(programme_id, safe='')}")


def _loc(value: Any, language: str, default: str) -> str:
    if isinstance(value, dict):
        for lang in (language, default, "en"):
            if isinstance(value.get(lang), str) and value[lang]:
                return str(value[lang])
    return ""


def programme_achievement(manifest: dict[str, Any], programme_id: str, language: str,
                          public_base_url: str) -> dict[str, Any]:
    """The OB 3.0 ``Achievement`` of a programme in ``language`` (the pack's default when
    the pack lacks it). CertificateError when the manifest has no such programme."""
    default = str(manifest.get("default_language") or "en")
    if language not in (manifest.get("languages") or []):
        language = default
    found = next((p for p in manifest.get("programmes") or []
                  if isinstance(p, dict) and p.get("id") == programme_id), None)
    if found is None:
        raise CertificateError(f"programme {programme_id!r}: not in pack {manifest.get('id')!r}")
    titles = {c.get("id"): _loc(c.get("title"), language, default)
              for c in manifest.get("courses") or [] if isinstance(c, dict)}
    profiles = {p.get("id"): _loc(p.get("title"), language, default)
                for p in manifest.get("profiles") or [] if isinstance(p, dict)}
    words, parts = TEXTS.get(language, TEXTS["en"]), PARTS.get(language, PARTS["en"])
    profile = (parts["profile"].format(name=profiles.get(found["profile"]) or found["profile"])
               if found.get("profile") else "")
    k = int(found.get("observed_tasks") or 0)
    criteria = words["criteria"].format(
        courses=", ".join(titles.get(c) or c for c in found["courses"]), profile=profile,
        tasks=parts["tasks"].format(n=k) if k else "")
    name = _loc(found.get("title"), language, default) or programme_id
    return {"id": programme_url(public_base_url, str(manifest.get("id")), programme_id),
            "type": ["Achievement"], "achievementType": "LearningProgram", "name": name,
            "description": _loc(found.get("description"), language, default) or name,
            "criteria": {"narrative": criteria}, "inLanguage": language}


def programme_credential(private_key: Ed25519PrivateKey, *, credential_id: str, issuer: Issuer,
                         learner: Learner, achievement: dict[str, Any], public_base_url: str,
                         valid_from: datetime, awarded_at: str | None,
                         status: dict[str, str]) -> dict[str, Any]:
    """The signed OpenBadgeCredential of a programme (the course credential's shape, with
    the programme as its achievement and no score)."""
    stand_in = CourseAchievement(pack_id="-", course_id="-", language=achievement["inLanguage"],
                                 name=achievement["name"], description="", pass_mark=0)
    unsigned = build_credential(credential_id=credential_id, issuer=issuer, learner=learner,
                                achievement=stand_in, public_base_url=public_base_url,
                                valid_from=valid_from, awarded_at=awarded_at, status=status)
    unsigned["credentialSubject"]["achievement"] = achievement
    words = TEXTS.get(achievement["inLanguage"], TEXTS["en"])
    unsigned["name"] = f"{words['title']}: {achievement['name']}"
    return sign_credential(unsigned, private_key, created=valid_from)


def achievement_suffix(pack_id: str, course_id: str) -> str:
    """The end of the achievement id a certificate record's credential must carry."""
    programme = programme_of(course_id)
    if programme is None:
        return f"/achievements/{pack_id}/{course_id}"
    return f"/achievements/{pack_id}/programmes/{programme}"
