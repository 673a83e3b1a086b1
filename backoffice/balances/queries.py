"""Patient-balance reads: the patients list, one patient's ledger, plan, estimates, statements and determinations,
the self-pay test and the fee a session costs. Always scoped by the caller (``practice_ids``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from backoffice.balances import rules
from backoffice.balances.models import (
    GoodFaithEstimate,
    PatientStatement,
    PaymentPlan,
    PaymentPlanInstalment,
    SlidingScaleDetermination,
    SlidingScaleTier,
)
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, CoveragePriority, LedgerEntry, Patient

PAGE_SIZE = 50
OPEN_PLAN_STATES = ("active", "paused", "defaulted")


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    practice_name: str
    balance: Decimal


def patients_page(practice_ids: set[int], *, search: str = "", page: int = 1) -> tuple[list[PatientRow], bool]:
    """One page of patients in ``practice_ids`` (search: account number prefix or last name prefix,
    case-insensitive), each with its balance; and whether there is a next page. Always LIMITed."""
    if not practice_ids:
        return [], False
    balance = (
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.patient_id == Patient.id)
        .correlate(Patient)
        .scalar_subquery()
    )
    stmt = (
        select(Patient, Practice.name, balance)
        .join(Practice, Practice.id == Patient.practice_id)
        .where(Patient.practice_id.in_(practice_ids))
        .order_by(Patient.last_name, Patient.first_name, Patient.id)
    )
    term = search.strip()
    if term:
        like = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                func.lower(Patient.last_name).like(like.lower(), escape="\\"),
                Patient.account_number.like(like, escape="\\"),
            )
        )
    page = max(page, 1)
    rows = db.session.execute(stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    out = [PatientRow(p, name, Decimal(b or 0).quantize(rules.CENT)) for p, name, b in rows[:PAGE_SIZE]]
    return out, len(rows) > PAGE_SIZE


def patient_in_scope(patient_id: int, practice_ids: set[int]) -> Patient | None:
    patient = db.session.get(Patient, patient_id)
    return patient if patient is not None and patient.practice_id in practice_ids else None


def balance(patient_id: int, *, through: datetime | None = None) -> Decimal:
    """The sum of the patient's ledger (up to ``through``, exclusive, when given)."""
    stmt = select(func.sum(LedgerEntry.amount)).where(LedgerEntry.patient_id == patient_id)
    if through is not None:
        stmt = stmt.where(LedgerEntry.at < through)
    return Decimal(db.session.scalar(stmt) or 0).quantize(rules.CENT)


def ledger(patient_id: int, *, start: datetime | None = None, end: datetime | None = None) -> list[LedgerEntry]:
    stmt = select(LedgerEntry).where(LedgerEntry.patient_id == patient_id)
    if start is not None:
        stmt = stmt.where(LedgerEntry.at >= start)
    if end is not None:
        stmt = stmt.where(LedgerEntry.at < end)
    return list(db.session.scalars(stmt.order_by(LedgerEntry.at, LedgerEntry.id)))


def tiers(practice_id: int, *, active_only: bool = True) -> list[SlidingScaleTier]:
    stmt = select(SlidingScaleTier).where(SlidingScaleTier.practice_id == practice_id)
    if active_only:
        stmt = stmt.where(SlidingScaleTier.active.is_(True))
    return list(db.session.scalars(stmt.order_by(SlidingScaleTier.max_fpl_percent)))


def as_rule_tier(row: SlidingScaleTier) -> rules.Tier:
    return rules.Tier(row.id, row.name, row.max_fpl_percent, row.discount_percent, row.flat_fee, row.active)


def determinations(patient_id: int) -> list[SlidingScaleDetermination]:
    stmt = select(SlidingScaleDetermination).where(SlidingScaleDetermination.patient_id == patient_id)
    return list(db.session.scalars(stmt.order_by(SlidingScaleDetermination.determined_on.desc(),
                                                  SlidingScaleDetermination.id.desc())))  # fmt: skip


def current_determination(patient_id: int, today: date) -> SlidingScaleDetermination | None:
    """The latest determination in force on ``today`` (none once 12 months have passed)."""
    for row in determinations(patient_id):
        if rules.determination_current(row.determined_on, row.expires_on, today):
            return row
    return None


def primary_coverage(patient_id: int, day: date) -> Coverage | None:
    stmt = select(Coverage).where(Coverage.patient_id == patient_id, Coverage.priority == CoveragePriority.PRIMARY)
    return next((c for c in db.session.scalars(stmt) if c.is_active_on(day)), None)


def is_self_pay(patient_id: int, day: date) -> bool:
    """No primary coverage in force on ``day``, or the primary "payer" is the patient (self_pay kind)."""
    coverage = primary_coverage(patient_id, day)
    if coverage is None:
        return True
    return str(db.session.get(Payer, coverage.payer_id).kind) == "self_pay"


@dataclass(frozen=True)
class Fee:
    cpt: str
    full_fee: Decimal
    price: Decimal
    basis: str  # "fee schedule" or "sliding scale: <tier>"


def session_fee(patient: Patient, practice: Practice, cpt: str, today: date) -> Fee:
    """What one session of ``cpt`` costs this patient: the practice's fee schedule, or for a self-pay patient
    with a current sliding-scale determination, the price of the tier it gave. KeyError: no fee for ``cpt``."""
    full = Decimal(str(practice.fee_schedule[cpt])).quantize(rules.CENT)
    if is_self_pay(patient.id, today):
        found = current_determination(patient.id, today)
        tier = db.session.get(SlidingScaleTier, found.tier_id) if found and found.tier_id else None
        if tier is not None:
            return Fee(cpt, full, rules.tier_price(as_rule_tier(tier), full), f"sliding scale: {tier.name}")
    return Fee(cpt, full, full, "fee schedule")


def open_plan(patient_id: int) -> PaymentPlan | None:
    stmt = select(PaymentPlan).where(PaymentPlan.patient_id == patient_id, PaymentPlan.state.in_(OPEN_PLAN_STATES))
    return db.session.scalars(stmt.order_by(PaymentPlan.id.desc())).first()


def plans(patient_id: int) -> list[PaymentPlan]:
    stmt = select(PaymentPlan).where(PaymentPlan.patient_id == patient_id).order_by(PaymentPlan.id.desc())
    return list(db.session.scalars(stmt))


def as_rule_instalments(rows: Sequence[PaymentPlanInstalment]) -> list[rules.Instalment]:
    return [rules.Instalment(r.number, r.due_on, r.amount, r.paid_amount or Decimal("0.00")) for r in rows]


def estimates(patient_id: int) -> list[GoodFaithEstimate]:
    stmt = select(GoodFaithEstimate).where(GoodFaithEstimate.patient_id == patient_id)
    return list(db.session.scalars(stmt.order_by(GoodFaithEstimate.id.desc())))


def statements(patient_id: int) -> list[PatientStatement]:
    stmt = select(PatientStatement).where(PatientStatement.patient_id == patient_id)
    return list(db.session.scalars(stmt.order_by(PatientStatement.id.desc())))


def instalments_due(plan: PaymentPlan | None, through: date) -> list[PaymentPlanInstalment]:
    """The plan's unpaid instalments due on or before ``through`` (what a statement asks for)."""
    if plan is None:
        return []
    return [i for i in plan.instalments if i.due_on <= through and i.amount - (i.paid_amount or 0) > 0]


def practices(practice_ids: set[int]) -> list[Practice]:
    if not practice_ids:
        return []
    return list(db.session.scalars(select(Practice).where(Practice.id.in_(practice_ids)).order_by(Practice.name)))
