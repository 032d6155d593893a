"""A report as a PDF table (fpdf2): A4 landscape, every character kept, late items in words.

The font handling is the police summary's (service/web/police_pdf.py): an
embedded DejaVu or Liberation font when installed, else the core font with
Windows-1252, which still covers Swedish. An overdue cell says so in words
and in bold, never by colour alone (the PDF is often printed in black).
"""

from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from service.web.police_pdf import CORE_ENCODING, font_files


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


class _Pdf(FPDF):
    def __init__(self, document: TableDocument) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.document = document
        fonts = font_files()
        if fonts is not None:
            self.add_font("Body", "", str(fonts[0]))
            self.add_font("Body", "B", str(fonts[1]))
            self.body_font = "Body"
        else:
            self.core_fonts_encoding = CORE_ENCODING
            self.body_font = "Helvetica"
        self.embedded = fonts is not None

    def clean(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = "".join(ch for ch in text if ch == "\n" or ch >= " ")
        if not self.embedded:
            text = text.encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)
        return text

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(self.body_font, "", 7.5)
        label = self.document.page_label.format(page=self.page_no(), pages="{nb}")
        self.cell(0, 3.5, self.clean(self.document.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 3.5, self.clean(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def write_text(self, text: str, size: float, *, bold: bool = False, gap: float = 0) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)
        self.multi_cell(0, size * 0.45, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            self.ln(gap)


def render_table_pdf(document: TableDocument) -> bytes:
    pdf = _Pdf(document)
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
