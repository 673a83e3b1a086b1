"""Routing rules: which queue or person a manual item goes to when it becomes ready."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class RoutingRule(db.Model):
    """Matches items by practice, payer, kind, denial family and skill (null = any), first match by ``position``.

    The target is a queue, a person, or a pool of people (``user_ids``, or everyone with ``required_skill`` who
    works ``target_queue``) served round-robin (``last_assigned_user_id`` is the cursor) or least-loaded.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_org_position", "organization_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    kind: Mapped[str | None] = mapped_column(String(32))
    denial_family: Mapped[str | None] = mapped_column(String(32))
    required_skill: Mapped[str | None] = mapped_column(String(64))
    target_queue: Mapped[str | None] = mapped_column(String(64))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # none (queue only), person, round_robin, least_loaded
    distribution: Mapped[str] = mapped_column(String(16), default="none")
    user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    last_assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
