"""The police summary as a PDF (fpdf2): plain A4, one column, every character kept.

Fonts and text cleaning: :mod:`service.web.pdf_base`.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.web.pdf_base import SwedishPdf


@dataclass(frozen=True)
class PdfDocument:
    title: str
    subtitle: str
    request_heading: str
    request_paragraphs: list[str]
    sections: list[tuple[str, list[tuple[str, str]]]]  # heading, (label, text) rows
    footer: str
    page_label: str  # with "{page}" and "{pages}" to fill in


class _Pdf(SwedishPdf):
    footer_grey = (80, 90, 95)
    keep_tabs = True


def render_pdf(document: PdfDocument) -> bytes:
    pdf = _Pdf(document.footer, document.page_label)
    pdf.set_title(pdf.clean(document.title))
    pdf.set_lang("sv")
    pdf.set_creator("Trygg i uppdraget")
    pdf.set_auto_page_break(True, margin=22)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    pdf.write_text(document.title, 18, bold=True, gap=1)
    pdf.write_text(document.subtitle, 10, gap=5)

    # The request comes first, in a framed box: the police must see it before anything else.
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.6)
    top = pdf.get_y()
    pdf.set_x(pdf.l_margin + 3)
    pdf.set_left_margin(pdf.l_margin + 3)
    pdf.ln(2)
    pdf.write_text(document.request_heading, 12, bold=True, gap=1)
    for paragraph in document.request_paragraphs:
        pdf.write_text(paragraph, 10, gap=1.5)
    pdf.set_left_margin(pdf.l_margin - 3)
    bottom = pdf.get_y() + 1
    if pdf.page_no() == 1 and bottom > top:
        pdf.rect(pdf.l_margin, top, pdf.w - pdf.l_margin - pdf.r_margin, bottom - top)
    pdf.set_y(bottom + 5)

    for heading, rows in document.sections:
        if pdf.get_y() > pdf.h - 50:
            pdf.add_page()  # a heading never sits alone at the foot of a page
        pdf.write_text(heading, 13, bold=True, gap=1)
        for label, text in rows:
            pdf.write_text(label, 9, bold=True)
            pdf.write_text(text, 10.5, gap=2)
        pdf.ln(3)
    return bytes(pdf.output())
