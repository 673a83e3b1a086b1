"""Bank deposits: a poster records each one per practice; an EFT or payer check is reassociated with its ERA by
the trace number (TRN02 = the EFT trace or check number, the CAQH CORE reassociation rule), a patient deposit with
the payments of its batch. Matching runs when either half arrives."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update

from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.models import Deposit, PatientPayment
from backoffice.money.services import money, practice_today, require_scope
from backoffice.orgs.models import Practice
from backoffice.remits.models import Remittance
from backoffice.services_base import service


def _match_era(deposit: Deposit, now: datetime) -> Remittance | None:
    """The organization's ERA with the deposit's trace number that no other deposit took yet."""
    taken = select(Deposit.remittance_id).where(Deposit.remittance_id.is_not(None))
    remittance = db.session.scalar(
        select(Remittance).where(Remittance.organization_id == deposit.organization_id,
                                 Remittance.trace_number == deposit.trace_number, Remittance.id.not_in(taken))
        .order_by(Remittance.id)
    )  # fmt: skip
    if remittance is not None:
        deposit.remittance_id, deposit.matched_at = remittance.id, now
    return remittance


@service
def record_deposit(
    *, practice: Practice, actor: User, now: datetime, deposited_on: date, amount: object, kind: str,
    trace_number: str | None = None, batch: str | None = None, note: str | None = None,
) -> Deposit:  # fmt: skip
    """Record a bank deposit and reassociate it: an EFT/check with its ERA by trace number (an amount that differs
    from the ERA's is refused, naming both), a patient deposit with its batch's payments (their sum must match)."""
    require_scope(actor, practice.id, "the practice")
    value = money(amount, "amount")
    if kind not in rules.DEPOSIT_KINDS:
        raise ValidationFailed(f"kind: expected one of {', '.join(rules.DEPOSIT_KINDS)}")
    trace_number, batch = (trace_number or "").strip() or None, (batch or "").strip() or None
    if kind in ("eft", "check") and not trace_number:
        raise ValidationFailed("trace number: the EFT trace or check number is required")
    if kind == "patient" and not batch:
        raise ValidationFailed("batch: the patient-payment batch is required")
    if deposited_on > practice_today(practice, now):
        raise ValidationFailed("deposited on: must not be in the future")
    note = (note or "").strip() or None
    deposit = Deposit(organization_id=practice.organization_id, practice_id=practice.id, deposited_on=deposited_on,
                      amount=value, kind=kind, trace_number=trace_number, batch=batch, note=note,
                      recorded_by_id=actor.id, recorded_at=now)  # fmt: skip
    db.session.add(deposit)
    db.session.flush()
    if kind in ("eft", "check"):
        era = _match_era(deposit, now)
        if era is not None and era.total_paid != value:
            raise ValidationFailed(f"amount: ${value:,.2f} but the ERA with trace {trace_number} paid "
                                   f"${era.total_paid:,.2f}")  # fmt: skip
    else:
        payments = list(db.session.scalars(select(PatientPayment).where(
            PatientPayment.practice_id == practice.id, PatientPayment.batch == batch,
            PatientPayment.deposit_id.is_(None))))  # fmt: skip
        total = sum((p.amount for p in payments), rules.ZERO)
        if total != value:
            raise ValidationFailed(f"amount: ${value:,.2f} but batch {batch} holds ${total:,.2f} of patient payments")
        db.session.execute(update(PatientPayment).where(PatientPayment.id.in_([p.id for p in payments]))
                           .values(deposit_id=deposit.id).execution_options(synchronize_session=False))  # fmt: skip
        deposit.matched_at = now
    audit_event(action="deposit_recorded", user=actor, now=now, target_type="deposit", target_id=deposit.id,
                practice_id=practice.id,
                data={"amount": str(value), "kind": kind, "matched": deposit.matched_at is not None})  # fmt: skip
    db.session.commit()
    return deposit
