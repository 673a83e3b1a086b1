"""Client contracts and the invoices the billing company sends its client practices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.contracts.rules import FeeBasis, InvoiceKind, InvoiceStatus, LineKind, Terms
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db
from backoffice.orgs.models import Practice

Money = Numeric(12, 2)


class ClientContract(db.Model):
    """What a practice bought from us from ``effective_from`` (to ``effective_to``, inclusive, or open-ended): the
    steps we own, the fee terms and the SLA we promise per step (hours). A new version is a new row; contracts of
    one practice never overlap."""

    __tablename__ = "client_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    owned_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    basis: Mapped[FeeBasis] = mapped_column(str_enum(FeeBasis, 12))
    monthly_minimum: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    per_claim: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    per_appeal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    setup_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    # Charged to a self-pay patient for a no-show or a cancellation less than late_cancel_hours before the visit
    # (appointments/); 0: no fee.
    late_cancel_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    late_cancel_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    sla_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # step → hours we promise
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    practice: Mapped[Practice] = relationship()

    @property
    def terms(self) -> Terms:
        return Terms(percent=self.percent, basis=FeeBasis(self.basis), monthly_minimum=self.monthly_minimum,
                     per_claim=self.per_claim, per_appeal=self.per_appeal, setup_fee=self.setup_fee)  # fmt: skip

    def applies_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class Invoice(db.Model):
    """One month's invoice to one practice, or a credit note against one. Never edited once approved: a
    correction is a credit note (``credits_invoice_id``)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("organization_id", "number", name="uq_invoices_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("client_contracts.id"))
    kind: Mapped[InvoiceKind] = mapped_column(str_enum(InvoiceKind, 12), default=InvoiceKind.INVOICE)
    number: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[InvoiceStatus] = mapped_column(str_enum(InvoiceStatus, 10), default=InvoiceStatus.DRAFT)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    credits_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    reason: Mapped[str | None] = mapped_column(String(500))  # a credit note's reason
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_on: Mapped[date | None]
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    practice: Mapped[Practice] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.id", cascade="all, delete-orphan"
    )


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    kind: Mapped[LineKind] = mapped_column(str_enum(LineKind, 12))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Money)  # the basis amount for a percentage line, else a count
    rate: Mapped[Decimal] = mapped_column(Money)  # the percent for a percentage line, else the unit price
    amount: Mapped[Decimal] = mapped_column(Money)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    sources: Mapped[list[InvoiceSource]] = relationship(
        back_populates="line", order_by="InvoiceSource.id", cascade="all, delete-orphan"
    )


class InvoiceSource(db.Model):
    """One payment, refund, claim or appeal behind an invoice line. (kind, source_id) is unique: nothing is
    billed twice, and a late posting lands on the next month's invoice."""

    __tablename__ = "invoice_sources"
    __table_args__ = (UniqueConstraint("kind", "source_id", name="uq_invoice_sources_kind_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), index=True)
    # claim_payment, patient_ledger, claim, appeal, contract (the setup fee)
    kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money)  # what it added to the basis (a count line: 1)
    on: Mapped[date]  # the day it happened, in the practice's time zone

    line: Mapped[InvoiceLine] = relationship(back_populates="sources")
