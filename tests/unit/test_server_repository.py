"""The repository contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from sync_server.db import open_repository
from sync_server.db.repository import (
    CertificateRecord,
    DeviceUsage,
    EventRow,
    Learner,
    PackVersion,
    Repository,
)
from sync_server.db.usage import UsageCharge, UsageRefused
from sync_server.errors import (
    AlreadyExistsError,
    DatabaseError,
    DeviceIdTakenError,
    EnrolError,
    NotFoundError,
)
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

T0 = "2026-01-01T00:00:00.000Z"
T1 = "2026-01-02T00:00:00.000Z"


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    r.create_facility("f1", "Facility one", T0)
    r.create_facility("f2", "Facility two", T0)
    yield r
    r.close()


def learner(fac: str = "f1", staff: str = "S-1", lid: str | None = None,
            updated: str = T0, **kw: object) -> Learner:
    base = dict(id=lid or str(uuid.uuid4()), staff_number=staff, facility_id=fac,
                role="prison_officer", language="en", display_name="A", pin_verifier="v1",
                updated_at=updated)
    base.update(kw)
    return Learner(**base)  # type: ignore[arg-type]


def row(eid: str, content: str = "{}", fac: str = "f1", lid: str = "L") -> EventRow:
    return EventRow(eid, lid, "d1", fac, "card.viewed", T0, content, T1, "d1")


def test_sqlite_checkpoints_after_letting_go_of_the_write_lock(tmp_path: Path) -> None:
    """Once CHECKPOINT_ROWS rows were written a writer copies the WAL into the database
    file — after it released the write lock, so the next writer never waits for that
    I/O. Small transactions count for what they write, not one checkpoint each."""
    from sync_server.db import sqlite as sqlite_db
    repo = open_repository(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert isinstance(repo, sqlite_db.SqliteRepository)
    repo.create_facility("f1", "Facility one", T0)
    held: list[bool] = []
    real = repo._checkpoint

    def spy() -> None:
        held.append(repo._write_lock.locked())
        real()

    repo._checkpoint = spy  # type: ignore[method-assign]
    db_file = tmp_path / "db.sqlite3"
    size = db_file.stat().st_size
    per_call = sqlite_db.CHECKPOINT_ROWS // 4
    for i in range(8):
        repo.insert_events([row(f"c{i}-{k}", "x" * 2000) for k in range(per_call)])
    assert held == [False, False]                     # after rows 4 × ¼ and 8 × ¼
    assert db_file.stat().st_size > size + 4_000_000     # the pages reached the file
    for i in range(20):                                   # 20 commits of one row each
        repo.insert_events([row(f"small-{i}")])
    assert held == [False, False]
    repo.close()


class _FailingCommit:
    """The writer connection, except that its next commit fails as a full disk would."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def commit(self) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _StuckConnection(_FailingCommit):
    """… and whose rollback fails too: left inside its transaction."""

    def rollback(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_sqlite_writes_share_one_connection_and_survive_a_failed_commit(tmp_path: Path) -> None:
    """Every write uses the same connection (its page cache stays warm between writes);
    a write whose commit fails stores nothing, reports the error, and leaves the
    connection usable — or replaced — for the next write, never stuck in a transaction."""
    from sync_server.db import sqlite as sqlite_db
    repo = open_repository(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert isinstance(repo, sqlite_db.SqliteRepository)
    repo.create_facility("f1", "Facility one", T0)
    writer = repo._writer
    repo.insert_events([row("e1")])
    assert repo._writer is writer is not None
    assert writer.execute("PRAGMA cache_size").fetchone()[0] == -sqlite_db.WRITER_CACHE_KIB
    repo._writer = _FailingCommit(writer)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        repo.insert_events([row("e2")])
    assert not writer.in_transaction
    repo._writer = writer
    assert repo.insert_events([row("e3"), row("e1")]) == {"e3": "stored", "e1": "duplicate"}
    assert repo.all_event_ids() == ["e1", "e3"]         # e2's failed commit left nothing
    repo._writer = _StuckConnection(writer)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        repo.insert_events([row("e4")])
    assert repo._writer is None                         # dropped, not reused
    assert repo.insert_events([row("e5")]) == {"e5": "stored"}
    assert repo._writer is not None and repo._writer is not writer
    assert repo.all_event_ids() == ["e1", "e3", "e5"]
    repo.close()


def test_schema_is_created_once_and_reopening_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    r = open_repository(url)
    r.create_facility("f1", "One", T0)
    r.close()
    r = open_repository(url)
    assert [f.id for f in r.list_facilities()] == ["f1"]
    r.close()


def test_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="unsupported database URL scheme"):
        open_repository("mysql://x/y")


def test_facility_ids_are_unique(repo: Repository) -> None:
    with pytest.raises(AlreadyExistsError, match="f1"):
        repo.create_facility("f1", "again", T0)
    assert repo.get_facility("nope") is None


def test_admin_sessions_expire_and_end_with_a_new_password(repo: Repository) -> None:
    admin = repo.create_admin("a1", "boss", "hash", T0)
    with pytest.raises(AlreadyExistsError):
        repo.create_admin("a2", "boss", "hash", T0)
    repo.create_admin_session("tok", admin.id, T1, T0)
    assert repo.admin_for_session("tok", T0).name == "boss"
    assert repo.admin_for_session("tok", T1) is None          # expired at T1
    assert repo.admin_for_session("other", T0) is None
    repo.set_admin_password("boss", "hash2")
    assert repo.admin_for_session("tok", T0) is None          # sessions ended
    with pytest.raises(NotFoundError):
        repo.set_admin_password("ghost", "x")


def test_enrol_code_is_one_time_and_expires(repo: Repository) -> None:
    repo.create_enrol_code("c1", "f1", T1, "boss", T0)
    dev = repo.enrol_device("c1", "d1", "tab", "th1", T0)
    assert (dev.id, dev.facility_id) == ("d1", "f1")
    with pytest.raises(EnrolError, match="already used"):
        repo.enrol_device("c1", "d2", "tab", "th2", T0)
    repo.create_enrol_code("c2", "f1", T1, "boss", T0)
    with pytest.raises(EnrolError, match="expired"):
        repo.enrol_device("c2", "d3", "tab", "th3", T1)
    with pytest.raises(EnrolError, match="unknown"):
        repo.enrol_device("zz", "d3", "tab", "th3", T0)
    with pytest.raises(NotFoundError):
        repo.create_enrol_code("c3", "ghost", T1, "boss", T0)
    assert repo.get_device("d3") is None


def test_revoke_and_re_enrol_replaces_the_token(repo: Repository) -> None:
    """Re-enrolment keeps a device id only for the tablet that proves it holds that id's
    token (issue 13 row 7: before, any valid code took over any id — token and facility)."""
    repo.create_enrol_code("c1", "f1", T1, "boss", T0)
    repo.enrol_device("c1", "d1", "tab", "th1", T0)
    assert repo.revoke_device("d1", T0) is True
    assert repo.revoke_device("d1", T0) is False
    assert repo.device_for_token("th1").revoked
    repo.create_enrol_code("c2", "f2", T1, "boss", T0)
    for proof in (None, "th-wrong"):                   # no proof, or another device's token
        with pytest.raises(DeviceIdTakenError):
            repo.enrol_device("c2", "d1", "tab", "th-evil", T0, proof_hash=proof)
    assert repo.device_for_token("th-evil") is None and repo.device_for_token("th1").revoked
    repo.enrol_device("c2", "d1", "tab", "th2", T0, proof_hash="th1")   # the code was not used up
    assert repo.device_for_token("th1") is None
    again = repo.device_for_token("th2")
    assert again is not None and not again.revoked and again.facility_id == "f2"


def test_daily_usage_is_charged_until_a_quota_is_used_up(repo: Repository) -> None:
    day, next_day = "2026-01-01", "2026-01-02"

    def charge(device: str, events: int, bytes_: int, on: str = day) -> DeviceUsage:
        return repo.charge_usage(device, on, events=events, bytes_=bytes_, max_events=100,
                                 max_bytes=10_000)

    assert charge("d1", 60, 1000) == DeviceUsage(60, 1000)
    assert charge("d1", 60, 1000) == DeviceUsage(120, 2000)      # the push reaching it: taken
    assert charge("d1", 1, 1) == DeviceUsage(120, 2000, "events_per_day")   # nothing charged
    assert charge("d2", 1, 20_000) == DeviceUsage(1, 20_000)     # other devices: their own
    assert charge("d2", 1, 1) == DeviceUsage(1, 20_000, "bytes_per_day")
    assert repo.device_usage("d1", day) == DeviceUsage(120, 2000)
    assert charge("d1", 5, 5, next_day) == DeviceUsage(5, 5)     # a new day starts afresh
    assert repo.device_usage("d1", day) == DeviceUsage(0, 0)     # and old days are dropped
    assert repo.charge_usage("d3", day, events=10**6, bytes_=10**9, max_events=0,
                             max_bytes=0).refused is None        # 0 = no limit



def test_a_charge_in_the_events_transaction_is_all_or_nothing(repo: Repository) -> None:
    """The push's quota charge made with its events (one transaction): a refused charge
    stores and charges nothing; a charge with no event to store is still made."""
    day = "2026-01-01"

    def charge(events: int) -> UsageCharge:
        return UsageCharge("d1", day, events, 100, max_events=3, max_bytes=0)

    assert repo.insert_events([row("e1"), row("e2")], charge=charge(2)) == {
        "e1": "stored", "e2": "stored"}
    assert repo.insert_events([], charge=charge(2)) == {}       # nothing to store: charged
    assert repo.device_usage("d1", day) == DeviceUsage(4, 200)
    with pytest.raises(UsageRefused) as refused:
        repo.insert_events([row("e3")], charge=charge(1))
    assert refused.value.usage == DeviceUsage(4, 200, "events_per_day")
    assert sorted(repo.all_event_ids()) == ["e1", "e2"]          # e3 was not stored
    assert repo.device_usage("d1", day) == DeviceUsage(4, 200)   # nor charged
    assert repo.count_events().total == 2                        # aggregates unchanged

def test_profile_rules(repo: Repository) -> None:
    a = learner(staff="LT 001")
    assert repo.save_profile(a).status == "registered"
    # staff numbers compare without case/spaces; the existing id (same facility) is returned
    clash = repo.save_profile(learner(staff="lt001"))
    assert (clash.status, clash.reason, clash.existing_id) == ("rejected", "staff_number_taken", a.id)
    # same id from another facility's device
    assert repo.save_profile(learner(fac="f2", staff="LT 001", lid=a.id)).reason == "other_facility"
    # older or equal copy does not overwrite
    assert repo.save_profile(learner(staff="LT 001", lid=a.id, display_name="B")).status == "unchanged"
    newer = learner(staff="LT 001", lid=a.id, updated=T1, display_name="B", pin_verifier="v2")
    assert repo.save_profile(newer).status == "updated"
    got = repo.get_learner(a.id)
    assert got.display_name == "B" and got.rev == 2
    assert got.pin_verifier == "v1"         # the verifier only changes by set_pin_verifier


def test_staff_numbers_are_unique_per_facility_and_never_leak(repo: Repository) -> None:
    """Issue 13 row 6: a staff number of another facility neither blocks a registration
    nor appears in an answer (no other facility's learner id)."""
    mine = learner(fac="f1", staff="LT-0042")
    assert repo.save_profile(mine).status == "registered"
    before = repo.get_learner(mine.id)
    theirs = learner(fac="f2", staff="lt-00 42")
    result = repo.save_profile(theirs)
    assert (result.status, result.reason, result.existing_id) == ("registered", None, None)
    assert repo.get_learner(mine.id) == before                    # nothing else changed
    # within f2 the number is now taken — the answer names only the f2 learner
    clash = repo.save_profile(learner(fac="f2", staff="LT-0042"))
    assert (clash.reason, clash.existing_id) == ("staff_number_taken", theirs.id)
    # a move into a facility where the number is taken is refused, nothing moves
    with pytest.raises(AlreadyExistsError, match="staff number"):
        repo.move_learner(mine.id, "f2", T1)
    assert repo.get_learner(mine.id) == before
    assert [x.id for x in repo.list_learners("f1")] == [mine.id]


def test_pin_verifier_changes_are_compare_and_set(repo: Repository) -> None:
    a = learner(staff="P1", pin_verifier="v1")
    repo.save_profile(a)
    rev = repo.get_learner(a.id).rev
    assert not repo.set_pin_verifier(a.id, "v3", expected="v0", expected_setup=None)
    assert repo.get_learner(a.id).pin_verifier == "v1" and repo.get_learner(a.id).rev == rev
    assert repo.set_pin_verifier(a.id, "v2", expected="v1", expected_setup=None)
    assert not repo.set_pin_verifier(a.id, "v9", expected="v1", expected_setup=None)  # raced
    got = repo.get_learner(a.id)
    assert got.pin_verifier == "v2" and got.rev > rev and got.updated_at == a.updated_at


def test_first_pin_on_an_admin_registered_learner(repo: Repository) -> None:
    """A learner registered without a PIN but with a set-up code gets a verifier only
    against that code (once); an admin reset removes the PIN and opens a new code."""
    admin_made = learner(staff="LT-0099", updated=T1, pin_verifier=None, display_name="Petras",
                         pin_setup_verifier="setup1", pin_setup_expires_at=T1)
    assert repo.save_profile(admin_made).status == "registered"
    rev0 = repo.get_learner(admin_made.id).rev
    assert repo.get_learner(admin_made.id).pin_setup_verifier == "setup1"
    # a tablet copy never changes the verifier through save_profile
    pushed = learner(staff="LT-0099", lid=admin_made.id, updated=T0, pin_verifier="x")
    assert repo.save_profile(pushed).status == "unchanged"
    assert repo.get_learner(admin_made.id).pin_verifier is None
    # another code than the open one sets nothing; the open one sets it once
    assert not repo.set_pin_verifier(admin_made.id, "v1", expected=None, expected_setup="other")
    assert repo.set_pin_verifier(admin_made.id, "v1", expected=None, expected_setup="setup1")
    assert not repo.set_pin_verifier(admin_made.id, "v2", expected=None, expected_setup="setup1")
    got = repo.get_learner(admin_made.id)
    assert (got.pin_verifier, got.pin_setup_verifier, got.pin_setup_expires_at) == ("v1", None, None)
    assert (got.staff_number, got.display_name) == ("LT-0099", "Petras") and got.rev > rev0
    assert [p.id for p in repo.profiles_after("f1", rev0, 10)] == [admin_made.id]
    # the admin resets the PIN: no verifier, a new code, a new revision for the tablets
    assert repo.set_pin_setup(admin_made.id, "setup2", T1)
    reset = repo.get_learner(admin_made.id)
    assert (reset.pin_verifier, reset.pin_setup_verifier) == (None, "setup2") and reset.rev > got.rev
    assert not repo.set_pin_setup("nobody", "s", T1)


def test_profiles_after_is_per_facility_and_ordered(repo: Repository) -> None:
    ids = []
    for i in range(5):
        p = learner(staff=f"S{i}", fac="f1" if i % 2 == 0 else "f2")
        repo.save_profile(p)
        ids.append(p.id)
    f1 = repo.profiles_after("f1", 0, 10)
    assert [p.id for p in f1] == [ids[0], ids[2], ids[4]]
    assert [p.id for p in repo.profiles_after("f1", f1[0].rev, 1)] == [ids[2]]


def test_insert_events_is_idempotent_and_detects_conflicts(repo: Repository) -> None:
    assert repo.insert_events([row("e1", "a"), row("e2", "b")]) == {"e1": "stored", "e2": "stored"}
    st = repo.insert_events([row("e1", "a"), row("e2", "CHANGED"), row("e3", "c"), row("e3", "c")])
    assert st == {"e1": "duplicate", "e2": "conflict", "e3": "stored"}
    assert sorted(repo.all_event_ids()) == ["e1", "e2", "e3"]
    stored = {e.seq: e.content for e in repo.events_after("f1", 0, 10)}
    assert sorted(stored.values()) == ["a", "b", "c"]          # never overwritten


def test_an_insert_larger_than_one_statement_keeps_every_status(repo: Repository) -> None:
    """SQLite inserts 500 rows per statement (db/events.py): a call of 1,203 rows spans
    three, with duplicates and a conflict in the middle one and in the last."""
    repo.insert_events([row(f"e{i:04d}", f"c{i}") for i in range(700, 710)])
    repo.insert_events([row("e1201", "c1201")])
    rows = [row(f"e{i:04d}", "CHANGED" if i == 705 else f"c{i}") for i in range(1203)]
    st = repo.insert_events(rows)
    old = {f"e{i:04d}" for i in range(700, 710)} | {"e1201"}
    assert {e for e, s in st.items() if s == "duplicate"} == old - {"e0705"}
    assert st["e0705"] == "conflict"
    assert {e for e, s in st.items() if s == "stored"} == {r.id for r in rows} - old
    assert len(repo.all_event_ids()) == 1203
    assert [e.content for e in repo.events_after("f1", 0, 2000)][-1] == "c1202"
    assert repo.count_events().total == 1203                    # the totals count each once


def test_look_ups_by_more_ids_than_one_in_list_find_each_once(repo: Repository) -> None:
    """Look-ups by a list of ids go 500 to an `IN (…)` (db/base.py `in_lists`): 1,201
    asked — three lists, each asked twice, some unknown — find every known one once."""
    from sync_server.db.base import in_lists
    from sync_server.services import erasure
    assert [len(part) for part, _ in in_lists([str(i) for i in range(1001)])] == [500, 500, 1]
    assert list(in_lists([])) == []
    ids = [str(uuid.UUID(int=i + 1)) for i in range(1201)]
    known = [learner(staff=f"S-{i}", lid=ids[i]) for i in range(1100)]
    for one in known:
        repo.save_profile(one)
    for one in known[::250]:
        erasure.erase_learner(repo=repo, learner_id=one.id, by="boss")
    asked = ids * 2
    assert sorted(repo.learners_by_ids(asked)) == sorted(
        one.id for one in known if one.id not in {k.id for k in known[::250]})
    assert repo.erased_among(asked) == {one.id for one in known[::250]}


def test_any_text_is_stored_byte_for_byte_and_in_order(repo: Repository) -> None:
    """PostgreSQL copies the rows (COPY text format: tabs, newlines and backslashes are
    escaped on the way), SQLite binds them: what comes back is what went in, in order."""
    hostile = ["a\tb\nc\r\\N", "\\.", "\\", '{"x": "\u2028é\\n\t"}', "é" * 3000,
               "end of copy\n\\.\n", ""]
    rows = [row(f"h{i:03d}", hostile[i % len(hostile)]) for i in range(120)]
    assert set(repo.insert_events(rows).values()) == {"stored"}
    back = repo.events_after("f1", 0, 500)
    assert [e.content for e in back] == [r.content for r in rows]
    assert [e.seq for e in back] == sorted(e.seq for e in back)


def test_an_insert_with_an_erased_learner_among_others_stores_only_the_others(
        repo: Repository) -> None:
    """The rows are sent (PostgreSQL: copied) before the write lock; an erasure found
    under it leaves that learner's rows out of the insert, the others go in."""
    from sync_server.services import erasure
    gone, kept = learner(staff="S-1"), learner(staff="S-2")
    repo.save_profile(gone)
    repo.save_profile(kept)
    erasure.erase_learner(repo=repo, learner_id=gone.id, by="boss")
    rows = [row(f"m{i}", f"c{i}", lid=gone.id if i % 3 == 0 else kept.id) for i in range(9)]
    status = repo.insert_events(rows)
    assert status == {r.id: "erased" if r.learner_id == gone.id else "stored" for r in rows}
    assert [e.content for e in repo.events_after("f1", 0, 50)] == [
        r.content for r in rows if r.learner_id == kept.id]


def test_events_after_pages_by_cursor_per_facility(repo: Repository) -> None:
    repo.insert_events([row(f"e{i}", fac="f1" if i < 7 else "f2") for i in range(10)])
    page1 = repo.events_after("f1", 0, 4)
    page2 = repo.events_after("f1", page1[-1].seq, 4)
    assert len(page1) == 4 and len(page2) == 3
    assert repo.events_after("f1", page2[-1].seq, 4) == []
    assert repo.count_events().by_facility == {"f1": 7, "f2": 3}


def test_concurrent_writers_store_each_id_exactly_once(repo: Repository) -> None:
    ids = [f"e{i}" for i in range(300)]
    results: list[dict[str, str]] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        mine = ids[offset:] + ids[:offset]
        for start in range(0, len(mine), 50):
            st = repo.insert_events([row(e, "same") for e in mine[start:start + 50]])
            with lock:
                results.append(st)

    threads = [threading.Thread(target=worker, args=(k * 37,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(repo.all_event_ids()) == sorted(ids)
    stored = [e for st in results for e, s in st.items() if s == "stored"]
    assert sorted(stored) == sorted(ids)                       # each stored exactly once
    assert all(s in ("stored", "duplicate") for st in results for s in st.values())


def _pack(pid: str, ver: int) -> PackVersion:
    return PackVersion(pid, ver, b'{"id":"x"}', b"sig", '{"en":"T"}', 10, T0, "boss")


def test_packs_publications_and_installed(repo: Repository) -> None:
    repo.add_pack_version(_pack("p1", 1))
    with pytest.raises(AlreadyExistsError):
        repo.add_pack_version(_pack("p1", 1))
    with pytest.raises(NotFoundError):
        repo.publish("p1", 2, [], [], "boss", T0)
    with pytest.raises(NotFoundError):
        repo.publish("p1", 1, ["ghost"], [], "boss", T0)
    pub = repo.publish("p1", 1, ["f1", "f1"], ["prison_officer"], "boss", T0)
    assert pub.facilities == ("f1",) and pub.reaches("f1") and not pub.reaches("f2")
    assert repo.get_pack_version("p1", 1).manifest == b'{"id":"x"}'
    repo.create_enrol_code("c", "f1", T1, "b", T0)
    repo.enrol_device("c", "d1", "t", "th", T0)
    repo.add_pack_version(_pack("p1", 2))
    repo.report_installed("d1", {"p1": 1}, T0)
    repo.report_installed("d1", {"p1": 2}, T1)
    # what this server does not hold is not recorded: a device's report is its word,
    # and a thousand made-up ids a pull would otherwise be rows for good
    repo.report_installed("d1", {f"made-up-{i}": 1 for i in range(1000)} | {"p1": 9}, T1)
    [inst] = repo.installed_packs("f1")
    assert (inst.pack_id, inst.version, inst.reported_at) == ("p1", 2, T1)
    assert repo.installed_packs("f2") == []
    assert [i.version for i in repo.installed_packs(device_id="d1")] == [2]
    assert repo.installed_packs(device_id="ghost") == []


def test_an_event_of_a_learner_moved_before_its_insert_is_not_stored_in_the_old_facility(
        repo: Repository) -> None:
    """A push checks the learner's facility before the insert; a move that commits in
    between is found under the insert's lock (moves hold it too): the row is
    `other_facility`, not stored where the learner's new tablets would never pull it.
    The push answers it as a refusal (the tablet keeps the event)."""
    from sync_server.db.devices import Device
    from sync_server.services import sync
    moved, stays = learner(staff="S-1"), learner(staff="S-2")
    repo.save_profile(moved)
    repo.save_profile(stays)
    real = repo.insert_events

    def insert_after_a_move(rows: list[EventRow], **kw: Any) -> dict[str, Any]:
        repo.move_learner(moved.id, "f2", T1)               # an admin's move commits
        return real(rows, **kw)
    repo.insert_events = insert_after_a_move                # type: ignore[method-assign]
    events = [{"id": str(uuid.uuid4()), "learner": who.id, "device": "d1", "seq": n,
               "at": "2026-02-01T01:00:00.000Z", "type": "card.viewed", "pack": "pk",
               "pack_version": 1, "ref": {"course": "c1", "lesson": "l1", "card": "0"},
               "data": {}} for n, who in enumerate([moved, stays, moved], start=1)]
    result = sync.push(repo, Device("d1", "f1", "tab", T0), [*events, events[0]])
    assert result.stored == [events[1]["id"]]
    assert {(r["id"], r["reason"]) for r in result.rejected} == {
        (events[0]["id"], "other_facility"), (events[2]["id"], "other_facility")}
    assert len(result.rejected) == 3                        # the repeat as well
    assert repo.count_events().by_facility == {"f1": 1}
    assert repo.events_after("f2", 0, 10) == []
    assert real([row("late", lid=moved.id)]) == {"late": "other_facility"}
    assert real([row("there", fac="f2", lid=moved.id)]) == {"there": "stored"}


def test_a_revision_is_never_given_twice_not_even_after_an_erasure(repo: Repository) -> None:
    """Tablets pull profiles with rev > their cursor. The erased learner held the highest
    revision; the next learner registered used to get it again (MAX(rev) + 1 over the
    rows left) — at the tablets' cursor, so they never pulled that learner."""
    from sync_server.services import erasure
    first, last = learner(staff="R-1"), learner(staff="R-2")
    repo.save_profile(first)
    repo.save_profile(last)
    cursor = max(p.rev for p in repo.profiles_after("f1", 0, 10))
    erasure.erase_learner(repo=repo, learner_id=last.id, by="boss")
    newcomer = learner(staff="R-3")
    repo.save_profile(newcomer)
    assert [p.id for p in repo.profiles_after("f1", cursor, 10)] == [newcomer.id]
    cursor = max(p.rev for p in repo.profiles_after("f1", 0, 10))
    erasure.erase_learner(repo=repo, learner_id=newcomer.id, by="boss")
    repo.deactivate_learners([first.id], T1, audits=[])          # the bulk path
    assert [p.id for p in repo.profiles_after("f1", cursor, 10)] == [first.id]


def test_moving_a_learner_moves_their_history_after_every_cursor(repo: Repository) -> None:
    a, b = learner(staff="M1"), learner(staff="M2")
    repo.save_profile(a)
    repo.save_profile(b)
    repo.insert_events([row(f"a{i}", lid=a.id) for i in range(3)] + [row("b0", lid=b.id)])
    repo.insert_events([row("x0", fac="f2", lid="other")])
    f2_cursor = repo.events_after("f2", 0, 10)[-1].seq
    f2_profiles = repo.profiles_after("f2", 0, 10)
    repo.move_learner(a.id, "f2", T1)
    moved = repo.events_after("f2", f2_cursor, 10)
    assert sorted(e.content for e in moved) == ["{}"] * 3 and len(moved) == 3
    assert [p.id for p in repo.profiles_after("f2", max([0] + [p.rev for p in f2_profiles]), 10)] == [a.id]
    assert [e.seq for e in repo.events_after("f1", 0, 10)] == [4]        # only b's event left
    repo.insert_events([row("new", fac="f2", lid=a.id)])                 # seq keeps growing
    seqs = [e.seq for e in repo.events_after("f2", 0, 20)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 5
    with pytest.raises(NotFoundError):
        repo.move_learner(a.id, "ghost", T1)
    with pytest.raises(NotFoundError):
        repo.move_learner("nobody", "f1", T1)


@pytest.mark.postgres
def test_postgres_without_the_temporary_privilege_still_stores_pushes(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    """Pushes are copied through a temporary table; a role whose TEMPORARY privilege was
    revoked (a hardened database) gets the row-by-row insert instead, and a warning."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from tests.support.postgres import base_url
    name, password = f"notemp_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    try:
        with psycopg.connect(base_url(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
            admin.execute(f"CREATE DATABASE {name} OWNER {name}")
            admin.execute(f"REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC, {name}")
    except psycopg.errors.InsufficientPrivilege as exc:
        pytest.skip(f"the test database server does not let us make a role: {exc}")
    parts = urlsplit(base_url())
    url = urlunsplit((parts.scheme, f"{name}:{password}@{parts.hostname}:{parts.port}",
                      f"/{name}", "", ""))
    try:
        with caplog.at_level("WARNING", logger="sync_server.db.postgres"):
            repo = open_repository(url)
        assert "TEMPORARY" in caplog.text
        repo.create_facility("f1", "Facility one", T0)
        rows = [row(f"n{i}", f"c{i}") for i in range(5)]
        assert repo.insert_events(rows + [row("n0", "c0")]) == {r.id: "stored" for r in rows}
        assert repo.insert_events([row("n1", "other")]) == {"n1": "conflict"}
        assert [e.content for e in repo.events_after("f1", 0, 10)] == [r.content for r in rows]
        repo.close()
    finally:
        with psycopg.connect(base_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {name}")


def test_postgres_connections_survive_a_server_side_disconnect(postgres_url: str) -> None:  # noqa: F811
    """Pooled connections killed by the server (a restart, an admin) are replaced."""
    import psycopg
    r = open_repository(postgres_url, pool_size=2)
    try:
        r.create_facility("f1", "One", T0)
        r._pool.ping_after = 0          # type: ignore[attr-defined] - check on every checkout
        # only this repository's connections: the database is shared with the tests
        # other processes run at the same time (their own schemas), and an
        # admin's kill of every backend there would end theirs too
        pids = [conn.info.backend_pid for conn, _ in list(r._pool._idle.queue)]  # type: ignore[attr-defined]
        assert pids
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE pid = ANY(%s)", (pids,)).fetchall()
        assert killed and all(ok for (ok,) in killed)
        assert [f.id for f in r.list_facilities()] == ["f1"]
        r.create_facility("f2", "Two", T0)
    finally:
        r.close()


def cert(cid: str, learner_id: str = "L1", course: str = "c1", **kw: object) -> CertificateRecord:
    base = dict(id=cid, learner_id=learner_id, pack_id="p", pack_version=1, course_id=course,
                facility_id="f1", language="lt", issued_at=T0, source_event="e1", key_id="k",
                credential={"name": "Ką išmokau", "n": [1, 2.5, None]})
    base.update(kw)
    return CertificateRecord(**base)  # type: ignore[arg-type]


def test_certificates_are_once_per_learner_and_course(repo: Repository) -> None:
    assert repo.insert_certificate(cert("a"))
    assert not repo.insert_certificate(cert("b"))                 # same learner + course
    assert not repo.insert_certificate(cert("a", course="c2"))    # same id
    assert repo.insert_certificate(cert("c", course="c2", issued_at=T1, facility_id="f2"))
    got = repo.get_certificate("a")
    assert got == cert("a") and got.credential["name"] == "Ką išmokau" and not got.revoked
    assert repo.get_certificate("b") is None
    assert repo.certificate_exists("L1", "p", "c1") and not repo.certificate_exists("L2", "p", "c1")
    assert [c.id for c in repo.list_certificates()] == ["c", "a"]          # newest first
    assert [c.id for c in repo.list_certificates(facility_id="f2")] == ["c"]
    assert [c.id for c in repo.list_certificates(learner_id="nobody")] == []
    assert repo.certificate_ids_by_course() == {("L1", "p", "c1"): "a", ("L1", "p", "c2"): "c"}
    assert repo.count_certificates() == 2
    assert [c.id for c in repo.undelivered_certificates()] == ["a", "c"]
    repo.mark_certificate_delivered("a", T1)
    repo.mark_certificate_delivered("a", "2030-01-01T00:00:00.000Z")       # first stamp stays
    assert repo.get_certificate("a").delivered_at == T1
    assert [c.id for c in repo.undelivered_certificates()] == ["c"]
    assert repo.revoke_certificate("a", by="boss", reason="mistake", now=T1)
    assert not repo.revoke_certificate("a", by="other", reason="again", now=T1)
    assert not repo.revoke_certificate("nope", by="boss", reason="x", now=T1)
    a = repo.get_certificate("a")
    assert a.revoked and (a.revoked_by, a.revoke_reason) == ("boss", "mistake")


def test_certificate_status_places_are_unique_and_list_the_revoked(repo: Repository) -> None:
    assert repo.max_status_list() == 0
    assert repo.insert_certificate(cert("a", status_list=1, status_index=5))
    assert not repo.insert_certificate(cert("b", course="c2", status_list=1, status_index=5))
    assert repo.insert_certificate(cert("b", course="c2", status_list=1, status_index=131_071))
    assert repo.insert_certificate(cert("c", course="c3", status_list=2, status_index=5))
    assert repo.insert_certificate(cert("old", course="c4"))          # before schema 3: none
    got = repo.get_certificate("b")
    assert (got.status_list, got.status_index) == (1, 131_071)
    assert (repo.get_certificate("old").status_list, repo.max_status_list()) == (None, 2)
    assert repo.revoked_status_indexes(1) == []
    for cid in ("b", "a", "c", "old"):
        repo.revoke_certificate(cid, by="boss", reason="x", now=T1)
    assert repo.revoked_status_indexes(1) == [5, 131_071]
    assert repo.revoked_status_indexes(2) == [5] and repo.revoked_status_indexes(3) == []


def test_learner_events_are_every_facility_in_seq_order(repo: Repository) -> None:
    rows = [EventRow(f"e{i}", "L" if i % 2 else "M", "d1", "f1" if i < 5 else "f2",
                     "quiz.submitted" if i % 3 == 0 else "card.viewed", T0, f'{{"i":{i}}}',
                     T1, "d1") for i in range(10)]
    repo.insert_events(rows)
    assert [e.content for e in repo.learner_events("L")] == \
        [f'{{"i":{i}}}' for i in (1, 3, 5, 7, 9)]
    assert [e.content for e in repo.learner_events("L", ("quiz.submitted",))] == \
        ['{"i":3}', '{"i":9}']
    assert repo.learner_events("L", ()) == [] and repo.learner_events("nobody") == []
    assert all(e.received_at == T1 for e in repo.learner_events("M"))


def test_concurrent_certificate_inserts_store_one(repo: Repository) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        repo.insert_certificate(cert(f"id-{i}")))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True] and repo.count_certificates() == 1


def test_scan_events_and_named_cursors(repo: Repository) -> None:
    rows = [EventRow(f"e{i}", "L", "d1", "f1" if i % 2 else "f2",
                     "course.completed" if i % 3 == 0 else "card.viewed", T0, f'{{"i":{i}}}',
                     T1, "d1") for i in range(10)]
    repo.insert_events(rows)
    every = repo.scan_events(0, 100)
    assert [e.content for e in every] == [r.content for r in rows]          # all facilities
    done = repo.scan_events(0, 100, ("course.completed",))
    assert [e.content for e in done] == ['{"i":0}', '{"i":3}', '{"i":6}', '{"i":9}']
    assert [e.content for e in repo.scan_events(done[1].seq, 1, ("course.completed",))] == ['{"i":6}']
    assert repo.scan_events(0, 100, ()) == []
    assert repo.scan_cursor("completed") == 0
    repo.advance_scan_cursor("completed", 7)
    repo.advance_scan_cursor("completed", 3)               # never back
    assert repo.scan_cursor("completed") == 7 and repo.scan_cursor("other") == 0


def test_blobs_are_visible_only_through_publications(repo: Repository) -> None:
    def manifest(*shas: str) -> bytes:
        return json.dumps({"id": "x", "files": [{"path": s, "sha256": s} for s in shas]}).encode()

    a, b, c = "a" * 64, "b" * 64, "c" * 64
    repo.add_pack_version(PackVersion("p", 1, manifest(a, b), b"s", "{}", 1, T0, "boss"))
    repo.add_pack_version(PackVersion("p", 2, manifest(b, c), b"s", "{}", 1, T0, "boss"))
    repo.add_pack_version(PackVersion("q", 1, b"not json", b"s", "{}", 1, T0, "boss"))
    assert not repo.blob_visible_to(a, "f1")                 # uploaded, never published
    repo.publish("p", 1, ["f1"], [], "boss", T0)
    assert repo.blob_visible_to(a, "f1") and repo.blob_visible_to(b, "f1")
    assert not repo.blob_visible_to(a, "f2") and not repo.blob_visible_to(c, "f1")
    repo.publish("p", 2, [], ["prison_officer"], "boss", T0)  # every facility
    assert repo.blob_visible_to(c, "f2") and repo.blob_visible_to(b, "f2")
    assert not repo.blob_visible_to(a, "f2") and not repo.blob_visible_to("d" * 64, "f1")


def test_login_failures_are_counted_in_the_window_and_pruned(repo: Repository) -> None:
    repo.record_login_failure(["name:ann", "addr:1"], T0, "2000-01-01T00:00:00.000Z")
    repo.record_login_failure(["name:ann"], T1, "2000-01-01T00:00:00.000Z")
    assert repo.count_login_failures("name:ann", T0) == 2
    assert repo.count_login_failures("name:ann", T1) == 1
    assert repo.count_login_failures("addr:1", T0) == 1
    repo.clear_login_failures("name:ann")
    assert repo.count_login_failures("name:ann", T0) == 0
    assert repo.count_login_failures("addr:1", T0) == 1
    repo.record_login_failure(["name:ben"], T1, T1)          # prunes what is older than T1
    assert repo.count_login_failures("addr:1", "2000-01-01T00:00:00.000Z") == 0


def _old_database(url: str | None, path: Path) -> tuple[str, Any]:
    """(repository URL, DB-API connection with autocommit) of an empty database."""
    if url is None:
        return f"sqlite:///{path}", sqlite3.connect(path, isolation_level=None)
    import psycopg
    return url, psycopg.connect(url, autocommit=True)


def test_a_version_2_database_gets_per_facility_staff_numbers(tmp_path: Path,
                                                              database_url: str | None) -> None:  # noqa: F811
    """Schema 3: learners keep their rows; old `scrypt$` verifiers are wrapped (they held
    the key K, the proof of a PIN change); a future `updated_at` comes back to now; both
    get a new rev; a staff number may then exist in two facilities."""
    import base64
    import hashlib

    from app.core import pins
    from sync_server.db import schema
    url, conn = _old_database(database_url, tmp_path / "v2.sqlite3")
    mark = "?" if database_url is None else "%s"
    dialect = "sqlite" if database_url is None else "postgresql"
    for version in (1, 2):
        for stmt in schema.statements(dialect, version):
            conn.execute(stmt)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("INSERT INTO schema_version VALUES (2)")
    for fac in ("f1", "f2"):
        conn.execute(f"INSERT INTO facilities VALUES ({mark}, 'F', {mark})", (fac, T0))
    legacy = "scrypt$16384$8$1${}${}".format(
        base64.b64encode(b"0123456789abcdef").decode(), base64.b64encode(hashlib.scrypt(
            b"2468", salt=b"0123456789abcdef", n=16384, r=8, p=1, dklen=32)).decode())
    ids = [str(uuid.uuid4()) for _ in range(3)]
    rows = [(ids[0], "LT-1", "LT-1", "f1", legacy, T0, 1),
            (ids[1], "LT-2", "LT-2", "f1", None, "9999-12-31T23:59:59.999Z", 2),
            (ids[2], "LT-3", "LT-3", "f1", None, T0, 3)]
    for lid, staff, key, fac, verifier, at, rev in rows:
        conn.execute("INSERT INTO learners (id, staff_number, staff_key, facility_id, role, "
                     "language, display_name, pin_verifier, updated_at, rev) VALUES "
                     f"({mark}, {mark}, {mark}, {mark}, 'trainer', 'en', 'A', {mark}, {mark}, "
                     f"{mark})", (lid, staff, key, fac, verifier, at, rev))
    repo = open_repository(url)
    try:
        first, future, plain = (repo.get_learner(i) for i in ids)
        assert first.pin_verifier == pins.canonical(legacy) != legacy
        assert pins.verify(first.pin_verifier, "2468")
        assert future.updated_at < "9999" and future.rev > 3 and first.rev > 3
        assert (plain.updated_at, plain.rev) == (T0, 3)          # untouched
        assert repo.save_profile(learner(fac="f2", staff="LT-1")).status == "registered"
    finally:
        repo.close()
    conn.close()


def test_a_version_1_database_is_migrated_with_its_pack_blobs(tmp_path: Path,
                                                              database_url: str | None) -> None:  # noqa: F811
    """A database made by a server before schema 2 gains the new tables, keeps its data,
    and its already-uploaded packs get their blob index (so published blobs still serve)."""
    from sync_server.db import schema
    url, conn = _old_database(database_url, tmp_path / "old.sqlite3")
    mark = "?" if database_url is None else "%s"
    dialect = "sqlite" if database_url is None else "postgresql"
    for stmt in schema.statements(dialect, 1):
        conn.execute(stmt)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(f"INSERT INTO facilities VALUES ('f1', 'One', {mark})", (T0,))
    manifest = json.dumps({"files": [{"sha256": "e" * 64}]}).encode()
    conn.execute(f"INSERT INTO packs VALUES ('p', 1, {mark}, {mark}, '{{}}', 1, {mark}, 'boss')",
                 (manifest, b"\0", T0))
    conn.execute("INSERT INTO publications (pack_id, version, facilities, roles, published_at, "
                 f"published_by) VALUES ('p', 1, '[]', '[]', {mark}, 'boss')", (T0,))
    repo = open_repository(url)
    try:
        assert repo.blob_visible_to("e" * 64, "f1")
        assert repo.insert_certificate(cert("x"))
        assert [f.id for f in repo.list_facilities()] == ["f1"]
    finally:
        repo.close()
    assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")
            ] == sorted(schema.VERSIONS)        # every later version applied (gaps allowed)
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.close()
    with pytest.raises(DatabaseError, match="schema 99 is newer"):
        open_repository(url)
