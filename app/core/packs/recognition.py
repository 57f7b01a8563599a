"""Recognition data of a course (docs/pack-format.md "Recognition data"): the EQF level,
the notional workload in hours and the ESCO occupations / skills the course addresses.

One rule set, ``recognition_problem``, judges the ``recognition`` object on both sides:
the builder (``read_recognition``, from course.toml ``[recognition]``) and every reader
of a built manifest (``app.core.packs.manifest``: devices and the server). The server
carries the data into the Open Badges achievement and onto the certificate PDF.

ESCO URIs are optional and only ever copied from ESCO: a URI must have the exact shape of
an ESCO concept URI of its kind (``http://data.europa.eu/esco/occupation/<uuid>``,
``…/skill/<uuid>``); a label without a known URI stays a label.
"""

from __future__ import annotations

import math
import re
from typing import Any

from app.core.packs.fields import Fields

EQF_LEVELS = range(1, 9)
MAX_WORKLOAD_HOURS = 2000
MAX_ESCO_ENTRIES = 50
MAX_ESCO_LABEL = 200
#: kind of an ESCO concept → the prefix of its URIs (knowledge concepts are in ESCO's
#: skill pillar: their URIs are …/skill/ too)
ESCO_KINDS = {"occupation": "http://data.europa.eu/esco/occupation/",
              "skill": "http://data.europa.eu/esco/skill/",
              "knowledge": "http://data.europa.eu/esco/skill/"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: EQF level concepts of the European Learning Model vocabulary (as used by Europass and
#: EBSI diplomas: http://data.europa.eu/snb/eqf/<level>)
EQF_CONCEPT = "http://data.europa.eu/snb/eqf/{level}"
EQF_FRAMEWORK = "European Qualifications Framework for lifelong learning (EQF)"


def recognition_problem(value: Any) -> tuple[str, str] | None:
    """``(field, message)`` of the first broken rule of a ``recognition`` object (field
    relative to it, e.g. ``esco[1].uri``), or None when it is valid."""
    if not isinstance(value, dict):
        return "", "must be a table / object"
    unknown = sorted(set(value) - {"eqf_level", "workload_hours", "esco"})
    if unknown:
        return unknown[0], (f"unknown field {unknown[0]!r}; allowed: eqf_level, esco, "
                            "workload_hours")
    level = value.get("eqf_level")
    if isinstance(level, bool) or not isinstance(level, int) or level not in EQF_LEVELS:
        return "eqf_level", f"must be an EQF level 1–8, got {level!r}"
    hours = value.get("workload_hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) \
            or (isinstance(hours, float) and not math.isfinite(hours)) or not 0 < hours <= MAX_WORKLOAD_HOURS \
            or not float(hours * 2).is_integer():
        return "workload_hours", (f"must be a number of hours, 0.5–{MAX_WORKLOAD_HOURS} in "
                                  f"steps of 0.5, got {hours!r}")
    if "esco" not in value:
        return None
    esco = value["esco"]
    if not isinstance(esco, list) or not 1 <= len(esco) <= MAX_ESCO_ENTRIES:
        return "esco", f"must be a list of 1–{MAX_ESCO_ENTRIES} ESCO entries"
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(esco):
        problem = _esco_problem(entry, seen)
        if problem:
            return f"esco[{i}]{problem[0]}", problem[1]
    return None


def _esco_problem(entry: Any, seen: set[tuple[str, str]]) -> tuple[str, str] | None:
    if not isinstance(entry, dict):
        return "", "must be a table with kind, preferred_label and (optional) uri"
    unknown = sorted(set(entry) - {"kind", "preferred_label", "uri"})
    if unknown:
        return f".{unknown[0]}", f"unknown field {unknown[0]!r}; allowed: kind, preferred_label, uri"
    kind = entry.get("kind")
    if kind not in ESCO_KINDS:
        return ".kind", f"must be one of {', '.join(ESCO_KINDS)}, got {kind!r}"
    label = entry.get("preferred_label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_ESCO_LABEL \
            or label.lower().startswith("http"):
        return ".preferred_label", (f"{label!r} is not an ESCO label (the English preferred label, "
                          f"1–{MAX_ESCO_LABEL} characters, not a URI)")
    if (kind, label) in seen:
        return ".preferred_label", f"{kind} {label!r} is listed twice"
    seen.add((kind, label))
    if "uri" in entry:
        uri = entry["uri"]
        prefix = ESCO_KINDS[kind]
        if not isinstance(uri, str) or not uri.startswith(prefix) \
                or not _UUID.match(uri[len(prefix):]):
            return ".uri", (f"{uri!r} is not an ESCO {kind} URI ({prefix}<uuid>); leave the "
                            "uri out unless it was copied from ESCO")
    return None


def read_recognition(course: Fields) -> dict[str, Any] | None:
    """course.toml ``[recognition]`` as its manifest object (None when absent). Types and
    text are read with the source field rules; the shared rules then judge the whole."""
    if not course.has("recognition"):
        return None
    r = course.sub("recognition", course.table["recognition"])
    r.only(["eqf_level", "workload_hours", "esco"])
    out: dict[str, Any] = dict(r.table)
    if r.has("esco"):
        entries = []
        for e in r.tables("esco"):
            e.only(["kind", "preferred_label", "uri"])
            entry: dict[str, Any] = {"kind": e.string("kind"),
                                     "preferred_label": e.text("preferred_label")}
            uri = e.string("uri", required=False, nonempty=False)
            if uri:
                entry["uri"] = uri
            entries.append(entry)
        out["esco"] = entries
    problem = recognition_problem(out)
    if problem:
        field, message = problem
        raise r.error(field, message) if field else r.doc.error(r.prefix, message)
    return out
