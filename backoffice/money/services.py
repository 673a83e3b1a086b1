"""Patient payments: record one (method, reference, date, who), apply it to the oldest open patient balances or to
chosen claims, keep what is left as credit, and pay the patient's payment-plan instalments from it. Each use case
owns its commit and writes its audit row in the same transaction; errors name fields, never patients."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backoffice import inputs
from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.balances import queries as balance_queries
from backoffice.balances import rules as balance_rules
from backoffice.balances.models import PaymentPlan
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.models import PatientPayment
from backoffice.orgs.models import Practice
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.rules import InteractionKind

PLAN_STATES = ("active", "defaulted")


def require_scope(actor: User, practice_id: int, what: str) -> None:
    if practice_id not in practice_ids_for(actor):
        raise NotAllowed(f"{what} is not in a practice you serve")


def money(value: object, field: str) -> Decimal:
    """A positive Decimal with cents (never a float)."""
    if not isinstance(value, str | Decimal | int):
        raise ValidationFailed(f"{field}: not an amount")
    try:
        return inputs.money(value, low=rules.CENT, high=inputs.MONEY_MAX)
    except inputs.InputProblem as problem:
        raise ValidationFailed(f"{field}: {problem}") from None


def practice_today(practice: Practice, now: datetime) -> date:
    return now.astimezone(ZoneInfo(practice.timezone)).date()


def open_balances(patient_id: int) -> list[rules.OpenBalance]:
    """The patient's open balances per claim (the ledger's sum per claim, claim-less self-pay charges together),
    with the date each first appeared."""
    rows = db.session.execute(
        select(LedgerEntry.claim_id, func.sum(LedgerEntry.amount), func.min(LedgerEntry.at))
        .where(LedgerEntry.patient_id == patient_id)
        .group_by(LedgerEntry.claim_id)
    ).all()
    found = []
    for claim_id, amount, since in rows:
        amount = Decimal(amount or 0).quantize(rules.CENT)
        if amount > 0:
            day = since.date() if isinstance(since, datetime) else date.fromisoformat(str(since)[:10])
            found.append(rules.OpenBalance(claim_id, amount, day))
    return found


def patient_credit(patient_id: int) -> Decimal:
    """What the practice owes the patient: minus the ledger's sum when it is below zero."""
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.patient_id == patient_id))  # fmt: skip
    return max(-Decimal(total or 0), rules.ZERO).quantize(rules.CENT)


def _pay_plan(patient_id: int, amount: Decimal, paid_on: date) -> list[tuple[int, int, Decimal]]:
    """Pay the patient's open payment-plan instalments, oldest first, from ``amount`` (no new ledger entry: the
    payment's own entries already reduce the balance). Returns ``[(plan id, instalment number, applied)]``."""
    paid: list[tuple[int, int, Decimal]] = []
    plans = db.session.scalars(
        select(PaymentPlan).where(PaymentPlan.patient_id == patient_id, PaymentPlan.state.in_(PLAN_STATES))
        .order_by(PaymentPlan.id).with_for_update()
    )  # fmt: skip
    for plan in plans:
        instalments = balance_queries.as_rule_instalments(plan.instalments)
        take = min(amount, balance_rules.plan_remaining(instalments))
        if take <= 0:
            continue
        by_number = {inst.number: inst for inst in plan.instalments}
        for number, part in balance_rules.allocate_payment(instalments, take):
            inst = by_number[number]
            inst.paid_amount = (inst.paid_amount or rules.ZERO) + part
            if inst.paid_amount >= inst.amount:
                inst.paid_on = paid_on
            paid.append((plan.id, number, part))
        plan.state = balance_rules.plan_state(plan.state, balance_queries.as_rule_instalments(plan.instalments),
                                              paid_on)  # fmt: skip
        amount -= take
        if amount <= 0:
            break
    return paid


@service
def record_patient_payment(
    *,
    patient: Patient,
    actor: User,
    now: datetime,
    method: str,
    amount: object,
    received_on: date,
    reference: str | None = None,
    claim_ids: list[int | None] | None = None,
    batch: str | None = None,
    note: str | None = None,
) -> PatientPayment:
    """Record a patient's payment and apply it: to the chosen claims' balances in order, else the oldest open ones
    first; the rest is kept as unapplied credit (a ledger entry on no claim). Payment-plan instalments are paid from
    it. All or nothing: a refused field changes nothing."""
    require_scope(actor, patient.practice_id, "the patient")
    value = money(amount, "amount")
    reference = (reference or "").strip() or None
    problem = rules.reference_problem(method, reference)
    if problem:
        raise ValidationFailed(problem)
    if reference and len(reference) > 80:
        raise ValidationFailed("reference: at most 80 characters")
    batch = (batch or "").strip() or None
    if batch and len(batch) > 40:
        raise ValidationFailed("batch: at most 40 characters")
    note = (note or "").strip() or None
    practice = db.session.get(Practice, patient.practice_id)
    assert practice is not None
    today = practice_today(practice, now)
    when = inputs.date_problem(received_on, today=today, earliest=today - balance_rules.PAYMENT_LOOKBACK,
                               future_days=0)  # fmt: skip
    if when:
        raise ValidationFailed(f"received on: {when}")
    try:
        applied, unapplied = rules.apply_payment(open_balances(patient.id), value, chosen=claim_ids)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    payment = PatientPayment(
        organization_id=actor.organization_id, practice_id=patient.practice_id, patient_id=patient.id, method=method,
        reference=reference, received_on=received_on, amount=value, unapplied=unapplied, batch=batch, note=note,
        received_by_id=actor.id, recorded_at=now,
    )  # fmt: skip
    db.session.add(payment)
    db.session.flush()
    # Noon of the day it was received, never later than when it is recorded (reports cut periods by this time).
    at = min(datetime.combine(received_on, time(12), tzinfo=ZoneInfo(practice.timezone)), now)
    label = f"{rules.METHODS[method]} payment #{payment.id}"
    for claim_id, part in applied:
        db.session.add(LedgerEntry(practice_id=patient.practice_id, patient_id=patient.id, claim_id=claim_id,
                                   patient_payment_id=payment.id, kind="patient_payment", amount=-part,
                                   reason=label[:200], at=at))  # fmt: skip
    if unapplied > 0:
        db.session.add(LedgerEntry(practice_id=patient.practice_id, patient_id=patient.id, claim_id=None,
                                   patient_payment_id=payment.id, kind="patient_payment", amount=-unapplied,
                                   reason=f"{label}: unapplied credit"[:200], at=at))  # fmt: skip
    plan_parts = _pay_plan(patient.id, value, received_on)
    for claim_id, part in applied:
        if claim_id is not None:
            record_interaction(practice_id=patient.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now,
                               claim_id=claim_id, body=f"{label}: ${part:,.2f} applied to the patient balance",
                               data={"patient_payment": payment.id, "amount": str(part)})  # fmt: skip
    audit_event(action="patient_payment_recorded", user=actor, now=now, target_type="patient_payment",
                target_id=payment.id, practice_id=patient.practice_id, patient_id=patient.id,
                data={"amount": str(value), "method": method, "unapplied": str(unapplied),
                      "applied": [[c, str(p)] for c, p in applied],
                      "instalments": [[plan, n, str(p)] for plan, n, p in plan_parts]})  # fmt: skip
    db.session.commit()
    return payment


def applications(payment: PatientPayment) -> list[LedgerEntry]:
    """The ledger entries a payment made (applications, then its unapplied credit)."""
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.patient_payment_id == payment.id)
                                   .order_by(LedgerEntry.claim_id.is_(None), LedgerEntry.id)))  # fmt: skip
