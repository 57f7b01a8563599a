"""One screen's sign-in on a shared tablet: who is signed in, the PIN pad, the idle lock.

One :class:`Session` per page (browser tab, app window) of a :class:`Device`. It holds
the signed-in learner's profile and :class:`LearnerWork` (both engines), the idle lock
and the screen's transient state (:class:`SessionView`). The learner's actions are its
two parts, ``session.learning`` and ``session.assessment``; both raise
``AuthError(NOT_SIGNED_IN)`` when nobody is signed in.

Privacy invariant: :meth:`Session.lock` drops the learner, their engines (and the store
subscription feeding them) and every per-screen state; after a lock nothing personal is
reachable from the session. The idle lock does the same after ``idle_lock_seconds``.
"""

from __future__ import annotations

from app.core.application import pin_texts
from app.core.application.assessment import Assessment
from app.core.application.device import Device
from app.core.application.device_admin import AdminGate
from app.core.application.display import (
    HIGH_CONTRAST_SETTING,
    LEARNER_DISPLAY_SETTING,
    TEXT_SIZE_SETTING,
    DisplayPrefs,
    check_text_size,
    learner_prefs,
    tablet_default,
    with_learner_prefs,
)
from app.core.application.forms import ProfileFormError, validate_new_pin
from app.core.application.idle import IdleLock, IdleState
from app.core.application.learner_work import LearnerWork
from app.core.application.learning import Learning
from app.core.application.practice import Practice
from app.core.application.profiles import LearnerProfile
from app.core.application.sync import SyncSummary
from app.core.application.view_state import SessionView
from app.core.errors import AuthError, ErrorCode, PinLockedError, SetupCodeError, StoreError
from app.core.i18n import UI_LOCALES, Translator, choose_locale, translator
from app.core.pins import PIN_MAX_DIGITS, normalise_code


class Session:
    def __init__(self, device: Device) -> None:
        self.device = device
        self.view = SessionView()
        self.idle = IdleLock(device.idle_lock_seconds, device.clock)
        self.learner: LearnerProfile | None = None
        self.pin_below_policy = False      # signed in with a PIN shorter than the policy
        self.locked_by_idle = False
        self.work: LearnerWork | None = None
        self.learning = Learning(self._current_work, device.clock, device.certificates)
        self.assessment = Assessment(self._current_work)
        self.practice = Practice(self._current_work, device.profiles, device.store)
        #: device-wide settings: unlocked by the device admin PIN (device_admin.py)
        self.admin = AdminGate(device)

    # -- who is signed in -------------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return self.learner is not None

    @property
    def learner_id(self) -> str | None:
        return self.learner.id if self.learner is not None else None

    @property
    def display_name(self) -> str:
        return self.learner.display_name if self.learner is not None else ""

    def _current_work(self) -> LearnerWork:
        """The signed-in learner's engines; reloaded when a pack was installed meanwhile."""
        if self.learner is None or self.work is None:
            raise AuthError("not signed in", code=ErrorCode.NOT_SIGNED_IN)
        if self.work.catalog is not self.device.content.catalog():
            self._forget_work()
            self._load_work()
        assert self.work is not None
        return self.work

    def _load_work(self) -> None:
        assert self.learner is not None
        self.work = LearnerWork(self.device.store, self.device.content,
                                learner=self.learner.id, role=self.learner.role,
                                language=self.locale)

    def _forget_work(self) -> None:
        work, self.work = self.work, None
        try:
            if work is not None:
                work.close()
        finally:                         # gone even when closing it failed
            self.learning.forget()

    # -- language and display ----------------------------------------------------------------
    @property
    def locale(self) -> str:
        """The learner's language when signed in, else the tablet's."""
        if self.learner is not None:
            return choose_locale(self.learner.language)
        return choose_locale(self.device.setting("locale", "en"))

    @property
    def translator(self) -> Translator:
        return translator(self.locale)

    @property
    def tablet_display(self) -> DisplayPrefs:
        """The tablet's default (the signed-out screens; a learner with no own choice)."""
        return tablet_default(self.device.setting(TEXT_SIZE_SETTING, "normal"),
                              self.device.setting(HIGH_CONTRAST_SETTING, False))

    @property
    def display(self) -> DisplayPrefs:
        """Text size and contrast of this screen: the learner's own when signed in."""
        default = self.tablet_display
        if self.learner is None:
            return default
        return learner_prefs(self.device.setting(LEARNER_DISPLAY_SETTING, {}),
                             self.learner.id, default)

    @property
    def text_size(self) -> str:
        return self.display.text_size

    @property
    def high_contrast(self) -> bool:
        return self.display.high_contrast

    def _set_display(self, prefs: DisplayPrefs) -> None:
        """The learner's preferences when signed in, else the tablet default."""
        if self.learner is None:
            self.device.store.settings.update({TEXT_SIZE_SETTING: prefs.text_size,
                                               HIGH_CONTRAST_SETTING: prefs.high_contrast})
            return
        stored = self.device.setting(LEARNER_DISPLAY_SETTING, {})
        self.device.set_setting(LEARNER_DISPLAY_SETTING,
                                with_learner_prefs(stored, self.learner.id, prefs))

    def set_language(self, code: str) -> None:
        """UI + content language: the learner's profile when signed in, else the tablet's."""
        if code not in UI_LOCALES:
            raise StoreError(f"language: expected one of {', '.join(UI_LOCALES)}")
        if self.learner is None:
            self.device.set_setting("locale", code)
            return
        self.device.store.profiles.update(self.learner.id, language=code)
        self.learner = self.device.profiles.get(self.learner.id)
        if self.work is not None:
            self.work.set_language(code)

    def set_text_size(self, size: str) -> None:
        self._set_display(DisplayPrefs(check_text_size(size), self.high_contrast))

    def set_high_contrast(self, on: bool) -> None:
        self._set_display(DisplayPrefs(self.text_size, on is True))

    def sync_summary(self) -> SyncSummary:
        return self.device.sync_summary()

    # -- activity and lock ----------------------------------------------------------------------
    def touch(self) -> None:
        self.idle.touch()

    def idle_state(self) -> IdleState:
        """Where the signed-in learner stands on the idle clock (ACTIVE when nobody is
        signed in: there is nothing to lock)."""
        self.idle.timeout = self.device.idle_lock_seconds
        return self.idle.state() if self.signed_in else IdleState.ACTIVE

    def check_idle(self) -> bool:
        """Lock when the idle time is over, or when the signed-in learner's profile left
        the tablet (erased on the server, or the tablet revoked and wiped by a background
        sync); True when this call locked the session."""
        if self.idle_state() is IdleState.EXPIRED:
            self.lock(idle=True)
            return True
        if self.learner is not None and self.device.store.profiles.get(self.learner.id) is None:
            self.lock()
            return True
        return False

    @property
    def new_pin_waits_for_server(self) -> bool:
        """Signed in with a PIN below the policy and the profile not on the server yet:
        the server refuses it (``pin_too_short``), so the learner's work waits on this
        tablet until they choose a PIN the policy allows."""
        if not self.pin_below_policy or self.learner is None:
            return False
        return any(p["id"] == self.learner.id
                   for p in self.device.store.profiles.pending_push())

    def lock(self, idle: bool = False) -> None:
        """Forget the learner and everything derived from their records."""
        self.learner = None
        self.pin_below_policy = False
        self.view = SessionView()
        self.locked_by_idle = idle
        self.admin.lock()
        self._forget_work()

    # -- the PIN pad --------------------------------------------------------------------------------
    def pin_wait(self) -> int:
        """Seconds the PIN pad must still wait after a refused PIN."""
        return max(0, int(self.view.pin_wait_until - self.device.clock() + 0.999))

    def tick_pin_wait(self) -> bool:
        """Count a running PIN wait down on the pad (called once a second by the page).
        True when the message changed and the pad should be drawn again."""
        if self.signed_in or not self.view.pin_wait_until:
            return False
        wait = self.pin_wait()
        if wait > 0:
            text = pin_texts.wrong_pin(self.translator, wait)
        else:
            self.view.pin_wait_until = 0.0
            text = pin_texts.may_try_again(self.translator)
        changed = text != self.view.pin_error
        self.view.pin_error = text
        return changed

    @property
    def pin_locked(self) -> bool:
        """The pad is locked out (a growing wait after wrong PINs): keys do nothing and
        the pad shows them disabled with the seconds left."""
        return self.pin_wait() > 0

    def pin_press(self, key: str) -> None:
        """One key of the PIN pad (a digit, or "del"); at most 8 digits. Ignored while
        the pad is locked out (the count-down message stays)."""
        self.touch()
        if self.pin_locked:
            return
        self.view.pin_error = ""
        if key == "del":
            self.view.pin_digits = self.view.pin_digits[:-1]
        elif len(key) == 1 and key in "0123456789" \
                and len(self.view.pin_digits) < PIN_MAX_DIGITS:
            self.view.pin_digits += key

    def sign_in(self, profile_id: str, pin: str) -> bool:
        """Try a PIN. True when signed in; False with ``view.pin_error`` set otherwise."""
        self.touch()
        tr = self.translator
        wait = self.pin_wait()
        if wait > 0:
            self.view.pin_error = pin_texts.please_wait(tr, wait)
            return False
        try:
            ok = self.device.store.profiles.verify_pin(profile_id, pin)
        except AuthError as exc:
            self.view.pin_digits = ""
            wait_s = pin_texts.wait_seconds_of(exc)
            self.view.pin_wait_until = self.device.clock() + wait_s if wait_s else 0.0
            self.view.pin_error = pin_texts.pin_error_message(tr, exc)
            return False
        if ok is False:
            self.view.pin_digits = ""
            self.view.pin_error = pin_texts.wrong_pin(tr)
            return False
        self.learner = self.device.profiles.get(profile_id)
        self.view = SessionView()
        # a PIN shorter than the deployment's policy (made before the tablet learnt it):
        # home asks for a new one; a new profile's work waits for it to reach the server
        self.pin_below_policy = len(pin) < self.device.pin_min_digits
        self.locked_by_idle = False
        self.idle.touch()
        self._load_work()
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
            if not normalise_code(code):
                raise ProfileFormError("code", ErrorCode.SETUP_CODE_MISSING)
            clean = validate_new_pin(pin, pin_again, min_digits=self.device.pin_min_digits)
        except ProfileFormError as exc:
            self.view.form_error = exc
            return False
        tr = self.translator
        try:
            self.device.store.profiles.set_first_pin(profile_id, clean, str(code),
                                                     min_digits=self.device.pin_min_digits)
        except SetupCodeError as exc:
            self.view.form_error = ProfileFormError("code", exc.code)
            return False
        except PinLockedError as exc:
            self.view.form_message = pin_texts.too_many_tries(tr,
                                                              pin_texts.wait_seconds_of(exc))
            return False
        except AuthError:
            self.view.form_message = pin_texts.pin_already_set(tr)
            return False
        self.view.form = {}
        return self.sign_in(profile_id, clean)

    def change_pin(self, old: object, new: object, new_again: object) -> bool:
        """The signed-in learner changes her PIN: the old one (a wrong one counts for the
        lock-out), then the new one twice, under the PIN policy (``pin_min_digits``; the
        old PIN may be shorter). False with ``view.form_error`` / ``view.form_message``."""
        self.touch()
        self.view.form_error, self.view.form_message = None, ""
        if self.learner is None:
            raise AuthError("sign in first")
        try:
            clean = validate_new_pin(new, new_again, min_digits=self.device.pin_min_digits)
        except ProfileFormError as exc:
            self.view.form_error = exc
            return False
        try:
            self.device.store.profiles.set_pin(self.learner.id, str(old or ""), clean,
                                               min_digits=self.device.pin_min_digits)
        except PinLockedError as exc:
            self.view.form_message = pin_texts.too_many_tries(self.translator,
                                                              pin_texts.wait_seconds_of(exc))
            return False
        except AuthError:
            self.view.form_error = ProfileFormError("old_pin", ErrorCode.PIN_WRONG)
            return False
        self.pin_below_policy = False
        return True
