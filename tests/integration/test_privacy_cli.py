"""The privacy commands as real subprocesses: `learner export`, `learner erase`,
`retention run` — and their audit entries (actor `cli:<os user>`)."""

from __future__ import annotations

import getpass
import json
import zipfile
from pathlib import Path

from tests.integration.test_server_cli import cli
from tests.support.server import open_repo


def test_export_erase_and_retention_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    assert cli("facility", "add", "f1", "One", data=data).returncode == 0
    made = cli("learner", "add", "f1", "CLI-1", "Cli Person", "--role", "prison_officer",
               data=data)
    assert made.returncode == 0, made.stderr
    lid = made.stdout.splitlines()[0].strip()
    out = tmp_path / "record.zip"
    r = cli("learner", "export", lid, "--out", str(out), data=data)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("record.json"))["learner"]["staff_number"] == "CLI-1"
    r = cli("learner", "erase", lid, data=data)
    assert r.returncode == 2 and "--yes" in r.stdout            # nothing without --yes
    r = cli("learner", "erase", lid, "--yes", data=data)
    assert r.returncode == 0 and "erased" in r.stdout, r.stderr
    r = cli("learner", "erase", lid, "--yes", data=data)
    assert r.returncode != 0 and "erased already" in r.stderr     # twice: refused
    r = cli("learner", "erase", "not-a-uuid", "--yes", data=data)
    assert r.returncode != 0 and "UUID" in r.stderr
    r = cli("retention", "run", "--events-years", "6", "--audit-years", "6", data=data)
    assert r.returncode == 0 and "folded and deleted" in r.stdout, r.stderr
    repo = open_repo(data)
    try:
        from sync_server.db.repository import AuditQuery
        rows = repo.audit_entries(AuditQuery())
    finally:
        repo.close()
    actor = f"cli:{getpass.getuser()}"
    got = [(e.actor, e.action) for e in reversed(rows)]
    for action in ("facility.create", "learner.create", "learner.export", "learner.erase",
                   "retention.events", "retention.audit"):
        assert (actor, action) in got, action
