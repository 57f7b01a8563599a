"""Request / response models: these ARE the OpenAPI description of the protocol."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
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
class LearnerProfile(Strict):
    id: str = Field(pattern=UUID_PATTERN, description="UUID made on the device or the server")
    staff_number: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=120)
    role: str = Field(description="A role id of app/core/roles.py")
    language: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    pin_verifier: str | None = Field(default=None, max_length=512,
                                     description="Opaque PIN verifier made on the device; never a PIN")
    updated_at: str = Field(pattern=AT_PATTERN, description="Device clock of the last change")


class PulledProfile(LearnerProfile):
    facility_id: str


class ProfileOutcome(BaseModel):
    id: str
    status: Literal["registered", "updated", "unchanged", "rejected"]
    reason: str | None = None
    existing_id: str | None = Field(default=None,
                                    description="Learner id that already holds the staff number")


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
                    "other_facility", "at_in_future", "at_too_old", "conflict"]
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


class PullResponse(BaseModel):
    events: list[PulledEvent]
    events_cursor: int
    profiles: list[PulledProfile]
    profiles_cursor: int
    more: bool = Field(description="True when another page is waiting: pull again")
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
    staff_number: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=120)
    role: str
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
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
