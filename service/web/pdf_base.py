"""What every PDF of the service shares (fpdf2): the font, text cleaning, the footer.

A TrueType font (DejaVu Sans, else Liberation Sans, as Debian installs them;
the Docker image installs fonts-dejavu-core) is embedded so that å, ä, ö and
whatever else a threat was written in come out as typed. Without one, the
core Helvetica font with the Windows-1252 code page still covers Swedish, and
a character outside it prints as "?" rather than failing the export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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


def font_files() -> tuple[Path, Path] | None:
    return next(((r, b) for r, b in FONT_FILES if r.is_file() and b.is_file()), None)


class SwedishPdf(FPDF):
    """A4 with the embedded (or core) font, a two-line footer and paragraph writing.

    Subclasses set the footer's place and size, the line height per point of
    font size, and whether tabs survive cleaning.
    """

    footer_y = -15.0
    footer_size = 8.0
    footer_line = 4.0
    footer_grey: tuple[int, int, int] | None = None
    line_factor = 0.5
    keep_tabs = False

    def __init__(
        self,
        footer: str,
        page_label: str,
        orientation: Literal["portrait", "landscape"] = "portrait",
    ) -> None:
        super().__init__(orientation=orientation, format="A4")
        self.footer_text = footer
        self.page_label = page_label  # with "{page}" and "{pages}" to fill in
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
        kept = {"\n", "\t"} if self.keep_tabs else {"\n"}
        text = "".join(ch for ch in text if ch in kept or ch >= " ")
        if not self.embedded:
            text = text.encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)
        return text

    def footer(self) -> None:
        self.set_y(self.footer_y)
        self.set_font(self.body_font, "", self.footer_size)
        if self.footer_grey is not None:
            self.set_text_color(*self.footer_grey)
        label = self.page_label.format(page=self.page_no(), pages="{nb}")
        for line in (self.footer_text, label):
            self.cell(0, self.footer_line, self.clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if self.footer_grey is not None:
            self.set_text_color(0, 0, 0)

    def write_text(self, text: str, size: float, *, bold: bool = False, gap: float = 0) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)
        self.multi_cell(
            0, size * self.line_factor, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        if gap:
            self.ln(gap)
