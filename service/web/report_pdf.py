"""A report as a PDF table (fpdf2): A4 landscape, every character kept, late items in words.

The font handling is the shared one of :mod:`service.web.pdf_base`. An overdue cell says so in words
and in bold, never by colour alone (the PDF is often printed in black).
"""

from __future__ import annotations

from dataclasses import dataclass

from fpdf.fonts import FontFace

from service.web.pdf_base import SwedishPdf


@dataclass(frozen=True)
class PdfCell:
    text: str
    emphasis: bool = False


@dataclass(frozen=True)
class TableDocument:
    title: str
    subtitle: str
    headings: list[str]
    rows: list[list[PdfCell]]
    col_widths: list[float]  # relative widths, one per heading
    notes_heading: str
    notes: list[str]
    footer: str
    page_label: str  # with "{page}" and "{pages}" to fill in


class _Pdf(SwedishPdf):
    footer_y = -13.0
    footer_size = 7.5
    footer_line = 3.5
    line_factor = 0.45


def render_table_pdf(document: TableDocument) -> bytes:
    pdf = _Pdf(document.footer, document.page_label, orientation="landscape")
    pdf.set_title(pdf.clean(document.title))
    pdf.set_lang("sv")
    pdf.set_creator("Trygg i uppdraget")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    pdf.write_text(document.title, 15, bold=True, gap=1)
    pdf.write_text(document.subtitle, 9.5, gap=4)
    pdf.set_font(pdf.body_font, "", 8)
    emphasis = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=tuple(document.col_widths),
        text_align="LEFT",
        v_align="TOP",
        line_height=3.6,
        padding=1.2,
        repeat_headings=1,
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
    ) as table:
        heading = table.row()
        for text in document.headings:
            heading.cell(pdf.clean(text))
        for cells in document.rows:
            row = table.row()
            for cell in cells:
                row.cell(pdf.clean(cell.text), style=emphasis if cell.emphasis else None)
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.write_text(document.notes_heading, 10, bold=True, gap=1)
    for note in document.notes:
        pdf.write_text(note, 8.5, gap=1)
    return bytes(pdf.output())
