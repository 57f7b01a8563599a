"""Draw the sample pack's one image (content_packs/promote-sample/…/boundary-zones.png).

A 320×96 PNG of three coloured zones — professional (green), warning signs (amber),
boundary crossed (red) — written with zlib only, so it needs no imaging library and the
output is byte-for-byte reproducible. Run: python -m tools.make_sample_image
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = (Path(__file__).resolve().parent.parent / "content_packs" / "promote-sample" / "courses"
       / "boundaries" / "media" / "boundary-zones.png")
WIDTH, HEIGHT = 320, 96
ZONES = [(46, 125, 50), (249, 168, 37), (198, 40, 40)]   # green, amber, red


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _pixel(x: int, y: int) -> tuple[int, int, int]:
    zone = min(x * len(ZONES) // WIDTH, len(ZONES) - 1)
    edge = x % (WIDTH // len(ZONES))
    if edge < 2 and zone > 0 or y < 2 or y >= HEIGHT - 2:
        return (255, 255, 255)                      # white separators and frame
    r, g, b = ZONES[zone]
    shade = 0.85 + 0.15 * (y / HEIGHT)             # a soft vertical gradient
    return (int(r * shade), int(g * shade), int(b * shade))


def png_bytes() -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(_pixel(x, y)) for x in range(WIDTH))
                    for y in range(HEIGHT))
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b""))


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(png_bytes())
    print(OUT)


if __name__ == "__main__":
    main()
