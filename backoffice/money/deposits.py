"""Bank deposits: a poster records each one per practice; an EFT or payer check is reassociated with its ERA by
the trace number (TRN02 = the EFT trace or check number, the CAQH CORE reassociation rule) and the same amount, a
patient deposit with the payments of its batch. Matching runs when either half arrives (``record_deposit``; an 835
posted: ``match_waiting_deposits``, the ``remittance-posted`` subscriber) and daily in the deposit sweep. A match
closes the *Match deposit* items it resolves (the ERA's, the deposit's), logged with the reason."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select, update

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
from backoffice.work import closing
from backoffice.work.models import WorkItem
from backoffice.work.rules import ExceptionKind

EFT_KINDS = ("eft", "check")


def era_item_key(remittance_id: int) -> str:
    """The dedupe key of the item for an ERA that no deposit has matched."""
    return f"deposit:era:{remittance_id}"


def deposit_item_key(deposit_id: int) -> str:
    """The dedupe key of the item for a deposit that no ERA has matched."""
    return f"deposit:no-era:{deposit_id}"


def era_for(deposit: Deposit) -> Remittance | None:
    """The organization's ERA with the deposit's trace number that no other deposit took yet."""
    taken = select(Deposit.remittance_id).where(Deposit.remittance_id.is_not(None))
    return db.session.scalar(
        select(Remittance).where(Remittance.organization_id == deposit.organization_id,
                                 Remittance.trace_number == deposit.trace_number, Remittance.id.not_in(taken))
        .order_by(Remittance.id)
    )  # fmt: skip


def match(deposit: Deposit, remittance: Remittance, *, now: datetime, actor: User | None, cause: str) -> None:
    """Reassociate the deposit with its ERA and close the *Match deposit* items this resolves (the ERA waiting for
    its deposit, the deposit waiting for its ERA), each logged with the reason. The caller commits."""
    deposit.remittance_id, deposit.matched_at = remittance.id, now
    db.session.flush()
    reason = (f"Deposit of ${deposit.amount:,.2f} on {deposit.deposited_on.isoformat()} matched to ERA trace "
              f"{remittance.trace_number} (${remittance.total_paid:,.2f})")  # fmt: skip
    items = db.session.scalars(
        select(WorkItem).where(
            WorkItem.kind == ExceptionKind.MATCH_DEPOSIT.value, WorkItem.state.in_(closing.OPEN),
            or_(WorkItem.deposit_id == deposit.id, WorkItem.dedupe_key == era_item_key(remittance.id)),
        ).order_by(WorkItem.id)
    ).all()  # fmt: skip
    for item in items:
        closing.close_item(item, now=now, actor=actor, reason=reason, cause=cause,
                           data={"deposit_id": deposit.id, "remittance_id": remittance.id})  # fmt: skip


def match_waiting_deposits(
    organization_id: int, *, now: datetime, remittance_ids: Collection[int] = (), **_: Any
) -> int:
    """The ``remittance-posted`` subscriber: deposits recorded before their ERA (same trace number and amount) are
    matched to the ERAs just posted, in the posting's transaction, closing their items. Returns how many."""
    if not remittance_ids:
        return 0
    eras = {r.trace_number: r for r in db.session.scalars(
        select(Remittance).where(Remittance.id.in_(list(remittance_ids))).order_by(Remittance.id))}  # fmt: skip
    waiting = db.session.scalars(
        select(Deposit).where(Deposit.organization_id == organization_id, Deposit.kind.in_(EFT_KINDS),
                              Deposit.remittance_id.is_(None), Deposit.trace_number.in_(list(eras)))
        .order_by(Deposit.id)
    ).all()  # fmt: skip
    matched = 0
    for deposit in waiting:
        era = eras.get(deposit.trace_number)
        if era is not None and era.total_paid == deposit.amount:
            del eras[deposit.trace_number]
            match(deposit, era, now=now, actor=None, cause="era-posted")
            matched += 1
    return matched


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
    if kind in EFT_KINDS:
        era = era_for(deposit)
        if era is not None and era.total_paid != value:
            raise ValidationFailed(f"amount: ${value:,.2f} but the ERA with trace {trace_number} paid "
                                   f"${era.total_paid:,.2f}")  # fmt: skip
        if era is not None:
            match(deposit, era, now=now, actor=actor, cause="deposit-recorded")
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
