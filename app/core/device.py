"""The device facade: what the Flet views call (docs/app.md "Device facade").

One :class:`Device` per data folder (the tablet): it opens the Store and the pack
library. One :class:`Session` per screen (browser tab / app window): it holds the
signed-in learner, their incremental learning state and the idle lock. Every decision
the UI shows (may I sign in, is the session idle, which language, which card next) is
made here or deeper in app/core, so it is unit-tested without Flet. Views only render
what this module returns and call its methods from their handlers.

Privacy on a shared tablet: :meth:`Session.lock` drops the learner, their state and
every cached view model; after a lock nothing personal is reachable from the session.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import pins, profile_rules
from app.core.errors import (
    AuthError,
    LearningError,
    PinLockedError,
    PinNotSetError,
    ProfileFieldError,
    SetupCodeError,
    ShiftError,
    StoreError,
    SyncError,
)
from app.core.events import parse_at
from app.core.i18n import UI_LOCALES, Translator, choose_locale, translator
from app.core.roles import ROLES
from app.core.store import reattribute

if TYPE_CHECKING:  # imported where first used (start-up time)
    from app.core.assessment import SelfAssessment
    from app.core.learning import LearningEngine

Clock = Callable[[], float]

DEFAULT_IDLE_LOCK_SECONDS = 180
MIN_IDLE_LOCK_SECONDS = 5
MAX_IDLE_LOCK_SECONDS = 3600
TEXT_SIZES: tuple[str, ...] = ("normal", "large", "larger")
TEXT_SCALE = {"normal": 1.0, "large": 1.2, "larger": 1.45}
PIN_RE = re.compile(r"^[0-9]{4,8}$")
#: Field limits of the new-profile form: the shared rules (app/core/profile_rules.py).
NAME_MAX = profile_rules.MAX_NAME
STAFF_NUMBER_MAX = profile_rules.MAX_STAFF_NUMBER
CODE_MAX = 32


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


#: Labels of staff roles (app/core/roles.py ids), translated by the UI.
ROLE_LABELS: dict[str, str] = {
    "prison_officer": N_("Prison officer"),
    "reintegration_specialist": N_("Reintegration specialist"),
    "psychologist": N_("Psychologist"),
    "social_worker": N_("Social worker"),
    "medical_staff": N_("Medical staff"),
    "ngo_staff": N_("NGO staff"),
    "trainer": N_("Trainer"),
    "manager": N_("Manager"),
}
assert set(ROLE_LABELS) == set(ROLES)


class ProfileFormError(StoreError):
    """A field of the "new profile" form is not acceptable.

    ``field`` names the form field; ``code`` is a stable key the UI turns into a
    translated sentence (the English ``str()`` is for logs and tests).
    """

    MESSAGES: dict[str, str] = {
        "name_missing": N_("Enter your name."),
        "name_too_long": N_("The name is too long ({n} characters at most)."),
        "staff_number_missing": N_("Enter your staff number."),
        "staff_number_bad": N_("Staff number: letters, digits and . / - _ only."),
        "staff_number_too_long": N_("The staff number is too long ({n} characters at most)."),
        "name_bad": N_("The name contains characters that cannot be shown."),
        "role_unknown": N_("Choose your role."),
        "language_unknown": N_("Choose a language."),
        "pin_bad": N_("The PIN must be 4 to 8 digits."),
        "pin_mismatch": N_("The two PINs are not the same."),
        "pin_trivial": N_("Choose a PIN that is not a simple sequence like 1234 or 1111."),
        "code_missing": N_("Enter the set-up code your administrator gave you."),
        "code_wrong": N_("This set-up code is not right. Check it and try again."),
        "code_expired": N_("This set-up code has expired. Ask your administrator for a new "
                           "one."),
        "code_none": N_("There is no set-up code for this profile yet. Ask your "
                        "administrator for one."),
    }
    #: Numbers shown in some messages ({n}).
    NUMBERS: dict[str, int] = {"name_too_long": NAME_MAX,
                               "staff_number_too_long": STAFF_NUMBER_MAX}

    def __init__(self, field_name: str, code: str) -> None:
        self.field = field_name
        self.code = code
        message = self.MESSAGES[code]
        if code in self.NUMBERS:
            message = message.format(n=self.NUMBERS[code])
        super().__init__(f"{field_name}: {message}")

    def translated(self, tr: Translator) -> str:
        text = tr.gettext(self.MESSAGES[self.code])
        return text.format(n=self.NUMBERS[self.code]) if self.code in self.NUMBERS else text


def _is_trivial_pin(pin: str) -> bool:
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({1}, {-1})


def validate_new_profile(display_name: object, staff_number: object, role: object,
                         language: object, pin: object, pin_again: object) -> dict[str, str]:
    """Check the "new profile" form with the shared field rules
    (app/core/profile_rules.py); returns the cleaned values or raises ProfileFormError."""
    try:
        name = profile_rules.display_name(str(display_name or ""))
    except ProfileFieldError as exc:
        code = {"missing": "name_missing", "too_long": "name_too_long"}.get(exc.code, "name_bad")
        raise ProfileFormError("display_name", code) from None
    try:
        staff = profile_rules.staff_number(str(staff_number or ""))
    except ProfileFieldError as exc:
        code = {"missing": "staff_number_missing",
                "too_long": "staff_number_too_long"}.get(exc.code, "staff_number_bad")
        raise ProfileFormError("staff_number", code) from None
    if role not in ROLES:
        raise ProfileFormError("role", "role_unknown")
    if language not in UI_LOCALES:
        raise ProfileFormError("language", "language_unknown")
    pin_s = validate_new_pin(pin, pin_again)
    return {"display_name": name, "staff_number": staff, "role": str(role),
            "language": str(language), "pin": pin_s}


def validate_new_pin(pin: object, pin_again: object) -> str:
    """A new PIN typed twice (new profile, first PIN): same rules everywhere."""
    pin_s = str(pin or "")
    if not PIN_RE.match(pin_s):
        raise ProfileFormError("pin", "pin_bad")
    if _is_trivial_pin(pin_s):
        raise ProfileFormError("pin", "pin_trivial")
    if str(pin_again or "") != pin_s:
        raise ProfileFormError("pin_again", "pin_mismatch")
    return pin_s


def initials(name: str) -> str:
    parts = [p for p in name.split() if p[:1].isalpha()]
    if not parts:
        return (name.strip()[:1] or "?").upper()
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


def wait_seconds_of(error: BaseException) -> int:
    """Seconds the store asks to wait before the next PIN try (0 when not locked)."""
    value = getattr(error, "wait_seconds", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value + 0.999)
    return 0


def pin_error_message(tr: Translator, error: BaseException) -> str:
    """The sentence the PIN pad shows after a refused PIN."""
    if isinstance(error, PinNotSetError):
        return tr.gettext("This profile has no PIN yet. Set your PIN first.")
    wait = wait_seconds_of(error)
    if wait > 0:
        return tr.ngettext("Wrong PIN. Try again in {n} second.",
                           "Wrong PIN. Try again in {n} seconds.", wait).format(n=wait)
    return tr.gettext("Wrong PIN. Try again.")


class IdleLock:
    """Idle auto-lock: pure bookkeeping of the last activity with an injected clock.

    The UI calls :meth:`touch` on every tap and polls :meth:`expired` once a second;
    tests drive the clock by hand.
    """

    def __init__(self, timeout_seconds: float = DEFAULT_IDLE_LOCK_SECONDS,
                 clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.timeout = clamp_idle_seconds(timeout_seconds)
        self.last_activity = clock()

    def touch(self) -> None:
        self.last_activity = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.timeout - (self.clock() - self.last_activity))

    def expired(self) -> bool:
        return self.clock() - self.last_activity >= self.timeout


def clamp_idle_seconds(value: object) -> int:
    try:
        seconds: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return DEFAULT_IDLE_LOCK_SECONDS
    return max(MIN_IDLE_LOCK_SECONDS, min(MAX_IDLE_LOCK_SECONDS, seconds))


@dataclass(frozen=True)
class ProfileTile:
    """What the "Who is learning?" screen may show about a profile before sign-in."""

    id: str
    name: str
    initials: str
    role: str
    needs_pin: bool = False   # registered by an admin: the learner sets a first PIN


@dataclass
class Flash:
    """A one-shot message for the next render (snack bar)."""

    text: str
    kind: str = "info"


@dataclass
class SessionView:
    """Transient UI state that is not learning data (which card, which PIN digits)."""

    pin_digits: str = ""
    pin_error: str = ""
    pin_wait_until: float = 0.0
    selected_profile: str | None = None
    form_error: ProfileFormError | None = None
    form: dict[str, str] = field(default_factory=dict)
    form_message: str = ""
    quiz_choice: list[str] = field(default_factory=list)
    quiz_focus: str | None = None
    review_feedback: Any = None
    assess_key: tuple[str, str, str] | None = None
    assess_duty: int = 0
    flashes: list[Flash] = field(default_factory=list)


def get_attr_or_key(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


ONLINE_WINDOW = 15 * 60


@dataclass(frozen=True)
class SyncStatus:
    """Badge data: "online" means the last successful sync was under 15 minutes ago
    (the app never probes the network by itself)."""

    online: bool
    last_sync: datetime | None
    server_url: str
    client_installed: bool


def sync_hook() -> Callable[..., Any] | None:
    """The sync client's entry point, when the app.sync package provides one.

    HOOK POINT (issue "sync client"): ``app.sync.sync_now(device, progress=cb)`` where
    ``cb(fraction, message)`` reports progress. Until it exists the Settings screen says
    so honestly.
    """
    try:
        module = importlib.import_module("app.sync")
    except ImportError:
        return None
    hook = getattr(module, "sync_now", None)
    return hook if callable(hook) else None


class DeviceError(ShiftError):
    """The device folder cannot be opened (permissions, damaged store)."""


class Device:
    """One tablet: the data folder's Store and installed packs, shared by its sessions."""

    def __init__(self, data_dir: Path, store: Any, library: Any, clock: Clock) -> None:
        self.data_dir = data_dir
        self.store = store
        self.library = library
        self.clock = clock
        self._lock = threading.RLock()
        self._catalog: Any = None
        self._catalog_key: Any = None

    @classmethod
    def open(cls, data_dir: str | Path, clock: Clock = time.monotonic) -> Device:
        from app.core.packs import PackLibrary
        from app.core.store import Store

        path = Path(data_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeviceError(f"{path}: cannot create the data folder: {exc}") from None
        store = Store.open(path)
        return cls(path, store, PackLibrary(path), clock)

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if callable(close):
            close()

    # settings -----------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        try:
            value = self.store.settings.get(name)
        except (KeyError, StoreError):
            return default
        return default if value is None else value

    def set_setting(self, name: str, value: Any) -> None:
        self.store.settings.set(name, value)

    @property
    def idle_lock_seconds(self) -> int:
        """Admin setting ``idle_lock_seconds``; env SHIFT_IDLE_LOCK_SECONDS overrides it
        (kiosk set-ups and the e2e tests)."""
        env = os.environ.get("SHIFT_IDLE_LOCK_SECONDS")
        if env:
            return clamp_idle_seconds(env)
        return clamp_idle_seconds(self.setting("idle_lock_seconds",
                                               DEFAULT_IDLE_LOCK_SECONDS))

    def storage_bytes(self) -> int:
        """Bytes used by this device's data folder (store, packs, blobs)."""
        total = 0
        for root, _dirs, files in os.walk(self.data_dir):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue
        return total

    def pack_licences(self) -> list[tuple[Any, str, list[str]]]:
        """(title table, licence, authors) of every installed pack, for "About"."""
        return [(m.get("title") or {m.get("id", "?"): m.get("id", "?")},
                 str(m.get("licence") or ""), [str(a) for a in m.get("authors") or []])
                for m in self.manifests()]

    def sync_status(self) -> SyncStatus:
        last = self.setting("last_sync_at")
        when = None
        if isinstance(last, str) and last:
            try:
                when = parse_at(last)
            except ShiftError:
                when = None
        online = when is not None and (datetime.now(UTC) - when).total_seconds() < ONLINE_WINDOW
        return SyncStatus(online=online, last_sync=when,
                          server_url=str(self.setting("server_url", "") or ""),
                          client_installed=sync_hook() is not None)

    def sync_now(self, progress: Callable[[float, str], None] | None = None, *,
                 enrol_code: str | None = None) -> Any:
        """Run one sync through the sync client's hook (app.sync.sync_now); with an
        enrolment code the device enrols first. Raises SyncError (subclasses) on failure."""
        hook = sync_hook()
        if hook is None:
            raise SyncError("sync client not installed yet")
        code = (enrol_code or "").strip()
        if code:
            return hook(self, progress=progress, enrol_code=code)
        return hook(self, progress=progress)

    # certificates -------------------------------------------------------------
    def certificate_issuer_keys(self) -> list[str]:
        """The did:keys that may sign certificates: those this tablet learned from its
        server's issuer profile at sync (setting ``certificate_keys``, app/sync/certificates.py).
        Pack keys (``trusted_keys``) do not count: a pack author must not be able to mint a
        certificate the tablet shows as verified. Unreadable entries are skipped."""
        from app.core.certificates import coerce_public_key

        keys = []
        raw = self.setting("certificate_keys", [])
        for entry in raw if isinstance(raw, list) else []:
            try:
                coerce_public_key(entry)
            except ShiftError:
                continue
            keys.append(entry)
        return keys

    def certificate_check(self, credential: Any, *, learner: str,
                          certificate_id: Any = None) -> Any:
        """How to show a received certificate to `learner`: a ReceivedCheck
        (app.core.credential_status) — verified, revoked (in the status list fetched at the
        last sync) or unverified (not signed by the server's certificate key, issued to
        someone else, tampered, junk). Offline; never raises for bad input."""
        from app.core.credential_status import check_received

        lists = self.setting("certificate_status_lists", {})
        return check_received(credential, learner=learner, certificate_id=certificate_id,
                              issuer_keys=self.certificate_issuer_keys(),
                              status_lists=lists if isinstance(lists, dict) else {})

    def verify_certificate(self, credential: Any, *, learner: str | None = None) -> bool:
        """True when ``credential`` is genuine: signed by the server's certificate key and
        unchanged since (and, with `learner`, issued to that learner and not revoked)."""
        from app.core.certificates import verify_credential

        if learner is not None:
            return bool(self.certificate_check(credential, learner=learner).verified)
        keys = self.certificate_issuer_keys()
        return bool(keys) and verify_credential(credential, keys).genuine

    # profiles ---------------------------------------------------------------
    def profiles(self) -> list[ProfileTile]:
        tiles = []
        for p in self.store.profiles.list():
            name = str(get_attr_or_key(p, "display_name", "") or "")
            tiles.append(ProfileTile(id=str(get_attr_or_key(p, "id")), name=name,
                                     initials=initials(name),
                                     role=str(get_attr_or_key(p, "role", "") or ""),
                                     needs_pin=bool(get_attr_or_key(p, "needs_pin", False))))
        return sorted(tiles, key=lambda t: t.name.casefold())

    def profile(self, profile_id: str) -> Any:
        for p in self.store.profiles.list():
            if str(get_attr_or_key(p, "id")) == profile_id:
                return p
        raise AuthError(f"profile {profile_id!r}: not on this device")

    def take_reattribution_notice(self) -> bool:
        """True once after a sync moved a refused profile's work to the learner who
        already held the staff number (app/core/store/reattribute.py): the who screen
        tells her to sign in with the PIN she set on the other tablet."""
        return bool(reattribute.take_notices(self.store))

    def needs_pin(self, profile_id: str) -> bool:
        """True while this profile has no PIN (the who screen opens "Set your PIN")."""
        return any(t.id == profile_id and t.needs_pin for t in self.profiles())

    def create_profile(self, display_name: object, staff_number: object, role: object,
                       language: object, pin: object, pin_again: object) -> str:
        """Validate the form and create the profile offline; returns the profile id."""
        clean = validate_new_profile(display_name, staff_number, role, language, pin,
                                     pin_again)
        created = self.store.profiles.create(clean["display_name"], clean["staff_number"],
                                             clean["role"], clean["language"], clean["pin"])
        pid = created if isinstance(created, str) else get_attr_or_key(created, "id")
        return str(pid)

    # packs --------------------------------------------------------------------
    def media_file(self, pack_id: str, path: str) -> Path | None:
        """The installed file of a pack's media path, or None (unknown pack/path)."""
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", pack_id) or ".." in path.split("/") \
                or not path.startswith("media/"):
            return None  # only pack images are served; lesson files go through the engine
        try:
            file = self.library.media_path(pack_id, path)
        except ShiftError:
            return None
        return Path(file) if file and Path(file).is_file() else None

    def manifests(self) -> list[dict[str, Any]]:
        """Manifests of the live version of every installed pack."""
        out = []
        for item in self.library.installed():
            manifest = item if isinstance(item, dict) else get_attr_or_key(item, "manifest")
            if isinstance(manifest, dict):
                out.append(manifest)
        return out

    def catalog(self) -> Any:
        """The learning Catalog of the installed packs, rebuilt when a pack changes."""
        from app.core.learning import Catalog

        with self._lock:
            manifests = self.manifests()
            key = tuple(sorted((m.get("id"), m.get("version")) for m in manifests))
            if key != self._catalog_key:
                self._catalog = Catalog.from_manifests(manifests)
                self._catalog_key = key
            return self._catalog

    def load_lesson(self, pack_id: str, path: str) -> dict[str, Any]:
        body = self.library.lesson(pack_id, path)
        if not isinstance(body, dict):
            raise StoreError(f"{pack_id}: {path}: lesson file is not an object")
        return body

    def new_session(self) -> Session:
        return Session(self)


class Session:
    """One screen's sign-in state on a shared tablet (see module docstring)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.view = SessionView()
        self.idle = IdleLock(device.idle_lock_seconds, device.clock)
        self.learner: Any = None
        self.learner_id: str | None = None
        self.locked_by_idle = False
        self.engine: LearningEngine | None = None
        self.assess: SelfAssessment | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lesson_key: tuple[str, str, str] | None = None
        self._card_shown_at = 0.0
        self._language_override: str | None = None

    # language & display ---------------------------------------------------------
    @property
    def locale(self) -> str:
        if self.learner is not None:
            return choose_locale(self._language_override
                                 or get_attr_or_key(self.learner, "language"))
        return choose_locale(self.device.setting("locale", "en"))

    @property
    def translator(self) -> Translator:
        return translator(self.locale)

    @property
    def text_size(self) -> str:
        value = self.device.setting("text_size", "normal")
        return value if value in TEXT_SIZES else "normal"

    @property
    def high_contrast(self) -> bool:
        return bool(self.device.setting("high_contrast", False))

    # activity & lock ------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return self.learner_id is not None

    def touch(self) -> None:
        self.idle.touch()

    def check_idle(self) -> bool:
        """Lock when the idle time is over; True when this call locked the session."""
        self.idle.timeout = self.device.idle_lock_seconds
        if self.signed_in and self.idle.expired():
            self.lock(idle=True)
            return True
        return False

    def lock(self, idle: bool = False) -> None:
        """Forget the learner and everything derived from their records."""
        self.learner = None
        self.learner_id = None
        self._language_override = None
        self.view = SessionView()
        self.locked_by_idle = idle
        self._forget_learning_state()

    def _forget_learning_state(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self.engine = None
        self.assess = None
        self._lesson_key = None

    # sign-in ----------------------------------------------------------------------
    def pin_wait(self) -> int:
        """Seconds the PIN pad must still wait after a refused PIN."""
        return max(0, int(self.view.pin_wait_until - self.device.clock() + 0.999))

    def tick_pin_wait(self) -> bool:
        """Count a running PIN wait down on the pad (called once a second by the page).
        True when the message changed and the pad should be drawn again."""
        if self.signed_in or not self.view.pin_wait_until:
            return False
        wait = self.pin_wait()
        tr = self.translator
        if wait > 0:
            text = tr.ngettext("Wrong PIN. Try again in {n} second.",
                               "Wrong PIN. Try again in {n} seconds.", wait).format(n=wait)
        else:
            self.view.pin_wait_until = 0.0
            text = tr.gettext("You can try your PIN again.")
        changed = text != self.view.pin_error
        self.view.pin_error = text
        return changed

    def pin_press(self, key: str) -> None:
        """One key of the PIN pad (a digit, or "del"); at most 8 digits."""
        self.touch()
        self.view.pin_error = ""
        if key == "del":
            self.view.pin_digits = self.view.pin_digits[:-1]
        elif len(key) == 1 and key in "0123456789" and len(self.view.pin_digits) < 8:
            self.view.pin_digits += key

    def sign_in(self, profile_id: str, pin: str) -> bool:
        """Try a PIN. True when signed in; False with ``view.pin_error`` set otherwise."""
        self.touch()
        tr = self.translator
        wait = self.pin_wait()
        if wait > 0:
            self.view.pin_error = tr.ngettext("Please wait {n} second before trying again.",
                                              "Please wait {n} seconds before trying again.",
                                              wait).format(n=wait)
            return False
        try:
            ok = self.device.store.profiles.verify_pin(profile_id, pin)
        except AuthError as exc:
            self.view.pin_digits = ""
            wait_s = wait_seconds_of(exc)
            self.view.pin_wait_until = self.device.clock() + wait_s if wait_s else 0.0
            self.view.pin_error = pin_error_message(tr, exc)
            return False
        if ok is False:
            self.view.pin_digits = ""
            self.view.pin_error = tr.gettext("Wrong PIN. Try again.")
            return False
        self.learner = self.device.profile(profile_id)
        self.learner_id = profile_id
        self.view = SessionView()
        self.locked_by_idle = False
        self.idle.touch()
        self._load_learning_state()
        return True

    def set_first_pin(self, profile_id: str, pin: object, pin_again: object, *,
                      code: object) -> bool:
        """The "Set your PIN" form of a profile an admin registered (no PIN yet): the
        one-time set-up code the admin handed to the learner, then the PIN twice.

        Same PIN rules as a new profile; the code is checked offline (a wrong code counts
        like a wrong PIN for the lock-out); then signs the learner in. False with
        ``view.form_error`` (a field) or ``view.form_message`` (locked, or a PIN was set
        meanwhile) set otherwise. The new verifier goes to the server with the next push,
        with the code's proof (the server checks it again, once).
        """
        self.touch()
        self.view.form_error, self.view.form_message = None, ""
        try:
            if not pins.normalise_code(code):
                raise ProfileFormError("code", "code_missing")
            clean = validate_new_pin(pin, pin_again)
        except ProfileFormError as exc:
            self.view.form_error = exc
            return False
        tr = self.translator
        try:
            self.device.store.profiles.set_first_pin(profile_id, clean, str(code))
        except SetupCodeError as exc:
            self.view.form_error = ProfileFormError("code", {
                "missing": "code_none", "expired": "code_expired"}.get(exc.reason, "code_wrong"))
            return False
        except PinLockedError as exc:
            wait = wait_seconds_of(exc)
            self.view.form_message = tr.ngettext(
                "Too many wrong tries. Try again in {n} second.",
                "Too many wrong tries. Try again in {n} seconds.", wait).format(n=wait)
            return False
        except AuthError:
            self.view.form_message = tr.gettext(
                "This profile already has a PIN. Sign in with it.")
            return False
        self.view.form = {}
        return self.sign_in(profile_id, clean)

    def _load_learning_state(self) -> None:
        from app.core.learning import LearningEngine

        learner = self.learner_id
        assert learner is not None
        store = self.device.store
        # One read of the learner's history feeds both folds (it can be thousands of
        # events on a tablet used for months).
        history = LearningEngine.load_history(store, learner)
        self.engine = LearningEngine(
            self.device.catalog(), learner=learner,
            role=str(get_attr_or_key(self.learner, "role", "")),
            language=self.locale,
            load_lesson=self.device.load_lesson, events=history)

        from app.core.assessment import SelfAssessment

        self.assess = SelfAssessment(self.engine.catalog, learner=learner,
                                     role=self.engine.role, language=self.engine.language,
                                     events=history, learning=self.engine.state)

        def on_events(events: list[dict[str, Any]]) -> None:
            engine, assess = self.engine, self.assess
            if engine is None or assess is None:
                return
            for event in events:
                if event.get("learner") == learner:
                    engine.apply(event)
                    assess.apply(event)
        self._unsubscribe = store.subscribe(on_events)
        # Courses finished through another tablet's events get their completion here.
        for event in self.engine.propose_completions():
            store.append(event)

    # learning ---------------------------------------------------------------------
    @property
    def display_name(self) -> str:
        return str(get_attr_or_key(self.learner, "display_name", "") or "")

    def _engine(self) -> LearningEngine:
        if self.engine is None:
            raise AuthError("not signed in")
        catalog = self.device.catalog()
        if self.engine.catalog is not catalog:  # a pack was installed meanwhile
            self._forget_learning_state()
            self._load_learning_state()
        return self.engine

    def _commit(self, step: Any) -> Any:
        """Append a step's events (each on disk before we return); the store's
        subscription folds them into the engine."""
        for event in step.events:
            self.device.store.append(event)
        return step

    def library(self) -> Any:
        return self._engine().library(today=date.today())

    def outline(self, pack: str, course: str) -> Any:
        return self._engine().outline(pack, course)

    def open_lesson(self, pack: str, course: str, lesson: str) -> Any:
        """The lesson's cards; records lesson.opened when the learner enters it."""
        engine = self._engine()
        view = engine.lesson(pack, course, lesson)
        key = (pack, course, lesson)
        if key != self._lesson_key:
            self._commit(engine.open_lesson(pack, course, lesson))
            self._lesson_key = key
        self._card_shown_at = self.device.clock()
        return view

    def finish_card(self, pack: str, course: str, lesson: str, card: int) -> str:
        """The learner read ``card`` and tapped Next/Finish: record it, return the route
        to show next (next card, else the course outline)."""
        engine = self._engine()
        seconds = max(0.0, min(86_400.0, self.device.clock() - self._card_shown_at))
        view = engine.lesson(pack, course, lesson)
        self._commit(engine.view_card(pack, course, lesson, card, seconds=seconds))
        if card + 1 < len(view.cards):
            return f"/lesson/{pack}/{course}/{lesson}/{card + 1}"
        self._lesson_key = None
        return f"/course/{pack}/{course}"

    def link_target(self, pack: str, href: str) -> str | None:
        """Route of an in-pack lesson link (``lesson:course/lesson#anchor``), else None."""
        target = lesson_link_target(href)
        if target is None:
            return None
        course, lesson, anchor = target
        try:
            view = self._engine().lesson(pack, course, lesson)
        except ShiftError:
            return None
        card = next((c.index for c in view.cards if anchor and c.anchor == anchor), 0)
        return f"/lesson/{pack}/{course}/{lesson}/{card}"

    def resume_label(self, point: Any) -> str:
        """ "Lesson 2: Title · card 3 of 5" / "Quiz · question 4" for a ResumePoint."""
        tr = self.translator
        if point.kind == "lesson" and point.lesson:
            outline = self.outline(point.pack, point.course)
            for i, lesson in enumerate(outline.lessons, start=1):
                if lesson.id == point.lesson:
                    return tr.gettext("Lesson {n}: {title} · card {card} of {cards}").format(
                        n=i, title=lesson.title.text, card=(point.card or 0) + 1,
                        cards=lesson.cards)
        if point.kind == "quiz":
            if point.attempt is not None and point.question is not None:
                return tr.gettext("Quiz · question {n}").format(n=point.question + 1)
            return tr.gettext("Quiz")
        return ""

    # quiz -------------------------------------------------------------------------
    def current_attempt(self, pack: str, course: str, *, start: bool = False) -> Any:
        """The open attempt of a course's quiz, or None. Only an explicit ``start``
        begins a new one: revisiting the quiz page (browser back) never spends one of
        the learner's limited attempts."""
        engine = self._engine()
        quiz = engine.outline(pack, course).quiz
        if quiz is None:
            raise LearningError(f"course {pack}/{course} has no quiz")
        attempt_id = quiz.open_attempt
        if attempt_id is None:
            if not start:
                return None
            attempt_id = self._commit(engine.start_quiz(pack, course)).attempt
        return engine.attempt(pack, course, attempt_id)

    def attempt(self, pack: str, course: str, attempt_id: str) -> Any:
        return self._engine().attempt(pack, course, attempt_id)

    def answer(self, pack: str, course: str, attempt_id: str, question: str,
               choice: list[str]) -> Any:
        return self._commit(self._engine().answer(pack, course, attempt_id, question, choice))

    def submit(self, pack: str, course: str, attempt_id: str) -> Any:
        return self._commit(self._engine().submit(pack, course, attempt_id))

    def review_queue(self) -> list[Any]:
        return self._engine().review_queue(today=date.today())

    def answer_review(self, pack: str, course: str, question: str, choice: list[str]) -> Any:
        return self._commit(self._engine().answer_review(pack, course, question, choice))

    def my_progress(self) -> Any:
        return self._engine().my_progress()

    def certificate_check(self, certificate: Any) -> Any:
        """How My progress shows one of the signed-in learner's certificates (a
        ReceivedCheck: verified / revoked / unverified)."""
        return self.device.certificate_check(certificate.credential,
                                             learner=str(self.learner_id),
                                             certificate_id=certificate.id)

    def sync_status(self) -> SyncStatus:
        return self.device.sync_status()

    def set_language(self, code: str) -> None:
        """UI + content language: the learner's profile when signed in, else the tablet's."""
        if code not in UI_LOCALES:
            raise StoreError(f"language: expected one of {', '.join(UI_LOCALES)}")
        if self.learner is None:
            self.device.set_setting("locale", code)
            return
        update = getattr(self.device.store.profiles, "update", None)
        if callable(update):
            update(self.learner_id, language=code)
            self.learner = self.device.profile(str(self.learner_id))
        if isinstance(self.learner, dict):
            self.learner = {**self.learner, "language": code}
        else:
            self._language_override = code
        if self.engine is not None:
            self.engine.language = code
        if self.assess is not None:
            self.assess.language = code

    # self-assessment ------------------------------------------------------------
    def _assess(self) -> SelfAssessment:
        self._engine()  # reloads both engines when packs changed
        if self.assess is None:  # loaded with the learning engine; never apart
            raise AuthError("not signed in")
        return self.assess

    def assessment_profiles(self) -> list[Any]:
        return self._assess().profiles()

    def assessment(self, pack: str, profile: str, *, start: bool = True) -> Any:
        """The profile with the ratings of the open assessment (started if none and
        ``start``); ``view.assessment`` is None when nothing is open."""
        sa = self._assess()
        aid = sa.open_assessment(pack, profile)
        if aid is None and start:
            aid = self._commit(sa.start(pack, profile)).assessment
        return sa.profile(pack, profile, aid)

    def assessment_tasks(self, view: Any) -> list[Any]:
        """Tasks the learner rates (those with an expectation for their role, else all):
        the same rule the engine uses to decide the assessment is complete."""
        every = [t for d in view.duties for t in d.tasks]
        return [t for t in every if t.expected is not None] or every

    def assessment_resume(self, pack: str, profile: str, assessment: str) -> Any:
        return self._assess().resume(pack, profile, assessment)

    def rate(self, pack: str, profile: str, assessment: str, task: str, level: int) -> None:
        self._commit(self._assess().rate(pack, profile, assessment, task, level))

    def complete_assessment(self, pack: str, profile: str, assessment: str) -> None:
        self._commit(self._assess().complete(pack, profile, assessment))

    def gap_report(self, pack: str, profile: str) -> Any:
        return self._assess().gap_report(pack, profile)

    # display settings -----------------------------------------------------------
    def set_text_size(self, size: str) -> None:
        if size not in TEXT_SIZES:
            raise StoreError(f"text_size: expected one of {', '.join(TEXT_SIZES)}")
        self.device.set_setting("text_size", size)


@dataclass(frozen=True)
class Block:
    """A piece of a lesson card: Markdown text, or a pack image shown on its own line."""

    kind: str          # "markdown" | "image"
    text: str          # markdown source, or the image's alt text
    path: str = ""     # pack path of the image (media/…)


def card_blocks(markdown: str) -> list[Block]:
    """Split card Markdown at its images so each image is served from the pack.

    The card goes through the pack-text sanitiser first (``app.core.packs.markup``), even
    though install checked it: only pack images in their own paragraph survive as images
    (anything else, e.g. a remote URL, is shown as its alt text: the app never fetches
    it), only ``lesson:`` links stay links, and no text can become HTML.
    """
    from app.core.packs.markup import split_images

    return [Block(kind, text, path) for kind, text, path in split_images(markdown)]


def lesson_link_target(href: str) -> tuple[str, str, str] | None:
    """``lesson:<course>/<lesson>#<anchor>`` → (course, lesson, anchor); else None."""
    m = re.match(r"^lesson:([a-z0-9][a-z0-9_-]{0,63})/([a-z0-9][a-z0-9_-]{0,63})"
                 r"(?:#([A-Za-z0-9_-]{1,128}))?$", href or "")
    return (m.group(1), m.group(2), m.group(3) or "") if m else None
