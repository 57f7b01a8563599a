"""The localized strings of a TOML source file, found by shape: a table whose keys are
language codes of the pack (the default language among them) and whose values are text.

Every localized string the format has (titles, summaries, outcomes, prompts, options,
feedback, explanations, cases, task and checklist texts, profile duties, tasks, scale
labels, validation notes, skill labels, programmes) is such a table, so one walk finds
them all and a field added to the format later is found too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sync_server.authoring.translation.model import Kind

#: Fields whose text is Markdown without images or links (docs/pack-format.md "Text").
RICH_FIELDS = frozenset({"case", "explanation"})


@dataclass(frozen=True)
class TomlString:
    """One localized string: its stable id path, the index path TomlDoc knows, its table."""

    id_path: str          # ``questions[q1].options[a].text`` (ids where the source has them)
    index_path: str       # ``questions[0].options[0].text`` (TomlDoc's line index)
    keys: tuple[str | int, ...]   # where it is in the parsed data
    texts: dict[str, str]
    kind: Kind


def is_localized(value: Any, languages: list[str], default: str) -> bool:
    return (isinstance(value, dict) and default in value
            and all(k in languages and isinstance(v, str) for k, v in value.items()))


def _selector(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for name in ("id", "level"):
            if isinstance(item.get(name), (str, int)) and not isinstance(item.get(name), bool):
                return str(item[name])
    return str(index)


def localized_strings(data: dict[str, Any], languages: list[str], default: str
                      ) -> Iterator[TomlString]:
    """Every localized string of ``data`` in file order."""
    yield from _walk(data, "", "", (), languages, default)


def _walk(table: dict[str, Any], ids: str, idx: str, keys: tuple[str | int, ...],
          languages: list[str], default: str) -> Iterator[TomlString]:
    for name, value in table.items():
        id_path = f"{ids}.{name}" if ids else name
        index_path = f"{idx}.{name}" if idx else name
        here = (*keys, name)
        if is_localized(value, languages, default):
            kind = Kind.RICH if name in RICH_FIELDS else Kind.PLAIN
            yield TomlString(id_path, index_path, here, dict(value), kind)
        elif isinstance(value, dict):
            yield from _walk(value, id_path, index_path, here, languages, default)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _walk(item, f"{id_path}[{_selector(item, i)}]",
                                     f"{index_path}[{i}]", (*here, i), languages, default)


def get_at(data: Any, keys: tuple[str | int, ...]) -> Any:
    for k in keys:
        data = data[k]
    return data
