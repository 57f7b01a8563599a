"""Gettext for the console templates: `_` and `ngettext` in every template.

For now both are the identity (English); the console's translation replaces this
module's content (issue 21, "console translated") — `install_gettext` stays the one
call where the Jinja environment is made (admin/console.py).
"""

from __future__ import annotations

from typing import Any


def _identity(message: str, **variables: Any) -> str:
    return message % variables if variables else message


def _ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = singular if n == 1 else plural
    return text % {"num": n, **variables}


def install_gettext(env: Any) -> None:
    """Give the templates `_("…")` and `ngettext("…", "…", n)` (Jinja's i18n names)."""
    env.globals.update(_=_identity, gettext=_identity, ngettext=_ngettext)
