"""The gap map's per-group totals (sync_server/db/gap_totals.py, services/gap_mapping.py)
on SQLite and PostgreSQL: kept by triggers, they always equal the gap map folded in Python
from every learner's latest ratings under their own group's mapping — whatever happens
between pushes: ratings replaced, learners moved, given a new role, deactivated,
reactivated, erased or registered after their ratings arrived, retention, and pack
versions published to changing audiences or withdrawn."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_server.db import open_repository
from sync_server.db.repository import Learner, PackVersion, Repository
from sync_server.services.dashboard import dashboard
from sync_server.services.gap_mapping import ensure_gap_mapping
from sync_server.services.scope import course_scope
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures
from tests.unit.test_group_totals import FACILITIES, LEARNER_OPS, ROLES, learner_op
from tests.unit.test_server_aggregates import T0, make_events, rows_of

PO, PSY = ROLES


def profile(pid: str, duties: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    return {"id": pid, "title": {"en": pid.upper()}, "scale": [{"level": 4}],
            "duties": [{"id": d, "title": {"en": d.upper()},
                        "tasks": [{"id": t, "expected": e} for t, e in tasks.items()]}
                       for d, tasks in duties.items()]}


# p v2 moves t2 to another duty and changes expected levels; q has a profile of its own
PACKS = {
    ("p", 1): [profile("po", {"d1": {"t1": {PO: 3, PSY: 2}, "t2": {PO: 4}},
                              "d2": {"t3": {PO: 2, PSY: 1}}})],
    ("p", 2): [profile("po", {"d1": {"t1": {PO: 4, PSY: 2}},
                              "d2": {"t2": {PO: 3, PSY: 3}, "t3": {PO: 2}}})],
    ("q", 1): [profile("ps", {"e1": {"u1": {PSY: 4}, "u2": {PSY: 3, PO: 1}}})],
}
TASKS = [("po", "t1"), ("po", "t2"), ("po", "t3"), ("ps", "u1"), ("ps", "u2"), ("zz", "t9")]


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    for fac in FACILITIES:
        r.create_facility(fac, fac.upper(), T0)
    for (pid, ver), profiles in PACKS.items():
        body = json.dumps({"id": pid, "version": ver, "audience_roles": [PO, PSY],
                           "courses": [], "profiles": profiles}).encode()
        r.add_pack_version(PackVersion(pid, ver, body, b"{}", '{"en": "x"}', 0, T0, "t"))
    r.publish("p", 1, [], [], "t", T0)
    ensure_gap_mapping(r)       # as the console's publishing does: triggers keep it from here
    yield r
    r.close()


def folded(repo: Repository) -> dict[tuple[str, str, tuple[str, str]], tuple[float, int]]:
    """(facility, role, (profile, duty)) → (mean over active learners of their mean gap,
    learners), folded in Python: each learner's latest ratings under the mapping of the
    pack versions offered to their own facility and role."""
    learners = {lr.id: lr for f in FACILITIES for lr in repo.list_learners(f)}
    per: dict[tuple[str, tuple[str, str]], list[int]] = defaultdict(list)
    models: dict[tuple[str, str], Any] = {}
    for r in repo.latest_ratings():               # active learners only
        learner = learners[r.learner_id]
        group = (learner.facility_id, learner.role)
        if group not in models:
            models[group] = course_scope(repo=repo, groups=[group]).gap_model()
        hit = models[group].tasks.get((r.profile_id, r.task_id))
        if hit is None or learner.role not in hit[1]:
            continue
        per[(learner.id, hit[0])].append(hit[1][learner.role] - r.level)
    sums: dict[tuple[str, str, tuple[str, str]], list[float]] = defaultdict(list)
    for (lid, duty), gaps in per.items():
        sums[(learners[lid].facility_id, learners[lid].role, duty)].append(sum(gaps) / len(gaps))
    return {k: (sum(v) / len(v), len(v)) for k, v in sums.items()}


def assert_totals_equal_the_fold(repo: Repository) -> None:
    """The kept totals (the triggers' work, unless the mapping was stale and the render's
    check rewrites it) equal the fold, for every filter."""
    ensure_gap_mapping(repo)
    want = folded(repo)
    for fac in ("", *FACILITIES):
        for role in ("", PO, PSY):
            sums: dict[tuple[str, tuple[str, str]], list[float]] = defaultdict(lambda: [0.0, 0])
            for (f, r, duty), (mean, n) in want.items():
                if (not fac or f == fac) and (not role or r == role):
                    sums[(f, duty)][0] += mean * n
                    sums[(f, duty)][1] += n
            got = repo.gap_totals(fac, role)
            assert got.keys() == sums.keys(), (fac, role)
            for key, (total, n) in sums.items():
                assert got[key] == (pytest.approx(total / n), n), (fac, role, key)
    assert repo.rebuild_aggregates(keep=False).matched


OP = st.one_of(
    st.tuples(st.just("rate"), st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["d1", "d2"]),
                                                  st.integers(1, 4), st.sampled_from(TASKS),
                                                  st.integers(0, 4)), min_size=1, max_size=10),
              st.just(None)),
    LEARNER_OPS,
    st.tuples(st.just("retention"), st.integers(1, 5), st.just(None)),
    st.tuples(st.just("publish"), st.sampled_from(sorted(PACKS)),
              st.tuples(st.lists(st.sampled_from(FACILITIES), max_size=2, unique=True),
                        st.lists(st.sampled_from([PO, PSY]), max_size=1))),
    st.tuples(st.just("withdraw"), st.sampled_from(["p", "q"]), st.just(None)),
    st.tuples(st.just("render"), st.just(0), st.just(None)),
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OP, min_size=1, max_size=14), seed=st.integers(0, 2**32 - 1))
def test_gap_totals_equal_the_fold_after_any_history(repo: Repository, ops: list[Any],
                                                     seed: int) -> None:
    rnd = random.Random(seed)
    stamp = iter(f"2026-03-01T00:{m:02d}:{s:02d}.000Z" for m in range(60) for s in range(60))
    learners = [Learner(str(uuid.uuid4()), f"S-{uuid.uuid4().hex[:8]}", rnd.choice(FACILITIES),
                        rnd.choice([PO, PSY]), "en", f"L{i}", None, next(stamp))
                for i in range(4)]
    for learner in learners[:2]:
        repo.save_profile(learner)
    erased: set[int] = set()
    for kind, who, arg in ops:
        if kind == "rate":
            steps = [(i, dev, hour, ("selfassessment.rated", {
                "profile": pid, "assessment": "s", "task": tid}, {"level": level}))
                for i, dev, hour, (pid, tid), level in who if i not in erased]
            if steps:
                events = make_events(learners, steps)
                repo.insert_events(rows_of(events, {lr.id: lr for lr in learners},
                                           parsed=rnd.random() < 0.5))
        elif kind == "retention":
            repo.fold_events_before(f"2026-02-01T0{who}:00:00.000Z", fold=lambda gone: [])
        elif kind == "publish":       # as services/packs.py does; "render" covers a
            repo.publish(who[0], who[1], list(arg[0]), list(arg[1]), "t", next(stamp))
            if rnd.random() < 0.7:     # path that leaves the mapping to the dashboard
                ensure_gap_mapping(repo)
        elif kind == "withdraw":
            repo.withdraw_publications(who, "t", next(stamp))
            if rnd.random() < 0.7:
                ensure_gap_mapping(repo)
        elif kind == "render":
            ensure_gap_mapping(repo)
        else:
            learner_op(repo, learners, erased, kind, who, arg, stamp)
    assert_totals_equal_the_fold(repo)


def three_raters(repo: Repository) -> None:
    """An officer and a psychologist of f1 and an officer of f2, who each rate t1, t2 and
    t3 of profile po at level 1."""
    people = [Learner(str(uuid.uuid4()), f"S-{i}", fac, role, "en", f"L{i}", None, T0)
              for i, (fac, role) in enumerate([("f1", PO), ("f1", PSY), ("f2", PO)])]
    for learner in people:
        repo.save_profile(learner)
    steps = [(i, "d1", 1, ("selfassessment.rated", {"profile": "po", "assessment": "s",
                                                    "task": task}, {"level": 1}))
             for i in range(3) for task in ("t1", "t2", "t3")]
    repo.insert_events(rows_of(make_events(people, steps), {lr.id: lr for lr in people},
                               parsed=True))


def test_the_dashboard_maps_each_learner_by_their_own_group(repo: Repository) -> None:
    """p v2 (t2 under d2) is offered to f1's officers only; f1's psychologists and f2 keep
    p v1 (t2 under d1, officers only). The same ratings land in different duties."""
    repo.publish("p", 2, ["f1"], [PO], "t", T0)
    three_raters(repo)
    gap = dashboard(repo=repo).gap
    cells = {(gap.rows[r], gap.columns[c]): v for (r, c), v in gap.values.items()}
    # f1: officer on v2 (d1: t1 4-1=3; d2: t2 3-1, t3 2-1 → 1.5); psychologist on v1
    # (d1: t1 2-1=1, t2 has no psychologist level; d2: t3 1-1=0)
    assert cells[("PO · D1", "f1")] == (pytest.approx((3 + 1) / 2), 2)
    assert cells[("PO · D2", "f1")] == (pytest.approx((1.5 + 0) / 2), 2)
    # f2's officer on v1: d1 = (3-1 + 4-1) / 2 = 2.5; d2 = 2-1 = 1
    assert cells[("PO · D1", "f2")] == (pytest.approx(2.5), 1)
    assert cells[("PO · D2", "f2")] == (pytest.approx(1.0), 1)
    assert_totals_equal_the_fold(repo)


def test_a_hand_edited_gap_total_is_found_and_repaired(repo: Repository) -> None:
    learner = Learner(str(uuid.uuid4()), "S-1", "f1", PO, "en", "A", None, T0)
    repo.save_profile(learner)
    repo.insert_events(rows_of(make_events([learner], [(0, "d1", 1, (
        "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "t1"},
        {"level": 0}))]), {learner.id: learner}, parsed=True))
    ensure_gap_mapping(repo)
    assert repo.gap_totals() == {("f1", ("po", "d1")): (3.0, 1)}
    with repo._write() as cur:  # type: ignore[attr-defined]
        cur.execute("UPDATE group_duties SET mean_sum = 9")
    assert repo.rebuild_aggregates(keep=False).matched is False
    assert repo.rebuild_aggregates().matched is False
    assert repo.gap_totals() == {("f1", ("po", "d1")): (3.0, 1)}
    # the rebuild turned the triggers off for its bulk work, and on again
    repo.insert_events(rows_of(make_events([learner], [(0, "d1", 2, (
        "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "t1"},
        {"level": 2}))]), {learner.id: learner}, parsed=True))
    assert repo.gap_totals() == {("f1", ("po", "d1")): (1.0, 1)}


def test_the_mapping_is_rewritten_only_when_publications_or_facilities_change(
        repo: Repository) -> None:
    assert ensure_gap_mapping(repo) is False          # the fixture's publishing made it
    with repo._write() as cur:  # type: ignore[attr-defined]
        cur.execute("DELETE FROM server_meta WHERE name = 'gap_mapping'")
    assert ensure_gap_mapping(repo) is True                  # none stored: written
    assert ensure_gap_mapping(repo) is False                 # the dashboard's every render
    repo.publish("q", 1, ["f2"], [PSY], "t", T0)
    assert ensure_gap_mapping(repo) is True
    repo.create_facility("f4", "F4", T0)                     # "every facility" reaches it
    assert ensure_gap_mapping(repo) is True
    rows = repo._all("SELECT DISTINCT facility_id FROM gap_tasks", ())  # type: ignore[attr-defined]
    assert {r[0] for r in rows} == {"f1", "f2", "f3", "f4"}
    repo.withdraw_publications("p", "t", T0)
    assert ensure_gap_mapping(repo) is True
    rows = repo._all("SELECT DISTINCT facility_id, role FROM gap_tasks", ())  # type: ignore[attr-defined]
    assert {tuple(r) for r in rows} == {("f2", PSY)}


def test_a_new_mapping_recomputes_only_the_groups_it_changes(repo: Repository) -> None:
    """A hand-edited total shows which groups a publication recomputed: a pack without
    profiles recomputes none, p v2 for f1's officers only theirs, and the totals it did
    recompute equal the fold."""
    three_raters(repo)

    def mark(facility: str, role: str) -> None:       # a total no recompute would keep
        with repo._write() as cur:  # type: ignore[attr-defined]
            cur.execute(f"UPDATE group_duties SET mean_sum = 99 WHERE facility_id = "
                        f"'{facility}' AND role = '{role}'")

    def marked() -> set[tuple[str, str]]:
        rows = repo._all("SELECT DISTINCT facility_id, role FROM group_duties "  # type: ignore[attr-defined]
                         "WHERE mean_sum = 99", ())
        return {(str(r[0]), str(r[1])) for r in rows}

    body = json.dumps({"id": "c", "version": 1, "audience_roles": [PO, PSY],
                       "courses": [], "profiles": []}).encode()
    repo.add_pack_version(PackVersion("c", 1, body, b"{}", '{"en": "x"}', 0, T0, "t"))
    for group in [("f1", PO), ("f1", PSY), ("f2", PO)]:
        mark(*group)
    repo.publish("c", 1, [], [], "t", T0)
    assert ensure_gap_mapping(repo) is True                   # a new key, the same rows
    assert marked() == {("f1", PO), ("f1", PSY), ("f2", PO)}  # nothing recomputed
    repo.publish("p", 2, ["f1"], [PO], "t", T0)
    assert ensure_gap_mapping(repo) is True
    assert marked() == {("f1", PSY), ("f2", PO)}              # f1's officers recomputed
    assert repo.gap_totals("f1", PO) == {                     # under p v2 (d2 holds t2)
        ("f1", ("po", "d1")): (3.0, 1), ("f1", ("po", "d2")): (1.5, 1)}
    assert repo.rebuild_aggregates().matched is False         # the marks, found and mended
    assert_totals_equal_the_fold(repo)


def test_a_render_reads_the_facilities_and_publications_once(
        repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard checks the mapping's key on every render with the facilities and
    publications it reads anyway; a publication made since is still followed."""
    reads: list[str] = []
    for name in ("list_facilities", "list_publications"):
        real = getattr(repo, name)
        monkeypatch.setattr(repo, name, lambda real=real, name=name: reads.append(name) or real())
    dashboard(repo=repo)
    assert sorted(reads) == ["list_facilities", "list_publications"]
    repo.publish("q", 1, ["f2"], [PSY], "t", T0)
    reads.clear()
    assert any(r[2] == "ps" for r in _mapping(repo)) is False
    dashboard(repo=repo)
    assert sorted(reads) == ["list_facilities", "list_publications"]
    assert any(r[2] == "ps" for r in _mapping(repo))


def _mapping(repo: Repository) -> list[Any]:
    return repo._all("SELECT facility_id, role, profile_id FROM gap_tasks", ())  # type: ignore[attr-defined, no-any-return]


def test_a_boolean_level_in_a_hand_made_manifest_is_no_level(repo: Repository) -> None:
    """Pack sources refuse a boolean level (fields.integer); a manifest made by hand may
    still hold one. The stored mapping and the heat map's labels read it alike: no level
    for that role, the task's other roles kept."""
    odd = [profile("xb", {"b1": {"v1": {PO: True, PSY: 2}, "v2": {PO: False}}})]  # type: ignore[dict-item]
    body = json.dumps({"id": "x", "version": 1, "audience_roles": [PO, PSY], "courses": [],
                       "profiles": odd}).encode()
    repo.add_pack_version(PackVersion("x", 1, body, b"{}", '{"en": "x"}', 0, T0, "t"))
    repo.publish("x", 1, ["f1"], [], "t", T0)
    assert ensure_gap_mapping(repo) is True
    rows = repo._all("SELECT facility_id, role, profile_id, task_id, duty_id, expected "  # type: ignore[attr-defined]
                     "FROM gap_tasks WHERE profile_id = 'xb'", ())
    assert [tuple(r) for r in rows] == [("f1", PSY, "xb", "v1", "b1", 2)]
    model = course_scope(repo=repo, groups=[("f1", PO), ("f1", PSY)]).gap_model()
    assert model.tasks[("xb", "v1")] == (("xb", "b1"), {PSY: 2})
    assert model.tasks[("xb", "v2")] == (("xb", "b1"), {})


def test_a_learner_who_changes_role_moves_and_leaves_is_counted_where_they_are(
        repo: Repository) -> None:
    a, b = (Learner(str(uuid.uuid4()), f"S-{i}", "f1", PO, "en", f"L{i}", None, T0)
            for i in range(2))
    for learner in (a, b):
        repo.save_profile(learner)
    steps = [(i, "d1", 1, ("selfassessment.rated", {"profile": "po", "assessment": "s",
                                                    "task": task}, {"level": 1}))
             for i in range(2) for task in ("t1", "t2")]
    repo.insert_events(rows_of(make_events([a, b], steps), {a.id: a, b.id: b}, parsed=True))
    ensure_gap_mapping(repo)
    # officers (p v1): d1 = (3-1 + 4-1) / 2 = 2.5 each
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx(2.5), 2)}
    repo.save_profile(replace(a, role=PSY, updated_at="2026-03-01T00:00:00.000Z"))
    # a psychologist: t1 only (2-1 = 1); t2 has no psychologist level
    assert repo.gap_totals("", PSY) == {("f1", ("po", "d1")): (pytest.approx(1.0), 1)}
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx((2.5 + 1) / 2), 2)}
    repo.move_learner(b.id, "f2", "2026-03-01T00:00:01.000Z")
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx(1.0), 1),
                                 ("f2", ("po", "d1")): (pytest.approx(2.5), 1)}
    repo.set_deactivated(a.id, "2026-03-01T00:00:02.000Z")
    assert repo.gap_totals() == {("f2", ("po", "d1")): (pytest.approx(2.5), 1)}
    repo.set_deactivated(a.id, None)
    repo.erase_learner(b.id, "2026-03-01T00:00:03.000Z", fold=lambda gone: [])
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx(1.0), 1)}
    assert_totals_equal_the_fold(repo)


def test_a_new_level_moves_the_totals_by_the_difference(repo: Repository) -> None:
    a, b = (Learner(str(uuid.uuid4()), f"S-{i}", "f1", PO, "en", f"L{i}", None, T0)
            for i in range(2))
    for learner in (a, b):
        repo.save_profile(learner)

    def rate(who: int, hour: int, task: str, level: int) -> None:
        events = make_events([a, b], [(who, "d1", hour, ("selfassessment.rated", {
            "profile": "po", "assessment": "s", "task": task}, {"level": level}))])
        repo.insert_events(rows_of(events, {a.id: a, b.id: b}, parsed=True))

    rate(0, 1, "t1", 0)                       # a: d1 = 3 - 0
    rate(0, 1, "t2", 4)                       # a: d1 = (3 + 0) / 2
    rate(1, 1, "t1", 1)                       # b: d1 = 2
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx((1.5 + 2) / 2), 2)}
    rate(0, 2, "t1", 2)                       # a's t1 again, newer: d1 = (1 + 0) / 2
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx((0.5 + 2) / 2), 2)}
    rate(0, 3, "t1", 2)                       # the same level, newer: nothing moves
    rate(0, 1, "t1", 4)                       # older than the stored one: ignored
    assert repo.gap_totals() == {("f1", ("po", "d1")): (pytest.approx((0.5 + 2) / 2), 2)}
    assert_totals_equal_the_fold(repo)
