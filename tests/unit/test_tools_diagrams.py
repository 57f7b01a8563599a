"""tools/diagrams.py: the course diagrams are small, valid PNGs and reproducible from code."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PIL", reason="pillow is in the dev extras (pip install -e '.[dev]')")
from PIL import Image, ImageDraw  # noqa: E402

from tools import diagrams  # noqa: E402


def test_every_diagram_is_a_small_png_of_the_expected_size(tmp_path: Path) -> None:
    assert diagrams.main(["--out", str(tmp_path)]) == 0
    for name, (course, _) in diagrams.DIAGRAMS.items():
        path = tmp_path / course / "media" / name
        assert 0 < path.stat().st_size <= diagrams.MAX_BYTES
        with Image.open(path) as img:
            assert img.format == "PNG"
            assert img.size == (diagrams.WIDTH, diagrams.HEIGHT)


def test_the_committed_pngs_are_what_the_script_draws(tmp_path: Path) -> None:
    """Compared pixel by pixel (zlib settings may change bytes, not pixels)."""
    if not any(p.is_file() for p in diagrams._FONT_CANDIDATES[False]):
        pytest.skip("DejaVu Sans not installed: the fallback font draws different pixels")
    assert diagrams.main(["--out", str(tmp_path)]) == 0
    for name, (course, _) in diagrams.DIAGRAMS.items():
        committed = diagrams.DEFAULT_OUT / course / "media" / name
        with Image.open(committed) as a, Image.open(tmp_path / course / "media" / name) as b:
            assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes(), name


def test_wrap_keeps_an_overlong_word_and_handles_empty_text() -> None:
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    fnt = diagrams.font(18)
    assert diagrams.wrap(draw, "", fnt, 100) == []
    assert diagrams.wrap(draw, "x" * 200, fnt, 50) == ["x" * 200]
    lines = diagrams.wrap(draw, "calm voice space name the feeling offer choices", fnt, 120)
    assert len(lines) > 1 and " ".join(lines) == "calm voice space name the feeling offer choices"


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the courses folder should be")
    assert diagrams.main(["--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "not-a-folder" in err
    assert blocker.read_text() == "a file where the courses folder should be"
