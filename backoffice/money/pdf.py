"""The receipt of a patient payment (backoffice.pdf.Document): letterhead, who paid what, how, and where it went."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.filters import money, short_date
from backoffice.money import rules
from backoffice.money.models import PatientPayment
from backoffice.money.services import applications
from backoffice.orgs.models import Practice
from backoffice.patients.models import Patient
from backoffice.pdf import Document


def receipt_pdf(payment: PatientPayment) -> bytes:
    """The receipt's PDF bytes; its footer names the receipt on every page."""
    practice = db.session.get(Practice, payment.practice_id)
    patient = db.session.get(Patient, payment.patient_id)
    assert practice is not None and patient is not None
    number = f"R-{payment.id:06d}"
    doc = Document(title=practice.name, subtitle=f"{practice.city}, {practice.state} · TIN {practice.tax_id}",
                   footer=f"{practice.name} - receipt {number}")  # fmt: skip
    doc.heading(f"Payment receipt {number}")
    doc.facts([
        ("Received on", short_date(payment.received_on)),
        ("Account", patient.account_number),
        ("Patient", f"{patient.first_name} {patient.last_name}"),
        ("Amount", money(payment.amount)),
        ("Method", rules.METHODS.get(payment.method, payment.method) + (f" ({payment.reference})"
                                                                        if payment.reference else "")),
    ])  # fmt: skip
    rows = []
    for entry in applications(payment):
        claim = db.session.get(Claim, entry.claim_id) if entry.claim_id else None
        what = f"Claim {claim.account_number}" if claim else ("Unapplied credit" if "unapplied" in entry.reason
                                                               else "Self-pay charges")  # fmt: skip
        rows.append([what, money(-entry.amount)])
    doc.table(["Applied to", "Amount"], rows, [120, 50])
    doc.paragraph("Thank you. Keep this receipt for your records.")
    created = datetime.combine(payment.received_on, time(12), tzinfo=ZoneInfo(practice.timezone))
    return doc.render(created=created)
