"""Console translation (placeholder until the catalogs land): ``_`` and ``ngettext``."""

from __future__ import annotations

from jinja2 import Environment


def install_gettext(env: Environment) -> None:
    env.add_extension("jinja2.ext.i18n")
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
