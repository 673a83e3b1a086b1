"""PDFs (issue 18): no blank trailing page, whatever the length, and every page carries its footer
(backoffice.pdf.Document draws it as each page closes, inside the bottom margin)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from backoffice.appeals.pdf import appeal_pdf
from backoffice.pdf import Document
from tests.test_appeal_services import appeal_of, denied, world  # noqa: F401 - the fixture

CREATED = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def assert_every_page_has_body_and_footer(texts: list[str], footer: str) -> None:
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text, (number, text[-80:])
        assert footer in text
        body = text.replace(f"Page {number} of {len(texts)}", "").replace(footer, "").strip()
        assert body, f"page {number} of {len(texts)} is blank apart from its footer"


@pytest.mark.parametrize("paragraphs", [0, 1, 5, 20, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 80, 81, 82, 83, 84])
def test_a_document_of_any_length_has_no_blank_trailing_page_and_a_footer_on_each(paragraphs: int) -> None:
    doc = Document(title="Calm Mind", subtitle="1 Main St", footer="Calm Mind - receipt R-1")
    for n in range(paragraphs):
        doc.paragraph(f"Paragraph {n}: the payer denied the service as not medically necessary.")
    texts = pages(doc.render(created=CREATED))
    assert_every_page_has_body_and_footer(texts, "Calm Mind - receipt R-1")


def test_a_page_filled_to_the_bottom_margin_does_not_spill_the_footer_onto_a_new_page() -> None:
    # The old render drew the footer after the content at y = -14 mm, past the 18 mm auto page break: a page
    # filled to its margin got a blank extra page carrying only "Page 2 of 2".
    for lines in range(40, 60):
        doc = Document(title="T").paragraph("\n".join(f"line {n}" for n in range(lines)))
        texts = pages(doc.render(created=CREATED))
        assert_every_page_has_body_and_footer(texts, "T")


def test_an_appeal_letter_pdf_has_its_footer_on_every_page_and_no_blank_page(world) -> None:  # noqa: ANN001, F811
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    appeal.letter = appeal.letter + "\n" + "\n".join(f"Exhibit line {n}" for n in range(70))
    texts = pages(appeal_pdf(appeal, created=CREATED))
    assert len(texts) >= 2
    assert_every_page_has_body_and_footer(texts, "Calm Mind")
