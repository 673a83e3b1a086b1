"""The appeal letter as a PDF (backoffice.pdf.Document): the practice's letterhead, the letter exactly as the
biller left it (its header names the payer's appeals department), and the attachments list."""

from __future__ import annotations

from datetime import datetime

from backoffice.appeals.models import Appeal
from backoffice.appeals.rendering import ENCLOSED_ERA
from backoffice.appeals.rules import ATTACHMENTS
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.pdf import Document


def _zip(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == 9 else code


def letterhead(practice: Practice) -> str:
    """Address, phone, NPI and TIN under the practice's name."""
    street = ", ".join(part for part in (practice.address_line1, practice.address_line2) if part)
    lines = [f"{street}, {practice.city}, {practice.state} {_zip(practice.zip_code)}"]
    contact = [f"Phone {practice.phone}"] if practice.phone else []
    lines.append("   ".join([*contact, f"NPI {practice.group_npi}", f"TIN {practice.tax_id}"]))
    return "\n".join(lines)


def filename(appeal: Appeal, account_number: str) -> str:
    """``appeal-<claim>-L<level>.pdf`` (the account number, never a patient name)."""
    safe = "".join(ch for ch in account_number if ch.isalnum() or ch in "-_") or str(appeal.claim_id)
    return f"appeal-{safe}-L{appeal.level}.pdf"


def appeal_pdf(appeal: Appeal, *, created: datetime | None = None) -> bytes:
    """The PDF bytes of ``appeal``'s current letter."""
    practice = db.session.get(Practice, appeal.practice_id)
    assert practice is not None
    # The payer's appeals address: the table has no column for it, so a payer-specific template carries it in
    # the letter's header (docs/appeals.md); the letter names the payer and its appeals department.
    enclosed = [ENCLOSED_ERA, *ATTACHMENTS.get(appeal.denial_family, ())]
    doc = Document(title=practice.name, subtitle=letterhead(practice))
    doc.paragraph(appeal.letter)
    if "Enclosed:" not in appeal.letter:  # a template that left out the list still gets one
        doc.heading("Attachments").paragraph("\n".join(f"- {item}" for item in enclosed))
    return doc.render(created=created)
