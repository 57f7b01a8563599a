"""Architecture boundaries of ARCHITECTURE.md, checked on the source text."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"^\s*(?:import|from)\s+([a-zA-Z_][\w.]*)", re.M)


def _imports(folder: Path) -> dict[Path, set[str]]:
    return {p: {m.split(".")[0] for m in IMPORT.findall(p.read_text(encoding="utf-8"))}
            for p in folder.rglob("*.py")}


def _full_imports(folder: Path) -> dict[Path, set[str]]:
    return {p: set(IMPORT.findall(p.read_text(encoding="utf-8"))) for p in folder.rglob("*.py")}


def test_core_imports_no_ui_web_or_http_framework() -> None:
    for path, mods in _imports(ROOT / "app" / "core").items():
        bad = mods & {"flet", "fastapi", "httpx", "starlette", "uvicorn", "sync_server"}
        assert not bad, f"{path} imports {bad}"


def test_server_never_imports_flet_or_the_ui() -> None:
    for path, mods in _full_imports(ROOT / "sync_server").items():
        assert not any(m == "flet" or m.startswith(("flet.", "app.ui", "app.sync")) for m in mods), path


def test_only_main_imports_the_ui() -> None:
    for path, mods in _full_imports(ROOT / "app").items():
        if "ui" in path.relative_to(ROOT / "app").parts or path.name == "__main__.py":
            continue
        assert not any(m.startswith("app.ui") for m in mods), f"{path} imports app.ui"
