"""`backoffice edi build-837`: code an import file against one practice's setup and write the 837P it would
send, changing nothing (onboarding previews, and our own end-to-end checks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from backoffice.exchange.claim_batches import batches_by_payer, billing_provider_of, claim_info, submitter_of
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.patients.models import Patient
from backoffice.scrubber.queries import dry_run
from backoffice.sessions.rules import RowError, SessionRow
from backoffice.x12.claim837 import write_837p
from backoffice.x12.claim837_model import Address, Batch, PayerInfo, Receiver, ServiceLine, Subscriber


@dataclass
class Preview:
    text: str | None
    claims: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (session_ref, why)


def build_837_preview(
    rows: Sequence[SessionRow],
    *,
    organization: Organization,
    practice: Practice,
    receiver: Receiver,
    today: date,
    now: datetime,
) -> tuple[Preview | None, list[RowError]]:
    """The 837P for the billable sessions of ``rows``; sessions that cannot be billed are listed with why."""
    submitter = submitter_of(organization)
    billing = billing_provider_of(practice)
    wrong = [
        RowError(r.row, "practice", f"{r.practice!r}, but this file is being built for {practice.slug}")
        for r in rows
        if r.practice != practice.slug
    ]
    if wrong:
        return None, wrong
    results, errors = dry_run(rows, organization_id=organization.id, today=today)
    if errors:
        return None, errors
    payers = {p.payer_id: p for p in db.session.scalars(select(Payer).where(Payer.organization_id == organization.id))}
    providers = {p.npi: p for p in db.session.scalars(select(Provider).where(Provider.practice_id == practice.id))}
    patients = {
        p.account_number: p
        for p in db.session.scalars(
            select(Patient).where(
                Patient.practice_id == practice.id, Patient.account_number.in_({r.patient_ref for r in rows})
            )
        )
    }
    preview = Preview(None)
    entries = []
    for row, result in zip(rows, results, strict=True):
        payer = payers[row.payer_id]
        claim, why = _claim(
            row, result, payer, practice, providers.get(row.provider_npi), patients.get(row.patient_ref)
        )
        if claim is None:
            preview.skipped.append((row.session_ref, why))
            continue
        batch = Batch(submitter, receiver, billing, PayerInfo(payer.name, payer.payer_id), (claim,))
        try:  # one claim at a time first, so one bad claim is reported instead of spoiling the file
            write_837p(
                [batch], interchange_control_number=1, group_control_number=1, first_transaction_number=1, now=now
            )
        except ValueError as error:
            preview.skipped.append((row.session_ref, str(error)))
            continue
        entries.append((payer, claim))
    batches = batches_by_payer(entries, submitter=submitter, receiver=receiver, billing=billing)
    preview.claims = sum(len(b.claims) for b in batches)
    if batches:
        # A preview uses control number 1 and the test usage indicator: it is never sent.
        preview.text = write_837p(
            batches,
            interchange_control_number=1,
            group_control_number=1,
            first_transaction_number=1,
            now=now,
            usage="T",
        )
    return preview, []


def _claim(row, result, payer, practice, provider, patient):  # noqa: ANN001, ANN202
    if str(payer.kind) == "self_pay":
        return None, "self-pay: there is no insurance claim"
    if not result.billable:
        blocking = sorted({f.rule for f in result.findings if f.severity == "error"}) or ["no billable lines"]
        return None, "not billable: " + ", ".join(blocking)
    if provider is None:
        return None, f"no provider with NPI {row.provider_npi} is set up for {practice.slug}"
    lines = []
    for draft in result.lines:
        fee = (practice.fee_schedule or {}).get(draft.cpt)
        if fee is None:
            return None, f"no charge for {draft.cpt} in the practice's fee schedule"
        lines.append(ServiceLine.from_draft(draft, Decimal(fee) * draft.units, row.date_of_service))
    address = row.patient_address or (
        (patient.address_line1, patient.city, patient.state, patient.zip_code)
        if patient is not None and patient.address_line1
        else None
    )
    if address is None:
        return None, "no patient address: add the patient_address columns or the patient's address on file"
    subscriber = Subscriber(
        row.member_id, row.patient_first, row.patient_last, row.patient_dob, row.patient_sex.value, Address(*address)
    )
    claim = claim_info(
        account_number=row.session_ref,
        diagnoses=row.diagnoses,
        lines=lines,
        payer=payer,
        provider=provider,
        auth_number=row.auth_number,
    )
    return (subscriber, None, claim), ""
