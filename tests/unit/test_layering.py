"""Architecture boundaries (ARCHITECTURE.md, docs/architecture.md), checked on the real
import graph: every module of app/ and sync_server/ parsed with ``ast``, every import
counted (top level, inside functions and under ``if TYPE_CHECKING``).

Layers, bottom to top (an arrow is "may import"):

    app.core (domain, then app.core.application)  ←  app.sync  ←  app.ui / app.commands
    app.core  ←  sync_server                         app.__main__ imports any of them

Nothing may import upwards, nothing may form an import circle, and no module finds
another of ours by name at run time (``importlib``): seams are typed and passed in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support.graphs import circles

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"^\s*(?:import|from)\s+([a-zA-Z_][\w.]*)", re.M)
TREES = ("app", "sync_server")
#: The largest module app/ may hold (sync_server: the server's own redesign step).
MAX_MODULE_LINES = 450


def _imports(folder: Path) -> dict[Path, set[str]]:
    return {p: {m.split(".")[0] for m in IMPORT.findall(p.read_text(encoding="utf-8"))}
            for p in folder.rglob("*.py")}


def _full_imports(folder: Path) -> dict[Path, set[str]]:
    return {p: set(IMPORT.findall(p.read_text(encoding="utf-8"))) for p in folder.rglob("*.py")}


# -- the import graph ------------------------------------------------------------------------
@cache
def modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of app/ and sync_server/."""
    out = {}
    for tree in TREES:
        for path in (ROOT / tree).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _ours(name: str) -> str | None:
    """The module of ours a dotted name refers to (a name imported from a module is that
    module), else None (stdlib, third party)."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imported_names(module: str, tree: ast.AST) -> Iterator[str]:
    is_package = modules()[module].name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in modules() else base


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module → the modules of ours it imports (itself excluded)."""
    out = {}
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = {_ours(name) for name in _imported_names(module, tree)}
        out[module] = frozenset(t for t in targets if t is not None and t != module)
    return out


def tree_graph(tree: str) -> dict[str, set[str]]:
    return {m: {t for t in targets if t.split(".")[0] == tree}
            for m, targets in graph().items() if m.split(".")[0] == tree}


def layer(module: str) -> str:
    """app.core.application | app.core | app.sync | app.ui | app.commands | app.__main__ |
    app | sync_server."""
    for prefix in ("app.core.application", "app.core", "app.sync", "app.ui", "app.commands",
                   "app.__main__", "sync_server"):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return module


#: layer → the layers it may import (its own included).
ALLOWED: dict[str, set[str]] = {
    "app.core": {"app.core"},
    "app.core.application": {"app.core", "app.core.application"},
    "app.sync": {"app.core", "app.core.application", "app.sync"},
    "app.ui": {"app.core", "app.core.application", "app.sync", "app.ui"},
    "app.commands": {"app.core", "app.core.application", "app.sync", "app.commands"},
    "app.__main__": {"app.core", "app.core.application", "app.sync", "app.ui",
                     "app.commands", "app"},
    "app": set(),
    "sync_server": {"app.core", "sync_server"},
}


# -- the tests --------------------------------------------------------------------------------
def test_the_graph_sees_the_imports_it_must_see() -> None:
    """The scan itself works (the tests below would pass vacuously on an empty graph)."""
    g = graph()
    assert "app.core.application.session" in g["app.core.application"]
    assert "app.core.errors" in g["app.core.application.session"]
    assert "app.ui.routes" in g["app.ui.views.lesson"]                # from-import of a module
    assert "app.core.application" in g["app.ui.shell"]               # a name from a package
    assert "app.sync.device_syncer" in g["app.sync"]
    assert "app.core.packs" in g["sync_server.api.deps"]
    assert len(g) > 150


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


def test_core_imports_nothing_above_it() -> None:
    """app.core never imports app.sync, app.ui, app.commands or the server, in any form
    (the sync client reaches the application layer as a Syncer passed in)."""
    bad = {(m, t) for m, targets in graph().items() if layer(m).startswith("app.core")
           for t in targets if not layer(t).startswith("app.core")}
    assert not bad


def test_the_domain_does_not_import_the_application_layer() -> None:
    """Inside app.core the application layer sits on top of the domain, never below it."""
    bad = {(m, t) for m, targets in graph().items() if layer(m) == "app.core"
           for t in targets if layer(t) == "app.core.application"}
    assert not bad


@pytest.mark.parametrize("tree", TREES)
def test_no_upward_imports(tree: str) -> None:
    bad = sorted((m, t) for m, targets in graph().items() if m.split(".")[0] == tree
                 for t in targets if layer(t) not in ALLOWED[layer(m)])
    assert not bad


@pytest.mark.parametrize("tree", TREES)
def test_no_import_circles(tree: str) -> None:
    assert circles(tree_graph(tree)) == []


def test_circles_are_found() -> None:
    """The circle finder itself: the 9-module router ↔ views circle the UI had before
    this check, a self-contained pair, and a chain with no circle."""
    views = {f"views.{v}": {"router"} for v in "abcdefgh"}
    assert circles({"router": set(views), **views}) == [sorted(["router", *views])]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_views_import_neither_each_other_nor_the_screen_table() -> None:
    """Shared pieces live in app/ui/widgets.py, paths in app/ui/routes.py; only
    app/ui/screens.py knows every view."""
    for module, targets in graph().items():
        if module.startswith("app.ui.views."):
            bad = {t for t in targets if t.startswith("app.ui.views.") or t == "app.ui.screens"}
            assert not bad, f"{module} imports {bad}"


def _dynamic_imports(path: Path) -> list[str]:
    """Calls that load a module by name: importlib.import_module, __import__,
    importlib.util's spec loaders, pkgutil's module walks (importlib.resources and
    importlib.metadata read data, not code, and stay allowed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("importlib", "importlib.util",
                                                                 "pkgutil"):
            found.append(f"line {node.lineno}: from {node.module} import …")
        if isinstance(node, ast.Import) and any(a.name in ("importlib", "importlib.util",
                                                            "pkgutil") for a in node.names):
            found.append(f"line {node.lineno}: import {node.names[0].name}")
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__", "find_spec", "iter_modules",
                        "spec_from_file_location", "module_from_spec"):
                found.append(f"line {node.lineno}: {name}()")
    return found


@pytest.mark.parametrize("tree", ["app", "sync_server"])
def test_no_module_is_found_by_name(tree: str) -> None:
    """No importlib (or __import__, pkgutil) look-up of our modules: an extension point
    is a typed seam passed in at the composition root (app/ui/main.py open_device)."""
    found = {str(p.relative_to(ROOT)): hits for p in (ROOT / tree).rglob("*.py")
             if (hits := _dynamic_imports(p))}
    assert found == {}


def test_no_module_of_the_app_is_larger_than_the_limit() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / "app").rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n >= MAX_MODULE_LINES} == {}


ROUTE_TEXT = re.compile(r"^/(home|settings|assess|progress|review|profiles|pin|course|lesson|"
                        r"quiz|results|gap)(/|$)")


def test_only_the_route_module_spells_a_route() -> None:
    """Views build paths with app/ui/routes.py's builders; the application layer answers
    with places (CardPlace, CoursePlace), never with paths. (xAPI IRIs such as
    ``…/course/x`` in app/core/learning are not app routes.)"""
    found = []
    for path in [*(ROOT / "app" / "ui").rglob("*.py"),
                 *(ROOT / "app" / "core" / "application").rglob("*.py")]:
        if path == ROOT / "app" / "ui" / "routes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            parts = node.values if isinstance(node, ast.JoinedStr) else [node]
            first = parts[0] if parts else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                    and ROUTE_TEXT.match(first.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {first.value!r}")
    assert found == []
