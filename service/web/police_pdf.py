"""The police summary as a PDF (fpdf2): plain A4, one column, every character kept.

A TrueType font (DejaVu Sans, else Liberation Sans, as Debian installs them;
the Docker image installs fonts-dejavu-core) is embedded so that å, ä, ö and
whatever else a threat was written in come out as typed. Without one, the
core Helvetica font with the Windows-1252 code page still covers Swedish, and
a character outside it prints as "?" rather than failing the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT_FILES: tuple[tuple[Path, Path], ...] = tuple(
    (Path(regular), Path(bold))
    for regular, bold in (
        (
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        ),
        (
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
        ),
        (
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
        ),
    )
)
CORE_ENCODING = "windows-1252"


@dataclass(frozen=True)
class PdfDocument:
    title: str
    subtitle: str
    request_heading: str
    request_paragraphs: list[str]
    sections: list[tuple[str, list[tuple[str, str]]]]  # heading, (label, text) rows
    footer: str
    page_label: str  # with "{page}" and "{pages}" to fill in


def font_files() -> tuple[Path, Path] | None:
    return next(((r, b) for r, b in FONT_FILES if r.is_file() and b.is_file()), None)


class _Pdf(FPDF):
    def __init__(self, document: PdfDocument) -> None:
        super().__init__(format="A4")
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
        """Text the chosen font can print: line breaks normalised, no control characters."""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = "".join(ch for ch in text if ch == "\n" or ch == "\t" or ch >= " ")
        if not self.embedded:
            text = text.encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)
        return text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.body_font, "", 8)
        self.set_text_color(80, 90, 95)
        label = self.document.page_label.format(page=self.page_no(), pages="{nb}")
        self.cell(0, 4, self.clean(self.document.footer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 4, self.clean(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def write_text(self, text: str, size: float, *, bold: bool = False, gap: float = 0) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            self.ln(gap)


def render_pdf(document: PdfDocument) -> bytes:
    pdf = _Pdf(document)
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
