"""The admin's sentence for a service's refusal, in the page's language, chosen by the
refusal's stable key (`ServerError.refusal`, with its `facts`) — never by its English
text. A refusal without a key (or with one not listed here) is shown as the service
wrote it, in English (docs/admin-guide.md "Language")."""

from __future__ import annotations

import re

from app.core.errors import ShiftError
from app.core.i18n import N_
from sync_server.admin.i18n import Tr
from sync_server.errors import ServerError

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: refusal key → the sentence (English msgid; `%(fact)s` placeholders)
SENTENCES: dict[str, str] = {
    "facility_name_length": N_("Facility name: 1–%(max)s characters."),
    "facility_name_characters": N_("Facility name: contains control or invisible characters."),
    "facility_id_format": N_("Facility id “%(id)s”: use lower-case letters, digits, - and _ "
                             "(at most 64)."),
    "audience_no_facility": N_("Choose the facilities to publish to (or tick \"all "
                               "facilities\"): nothing is published to everyone by default."),
    "audience_no_role": N_("Choose the roles to publish to (or tick \"all roles\"): nothing is "
                           "published to everyone by default."),
    "learner_deactivated": N_("%(name)s is deactivated: reactivate them first (that makes a "
                              "new PIN set-up code)."),
    "learner_there_already": N_("%(name)s is in %(facility)s already."),
    "learner_deactivated_already": N_("%(name)s is deactivated already."),
    "learner_active": N_("%(name)s is active."),
}


def refusal_text(t: Tr, exc: ShiftError) -> str:
    """`exc` in the admin's language when its refusal has a sentence, else its text."""
    if t.lang == "en":                 # the source language: the service's own words
        return str(exc)
    key = getattr(exc, "refusal", "") if isinstance(exc, ServerError) else ""
    sentence = SENTENCES.get(key)
    if sentence is None:
        return str(exc)
    facts = {k: str(v) for k, v in getattr(exc, "facts", {}).items()}
    if not set(_PLACEHOLDER.findall(sentence)) <= set(facts):
        return str(exc)                        # a fact missing: the service's own words
    return t.gettext(sentence, **facts)
