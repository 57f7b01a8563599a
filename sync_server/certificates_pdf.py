"""One-page PDF of a certificate, in the learner's language (fpdf2 + DejaVu + segno).

The PDF is a human-readable rendering only; the signed JSON credential is what counts.
The QR code is drawn as vector squares from segno's matrix, so no image library is
involved and it stays sharp when printed.
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import segno
from babel.dates import format_date
from fpdf import FPDF

from app.core.errors import CertificateError
from app.core.resources import fonts_dir
from sync_server.certificates import short_verify_url, text, verify_url
from sync_server.org_logo import Logo

#: the logo's box in the top left corner (mm): clear of the centred issuer name
LOGO_MAX_W, LOGO_MAX_H = 50.0, 20.0

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


def _score(credential: dict[str, Any]) -> str | None:
    """The server's score of the credential ("87.5"), if it carries one."""
    results = credential["credentialSubject"].get("result") or []
    value = results[0].get("value") if results and isinstance(results[0], dict) else None
    return str(value) if isinstance(value, str | int | float) else None


def render_pdf(credential: dict[str, Any], *, public_base_url: str,
               outcomes: tuple[str, ...] = (), logo: Logo | None = None) -> bytes:
    """The PDF bytes of a signed (or unsigned) credential made by build_credential.

    Printed: the issuer (the organisation, SHIFT_ORG_NAME, and its web address,
    SHIFT_ORG_URL), learner, course, date, the server's quiz score, the criteria, the
    ESCO skills and the course's learning `outcomes` (from the pack, in the learner's
    language: they are not in the credential), and a QR code of the verify URL with the
    short verify URL (``/v/<id>``, one line) under it. With the organisation's `logo`
    (SHIFT_ORG_LOGO), it stands in the top left corner, at most 20 mm tall and 50 mm
    wide, proportions kept."""
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

    header_w = width - 50
    if logo is not None:
        scale = min(LOGO_MAX_H / logo.height, LOGO_MAX_W / logo.width)
        pdf.image(io.BytesIO(logo.data), x=18, y=18, w=logo.width * scale,
                  h=logo.height * scale)
        header_w = width - 2 * (18 + logo.width * scale + 4)   # a long name wraps, clear of it
    issuer = credential["issuer"]
    y = centred(22, 13, issuer["name"], bold=True, colour=(31, 78, 121), w=header_w)
    if issuer.get("url"):
        y = centred(y + 0.5, 8.5, str(issuer["url"]), colour=(90, 90, 90), w=header_w)
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
    score = _score(credential)
    if score is not None:
        pdf.set_x(left)
        pdf.cell(col_w, 6, f"{text(language, 'score')}: {score} %", new_x="LMARGIN",
                 new_y="NEXT")
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
    # certificates issued before the outcomes were part of the signed criteria: the
    # pack's outcomes (21) are printed under their own title
    missing = [o for o in outcomes if o not in narrative]
    if missing and pdf.get_y() + 12 < bottom:
        pdf.set_x(left)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(col_w, 6, text(language, "outcomes"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", size)
        for done, item in enumerate(missing):
            if pdf.get_y() + line > bottom:
                pdf.set_x(left)
                pdf.multi_cell(col_w, line, f"• … (+{len(missing) - done})")
                break
            pdf.set_x(left)
            pdf.multi_cell(col_w, line, f"• {item}")

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
    short = short_verify_url(public_base_url, credential["id"])
    font = 8.0                     # one line: smaller type before a break, and a break
    while font > 5 and pdf.get_string_width(short) > size + 20:   # only after a "/"
        font -= 0.5
        pdf.set_font("DejaVu", "", font)
    pdf.set_font("DejaVu", "", font)
    pdf.set_x(qx - 20)
    pdf.multi_cell(size + 20, font * 0.45, _break_at_slashes(pdf, short, size + 20),
                   align="C")

    # footer: id
    pdf.set_font("DejaVu", "", 7)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(left, height - 24)
    pdf.cell(col_w, 4, f"{text(language, 'id')}: {credential['id']}")
    return bytes(pdf.output())


def _break_at_slashes(pdf: FPDF, url: str, width: float) -> str:
    """The URL with line breaks only after a "/" (never inside the id), where it is
    wider than `width` in the current font."""
    lines: list[str] = []
    current = ""
    for part in url.split("/"):
        piece = part if not current and not lines else "/" + part
        if current and pdf.get_string_width(current + piece) > width:
            lines.append(current + "/")
            current = part
        else:
            current += piece
    return "\n".join([*lines, current])
