"""The parts of a DACUM profile source (profiles/<id>.toml) that need more than a field
rule: ESCO skill labels, the validation status, and expected levels per role
(docs/pack-format.md "profiles"). Split from source.py, which reads the whole folder."""

from __future__ import annotations

from typing import Any

from app.core.packs.fields import Fields
from app.core.packs.markup import Kind
from app.core.packs.recognition import MAX_ESCO_LABEL

#: ``[validation] status`` of a profile (DACUM chart)
PROFILE_STATUSES = ("draft", "validated")


def esco_labels(t: Fields) -> list[str]:
    """``esco_skills``: preferred labels of the ESCO skills/knowledge a task maps to, as
    ESCO writes them in English. Labels, not URIs: a URI is cited only where someone
    copied it from ESCO (skills.toml), and a label must never pass for one."""
    labels = t.str_list("esco_skills", required=False)
    for label in labels:
        t._check_text("esco_skills", label, Kind.PLAIN)
        if not label.strip() or len(label) > MAX_ESCO_LABEL or label.startswith("http"):
            raise t.error("esco_skills", f"{label!r} is not an ESCO skill label (the "
                                         "English preferred label, at most "
                                         f"{MAX_ESCO_LABEL} characters, not a URI)")
    return labels

def profile_validation(f: Fields) -> dict[str, Any]:
    """``[validation]``: is this DACUM chart a draft written by the authors, or validated
    by a DACUM panel of practitioners (who, when)? The note is shown with the profile."""
    if not f.has("validation"):
        return {}
    v = f.sub("validation", f.table["validation"])
    v.only(["status", "note", "panel", "date"])
    status = v.string("status")
    if status not in PROFILE_STATUSES:
        raise v.error("status", f"must be 'draft' or 'validated', got {status!r}")
    out: dict[str, Any] = {"status": status, "note": v.loc("note")}
    if status == "validated":
        out["panel"] = v.text("panel")
        out["date"] = v.date("date")
    elif v.has("panel") or v.has("date"):
        raise v.error("panel" if v.has("panel") else "date",
                      "a draft profile has no validation panel or date yet; remove them "
                      "or set status = \"validated\"")
    return out



def expected_levels(t: Fields, roles: list[str], levels: list[int]) -> dict[str, int]:
    if not t.has("expected"):
        return {}
    e = t.sub("expected", t.table["expected"])
    out = {}
    for role in e.table:
        if role not in roles:
            raise e.error(role, f"role {role!r} is not in the profile's roles "
                                f"({', '.join(roles)})")
        lvl = e.integer(role)
        if lvl not in levels:
            raise e.error(role, f"level {lvl} is not on the rating scale "
                                f"({', '.join(map(str, levels))})")
        out[role] = lvl
    return out
