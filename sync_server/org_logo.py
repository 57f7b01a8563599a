"""The issuing organisation's logo (``SHIFT_ORG_LOGO``): printed on certificate PDFs,
shown on the public verify page and in the issuer Profile (``GET /issuer/logo``).

The file is read once at start and checked like any input that crosses a boundary: at
most `MAX_BYTES`, a PNG or JPEG by its magic bytes (not its name), decodable by Pillow,
at most `MAX_SIDE` pixels a side (a decompression bomb is refused before it is
decoded). A bad file stops the server with a message naming the variable and what is
wrong, rather than printing broken certificates later.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from sync_server.errors import ConfigError

VARIABLE = "SHIFT_ORG_LOGO"
MAX_BYTES = 512 * 1024
MAX_SIDE = 4000
MEDIA_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"), b"\xff\xd8\xff": ("image/jpeg", "JPEG")}


@dataclass(frozen=True)
class Logo:
    data: bytes
    media_type: str          # image/png or image/jpeg
    width: int
    height: int

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.data).hexdigest()[:32] + '"'


def load_logo(path: str | os.PathLike[str]) -> Logo:
    """The logo at `path` (ConfigError naming SHIFT_ORG_LOGO when it is unusable)."""
    where = f"{VARIABLE}={path}"
    file = Path(path)
    try:
        size = file.stat().st_size
        if not file.is_file():
            raise ConfigError(f"{where}: not a file")
        if size > MAX_BYTES:
            raise ConfigError(f"{where}: {size} bytes; a logo may have at most {MAX_BYTES} "
                              "bytes (export it smaller, e.g. 600 px wide)")
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror}") from None
    kind = next((v for magic, v in MEDIA_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise ConfigError(f"{where}: not a PNG or JPEG image")
    media_type, pil_format = kind
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as probe:
            width, height = probe.size            # read from the header, nothing decoded
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise ConfigError(f"{where}: {width}×{height} pixels; at most {MAX_SIDE} "
                                  "a side")
            probe.load()                          # decodes: a truncated file fails here
    except ConfigError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{where}: the image cannot be read ({exc})") from None
    return Logo(data, media_type, width, height)


def logo_from_env() -> Logo | None:
    """``SHIFT_ORG_LOGO`` loaded, or None when it is unset."""
    path = os.environ.get(VARIABLE, "").strip()
    return load_logo(path) if path else None
