"""The Good Faith Estimate and patient statement PDFs, built from stored rows (so a copy printed later is the
document that was issued). Every §10.1 element of 45 CFR 149.610(c) has its own block."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from backoffice.balances import queries, rules
from backoffice.balances.models import GoodFaithEstimate, PatientStatement
from backoffice.balances.services import period_bounds
from backoffice.extensions import db
from backoffice.filters import money, short_date
from backoffice.orgs.models import Practice, Provider
from backoffice.patients.models import Patient
from backoffice.pdf import Document


def _address(practice: Practice) -> str:
    parts = [practice.address_line1, practice.address_line2, f"{practice.city}, {practice.state} {practice.zip_code}"]
    return ", ".join(p for p in parts if p)


def _created(day: date | None, practice: Practice) -> datetime | None:
    return None if day is None else datetime.combine(day, time(12), tzinfo=ZoneInfo(practice.timezone))


def gfe_pdf(gfe: GoodFaithEstimate) -> bytes:
    """The GFE as the patient receives it (HHS model form's order)."""
    practice = db.session.get(Practice, gfe.practice_id)
    patient = db.session.get(Patient, gfe.patient_id)
    provider = db.session.get(Provider, gfe.provider_id)
    estimate_date = gfe.issued_on or gfe.created_at.date()
    doc = Document(
        title="Good Faith Estimate",
        subtitle=f"{practice.name} · {_address(practice)}{' · ' + practice.phone if practice.phone else ''}",
    )
    doc.facts([
        ("Date of estimate", short_date(estimate_date) + ("" if gfe.issued_on else " (draft, not yet issued)")),
        ("Estimate number", str(gfe.id)),
        ("Patient", f"{patient.first_name} {patient.last_name}"),
        ("Date of birth", short_date(patient.date_of_birth)),
        ("Covers sessions", f"{short_date(gfe.covers_from)} to {short_date(gfe.covers_to)}"),
    ])  # fmt: skip
    primary = gfe.lines[0] if gfe.lines else {}
    doc.heading("Primary service")
    scheduled = (f"scheduled for {short_date(gfe.first_service_on)}" if gfe.first_service_on
                 else "not yet scheduled")  # fmt: skip
    doc.paragraph(f"{primary.get('description', '')} (CPT {primary.get('cpt', '')}), {scheduled}.")
    doc.heading("Diagnosis codes")
    doc.paragraph(", ".join(gfe.diagnosis_codes))
    doc.heading("Provider")
    doc.facts([
        ("Name", f"{provider.display_name} ({practice.name})"),
        ("NPI", f"{provider.npi} (individual); {practice.group_npi} (group)"),
        ("TIN", practice.tax_id),
        ("Location", _address(practice)),
        ("State where services are furnished", practice.state),
    ])  # fmt: skip
    doc.heading("Itemized expected services and charges")
    rows = [[line["cpt"], str(line["description"]), str(line["sessions"]), money(Decimal(str(line["unit_fee"]))),
             money(Decimal(str(line["total"])))] for line in gfe.lines]  # fmt: skip
    rows.append(["", "Total estimated charges", "", "", money(gfe.total)])
    doc.table(["Service code", "Description", "Sessions", "Per session", "Estimated total"], rows, [22, 70, 20, 28, 36])
    doc.heading("Items or services that must be scheduled separately")
    doc.paragraph("None listed. Any service not itemized above is scheduled separately and is not included.")
    doc.heading("Disclaimers")
    for text in rules.GFE_DISCLAIMERS:
        doc.paragraph(text)
    return doc.render(created=_created(estimate_date, practice))


def statement_pdf(statement: PatientStatement) -> bytes:
    """The patient statement: letterhead, period, every ledger line in it, column totals, balance and due date,
    and the payment plan's instalments due."""

    practice = db.session.get(Practice, statement.practice_id)
    patient = db.session.get(Patient, statement.patient_id)
    start, end = period_bounds(practice, statement.period_from, statement.period_to)
    opening = queries.balance(patient.id, through=start)
    entries = queries.ledger(patient.id, start=start, end=end)
    totals = rules.statement_totals([(e.kind, e.amount) for e in entries], opening)
    zone = ZoneInfo(practice.timezone)
    doc = Document(
        title=practice.name,
        subtitle=f"{_address(practice)}{' · ' + practice.phone if practice.phone else ''} · TIN {practice.tax_id}",
    )
    doc.heading("Patient statement")
    doc.facts([
        ("Statement date", short_date(statement.issued_on)),
        ("Account", patient.account_number),
        ("Patient", f"{patient.first_name} {patient.last_name}"),
        ("Period", f"{short_date(statement.period_from)} to {short_date(statement.period_to)}"),
    ])  # fmt: skip
    header = ["Date", "Description", "Charges", "Insurance", "Your payments", "Adjustments"]
    rows: list[list[str]] = [["", "Balance forward", "", "", "", money(opening) if opening else ""]]
    for e in entries:
        column = rules.statement_column(e.kind, e.amount)
        cells = {c: "" for c in ("charges", "insurance", "payments", "adjustments")}
        cells[column] = money(e.amount)
        rows.append([e.at.astimezone(zone).strftime("%m/%d/%Y"), e.reason, cells["charges"], cells["insurance"],
                     cells["payments"], cells["adjustments"]])  # fmt: skip
    rows.append(["", "Totals for the period", money(totals["charges"]), money(totals["insurance"]),
                 money(totals["payments"]), money(totals["adjustments"])])  # fmt: skip
    doc.table(header, rows, [22, 58, 22, 22, 25, 25])
    doc.facts([("Balance due", money(statement.balance)), ("Please pay by", short_date(statement.due_on))])
    plan = queries.open_plan(patient.id)
    due = queries.instalments_due(plan, statement.due_on)
    if plan is not None:
        doc.heading(f"Payment plan #{plan.id} ({plan.state})")
        plan_rows = [[str(i.number), short_date(i.due_on), money(i.amount), money(i.amount - (i.paid_amount or 0))]
                     for i in due]  # fmt: skip
        if plan_rows:
            doc.table(["Instalment", "Due", "Amount", "Still owed"], plan_rows, [30, 40, 40, 40])
        else:
            doc.paragraph("No instalment is due by the date above.")
    doc.paragraph("Questions about this statement? Call the office at the number above.")
    return doc.render(created=_created(statement.issued_on, practice))
