"""Patient responsibility (billing-rules.md 10): sliding-scale tiers and determinations, payment plans with
their instalments, Good Faith Estimates for self-pay patients, and the statements sent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db

Money = Numeric(12, 2)


class SlidingScaleTier(db.Model):
    """One row of a practice's written sliding-scale policy: households at or under ``max_fpl_percent`` of the
    federal poverty guideline pay ``discount_percent`` less than the fee schedule, or ``flat_fee`` per session."""

    __tablename__ = "sliding_scale_tiers"
    __table_args__ = (
        CheckConstraint("discount_percent IS NOT NULL OR flat_fee IS NOT NULL", name="has_price"),
        UniqueConstraint("practice_id", "max_fpl_percent", name="uq_sliding_scale_tiers_step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    max_fpl_percent: Mapped[int]
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    flat_fee: Mapped[Decimal | None] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(default=True)


class SlidingScaleDetermination(db.Model):
    """A documented, individual financial-need determination (10.2): what was seen, which tier it gave."""

    __tablename__ = "sliding_scale_determinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("sliding_scale_tiers.id"))
    household_size: Mapped[int]
    annual_income: Mapped[Decimal] = mapped_column(Money)
    fpl_percent: Mapped[int]
    evidence: Mapped[str] = mapped_column(String(200))  # what documents were seen (tax return, pay stubs, ...)
    determined_on: Mapped[date]
    expires_on: Mapped[date]
    determined_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentPlan(db.Model):
    __tablename__ = "payment_plans"
    __table_args__ = (CheckConstraint("total > 0", name="positive_total"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    total: Mapped[Decimal] = mapped_column(Money)
    instalment_count: Mapped[int]
    first_due_on: Mapped[date]
    interval: Mapped[str] = mapped_column(String(16), default="monthly")  # monthly, biweekly, weekly
    state: Mapped[str] = mapped_column(String(16), default="active")  # active, paused, completed, defaulted, cancelled
    autopay: Mapped[bool] = mapped_column(default=False)
    agreement_signed_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    instalments: Mapped[list[PaymentPlanInstalment]] = relationship(
        back_populates="plan", order_by="PaymentPlanInstalment.number", cascade="all, delete-orphan"
    )


class PaymentPlanInstalment(db.Model):
    __tablename__ = "payment_plan_instalments"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_payment_plan_instalments_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    paid_on: Mapped[date | None]
    reminder_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))

    plan: Mapped[PaymentPlan] = relationship(back_populates="instalments")


class GoodFaithEstimate(db.Model):
    """A No Surprises Act GFE (45 CFR 149.610): itemized expected services with codes and charges, the
    provider's identifiers, the disclaimers, and the date it was due and issued."""

    __tablename__ = "good_faith_estimates"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    scheduled_on: Mapped[date | None]  # when the service was scheduled (the due-date trigger)
    requested_on: Mapped[date | None]  # or when the patient asked
    first_service_on: Mapped[date | None]
    covers_from: Mapped[date]
    covers_to: Mapped[date]
    # [{"cpt", "description", "units", "sessions", "unit_fee", "total"}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    diagnosis_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    total: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date]
    issued_on: Mapped[date | None]
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft, issued, superseded
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatientStatement(db.Model):
    """A statement sent to a patient: the period, the balance it showed and when it is due."""

    __tablename__ = "patient_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    period_from: Mapped[date]
    period_to: Mapped[date]
    balance: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date]
    issued_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
