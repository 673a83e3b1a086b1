"""Patient-balance use cases (billing-rules.md §10). Each owns its transaction, checks the actor's practice scope
and role, and writes its audit row in the same transaction. Errors name fields, never patients."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backoffice import inputs
from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.balances import queries, rules
from backoffice.balances.models import (
    PatientStatement,
    PaymentPlan,
    PaymentPlanInstalment,
    SlidingScaleDetermination,
    SlidingScaleTier,
)
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.services_base import service
from backoffice.work import rules as work_rules

PAUSE_REASONS = {"gfe_dispute": "a GFE dispute is pending", "payer_appeal": "a payer appeal is pending"}
MAX_TEXT = 200


def _local_today(practice: Practice, now: datetime) -> date:
    return now.astimezone(ZoneInfo(practice.timezone)).date()


def _close_of_business(practice: Practice, day: date) -> datetime:
    return datetime.combine(day, work_rules.END_OF_BUSINESS, tzinfo=ZoneInfo(practice.timezone))


def _require_scope(actor: User, practice_id: int, what: str) -> None:
    if practice_id not in practice_ids_for(actor):
        raise NotAllowed(f"{what} is not in a practice you serve")


def _require_supervisor(actor: User, what: str) -> None:
    if not can_supervise(actor):
        raise NotAllowed(f"only a supervisor or an admin can {what}")


def _text(value: str | None, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationFailed(f"{field}: required")
        return None
    if len(value) > limit:
        raise ValidationFailed(f"{field}: at most {limit} characters")
    return value


def _money(value: object, field: str) -> Decimal:
    """A Decimal amount with cents (never a float: $0.01 must compare as exactly one cent)."""
    if not isinstance(value, str | Decimal | int):
        raise ValidationFailed(f"{field}: not an amount")
    try:
        return inputs.money(value, low=-inputs.MONEY_MAX, high=inputs.MONEY_MAX)
    except inputs.InputProblem as problem:
        raise ValidationFailed(f"{field}: {problem}") from None


def _refuse(error: ValueError) -> ValidationFailed:
    return ValidationFailed(str(error))


# --- Sliding scale ----------------------------------------------------------------------------------------------


@service
def save_tiers(
    *, practice: Practice, tiers: Sequence[rules.Tier], actor: User, now: datetime
) -> list[SlidingScaleTier]:
    """Replace a practice's written sliding-scale table. Rows are matched by their FPL bound: an existing row is
    updated (and reactivated), rows not in the new table are deactivated, never deleted (determinations point at
    them). All or nothing: any invalid row refuses the whole table."""
    _require_scope(actor, practice.id, f"practice {practice.id}")
    _require_supervisor(actor, "edit the sliding scale")
    problems = rules.tier_problems(tiers)
    if problems:
        raise ValidationFailed("; ".join(problems))
    existing = {row.max_fpl_percent: row for row in queries.tiers(practice.id, active_only=False)}
    wanted = {tier.max_fpl_percent for tier in tiers}
    for bound, row in existing.items():
        if bound not in wanted:
            row.active = False
    for tier in tiers:
        row = existing.get(tier.max_fpl_percent)
        if row is None:
            row = SlidingScaleTier(practice_id=practice.id, max_fpl_percent=tier.max_fpl_percent)
            db.session.add(row)
        row.name = tier.name.strip()
        row.discount_percent = tier.discount_percent
        row.flat_fee = tier.flat_fee
        row.active = True
    audit_event(action="admin:sliding_scale_saved", user=actor, now=now, target_type="practice",
                target_id=practice.id, practice_id=practice.id, data={"tiers": len(tiers)})  # fmt: skip
    db.session.commit()
    return queries.tiers(practice.id)


@service
def determine_sliding_scale(
    *,
    patient: Patient,
    household_size: int,
    annual_income: object,
    evidence: str,
    actor: User,
    now: datetime,
    year: int = rules.FPL_YEAR,
) -> SlidingScaleDetermination:
    """Record an individual financial-need determination (§10.2): the household's % of the poverty guideline
    and the tier it falls in (none above every tier: full fee). Good for 12 months."""
    _require_scope(actor, patient.practice_id, f"patient {patient.id}")
    evidence_text = _text(evidence, "evidence")
    income = _money(annual_income, "annual_income")
    try:
        percent = rules.fpl_percent(income, int(household_size), year)
    except ValueError as error:
        raise _refuse(error) from None
    tier_rows = queries.tiers(patient.practice_id)
    if not tier_rows:
        raise ValidationFailed(f"practice {patient.practice_id} has no sliding-scale tiers; set them up first")
    chosen = rules.choose_tier([queries.as_rule_tier(t) for t in tier_rows], percent)
    today = _local_today(db.session.get(Practice, patient.practice_id), now)
    row = SlidingScaleDetermination(
        practice_id=patient.practice_id, patient_id=patient.id, tier_id=chosen.id if chosen else None,
        household_size=int(household_size), annual_income=income, fpl_percent=percent, evidence=evidence_text,
        determined_on=today, expires_on=rules.determination_expires_on(today), determined_by_id=actor.id,
        created_at=now,
    )  # fmt: skip
    db.session.add(row)
    audit_event(action="sliding_scale_determined", user=actor, now=now, target_type="patient",
                target_id=patient.id, practice_id=patient.practice_id, patient_id=patient.id,
                data={"fpl_percent": percent, "tier_id": row.tier_id, "fpl_year": year})  # fmt: skip
    db.session.commit()
    return row


@service
def waive_balance(*, patient: Patient, amount: object, reason: str, actor: User, now: datetime) -> LedgerEntry:
    """Waive part of what the patient owes (copay, deductible, balance): only with a documented hardship
    determination in force (§10.2: OIG's individual, uniform-criteria test), never more than the balance."""
    _require_scope(actor, patient.practice_id, f"patient {patient.id}")
    _require_supervisor(actor, "approve a hardship waiver")
    reason_text = _text(reason, "reason")
    value = _money(amount, "amount")
    if value <= 0:
        raise ValidationFailed("amount: more than zero")
    practice = db.session.get(Practice, patient.practice_id)
    determination = queries.current_determination(patient.id, _local_today(practice, now))
    if determination is None:
        raise ValidationFailed(
            "determination: a waiver needs a documented hardship determination in force (billing-rules §10.2); "
            "record one first"
        )
    owed = queries.balance(patient.id)
    if value > owed:
        raise ValidationFailed(f"amount: more than the balance of {owed}")
    text = f"Hardship waiver (determination #{determination.id}): {reason_text}"[:200]
    entry = LedgerEntry(practice_id=patient.practice_id, patient_id=patient.id, kind="hardship_waiver", at=now,
                        amount=-value, reason=text)  # fmt: skip
    db.session.add(entry)
    audit_event(action="hardship_waiver", user=actor, now=now, target_type="patient", target_id=patient.id,
                practice_id=patient.practice_id, patient_id=patient.id,
                data={"amount": str(value), "determination_id": determination.id})  # fmt: skip
    db.session.commit()
    return entry


# --- Payment plans ----------------------------------------------------------------------------------------------


@service
def create_payment_plan(
    *,
    patient: Patient,
    instalment_count: int,
    first_due_on: date,
    interval: str,
    autopay: bool,
    agreement_signed_on: date | None,
    actor: User,
    now: datetime,
    note: str | None = None,
) -> PaymentPlan:
    """A written payment plan for the patient's whole current balance: equal instalments to the cent (the
    remainder on the last), no interest, due dates by interval. One open plan per patient."""
    _require_scope(actor, patient.practice_id, f"patient {patient.id}")
    if queries.open_plan(patient.id) is not None:
        raise ValidationFailed("patient: already has an open payment plan")
    total = queries.balance(patient.id)
    if total <= 0:
        raise ValidationFailed(f"balance: nothing owed ({total}); a plan needs a balance")
    today = _local_today(db.session.get(Practice, patient.practice_id), now)
    if first_due_on < today:
        raise ValidationFailed("first_due_on: today or later")
    if agreement_signed_on is not None and agreement_signed_on > today:
        raise ValidationFailed("agreement_signed_on: not in the future")
    try:
        amounts = rules.split_instalments(total, int(instalment_count))
        dates = rules.instalment_due_dates(first_due_on, int(instalment_count), interval)
    except ValueError as error:
        raise _refuse(error) from None
    plan = PaymentPlan(
        practice_id=patient.practice_id, patient_id=patient.id, total=total, instalment_count=len(amounts),
        first_due_on=first_due_on, interval=interval, state="active", autopay=bool(autopay),
        agreement_signed_on=agreement_signed_on, note=_text(note, "note", required=False, limit=2000),
        created_by_id=actor.id, created_at=now,
    )  # fmt: skip
    plan.instalments = [
        PaymentPlanInstalment(number=n, due_on=d, amount=a, paid_amount=Decimal("0.00"))
        for n, (d, a) in enumerate(zip(dates, amounts, strict=True), start=1)
    ]
    db.session.add(plan)
    db.session.flush()
    audit_event(action="payment_plan_created", user=actor, now=now, target_type="payment_plan", target_id=plan.id,
                practice_id=patient.practice_id, patient_id=patient.id,
                data={"total": str(total), "instalments": len(amounts), "interval": interval})  # fmt: skip
    db.session.commit()
    return plan


def _locked_plan(plan: PaymentPlan) -> PaymentPlan:
    """Reload the plan under a row lock (PostgreSQL; SQLite serializes writers), so two payments never both
    see the same unpaid instalment."""
    stmt = select(PaymentPlan).where(PaymentPlan.id == plan.id).with_for_update()
    locked = db.session.execute(stmt.execution_options(populate_existing=True)).scalar_one()
    for inst in locked.instalments:
        db.session.refresh(inst)
    return locked


@service
def record_plan_payment(*, plan: PaymentPlan, amount: object, paid_on: date, actor: User, now: datetime) -> LedgerEntry:
    """A patient payment against the plan: a negative ``patient_payment`` ledger entry, applied to the
    instalments in order. More than the plan still owes is refused (see ``rules.allocate_payment``)."""
    _require_scope(actor, plan.practice_id, f"payment plan {plan.id}")
    value = _money(amount, "amount")
    plan = _locked_plan(plan)
    if plan.state in ("completed", "cancelled"):
        raise InvalidTransition(f"payment plan {plan.id} is {plan.state}")
    practice = db.session.get(Practice, plan.practice_id)
    today = _local_today(practice, now)
    problem = inputs.date_problem(paid_on, today=today, earliest=today - rules.PAYMENT_LOOKBACK, future_days=0)
    if problem:
        raise ValidationFailed(f"paid_on: {problem}")
    try:
        applied = rules.allocate_payment(queries.as_rule_instalments(plan.instalments), value)
    except ValueError as error:
        raise _refuse(error) from None
    by_number = {inst.number: inst for inst in plan.instalments}
    for number, part in applied:
        inst = by_number[number]
        inst.paid_amount = (inst.paid_amount or Decimal("0.00")) + part
        if inst.paid_amount >= inst.amount:
            inst.paid_on = paid_on
    numbers = ", ".join(str(n) for n, _ in applied)
    entry = LedgerEntry(practice_id=plan.practice_id, patient_id=plan.patient_id, kind="patient_payment",
                        amount=-value, reason=f"Payment plan #{plan.id}: instalment {numbers}"[:200],
                        at=datetime.combine(paid_on, time(12), tzinfo=ZoneInfo(practice.timezone)))  # fmt: skip
    db.session.add(entry)
    plan.state = rules.plan_state(plan.state, queries.as_rule_instalments(plan.instalments), paid_on)
    audit_event(action="payment_recorded", user=actor, now=now, target_type="payment_plan", target_id=plan.id,
                practice_id=plan.practice_id, patient_id=plan.patient_id,
                data={"amount": str(value), "instalments": [n for n, _ in applied]})  # fmt: skip
    db.session.commit()
    return entry


def _set_plan_state(plan: PaymentPlan, allowed: Sequence[str], state: str, note: str | None) -> None:
    result = db.session.execute(
        update(PaymentPlan)
        .where(PaymentPlan.id == plan.id, PaymentPlan.state.in_(list(allowed)))
        .values(state=state, note=note if note is not None else PaymentPlan.note)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict(f"payment plan {plan.id} is not {' or '.join(allowed)}; reload it")
    db.session.refresh(plan)


@service
def pause_plan(*, plan: PaymentPlan, reason: str, actor: User, now: datetime) -> PaymentPlan:
    """Stop reminders and defaulting while a GFE dispute or a payer appeal is pending (§10.3)."""
    _require_scope(actor, plan.practice_id, f"payment plan {plan.id}")
    if reason not in PAUSE_REASONS:
        raise ValidationFailed(f"reason: one of {', '.join(PAUSE_REASONS)}")
    stamp = f"Paused {now.date().isoformat()}: {PAUSE_REASONS[reason]}"
    _set_plan_state(plan, ("active", "defaulted"), "paused", "\n".join(filter(None, [plan.note, stamp]))[:2000])
    audit_event(action="payment_plan_paused", user=actor, now=now, target_type="payment_plan", target_id=plan.id,
                practice_id=plan.practice_id, patient_id=plan.patient_id, data={"reason": reason})  # fmt: skip
    db.session.commit()
    return plan


@service
def resume_plan(*, plan: PaymentPlan, actor: User, now: datetime) -> PaymentPlan:
    """Resume a paused plan; it is active again (or defaulted/completed, as its instalments say)."""
    _require_scope(actor, plan.practice_id, f"payment plan {plan.id}")
    today = _local_today(db.session.get(Practice, plan.practice_id), now)
    state = rules.plan_state("active", queries.as_rule_instalments(plan.instalments), today)
    _set_plan_state(plan, ("paused",), state, None)
    audit_event(action="payment_plan_resumed", user=actor, now=now, target_type="payment_plan", target_id=plan.id,
                practice_id=plan.practice_id, patient_id=plan.patient_id, data={"state": state})  # fmt: skip
    db.session.commit()
    return plan


# --- Statements -------------------------------------------------------------------------------------------------


@service
def create_statement(
    *, patient: Patient, period_from: date, period_to: date, actor: User, now: datetime
) -> PatientStatement:
    """Record a statement for the period: the balance at its end (the ledger's sum), due in 30 days."""
    _require_scope(actor, patient.practice_id, f"patient {patient.id}")
    if period_to < period_from:
        raise ValidationFailed("period_to: on or after period_from")
    practice = db.session.get(Practice, patient.practice_id)
    today = _local_today(practice, now)
    if period_to > today:
        raise ValidationFailed("period_to: not in the future")
    _start, end = period_bounds(practice, period_from, period_to)
    row = PatientStatement(
        practice_id=patient.practice_id, patient_id=patient.id, period_from=period_from, period_to=period_to,
        balance=queries.balance(patient.id, through=end), due_on=statement_due_on(today), issued_on=today,
        created_by_id=actor.id, created_at=now,
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit_event(
        action="pdf",
        user=actor,
        now=now,
        target_type="statement",
        target_id=row.id,
        practice_id=patient.practice_id,
        patient_id=patient.id,
        data={"document": "statement"},
    )
    db.session.commit()
    return row


def statement_due_on(issued_on: date) -> date:
    return issued_on + timedelta(days=rules.STATEMENT_DUE_DAYS)


def period_bounds(practice: Practice, period_from: date, period_to: date) -> tuple[datetime, datetime]:
    """The UTC instants where the period starts and where the day after it starts (practice time zone)."""
    zone = ZoneInfo(practice.timezone)
    return (datetime.combine(period_from, time(0), tzinfo=zone),
            datetime.combine(period_to + timedelta(days=1), time(0), tzinfo=zone))  # fmt: skip
