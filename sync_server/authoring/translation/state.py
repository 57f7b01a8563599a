"""The status of each string of one language: ``translations/<lang>.toml`` in the source
folder (docs/pack-format.md "Translation state"). The builder ignores the folder; it
travels with the draft, so a zipped source keeps who translated and reviewed what.

```toml
[strings."courses/boundaries/quiz.toml:questions[q1].prompt"]
status = "reviewed"          # untranslated | machine | draft | reviewed
source = "9f2c…"             # hash of the source text the status was given for
target = "41ab…"             # hash of the target text it was given for
by = "Ona Petraitė"
on = 2027-03-01
```
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from sync_server.authoring import tomlwrite
from sync_server.authoring.translation.model import Mark, Status, TranslationError

STATE_DIR = "translations"
MAX_STATE_BYTES = 8 * 1024 * 1024
_STORED = {s.value: s for s in (Status.UNTRANSLATED, Status.MACHINE, Status.DRAFT,
                                Status.REVIEWED)}
_HEADER = ("# Translation workspace: the status of each string of this language\n"
           "# (docs/pack-format.md \"Translation state\"); written by the admin console.\n")


def state_path(src: Path, lang: str) -> Path:
    return src / STATE_DIR / f"{lang}.toml"


def load_marks(src: Path, lang: str) -> dict[str, Mark]:
    path = state_path(src, lang)
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_STATE_BYTES:
        raise TranslationError(f"{STATE_DIR}/{lang}.toml: larger than {MAX_STATE_BYTES} bytes")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TranslationError(f"{STATE_DIR}/{lang}.toml: not readable TOML ({exc})") from None
    strings = data.get("strings", {})
    if not isinstance(strings, dict):
        raise TranslationError(f"{STATE_DIR}/{lang}.toml: [strings] must be a table")
    return {uid: _mark(lang, uid, v) for uid, v in strings.items()}


def _mark(lang: str, uid: str, v: Any) -> Mark:
    where = f"{STATE_DIR}/{lang}.toml [strings.{uid!r}]"
    if not isinstance(v, dict) or v.get("status") not in _STORED:
        raise TranslationError(f"{where}: status must be one of {', '.join(_STORED)}")
    sha, by, on = v.get("source", ""), v.get("by", ""), v.get("on")
    target = v.get("target", "")
    if not all(isinstance(x, str) for x in (sha, by, target)) or len(by) > 200:
        raise TranslationError(f"{where}: source, target and by must be text (by ≤ 200 "
                               "characters)")
    if on is not None and (not isinstance(on, dt.date) or isinstance(on, dt.datetime)):
        raise TranslationError(f"{where}: on must be a TOML date")
    return Mark(_STORED[v["status"]], sha, by, on, target)


def save_marks(src: Path, lang: str, marks: dict[str, Mark]) -> None:
    table: dict[str, Any] = {}
    for uid, m in marks.items():
        entry: dict[str, Any] = {"status": m.status.value, "source": m.source_sha}
        if m.target_sha:
            entry["target"] = m.target_sha
        if m.by:
            entry["by"] = m.by
        if m.on is not None:
            entry["on"] = m.on
        table[uid] = entry
    write_atomic(state_path(src, lang), _HEADER + tomlwrite.dumps({"strings": table}))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` under a temporary name, flush it and rename it over ``path``: a crash
    leaves the old file or the new one, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
