"""Issuing course certificates on the server (docs/certificates.md).

A certificate is an Open Badges 3.0-shaped ``OpenBadgeCredential`` (JSON), signed with the
server's Ed25519 key by ``app.core.certificates.sign_credential`` — the same module the
device uses to verify it offline — plus a one-page PDF (``certificates_pdf``).

This module only builds and signs; storing, "exactly once per learner + course" and
delivery to devices are the repository's and the sync hook's job (``sync_server/services/issuing.py``).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import (
    CONTEXTS,
    CREDENTIAL_TYPES,
    b58decode,
    b58encode,
    did_key,
    sign_credential,
)
from app.core.errors import CertificateError
from app.core.packs.recognition import EQF_CONCEPT, EQF_FRAMEWORK, recognition_problem

#: Texts of the credential and the PDF per language; other languages fall back to English.
#: lt and ro were written by the developer and still need a native reviewer (docs).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Certificate of completion",
        "awarded_to": "This certifies that",
        "for_course": "has successfully completed the course",
        "issued_on": "Issued on",
        "issuer": "Issuer",
        "skills": "Skills (ESCO)",
        "verify": "Verify this certificate",
        "id": "Certificate ID",
        "criteria": "Completed every lesson of the course and passed its final quiz "
                    "(pass mark {pass_mark} %).",
        "score": "Quiz score",
        "score_name": "Final quiz score (percent)",
        "outcomes": "Learning outcomes — the holder can:",
        "level": "EQF level {level} · notional workload {hours} hours.",
        "esco_labels": "ESCO (labels): {labels}.",
        "occupation": "occupation",
    },
    "lt": {
        "title": "Baigimo pažymėjimas",
        "awarded_to": "Šis pažymėjimas liudija, kad",
        "for_course": "sėkmingai baigė kursą",
        "issued_on": "Išdavimo data",
        "issuer": "Išdavė",
        "skills": "Įgūdžiai (ESCO)",
        "verify": "Patikrinkite šį pažymėjimą",
        "id": "Pažymėjimo ID",
        "criteria": "Išklausytos visos kurso pamokos ir išlaikytas baigiamasis testas "
                    "(išlaikymo riba – {pass_mark} %).",
        "score": "Testo rezultatas",
        "score_name": "Baigiamojo testo rezultatas (procentais)",
        "outcomes": "Mokymosi rezultatai – pažymėjimo turėtojas geba:",
        "level": "EKS lygis {level} · numatomas mokymosi krūvis {hours} val.",
        "esco_labels": "ESCO (pavadinimai): {labels}.",
        "occupation": "profesija",
    },
    "ro": {
        "title": "Certificat de absolvire",
        "awarded_to": "Se certifică faptul că",
        "for_course": "a absolvit cu succes cursul",
        "issued_on": "Data emiterii",
        "issuer": "Emitent",
        "skills": "Competențe (ESCO)",
        "verify": "Verificați acest certificat",
        "id": "ID certificat",
        "criteria": "A parcurs toate lecțiile cursului și a promovat testul final "
                    "(prag de promovare {pass_mark} %).",
        "score": "Scor la test",
        "score_name": "Scorul la testul final (procent)",
        "outcomes": "Rezultatele învățării – titularul poate:",
        "level": "Nivelul EQF {level} · volum de lucru estimat {hours} ore.",
        "esco_labels": "ESCO (denumiri): {labels}.",
        "occupation": "ocupație",
    },
}


def text(language: str, key: str) -> str:
    return TEXTS.get(language, TEXTS["en"]).get(key, TEXTS["en"][key])


@dataclass(frozen=True)
class Issuer:
    """The organisation (prison service) that issues certificates. ``id`` is the
    ``did:key`` of the signing key (``issuer_for``), so the issuer is the controller of
    the proof's verification method, as VC verifiers require."""
    id: str                 # did:key:z6Mk…
    name: str
    url: str | None = None  # the organisation's web site (SHIFT_ORG_URL), if any


def issuer_for(private_key: Ed25519PrivateKey, name: str, url: str | None = None) -> Issuer:
    return Issuer(did_key(private_key.public_key()), name, url)


@dataclass(frozen=True)
class Learner:
    """A staff member (never a prisoner). The staff number never goes on a certificate:
    hashed with a salt that travels in the credential, a number from a small space is
    found by trying them all (docs/certificates.md)."""
    id: str
    name: str
    language: str = "en"


@dataclass(frozen=True)
class Alignment:
    uri: str
    label: str


@dataclass(frozen=True)
class EscoConcept:
    """An ESCO occupation / skill / knowledge concept a course addresses (course.toml
    ``[recognition]``): always a label, a URI only where one was copied from ESCO."""
    kind: str
    label: str
    uri: str | None = None


@dataclass(frozen=True)
class CourseAchievement:
    """A course as an achievement, already in the learner's language. ``outcomes``,
    ``eqf_level``, ``workload_hours`` and ``esco``: the course's learning outcomes and
    recognition data (docs/pack-format.md), empty / None for courses without them."""
    pack_id: str
    course_id: str
    language: str
    name: str
    description: str
    pass_mark: int
    skills: tuple[Alignment, ...] = field(default_factory=tuple)
    outcomes: tuple[str, ...] = ()
    eqf_level: int | None = None
    workload_hours: float | None = None
    esco: tuple[EscoConcept, ...] = ()


def _localized(value: Any, language: str, default_language: str) -> str:
    if isinstance(value, dict):
        for lang in (language, default_language, "en"):
            text = value.get(lang)
            if isinstance(text, str) and text:
                return text
        for item in value.values():
            if isinstance(item, str) and item:
                return item
    return value if isinstance(value, str) else ""


def course_achievement(manifest: dict[str, Any], course_id: str,
                       language: str) -> CourseAchievement:
    """Read a course of a pack manifest (docs/pack-format.md §2) in ``language``.

    Skills without an ESCO URI are left out of the alignment (Open Badges requires a
    targetUrl). Raises CertificateError when the course is not in the manifest.
    """
    if not isinstance(manifest, dict):
        raise CertificateError("manifest: expected an object")
    default = manifest.get("default_language") or "en"
    if language not in (manifest.get("languages") or []):
        language = default
    courses = [c for c in manifest.get("courses") or [] if isinstance(c, dict)]
    course = next((c for c in courses if c.get("id") == course_id), None)
    if course is None:
        raise CertificateError(f"course {course_id!r}: not in pack {manifest.get('id')!r}")
    registry = manifest.get("skills") or {}
    skills: list[Alignment] = []
    for key in course.get("skills") or []:
        entry = registry.get(key) if isinstance(registry, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("uri"), str) and entry["uri"]:
            skills.append(Alignment(entry["uri"],
                                    _localized(entry.get("label"), language, default) or key))
    pass_mark = course.get("pass_mark")
    outcomes = tuple(text for o in course.get("outcomes") or [] if isinstance(o, dict)
                     for text in [_localized(o.get("text"), language, default)] if text)
    recognition = course.get("recognition")
    level = hours = None
    esco: list[EscoConcept] = []
    if isinstance(recognition, dict) and recognition_problem(recognition) is None:
        level, hours = recognition["eqf_level"], recognition["workload_hours"]
        esco = [EscoConcept(e["kind"], e["preferred_label"], e.get("uri"))
                for e in recognition.get("esco", [])]
    return CourseAchievement(
        pack_id=str(manifest.get("id")), course_id=course_id, language=language,
        name=_localized(course.get("title"), language, default) or course_id,
        description=_localized(course.get("summary"), language, default),
        pass_mark=pass_mark if isinstance(pass_mark, int) else 0,
        skills=tuple(skills), outcomes=outcomes, eqf_level=level, workload_hours=hours,
        esco=tuple(esco))


def verify_url(public_base_url: str, credential_id: str) -> str:
    """``{public_base_url}/verify/{uuid}`` for a credential id ``urn:uuid:…`` or a bare UUID."""
    return f"{public_base_url.rstrip('/')}/verify/{bare_id(credential_id)}"


def short_id(credential_id: str) -> str:
    """The 16 bytes of a credential's UUID in base58 (≤ 22 characters, no ``-``): the
    printed verify link fits on one line and cannot break inside the id."""
    return b58encode(uuid.UUID(bare_id(credential_id)).bytes)


def id_from_short(value: str) -> str | None:
    """The UUID of a ``short_id`` (None for anything else: bounded, never raises)."""
    if not 1 <= len(value) <= 24:
        return None
    try:
        raw = b58decode(value)
    except (ValueError, CertificateError):
        return None
    if len(raw) > 16:
        return None
    found = str(uuid.UUID(bytes=raw.rjust(16, b"\0")))
    return found if short_id(found) == value else None


def short_verify_url(public_base_url: str, credential_id: str) -> str:
    """``{public_base_url}/v/{short id}``: redirects to ``verify_url`` (printed on PDFs)."""
    return f"{public_base_url.rstrip('/')}/v/{short_id(credential_id)}"


def bare_id(credential_id: str) -> str:
    """The UUID of a credential id (raises CertificateError if it is none)."""
    try:
        return str(uuid.UUID(str(credential_id).removeprefix("urn:uuid:")))
    except ValueError:
        raise CertificateError(f"certificate id: not a UUID: {credential_id!r}") from None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise CertificateError("date: datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the URLs of a credential, all under the public base URL (one place) ----------------
def achievement_url(public_base_url: str, pack_id: str, course_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/achievements/{quote(pack_id, safe='')}/" \
           f"{quote(course_id, safe='')}"


def status_list_url(public_base_url: str, number: int) -> str:
    return f"{public_base_url.rstrip('/')}/status/{number}"


def issuer_profile_url(public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/issuer"


def score_text(score: float) -> str:
    """A score as OB ``Result.value``: "100", "87.5", "66.67" (never rounded up to a
    pass: 69.99 stays 69.99)."""
    return f"{score:.2f}".rstrip("0").rstrip(".")


def result_description_id(achievement_id: str) -> str:
    """Id of the achievement's ``ResultDescription`` (the quiz score a result reports)."""
    return f"{achievement_id}#quiz-score"


def hours_text(hours: float) -> str:
    return f"{hours:g}"


def criteria_narrative(achievement: CourseAchievement) -> str:
    """What the holder did and can do: the criteria sentence, the learning outcomes, the
    EQF level and notional workload, and the ESCO concepts known only by label (those with
    a URI are alignments). OB 3.0 has no property for a workload in hours (creditsAvailable
    is credit hours), so it is stated here and printed on the PDF."""
    lang = achievement.language
    lines = [text(lang, "criteria").format(pass_mark=achievement.pass_mark)]
    if achievement.outcomes:
        lines += ["", text(lang, "outcomes"), *(f"- {o}" for o in achievement.outcomes)]
    if achievement.eqf_level is not None and achievement.workload_hours is not None:
        lines += ["", text(lang, "level").format(level=achievement.eqf_level,
                                                 hours=hours_text(achievement.workload_hours))]
    labels = [e.label + (f" ({text(lang, 'occupation')})" if e.kind == "occupation" else "")
              for e in achievement.esco if not e.uri]
    if labels:
        lines += [text(lang, "esco_labels").format(labels="; ".join(labels))]
    return "\n".join(lines)


def _alignments(achievement: CourseAchievement) -> list[dict[str, Any]]:
    out = [{"type": ["Alignment"], "targetName": s.label, "targetUrl": s.uri,
            "targetFramework": "ESCO"} for s in achievement.skills]
    seen = {s.uri for s in achievement.skills}
    for e in achievement.esco:
        if e.uri and e.uri not in seen:
            seen.add(e.uri)
            out.append({"type": ["Alignment"], "targetName": e.label, "targetUrl": e.uri,
                        "targetFramework": "ESCO",
                        "targetType": "ext:ESCOOccupation" if e.kind == "occupation"
                        else "ceasn:Competency"})
    if achievement.eqf_level is not None:
        out.append({"type": ["Alignment"], "targetName": f"EQF level {achievement.eqf_level}",
                    "targetCode": str(achievement.eqf_level), "targetFramework": EQF_FRAMEWORK,
                    "targetType": "ext:EQFLevel",
                    "targetUrl": EQF_CONCEPT.format(level=achievement.eqf_level)})
    return out


def achievement_json(achievement: CourseAchievement, public_base_url: str) -> dict[str, Any]:
    """The OB 3.0 ``Achievement`` of a course (in the credential, and served at its id)."""
    achievement_id = achievement_url(public_base_url, achievement.pack_id, achievement.course_id)
    doc: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": achievement.name,
        "description": achievement.description or achievement.name,
        "criteria": {"narrative": criteria_narrative(achievement)},
        "inLanguage": achievement.language,
        "resultDescription": [{
            "id": result_description_id(achievement_id), "type": ["ResultDescription"],
            "name": text(achievement.language, "score_name"), "resultType": "Percent",
            "requiredValue": str(achievement.pass_mark), "valueMin": "0", "valueMax": "100"}],
    }
    alignment = _alignments(achievement)
    if alignment:            # OB: no empty arrays; alignment only when there is one
        doc["alignment"] = alignment
    return doc


def build_credential(*, credential_id: str, issuer: Issuer, learner: Learner,
                     achievement: CourseAchievement, public_base_url: str,
                     valid_from: datetime, awarded_at: str | None = None,
                     score: float | None = None,
                     status: dict[str, str] | None = None) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential (see docs/certificates.md for every field).

    ``score``: the server's score (%) of the counted attempt; ``awarded_at``: when the
    server received the completion; ``status``: the ``credentialStatus`` entry
    (app.core.credential_status.status_entry)."""
    cid = bare_id(credential_id)
    if not learner.name.strip():
        raise CertificateError("learner: name is empty")
    if not issuer.id.startswith("did:key:"):
        raise CertificateError("issuer: id must be the did:key of the signing key")
    lang = achievement.language
    profile: dict[str, Any] = {"id": issuer.id, "type": ["Profile"], "name": issuer.name}
    if issuer.url:
        profile["url"] = issuer.url
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                        "identityHash": learner.name}],
        "achievement": achievement_json(achievement, public_base_url),
    }
    with contextlib.suppress(ValueError):
        subject["id"] = f"urn:uuid:{uuid.UUID(learner.id)}"
    if score is not None:
        subject["result"] = [{"type": ["Result"], "value": score_text(score),
                              "resultDescription": result_description_id(
                                  subject["achievement"]["id"])}]
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "type": list(CREDENTIAL_TYPES),
        "id": f"urn:uuid:{cid}",
        "name": f"{text(lang, 'title')}: {achievement.name}",
        "issuer": profile,
        "validFrom": _iso(valid_from),
        "credentialSubject": subject,
    }
    if awarded_at:
        credential["awardedDate"] = awarded_at
    if status is not None:
        credential["credentialStatus"] = status
    return credential


def issue_credential(private_key: Ed25519PrivateKey, **fields: Any) -> dict[str, Any]:
    """build_credential(**fields), signed; ``proof.created`` = ``valid_from``."""
    unsigned = build_credential(**fields)
    return sign_credential(unsigned, private_key, created=fields["valid_from"])
