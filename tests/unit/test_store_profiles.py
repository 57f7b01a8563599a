"""Learner profiles: PIN verifiers, lock-out (persisted), push/pull bookkeeping."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from app.core import pins
from app.core.errors import AuthError, PinLockedError, PinNotSetError, SetupCodeError, StoreError
from app.core.pins import make_verifier, parse_verifier, verify
from app.core.store import Store
from app.core.store.profiles import lock_delay

#: A PIN verifier of an older app (scrypt n=2^14, holding K itself) for PIN 2468.
LEGACY = "scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + base64.b64encode(hashlib.scrypt(
    b"2468", salt=b"0123456789abcdef", n=16384, r=8, p=1, dklen=32)).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def new(store: Store, name: str = "Ana Silva", staff: str = "PO-1001", pin: str = "2468",
        **kw: Any) -> dict[str, Any]:
    args = {"role": "prison_officer", "language": "pt"} | kw
    return store.profiles.create(name, staff, args["role"], args["language"], pin)


@pytest.mark.plain_store
def test_create_list_get_update(store: Store, tmp_path: Path) -> None:
    ana = new(store)
    bo = new(store, "bo Berg", "SW-7", role="social_worker", language="sv")
    assert set(ana) == {"id", "display_name", "staff_number", "role", "language",
                        "created_at", "updated_at", "needs_pin"}
    assert ana["needs_pin"] is False
    assert [p["display_name"] for p in store.profiles.list()] == ["Ana Silva", "bo Berg"]
    assert store.profiles.get(bo["id"]) == bo
    assert store.profiles.get("nope") is None
    changed = store.profiles.update(ana["id"], display_name="  Ana S. ", language="en")
    assert changed["display_name"] == "Ana S." and changed["language"] == "en"
    raw = (tmp_path / "store" / "profiles.json").read_text()
    assert "2468" not in raw and "argon2id$19456$2$1$" in raw
    assert all("pin_verifier" not in p for p in store.profiles.list())


@pytest.mark.parametrize("field, args", [
    ("display_name", ("", "S1", "trainer", "en", "1234")),
    ("display_name", ("x" * 81, "S1", "trainer", "en", "1234")),
    ("display_name", ("Eve\u202e", "S1", "trainer", "en", "1234")),
    ("display_name", ("Line\nbreak", "S1", "trainer", "en", "1234")),
    ("staff_number", ("Eve", "../../x", "trainer", "en", "1234")),
    ("staff_number", ("Eve", "", "trainer", "en", "1234")),
    ("role", ("Eve", "S1", "warden", "en", "1234")),
    ("role", ("Eve", "S1", None, "en", "1234")),
    ("language", ("Eve", "S1", "trainer", "english", "1234")),
    ("pin", ("Eve", "S1", "trainer", "en", "123")),
    ("pin", ("Eve", "S1", "trainer", "en", "123456789")),
    ("pin", ("Eve", "S1", "trainer", "en", "12a4")),
    ("pin", ("Eve", "S1", "trainer", "en", "١٢٣٤")),  # Arabic-Indic digits
    ("pin", ("Eve", "S1", "trainer", "en", 1234)),
])
def test_create_rejects_bad_fields_by_name(store: Store, field: str, args: tuple) -> None:
    with pytest.raises(StoreError, match=f"^{field}"):
        store.profiles.create(*args)
    assert store.profiles.list() == []


def test_update_refuses_unknown_fields_pins_and_duplicate_staff_numbers(store: Store) -> None:
    ana, bo = new(store), new(store, "Bo", "PO-2")
    with pytest.raises(StoreError, match="pin"):
        store.profiles.update(ana["id"], pin="9999")
    with pytest.raises(StoreError, match="failed_attempts"):
        store.profiles.update(ana["id"], failed_attempts=0)
    with pytest.raises(StoreError, match="staff_number"):
        store.profiles.update(bo["id"], staff_number="PO-1001")
    with pytest.raises(StoreError, match="staff_number"):
        new(store, "Cy", "PO-2")
    with pytest.raises(StoreError, match="not found"):
        store.profiles.update("missing", display_name="X")


def test_verify_pin_and_growing_persisted_lockout(tmp_path: Path) -> None:
    clock = Clock()
    s = Store.open(tmp_path)
    s.profiles._clock = clock
    ana = new(s)
    assert s.profiles.verify_pin(ana["id"], "2468") is True
    for left in (2, 1):
        with pytest.raises(AuthError, match=f"{left} more tr") as info:
            s.profiles.verify_pin(ana["id"], "0000")
        assert not isinstance(info.value, PinLockedError)
    with pytest.raises(PinLockedError, match="30 seconds") as info:
        s.profiles.verify_pin(ana["id"], "0000")
    assert info.value.wait_seconds == 30
    # locked: even the right PIN is refused, without a scrypt run
    with pytest.raises(PinLockedError, match="try again in 30 seconds"):
        s.profiles.verify_pin(ana["id"], "2468")
    s.close()
    # a restart does not reset the lock
    s = Store.open(tmp_path)
    s.profiles._clock = clock
    clock.now += 10
    with pytest.raises(PinLockedError) as info:
        s.profiles.verify_pin(ana["id"], "2468")
    assert info.value.wait_seconds == 20
    clock.now += 20
    with pytest.raises(PinLockedError) as info:
        s.profiles.verify_pin(ana["id"], "1111")
    assert info.value.wait_seconds == 60  # doubled
    clock.now += 60
    assert s.profiles.locked_seconds(ana["id"]) == 0
    assert s.profiles.verify_pin(ana["id"], "2468") is True
    for _ in range(2):  # the count was reset by the success
        with pytest.raises(AuthError):
            s.profiles.verify_pin(ana["id"], "0000")
    assert s.profiles.locked_seconds(ana["id"]) == 0
    s.close()


def test_lock_delay_schedule_and_clock_set_back(store: Store) -> None:
    assert [lock_delay(n) for n in range(1, 8)] == [0, 0, 30, 60, 120, 240, 480]
    assert lock_delay(50) == 3600
    clock = Clock()
    store.profiles._clock = clock
    ana = new(store)
    for _ in range(3):
        with pytest.raises(AuthError):
            store.profiles.verify_pin(ana["id"], "0000")
    clock.now -= 10 * 365 * 86400  # the device clock jumps back years
    assert store.profiles.locked_seconds(ana["id"]) == 3600


def test_verify_pin_hostile_input(store: Store) -> None:
    ana = new(store)
    with pytest.raises(AuthError, match="unknown profile"):
        store.profiles.verify_pin("nobody", "2468")
    with pytest.raises(AuthError, match="unknown profile"):
        store.profiles.verify_pin(None, "2468")  # type: ignore[arg-type]
    for bad in (None, "", "24 68", "2468\n", "9" * 5000):
        with pytest.raises(AuthError):
            store.profiles.verify_pin(ana["id"], bad)  # type: ignore[arg-type]
    assert store.profiles.verify_pin(ana["id"], "2468")


def test_set_pin(store: Store) -> None:
    ana = new(store)
    with pytest.raises(StoreError, match="new PIN"):
        store.profiles.set_pin(ana["id"], "2468", "12")
    with pytest.raises(AuthError):
        store.profiles.set_pin(ana["id"], "9999", "1357")
    store.profiles.set_pin(ana["id"], "2468", "13579")
    with pytest.raises(AuthError):
        store.profiles.verify_pin(ana["id"], "2468")
    assert store.profiles.verify_pin(ana["id"], "13579")


def test_pin_verifier_format_is_portable() -> None:
    verifier = make_verifier("0042")
    parsed = parse_verifier(verifier)
    assert (parsed.kind, parsed.a, parsed.b, parsed.p, len(parsed.salt), len(parsed.digest)) \
        == ("argon2id", 19456, 2, 1, 16, 32)                   # OWASP: m=19 MiB, t=2, p=1
    assert verifier.startswith("argon2id$19456$2$1$")
    assert verify(verifier, "0042") and not verify(verifier, "0043")
    assert verify(verifier, "42") is False
    assert make_verifier("0042") != verifier  # salted
    # the verifier holds H(K), not K: K (the proof of the PIN) is not in it
    key = pins.key_if_matches(verifier, "0042")
    assert key is not None and pins.proof_matches(verifier, key)
    assert pins.encode_proof(key) not in verifier and not pins.is_strong(LEGACY)
    assert not pins.proof_matches(verifier, pins.key_if_matches(make_verifier("0042"), "0042"))


def test_old_scrypt_verifiers_still_sign_in_and_are_wrapped_without_the_pin() -> None:
    assert verify(LEGACY, "2468") and not verify(LEGACY, "2469")
    wrapped = pins.canonical(LEGACY)
    assert wrapped.startswith("scrypt-sha256$16384$8$1$") and pins.same(wrapped, LEGACY)
    assert verify(wrapped, "2468") and not verify(wrapped, "2469")
    old_key = LEGACY.rsplit("$", 1)[1]            # the old form holds K itself …
    assert pins.proof_matches(LEGACY, pins.decode_proof(old_key))
    assert old_key not in wrapped                 # … the wrapped one does not
    assert pins.needs_upgrade(LEGACY) and pins.needs_upgrade(wrapped)
    assert not pins.needs_upgrade(make_verifier("2468"))


@pytest.mark.parametrize("bad", [
    None, 42, "", "plain", "bcrypt$1$2$3$abc$def",
    "scrypt$16384$8$1$c2FsdHNhbHQ=",                          # missing hash
    "scrypt$1048576$8$1$c2FsdHNhbHRzYWx0$" + "A" * 44,        # n too big (DoS)
    "scrypt$1000$8$1$c2FsdHNhbHRzYWx0$" + "A" * 44,           # not a power of two
    "scrypt$16384$64$1$c2FsdHNhbHRzYWx0$" + "A" * 44,         # r too big
    "scrypt$16384$8$1$!!!!!!!!$" + "A" * 44,                  # bad base64
    "argon2id$1048576$1$1$c2FsdHNhbHRzYWx0$" + "A" * 44,      # 1 GiB of memory (DoS)
    "argon2id$65536$8$1$c2FsdHNhbHRzYWx0$" + "A" * 44,        # m·t too big (DoS)
    "argon2id$47104$1$9$c2FsdHNhbHRzYWx0$" + "A" * 44,        # p too big
    "argon2id$47104$1$1$c2FsdHNhbHRzYWx0$" + "A" * 24,        # hash not 32 bytes
    "not-a-verifier",
])
def test_hostile_verifiers_are_refused(bad: Any) -> None:
    with pytest.raises(StoreError, match="pin_verifier"):
        parse_verifier(bad)


def test_push_and_pull_bookkeeping_with_portable_verifiers(tmp_path: Path) -> None:
    one = Store.open(tmp_path / "one")
    ana = new(one)
    pending = one.profiles.pending_push()
    assert [p["id"] for p in pending] == [ana["id"]]
    assert pending[0]["pin_verifier"].startswith("argon2id$")
    assert pending[0]["pin_proof"] is None                # a new profile proves nothing
    # changed after pending_push handed it out: stays pending after mark_pushed
    one.profiles.update(ana["id"], display_name="Ana Changed")
    assert one.profiles.mark_pushed([ana["id"], "unknown"]) == 0
    pending = one.profiles.pending_push()
    assert one.profiles.mark_pushed([p["id"] for p in pending]) == 1
    assert one.profiles.pending_push() == []
    with pytest.raises(StoreError):
        one.profiles.mark_pushed("abc")
    one.close()

    # another tablet pulls the profile (as the server sends it) and Ana signs in there
    two = Store.open(tmp_path / "two")
    assert two.profiles.upsert_remote(pending) == 1
    assert two.profiles.upsert_remote(pending) == 0  # unchanged
    assert two.profiles.verify_pin(ana["id"], "2468") is True
    assert two.profiles.pending_push() == []
    assert two.profiles.get(ana["id"])["display_name"] == "Ana Changed"
    # a local change newer than the server copy is kept until it is pushed
    two.profiles.update(ana["id"], display_name="Ana Local")
    stale = [dict(pending[0], updated_at="2020-01-01T00:00:00.000Z")]
    assert two.profiles.upsert_remote(stale) == 0
    assert two.profiles.get(ana["id"])["display_name"] == "Ana Local"
    newer = [dict(pending[0], display_name="Ana Server", updated_at="2099-01-01T00:00:00.000Z")]
    assert two.profiles.upsert_remote(newer) == 1
    assert two.profiles.get(ana["id"])["display_name"] == "Ana Server"
    two.close()


@pytest.mark.parametrize("bad, where", [
    ({"pin": "1234"}, "pin"),
    ({"id": "not-a-uuid"}, "id"),
    ({"id": "3F0C2A9E-0000-4000-8000-000000000000"}, "id"),
    ({"role": "warden"}, "role"),
    ({"pin_verifier": "scrypt$2$1$1$AAAAAAAA$" + "A" * 44}, "pin_verifier"),
    ({"updated_at": "tomorrow"}, "updated_at"),
    ({"display_name": None}, "display_name"),
])
def test_upsert_remote_validates_every_profile(store: Store, bad: dict, where: str) -> None:
    good = {"id": "3f0c2a9e-0000-4000-8000-000000000000", "display_name": "Remote",
            "staff_number": "R-1", "role": "trainer", "language": "en",
            "pin_verifier": make_verifier("1234")}
    with pytest.raises(StoreError, match=rf"profiles\[1\]\.{where}"):
        store.profiles.upsert_remote([good, {**good, **bad}])
    assert store.profiles.list() == []  # all-or-nothing
    with pytest.raises(StoreError):
        store.profiles.upsert_remote({"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"profiles\[0\]"):
        store.profiles.upsert_remote(["text"])  # type: ignore[list-item]


# -- learners registered by an admin: no PIN until they set a first one on a tablet ----
CODE = "K7QF-M2XP-9HTR"
SETUP = pins.make_setup_verifier(CODE)
ADMIN_MADE = {"id": "5a1e0000-0000-4000-8000-000000000001", "display_name": "Petras P",
              "staff_number": "LT-0099", "role": "prison_officer", "language": "lt",
              "pin_verifier": None, "updated_at": "2026-11-20T10:00:00.000Z",
              "pin_setup_verifier": SETUP, "pin_setup_expires_at": "2099-01-01T00:00:00.000Z"}


def test_remote_profile_without_pin_is_kept_and_needs_a_first_pin(store: Store) -> None:
    assert store.profiles.upsert_remote([ADMIN_MADE, {**ADMIN_MADE, "id":
                                         "5a1e0000-0000-4000-8000-000000000002",
                                         "staff_number": "LT-0100"} | {"pin_verifier": None}]) == 2
    pid = ADMIN_MADE["id"]
    (tile,) = [p for p in store.profiles.list() if p["id"] == pid]
    assert tile["needs_pin"] is True and store.profiles.get(pid)["needs_pin"] is True
    with pytest.raises(PinNotSetError, match="no PIN yet"):
        store.profiles.verify_pin(pid, "2468")
    assert store.profiles.pending_push() == []          # pulled: nothing to push yet
    store.profiles.set_first_pin(pid, "2468", "k7qf m2xp 9htr")   # typed by hand
    assert store.profiles.get(pid)["needs_pin"] is False
    assert store.profiles.verify_pin(pid, "2468")
    with pytest.raises(AuthError):
        store.profiles.verify_pin(pid, "1357")
    (pending,) = store.profiles.pending_push()
    assert pending["id"] == pid and pending["pin_verifier"].startswith("argon2id$")
    assert pending["staff_number"] == "LT-0099" and pending["display_name"] == "Petras P"
    assert pending["updated_at"] == ADMIN_MADE["updated_at"]     # a PIN is not a field change
    # the proof of the first PIN is K of the set-up code: the server checks it
    assert pins.proof_matches(SETUP, pins.decode_proof(pending["pin_proof"]))
    assert store.profiles.mark_pushed([pid]) == 1 and store.profiles.pending_push() == []


def test_set_first_pin_needs_the_one_time_code(store: Store) -> None:
    ana = new(store)
    with pytest.raises(AuthError, match="already has a PIN"):
        store.profiles.set_first_pin(ana["id"], "9753", CODE)  # no way round the old PIN
    assert store.profiles.verify_pin(ana["id"], "2468")
    store.profiles.upsert_remote([ADMIN_MADE])
    pid = ADMIN_MADE["id"]
    for bad in ("12", "abcd", "123456789", "", None, "１２３４"):
        with pytest.raises(StoreError):
            store.profiles.set_first_pin(pid, bad, CODE)  # type: ignore[arg-type]
    assert store.profiles.get(pid)["needs_pin"] is True
    for unknown in ("nope", None, 42):
        with pytest.raises(AuthError, match="unknown profile"):
            store.profiles.set_first_pin(unknown, "2468", CODE)  # type: ignore[arg-type]
    # a colleague at the tablet without the code cannot take the profile
    for wrong in ("", "K7QF-M2XP-9HTS"):
        with pytest.raises(SetupCodeError) as info:
            store.profiles.set_first_pin(pid, "1357", wrong)
        assert info.value.reason == "wrong"
    with pytest.raises(PinLockedError):               # wrong codes count like wrong PINs
        store.profiles.set_first_pin(pid, "1357", "AAAA-BBBB-CCCD")
    assert store.profiles.get(pid)["needs_pin"] is True
    assert [p["id"] for p in store.profiles.pending_push()] == [ana["id"]]


def test_set_first_pin_refuses_a_missing_or_expired_code(tmp_path: Path) -> None:
    s = Store.open(tmp_path)
    try:
        s.profiles.upsert_remote([{**ADMIN_MADE, "pin_setup_verifier": None,
                                   "pin_setup_expires_at": None}])
        pid = ADMIN_MADE["id"]
        with pytest.raises(SetupCodeError) as info:
            s.profiles.set_first_pin(pid, "2468", CODE)
        assert info.value.reason == "missing"
        s.profiles.upsert_remote([{**ADMIN_MADE, "pin_setup_expires_at":
                                   "2020-01-01T00:00:00.000Z", "updated_at":
                                   "2026-11-21T10:00:00.000Z"}])
        with pytest.raises(SetupCodeError) as info:
            s.profiles.set_first_pin(pid, "2468", CODE)
        assert info.value.reason == "expired"
        assert s.profiles.get(pid)["needs_pin"] is True
        assert s.profiles.locked_seconds(pid) == 0          # not counted as wrong tries
    finally:
        s.close()


def test_a_pull_without_verifier_never_drops_a_first_pin_set_here(store: Store,
                                                                  tmp_path: Path) -> None:
    pid = ADMIN_MADE["id"]
    store.profiles.upsert_remote([ADMIN_MADE])
    store.profiles.set_first_pin(pid, "2468", CODE)
    # the admin renames the learner on the server (newer) before the PIN went up
    renamed = {**ADMIN_MADE, "display_name": "Petras Petraitis",
               "updated_at": "2099-01-01T00:00:00.000Z"}
    assert store.profiles.upsert_remote([renamed]) == 1
    assert store.profiles.get(pid)["display_name"] == "Petras Petraitis"
    assert store.profiles.verify_pin(pid, "2468")
    (pending,) = store.profiles.pending_push()          # the PIN still has to go up
    assert pending["pin_verifier"].startswith("argon2id$") and pending["pin_proof"]
    store.close()
    again = Store.open(tmp_path)                          # persisted
    try:
        assert again.profiles.verify_pin(pid, "2468")
        # the server later sends the verifier: stored, no longer pending
        assert again.profiles.upsert_remote([{**renamed, "pin_verifier": pending["pin_verifier"],
                                              "pin_setup_verifier": None,
                                              "updated_at": "2099-01-02T00:00:00.000Z"}]) == 1
        assert again.profiles.pending_push() == []
    finally:
        again.close()


def test_an_admin_reset_or_a_new_code_on_the_server_wins(store: Store) -> None:
    """The server's PIN state wins over a local first PIN proven with an older code, and
    an admin's reset (no verifier, a new code) removes a PIN that was already synced."""
    pid = ADMIN_MADE["id"]
    store.profiles.upsert_remote([ADMIN_MADE])
    store.profiles.set_first_pin(pid, "2468", CODE)
    new_code = pins.make_setup_verifier("AAAA-BBBB-CCCC")
    store.profiles.upsert_remote([{**ADMIN_MADE, "pin_setup_verifier": new_code}])
    assert store.profiles.get(pid)["needs_pin"] is True and store.profiles.pending_push() == []
    store.profiles.set_first_pin(pid, "2468", "AAAA-BBBB-CCCC")
    (pending,) = store.profiles.pending_push()
    store.profiles.mark_pushed([pid])
    synced = {**ADMIN_MADE, "pin_verifier": pending["pin_verifier"], "pin_setup_verifier": None}
    assert store.profiles.upsert_remote([synced]) == 0     # the same: nothing changes
    store.profiles.upsert_remote([ADMIN_MADE])             # reset by the admin
    assert store.profiles.get(pid)["needs_pin"] is True
    with pytest.raises(PinNotSetError):
        store.profiles.verify_pin(pid, "2468")


def test_pin_changes_carry_the_proof_of_the_pin_the_server_has(tmp_path: Path) -> None:
    one, two = Store.open(tmp_path / "one"), Store.open(tmp_path / "two")
    try:
        ana = new(one)
        (first,) = one.profiles.pending_push()
        one.profiles.mark_pushed([ana["id"]])
        server_copy = {**first, "pin_proof": None}
        two.profiles.upsert_remote([server_copy])
        # two changes offline: the proof stays the one of the PIN the server has
        one.profiles.set_pin(ana["id"], "2468", "1357")
        one.profiles.set_pin(ana["id"], "1357", "9753")
        (change,) = one.profiles.pending_push()
        assert pins.proof_matches(first["pin_verifier"], pins.decode_proof(change["pin_proof"]))
        assert change["updated_at"] == first["updated_at"]
        # a pull of the unchanged server copy keeps the local change pending
        assert one.profiles.upsert_remote([server_copy]) == 0
        assert one.profiles.verify_pin(ana["id"], "9753")
        # meanwhile the PIN was changed on tablet two and reached the server first: the
        # server's copy wins (it would refuse our proof anyway)
        two.profiles.set_pin(ana["id"], "2468", "4826")
        (other,) = two.profiles.pending_push()
        one.profiles.upsert_remote([{**other, "pin_proof": None}])
        assert one.profiles.pending_push() == []
        assert one.profiles.verify_pin(ana["id"], "4826")
        with pytest.raises(AuthError):
            one.profiles.verify_pin(ana["id"], "9753")
    finally:
        one.close()
        two.close()


def test_an_old_verifier_is_upgraded_at_the_next_sign_in(store: Store) -> None:
    remote = {**ADMIN_MADE, "pin_verifier": LEGACY, "pin_setup_verifier": None}
    store.profiles.upsert_remote([remote])
    pid = remote["id"]
    assert store.profiles.pending_push() == []
    with pytest.raises(AuthError):
        store.profiles.verify_pin(pid, "1111")          # a wrong PIN upgrades nothing
    assert store.profiles.pending_push() == []
    assert store.profiles.verify_pin(pid, "2468")
    (pending,) = store.profiles.pending_push()
    assert pins.is_strong(pending["pin_verifier"]) and verify(pending["pin_verifier"], "2468")
    assert pins.proof_matches(LEGACY, pins.decode_proof(pending["pin_proof"]))
    assert pending["updated_at"] == remote["updated_at"]
    assert store.profiles.verify_pin(pid, "2468")       # signs in with the new one
    assert len(store.profiles.pending_push()) == 1


def test_a_pin_changed_elsewhere_starts_the_lock_out_afresh(tmp_path: Path) -> None:
    """Locked out on this tablet, the learner has the PIN reset by an admin and sets a
    new one on another tablet: the new verifier (or none, after the reset) clears this
    tablet's lock-out; an unchanged verifier keeps it (lock-out state stays local)."""
    one = Store.open(tmp_path / "one")
    ana = one.profiles.create("Ana", "S-9", "prison_officer", "en", "2468")
    (pushed,) = one.profiles.pending_push()
    one.close()
    two = Store.open(tmp_path / "two")
    two.profiles.upsert_remote([pushed])
    for wrong in ("1111", "2222", "3333"):
        with pytest.raises(AuthError):
            two.profiles.verify_pin(ana["id"], wrong)
    assert two.profiles.locked_seconds(ana["id"]) > 0
    assert two.profiles.upsert_remote([dict(pushed, display_name="Ana B",
                                            updated_at="2099-01-01T00:00:00.000Z")]) == 1
    assert two.profiles.locked_seconds(ana["id"]) > 0          # same PIN: still locked
    reset = dict(pushed, pin_verifier=None, updated_at="2099-01-02T00:00:00.000Z")
    assert two.profiles.upsert_remote([reset]) == 1
    assert two.profiles.locked_seconds(ana["id"]) == 0         # PIN gone: code can be typed
    two.close()
