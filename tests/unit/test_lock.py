"""The dependency lock: uv.lock pins every package by hash, and `make` refuses to install
when pyproject.toml and uv.lock disagree (docs/deployment.md, "Reproducible installs")."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".uv" / "bin" / "uv"


def test_every_locked_package_has_one_version_and_hashes() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    packages = [p for p in lock["package"] if p["name"] != "shift-learning"]
    assert len(packages) > 30
    for pkg in packages:
        files = [*pkg.get("wheels", []), *([pkg["sdist"]] if "sdist" in pkg else [])]
        assert files, pkg["name"]
        assert all(f["hash"].startswith("sha256:") for f in files), pkg["name"]
    names = [p["name"] for p in packages]
    assert len(names) == len(set(names)), "one version per package"


def test_the_uv_bootstrap_is_pinned_by_hash() -> None:
    text = (ROOT / "tools" / "uv-requirements.txt").read_text(encoding="utf-8")
    assert "uv==" in text and text.count("--hash=sha256:") >= 3


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make` (.uv/bin/uv)")
def test_make_refuses_a_lock_that_disagrees_with_pyproject(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "uv-requirements.txt", tmp_path / "tools")
    shutil.copytree(ROOT / ".uv", tmp_path / ".uv", symlinks=True)
    (tmp_path / ".uv" / "bin" / "uv").touch()  # newer than the requirements: no reinstall

    ok = subprocess.run(["make", "-s", "check-lock"], cwd=tmp_path, capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        '"segno>=1.6,<2",', '"segno>=1.6,<2",\n    "left-pad-nonexistent>=1",'),
        encoding="utf-8")
    bad = subprocess.run(["make", "-s", "check-lock"], cwd=tmp_path, capture_output=True,
                         text=True, check=False)
    assert bad.returncode != 0
    assert "pyproject.toml and uv.lock disagree" in bad.stdout
    assert "make lock" in bad.stdout
