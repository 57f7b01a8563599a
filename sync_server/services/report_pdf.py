"""The facility report as a PDF (fpdf2 + the bundled DejaVu fonts, as the certificate PDF:
no new dependency). Portrait A4: title, date, the filters applied, the summary figures,
the numbers table per course × facility, and — when asked for — who has not finished
each course. Everything printed is text the report already holds; nothing is fetched.

Language: the caller passes the words of the PDF as ``gettext`` (the console passes the
admin's console language, ``tr(request).gettext`` — the same language as the HTML report);
without it the PDF is English. Its labels are console strings: tools/i18n.py extracts this
module into the console catalog too. Names from data (courses, facilities, learners) are
printed as stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from app.core.roles import ROLE_LABELS_EN
from sync_server.certificates_pdf import find_font
from sync_server.services.dashboard import FacilityReport

STATUS_LABELS = {"not_started": "not started", "in_progress": "in progress",
                 "passed": "passed the quiz", "completed": "completed"}
BLUE = (31, 78, 121)
#: ``gettext(message, **values)``: the console's ``Tr.gettext`` (sync_server/admin/i18n.py)
Words = Callable[..., str]


def english(message: str, **values: object) -> str:
    """The source words (no catalog): what a PDF says when no language is given."""
    return message % values if values else message


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _when(at: str) -> str:
    """`2026-12-06T08:01:02.123Z` → `2026-12-06 08:01 UTC`."""
    return at[:10] + " " + at[11:16] + " UTC" if len(at) >= 16 else at


class _ReportPdf(FPDF):
    footer_text = ""
    gettext: Words = staticmethod(english)

    def footer(self) -> None:
        """Title, date and page number on every page."""
        self.set_y(-12)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(110, 110, 110)
        page = self.gettext("page %(page)s/%(pages)s", page=self.page_no(), pages="{nb}")
        self.cell(self.epw, 4, f"{self.footer_text} · {page}", align="C")


def _column_widths(pdf: FPDF, heads: tuple[str, ...], width: float) -> tuple[float, ...]:
    """Widths of the numbers table: each figure column as wide as the longest word of its
    heading (a Lithuanian or Romanian heading is never cut inside a word), the course and
    the facility share the rest."""
    pdf.set_font("DejaVu", "B", 7)
    figures = [max(11.0, *(pdf.get_string_width(w) + 3 for w in h.split())) for h in heads[2:]]
    pdf.set_font("DejaVu", "", 8)
    rest = max(width - sum(figures), 60.0)
    return (rest * 0.56, rest * 0.44, *figures)


def report_pdf(report: FacilityReport, gettext: Words = english, lang: str = "en") -> bytes:
    """The report as PDF bytes, in the language of `gettext` (`lang` is its code)."""
    _ = gettext
    data = report.dashboard
    label = report.facility_label if report.facility else _("all facilities")
    title = _("Training progress — %(facility)s", facility=label)
    pdf = _ReportPdf(orientation="P", unit="mm", format="A4")
    pdf.gettext = gettext
    pdf.footer_text = f"{title} · {_when(report.generated_at)}"
    pdf.set_creation_date(datetime.fromisoformat(report.generated_at.replace("Z", "+00:00")))
    pdf.set_title(title)
    pdf.set_lang(lang)
    pdf.add_font("DejaVu", "", str(find_font("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(find_font("DejaVuSans-Bold.ttf")))
    pdf.set_auto_page_break(True, margin=15)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("DejaVu", "B", 16)
    pdf.set_text_color(*BLUE)
    pdf.multi_cell(width, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(30, 30, 30)
    pdf.set_font("DejaVu", "", 10)
    role = _(ROLE_LABELS_EN.get(report.role, report.role)) if report.role else _("all roles")
    for line in (f"{_('Generated')}: {_when(report.generated_at)}",
                 f"{_('Facility')}: {label}", f"{_('Role')}: {role}",
                 _("Counted: active learners whose facility and role the course is published "
                   "to (withdrawn publications and deactivated learners are not counted).")):
        pdf.multi_cell(width, 5.5, line, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    tiles = data.tiles
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(col_widths=(1, 1, 1, 1, 1), text_align="CENTER", line_height=5.5,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(238, 242, 246))) as t:
        t.row((_("Facilities"), _("Active devices"), _("Active learners"),
               _("Learning events") + (f" ({_('all roles')})" if report.role else ""),
               _("Valid certificates")))
        t.row(tuple(str(v) for v in (tiles.facilities, tiles.devices, tiles.learners,
                                     tiles.events, tiles.certificates)))
    pdf.ln(4)

    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(width, 7, _("Progress per course"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    if not data.cells:
        pdf.multi_cell(width, 5, _("No published courses with learners for these filters."),
                       new_x="LMARGIN", new_y="NEXT")
    else:
        heads = (_("Course"), _("Facility"), _("Learners"), _("Not started"), _("In progress"),
                 _("Passed quiz"), _("Completed"), _("Completion"), _("Pass rate"))
        with pdf.table(col_widths=_column_widths(pdf, heads, width), line_height=4.5,
                       text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT",
                                   "RIGHT", "RIGHT", "RIGHT"),
                       headings_style=FontFace(emphasis="BOLD", size_pt=7,
                                               fill_color=(238, 242, 246))) as t:
            t.row(heads)
            for c in data.cells:
                t.row((c.course.title, data.facility_name(c.facility_id), str(c.population),
                       str(c.not_started), str(c.in_progress), str(c.passed_only),
                       str(c.completed), _pct(c.completion_rate), _pct(c.pass_rate)))
    for cell, page in report.unfinished:
        pdf.ln(4)
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(width, 5.5, f"{_('Not finished')}: {cell.course.title} — "
                                   f"{data.facility_name(cell.facility_id)} ({page.total})",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 8)
        if not page.rows:
            pdf.multi_cell(width, 5, _("Everyone has completed this course."),
                           new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(col_widths=(34, 16, 22, 16, 12), line_height=4.5,
                       headings_style=FontFace(emphasis="BOLD",
                                               fill_color=(238, 242, 246))) as t:
            t.row((_("Name"), _("Staff number"), _("Role"), _("Status"), _("Last activity")))
            for r in page.rows:
                t.row((r.display_name, r.staff_number, _(ROLE_LABELS_EN.get(r.role, r.role)),
                       _(STATUS_LABELS.get(r.status, r.status)),
                       (r.last_at or "")[:10] or "–"))
        if page.total > len(page.rows):
            pdf.multi_cell(width, 5, _("… and %(n)s more (see the console's drill-down).",
                                       n=page.total - len(page.rows)),
                           new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
