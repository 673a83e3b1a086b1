"""Patient payments, refund requests and bank deposits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db

Money = Numeric(12, 2)


class PatientPayment(db.Model):
    """Money a patient paid (copay at the desk, a mailed check, a card, cash). Its applications are negative
    ``patient_payment`` ledger entries pointing back at it; what no balance took stays as ``unapplied`` credit."""

    __tablename__ = "patient_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive_amount"),
        CheckConstraint("unapplied >= 0 AND unapplied <= amount", name="unapplied_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    method: Mapped[str] = mapped_column(String(8))  # copay, check, card, cash
    reference: Mapped[str | None] = mapped_column(String(80))  # check number, card authorization, ...
    received_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    unapplied: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    batch: Mapped[str | None] = mapped_column(String(40))  # the deposit batch it went to the bank in
    deposit_id: Mapped[int | None] = mapped_column(ForeignKey("deposits.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefundRequest(db.Model):
    """Giving back a credit balance: a patient's (unapplied payments) or a payer's (a claim paid more than its
    balance). Dual control as for write-offs: the approver is never the requester; posting reduces the credit."""

    __tablename__ = "refund_requests"
    __table_args__ = (
        CheckConstraint("patient_id IS NOT NULL OR claim_id IS NOT NULL", name="has_subject"),
        CheckConstraint("amount > 0", name="positive_amount"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="dual_control"),
        Index("ix_refund_requests_org_state", "organization_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)  # a patient refund
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)  # a payer refund
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, approved, rejected, posted
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reference: Mapped[str | None] = mapped_column(String(80))  # the refund check number or card reversal id


class Deposit(db.Model):
    """One bank deposit a poster recorded for a practice: an EFT (its trace number is the ERA's TRN02, the CAQH
    CORE reassociation key), a payer's check (its number) or a batch of patient payments."""

    __tablename__ = "deposits"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive_amount"),
        Index("ix_deposits_practice_trace", "practice_id", "trace_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    deposited_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(8))  # eft, check, patient (a batch of patient payments)
    trace_number: Mapped[str | None] = mapped_column(String(80))  # EFT trace or check number (TRN02)
    batch: Mapped[str | None] = mapped_column(String(40))  # the patient-payment batch it carried
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id"), index=True)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
