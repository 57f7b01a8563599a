"""The pack documentation keeps up with the code: docs/authoring.md explains every error
message the builder and the device can print, and README.md's command-line forms are the
ones the parsers accept."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from app.__main__ import build_parser as app_parser
from sync_server.cli import build_parser as server_parser

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "app" / "core" / "packs"
AUTHORING = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
#: modules whose messages reach an author or an admin (CLI, build, verify, install)
EXPLAINED = ["source.py", "fields.py", "lessons.py", "tomldoc.py", "builder.py", "verify.py",
             "lesson_check.py", "install.py", "keys.py", "media.py", "markup/policy.py"]
RAISERS = {"PackSourceError", "PackVerifyError", "PackInstallError", "PackError", "err",
           "fail", "_fail"}
#: calls whose *second* argument is the message: Fields.error(key, message),
#: Rules.note(line, message), Finding(line, message)
SECOND_ARG = {"error", "note", "Finding"}


def _pieces(node: ast.expr, constants: dict[str, ast.expr]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return _pieces(node.left, constants) + _pieces(node.right, constants)
    if isinstance(node, ast.Name) and node.id in constants:     # a module-level message
        return _pieces(constants[node.id], constants)
    return []


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    return {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def _message_functions(tree: ast.Module) -> dict[str, ast.expr]:
    """Module functions that only return a message (``def bad_scheme(href): return f"…"``)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and len(node.body) == 1 \
                and isinstance(node.body[0], ast.Return) and node.body[0].value is not None:
            out[node.name] = node.body[0].value
    return out


def messages(module: Path) -> list[tuple[int, str]]:
    """(line, the longest literal part) of every error message raised in ``module``."""
    out = []
    tree = ast.parse(module.read_text(encoding="utf-8"))
    constants = _constants(tree)
    functions = _message_functions(tree)
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or not call.args:
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in RAISERS:
            arg = call.args[0]
        elif name in SECOND_ARG and len(call.args) >= 2:
            arg = call.args[1]
        else:
            continue
        if isinstance(arg, ast.Call) and getattr(arg.func, "id", "") in functions:
            arg = functions[arg.func.id]       # note(line, bad_scheme(href))
        parts = [p.strip(" :;,.'\"()…/") for p in _pieces(arg, constants)]
        parts = [p for p in parts if len(p) >= 6]
        if parts:
            out.append((call.lineno, max(parts, key=len)))
    return out


@pytest.mark.parametrize("module", EXPLAINED)
def test_authoring_guide_explains_every_error_message(module: str) -> None:
    found = messages(PACKS / module)
    assert found, f"no messages found in {module}: the extraction is broken"
    missing = [f"{module}:{line}: {text!r}" for line, text in found if text not in AUTHORING]
    assert missing == [], "docs/authoring.md §6 lacks:\n" + "\n".join(missing)


def test_manifest_schema_errors_are_explained_by_their_prefix() -> None:
    text = (PACKS / "manifest.py").read_text(encoding="utf-8")
    assert 'f"manifest field {path}: {msg}"' in text
    assert "manifest field <path>: …" in AUTHORING


def test_the_extraction_finds_messages_of_every_form(tmp_path: Path) -> None:
    """The guard above is only as good as the extraction: f-strings, concatenations and
    Fields.error(key, message) must all be found (and a short part is not a message)."""
    module = tmp_path / "m.py"
    module.write_text(
        'raise PackSourceError(f"lesson {x!r} has no {lang} file: expected {p}", path=p)\n'
        'raise f.error("draw", f"draws {n} questions but the bank has {m}")\n'
        'raise PackVerifyError("unsafe entry " + "name: symbolic link")\n'
        'raise self.err(f"{x}: ok", 3)\n'
        'RULE = "images are shown only in lessons"\n'
        'def bad(x):\n    return f"link {x} uses an unsupported scheme"\n'
        'self.note(line, RULE)\n'
        'Finding(3, bad(href), unsafe=False)\n', encoding="utf-8")
    assert messages(module) == [(1, "file: expected"), (2, "questions but the bank has"),
                                (3, "name: symbolic link"),
                                (8, "images are shown only in lessons"),
                                (9, "uses an unsupported scheme")]


README_FORMS = {
    "keygen": ("sync_server", "python -m sync_server keygen KEYFILE"),
    "build": ("sync_server", "python -m sync_server pack build SRC_DIR --key KEYFILE --out DIR"),
    "verify": ("sync_server", "python -m sync_server pack verify PACKFILE --trust PUBFILE"),
    "install": ("app", "python -m app install PACKFILE --data-dir DIR --trust PUBFILE"),
}


@pytest.mark.parametrize("form", sorted(README_FORMS))
def test_readme_documents_the_exact_cli_forms_and_the_parsers_accept_them(form: str) -> None:
    program, line = README_FORMS[form]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(line)}\s", readme, re.M), f"README lacks: {line}"
    argv = shlex.split(line)[3:]
    parser = server_parser() if program == "sync_server" else app_parser()
    args = parser.parse_args(argv)
    assert callable(args.func)
    if form == "install":
        assert (args.packfile, args.data_dir, args.trust) == ("PACKFILE", "DIR", ["PUBFILE"])
    if form == "build":
        assert (args.src_dir, args.key, args.out) == ("SRC_DIR", "KEYFILE", "DIR")
