"""Helpers of the sync-client tests (no tests here): a real server environment, devices
with their own data folders, a TCP proxy on 127.0.0.1 that cuts one download at a chosen
byte, and pack sources with many media files (for the delta test)."""

from __future__ import annotations

import random
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.core.packs import PackLibrary, build_pack, load_private_key, write_keypair
from app.core.store import Store
from app.core.store.keys import KeyProvider
from app.sync import RetryPolicy, SyncClient
from tests.support.server import ROOT, ServerProcess, admin_token, bearer, seed

SAMPLE = ROOT / "content_packs" / "promote-sample"
FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05)


@dataclass
class ServerEnv:
    server: ServerProcess
    work: Path
    key: Path
    pub: Path
    admin: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def code(self, facility: str = "f1") -> str:
        r = httpx.post(f"{self.url}/api/v1/admin/enrol-codes", headers=self.admin,
                       json={"facility_id": facility})
        r.raise_for_status()
        return str(r.json()["code"])

    def upload(self, pack_file: Path) -> None:
        r = httpx.post(f"{self.url}/api/v1/admin/packs/upload", content=pack_file.read_bytes(),
                       headers={**self.admin, "Content-Type": "application/octet-stream"},
                       timeout=60)
        assert r.status_code == 201, r.text

    def publish(self, pack_id: str, version: int, facilities: list[str] | None = None) -> None:
        r = httpx.post(f"{self.url}/api/v1/admin/packs/{pack_id}/publish", headers=self.admin,
                       json={"version": version, "facilities": facilities or []})
        assert r.status_code == 201, r.text

    def blob_path(self, sha: str) -> Path:
        return self.server.data_dir / "blobs" / sha[:2] / sha


@contextmanager
def server_env(work: Path, database_url: str | None = None,
               env: dict[str, str] | None = None) -> Iterator[ServerEnv]:
    """A real server (SQLite in its data dir, or `database_url`: PostgreSQL) + seed;
    `env`: extra SHIFT_* settings."""
    key, pub = write_keypair(work / "author.key")
    server = ServerProcess(work / "srv", database_url=database_url,
                           env={"SHIFT_TRUSTED_KEYS": str(pub), **(env or {})})
    server.start()
    try:
        seed(server.data_dir, database_url,
             facilities={"f1": "Facility One", "f2": "Facility Two"})
        env = ServerEnv(server, work, key, pub)
        env.admin = bearer(admin_token(server.base_url))
        yield env
    finally:
        server.stop()


@dataclass
class Device:
    dir: Path
    store: Store
    library: PackLibrary
    client: SyncClient

    def close(self) -> None:
        self.store.close()


def open_device(folder: Path, env: ServerEnv | None = None, *, enrol: bool = True,
                url: str | None = None, trust: bool = True, keys: KeyProvider | None = None,
                **client_args: Any) -> Device:
    store = Store.open(folder, keys=keys)
    library = PackLibrary(folder)
    client_args.setdefault("retry", FAST_RETRY)
    client = SyncClient(store, library, **client_args)
    if env is not None and trust:
        store.settings.set("trusted_keys", [env.pub.read_text()])
    if env is not None and enrol:
        client.enrol(env.code(), env.url)
    if url is not None:
        store.settings.set("server_url", url)
    return Device(folder, store, library, client)


def new_learner(store: Store, staff: str, name: str = "Alex Officer") -> str:
    return str(store.profiles.create(name, staff, "prison_officer", "en", "2468")["id"])


def card_event(learner: str, n: int) -> dict[str, Any]:
    return {"learner": learner, "type": "card.viewed", "pack": "promote-test", "pack_version": 1,
            "ref": {"course": "boundaries", "lesson": "01-why", "card": str(n % 3)},
            "data": {"seconds": 4.0, "lang": "en"}}


# ----------------------------------------------------------------------- pack sources
def media_pack_source(work: Path, version: int, *, files: int = 40, size: int = 16_384,
                      changed: set[int] = frozenset(), big: int = 0,  # type: ignore[assignment]
                      seed_: int = 7) -> Path:
    """promote-sample + `files` media files (pack-wide media/); files listed in `changed`
    get different bytes; `big` > 0 adds one large file (for the interrupted download)."""
    dst = work / f"src-v{version}-{len(changed)}-{big}"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(SAMPLE, dst)
    toml = dst / "pack.toml"
    toml.write_text(toml.read_text().replace("version = 1", f"version = {version}", 1))
    media = dst / "media"
    media.mkdir()
    rng = random.Random(seed_)
    png = b"\x89PNG\r\n\x1a\n"      # packs hold only images, recognised by their first bytes
    for i in range(files):
        data = png + rng.randbytes(size - len(png))
        if i in changed:
            data = png + bytes([data[8] ^ 0xFF]) + data[9:] + f"v{version}".encode()
        (media / f"photo-{i:03d}.png").write_bytes(data)
    if big:
        (media / "big-diagram.png").write_bytes(
            png + random.Random(seed_ + 1).randbytes(big - len(png)))
    return dst


def build(env: ServerEnv, source: Path, out: str) -> Path:
    return build_pack(source, load_private_key(env.key), env.work / out)


# ----------------------------------------------------------------------- cutting proxy
class CutProxy:
    """TCP proxy 127.0.0.1:port → upstream. When armed with (marker, after), the first
    connection whose request contains `marker` is cut after `after` response bytes.
    Records every request head it forwards (to see Range headers)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.cuts = 0
        self._arm: tuple[bytes, int] | None = None
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, marker: str, after: int) -> None:
        with self._lock:
            self._arm = (marker.encode(), after)

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        state = {"budget": None}   # response bytes left before the cut (None = no cut)

        def up() -> None:
            try:
                while data := client.recv(65536):
                    with self._lock:
                        self.requests.append(data)
                        if self._arm is not None and self._arm[0] in data:
                            state["budget"] = self._arm[1]
                            self._arm = None
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                with _quiet():
                    upstream.shutdown(socket.SHUT_WR)

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                budget = state["budget"]
                if budget is not None:
                    if len(data) >= budget:
                        client.sendall(data[:budget])
                        with self._lock:
                            self.cuts += 1
                        break
                    state["budget"] = budget - len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            with _quiet():
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            upstream.close()


def _quiet() -> suppress:
    return suppress(OSError)


def data_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


__all__ = ["CutProxy", "Device", "FAST_RETRY", "ServerEnv", "build", "card_event",
           "data_bytes", "media_pack_source", "new_learner", "open_device", "server_env"]
