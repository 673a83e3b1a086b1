"""Reading the audit trail: one organization's events, filtered, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db

PAGE_LIMIT = 500
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class AuditFilter:
    user_id: int | None = None
    patient_id: int | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def _statement(organization_id: int, flt: AuditFilter, tz: ZoneInfo) -> Select:
    stmt = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if flt.user_id:
        stmt = stmt.where(AuditEvent.user_id == flt.user_id)
    if flt.patient_id:
        stmt = stmt.where(AuditEvent.patient_id == flt.patient_id)
    if flt.action:
        stmt = stmt.where(AuditEvent.action == flt.action)
    if flt.date_from:  # dates are the organization's calendar days
        stmt = stmt.where(AuditEvent.at >= datetime.combine(flt.date_from, time(), tz))
    if flt.date_to:
        stmt = stmt.where(AuditEvent.at < datetime.combine(flt.date_to + timedelta(days=1), time(), tz))
    return stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def events(organization_id: int, flt: AuditFilter, tz: ZoneInfo, limit: int = PAGE_LIMIT) -> list[AuditEvent]:
    """Events of ``organization_id`` matching ``flt``, newest first, at most ``limit``."""
    return list(db.session.scalars(_statement(organization_id, flt, tz).limit(limit)))


def actions(organization_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.organization_id == organization_id).distinct().order_by("action")
        )
    )


def users(organization_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.organization_id == organization_id).order_by(User.name)))
