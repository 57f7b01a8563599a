"""A REAL sync server for tests: uvicorn in a subprocess on 127.0.0.1, a free port, a temp
data dir — plus helpers to seed it (admin, facility, enrolled device, learners).

    from tests.support.server import running_server, seed, enrol_device

    with running_server(tmp_path / "srv") as base_url:          # SQLite in the data dir
        admin = seed(tmp_path / "srv", facilities={"f1": "Facility 1"})
        dev = enrol_device(base_url, admin, "f1", "tablet-1")   # → Enrolled(token, …)
        httpx.get(f"{base_url}/api/v1/devices/me", headers=dev.headers)

`running_server(data_dir, database_url=None, env=None)` yields the base URL and stops
the server afterwards (SHIFT_PUBLIC_BASE_URL is that base URL unless `env` sets it); `ServerProcess` is the same thing with `.start()`, `.stop()`,
`.kill()` (SIGKILL, for crash tests) and `.restart()`. The server's JSON log lines are
in `<data_dir>/server.log`.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_NAME = "admin"
ADMIN_PASSWORD = "correct horse battery"


def free_port() -> int:
    """A port free now on 127.0.0.1, for a server started next. When the suite runs on
    several processes (pytest-xdist), each keeps only its own share of the ports (by
    `port // 2`, since Linux hands out even ports to bind and odd ones to connect): two
    processes cannot both pick a port in the moment between this check and their
    server's bind, nor can one's health check be answered by the other's server."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % count if worker[2:].isdigit() else 0
    for _ in range(10_000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if (port // 2) % count == index:
            return port
    raise RuntimeError(f"no free port of test process {worker}'s share ({index} of {count})")


@dataclass
class ServerProcess:
    data_dir: Path
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    workers: int = 1
    startup_timeout: float = 30.0
    proc: subprocess.Popen[bytes] | None = None
    #: A Python script run first, given `-m sync_server serve …` to exec (e.g. one that
    #: restricts the process the way a systemd directive would).
    launcher: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self.data_dir) / "server.log"

    def start(self) -> str:
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        inherited = {k: v for k, v in os.environ.items()
                     if k not in ("SHIFT_DATABASE_URL", "SHIFT_PUBLIC_BASE_URL", "SHIFT_DEV",
                                  "SHIFT_TRUSTED_PROXIES")}
        # like a real deployment: the public URL is configured (here: where it listens)
        env = {**inherited, "PYTHONPATH": str(ROOT), "SHIFT_PUBLIC_BASE_URL": self.base_url,
               **self.env}
        if self.database_url:
            env["SHIFT_DATABASE_URL"] = self.database_url
        cmd = [sys.executable, *([str(self.launcher)] if self.launcher else []),
               "-m", "sync_server", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()
        self._wait_ready()
        return self.base_url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sync server exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sync server did not become ready:\n" + self.log_tail())

    def requests(self, path: str) -> list[dict[str, Any]]:
        """The server's access-log entries for `path` (one JSON line per request, written
        when its handling ends — also for a request whose client went away)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"sync_server.access"' not in line or path not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:      # a line not from our JSON logger (a crash's traceback)
                continue
            if entry.get("path") == path:
                entries.append(entry)
        return entries

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM to the process group), SIGKILL after `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill(self) -> None:
        """Crash: SIGKILL the whole process group, no shutdown code runs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> str:
        self.stop()
        return self.start()


@contextmanager
def running_server(data_dir: Path, database_url: str | None = None,
                   env: dict[str, str] | None = None, *, workers: int = 1,
                   port: int = 0) -> Iterator[str]:
    server = ServerProcess(Path(data_dir), database_url, dict(env or {}), port=port, workers=workers)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


# ----- seeding ------------------------------------------------------------------------------
def open_repo(data_dir: Path, database_url: str | None = None) -> Any:
    """The server's repository, opened from the test process (same database)."""
    from sync_server.db import open_repository
    from sync_server.settings import Settings
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    return open_repository(settings.effective_database_url, pool_size=2)


def seed(data_dir: Path, database_url: str | None = None, *,
         facilities: dict[str, str] | None = None,
         admin: tuple[str, str] = (ADMIN_NAME, ADMIN_PASSWORD)) -> tuple[str, str]:
    """Create an admin (if missing) and facilities directly in the database; returns the
    admin (name, password) for `admin_token`."""
    from app.core.clock import now_iso
    from sync_server.services import admin_auth
    repo = open_repo(data_dir, database_url)
    try:
        if repo.get_admin_by_name(admin[0]) is None:
            admin_auth.create_admin(repo=repo, name=admin[0], password=admin[1])
        for fid, name in (facilities or {}).items():
            if repo.get_facility(fid) is None:
                repo.create_facility(fid, name, now_iso())
    finally:
        repo.close()
    return admin


def admin_token(base_url: str, admin: tuple[str, str] = (ADMIN_NAME, ADMIN_PASSWORD)) -> str:
    r = httpx.post(f"{base_url}/api/v1/admin/login", json={"name": admin[0], "password": admin[1]})
    r.raise_for_status()
    return str(r.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Enrolled:
    device_id: str
    facility_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def enrol_device(base_url: str, admin_tok: str, facility_id: str, device_id: str | None = None,
                 name: str = "test tablet") -> Enrolled:
    """Admin makes a code, the device trades it for a token (both over HTTP)."""
    r = httpx.post(f"{base_url}/api/v1/admin/enrol-codes", headers=bearer(admin_tok),
                   json={"facility_id": facility_id})
    r.raise_for_status()
    device_id = device_id or f"dev-{uuid.uuid4().hex[:12]}"
    r = httpx.post(f"{base_url}/api/v1/devices/enrol",
                   json={"code": r.json()["code"], "device_id": device_id, "name": name})
    r.raise_for_status()
    return Enrolled(device_id, facility_id, str(r.json()["token"]))


TEST_PIN = "2468"


@functools.lru_cache(maxsize=1)
def learner_verifier() -> str:
    """A real argon2id verifier of TEST_PIN (made once: each one costs ~50 ms)."""
    from app.core import pins
    return pins.make_verifier(TEST_PIN)


def make_profile(staff_number: str | None = None, *, role: str = "prison_officer",
                 name: str = "Test Learner", learner_id: str | None = None,
                 updated_at: str = "2026-01-01T08:00:00.000Z") -> dict[str, Any]:
    """A learner profile as a device pushes it (a made-up staff member, never a prisoner)."""
    return {"id": learner_id or str(uuid.uuid4()),
            "staff_number": staff_number or f"S-{uuid.uuid4().hex[:8]}",
            "display_name": name, "role": role, "language": "en",
            "pin_verifier": learner_verifier(), "updated_at": updated_at}


def make_event(learner: str, device: str, seq: int, *, at: str = "2026-01-01T09:00:00.000Z",
               type: str = "card.viewed", **extra: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "learner": learner, "device": device, "seq": seq, "at": at,
             "type": type, "pack": "promote-core", "pack_version": 1,
             "ref": {"course": "boundaries", "lesson": "01-why", "card": str(seq % 7)},
             "data": {}}
    event.update(extra)
    return event
