"""An appointment: a visit a practice has scheduled, before any session exists for it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.appointments.rules import AppointmentStatus
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, Patient


class Appointment(db.Model):
    """One scheduled visit. ``external_ref`` is the practice's own reference (unique per practice); ``visit_date``
    is the day of ``scheduled_start`` in the practice's time zone (what a session's date of service matches)."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("practice_id", "external_ref", name="uq_appointments_practice_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverages.id"))
    cpt: Mapped[str] = mapped_column(String(5))
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime())
    visit_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[AppointmentStatus] = mapped_column(str_enum(AppointmentStatus, 16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The eligibility check before the visit: when it ran, the benefits check it recorded, and the problem found
    # (appointments.rules.Problem) with its reason and the work item it opened.
    eligibility_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    benefits_check_id: Mapped[int | None] = mapped_column(ForeignKey("benefits_checks.id"))
    eligibility_problem: Mapped[str | None] = mapped_column(String(32))
    eligibility_reason: Mapped[str | None] = mapped_column(String(300))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    # The session that completed it, and the late-cancel/no-show fee charged to the patient.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    fee_entry_id: Mapped[int | None] = mapped_column(ForeignKey("patient_ledger.id"))

    practice: Mapped[Practice] = relationship()
    patient: Mapped[Patient] = relationship()
    provider: Mapped[Provider] = relationship()
    payer: Mapped[Payer] = relationship()
    coverage: Mapped[Coverage | None] = relationship()
