"""The device's application layer: what the screens (app/ui) call. No Flet, no httpx.

It turns a tap into a use case on the domain below it (app/core/learning, assessment,
store, packs) and answers with typed results the UI renders — never with UI routes or
widgets. Each module has one concern:

==================  ===================================================================
``device``          Device: one tablet's data folder (store, packs, syncer) — open/close,
                    settings, storage, "new profile"
``session``         Session: one screen's sign-in, PIN pad, idle lock, language
``learner_work``    LearnerWork: the signed-in learner's two engines, fed by the store
``learning``        Learning: read cards, quiz, review, progress (places: CardPlace…)
``assessment``      Assessment: self-assessment and gap report
``profiles``        ProfileTile, LearnerProfile, role labels
``forms``           the "new profile" / "Set your PIN" checks (ProfileFormError)
``pin_texts``       the PIN pad's sentences
``idle``            IdleLock, its timeout and the "Still there?" window (IdleState)
``display``         text size and contrast: per learner, with the tablet's default
``quiz_position``   "Question n of total" counted like the course outline
``content``         installed packs: catalog, lesson files, images, licences
``certificates``    which received certificates are genuine (offline)
``cards``           a card's Markdown blocks and images; ``lesson:`` links
``sync``            the Syncer seam, SyncStatus, ProgressText, SyncSummary
``sync_report``     SyncReport: what one sync moved
``view_state``      SessionView: transient screen state (typed PIN, form fields…)
==================  ===================================================================

Import what you need from this package (the names below); the modules are the map.
"""

from app.core.application.assessment import Assessment
from app.core.application.cards import Block, card_blocks, lesson_link_target
from app.core.application.certificates import CertificateTrust
from app.core.application.content import InstalledContent, PackLicence
from app.core.application.device import Device
from app.core.application.display import TEXT_SCALE, TEXT_SIZES
from app.core.application.forms import (
    CODE_MAX,
    NAME_MAX,
    STAFF_NUMBER_MAX,
    NewProfile,
    ProfileFormError,
    validate_new_pin,
    validate_new_profile,
)
from app.core.application.idle import (
    DEFAULT_IDLE_LOCK_SECONDS,
    IdleLock,
    IdleState,
    clamp_idle_seconds,
)
from app.core.application.learner_work import LearnerWork
from app.core.application.learning import CardPlace, CoursePlace, Learning
from app.core.application.my_record import RecordFile
from app.core.application.my_record import export as export_my_record
from app.core.application.pin_texts import pin_error_message, wait_seconds_of
from app.core.application.profiles import (
    ROLE_LABELS,
    LearnerProfile,
    ProfileTile,
    initials,
)
from app.core.application.quiz_position import QuizPosition, quiz_position
from app.core.application.session import Session
from app.core.application.sync import (
    PHASE_TEXT,
    PHASES,
    PhaseProgress,
    ProgressText,
    Syncer,
    SyncerFactory,
    SyncProgress,
    SyncState,
    SyncStatus,
    SyncSummary,
)
from app.core.application.sync_report import PackOutcome, SyncReport
from app.core.application.view_state import Flash, SessionView

__all__ = [
    "CODE_MAX", "DEFAULT_IDLE_LOCK_SECONDS", "NAME_MAX", "PHASES", "PHASE_TEXT", "ROLE_LABELS",
    "STAFF_NUMBER_MAX", "TEXT_SCALE", "TEXT_SIZES", "Assessment", "Block", "CardPlace",
    "CertificateTrust", "CoursePlace", "Device", "Flash", "IdleLock", "IdleState", "QuizPosition", "quiz_position", "InstalledContent",
    "LearnerProfile", "LearnerWork", "Learning", "NewProfile", "PackLicence", "PackOutcome",
    "PhaseProgress", "ProfileFormError", "ProfileTile", "ProgressText", "RecordFile", "Session",
    "SessionView", "SyncProgress", "SyncReport", "SyncState", "SyncStatus", "SyncSummary",
    "Syncer", "SyncerFactory", "card_blocks", "clamp_idle_seconds", "export_my_record",
    "initials",
    "lesson_link_target", "pin_error_message", "validate_new_pin", "validate_new_profile",
    "wait_seconds_of",
]
