"""An attached document: the bytes live in storage (``storage_key``), the row says what and whose it is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(10))  # item, claim, appeal, patient
    target_id: Mapped[int]
    filename: Mapped[str] = mapped_column(String(120))  # display name only; never a path
    content_type: Mapped[str] = mapped_column(String(40))  # sniffed from the bytes
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
