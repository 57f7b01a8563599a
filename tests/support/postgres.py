"""PostgreSQL for tests: SHIFT_TEST_POSTGRES_URL when set (CI), else a throw-away cluster.

The throw-away cluster is made with Debian's initdb + pg_ctl on a free port in a temp
dir, once per test process (stopped at exit). As root, initdb refuses to run, so it runs
as the `postgres` user (runuser) in a folder that user owns. Every test gets its own
schema (`fresh_database_url`), so tests never see each other's rows.

Fixtures (import them into a test module):
    postgres_url   – a fresh schema URL; skips with the reason when no PostgreSQL
    database_url   – parametrised: None (SQLite) and a fresh PostgreSQL schema URL
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.server import free_port

_cluster: dict[str, object] = {}


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]


def start_cluster() -> str:
    """Start (once) a throw-away cluster; return its URL. Raises RuntimeError with why not."""
    if "url" in _cluster:
        return str(_cluster["url"])
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("no initdb/pg_ctl (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="shift-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        try:
            import pwd
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError("running as root and there is no `postgres` user for initdb") from None
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = free_port()
    run = subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                                       "-E", "UTF8", "--no-sync"]),
                         capture_output=True, text=True)
    if run.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {run.stderr.strip()[-300:]}")
    opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    run = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", opts, "-l",
                                       str(base / "log"), "-w", "-t", "60", "start"]),
                         capture_output=True, text=True)
    if run.returncode != 0:
        log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {run.stderr.strip()[-300:]} {log[-300:]}")

    def stop() -> None:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    _cluster["url"] = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    return str(_cluster["url"])


def base_url() -> str:
    """SHIFT_TEST_POSTGRES_URL or a throw-away cluster (RuntimeError when impossible)."""
    return os.environ.get("SHIFT_TEST_POSTGRES_URL") or start_cluster()


_schemas: list[tuple[str, str]] = []


def _drop_schemas() -> None:
    """At exit: drop the schemas this process made (matters on a long-lived server)."""
    import psycopg
    for base, schema in _schemas:
        try:
            with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
                conn.execute("SET lock_timeout = '5s'")
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except Exception:  # noqa: BLE001,S112 - best effort; a throw-away cluster is gone anyway
            continue


def fresh_database_url(base: str | None = None) -> str:
    """A URL whose search_path is a new, empty schema (its own tables), dropped at exit."""
    import psycopg
    base = base or base_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    if not _schemas:
        atexit.register(_drop_schemas)
    _schemas.append((base, schema))
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


def _fresh_or_skip() -> str:
    try:
        return fresh_database_url()
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot run here"
        if os.environ.get("SHIFT_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"postgres tests skipped: {exc}")


@pytest.fixture
def postgres_url() -> str:
    return _fresh_or_skip()


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None = the SQLite file in the data dir; else a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return _fresh_or_skip()


#: For module- or class-scoped fixtures: `@pytest.fixture(scope="module", params=BACKENDS)`
#: then `url = url_for_backend(request.param)`.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


def url_for_backend(name: str) -> str | None:
    return None if name == "sqlite" else _fresh_or_skip()
