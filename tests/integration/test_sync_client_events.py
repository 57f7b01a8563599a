"""Sync client ↔ real uvicorn server (127.0.0.1), real TinyDB store folders: enrolment,
two devices one learner, offline queue, dropped connections, rejected events, the CLI."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from app.core.errors import DeviceRevokedError, SyncAuthError, SyncNetworkError
from app.core.learning import LearningEngine
from app.core.store.keys import KeyFile
from app.sync import RetryPolicy
from tests.integration.test_sync_client_support import (
    CutProxy,
    ServerEnv,
    card_event,
    new_learner,
    open_device,
    server_env,
)
from tests.support.learning_fixtures import PACK, load_lesson, sample_manifest
from tests.support.server import ROOT, free_port


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    with server_env(tmp_path_factory.mktemp("sync-events")) as e:
        yield e


def _server_event_count(env: ServerEnv) -> int:
    r = httpx.get(f"{env.url}/api/v1/admin/stats", headers=env.admin)
    r.raise_for_status()
    return int(r.json()["events_total"])


def test_enrol_keeps_the_token_secret(env: ServerEnv, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dev = open_device(tmp_path / "a", env, enrol=False)
    try:
        with pytest.raises(SyncAuthError, match="403"):
            dev.client.enrol("not-a-real-code", env.url)
        assert not dev.client.enrolled()
        code = env.code()
        info = dev.client.enrol(code, env.url, name="Staff room tablet")
        assert info["facility_id"] == "f1" and info["device_id"] == dev.store.device_id
        with pytest.raises(SyncAuthError):            # a code works once
            dev.client.enrol(code, env.url)
        assert dev.client.enrolled()                   # the first token is still there
        token = dev.store.settings.get_secret("device_token").reveal()
        assert token and token not in caplog.text
        secrets = dev.dir / "store" / "secrets.json"
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        assert token not in (dev.dir / "store" / "settings.json").read_text()
        with dev.client.transport() as t:
            assert token not in repr(t)
            me = t.call("GET", "/api/v1/devices/me")
        assert me["name"] == "Staff room tablet"
        report = dev.client.sync()
        assert token not in caplog.text and token not in "\n".join(report.lines())
        # a revoked tablet gets a clear error and forgets its token (and its learners'
        # data: tests/integration/test_revoked_tablet.py)
        learner = new_learner(dev.store, "S-REV-1")
        dev.store.append(card_event(learner, 1))
        r = httpx.post(f"{env.url}/api/v1/admin/devices/{dev.store.device_id}/revoke",
                       headers=env.admin)
        assert r.status_code == 200
        with pytest.raises(DeviceRevokedError, match="revoked"):
            dev.client.sync()
        assert not dev.client.enrolled() and dev.store.outbox_count() == 0
    finally:
        dev.close()


def _engine(store, learner: str) -> LearningEngine:  # type: ignore[no-untyped-def]
    return LearningEngine([sample_manifest()], learner=learner, role="prison_officer",
                          language="en", load_lesson=load_lesson, events=store.events(learner))


def _act(store, learner: str, actions) -> None:  # type: ignore[no-untyped-def]
    for make in actions:
        engine = _engine(store, learner)
        for event in make(engine).events:
            store.append(event)


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    """The same server on PostgreSQL (skipped, with the reason, when none can run)."""
    from tests.support.postgres import _fresh_or_skip
    url = _fresh_or_skip()
    with server_env(tmp_path_factory.mktemp("sync-events-pg"), url) as e:
        yield e


def test_two_devices_one_learner_same_state(env: ServerEnv, tmp_path: Path) -> None:
    _two_devices_one_learner(env, tmp_path)


@pytest.mark.postgres
def test_two_devices_one_learner_same_state_postgres(pg_env: ServerEnv, tmp_path: Path) -> None:
    _two_devices_one_learner(pg_env, tmp_path)


def _two_devices_one_learner(env: ServerEnv, tmp_path: Path) -> None:
    a = open_device(tmp_path / "a", env)
    b = open_device(tmp_path / "b", env)
    try:
        learner = new_learner(a.store, "S-TWO-1", "Dana Two-Tablets")
        _act(a.store, learner, [lambda e: e.open_lesson(PACK, "boundaries", "01-why")])
        a.client.sync()                       # profile (and first event) reach the server
        first_b = b.client.sync()
        assert first_b.profiles_changed >= 1 and first_b.events_merged == 1
        assert b.store.profiles.verify_pin(learner, "2468")     # PIN verifier came along

        # both offline: A reads cards of lesson 1, B opens lesson 2 and reads a card
        _act(a.store, learner, [lambda e: e.view_card(PACK, "boundaries", "01-why", 0),
                                lambda e: e.view_card(PACK, "boundaries", "01-why", 1)])
        _act(b.store, learner, [lambda e: e.open_lesson(PACK, "boundaries", "02-grooming"),
                                lambda e: e.view_card(PACK, "boundaries", "02-grooming", 0)])
        for dev in (a, b, a):
            dev.client.sync()
        assert a.store.outbox_count() == b.store.outbox_count() == 0
        ids_a = {e["id"] for e in a.store.events(learner)}
        ids_b = {e["id"] for e in b.store.events(learner)}
        assert ids_a == ids_b and len(ids_a) == 5
        snap_a = _engine(a.store, learner).snapshot(today=date(2026, 11, 23))
        snap_b = _engine(b.store, learner).snapshot(today=date(2026, 11, 23))
        assert snap_a == snap_b
        assert _engine(a.store, learner).resume() == _engine(b.store, learner).resume()
        assert _engine(a.store, learner).resume() is not None

        # running every sync twice changes nothing
        total = _server_event_count(env)
        for dev in (a, b, a, b):
            again = dev.client.sync()
            assert (again.events_merged, again.events_pushed, again.profiles_changed,
                    again.profiles_pushed) == (0, 0, 0, 0)
        assert _server_event_count(env) == total
        assert _engine(a.store, learner).snapshot(today=date(2026, 11, 23)) == snap_a
        assert a.store.event_count(learner) == b.store.event_count(learner) == 5
        # own events come back with the server's received_at: not a conflict
        assert a.store.conflicts() == b.store.conflicts() == []
    finally:
        a.close()
        b.close()


def test_unreachable_server_queue_grows_then_one_sync_drains(env: ServerEnv,
                                                            tmp_path: Path) -> None:
    dev = open_device(tmp_path / "a", env)
    try:
        learner = new_learner(dev.store, "S-OFF-1")
        dev.client.sync()
        dev.store.settings.set("server_url", f"http://127.0.0.1:{free_port()}")  # nobody there
        before = _server_event_count(env)
        for round_ in range(3):
            for n in range(200):
                dev.store.append(card_event(learner, round_ * 200 + n))
            with pytest.raises(SyncNetworkError, match="cannot reach"):
                dev.client.sync()
            assert dev.store.outbox_count() == (round_ + 1) * 200
        dev.store.close()                        # the tablet restarts in between
        dev = open_device(dev.dir, env, enrol=False, url=env.url)
        assert dev.store.outbox_count() == 600
        report = dev.client.sync()
        assert report.events_acknowledged == 600 and report.outbox_left == 0
        assert report.requests >= 3               # 2 chunks of ≤ 500 + a pull
        assert _server_event_count(env) == before + 600
        assert dev.store.event_count(learner) == 600
    finally:
        dev.close()


def test_dropped_connection_resumes_without_duplicates(env: ServerEnv, tmp_path: Path) -> None:
    proxy = CutProxy(env.server.port)
    dev = open_device(tmp_path / "a", env, chunk_size=100)
    try:
        learner = new_learner(dev.store, "S-CUT-1")
        dev.client.sync()
        dev.store.settings.set("server_url", proxy.url)
        for n in range(450):
            dev.store.append(card_event(learner, n))
        before = _server_event_count(env)
        # the answer to a push is lost after the server stored the chunk
        proxy.arm("POST /api/v1/sync/push", after=40)
        report = dev.client.sync()
        assert proxy.cuts == 1 and report.retries >= 1
        assert report.outbox_left == 0 and report.events_acknowledged == 450
        assert report.events_duplicate == 100       # the re-sent chunk was "already had"
        assert _server_event_count(env) == before + 450

        # a sync that gives up mid-way resumes from the outbox next time
        for n in range(300):
            dev.store.append(card_event(learner, 1000 + n))
        dev.client.retry = RetryPolicy(attempts=1)
        proxy.arm("POST /api/v1/sync/push", after=0)
        with pytest.raises(SyncNetworkError):
            dev.client.sync()
        left = dev.store.outbox_count()
        assert left == 300                           # nothing acknowledged was lost
        report = dev.client.sync()
        assert report.outbox_left == 0 and report.events_acknowledged == 300
        assert _server_event_count(env) == before + 750

        # a pull page cut mid-answer is pulled again; merging it twice changes nothing
        other = open_device(tmp_path / "b", env, url=None)
        try:
            other.store.settings.set("server_url", proxy.url)
            other.client.retry = RetryPolicy(attempts=3, base=0.01, cap=0.02)
            proxy.arm("POST /api/v1/sync/pull", after=5_000)
            report = other.client.sync()
            assert proxy.cuts == 3 and report.retries >= 1
            assert other.store.event_count(learner) == 750
            assert other.client.sync().events_merged == 0
        finally:
            other.close()
    finally:
        proxy.close()
        dev.close()


def test_rejected_events_are_kept_with_reason(env: ServerEnv, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    a = open_device(tmp_path / "a", env)
    b = open_device(tmp_path / "b", env)
    try:
        learner = new_learner(a.store, "S-REJ-1")
        good = a.store.append(card_event(learner, 1))
        too_old = a.store.append({**card_event(learner, 2), "at": "2019-05-01T10:00:00.000Z"})
        future = a.store.append({**card_event(learner, 3), "at": "2099-01-01T10:00:00.000Z"})
        stranger = a.store.append(card_event("6f1c1b52-1111-4aaa-8bbb-123456789abc", 4))
        report = a.client.sync()
        assert report.events_acknowledged == 1
        assert set(report.events_rejected) == {too_old, stranger}
        assert report.events_rejected[too_old].startswith("at_too_old")
        assert report.events_rejected[stranger].startswith("unknown_learner")
        assert report.events_held == {future: report.events_held[future]}
        kept = {r["event"]["id"]: r["reason"] for r in a.store.rejected()}
        assert kept == report.events_rejected           # for the admin, never silently lost
        from app.commands.sync import _print_rejected
        assert _print_rejected(a.store) == 0
        listing = capsys.readouterr().out
        assert "2 rejected events kept" in listing and too_old in listing
        assert "at_too_old" in listing and "unknown_learner" in listing
        assert [e["id"] for e in a.store.outbox()] == [future]   # retried at a later sync
        assert good in {e["id"] for e in a.store.events(learner)}

        # same staff number registered from another tablet: that profile is refused
        # (staff_number_taken); the pull brought the existing learner, so its events are
        # re-attributed to them as new events and the old ones kept as rejected
        # (docs/sync-protocol.md §4.3, app/core/store/reattribute.py)
        clash = new_learner(b.store, "S-REJ-1", "Someone Else")
        old = {b.store.append(card_event(clash, 1)), b.store.append(card_event(clash, 2))}
        report = b.client.sync()
        assert clash in report.profiles_refused
        assert "S-REJ-1" not in report.profiles_refused[clash]
        assert report.profiles_reattributed == {clash: learner}
        assert not report.events_rejected and not report.events_held
        assert b.store.outbox_count() == 0 and not b.store.profiles.pending_push()
        kept_b = {r["event"]["id"]: r["reason"] for r in b.store.rejected()}
        assert kept_b == {i: f"re-attributed to learner {learner}" for i in old}
        moved = {e["data"].get("reattributed_from") for e in b.store.events(learner)}
        assert old <= moved
        assert any("re-attributed" in line for line in report.lines())
        assert b.client.sync().profiles_reattributed == {}       # once only
    finally:
        a.close()
        b.close()


def test_cli_enrol_and_sync(env: ServerEnv, tmp_path: Path) -> None:
    data = tmp_path / "kiosk"
    run = [sys.executable, "-m", "app"]
    r = subprocess.run([*run, "enrol", "bad-code", "--server", env.url, "--data-dir", str(data)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error:") and "403" in r.stderr
    code = env.code()
    r = subprocess.run([*run, "enrol", code, "--server", env.url, "--data-dir", str(data),
                        "--name", "kiosk"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Facility One" in r.stdout and code not in r.stdout
    # the CLI encrypts the folder at rest, with the app's key file beside it
    assert (tmp_path / "kiosk.key").is_file()
    dev = open_device(data, enrol=False, keys=KeyFile(tmp_path / "kiosk.key"))
    learner = new_learner(dev.store, "S-CLI-1")
    for n in range(7):
        dev.store.append(card_event(learner, n))
    token = dev.store.settings.get_secret("device_token").reveal()
    dev.close()
    r = subprocess.run([*run, "sync", "--data-dir", str(data), "--trust", str(env.pub)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "7 acknowledged" in r.stdout and "outbox: 0 events waiting" in r.stdout
    assert token not in r.stdout + r.stderr
    r = subprocess.run([*run, "sync", "--data-dir", str(data), "--rejected"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "0 rejected events kept on this device"
    r = subprocess.run([*run, "sync", "--data-dir", str(data), "--server", "ftp://nope"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "server_url" in r.stderr



def test_same_id_other_content_is_recorded_not_silent(env: ServerEnv, tmp_path: Path) -> None:
    """Two tablets made different events under one id (a bug or tampering): the server
    keeps the first and rejects the second as `conflict`; the second tablet keeps its own
    copy, rejected with the reason, and records the server's copy in its conflict log —
    shown by the sync report and `python -m app sync --conflicts`."""
    import uuid
    a = open_device(tmp_path / "a", env)
    b = open_device(tmp_path / "b", env)
    try:
        learner = new_learner(a.store, "S-CONFLICT-1")
        a.client.sync()
        b.client.sync()                                   # B knows the learner now
        shared = str(uuid.uuid4())
        a.store.append(dict(card_event(learner, 1), id=shared))
        b.store.append(dict(card_event(learner, 2), id=shared))
        assert a.client.sync().events_acknowledged == 1
        report = b.client.sync()
        assert report.events_conflicting == 1
        assert any(line.startswith("conflicts: 1 ") for line in report.lines())
        assert [r.split(":")[0] for r in report.events_rejected.values()] == ["conflict"]
        [row] = b.store.conflicts()
        assert row["id"] == shared and row["kept"]["ref"]["card"] == "2"
        assert row["received"]["ref"]["card"] == "1" and row["received"]["device"] == a.store.device_id
        assert [r["event"]["id"] for r in b.store.rejected()] == [shared]
        assert b.store.outbox_count() == 0
        assert b.client.sync().events_conflicting == 0    # recorded once
        data = b.dir
    finally:
        a.close()
        b.close()
    r = subprocess.run([sys.executable, "-m", "app", "sync", "--data-dir", str(data),
                        "--conflicts"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [line] = [x for x in r.stdout.splitlines() if shared in x]
    differs = line.split("differs in: ")[1].split("  ")[0].split(", ")
    assert {"device", "ref"} <= set(differs) <= {"at", "device", "ref", "seq"}
    assert r.stdout.strip().endswith("1 conflicting events recorded on this device")
