"""Pack distribution through a real uvicorn server: upload (built or source zip), publish
to an audience, device catalogue, manifest + signature, blobs with ETag / 304 / Range."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.packs import TrustedKeys, build_pack, load_public_key, write_keypair
from app.core.packs.verify import check_signature
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    ROOT,
    Enrolled,
    admin_token,
    bearer,
    enrol_device,
    running_server,
    seed,
)

SAMPLE = ROOT / "content_packs" / "promote-sample"


@dataclass
class Env:
    url: str
    admin: dict[str, str]
    f1: Enrolled
    f2: Enrolled
    data_dir: Path
    author_pub: Path
    built: Path            # promote-sample v1 signed by the (trusted) author key
    untrusted: Path        # promote-sample v1 signed by a key the server does not trust
    work: Path

    def upload(self, path: str, body: bytes) -> httpx.Response:
        return httpx.post(self.url + path, content=body, timeout=60,
                          headers={**self.admin, "Content-Type": "application/octet-stream"})


def _zip_dir(src: Path, top: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"{top}/{p.relative_to(src)}")
    return buf.getvalue()


def _writestr(zf: zipfile.ZipFile, name: str, data: bytes | str) -> None:
    info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16     # a regular file, as zip tools write
    info.compress_type = zf.compression
    zf.writestr(info, data)


def _source_with_version(work: Path, version: int) -> Path:
    dst = work / f"src-v{version}"
    shutil.copytree(SAMPLE, dst)
    toml = dst / "pack.toml"
    text = toml.read_text()
    assert "version = 1" in text
    toml.write_text(text.replace("version = 1", f"version = {version}", 1))
    return dst


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    db = url_for_backend(request.param)
    work = tmp_path_factory.mktemp("packs")
    key, pub = write_keypair(work / "author.key")
    other_key, _ = write_keypair(work / "other.key")
    from app.core.packs import load_private_key
    built = build_pack(SAMPLE, load_private_key(key), work / "out")
    untrusted = build_pack(SAMPLE, load_private_key(other_key), work / "out-untrusted")
    data = work / "srv"
    with running_server(data, db, env={"SHIFT_TRUSTED_KEYS": str(pub)}) as url:
        seed(data, db, facilities={"f1": "One", "f2": "Two"})
        tok = admin_token(url)
        yield Env(url, bearer(tok), enrol_device(url, tok, "f1"), enrol_device(url, tok, "f2"),
                  data, pub, built, untrusted, work)


def test_upload_publish_download(env: Env) -> None:
    # hostile uploads first: nothing may be stored
    assert env.upload("/api/v1/admin/packs/upload", b"").status_code == 422
    r = env.upload("/api/v1/admin/packs/upload", b"PK\x03\x04 not really a zip")
    assert r.status_code == 422 and "upload" in r.json()["detail"]
    assert str(env.data_dir) not in r.json()["detail"]
    r = env.upload("/api/v1/admin/packs/upload", env.untrusted.read_bytes())
    assert r.status_code == 422 and "unknown key" in r.json()["detail"]
    no_admin = httpx.post(env.url + "/api/v1/admin/packs/upload", content=env.built.read_bytes(),
                          headers=env.f1.headers)
    assert no_admin.status_code == 401

    r = env.upload("/api/v1/admin/packs/upload", env.built.read_bytes())
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["version"]) == ("promote-sample", 1)
    assert env.upload("/api/v1/admin/packs/upload", env.built.read_bytes()).status_code == 409

    # unpublished: invisible to devices, its blobs too (though they are on the server)
    assert httpx.get(env.url + "/api/v1/packs", headers=env.f1.headers).json() == {"packs": [], "withdrawn": []}
    with zipfile.ZipFile(env.built) as zf:
        shas = [f["sha256"] for f in json.loads(zf.read("manifest.json"))["files"]]
    assert shas and all(
        httpx.get(f"{env.url}/api/v1/blobs/{sha}", headers=env.f1.headers).status_code == 404
        for sha in shas)
    r = httpx.post(env.url + "/api/v1/admin/packs/promote-sample/publish", headers=env.admin,
                   json={"version": 1, "facilities": ["f1"], "roles": ["prison_officer"]})
    assert r.status_code == 201, r.text
    bad = httpx.post(env.url + "/api/v1/admin/packs/promote-sample/publish", headers=env.admin,
                     json={"version": 1, "roles": ["jailer"]})
    assert bad.status_code == 400
    missing = httpx.post(env.url + "/api/v1/admin/packs/promote-sample/publish", headers=env.admin,
                         json={"version": 9})
    assert missing.status_code == 404

    cat = httpx.get(env.url + "/api/v1/packs", headers=env.f1.headers).json()["packs"]
    assert [(p["id"], p["version"], p["roles"]) for p in cat] == [("promote-sample", 1, ["prison_officer"])]
    assert httpx.get(env.url + "/api/v1/packs?role=psychologist", headers=env.f1.headers).json()["packs"] == []
    assert httpx.get(env.url + "/api/v1/packs", headers=env.f2.headers).json()["packs"] == []
    entry = cat[0]
    m = httpx.get(env.url + entry["manifest_url"], headers=env.f1.headers)
    s = httpx.get(env.url + entry["signature_url"], headers=env.f1.headers)
    assert m.status_code == 200 and s.status_code == 200
    with zipfile.ZipFile(env.built) as zf:
        assert m.content == zf.read("manifest.json") and s.content == zf.read("manifest.sig")
    check_signature(m.content, s.content, TrustedKeys([load_public_key(env.author_pub)]))
    assert httpx.get(env.url + entry["manifest_url"], headers={**env.f1.headers,
                     "If-None-Match": m.headers["etag"]}).status_code == 304
    # another facility's device cannot read it
    assert httpx.get(env.url + entry["manifest_url"], headers=env.f2.headers).status_code == 404

    manifest = json.loads(m.content)
    for f in manifest["files"]:
        url = f"{env.url}/api/v1/blobs/{f['sha256']}"
        full = httpx.get(url, headers=env.f1.headers)
        assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == f["sha256"]
        assert full.headers["etag"] == f'"{f["sha256"]}"' and "content-encoding" not in full.headers
        assert httpx.get(url, headers={**env.f1.headers, "If-None-Match": full.headers["etag"]}
                         ).status_code == 304
        if f["size"] > 20:                      # resume: first 10 bytes, then the rest
            head = httpx.get(url, headers={**env.f1.headers, "Range": "bytes=0-9"})
            assert head.status_code == 206 and head.content == full.content[:10]
            assert head.headers["content-range"] == f"bytes 0-9/{f['size']}"
            rest = httpx.get(url, headers={**env.f1.headers, "Range": "bytes=10-"})
            assert rest.status_code == 206 and head.content + rest.content == full.content
            bad_range = httpx.get(url, headers={**env.f1.headers, "Range": f"bytes={f['size'] + 5}-"})
            assert bad_range.status_code == 416

    # published to f1 only: a device of f2 gets no blob of it, not even a range or a 304
    for f in manifest["files"]:
        url = f"{env.url}/api/v1/blobs/{f['sha256']}"
        for extra in ({}, {"Range": "bytes=0-0"}, {"If-None-Match": f'"{f["sha256"]}"'}):
            assert httpx.get(url, headers={**env.f2.headers, **extra}).status_code == 404

    # the device reports what it installed; the admin sees it
    httpx.post(env.url + "/api/v1/sync/pull", headers=env.f1.headers,
               json={"installed_packs": {"promote-sample": 1}})
    inst = httpx.get(env.url + "/api/v1/admin/installed", headers=env.admin).json()
    assert [(i["device_id"], i["version"]) for i in inst] == [(env.f1.device_id, 1)]


def test_source_zip_is_built_and_signed_by_the_server(env: Env) -> None:
    src = _source_with_version(env.work, 2)
    r = env.upload("/api/v1/admin/packs/upload/source", _zip_dir(src, "promote-sample"))
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    # a rollback (older version) is refused
    old = _source_with_version(env.work, 1) if not (env.work / "src-v1").exists() else env.work / "src-v1"
    assert env.upload("/api/v1/admin/packs/upload/source", _zip_dir(old, "x")).status_code == 409
    r = httpx.post(env.url + "/api/v1/admin/packs/promote-sample/publish", headers=env.admin,
                   json={"version": 2})
    assert r.status_code == 201
    for dev in (env.f1, env.f2):                 # published to everyone: both see v2
        cat = httpx.get(env.url + "/api/v1/packs", headers=dev.headers).json()["packs"]
        assert [(p["id"], p["version"]) for p in cat] == [("promote-sample", 2)]
    m = httpx.get(env.url + "/api/v1/packs/promote-sample/2/manifest", headers=env.f2.headers)
    for f in json.loads(m.content)["files"]:     # and now f2 may fetch its blobs
        blob = httpx.get(f"{env.url}/api/v1/blobs/{f['sha256']}", headers=env.f2.headers)
        assert blob.status_code == 200 and hashlib.sha256(blob.content).hexdigest() == f["sha256"]
    s = httpx.get(env.url + "/api/v1/packs/promote-sample/2/signature", headers=env.f2.headers)
    server_pub = load_public_key(env.data_dir / "keys" / "server.key.pub")
    check_signature(m.content, s.content, TrustedKeys([server_pub]))


def test_hostile_source_zips(env: Env) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _writestr(zf, "../../escape.txt", "x")
    r = env.upload("/api/v1/admin/packs/upload/source", buf.getvalue())
    assert r.status_code == 422
    assert not (env.data_dir.parent / "escape.txt").exists()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _writestr(zf, "readme.txt", "no pack here")
    r = env.upload("/api/v1/admin/packs/upload/source", buf.getvalue())
    assert r.status_code == 422 and "pack.toml" in r.json()["detail"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        _writestr(zf, "p/pack.toml", b"\0" * 50_000_000)
    r = env.upload("/api/v1/admin/packs/upload/source", bomb.getvalue())
    assert r.status_code == 422
    assert not list((env.data_dir / "tmp").glob("source-*"))   # temp folders cleaned up
