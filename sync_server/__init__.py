"""Shift Learning sync server (FastAPI): enrolment, event sync, packs, admin console."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("shift-learning")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
