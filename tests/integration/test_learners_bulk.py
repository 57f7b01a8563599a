"""Bulk learner changes in the database (db/learners_bulk.py, services/learners_bulk.py) on
SQLite and PostgreSQL: all of them or none — a learner changed meanwhile, or a staff
number taken in the target facility, rolls every change and every audit row back —, one
audit row and one new revision per learner, and the plan's limits."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sync_server.db import open_repository
from sync_server.db.repository import AuditQuery, BulkConflict, Learner, Repository
from sync_server.errors import AlreadyExistsError
from sync_server.services import audit, learners_bulk
from sync_server.services.learners_bulk import BulkError
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

T0 = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    r.create_facility("f1", "One", T0)
    r.create_facility("f2", "Two", T0)
    yield r
    r.close()


def people(repo: Repository, n: int, facility: str = "f1", prefix: str = "S") -> list[Learner]:
    out = []
    for i in range(n):
        one = Learner(str(uuid.uuid4()), f"{prefix}{i}", facility, "prison_officer", "en",
                      f"P{i}", "pin$x", T0)
        repo.save_profile(one)
        out.append(one)
    return out


def entries(repo: Repository, action: str) -> int:
    return len(repo.audit_entries(AuditQuery(action=action)))


def test_a_conflict_rolls_everything_back(repo: Repository) -> None:
    a, b, c = people(repo, 3)
    repo.set_deactivated(b.id, T0)
    rows = [audit.entry("boss", "learner.deactivate", target=x.id, learner_id=x.id)
            for x in (a, b, c)]
    with pytest.raises(BulkConflict) as caught:
        repo.deactivate_learners([a.id, b.id, c.id], T0, audits=rows)
    assert caught.value.learner_ids == [b.id]
    assert repo.get_learner(a.id).active and repo.get_learner(c.id).active
    assert repo.get_learner(a.id).pin_verifier == "pin$x", "nothing half-done"
    assert entries(repo, "learner.deactivate") == 0


def test_apply_gives_each_learner_a_revision_and_an_audit_row(repo: Repository) -> None:
    group = people(repo, 4)
    before = max(repo.get_learner(x.id).rev for x in group)
    done = learners_bulk.apply_bulk(repo=repo, learner_ids=[x.id for x in group],
                                    action="deactivate", setup_ttl_s=3600, by="boss")
    assert len(done.plan.people) == 4 and done.setups == []
    now = [repo.get_learner(x.id) for x in group]
    assert all(not x.active and x.pin_verifier is None for x in now)
    revs = sorted(x.rev for x in now)
    assert len(set(revs)) == 4 and revs[0] > before, "tablets pull each change"
    assert entries(repo, "learner.deactivate") == 4
    back = learners_bulk.apply_bulk(repo=repo, learner_ids=[x.id for x in group[:2]],
                                    action="reactivate", setup_ttl_s=3600, by="boss")
    assert len(back.setups) == 2 and all(s.setup.code for s in back.setups)
    assert all(repo.get_learner(x.id).pin_setup_verifier for x in group[:2])
    # the same confirmation again: the plan changed, nothing is done
    with pytest.raises(BulkError) as caught:
        learners_bulk.apply_bulk(repo=repo, learner_ids=[x.id for x in group[:2]],
                                 action="reactivate", setup_ttl_s=3600, by="boss")
    assert caught.value.reason == "changed"
    assert entries(repo, "learner.reactivate") == 2


def test_a_taken_staff_number_stops_the_whole_move(repo: Repository) -> None:
    movers = people(repo, 3)
    people(repo, 1, facility="f2")                 # "S0" is taken in f2
    plan = learners_bulk.plan_bulk(repo=repo, learner_ids=[x.id for x in movers],
                                   action="move", facility_id="f2")
    assert [x.staff_number for x in plan.people] == ["S1", "S2"]
    assert [(x.staff_number, why) for x, why in plan.skipped] == [("S0", "staff_number_taken")]
    # at the database, the same clash rolls back every move of the batch
    with pytest.raises(AlreadyExistsError):
        repo.move_learners([(x.id, "f1") for x in movers], "f2", T0, audits=[])
    assert {repo.get_learner(x.id).facility_id for x in movers} == {"f1"}
    learners_bulk.apply_bulk(repo=repo, learner_ids=[x.id for x in plan.people],
                             action="move", facility_id="f2", setup_ttl_s=3600, by="boss")
    assert {repo.get_learner(x.id).facility_id for x in plan.people} == {"f2"}
    assert entries(repo, "learner.move") == 2


def test_limits_and_bad_input(repo: Repository) -> None:
    group = people(repo, 2)
    for ids, action, reason in (([], "deactivate", "none_selected"),
                                ([" ", ""], "deactivate", "none_selected"),
                                ([f"x{i}" for i in range(501)], "deactivate", "too_many"),
                                ([group[0].id], "explode", "bad_action"),
                                ([group[0].id], "move", "no_facility"),
                                ([group[0].id, "gone"], "deactivate", "unknown_learner")):
        with pytest.raises(BulkError) as caught:
            learners_bulk.plan_bulk(repo=repo, learner_ids=ids, action=action)
        assert caught.value.reason == reason, (ids[:2], action)
    # a name ticked twice counts once (600 ticks of one learner are one learner)
    plan = learners_bulk.plan_bulk(repo=repo, learner_ids=[group[0].id] * 600,
                                   action="pin_reset")
    assert [x.id for x in plan.people] == [group[0].id]
