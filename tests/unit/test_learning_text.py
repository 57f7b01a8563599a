"""Language choice with the fallback flagged."""

from __future__ import annotations

import pytest

from app.core.learning import Text, localize


@pytest.mark.parametrize(("value", "lang", "expected"), [
    ({"en": "Hi", "lt": "Labas"}, "lt", Text("Labas", "lt", False)),
    ({"en": "Hi", "lt": "Labas"}, "ro", Text("Hi", "en", True)),
    ({"lt": "Labas", "ro": "Salut"}, "de", Text("Labas", "lt", True)),   # no default: first
    ({"en": 5, "lt": "Labas"}, "en", Text("Labas", "lt", True)),          # non-string skipped
    ("plain", "lt", Text("plain", "lt", False)),
    (None, "lt", Text("", "lt", False)),
    ({}, "lt", Text("", "lt", True)),
    ([1, 2], "lt", Text("", "lt", True)),
])
def test_localize(value, lang: str, expected: Text) -> None:
    assert localize(value, lang, "en") == expected
