"""Files shipped inside the ``app`` package: bundled fonts, the web page, gettext catalogs.

Everything the programs need at run time lives in the package (``app/assets/``,
``app/locales/``) and is found through :mod:`importlib.resources`, never through the
repository checkout, so the same code works from a checkout, an installed wheel
(``shift-app``, ``shift-server``) and a ``flet build`` bundle.

Flet, Starlette's static files and fpdf2 need real paths, not readers: a package on
disk (a checkout, a wheel installed by pip/uv, the extracted app of a ``flet build``)
gives them; a package imported from a zip archive is refused with a clear error instead
of failing later with a confusing one.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from app.core.errors import ShiftError

PACKAGE = "app"


class ResourceError(ShiftError):
    """A file that ships with the app package is missing or not on disk."""


def package_path(*parts: str) -> Path:
    """The real path of ``app/<parts…>`` (a file or a folder shipped in the package)."""
    resource = files(PACKAGE).joinpath(*parts)
    if not isinstance(resource, Path):
        raise ResourceError(f"the app package is not on disk ({type(resource).__name__}): "
                            f"{'/'.join(parts)} cannot be served; install it unzipped")
    return resource


def assets_dir() -> Path:
    """``app/assets``: the bundled fonts and our ``index.html`` with the offline guard."""
    folder = package_path("assets")
    if not (folder / "index.html").is_file():
        raise ResourceError(f"{folder} has no index.html: the app package is incomplete "
                            "(a wheel built without its package data?)")
    return folder


def fonts_dir() -> Path:
    """``app/assets/fonts``: DejaVu Sans regular and bold with their licence."""
    return package_path("assets", "fonts")


def locales_dir() -> Path:
    """``app/locales``: ``<lang>/LC_MESSAGES/messages.po`` and ``.mo`` per UI language."""
    return package_path("locales")
