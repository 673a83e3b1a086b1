"""Posted remittances (835): one row per payment, per claim paid and per adjustment, so every dollar the
payer moved can be traced back to the CAS that moved it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db

Money = Numeric(12, 2)


class Remittance(db.Model):
    """One 835 transaction, posted. (organization, payer, trace number) is unique: a duplicate ERA is refused."""

    __tablename__ = "remittances"
    __table_args__ = (
        UniqueConstraint("organization_id", "payer_identifier", "trace_number", name="uq_remittances_trace"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"), index=True)
    payer_identifier: Mapped[str] = mapped_column(String(80))  # as the 835 named the payer
    payer_name: Mapped[str] = mapped_column(String(200))
    trace_number: Mapped[str] = mapped_column(String(80))  # TRN02: check or EFT number
    payment_method: Mapped[str] = mapped_column(String(3))
    payment_date: Mapped[date | None]
    total_paid: Mapped[Decimal] = mapped_column(Money)
    payee_npi: Mapped[str | None] = mapped_column(String(10))
    edi_file_id: Mapped[int | None] = mapped_column(ForeignKey("edi_files.id"), index=True)
    transaction_control_number: Mapped[str] = mapped_column(String(9))
    # PLB as parsed: [{"reason", "reference", "amount"}] (positive reduces the payment); ``plb_rows`` are the
    # same adjustments as rows, with what posting did with each.
    provider_adjustments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # "835" (an ERA, uploaded or received) or "paper" (an EOB keyed in by a poster).
    source: Mapped[str] = mapped_column(String(8), default="835", server_default="835")
    claims_posted: Mapped[int] = mapped_column(default=0)
    claims_unmatched: Mapped[int] = mapped_column(default=0)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    payments: Mapped[list[ClaimPayment]] = relationship(back_populates="remittance", order_by="ClaimPayment.id")
    plb_rows: Mapped[list[ProviderAdjustment]] = relationship(order_by="ProviderAdjustment.id")


class ClaimPayment(db.Model):
    """One CLP of a posted 835. ``claim_id`` is null when CLP01 matched no claim of ours (an exception item
    holds it for a person)."""

    __tablename__ = "claim_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    account_number: Mapped[str] = mapped_column(String(38))  # CLP01
    status_code: Mapped[str] = mapped_column(String(2))  # CLP02
    charge: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal] = mapped_column(Money)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    is_reversal: Mapped[bool] = mapped_column(default=False)
    remarks: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Money received but not applied to the claim: a duplicate payment (the claim was already paid for these
    # lines) is kept whole here, an overpayment credit for a person to refund or apply; never in ``paid_amount``.
    unapplied_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    # Only while CLP01 matched no claim: the CLP's claim-level CAS and its service lines as the 835 sent them
    # (``{"adjustments": [...], "services": [...]}``, remits/unmatched.py), so a person can apply it line by line.
    unmatched_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    remittance: Mapped[Remittance] = relationship(back_populates="payments")
    adjustments: Mapped[list[PaymentAdjustment]] = relationship(
        back_populates="claim_payment", order_by="PaymentAdjustment.id", cascade="all, delete-orphan"
    )


class PaymentAdjustment(db.Model):
    """One CAS triple as posted, with what we did about it (``disposition``: contractual, patient, denial,
    informational) and, for a service-level CAS, the claim line it belongs to."""

    __tablename__ = "payment_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_payment_id: Mapped[int] = mapped_column(ForeignKey("claim_payments.id"), index=True)
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    group: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    disposition: Mapped[str] = mapped_column(String(16))
    remarks: Mapped[list[str]] = mapped_column(JSON, default=list)

    claim_payment: Mapped[ClaimPayment] = relationship(back_populates="adjustments")


class PlbKind:
    RECOUPMENT = "recoupment"  # WO, 72, FB: money taken back from a claim paid before
    INTEREST = "interest"  # L6: interest the payer owes for paying late; never a claim payment
    OTHER = "other"  # anything else: an item holds it for a person


class ProviderAdjustment(db.Model):
    """One PLB adjustment (PLB03/04 pair) of a posted 835, with what posting did with it: a recoupment reduced the
    payment of ``claim_id`` (when PLB03-2 named one of ours), interest was recorded as interest, anything else
    opened an item. A positive ``amount`` reduces the payment (BPR02 = ΣCLP04 − Σamount)."""

    __tablename__ = "provider_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    provider_identifier: Mapped[str] = mapped_column(String(50))  # PLB01
    fiscal_period: Mapped[date | None]  # PLB02
    reason: Mapped[str] = mapped_column(String(2))  # PLB03-1
    reference: Mapped[str] = mapped_column(String(50))  # PLB03-2
    amount: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(16))  # PlbKind
    # A recoupment on a claim: how its amount was spread over the claim's lines ({claim line id: "amount"}), so
    # a reversal (a negative recoupment) gives back to the same lines.
    line_amounts: Mapped[dict[str, str] | None] = mapped_column(JSON)
