"""Demo appointments: each practice's next business days are booked for some of its insured patients, so the
appointment-eligibility flow (or `backoffice appointments check-eligibility`) has visits to ask the Sandbox about."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.appointments.models import Appointment
from backoffice.appointments.rules import AppointmentStatus
from backoffice.calendars import is_business_day
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, CoveragePriority, Patient

PER_PRACTICE = 8
BUSINESS_DAYS = 4
CPTS = ("90837", "90834")


def _next_business_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        day += timedelta(days=1)
        if is_business_day(day):
            days.append(day)
    return days


def seed_appointments(now: datetime) -> int:
    """Book the demo practices' next business days; returns how many appointments were made."""
    made = 0
    for practice in db.session.scalars(select(Practice).where(Practice.active.is_(True)).order_by(Practice.id)):
        zone = ZoneInfo(practice.timezone)
        days = _next_business_days(now.astimezone(zone).date(), BUSINESS_DAYS)
        provider = db.session.scalars(
            select(Provider).where(Provider.practice_id == practice.id, Provider.active.is_(True)).order_by(Provider.id)
        ).first()
        if provider is None:
            continue
        insured = db.session.execute(
            select(Patient, Coverage)
            .join(Coverage, Coverage.patient_id == Patient.id)
            .join(Payer, Payer.id == Coverage.payer_id)
            .where(
                Patient.practice_id == practice.id,
                Coverage.priority == CoveragePriority.PRIMARY,
                Coverage.effective_to.is_(None),
                Payer.kind != "self_pay",
            )  # fmt: skip
            .order_by(Patient.id)
            .limit(PER_PRACTICE)
        ).all()
        booked = [(patient, coverage) for patient, coverage in insured]
        for number, (patient, coverage) in enumerate(booked):
            day = days[number % len(days)]
            local = datetime.combine(day, time(9 + number % 8, 0), tzinfo=zone)
            db.session.add(Appointment(
                practice_id=practice.id, external_ref=f"APPT-{practice.id}-{number + 1:03d}", patient_id=patient.id,
                provider_id=provider.id, payer_id=coverage.payer_id, coverage_id=coverage.id,
                cpt=CPTS[number % len(CPTS)], scheduled_start=local.astimezone(UTC), visit_date=day,
                status=AppointmentStatus.SCHEDULED, received_at=now, updated_at=now,
            ))  # fmt: skip
            made += 1
    db.session.commit()
    return made
