"""Demo data for patient balances: a written sliding scale for each practice, determinations for a few self-pay
patients, their self-pay session charges at the tier price, a payment plan with a missed instalment (and the
sweep's reminders), a pending Good Faith Estimate and a statement. Built through the services, as a user would."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.balances import estimates, queries, rules, services, sweeps
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, LedgerEntry, Patient
from backoffice.sessions.models import Session

TIERS = [
    rules.Tier(None, "A: up to 100% FPL", 100, flat_fee=Decimal("25.00")),
    rules.Tier(None, "B: up to 150% FPL", 150, discount_percent=Decimal("60")),
    rules.Tier(None, "C: up to 200% FPL", 200, discount_percent=Decimal("40")),
    rules.Tier(None, "D: up to 250% FPL", 250, discount_percent=Decimal("20")),
]
# (household size, annual income, evidence) for the first self-pay patients of each practice.
HOUSEHOLDS = [(1, "14500", "2025 tax return"), (3, "38000", "two recent pay stubs"), (4, "61000", "W-2 for 2025")]
SESSION_CPT = "90834"


def seed_balances(now: datetime) -> None:
    """Seed the balances demo (deterministic for a given ``now``)."""
    actor = db.session.scalar(select(User).where(User.role == Role.SUPERVISOR).order_by(User.id))
    if actor is None:
        return
    practices = list(db.session.scalars(select(Practice).where(Practice.organization_id == actor.organization_id)))
    planned = estimated = False
    for practice in sorted(practices, key=lambda p: p.id):
        services.save_tiers(practice=practice, tiers=TIERS, actor=actor, now=now)
        for patient, (size, income, evidence) in zip(_self_pay_patients(practice), HOUSEHOLDS, strict=False):
            services.determine_sliding_scale(
                patient=patient, household_size=size, annual_income=income, evidence=evidence, actor=actor, now=now
            )
            _charge_sessions(patient, practice, now)
            if not planned and queries.balance(patient.id) > 0:
                _plan_with_a_missed_instalment(patient, actor, now)
                planned = True
            elif not estimated:
                _pending_gfe(patient, practice, actor, now)
                estimated = True
    sweeps.sweep_payment_plans(now=now)


def _self_pay_patients(practice: Practice) -> list[Patient]:
    stmt = (
        select(Patient)
        .join(Coverage, Coverage.patient_id == Patient.id)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Patient.practice_id == practice.id, Coverage.priority == "primary", Payer.kind == "self_pay")
        .order_by(Patient.id)
        .limit(len(HOUSEHOLDS))
    )
    return list(db.session.scalars(stmt))


def _charge_sessions(patient: Patient, practice: Practice, now: datetime) -> None:
    """Self-pay sessions are billed to the patient at the sliding-scale price (a ledger charge per session)."""
    sessions = db.session.scalars(
        select(Session)
        .where(Session.patient_id == patient.id, Session.date_of_service < now.date())
        .order_by(Session.date_of_service)
    )
    zone = ZoneInfo(practice.timezone)
    for session in sessions:
        if SESSION_CPT not in (practice.fee_schedule or {}):
            return
        fee = queries.session_fee(patient, practice, SESSION_CPT, now.date())
        at = datetime.combine(session.date_of_service, datetime.min.time(), tzinfo=zone) + timedelta(hours=18)
        db.session.add(
            LedgerEntry(
                practice_id=practice.id,
                patient_id=patient.id,
                kind="self_pay_charge",
                amount=fee.price,
                at=min(at, now),
                reason=f"Session {session.date_of_service:%m/%d} {SESSION_CPT} ({fee.basis})",
            )
        )
    db.session.commit()


def _plan_with_a_missed_instalment(patient: Patient, actor: User, now: datetime) -> None:
    """A monthly plan agreed 50 days ago: the first instalment paid, the second missed ten days ago."""
    started = now - timedelta(days=50)
    first_due = (now - timedelta(days=40)).date()
    plan = services.create_payment_plan(
        patient=patient,
        instalment_count=4,
        first_due_on=first_due,
        interval="monthly",
        autopay=False,
        agreement_signed_on=started.date(),
        actor=actor,
        now=started,
        note="Agreed by phone; written agreement signed at the front desk.",
    )
    first = plan.instalments[0]
    services.record_plan_payment(
        plan=plan,
        amount=first.amount,
        paid_on=first.due_on,
        actor=actor,
        now=datetime.combine(first.due_on, datetime.min.time(), tzinfo=now.tzinfo) + timedelta(hours=17),
    )


def _pending_gfe(patient: Patient, practice: Practice, actor: User, now: datetime) -> None:
    provider = db.session.scalar(select(Provider).where(Provider.practice_id == practice.id).order_by(Provider.id))
    fees = practice.fee_schedule or {}
    if provider is None or SESSION_CPT not in fees:
        return
    today = now.astimezone(ZoneInfo(practice.timezone)).date()
    start = today + timedelta(days=21)
    wanted = [estimates.ExpectedService(SESSION_CPT, 24)]
    if "90791" in fees:
        wanted.insert(0, estimates.ExpectedService("90791", 1))
    estimates.create_gfe(
        patient=patient,
        provider=provider,
        services=wanted,
        diagnosis_codes=["F41.1"],
        covers_from=start,
        covers_to=start + timedelta(days=180),
        scheduled_on=today,
        first_service_on=start,
        actor=actor,
        now=now,
    )
