"""Is a statement valid xAPI 1.0.3? (Data section 2.4, the rules an LRS enforces.)

``check_statement(statement)`` raises EventError naming the first wrong field
(``result.duration: …``); ``app.core.learning.xapi.statement`` calls it on every statement
it makes, so an event whose payload cannot be expressed (a duration of 10⁷ s written as
``PT1e+07S``, a score outside its range) is refused at export — reported and skipped —
instead of making the LRS refuse a whole batch.

Checked: statement id (UUID), actor (an Agent or Group with exactly one inverse functional
identifier; an account needs an http(s) home page and a name), verb (IRI id, language-map
display), object (Activity with an IRI id; definition name/description language maps, IRI
type, a known interactionType, IRI extension keys), result (score: finite numbers, scaled in
[-1, 1], min < max, raw in [min, max]; success/completion booleans; response a string;
duration an ISO 8601 duration; IRI extension keys), context (registration UUID; context
activities; language tag; IRI extension keys), timestamp (ISO 8601 with a time zone).
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

from app.core.errors import EventError

STATEMENT_KEYS = frozenset({"id", "actor", "verb", "object", "result", "context", "timestamp",
                            "stored", "authority", "version", "attachments"})
INTERACTION_TYPES = frozenset({"true-false", "choice", "fill-in", "long-fill-in", "matching",
                               "performance", "sequencing", "likert", "numeric", "other"})
CONTEXT_ACTIVITY_KEYS = frozenset({"parent", "grouping", "category", "other"})
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_IRL = re.compile(r"^https?://[^\s/?#<>\"]+[^\s<>\"]*$")
_LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
#: ISO 8601 duration as xAPI uses it: at least one component, decimals only on the last
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
                       r"(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def _fail(where: str, what: str) -> EventError:
    return EventError(f"xAPI statement: {where}: {what}")


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "expected an object")
    return value


def _iri(value: Any, where: str) -> None:
    if not isinstance(value, str) or len(value) > 2048 or not _IRI.match(value):
        raise _fail(where, f"expected an absolute IRI, got {value!r:.80}")


def _uuid(value: Any, where: str) -> None:
    try:
        ok = isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        ok = False
    if not ok:
        raise _fail(where, f"expected a UUID, got {value!r:.80}")


def _language_map(value: Any, where: str) -> None:
    for tag, text in _obj(value, where).items():
        if not _LANG.match(tag) or not isinstance(text, str):
            raise _fail(f"{where}.{tag}", "expected an RFC 5646 tag → text")


def _extensions(value: Any, where: str) -> None:
    for key in _obj(value, where):
        _iri(key, f"{where} key")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"expected a finite number, got {value!r:.40}")
    try:
        number = float(value)             # a huge int overflows here: refused, not raised
    except OverflowError:
        raise _fail(where, "expected a finite number, got a number too large") from None
    if not math.isfinite(number):
        raise _fail(where, f"expected a finite number, got {value!r:.40}")
    return number


def _actor(actor: Any) -> None:
    actor = _obj(actor, "actor")
    if actor.get("objectType", "Agent") not in ("Agent", "Group"):
        raise _fail("actor.objectType", "expected Agent or Group")
    ifis = [k for k in IFIS if k in actor]
    if len(ifis) != 1 and not (actor.get("objectType") == "Group" and not ifis):
        raise _fail("actor", f"expected exactly one of {', '.join(IFIS)}")
    if "account" in actor:
        account = _obj(actor["account"], "actor.account")
        home = account.get("homePage")
        if not isinstance(home, str) or not _IRL.match(home):
            raise _fail("actor.account.homePage", "expected an http(s) URL")
        if not isinstance(account.get("name"), str) or not account["name"]:
            raise _fail("actor.account.name", "expected a non-empty string")
    if "mbox" in actor and not (isinstance(actor["mbox"], str)
                                and actor["mbox"].startswith("mailto:")):
        raise _fail("actor.mbox", "expected mailto:…")


def _activity(activity: Any, where: str) -> None:
    activity = _obj(activity, where)
    if activity.get("objectType", "Activity") != "Activity":
        raise _fail(f"{where}.objectType", "expected Activity")
    _iri(activity.get("id"), f"{where}.id")
    if "definition" not in activity:
        return
    definition = _obj(activity["definition"], f"{where}.definition")
    for key in ("name", "description"):
        if key in definition:
            _language_map(definition[key], f"{where}.definition.{key}")
    if "type" in definition:
        _iri(definition["type"], f"{where}.definition.type")
    if "moreInfo" in definition and not (isinstance(definition["moreInfo"], str)
                                         and _IRL.match(definition["moreInfo"])):
        raise _fail(f"{where}.definition.moreInfo", "expected an http(s) URL")
    if "interactionType" in definition \
            and definition["interactionType"] not in INTERACTION_TYPES:
        raise _fail(f"{where}.definition.interactionType",
                    f"not one of {', '.join(sorted(INTERACTION_TYPES))}")
    if "extensions" in definition:
        _extensions(definition["extensions"], f"{where}.definition.extensions")


def _score(score: Any) -> None:
    score = _obj(score, "result.score")
    unknown = set(score) - {"scaled", "raw", "min", "max"}
    if unknown:
        raise _fail("result.score", f"unknown member {sorted(unknown)[0]!r}")
    values = {k: _number(v, f"result.score.{k}") for k, v in score.items()}
    if "scaled" in values and not -1 <= values["scaled"] <= 1:
        raise _fail("result.score.scaled", f"expected -1…1, got {values['scaled']:g}")
    lo, hi, raw = values.get("min"), values.get("max"), values.get("raw")
    if lo is not None and hi is not None and not lo < hi:
        raise _fail("result.score", "min must be less than max")
    if raw is not None and ((lo is not None and raw < lo) or (hi is not None and raw > hi)):
        raise _fail("result.score.raw", f"{raw:g} is outside min–max")


def _result(result: Any) -> None:
    result = _obj(result, "result")
    if "score" in result:
        _score(result["score"])
    for key in ("success", "completion"):
        if key in result and not isinstance(result[key], bool):
            raise _fail(f"result.{key}", "expected true or false")
    if "response" in result and not isinstance(result["response"], str):
        raise _fail("result.response", "expected a string")
    if "duration" in result and not (isinstance(result["duration"], str)
                                     and _DURATION.match(result["duration"])):
        raise _fail("result.duration", f"not an ISO 8601 duration: {result['duration']!r:.40}")
    if "extensions" in result:
        _extensions(result["extensions"], "result.extensions")


def _context(context: Any) -> None:
    context = _obj(context, "context")
    if "registration" in context:
        _uuid(context["registration"], "context.registration")
    for key in ("platform", "revision"):
        if key in context and not isinstance(context[key], str):
            raise _fail(f"context.{key}", "expected a string")
    if "language" in context and not (isinstance(context["language"], str)
                                      and _LANG.match(context["language"])):
        raise _fail("context.language", "expected an RFC 5646 language tag")
    if "contextActivities" in context:
        activities = _obj(context["contextActivities"], "context.contextActivities")
        for key, value in activities.items():
            if key not in CONTEXT_ACTIVITY_KEYS:
                raise _fail("context.contextActivities", f"unknown key {key!r}")
            for i, activity in enumerate(value if isinstance(value, list) else [value]):
                _activity(activity, f"context.contextActivities.{key}[{i}]")
    if "extensions" in context:
        _extensions(context["extensions"], "context.extensions")


def check_statement(statement: Any) -> None:
    """Raise EventError naming the first field that makes `statement` invalid xAPI 1.0.3."""
    statement = _obj(statement, "statement")
    unknown = set(statement) - STATEMENT_KEYS
    if unknown:
        raise _fail("statement", f"unknown member {sorted(unknown)[0]!r}")
    for key in ("actor", "verb", "object"):
        if key not in statement:
            raise _fail(key, "missing")
    if "id" in statement:
        _uuid(statement["id"], "id")
    _actor(statement["actor"])
    verb = _obj(statement["verb"], "verb")
    _iri(verb.get("id"), "verb.id")
    if "display" in verb:
        _language_map(verb["display"], "verb.display")
    _activity(statement["object"], "object")
    if "result" in statement:
        _result(statement["result"])
    if "context" in statement:
        _context(statement["context"])
    if "timestamp" in statement and not (isinstance(statement["timestamp"], str)
                                         and _TIMESTAMP.match(statement["timestamp"])):
        raise _fail("timestamp", "expected an ISO 8601 date-time with a time zone")
