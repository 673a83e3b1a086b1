"""Appeal letter templates (denial family x payer x level) and the appeals filed from them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class AppealTemplate(db.Model):
    """A letter body rendered in a sandbox; ``payer_id`` null means any payer. The most specific active
    template for (family, payer, level) wins."""

    __tablename__ = "appeal_templates"
    __table_args__ = (Index("ix_appeal_templates_lookup", "organization_id", "denial_family", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(120))
    denial_family: Mapped[str] = mapped_column(String(32))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    level: Mapped[int] = mapped_column(default=1)  # 1, 2 internal levels; 3 external review
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Appeal(db.Model):
    """One appeal of one claim at one level: the letter as the biller left it, its deadline, when and how it
    was sent, and the payer's decision."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_org_status", "organization_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("appeal_templates.id"))
    level: Mapped[int] = mapped_column(default=1)
    denial_family: Mapped[str] = mapped_column(String(32))
    letter: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))  # the amount in dispute
    deadline: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, sent, decided, withdrawn
    sent_on: Mapped[date | None]
    sent_method: Mapped[str | None] = mapped_column(String(16))  # fax, mail, portal, email
    reference_number: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(16))  # overturned, upheld, partial
    outcome_on: Mapped[date | None]
    recovered_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
