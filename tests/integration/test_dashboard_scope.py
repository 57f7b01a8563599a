"""The dashboard's scope rules, its drill-down and the facility report (issue 21 item 1), on
SQLite and PostgreSQL, through the real repository and its ingest (the aggregates are
kept by `insert_events`, as on a live server):

* a course counts for a learner only when its pack version — the newest *active*
  publication reaching the learner's facility and role — holds it, for the learner's role;
* a withdrawn publication does not count; a deactivated leaver does not count; a learner
  moved between facilities counts where they are now;
* the tiles follow the filters; the drill-down lists exactly the learners behind every
  number; the gap map computed in the database equals the Python fold;
* every number of a report equals a recomputation from the raw events.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.core.events import content_of
from sync_server.admin.i18n import Tr
from sync_server.db.report_queries import STATUSES, UNFINISHED
from sync_server.db.repository import AuditQuery, EventRow, Learner, PackVersion
from sync_server.services import dashboard as dash
from sync_server.services import stats
from sync_server.services.report_pdf import report_pdf
from sync_server.services.scope import course_scope
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

T0 = "2026-01-01T00:00:00.000Z"
PO, PSY = "prison_officer", "psychologist"
PROFILE = {"id": "po", "title": {"en": "Officer"}, "scale": [{"level": 0}, {"level": 4}],
           "duties": [{"id": "a", "title": {"en": "Duty A"}, "tasks": [
               {"id": "a1", "expected": {PO: 3, PSY: 2}}, {"id": "a2", "expected": {PO: 4}}]},
               {"id": "b", "title": {"en": "Duty B"}, "tasks": [
                   {"id": "b1", "expected": {PO: 2, PSY: 3}}]}]}


def manifest(pack: str, version: int, courses: list[dict[str, Any]],
             roles: tuple[str, ...] = (PO, PSY), profiles: list[Any] | None = None) -> bytes:
    return json.dumps({"id": pack, "version": version, "audience_roles": list(roles),
                       "courses": courses, "profiles": profiles or []}).encode()


def course(cid: str, title: str, roles: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "title": {"en": title}}
    if roles:
        out["roles"] = roles
    return out


class World:
    """The fixture's facilities, packs, publications, learners and events."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.events: list[dict[str, Any]] = []
        self.seq = 0
        for fid, name in (("vilnius", "Vilnius Correctional House"), ("iasi", "Iasi prison"),
                          ("porto", "Porto prison")):
            repo.create_facility(fid, name, T0)
        c1, c2 = course("c1", "Boundaries", [PO]), course("c2", "De-escalation")
        packs = {("p", 1): manifest("p", 1, [c1, c2], profiles=[PROFILE]),
                 ("p", 2): manifest("p", 2, [c1, c2, course("c3", "Searches")],
                                    profiles=[PROFILE]),
                 ("q", 1): manifest("q", 1, [course("q1", "Talking therapies")]),
                 ("w", 1): manifest("w", 1, [course("w1", "Withdrawn course")])}
        for (pid, ver), body in packs.items():
            repo.add_pack_version(PackVersion(pid, ver, body, b"{}", '{"en": "x"}', 0, T0, "t"))
        repo.publish("p", 1, ["vilnius", "iasi"], [], "t", T0)
        repo.publish("q", 1, ["vilnius"], [PSY], "t", T0)
        repo.publish("p", 2, ["vilnius"], [PO], "t", T0)
        repo.publish("w", 1, ["porto"], [], "t", T0)
        repo.withdraw_publications("w", "t", T0)
        people = {"l1": ("vilnius", PO, "Ann"), "l2": ("vilnius", PO, "Ben"),
                  "l3": ("vilnius", PO, "Cy"), "l4": ("vilnius", PO, "Dan"),
                  "l5": ("vilnius", PSY, "Eve"), "l6": ("iasi", PO, "Flo"),
                  "l7": ("iasi", PO, "Gus"), "l8": ("porto", PO, "Hal"),
                  "l9": ("vilnius", PO, "Ivy")}
        for lid, (fac, role, name) in people.items():
            repo.save_profile(Learner(lid, f"S-{lid}", fac, role, "en", name, None, T0))
        self.do("l1", "p", "c1", "card.viewed", "quiz.passed", "course.completed")
        self.do("l2", "p", "c1", "card.viewed", "quiz.passed")
        self.do("l3", "p", "c1", "card.viewed", "quiz.failed")
        self.do("l5", "q", "q1", "card.viewed")
        self.do("l5", "p", "c1", "card.viewed", "course.completed")   # c1 is for officers only
        self.do("l6", "p", "c1", "quiz.passed", "course.completed")
        self.do("l6", "p", "c2", "card.viewed")
        self.do("l7", "p", "c1", "course.completed")
        self.do("l8", "w", "w1", "card.viewed", "course.completed")
        self.do("l9", "p", "c3", "card.viewed", "course.completed")
        self.do("l1", "p", "c3", "card.viewed")
        self.rate("l1", "a1", 1)
        self.rate("l1", "a2", 4)
        self.rate("l1", "a1", 2)          # later: wins
        self.rate("l5", "a1", 0)
        self.rate("l5", "b1", 1)
        self.rate("l6", "b1", 2)
        self.rate("l7", "a1", 0)          # deactivated below: not counted
        repo.set_deactivated("l7", "2026-02-01T00:00:00.000Z")
        repo.move_learner("l9", "iasi", "2026-02-01T00:00:00.000Z")

    def store(self, learner: str, etype: str, pack: str, ref: dict[str, Any],
              data: dict[str, Any]) -> None:
        self.seq += 1
        fac = self.repo.get_learner(learner).facility_id
        event = {"id": f"e{self.seq:04d}", "learner": learner, "device": "tab", "seq": self.seq,
                 "at": f"2026-01-{1 + self.seq % 28:02d}T10:00:00.000Z", "type": etype,
                 "pack": pack, "pack_version": 1, "ref": ref, "data": data}
        self.events.append(event)
        self.repo.insert_events([EventRow(event["id"], learner, "tab", fac, etype, event["at"],
                                          content_of(event).decode(), T0, "tab")])

    def do(self, learner: str, pack: str, cid: str, *steps: str) -> None:
        for step in steps:
            if step == "card.viewed":
                self.store(learner, step, pack, {"course": cid, "lesson": "l", "card": "0"}, {})
            elif step.startswith("quiz."):
                ok = step == "quiz.passed"
                self.store(learner, "quiz.submitted", pack,
                           {"course": cid, "attempt": f"a{self.seq}"},
                           {"score": 90 if ok else 20, "passed": ok})
            else:
                self.store(learner, step, pack, {"course": cid}, {})

    def rate(self, learner: str, task: str, level: int) -> None:
        self.store(learner, "selfassessment.rated", "p",
                   {"profile": "po", "assessment": "s", "task": task}, {"level": level})


@pytest.fixture()
def world(tmp_path: Path, database_url: str | None) -> Any:  # noqa: F811
    from sync_server.db import open_repository
    repo = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        yield World(repo)
    finally:
        repo.close()


def cells_of(board: dash.Dashboard) -> dict[tuple[str, str], tuple[int, ...]]:
    """(course, facility) → (population, not started, in progress, passed, completed)."""
    return {(c.course.course_id, c.facility_id): (c.population, *(c.count(s) for s in STATUSES))
            for c in board.cells}


def test_only_published_courses_count_for_the_facility_and_role(world: World) -> None:
    board = dash.dashboard(repo=world.repo)
    assert cells_of(board) == {
        # Vilnius officers have p v2 (c1, c2, c3); the psychologist has p v1 (c2: c1 is
        # for officers) and q1; Ivy moved to Iasi, Gus left: neither counts in Vilnius
        ("c1", "vilnius"): (4, 1, 1, 1, 1),
        ("c1", "iasi"): (2, 1, 0, 0, 1),        # Flo completed; Ivy (moved in) not started
        ("c2", "vilnius"): (5, 5, 0, 0, 0),
        ("c2", "iasi"): (2, 1, 1, 0, 0),
        ("c3", "vilnius"): (4, 3, 1, 0, 0),     # Ivy's completion left with her
        ("q1", "vilnius"): (1, 0, 1, 0, 0),
    }
    # Porto's only pack was withdrawn: no course, no 0 %; Eve's c1 completion is not counted
    assert not [c for c in board.cells if c.facility_id == "porto"]
    assert [c.course_id for c in board.courses] == ["c1", "c2", "c3", "q1"]
    c1 = next(c for c in board.cells if (c.course.course_id, c.facility_id) == ("c1", "vilnius"))
    assert (c1.tried, c1.passed, c1.completion_rate, c1.pass_rate) == (3, 2, 0.25, 2 / 3)


def test_tiles_follow_the_filters(world: World) -> None:
    every = dash.dashboard(repo=world.repo).tiles
    assert (every.facilities, every.learners) == (3, 8)        # Gus is deactivated
    vilnius = dash.dashboard(repo=world.repo, facility="vilnius")
    by_fac = Counter(world.repo.get_learner(e["learner"]).facility_id for e in world.events)
    assert (vilnius.tiles.facilities, vilnius.tiles.learners, vilnius.tiles.events) == \
        (1, 5, by_fac["vilnius"])
    assert {c.facility_id for c in vilnius.cells} == {"vilnius"}
    iasi_psy = dash.dashboard(repo=world.repo, facility="iasi", role=PSY)
    assert (iasi_psy.tiles.learners, iasi_psy.cells) == (0, [])
    assert iasi_psy.tiles.events == by_fac["iasi"]                 # events: every role
    officers = dash.dashboard(repo=world.repo, role=PO)
    assert officers.tiles.learners == 7
    assert ("q1", "vilnius") not in cells_of(officers)
    assert cells_of(officers)[("c2", "vilnius")] == (4, 4, 0, 0, 0)
    assert every.events == len(world.events)


def test_withdrawing_a_publication_takes_its_courses_off(world: World) -> None:
    world.repo.withdraw_publications("q", "t", T0)
    assert ("q1", "vilnius") not in cells_of(dash.dashboard(repo=world.repo))
    # p v2 withdrawn too: Vilnius officers fall back to nothing of p (v1 was withdrawn with it)
    world.repo.withdraw_publications("p", "t", T0)
    assert dash.dashboard(repo=world.repo).cells == []


def test_drill_down_lists_exactly_the_learners_behind_each_number(world: World) -> None:
    for facility, role in (("", ""), ("vilnius", ""), ("iasi", PO), ("", PSY)):
        board = dash.dashboard(repo=world.repo, facility=facility, role=role)
        for cell in board.cells:
            seen: dict[str, set[str]] = {}
            for status in STATUSES:
                ids: list[str] = []
                page = 1
                while True:
                    found = dash.drill_down(repo=world.repo, facility=cell.facility_id, role=role,
                                            pack_id=cell.course.pack_id,
                                            course_id=cell.course.course_id, status=status,
                                            page=page, page_size=2)
                    assert found.result.by_status[status] == cell.count(status)
                    ids += [r.learner_id for r in found.result.rows]
                    assert all(r.status == status and r.facility_id == cell.facility_id
                               for r in found.result.rows)
                    if page >= found.pages:
                        break
                    page += 1
                assert len(ids) == len(set(ids)) == cell.count(status), (cell, status)
                seen[status] = set(ids)
            everyone = dash.drill_down(repo=world.repo, facility=cell.facility_id, role=role,
                                       pack_id=cell.course.pack_id,
                                       course_id=cell.course.course_id, page_size=500)
            assert {r.learner_id for r in everyone.result.rows} == set().union(*seen.values())
            assert everyone.result.total == cell.population
    gone = dash.drill_down(repo=world.repo, facility="porto", role="", pack_id="w",
                           course_id="w1")
    assert gone.course is None and gone.result.total == 0
    one = dash.drill_down(repo=world.repo, facility="vilnius", role="", pack_id="p",
                          course_id="c1", status="completed")
    assert [(r.display_name, r.staff_number, r.role, r.last_at) for r in one.result.rows] == \
        [("Ann", "S-l1", PO, max(e["at"] for e in world.events
                                 if e["learner"] == "l1" and e["ref"].get("course") == "c1"))]


def recompute(world: World, facility: str, role: str = ""
              ) -> dict[tuple[str, str], tuple[int, ...]]:
    """The report's numbers from the raw events, the learners and the publications alone."""
    repo = world.repo
    learners = [x for x in repo.list_learners() if x.active and
                (not facility or x.facility_id == facility) and (not role or x.role == role)]
    progress = stats.fold_progress(world.events)
    pubs = [p for p in repo.list_publications() if p.active]
    out: dict[tuple[str, str], list[int]] = {}
    for learner in learners:
        newest: dict[str, int] = {}
        for p in pubs:
            if (not p.facilities or learner.facility_id in p.facilities) and \
                    (not p.roles or learner.role in p.roles):
                newest[p.pack_id] = max(newest.get(p.pack_id, 0), p.version)
        for pack_id, version in newest.items():
            body = json.loads(repo.get_pack_version(pack_id, version).manifest)
            for c in stats.courses_of([body]):
                if c.roles and learner.role not in c.roles:
                    continue
                got = progress.get((learner.id, pack_id, c.course_id))
                status = ("not_started" if got is None else "completed" if got.completed_at
                          else "passed" if got.passed else "in_progress")
                row = out.setdefault((c.course_id, learner.facility_id), [0, 0, 0, 0, 0])
                row[0] += 1
                row[1 + STATUSES.index(status)] += 1
    return {k: tuple(v) for k, v in out.items()}


def test_report_numbers_equal_a_recomputation_from_the_raw_events(world: World,
                                                                 tmp_path: Path) -> None:
    for facility in ("", "vilnius", "iasi", "porto"):
        report = dash.facility_report(repo=world.repo, facility=facility, unfinished=True,
                                      by="tester")
        assert cells_of(report.dashboard) == recompute(world, facility)
        for cell, page in report.unfinished:
            assert page.total == cell.population - cell.completed
            assert all(r.status != "completed" for r in page.rows)
    report = dash.facility_report(repo=world.repo, facility="vilnius", unfinished=True,
                                  by="tester", form="pdf")
    assert report.title == "Training progress — Vilnius Correctional House"
    audit = world.repo.audit_entries(AuditQuery(action="export.report"))
    assert len(audit) == 5 and {a.actor for a in audit} == {"tester"}
    assert {a.target for a in audit} == {"all", "vilnius", "iasi", "porto"}
    pdf = report_pdf(report)
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "r.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Training progress — Vilnius Correctional House" in text
        assert "Facility: Vilnius Correctional House" in text and "Role: all roles" in text
        assert "Not finished: Boundaries — Vilnius Correctional House (3)" in text
        for name in ("Ben", "Cy", "Dan"):
            assert name in text
        assert "Ivy" not in text and "Gus" not in text
        # the PDF in the admin's console language (issue 21): labels translated, names kept
        path.write_bytes(report_pdf(report, Tr("lt").gettext, "lt"))
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Mokymosi pažanga — Vilnius Correctional House" in text
        assert "Įstaiga: Vilnius Correctional House" in text and "Pareigos: visos pareigos" in text
        assert "Nebaigė: Boundaries — Vilnius Correctional House (3)" in text
        assert "Training progress" not in text and "Not finished" not in text


def test_the_gap_map_from_the_database_equals_the_python_fold(world: World) -> None:
    for facility, role in (("", ""), ("vilnius", ""), ("", PSY), ("iasi", PO)):
        board = dash.dashboard(repo=world.repo, facility=facility, role=role)
        groups = world.repo.learner_groups(facility, role)
        model = course_scope(repo=world.repo, groups=groups).gap_model()
        expected = stats.gap_from_means(model, stats.gap_means(
            model, world.repo.rating_rows(facility, role)), board.gap.columns)
        assert board.gap.rows == expected.rows
        assert board.gap.values.keys() == expected.values.keys()
        for key, (mean, n) in expected.values.items():
            assert board.gap.values[key][0] == pytest.approx(mean)
            assert board.gap.values[key][1] == n
    # Ann: duty a = ((3-2) + (4-4)) / 2 = 0.5; Eve (psychologist): a1 2-0 = 2 → Vilnius 1.25
    board = dash.dashboard(repo=world.repo, facility="vilnius")
    row = board.gap.rows.index("Officer · Duty A")
    assert board.gap.values[(row, 0)] == (pytest.approx(1.25), 2)


def test_hostile_filters_are_plain_values(world: World) -> None:
    for value in ("' OR 1=1 --", "vilnius\x00", "<script>", "x" * 64):
        board = dash.dashboard(repo=world.repo, facility=value)
        assert board.cells == [] and board.tiles.learners == 0
        found = dash.drill_down(repo=world.repo, facility=value, role="", pack_id=value,
                                course_id=value, status=value, page=-5)
        assert found.result.total == 0 and found.page == 1 and found.status == ""
    assert dash.drill_down(repo=world.repo, facility="vilnius", role="", pack_id="p",
                           course_id="c1", status=UNFINISHED).result.total == 3


class RandomWorld(World):
    """Random publications (audiences, versions, withdrawals), learners, events (repeated
    ones too), leavers and moves."""

    def __init__(self, repo: Any, rnd: random.Random) -> None:
        self.repo, self.events, self.seq = repo, [], 0
        facs = ["f1", "f2", "f3"]
        for fid in facs:
            repo.create_facility(fid, fid.upper(), T0)
        versions = {("p", 1): ["c1", "c2"], ("p", 2): ["c1", "c2", "c3"], ("q", 1): ["q1"]}
        for (pid, ver), ids in versions.items():
            courses = [course(c, c.upper(), [PO] if c == "c2" and rnd.random() < .5 else None)
                       for c in ids]
            repo.add_pack_version(PackVersion(pid, ver, manifest(pid, ver, courses), b"{}",
                                              "{}", 0, T0, "t"))
        for _ in range(rnd.randrange(1, 6)):
            pid, ver = rnd.choice(sorted(versions))
            repo.publish(pid, ver, rnd.sample(facs, rnd.randrange(0, 3)),
                         rnd.sample([PO, PSY], rnd.randrange(0, 2)), "t", T0)
        if rnd.random() < .4:
            repo.withdraw_publications(rnd.choice(["p", "q"]), "t", T0)
        people = [f"L{i}" for i in range(12)]
        for lid in people:
            repo.save_profile(Learner(lid, f"S-{lid}", rnd.choice(facs), rnd.choice([PO, PSY]),
                                      "en", lid, None, T0))
        steps = ["card.viewed", "quiz.passed", "quiz.failed", "course.completed"]
        for _ in range(60):
            (pid, _v), ids = rnd.choice(sorted(versions.items()))
            self.do(rnd.choice(people), pid, rnd.choice(ids), rnd.choice(steps))
        for lid in rnd.sample(people, 2):
            repo.set_deactivated(lid, T0)
        for lid in rnd.sample(people, 3):
            learner = repo.get_learner(lid)
            other = rnd.choice([f for f in facs if f != learner.facility_id])
            repo.move_learner(lid, other, "2026-02-01T00:00:00.000Z")


@pytest.mark.parametrize("seed", range(4))
def test_random_worlds_equal_a_recomputation(tmp_path: Path, seed: int,
                                             database_url: str | None) -> None:  # noqa: F811
    from sync_server.db import open_repository
    repo = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        world = RandomWorld(repo, random.Random(seed))
        for facility in ("", "f1", "f2", "f3"):
            for role in ("", PO, PSY):
                board = dash.dashboard(repo=repo, facility=facility, role=role)
                assert cells_of(board) == recompute(world, facility, role), (facility, role)
                assert board.tiles.learners == len([
                    x for x in repo.list_learners() if x.active and
                    (not facility or x.facility_id == facility) and (not role or x.role == role)])
    finally:
        repo.close()


def test_a_learners_courses_are_those_published_to_them(world: World) -> None:
    def statuses(lid: str) -> dict[str, str]:
        learner = world.repo.get_learner(lid)
        return {c.course.course_id: c.status
                for c in dash.learner_courses(repo=world.repo, learner=learner)}

    assert statuses("l2") == {"c1": "passed", "c2": "not_started", "c3": "not_started"}
    assert statuses("l5") == {"c2": "not_started", "q1": "in_progress"}   # c1: officers only
    assert statuses("l9") == {"c1": "not_started", "c2": "not_started"}   # moved to Iasi: v1
    assert statuses("l8") == {}                                           # withdrawn
