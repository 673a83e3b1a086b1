"""Reads over posted remittances: the primary payer's adjudication for a secondary claim (in the 837 writer's
shapes) and a patient's balance."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer
from backoffice.patients.models import Coverage, LedgerEntry, Patient
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.x12.claim837_model import Address, Adjustment, LineAdjudication, PayerInfo, PriorPayer, Subscriber

FILING_INDICATOR = {"medicare": "MB", "medicaid": "MC"}  # anything else files as commercial (CI)
ZERO = Decimal("0.00")


def _adjustments(totals: dict[tuple[str, str], Decimal]) -> tuple[Adjustment, ...]:
    return tuple(Adjustment(group, reason, amount) for (group, reason), amount in totals.items() if amount != 0)


def prior_payer_for(claim: Claim) -> PriorPayer:
    """The primary payer's adjudication of ``claim``'s parent, from its posted 835s (reversals net out), per line
    in the secondary claim's line order; each line balances (charge − paid = its CAS) as the 837 COB loops need."""
    if claim.payer_sequence != "S" or claim.parent_claim_id is None:
        raise ValidationFailed(f"claim {claim.account_number}: not a secondary claim")
    primary = db.session.get(Claim, claim.parent_claim_id)
    rows = db.session.execute(
        select(PaymentAdjustment, Remittance.payment_date)
        .join(ClaimPayment, ClaimPayment.id == PaymentAdjustment.claim_payment_id)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .where(ClaimPayment.claim_id == primary.id)
        .order_by(PaymentAdjustment.id)
    ).all()
    if not rows and not primary.adjudicated_at:
        raise ValidationFailed(f"claim {primary.account_number}: the primary payer has no posted 835")
    by_line: dict[int | None, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    paid_date = None
    for adjustment, payment_date in rows:
        by_line[adjustment.claim_line_id][adjustment.group, adjustment.reason] += adjustment.amount
        paid_date = payment_date or paid_date
    paid_date = paid_date or primary.adjudicated_at.date()
    primary_lines = {line.line_number: line for line in primary.lines}
    lines = []
    for line in claim.lines:
        source = primary_lines.get(line.line_number)
        if source is None:
            raise ValidationFailed(f"claim {claim.account_number} line {line.line_number}: no primary line")
        adjustments = _adjustments(by_line.get(source.id, {}))
        if source.charge - source.paid_amount != sum((a.amount for a in adjustments), ZERO):
            raise ValidationFailed(
                f"claim {primary.account_number} line {line.line_number}: charge {source.charge} − paid "
                f"{source.paid_amount} does not equal its posted adjustments"
            )
        lines.append(LineAdjudication(paid=source.paid_amount, adjustments=adjustments, paid_date=paid_date))
    payer = db.session.get(Payer, primary.payer_id)
    coverage = db.session.get(Coverage, primary.coverage_id) if primary.coverage_id else None
    patient = db.session.get(Patient, primary.patient_id)
    self_insured = coverage is None or str(coverage.relationship_to_subscriber) == "18"
    subscriber = Subscriber(
        member_id=coverage.member_id if coverage else "",
        first_name=patient.first_name if self_insured else (coverage.subscriber_first_name or ""),
        last_name=patient.last_name if self_insured else (coverage.subscriber_last_name or ""),
        dob=patient.date_of_birth if self_insured else (coverage.subscriber_date_of_birth or patient.date_of_birth),
        sex=str(patient.sex if self_insured else (coverage.subscriber_sex or patient.sex)),
        address=Address(patient.address_line1 or "", patient.city or "", patient.state or "", patient.zip_code or ""),
        group_number=(coverage.group_number or "") if coverage else "",
    )
    return PriorPayer(
        payer=PayerInfo(name=payer.name, payer_id=payer.payer_id),
        subscriber=subscriber,
        claim_filing_indicator=FILING_INDICATOR.get(str(payer.kind), "CI"),
        lines=tuple(lines),
        relationship=str(coverage.relationship_to_subscriber) if coverage else "18",
        claim_adjustments=_adjustments(by_line.get(None, {})),
    )


def patient_balance(patient_id: int) -> Decimal:
    """What the patient owes: the sum of their ledger (patient responsibility less payments and reversals)."""
    total = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.patient_id == patient_id))
    return Decimal(total or 0).quantize(Decimal("0.01"))
