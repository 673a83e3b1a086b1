"""A request to the practice: the facts of a ``practice_request`` work item (its type, message, the practice's
response due time and reminders, the answer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db
from backoffice.work.models import WorkItem


class PracticeRequest(db.Model):
    __tablename__ = "practice_requests"
    __table_args__ = (Index("ix_practice_requests_practice_open", "practice_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), unique=True)  # the request item
    origin_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)  # the item it came from
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    request_type: Mapped[str] = mapped_column(String(32))  # rules.RequestType
    message: Mapped[str] = mapped_column(Text)
    blocks_submission: Mapped[bool] = mapped_column(default=False)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime())  # the practice's response SLA
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[WorkItem] = relationship(foreign_keys=[work_item_id])
    origin: Mapped[WorkItem] = relationship(foreign_keys=[origin_item_id])
