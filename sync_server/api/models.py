"""Request / response models: these ARE the OpenAPI description of the protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core import profile_rules
from app.core.errors import ProfileFieldError
from sync_server.services.facilities import SLUG_PATTERN

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
#: Canonical spelling only (lower case, hyphens): another spelling of the same UUID would
#: be another id (app.core.events.is_canonical_uuid).
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
AT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
MAX_CHUNK = 500
#: Cursors and versions are stored as 64-/32-bit integers; larger values are a 422.
MAX_CURSOR = 2**62
MAX_VERSION = 2**31 - 1
PackId = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong, naming the field when there is one")


#: The `responses=` of a route or router (extra OpenAPI responses), as FastAPI types it.
Responses = dict[int | str, dict[str, Any]]


class QuotaError(BaseModel):
    """429 of a push: the device's quota for this UTC day is used up (services/quota.py)."""
    detail: str
    code: Literal["quota_exceeded"]
    quota: Literal["events_per_day", "bytes_per_day"]
    limit: int
    used: int
    resets_at: str = Field(description="Start of the next UTC day, when the quota resets")
    retry_after: int = Field(description="Seconds until then (also the Retry-After header)")


class ValidationErrorBody(BaseModel):
    """FastAPI's validation error format (`loc` starts with `body`)."""

    detail: list[dict[str, Any]]


# ----- health ----------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]
    database: str = Field(description="sqlite or postgresql")


class VersionInfo(BaseModel):
    server: str
    api: Literal["v1"]
    pack_formats: list[int]
    max_chunk: int
    max_body_bytes: int


# ----- enrolment -------------------------------------------------------------------------
class EnrolRequest(Strict):
    code: str = Field(min_length=1, max_length=64, description="One-time code from the admin")
    device_id: str = Field(pattern=ID_PATTERN, description="Id the device made for itself")
    name: str = Field(min_length=1, max_length=120, description="Human name of the tablet")


class EnrolResponse(BaseModel):
    device_id: str
    facility_id: str
    facility_name: str
    token: str = Field(description="Bearer token for every device call; shown once")


class DeviceInfo(BaseModel):
    device_id: str
    facility_id: str
    facility_name: str
    name: str
    enrolled_at: str


# ----- learner profiles ------------------------------------------------------------------
def _rule(check: Callable[[str], str]) -> AfterValidator:
    """A field checked by the shared profile rules (app/core/profile_rules.py)."""
    def run(value: str) -> str:
        try:
            return check(value)
        except ProfileFieldError as exc:
            raise ValueError(exc.detail) from None
    return AfterValidator(run)


RawText = Annotated[str, Field(max_length=profile_rules.MAX_RAW)]
StaffNumber = Annotated[str, Field(min_length=1, max_length=profile_rules.MAX_RAW,
                                   description="1–64 of A–Z a–z 0–9 space . / _ -, unique per "
                                               "facility (no case, no spaces)"),
                        _rule(profile_rules.staff_number)]
DisplayName = Annotated[str, Field(min_length=1, max_length=profile_rules.MAX_RAW,
                                   description="1–80 characters after NFC; no control or "
                                               "bidi/format characters"),
                        _rule(profile_rules.display_name)]
Language = Annotated[str, Field(max_length=20, description="en, pt_BR, pt-BR …"),
                     _rule(profile_rules.language)]
Role = Annotated[str, Field(max_length=64, description="A role id of app/core/roles.py"),
                 _rule(profile_rules.role)]


class LearnerProfile(Strict):
    """A profile pushed by a tablet. Only the types are checked here: the field rules
    (app/core/profile_rules.py) are applied per profile by the push, which answers a
    refused profile with a reason instead of refusing the whole chunk."""

    id: str = Field(max_length=64, description="UUID made on the device or the server "
                                               "(canonical lower-case form)")
    staff_number: RawText
    display_name: RawText
    role: str = Field(max_length=64, description="A role id of app/core/roles.py")
    language: str = Field(max_length=20)
    pin_verifier: str | None = Field(default=None, max_length=512,
                                     description="PIN verifier made on the device "
                                                 "(app/core/pins.py); never a PIN")
    pin_proof: str | None = Field(default=None, max_length=128,
                                  description="Base64 K of the PIN the server has (or of the "
                                              "one-time set-up code): required when "
                                              "`pin_verifier` changes")
    pin_digits: int | None = Field(default=None, ge=1, le=8,
                                   description="Digits of the PIN behind `pin_verifier` when "
                                               "it was set on the device (a claim: the "
                                               "verifier hides the PIN); a new verifier "
                                               "claiming fewer than the PIN policy is "
                                               "refused. Sent only to a server that "
                                               "announced a `policy`")
    updated_at: str = Field(pattern=AT_PATTERN, description="Device clock of the last change "
                                                            "of name/staff number/role/language; "
                                                            "clamped to the server's clock")


class PulledProfile(BaseModel):
    id: str
    staff_number: str
    display_name: str
    role: str
    language: str
    pin_verifier: str | None = Field(description="null: no PIN yet (set with a set-up code)")
    updated_at: str
    facility_id: str
    pin_setup_verifier: str | None = Field(
        default=None, description="Verifier of the one-time PIN set-up code, while no PIN")
    pin_setup_expires_at: str | None = None


class ProfileOutcome(BaseModel):
    id: str
    status: Literal["registered", "updated", "unchanged", "rejected"]
    reason: str | None = Field(default=None, description="staff_number_taken, other_facility, "
                               "unknown_role, bad_field, pin_not_proven, erased")
    existing_id: str | None = Field(default=None, description="Learner id of the same facility "
                                    "that already holds the staff number")
    detail: str | None = Field(default=None, description="What is wrong, naming the field")
    current: PulledProfile | None = Field(default=None, description="The server's copy after a "
                                          "refused PIN change (the tablet takes it)")


# ----- sync ------------------------------------------------------------------------------
class PushRequest(Strict):
    profiles: list[LearnerProfile] = Field(default_factory=list, max_length=MAX_CHUNK,
                                           description="Profiles made or changed on the device; "
                                                       "saved before the events")
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_CHUNK,
                                         description="Event envelopes (app/core/events.py)")


class Rejected(BaseModel):
    index: int = Field(description="Position in the pushed `events` list")
    id: str | None
    reason: Literal["bad_schema", "server_only", "bad_payload", "unknown_learner",
                    "other_facility", "at_in_future", "at_too_old", "conflict", "erased"]
    detail: str


class PushResponse(BaseModel):
    stored: list[str]
    duplicate: list[str]
    rejected: list[Rejected]
    profiles: list[ProfileOutcome]
    received_at: str


class PullRequest(Strict):
    events_after: int = Field(default=0, ge=0, le=MAX_CURSOR, description="`events_cursor` of the last pull")
    profiles_after: int = Field(default=0, ge=0, le=MAX_CURSOR, description="`profiles_cursor` of the last pull")
    limit: int = Field(default=1000, ge=1, le=5000, description="Max events in this page")
    tombstones_after: int = Field(default=0, ge=0, le=MAX_CURSOR,
                                  description="`tombstones_cursor` of the last pull")
    installed_packs: dict[PackId, Annotated[int, Field(ge=1, le=MAX_VERSION)]] = Field(default_factory=dict, max_length=1000,
                                            description="pack id → installed version")


class PulledEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    learner: str
    device: str
    seq: int
    at: str
    type: str
    received_at: str


class PulledTombstone(BaseModel):
    learner: str = Field(description="id of an erased learner: purge everything of theirs")
    erased_at: str


class DevicePolicy(BaseModel):
    pin_min_digits: int = Field(ge=4, le=8, description="Fewest digits of a new PIN "
                                "(SHIFT_PIN_DIGITS); the tablet keeps the last value")
    retention_events_years: int | None = Field(
        default=None, ge=0, le=1000, description="Years after which raw events are aged out "
        "(SHIFT_RETENTION_EVENTS_YEARS; 0 = kept): the server's rule, which tablets follow "
        "for events the server has (docs/privacy.md §5)")


class PullResponse(BaseModel):
    events: list[PulledEvent]
    events_cursor: int
    profiles: list[PulledProfile]
    profiles_cursor: int
    tombstones: list[PulledTombstone] = Field(
        default_factory=list, description="Learners erased on the server after "
        "`tombstones_after` (every facility); docs/sync-protocol.md §4.7")
    tombstones_cursor: int = 0
    more: bool = Field(description="True when another page is waiting: pull again")
    policy: DevicePolicy | None = Field(default=None, description="Deployment policy for "
                                        "the tablet (docs/sync-protocol.md §4.1)")
    server_epoch: str = Field(
        description="Random id of the server database's history; it changes when the "
                    "database is restored from a backup. A client that sees a different "
                    "value than before pulls again from cursor 0 and offers its history "
                    "again (the server may have lost events it had acknowledged)")


# ----- packs (device side) ---------------------------------------------------------------
class CatalogueEntry(BaseModel):
    id: str
    version: int
    title: dict[str, str]
    roles: list[str] = Field(description="Audience roles; empty = every role")
    total_bytes: int
    manifest_url: str
    signature_url: str
    published_at: str


class Catalogue(BaseModel):
    packs: list[CatalogueEntry]
    withdrawn: list[str] = Field(default_factory=list, description=(
        "Pack ids withdrawn from this device's facility: hide them (progress is kept); "
        "a pack back in `packs` is shown again"))


# ----- admin -----------------------------------------------------------------------------
class LoginRequest(Strict):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    token: str
    expires_at: str


class FacilityIn(Strict):
    id: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class FacilityOut(BaseModel):
    id: str
    name: str
    created_at: str


class EnrolCodeRequest(Strict):
    facility_id: str = Field(pattern=SLUG_PATTERN)
    ttl_seconds: int | None = Field(default=None, ge=60, le=90 * 24 * 3600)


class EnrolCodeResponse(BaseModel):
    code: str = Field(description="Shown once; stored only as a hash")
    facility_id: str
    expires_at: str


class DeviceOut(BaseModel):
    id: str
    facility_id: str
    name: str
    enrolled_at: str
    revoked_at: str | None
    last_seen_at: str | None


class LearnerIn(Strict):
    id: str | None = Field(default=None, pattern=UUID_PATTERN)
    staff_number: StaffNumber
    display_name: DisplayName
    role: Role
    language: Language = "en"
    facility_id: str = Field(pattern=SLUG_PATTERN)


class LearnerOut(BaseModel):
    id: str
    staff_number: str
    display_name: str
    role: str
    language: str
    facility_id: str
    updated_at: str
    has_pin: bool
    pin_setup_expires_at: str | None = Field(
        default=None, description="While the learner has no PIN: when the open set-up code "
                                  "expires (null: none open)")


class LearnerCreated(LearnerOut):
    pin_setup_code: str = Field(description="One-time code the learner types on a tablet to "
                                            "set a first PIN; shown once, stored as a verifier")


class PinSetupOut(BaseModel):
    learner_id: str
    code: str = Field(description="Shown once; stored only as a verifier")
    expires_at: str


class PackVersionOut(BaseModel):
    id: str
    version: int
    title: dict[str, str]
    total_bytes: int
    uploaded_at: str
    uploaded_by: str


class PublishRequest(Strict):
    version: int = Field(ge=1, le=MAX_VERSION)
    facilities: list[str] = Field(default_factory=list, max_length=1000,
                                  description="Facility ids; empty = every facility")
    roles: list[str] = Field(default_factory=list, max_length=50,
                             description="Role ids; empty = every role")


class PublicationOut(BaseModel):
    id: int
    pack_id: str
    version: int
    facilities: list[str]
    roles: list[str]
    published_at: str
    published_by: str
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None


class WithdrawOut(BaseModel):
    pack_id: str
    withdrawn: int = Field(description="How many publications ended")


class InstalledOut(BaseModel):
    device_id: str
    facility_id: str
    pack_id: str
    version: int
    reported_at: str


class StatsOut(BaseModel):
    events_total: int
    events_by_facility: dict[str, int]
    devices: int
    learners: int
