"""The organisation's logo (SHIFT_ORG_LOGO, issue 21 item 10): checked at start like any
input crossing a boundary (size, kind by magic bytes, decodable, pixel bounds, bombs),
printed on the certificate PDF without disturbing the QR code."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from sync_server.certificates_pdf import render_pdf
from sync_server.errors import ConfigError
from sync_server.org_logo import MAX_BYTES, load_logo, logo_from_env
from tests.unit.test_certificate_print import CID
from tests.unit.test_certificates import BASE, make_credential


def image_file(path: Path, size: tuple[int, int] = (300, 100), fmt: str = "PNG",
               mode: str = "RGB") -> Path:
    buf = io.BytesIO()
    Image.new(mode, size, (31, 78, 121) if mode == "RGB" else 0).save(buf, fmt)
    path.write_bytes(buf.getvalue())
    return path


def test_a_png_and_a_jpeg_load(tmp_path: Path) -> None:
    png = load_logo(image_file(tmp_path / "logo.png"))
    assert (png.media_type, png.width, png.height) == ("image/png", 300, 100)
    jpeg = load_logo(image_file(tmp_path / "logo.jpg", (120, 120), "JPEG"))
    assert jpeg.media_type == "image/jpeg" and jpeg.etag.startswith('"')


def test_kind_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    jpeg_named_png = image_file(tmp_path / "logo.png", fmt="JPEG")
    assert load_logo(jpeg_named_png).media_type == "image/jpeg"


@pytest.mark.parametrize(("content", "message"), [
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
     "not a PNG or JPEG"),
    (b"GIF89a" + b"\x00" * 40, "not a PNG or JPEG"),
    (b"", "not a PNG or JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "cannot be read"),         # a header only
])
def test_what_is_not_a_logo_is_refused_naming_the_variable(tmp_path: Path, content: bytes,
                                                            message: str) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as err:
        load_logo(path)
    assert "SHIFT_ORG_LOGO=" in str(err.value)


def test_truncated_too_big_too_wide_missing_and_a_folder(tmp_path: Path) -> None:
    whole = image_file(tmp_path / "whole.png", (400, 400)).read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ConfigError, match="cannot be read"):
        load_logo(tmp_path / "cut.png")
    (tmp_path / "big.png").write_bytes(whole + b"\x00" * MAX_BYTES)
    with pytest.raises(ConfigError, match="at most 524288 bytes"):
        load_logo(tmp_path / "big.png")
    with pytest.raises(ConfigError, match="at most 4000 a side"):
        load_logo(image_file(tmp_path / "wide.png", (4001, 4), mode="1"))
    with pytest.raises(ConfigError, match="cannot read it"):
        load_logo(tmp_path / "missing.png")
    with pytest.raises(ConfigError, match="not a file|cannot read"):
        load_logo(tmp_path)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    # 20000 × 20000 one-bit pixels: a few dozen KB on disk, 400 M pixels decoded
    bomb = image_file(tmp_path / "bomb.png", (20_000, 20_000), mode="1")
    assert bomb.stat().st_size <= MAX_BYTES
    with pytest.raises(ConfigError, match="SHIFT_ORG_LOGO"):
        load_logo(bomb)


def test_unset_means_no_logo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SHIFT_ORG_LOGO", raising=False)
    assert logo_from_env() is None
    monkeypatch.setenv("SHIFT_ORG_LOGO", str(image_file(tmp_path / "l.png")))
    logo = logo_from_env()
    assert logo is not None and logo.width == 300


def test_the_pdf_prints_the_logo_and_the_qr_still_reads(tmp_path: Path) -> None:
    logo = load_logo(image_file(tmp_path / "logo.png", (600, 200)))
    cred = make_credential("lt")
    plain = render_pdf(cred, public_base_url=BASE)
    with_logo = render_pdf(cred, public_base_url=BASE, logo=logo)
    assert b"/Subtype /Image" in with_logo and b"/Subtype /Image" not in plain
    if not all(shutil.which(t) for t in ("pdftoppm", "zbarimg", "pdfinfo")):
        pytest.skip("poppler-utils / zbar-tools not installed")
    path = tmp_path / "c.pdf"
    path.write_bytes(with_logo)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    subprocess.run(["pdftoppm", "-png", "-r", "120", str(path), str(tmp_path / "page")],
                   check=True)
    page = next(tmp_path.glob("page*.png"))
    qr = subprocess.run(["zbarimg", "-q", "--raw", str(page)], capture_output=True,
                        text=True).stdout.strip()
    assert qr == f"{BASE}/verify/{CID}"
