"""Write-off requests under dual control: a biller asks, a different supervisor decides."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class WriteOffRequest(db.Model):
    __tablename__ = "write_off_requests"
    __table_args__ = (
        CheckConstraint("claim_id IS NOT NULL OR patient_id IS NOT NULL", name="has_subject"),
        CheckConstraint("amount > 0", name="positive_amount"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="dual_control"),
        Index("ix_write_off_requests_org_state", "organization_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str] = mapped_column(String(32))  # timely_filing, small_balance, hardship, uncollectible, ...
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, approved, rejected, cancelled
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
