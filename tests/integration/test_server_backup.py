"""Backup while tablets push, restore into an empty data folder / database, go on syncing.

A real uvicorn server (tests/support/server.py) on SQLite and on PostgreSQL, two
facilities, four tablets (real device stores and sync clients), learners, events,
certificates and two packs (one built by the server, one uploaded signed by an author key
the server trusts). The backup runs while the tablets sync in a loop; its `on_snapshot`
hook is the synchronisation: it waits until every tablet has finished a sync that
started after the snapshot (so events the server acknowledged after the backup point
exist — no sleeps). Then:

* the restored database is exactly the snapshot: its events are a prefix, by seq, of the
  original's (row for row), certificates / packs / blobs / keys identical;
* /verify says genuine for certificates issued before the backup, and — once the tablets
  offered their history again — for the one issued after it, under its own id;
* the tablets notice the restore, pull again, offer their history: afterwards the server
  holds every event it ever acknowledged, each once, every tablet holds every event of
  its facility, and the next sync re-sends nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.packs import PackLibrary, write_keypair
from app.core.store import Store
from app.sync import SyncClient
from sync_server.backup import create_backup
from sync_server.settings import Settings
from tests.integration.test_admin_certificates import upload_and_publish
from tests.integration.test_sync_client_support import (
    FAST_RETRY,
    build,
    card_event,
    media_pack_source,
    new_learner,
)
from tests.support.learner_work import server_manifest, study
from tests.support.postgres import (  # noqa: F401 - database_url: parametrised fixture
    database_url,
    fresh_database_url,
)
from tests.support.server import ROOT, ServerProcess, admin_token, bearer, seed

PUBLIC = "https://learning.example.org"
COMPARED = ("facilities", "admins", "learners", "devices", "packs", "pack_blobs",
            "publications", "certificates", "events")


@dataclass
class Tablet:
    name: str
    facility: str
    store: Store
    client: SyncClient
    learners: list[str] = field(default_factory=list)
    made: int = 0
    manifest: dict[str, Any] | None = None

    def work(self, n: int = 2) -> None:
        for learner in self.learners:
            for _ in range(n):
                self.made += 1
                self.store.append(card_event(learner, self.made))

    def complete(self, learner: str) -> None:
        """Read the course and pass its quiz, as the learning engine records it (the
        server issues a certificate only for work it can re-score)."""
        assert self.manifest is not None
        for event in study(self.manifest, learner, "boundaries", device=self.name):
            self.store.append({k: v for k, v in event.items()
                               if k not in ("id", "device", "seq", "at")})

    def ids(self) -> set[str]:
        return {e["id"] for lid in self.store.learner_ids() for e in self.store.events(lid)}


def table_rows(data_dir: Path, url: str | None, table: str) -> set[tuple[Any, ...]]:
    """Every row of one table, read straight from the database (not through the code
    under test)."""
    if url is None:
        conn = sqlite3.connect(data_dir / "server.sqlite3")
        try:
            return {tuple(r) for r in conn.execute(f"SELECT * FROM {table}")}
        finally:
            conn.close()
    import psycopg
    with psycopg.connect(url) as conn:
        return {tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in conn.execute(f"SELECT * FROM {table}")}


def event_rows(data_dir: Path, url: str | None) -> dict[str, tuple[Any, ...]]:
    """id → (seq, id, learner, device, facility, type, at, content, received_at, from)."""
    return {r[1]: r for r in table_rows(data_dir, url, "events")}


def verify(base: str, certificate_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/verify/{certificate_id}", headers={"Accept": "application/json"})
    return dict(r.json())


@pytest.fixture
def world(tmp_path: Path, database_url: str | None) -> Iterator[dict[str, Any]]:  # noqa: F811
    author_key, author_pub = write_keypair(tmp_path / "author.key")
    env = {"SHIFT_PUBLIC_BASE_URL": PUBLIC, "SHIFT_TRUSTED_KEYS": str(author_pub)}
    server = ServerProcess(tmp_path / "srv", database_url, env)
    seed(server.data_dir, database_url, facilities={"f1": "Vilnius", "f2": "Iasi"})
    server.start()
    tablets: list[Tablet] = []
    try:
        admin = bearer(admin_token(server.base_url))
        upload_and_publish(server.base_url, admin["Authorization"][7:], [])
        media = build_and_upload(server, admin, tmp_path, author_key)
        for i, facility in enumerate(("f1", "f1", "f2", "f2")):
            tablets.append(open_tablet(tmp_path / f"tab{i}", f"tab{i}", facility, server, admin))
        yield {"server": server, "admin": admin, "tablets": tablets, "url": database_url,
               "env": env, "media": media, "tmp": tmp_path}
    finally:
        for t in tablets:
            t.store.close()
        server.stop()


def build_and_upload(server: ServerProcess, admin: dict[str, str], tmp: Path,
                     author_key: Path) -> Path:
    """A pack with media files, signed by an author key the server trusts, published to
    f2 only (its blobs must come back too)."""
    class _Env:     # what build() needs of a ServerEnv
        work = tmp
        key = author_key
    source = media_pack_source(tmp, 2, files=12, size=8192)
    toml = source / "pack.toml"
    toml.write_text(toml.read_text().replace('id = "promote-sample"', 'id = "promote-media"', 1))
    pack = build(_Env(), source, "media.pack")  # type: ignore[arg-type]
    r = httpx.post(f"{server.base_url}/api/v1/admin/packs/upload", content=pack.read_bytes(),
                   headers={**admin, "Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{server.base_url}/api/v1/admin/packs/promote-media/publish", headers=admin,
                   json={"version": 2, "facilities": ["f2"], "roles": []})
    assert r.status_code == 201, r.text
    return pack


def open_tablet(folder: Path, name: str, facility: str, server: ServerProcess,
                admin: dict[str, str]) -> Tablet:
    store = Store.open(folder)
    client = SyncClient(store, PackLibrary(folder), retry=FAST_RETRY)
    r = httpx.post(f"{server.base_url}/api/v1/admin/enrol-codes", headers=admin,
                   json={"facility_id": facility})
    client.enrol(r.json()["code"], server.base_url, name=name)
    tablet = Tablet(name, facility, store, client)
    secret = store.settings.get_secret("device_token")
    assert secret is not None
    token = secret.reveal()
    tablet.manifest = server_manifest(server.base_url, {"Authorization": f"Bearer {token}"},
                                      "promote-sample", 1)
    tablet.learners = [new_learner(store, f"{name.upper()}-{k}", f"Officer {name} {k}")
                       for k in range(2)]
    return tablet


def sync_all(tablets: list[Tablet]) -> list[Any]:
    reports = [t.client.sync(packs=False) for t in tablets]
    for t, report in zip(tablets, reports, strict=True):
        assert report.outbox_left == 0 and not report.events_rejected, (t.name, report.lines())
    return reports


def test_backup_while_pushing_restore_and_keep_syncing(world: dict[str, Any]) -> None:
    server: ServerProcess = world["server"]
    tablets: list[Tablet] = world["tablets"]
    url, tmp = world["url"], world["tmp"]

    # ---- fill: events, a completion (certificate) per tablet, everyone synced twice
    for t in tablets:
        t.work(3)
        t.complete(t.learners[0])
    sync_all(tablets)
    sync_all(tablets)
    before = {c[0] for c in table_rows(server.data_dir, url, "certificates")}
    assert len(before) == 4

    # ---- back up while every tablet syncs in a loop
    stop = threading.Event()
    snapshot_taken = threading.Event()
    synced_after = {t.name: threading.Event() for t in tablets}
    looped_once = {t.name: threading.Event() for t in tablets}
    errors: list[BaseException] = []

    late = tablets[2]                       # finishes a course after the backup point

    def tablet_loop(t: Tablet) -> None:
        try:
            while not stop.is_set():
                started_after = snapshot_taken.is_set()
                if started_after and t is late and not synced_after[t.name].is_set():
                    late.complete(late.learners[1])   # → a certificate issued after the backup
                t.work(1)
                report = t.client.sync(packs=False)
                assert report.outbox_left == 0, report.lines()
                looped_once[t.name].set()
                if started_after:
                    synced_after[t.name].set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            for ev in (*synced_after.values(), *looped_once.values()):
                ev.set()

    def on_snapshot() -> None:
        snapshot_taken.set()
        for name, ev in synced_after.items():
            assert ev.wait(120), f"{name} did not sync after the snapshot"

    threads = [threading.Thread(target=tablet_loop, args=(t,)) for t in tablets]
    for th in threads:
        th.start()
    try:
        for name, ev in looped_once.items():          # all of them are pushing now
            assert ev.wait(120), name
        settings = Settings(data_dir=server.data_dir, database_url=url,
                            trusted_keys=(Path(world["env"]["SHIFT_TRUSTED_KEYS"]),))
        archive = tmp / "backup.zip"
        summary = create_backup(settings, archive, on_snapshot=on_snapshot)
    finally:
        stop.set()
        for th in threads:
            th.join(120)
    assert not errors, errors
    assert summary.rows["events"] > 0 and summary.blobs > 0
    sync_all(tablets)
    sync_all(tablets)

    original_events = event_rows(server.data_dir, url)
    original = {t: table_rows(server.data_dir, url, t) for t in COMPARED}
    late_cert = {c[0]: c for c in original["certificates"]}.keys() - before
    assert len(late_cert) == 1, "the completion after the snapshot gave one certificate"
    (late_cert_id,) = late_cert
    original_blobs = {p.relative_to(server.data_dir / "blobs"): p.read_bytes()
                      for p in (server.data_dir / "blobs").rglob("*") if p.is_file()
                      and p.parent.name != "tmp"}
    original_key = (server.data_dir / "keys" / "server.key").read_bytes()
    server.stop()

    # ---- restore into an empty data folder / database (the CLI, as an operator would)
    new_dir = tmp / "restored"
    new_url = None if url is None else fresh_database_url()
    cmd = [sys.executable, "-m", "sync_server", "restore", str(archive), "--data-dir", str(new_dir)]
    if new_url:
        cmd += ["--database-url", new_url]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "restored" in run.stdout and "SHIFT_TRUSTED_KEYS=" in run.stdout

    # the restored database is the snapshot: a prefix of the events, row for row
    restored_events = event_rows(new_dir, new_url)
    top = max(r[0] for r in restored_events.values())
    assert restored_events == {i: r for i, r in original_events.items() if r[0] <= top}
    assert len(restored_events) < len(original_events), "events after the backup point"
    restored = {t: table_rows(new_dir, new_url, t) for t in COMPARED}
    for table in ("facilities", "admins", "learners", "packs", "pack_blobs", "publications"):
        assert restored[table] == original[table], table
    assert restored["certificates"] < original["certificates"]
    assert late_cert_id not in {c[0] for c in restored["certificates"]}
    assert {r[0] for r in restored["devices"]} == {r[0] for r in original["devices"]}
    restored_blobs = {p.relative_to(new_dir / "blobs"): p.read_bytes()
                      for p in (new_dir / "blobs").rglob("*") if p.is_file()
                      and p.parent.name != "tmp"}
    assert restored_blobs == original_blobs
    assert (new_dir / "keys" / "server.key").read_bytes() == original_key
    assert (new_dir / "keys" / "server.key").stat().st_mode & 0o777 == 0o600
    (trusted,) = sorted((new_dir / "keys" / "trusted").iterdir())
    assert trusted.read_bytes() == Path(world["env"]["SHIFT_TRUSTED_KEYS"]).read_bytes()

    # ---- the restored server: old certificates verify, tablets keep syncing
    env = {**world["env"], "SHIFT_TRUSTED_KEYS": str(trusted)}
    restored_server = ServerProcess(new_dir, new_url, env)
    restored_server.start()
    try:
        base = restored_server.base_url
        for cid in before:
            answer = verify(base, cid)
            assert answer["status"] == "genuine", answer
        assert verify(base, late_cert_id)["status"] == "not_found"   # until a tablet offers it

        for t in tablets:
            t.store.settings.set("server_url", base)
        first = sync_all(tablets)
        assert all(r.server_restored for r in first)
        assert sum(r.events_recovered for r in first) == len(original_events) - len(restored_events)
        assert verify(base, late_cert_id)["status"] == "genuine"     # recovered, same id

        second = sync_all(tablets)
        assert not any(r.server_restored or r.events_reoffered for r in second)
        assert all(r.events_pushed == 0 for r in second), "nothing is sent twice"

        after = event_rows(new_dir, new_url)
        assert {i: r[2:8] for i, r in after.items()} == {
            i: r[2:8] for i, r in original_events.items()}   # every event, once, same content
        certs = {c[0]: c for c in table_rows(new_dir, new_url, "certificates")}
        assert certs.keys() == {c[0] for c in original["certificates"]}
        old = {c[0]: c for c in original["certificates"]}
        credential = 10   # column of the signed credential (JSON text; key order may differ)
        assert all(json.loads(certs[cid][credential]) == json.loads(old[cid][credential])
                   for cid in certs)
        assert all(certs[cid] == old[cid] for cid in before)   # untouched rows

        # new work after the restore reaches every tablet of the facility (no cursor skips)
        for t in tablets:
            t.work(2)
        sync_all(tablets)
        sync_all(tablets)
        final = event_rows(new_dir, new_url)
        for t in tablets:
            facility_ids = {i for i, r in final.items() if r[4] == t.facility}
            assert t.ids() == facility_ids, t.name
    finally:
        restored_server.stop()


def test_backup_file_and_folder_cli(tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    """The CLI: a folder gets time-stamped backups and `--keep`; an existing file is not
    overwritten; `restore --check` verifies without touching anything."""
    from sync_server.app import create_app
    data = tmp_path / "srv"
    create_app(Settings(data_dir=data, database_url=database_url,
                        public_base_url="https://learning.example.org")).state.shift.repo.close()
    tmp = tmp_path
    folder = tmp / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup: left alone")
    old = folder / "shift-backup-20200101T000000Z.zip"
    old.write_bytes(b"old")
    base = [sys.executable, "-m", "sync_server"]
    db = ["--data-dir", str(data)] + (["--database-url", database_url] if database_url else [])
    run = subprocess.run([*base, "backup", str(folder), "--keep", "1", *db], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    made = sorted(folder.glob("shift-backup-*.zip"))
    assert len(made) == 1 and made[0] != old and (folder / "notes.txt").exists()
    assert made[0].stat().st_mode & 0o777 == 0o600
    run = subprocess.run([*base, "backup", str(made[0]), *db], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1 and "already exists" in run.stderr
    run = subprocess.run([*base, "restore", str(made[0]), "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "every checksum verified" in run.stdout, run.stderr
    manifest = json.loads(__import__("zipfile").ZipFile(made[0]).read("shift-backup.json"))
    assert {t["name"] for t in manifest["tables"]} >= set(COMPARED) | {"server_meta"}
