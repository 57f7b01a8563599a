"""What a translator works on: one string, its source and target text, and its status."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A target string's state. ``NEEDS_REVIEW`` is never stored: it is what a stored
    status becomes when the source text changed since (its hash no longer matches)."""

    UNTRANSLATED = "untranslated"
    MACHINE = "machine"
    DRAFT = "draft"
    REVIEWED = "reviewed"
    NEEDS_REVIEW = "needs-review"


STORED_STATUSES = (Status.MACHINE, Status.DRAFT, Status.REVIEWED)


class Kind(StrEnum):
    """The text rules a string follows (docs/pack-format.md §1 "Text")."""

    PLAIN = "plain"          # titles, prompts, options, feedback, labels
    RICH = "rich"            # quiz case and explanation: Markdown without images or links
    LESSON = "lesson"        # one Markdown block of a lesson (paragraph, heading, item, cell)
    ALT = "alt"              # the alt text of a lesson image (its src is kept)
    BLOCK = "block"          # a lesson block the segmenter could not split: raw Markdown


def source_hash(text: str) -> str:
    """The hash a status is tied to: a changed source string falls back to needs-review."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Unit:
    """One translatable string of the source folder.

    ``id`` is stable across edits of other strings: the file, then ids of questions,
    options, duties … (indexes only where the source has no ids), e.g.
    ``courses/boundaries/quiz.toml:questions[q1].options[a].text`` or
    ``courses/boundaries/01-why.md#3``.
    """

    id: str
    file: str                 # source file (TOML) or lesson stem path (``…/01-why``)
    context: str              # what it is, for the translator (field path or block kind)
    kind: Kind
    source: str
    target: str               # "" when untranslated


@dataclass(frozen=True)
class Mark:
    """A stored status of one target string (translations/<lang>.toml)."""

    status: Status
    source_sha: str
    by: str = ""
    on: dt.date | None = None
    target_sha: str = ""      # the target it was given for ("" for untranslated)


@dataclass(frozen=True)
class Entry:
    """A unit with its effective status in one language (what the workspace shows)."""

    unit: Unit
    status: Status
    by: str = ""
    on: dt.date | None = None


class TranslationError(ValueError):
    """Refused translation input, with what and where (a unit id, a line of a file)."""
