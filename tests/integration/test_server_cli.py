"""The server's command line, run as real subprocesses against a temp data dir."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import ROOT, enrol_device, running_server

PASSWORD = "a long enough password"


def cli(*args: str, data: Path, stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("SHIFT_DATABASE_URL", "SHIFT_ADMIN_PASSWORD")}
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run([sys.executable, "-m", "sync_server", *args, "--data-dir", str(data)],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, env=full_env,
                          timeout=60)


def test_admin_facility_learner_and_enrol_code_commands(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    r = cli("facility", "add", "vilnius", "Vilnius Correction House", data=data)
    assert r.returncode == 0, r.stderr
    r = cli("facility", "add", "Bad Id!", "x", data=data)
    assert r.returncode == 1 and r.stderr.startswith("error: facility id")
    r = cli("admin", "create", "rasa", "--password-stdin", data=data, stdin=PASSWORD + "\n")
    assert r.returncode == 0 and "created" in r.stdout
    assert PASSWORD not in r.stdout + r.stderr
    r = cli("admin", "create", "rasa", "--password-stdin", data=data, stdin=PASSWORD + "\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = cli("admin", "create", "short", "--password-stdin", data=data, stdin="123\n")
    assert r.returncode == 1 and "at least 10" in r.stderr
    r = cli("admin", "create", "nopass", data=data, stdin="")          # not a tty, no env
    assert r.returncode == 1 and "no password" in r.stderr
    r = cli("admin", "create", "envpass", data=data, env={"SHIFT_ADMIN_PASSWORD": PASSWORD})
    assert r.returncode == 0
    assert cli("admin", "list", data=data).stdout.split() == ["envpass", "rasa"]
    r = cli("learner", "add", "vilnius", "LT-7", "Jonas", "--role", "prison_officer", data=data)
    assert r.returncode == 0
    learner_id, code_line = r.stdout.strip().splitlines()   # the id, then the PIN set-up code
    assert len(learner_id) == 36 and re.match(r"PIN set-up code: [A-Z0-9]{4}-[A-Z0-9]{4}-"
                                              r"[A-Z0-9]{4} \(valid until 20", code_line)
    r = cli("learner", "pin-reset", learner_id, data=data)
    assert r.returncode == 0 and r.stdout.startswith("PIN set-up code: ")
    assert r.stdout.split()[3] != code_line.split()[3]
    r = cli("learner", "pin-reset", "nobody", data=data)
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = cli("learner", "add", "vilnius", "lt-7", "Other", "--role", "prison_officer", data=data)
    assert r.returncode == 1 and "already belongs" in r.stderr
    r = cli("learner", "add", "vilnius", "LT-8", "X", "--role", "warden", data=data)
    assert r.returncode == 1 and "unknown role" in r.stderr
    r = cli("enrol-code", "nowhere", data=data)
    assert r.returncode == 1 and "does not exist" in r.stderr
    code = cli("enrol-code", "vilnius", data=data).stdout.strip()
    assert len(code) == 14

    with running_server(data) as url:
        r = httpx.post(url + "/api/v1/devices/enrol",
                       json={"code": code.lower(), "device_id": "tab-1", "name": "Tablet 1"})
        assert r.status_code == 201 and r.json()["facility_name"] == "Vilnius Correction House"
        login = httpx.post(url + "/api/v1/admin/login", json={"name": "rasa", "password": PASSWORD})
        assert login.status_code == 200
        # the console's cookie works like the bearer header; logout ends the token
        tok = login.json()["token"]
        assert httpx.get(url + "/api/v1/admin/devices", cookies={"shift_admin": tok}).status_code == 200
        dev = enrol_device(url, tok, "vilnius")
        learners = httpx.get(url + "/api/v1/admin/learners", headers={"Authorization": f"Bearer {tok}"})
        assert [x["staff_number"] for x in learners.json()] == ["LT-7"]
        assert "pin_verifier" not in learners.json()[0]
        stats = httpx.get(url + "/api/v1/admin/stats", headers={"Authorization": f"Bearer {tok}"}).json()
        assert stats["devices"] == 2 and stats["learners"] == 1
        assert httpx.post(url + "/api/v1/admin/logout",
                          headers={"Authorization": f"Bearer {tok}"}).status_code == 204
        assert httpx.get(url + "/api/v1/admin/devices",
                         headers={"Authorization": f"Bearer {tok}"}).status_code == 401
        assert httpx.get(url + "/api/v1/devices/me", headers=dev.headers).status_code == 200
    r = cli("admin", "passwd", "rasa", "--password-stdin", data=data, stdin="another long password\n")
    assert r.returncode == 0
    r = cli("admin", "passwd", "ghost", "--password-stdin", data=data, stdin="another long password\n")
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_rebuild_aggregates_command_checks_and_repairs(tmp_path: Path) -> None:
    """`rebuild-aggregates --check` says whether the report aggregates match the events
    (exit 1 when not) and changes nothing; without --check it repairs them."""
    import sqlite3

    data = tmp_path / "srv"
    assert cli("facility", "add", "f1", "One", data=data).returncode == 0
    r = cli("rebuild-aggregates", "--check", data=data)
    assert r.returncode == 0 and "aggregates match the events" in r.stdout, r.stderr
    db = data / "server.sqlite3"
    with sqlite3.connect(db) as conn:                   # a repair by hand gone wrong
        conn.execute("INSERT INTO event_totals VALUES ('f1', 7)")
    r = cli("rebuild-aggregates", "--check", data=data)
    assert r.returncode == 1 and "DIFFERED" in r.stdout
    r = cli("rebuild-aggregates", data=data)
    assert r.returncode == 0 and "aggregates rebuilt (they had differed)" in r.stdout
    assert cli("rebuild-aggregates", "--check", data=data).returncode == 0
