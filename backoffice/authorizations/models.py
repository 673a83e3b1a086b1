"""What each billed claim took from an authorization: one row per (authorization, claim, date of service)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class AuthorizationUse(db.Model):
    """Units (or one visit) of ``authorization_id`` consumed by a claim's lines on one date of service.

    ``Authorization.used`` is kept equal to its imported starting count plus the units of its unreleased uses; a
    void or a payer reversal releases a use (``released_at``), a repayment takes it again."""

    __tablename__ = "authorization_uses"
    __table_args__ = (
        UniqueConstraint("authorization_id", "claim_id", "date_of_service", name="uq_authorization_uses_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    date_of_service: Mapped[date]
    cpts: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_reason: Mapped[str | None] = mapped_column(String(120))
