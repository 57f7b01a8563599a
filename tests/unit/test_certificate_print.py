"""What the certificate PDF prints (issue 21 item 10): the organisation as issuer (name
and web address), the server's score, the ESCO skills and the course's learning outcomes,
and a short verify URL on one line (never broken inside the id) under a QR code that
still holds the full verify URL. Text read back with poppler, the QR with zbar."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_server.certificates import id_from_short, short_id, short_verify_url
from sync_server.certificates_pdf import render_pdf
from tests.unit.test_certificates import BASE, make_credential

CID = "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11"
TOOLS = ("pdftotext", "pdfinfo", "pdftoppm", "zbarimg")


def _text(tmp_path: Path, pdf: bytes) -> str:
    if not all(shutil.which(t) for t in TOOLS):
        pytest.skip("poppler-utils / zbar-tools not installed")
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_short_id_round_trips_and_refuses_junk() -> None:
    assert id_from_short(short_id(CID)) == CID
    assert id_from_short(short_id("urn:uuid:" + CID.upper())) == CID
    for value in ("", "0OIl", "1" * 25, "z" * 24, "../x", "<script>", "1" + short_id(CID)):
        assert id_from_short(value) is None
    assert short_verify_url(BASE + "/", CID) == f"{BASE}/v/{short_id(CID)}"
    assert len(short_id(CID)) <= 22 and "-" not in short_id(CID)


@given(st.uuids())
def test_every_uuid_has_a_short_id(value: uuid.UUID) -> None:
    assert id_from_short(short_id(str(value))) == str(value)


def test_pdf_prints_issuer_score_skills_outcomes_and_a_short_link(tmp_path: Path) -> None:
    cred = make_credential("lt")
    outcomes = ("Atpažinti manipuliacijos ženklus", "Žinoti, kam pranešti")
    text = _text(tmp_path, render_pdf(cred, public_base_url=BASE, outcomes=outcomes))
    assert "Lietuvos kalėjimų tarnyba" in text and BASE in text         # the organisation
    assert "Testo rezultatas: 85 %" in text                             # the server's score
    assert "taikyti deeskalavimo metodus" in text and "Įgūdžiai (ESCO)" in text
    assert "Mokymosi rezultatai" in text and all(o in text for o in outcomes)
    short = short_verify_url(BASE, CID)
    assert any(line.strip() == short for line in text.splitlines()), text   # one line
    png_dir = tmp_path / "png"
    png_dir.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(tmp_path / "c.pdf"),
                    str(png_dir / "page")], check=True)
    qr = subprocess.run(["zbarimg", "-q", "--raw", str(next(png_dir.glob("*.png")))],
                        capture_output=True, text=True).stdout.strip()
    assert qr == f"{BASE}/verify/{CID}"                                 # the QR: unchanged


def test_long_lists_and_a_long_base_url_stay_on_one_page(tmp_path: Path) -> None:
    base = "https://learning.justice-department.example.gov.lt/prison-service/training"
    cred = make_credential("en", public_base_url=base)
    outcomes = tuple(f"Outcome number {i} with a rather long wording " * 2 for i in range(30))
    text = _text(tmp_path, render_pdf(cred, public_base_url=base, outcomes=outcomes))
    assert "• … (+" in text                                # the rest is counted, not lost
    lines = [line.strip() for line in text.splitlines()]
    short = short_id(CID)
    assert any(line.endswith(short) or line == short for line in lines)   # id never split
    assert all(short not in line or line.endswith(short) for line in lines)
