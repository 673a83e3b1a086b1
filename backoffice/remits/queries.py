"""Reads over posted remittances: the prior payers' adjudications for a secondary or tertiary claim (in the 837
writer's shapes) and a patient's balance."""

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


PRIOR_SEQUENCES = {"S": ("P",), "T": ("P", "S")}  # whose adjudications a claim of each payer sequence carries


def prior_payer_for(claim: Claim) -> PriorPayer:
    """The primary payer's adjudication of a secondary claim's parent (see ``prior_payers_for``)."""
    if claim.payer_sequence != "S" or claim.parent_claim_id is None:
        raise ValidationFailed(f"claim {claim.account_number}: not a secondary claim")
    return prior_payers_for(claim)[0]


def prior_payers_for(claim: Claim) -> tuple[PriorPayer, ...]:
    """Every prior payer's adjudication, in payment order: for a secondary claim its parent's (the primary), for a
    tertiary claim its grandparent's (the primary) and then its parent's (the secondary). Each comes from that
    claim's posted 835s (reversals net out), per line in ``claim``'s line order, and each line balances
    (charge − paid = its CAS) as the 837 COB loops need."""
    sequences = PRIOR_SEQUENCES.get(claim.payer_sequence)
    if sequences is None or claim.parent_claim_id is None:
        raise ValidationFailed(f"claim {claim.account_number}: not a secondary or tertiary claim")
    chain: list[Claim] = []
    parent_id: int | None = claim.parent_claim_id
    for _ in sequences:
        parent = db.session.get(Claim, parent_id) if parent_id is not None else None
        if parent is None:
            raise ValidationFailed(f"claim {claim.account_number}: a prior payer's claim is missing")
        chain.append(parent)
        parent_id = parent.parent_claim_id
    chain.reverse()  # the primary first
    if tuple(prior.payer_sequence for prior in chain) != sequences:
        raise ValidationFailed(f"claim {claim.account_number}: its prior claims are not the "
                               f"{' and '.join(sequences)} payers' claims")  # fmt: skip
    return tuple(_adjudication(claim, prior) for prior in chain)


def _adjudication(claim: Claim, prior: Claim) -> PriorPayer:
    """``prior``'s payer's adjudication, per line of ``claim`` (matched by line number)."""
    rows = db.session.execute(
        select(PaymentAdjustment, Remittance.payment_date)
        .join(ClaimPayment, ClaimPayment.id == PaymentAdjustment.claim_payment_id)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .where(ClaimPayment.claim_id == prior.id)
        .order_by(PaymentAdjustment.id)
    ).all()
    if not rows and not prior.adjudicated_at:
        raise ValidationFailed(f"claim {prior.account_number}: the {_ROLE[prior.payer_sequence]} payer has no "
                               "posted 835")  # fmt: skip
    by_line: dict[int | None, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    paid_date = None
    for adjustment, payment_date in rows:
        by_line[adjustment.claim_line_id][adjustment.group, adjustment.reason] += adjustment.amount
        paid_date = payment_date or paid_date
    paid_date = paid_date or prior.adjudicated_at.date()
    prior_lines = {line.line_number: line for line in prior.lines}
    lines = []
    for line in claim.lines:
        source = prior_lines.get(line.line_number)
        if source is None:
            raise ValidationFailed(f"claim {claim.account_number} line {line.line_number}: no "
                                   f"{_ROLE[prior.payer_sequence]} line")  # fmt: skip
        adjustments = _adjustments(by_line.get(source.id, {}))
        if source.charge - source.paid_amount != sum((a.amount for a in adjustments), ZERO):
            raise ValidationFailed(
                f"claim {prior.account_number} line {line.line_number}: charge {source.charge} − paid "
                f"{source.paid_amount} does not equal its posted adjustments"
            )
        lines.append(LineAdjudication(paid=source.paid_amount, adjustments=adjustments, paid_date=paid_date))
    payer = db.session.get(Payer, prior.payer_id)
    coverage = db.session.get(Coverage, prior.coverage_id) if prior.coverage_id else None
    patient = db.session.get(Patient, prior.patient_id)
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
        responsibility=prior.payer_sequence,
        claim_adjustments=_adjustments(by_line.get(None, {})),
    )


_ROLE = {"P": "primary", "S": "secondary"}


def patient_balance(patient_id: int) -> Decimal:
    """What the patient owes: the sum of their ledger (patient responsibility less payments and reversals)."""
    total = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.patient_id == patient_id))
    return Decimal(total or 0).quantize(Decimal("0.01"))
