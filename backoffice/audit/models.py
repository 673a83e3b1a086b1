"""The audit trail (HIPAA 164.312(b)): sign-ins, every read of patient data, exports, documents and admin
actions. Append-only; never holds PHI itself, only ids and the route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_at", "organization_id", "at"),
        Index("ix_audit_events_patient_at", "patient_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(40))  # login, logout, phi_view, export, pdf, admin:<what>, ...
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    endpoint: Mapped[str | None] = mapped_column(String(120))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
