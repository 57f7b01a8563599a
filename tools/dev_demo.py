"""`make run`'s development demo on the sync server: admin, facility, packs, enrolment.

DEVELOPMENT ONLY. Everything goes through the server's public surfaces — the CLI for the
first admin (there is no other way to make one) and the HTTP admin API for the rest
(docs/sync-protocol.md §5–6) — never its internals. Every step looks first and only
creates what is missing, so re-runs reuse the admin, the facility, the uploaded and
published packs and the tablet's enrolment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ADMIN_NAME = "admin"
FACILITY_ID = "dev"
FACILITY_NAME = "Development facility"
ADMIN_FILE = "dev-admin.txt"


class DemoSetupError(RuntimeError):
    """A step of the demo set-up failed; the message says which and why."""


@dataclass(frozen=True)
class AdminLogin:
    name: str
    password: str
    file: Path


def _cli(root: Path, server_dir: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "sync_server", *args, "--data-dir",
                           str(server_dir)], cwd=root, input=stdin, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise DemoSetupError(f"sync_server {args[0]} {args[1]}: "
                             f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    return proc.stdout


def read_admin_file(path: Path) -> AdminLogin | None:
    if not path.is_file():
        return None
    values = dict(line.split(": ", 1) for line in path.read_text(encoding="utf-8").splitlines()
                  if ": " in line)
    if values.get("name") and values.get("password"):
        return AdminLogin(values["name"], values["password"], path)
    return None


def ensure_admin(root: Path, server_dir: Path) -> AdminLogin:
    """The dev admin from ``<server_dir>/dev-admin.txt``; made (random password) if absent."""
    path = server_dir / ADMIN_FILE
    known = read_admin_file(path)
    if known is not None:
        return known
    server_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(15)
    existing = _cli(root, server_dir, "admin", "list").split()
    verb = "passwd" if ADMIN_NAME in existing else "create"
    _cli(root, server_dir, "admin", verb, ADMIN_NAME, "--password-stdin", stdin=password + "\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# DEVELOPMENT ONLY: the admin made by `make run` (never use on a real server)\n"
                 f"name: {ADMIN_NAME}\npassword: {password}\n")
    return AdminLogin(ADMIN_NAME, password, path)


class AdminApi:
    """The few admin API calls the demo needs (bearer token from /admin/login)."""

    def __init__(self, base_url: str, login: AdminLogin) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1/admin", timeout=60)
        answer = self._call("POST", "/login", json={"name": login.name,
                                                    "password": login.password})
        self.http.headers["Authorization"] = f"Bearer {answer['token']}"

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        if response.status_code >= 400:
            raise DemoSetupError(f"{method} /api/v1/admin{path}: HTTP {response.status_code} "
                                 f"{response.text[:300]}")
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()

    def ensure_facility(self) -> None:
        if not any(f["id"] == FACILITY_ID for f in self._call("GET", "/facilities")):
            self._call("POST", "/facilities", json={"id": FACILITY_ID, "name": FACILITY_NAME})

    def publish_packs(self, packs: dict[tuple[str, int], Path]) -> list[str]:
        """Upload the packs the server lacks and publish each to the dev facility.
        Returns "id vN" of what was published now."""
        uploaded = {(p["id"], p["version"]) for p in self._call("GET", "/packs")}
        published = {(p["pack_id"], p["version"]) for p in self._call("GET", "/publications")
                     if not p["facilities"] or FACILITY_ID in p["facilities"]}
        done = []
        for (pack_id, version), file in sorted(packs.items()):
            if (pack_id, version) not in uploaded:
                self._call("POST", "/packs/upload", content=file.read_bytes(),
                           headers={"Content-Type": "application/octet-stream"})
            if (pack_id, version) not in published:
                self._call("POST", f"/packs/{pack_id}/publish",
                           json={"version": version, "facilities": [FACILITY_ID], "roles": []})
                done.append(f"{pack_id} v{version}")
        return done

    def device_active(self, device_id: str) -> bool:
        return any(d["id"] == device_id and not d["revoked_at"]
                   for d in self._call("GET", "/devices"))

    def enrol_code(self) -> str:
        return str(self._call("POST", "/enrol-codes", json={"facility_id": FACILITY_ID})["code"])


def enrol_device(api: AdminApi, device_dir: Path, server_url: str,
                 server_pub: Path | None) -> bool:
    """Enrol the tablet folder with a fresh code unless the server already knows it.

    Also trusts the server's key on the tablet (it signs certificates and packs built on
    the server, docs/certificates.md). True when an enrolment happened now."""
    from app.core.packs import PackLibrary
    from app.core.store import Store
    from app.core.store.keys import key_file_for
    from app.sync import SyncClient

    store = Store.open(device_dir, keys=key_file_for(device_dir))
    try:
        if server_pub is not None and server_pub.is_file():
            keys = list(store.settings.get("trusted_keys") or [])
            text = server_pub.read_text(encoding="utf-8")
            if text not in keys:
                store.settings.set("trusted_keys", [*keys, text])
        client = SyncClient(store, PackLibrary(device_dir))
        if store.settings.get("server_url") != server_url:
            store.settings.set("server_url", server_url)
        if client.enrolled() and api.device_active(store.device_id):
            return False
        # the old token (if any) stays until the new one arrives: it proves this tablet
        # holds its device id, which a revoked-then-readmitted id needs (issue 13)
        client.enrol(api.enrol_code(), server_url, name="make run demo tablet")
        return True
    finally:
        store.close()
