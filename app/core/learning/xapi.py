"""Events → xAPI 1.0.3 statements, one per event, for export to any LRS.

    statement(event, home_page="https://learn.example.org") -> dict

* id = the event id (a UUID), so pushing the same event twice is idempotent at the LRS;
* actor = an Agent with an account on the server's home page (the learner id is the
  account name — no name or e-mail ever leaves the device);
* verb = ADL vocabulary IRIs (http://adlnet.gov/expapi/verbs/…), except "earned" for a
  received certificate, which ADL has no verb for (TinCan registry);
* object = an Activity whose id is built from pack / course / item ids under
  `<home_page>/xapi/activities/`;
* result, context (language, registration = attempt or assessment id when it is a UUID,
  pack id and version as extensions, parent course), timestamp = the event's `at`;
  `stored` and `authority` are left to the LRS.
The mapping table is in docs/events.md.

Every event is checked first with the same payload rules as the device and the server
(``check_payload``), and every statement with ``xapi_check.check_statement`` (xAPI 1.0.3)
before it is returned: an event that cannot make a valid statement raises EventError, so
an export reports and skips it instead of sending the LRS something it must refuse.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from app.core.errors import EventError
from app.core.events import validate_event
from app.core.learning.payloads import check_payload
from app.core.learning.xapi_check import check_statement

ADL = "http://adlnet.gov/expapi/verbs/"
ACT = "http://adlnet.gov/expapi/activities/"
VERBS: dict[str, str] = {
    "launched": ADL + "launched",
    "experienced": ADL + "experienced",
    "attempted": ADL + "attempted",
    "answered": ADL + "answered",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "completed": ADL + "completed",
    "responded": ADL + "responded",
    "earned": "http://id.tincanapi.com/verb/earned",
}
EVENT_VERB: dict[str, str] = {
    "lesson.opened": "launched",
    "card.viewed": "experienced",
    "quiz.started": "attempted",
    "answer.given": "answered",
    "quiz.submitted": "passed",          # or "failed", from data.passed
    "course.completed": "completed",
    "review.answered": "answered",
    "selfassessment.started": "attempted",
    "selfassessment.rated": "responded",
    "selfassessment.completed": "completed",
    "certificate.received": "earned",
    "practice.observed": "completed",
    "practice.rated": "responded",
}
_LANG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def _home(home_page: str) -> str:
    parts = urlsplit(home_page or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EventError(f"home_page: expected an absolute http(s) URL, got {home_page!r}")
    return home_page.rstrip("/")


def _activity(act_id: str, act_type: str | None, **definition: Any) -> dict[str, Any]:
    defn = dict(definition)
    if act_type:
        defn["type"] = act_type
    out: dict[str, Any] = {"objectType": "Activity", "id": act_id}
    if defn:
        out["definition"] = defn
    return out


def statement(event: dict[str, Any], *, home_page: str) -> dict[str, Any]:
    """The xAPI 1.0.3 statement of one event (raises EventError for a bad event)."""
    validate_event(event, allow_server_fields=True)
    check_payload(event)
    home = _home(home_page)
    etype = event["type"]
    ref: dict[str, str] = event.get("ref") or {}
    data: dict[str, Any] = event.get("data") or {}
    pack = event.get("pack")
    base = f"{home}/xapi/activities"
    pack_base = f"{base}/{_seg(pack)}" if pack else f"{base}/_"

    def need(key: str) -> str:
        if not ref.get(key):
            raise EventError(f"{etype} {event['id']}: ref.{key}: missing (needed for xAPI)")
        return ref[key]

    course_iri = f"{pack_base}/course/{_seg(ref['course'])}" if ref.get("course") else None
    verb = EVENT_VERB[etype]
    result: dict[str, Any] = {}
    if etype == "lesson.opened":
        obj = _activity(f"{course_iri or pack_base}/lesson/{_seg(need('lesson'))}", ACT + "lesson")
    elif etype == "card.viewed":
        obj = _activity(f"{course_iri}/lesson/{_seg(need('lesson'))}/card/{_seg(need('card'))}",
                        "http://activitystrea.ms/schema/1.0/page")
        if isinstance(data.get("seconds"), int | float) and not isinstance(data["seconds"], bool):
            result["duration"] = duration(data["seconds"])
    elif etype in ("quiz.started", "quiz.submitted"):
        need("course")
        obj = _activity(f"{course_iri}/quiz", ACT + "assessment")
        if etype == "quiz.submitted":
            passed = bool(data.get("passed"))
            verb = "passed" if passed else "failed"
            result.update(success=passed, completion=True)
            result["score"] = _score(data.get("score"), 0, 100)
    elif etype in ("answer.given", "review.answered"):
        need("course")
        choice = [str(c) for c in data.get("choice") or []]
        tf = data.get("type") == "true_false" or (
            "type" not in data and len(choice) == 1 and choice[0] in ("true", "false"))
        obj = _activity(f"{course_iri}/quiz/question/{_seg(need('question'))}",
                        ACT + "cmi.interaction",
                        interactionType="true-false" if tf else "choice")
        result["response"] = choice[0] if tf and choice else "[,]".join(choice)
        if "score" in data:
            result["score"] = _score(data["score"], 0, 1)
            result["success"] = float(data["score"]) >= 1.0
        result["completion"] = True
    elif etype == "course.completed":
        obj = _activity(course_iri or f"{pack_base}/course/_", ACT + "course")
        need("course")
        result.update(completion=True, success=True)
        if data.get("score") is not None:
            result["score"] = _score(data["score"], 0, 100)
    elif etype in ("selfassessment.started", "selfassessment.completed"):
        obj = _activity(f"{pack_base}/profile/{_seg(need('profile'))}", ACT + "assessment")
        need("assessment")
        if etype == "selfassessment.completed":
            result["completion"] = True
    elif etype == "selfassessment.rated":
        obj = _activity(f"{pack_base}/profile/{_seg(need('profile'))}/task/{_seg(need('task'))}",
                        ACT + "cmi.interaction", interactionType="likert")
        level = data.get("level")
        result["response"] = str(level)
        lo, hi = data.get("min"), data.get("max")
        if isinstance(lo, int) and isinstance(hi, int) and isinstance(level, int) \
                and lo <= level <= hi and hi > lo:
            result["score"] = {"raw": level, "min": lo, "max": hi,
                               "scaled": round((level - lo) / (hi - lo), 4)}
    elif etype == "practice.observed":
        obj = _activity(f"{course_iri}/task/{_seg(need('task'))}", ACT + "performance")
        result["completion"] = True
    elif etype == "practice.rated":
        obj = _activity(f"{pack_base}/profile/{_seg(need('profile'))}/task/{_seg(need('task'))}",
                        ACT + "cmi.interaction", interactionType="likert")
        result["response"] = str(data.get("level"))
    else:  # certificate.received
        obj = _activity(f"{base}/certificate/{_seg(need('certificate'))}", None,
                        **({"name": {"en-US": data["title"]}}
                           if isinstance(data.get("title"), str) and data["title"] else {}))
        result["completion"] = True

    context: dict[str, Any] = {"platform": "Shift Learning"}
    lang = data.get("lang")
    if isinstance(lang, str) and _LANG_RE.match(lang):
        context["language"] = lang
    registration = ref.get("attempt") or ref.get("assessment")
    if registration and _is_uuid(registration):
        context["registration"] = str(uuid.UUID(registration))
    extensions: dict[str, Any] = {}
    if pack:
        extensions[f"{home}/xapi/extensions/pack"] = pack
    if event.get("pack_version") is not None:
        extensions[f"{home}/xapi/extensions/pack-version"] = event["pack_version"]
    if etype == "review.answered":
        extensions[f"{home}/xapi/extensions/review"] = True
    if ref.get("mentor"):   # practice.*: the mentor who observed, as the instructor
        context["instructor"] = {"objectType": "Agent", "account": {
            "homePage": home_page, "name": ref["mentor"]}}
    if extensions:
        context["extensions"] = extensions
    if course_iri and obj["id"] != course_iri:
        context["contextActivities"] = {"parent": [_activity(course_iri, ACT + "course")]}

    out: dict[str, Any] = {
        "id": str(uuid.UUID(event["id"])),
        "actor": {"objectType": "Agent",
                  "account": {"homePage": home_page, "name": event["learner"]}},
        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
        "object": obj,
        "context": context,
        "timestamp": event["at"],
    }
    if result:
        out["result"] = result
    check_statement(out)
    return out


def duration(seconds: float) -> str:
    """ISO 8601 duration of a number of seconds: ``PT12.5S``, ``PT86400S`` (fixed-point,
    2 decimals at most: never an exponent)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise EventError(f"data.seconds: expected a duration >= 0, got {seconds!r}")
    return f"PT{f'{float(seconds):.2f}'.rstrip('0').rstrip('.')}S"


def _score(value: Any, lo: float, hi: float) -> dict[str, float]:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise EventError(f"data.score: expected a number {lo:g}–{hi:g}, got {value!r}")
    return {"scaled": round((value - lo) / (hi - lo), 4), "raw": value, "min": lo, "max": hi}
