"""One-page PDF of a certificate, in the learner's language (fpdf2 + DejaVu + segno).

The PDF is a human-readable rendering only; the signed JSON credential is what counts.
The QR code is drawn as vector squares from segno's matrix, so no image library is
involved and it stays sharp when printed.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import segno
from babel.dates import format_date
from fpdf import FPDF

from app.core.errors import CertificateError
from app.core.resources import fonts_dir
from sync_server.certificates import text, verify_url

#: The fonts shipped in the app package (app/assets/fonts), then Debian's fonts-dejavu-core.
FONT_DIRS: tuple[Path, ...] = (
    fonts_dir(),
    Path("/usr/share/fonts/truetype/dejavu"),
)


def find_font(name: str = "DejaVuSans.ttf") -> Path:
    """A DejaVu TTF: $SHIFT_FONT_DIR, then app/assets/fonts, then Debian's fonts-dejavu-core."""
    dirs = [Path(os.environ["SHIFT_FONT_DIR"])] if os.environ.get("SHIFT_FONT_DIR") else []
    for folder in (*dirs, *FONT_DIRS):
        if (folder / name).is_file():
            return folder / name
    raise CertificateError(f"font {name} not found in {', '.join(map(str, FONT_DIRS))}; "
                           "install Debian's fonts-dejavu-core or set SHIFT_FONT_DIR")


def _date(value: str, language: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        return format_date(moment.date(), format="long", locale=language)
    except (ValueError, LookupError):
        return moment.date().isoformat()


def render_pdf(credential: dict[str, Any], *, public_base_url: str) -> bytes:
    """The PDF bytes of a signed (or unsigned) credential made by build_credential."""
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    language = achievement.get("inLanguage") or "en"
    name = next((i["identityHash"] for i in subject.get("identifier", [])
                 if i.get("identityType") == "name"), "")
    url = verify_url(public_base_url, credential["id"])

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_creation_date(datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00")))
    pdf.set_title(credential.get("name", ""))
    pdf.set_author(credential["issuer"]["name"])
    pdf.set_lang(language)
    pdf.add_font("DejaVu", "", str(find_font("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(find_font("DejaVuSans-Bold.ttf")))
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width, height = pdf.w, pdf.h

    # frame
    pdf.set_draw_color(31, 78, 121)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, width - 20, height - 20)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, width - 26, height - 26)

    def centred(y: float, size: float, value: str, *, bold: bool = False,
                colour: tuple[int, int, int] = (30, 30, 30), w: float = width - 50) -> float:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.set_text_color(*colour)
        pdf.set_xy((width - w) / 2, y)
        pdf.multi_cell(w, size * 0.5, value, align="C")
        return pdf.get_y()

    y = centred(24, 12, credential["issuer"]["name"], colour=(31, 78, 121))
    y = centred(y + 6, 30, text(language, "title"), bold=True, colour=(31, 78, 121))
    y = centred(y + 8, 13, text(language, "awarded_to"))
    y = centred(y + 3, 24, name, bold=True)
    y = centred(y + 4, 13, text(language, "for_course"))
    y = centred(y + 3, 19, achievement["name"], bold=True, colour=(31, 78, 121))

    # left column: date, criteria (with the learning outcomes, EQF level, workload and
    # ESCO labels of courses that have them), ESCO alignments
    left, col_w = 28.0, width - 28 - 90
    bottom = height - 27                      # above the id line
    pdf.set_xy(left, max(y + 6, 112))
    pdf.set_font("DejaVu", "B", 10)
    pdf.set_text_color(30, 30, 30)
    pdf.cell(col_w, 6, f"{text(language, 'issued_on')}: "
                       f"{_date(credential.get('awardedDate') or credential['validFrom'], language)}",
             new_x="LMARGIN", new_y="NEXT")
    narrative = achievement["criteria"]["narrative"]
    skills = [a for a in achievement.get("alignment") or [] if a.get("targetFramework") == "ESCO"]
    # long criteria (outcomes) get a smaller type so the page keeps one page
    size, line = (9, 4.6) if len(narrative) < 400 else (7.5, 3.5)
    pdf.set_font("DejaVu", "", size)
    for paragraph in narrative.split("\n"):
        if pdf.get_y() + line > bottom:
            break
        pdf.set_x(left)
        if paragraph:
            pdf.multi_cell(col_w, line, paragraph)
        else:
            pdf.ln(line / 2)
    if skills and pdf.get_y() + 12 < bottom:
        pdf.set_x(left)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(col_w, 6, text(language, "skills"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", size)
        shown = skills[:6]
        pdf.set_x(left)
        pdf.multi_cell(col_w, line, " · ".join(
            s["targetName"] + (f" ({text(language, 'occupation')})"
                               if s.get("targetType") == "ext:ESCOOccupation" else "")
            for s in shown)
                       + (f" · … (+{len(skills) - 6})" if len(skills) > 6 else ""))

    # right column: QR code of the verification URL
    qr = segno.make(url, error="m")
    size = 52.0
    modules = qr.symbol_size(scale=1, border=0)[0]
    cell = size / modules
    qx, qy = width - 28 - size, height - 30 - size - 14
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(qr.matrix):
        for col_index, dark in enumerate(row):
            if dark:
                pdf.rect(qx + col_index * cell, qy + row_index * cell, cell, cell, style="F")
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_xy(qx - 20, qy + size + 2)
    pdf.cell(size + 20, 4, text(language, "verify"), align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font("DejaVu", "", 6.5)
    pdf.multi_cell(size + 20, 3.2, url, align="C")

    # footer: id
    pdf.set_font("DejaVu", "", 7)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(left, height - 24)
    pdf.cell(col_w, 4, f"{text(language, 'id')}: {credential['id']}")
    return bytes(pdf.output())
