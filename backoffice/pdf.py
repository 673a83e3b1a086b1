"""PDF documents (appeal letters, Good Faith Estimates, patient statements, receipts) built from plain blocks.

fpdf2 with its core Helvetica font: no font files, no network, deterministic output for the same input.
The core fonts cover Latin-1 only, so text is folded to it (curly quotes and dashes to ASCII, the rest '?').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fpdf import FPDF

_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "•": "-"})


def latin1(text: str) -> str:
    """``text`` as the core fonts can show it."""
    return text.translate(_FOLD).encode("latin-1", "replace").decode("latin-1")


class _Pages(FPDF):
    """FPDF with a footer on every page: the document's footer text and "Page n of N". fpdf2 draws it as each page
    closes, inside the bottom margin, so it never spills onto a page of its own."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "I", 8)
        if self.footer_text:
            self.cell(0, 5, self.footer_text, align="L")
            self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")


@dataclass
class Document:
    """A simple flowing document: a title, then headings, paragraphs, key/value rows and tables in order."""

    title: str
    subtitle: str | None = None
    blocks: list[tuple[str, object]] = field(default_factory=list)
    footer: str = ""  # printed on every page beside the page number (e.g. the practice and the document's id)

    def heading(self, text: str) -> Document:
        self.blocks.append(("heading", text))
        return self

    def paragraph(self, text: str) -> Document:
        self.blocks.append(("paragraph", text))
        return self

    def facts(self, rows: Sequence[tuple[str, str]]) -> Document:
        self.blocks.append(("facts", list(rows)))
        return self

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None
    ) -> Document:
        self.blocks.append(("table", (list(header), [list(r) for r in rows], list(widths) if widths else None)))
        return self

    def render(self, *, created: datetime | None = None) -> bytes:
        """The PDF bytes. ``created`` fixes the document's creation date (tests compare outputs)."""
        pdf = _Pages(format="Letter")
        pdf.footer_text = latin1(self.footer or self.title)[:90]
        pdf.set_margins(20, 18, 20)
        pdf.set_auto_page_break(True, margin=18)
        pdf.set_title(latin1(self.title))
        pdf.set_creator("backoffice")
        if created is not None:
            pdf.set_creation_date(created)
        pdf.alias_nb_pages()
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 7, latin1(self.title), new_x="LMARGIN", new_y="NEXT")
        if self.subtitle:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, latin1(self.subtitle), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        for kind, value in self.blocks:
            getattr(self, f"_{kind}")(pdf, value)
        return bytes(pdf.output())

    @staticmethod
    def _heading(pdf: FPDF, text: object) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, latin1(str(text)), new_x="LMARGIN", new_y="NEXT")

    @staticmethod
    def _paragraph(pdf: FPDF, text: object) -> None:
        pdf.set_font("Helvetica", "", 10)
        for para in str(text).split("\n"):
            pdf.multi_cell(0, 5, latin1(para) or " ", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    @staticmethod
    def _facts(pdf: FPDF, rows: object) -> None:
        for label, value in rows:  # type: ignore[attr-defined]
            pdf.set_font("Helvetica", "B", 9)
            pdf.cell(55, 5, latin1(str(label)))
            pdf.set_font("Helvetica", "", 9)
            pdf.multi_cell(0, 5, latin1(str(value)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    @staticmethod
    def _table(pdf: FPDF, spec: object) -> None:
        header, rows, widths = spec  # type: ignore[misc]
        pdf.set_font("Helvetica", "", 9)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=5) as table:
            row = table.row()
            for cell in header:
                row.cell(latin1(cell))
            for values in rows:
                row = table.row()
                for cell in values:
                    row.cell(latin1(str(cell)))
        pdf.ln(2)
