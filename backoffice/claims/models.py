"""Claims and their service lines; later features (coding, EDI, posting) fill them in."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.claims.rules import ClaimStatus
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db

Money = Numeric(12, 2)


class Claim(db.Model):
    """A professional claim. ``account_number`` is CLM01: it comes back as CLP01 on the 835."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverages.id"))
    account_number: Mapped[str] = mapped_column(String(38), unique=True)
    status: Mapped[ClaimStatus] = mapped_column(str_enum(ClaimStatus, 16), default=ClaimStatus.DRAFT)
    frequency_code: Mapped[str] = mapped_column(String(1), default="1")
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    total_charge: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    patient_responsibility: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    adjustment_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    # P primary, S secondary (billed with the primary's adjudication from its 835); a secondary claim and a
    # claim rebuilt after a rejection point at the claim they came from.
    payer_sequence: Mapped[str] = mapped_column(String(1), default="P", server_default="P")
    parent_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    # The latest 277/277CA claim status category (A1, A2, A3, P1, F1, ...) and when it was reported.
    status_category: Mapped[str | None] = mapped_column(String(3))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped by every correction: submissions are idempotent per (claim, version).
    version: Mapped[int] = mapped_column(default=1)
    # The scrubber's findings when the charge was entered: [{"rule", "severity", "message", "field"}].
    findings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    adjudicated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[ClaimLine]] = relationship(
        back_populates="claim", order_by="ClaimLine.line_number", cascade="all, delete-orphan"
    )

    @property
    def open_balance(self) -> Decimal:
        """What is still owed on the claim: charge − paid − adjustments − patient responsibility, never below 0."""
        owed = (self.total_charge or 0) - (self.paid_amount or 0) - (self.adjustment_amount or 0)
        return max(Decimal(owed - (self.patient_responsibility or 0)), Decimal("0.00")).quantize(Decimal("0.01"))


class ClaimLine(db.Model):
    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "line_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    line_number: Mapped[int]
    date_of_service: Mapped[date]
    cpt: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[int] = mapped_column(default=1)
    place_of_service: Mapped[str] = mapped_column(String(2))
    diagnosis_pointers: Mapped[list[int]] = mapped_column(JSON, default=list)
    charge: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    adjustment_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    patient_responsibility: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    # What the payer's contract allows for this line (ContractedRate × units), set when a payment posts; None
    # when no contracted rate applies (remits/expected.py).
    expected_allowed: Mapped[Decimal | None] = mapped_column(Money)

    claim: Mapped[Claim] = relationship(back_populates="lines")


class ClaimVersion(db.Model):
    """What one version of a claim said (header and lines as they would go out) and why it exists: the original,
    each correction, replacement (7), void (8) or rebill. Written once per (claim, version), never updated, so a
    correction never overwrites what was billed; ``changes`` is the difference from the version before."""

    __tablename__ = "claim_versions"
    __table_args__ = (UniqueConstraint("claim_id", "version", name="uq_claim_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int]
    frequency_code: Mapped[str] = mapped_column(String(1))
    # original, correction, replacement, void, rebill
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"field", "before", "after"}]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
