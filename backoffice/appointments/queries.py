"""Reads about appointments: the open appointment a session arrives for (same practice, patient, provider, day)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, tuple_

from backoffice.appointments.models import Appointment
from backoffice.appointments.rules import AppointmentStatus
from backoffice.extensions import db
from backoffice.sessions.models import Session

OPEN = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CHECKED.value)


def appointments_for_sessions(sessions: Iterable[Session]) -> dict[int, Appointment]:
    """session id → the scheduled or checked appointment it is the visit of (the earliest when two match)."""
    by_key = {(s.practice_id, s.patient_id, s.provider_id, s.date_of_service): s.id for s in sessions}
    if not by_key:
        return {}
    found: dict[int, Appointment] = {}
    keys = list(by_key)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        rows = db.session.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id.in_({k[1] for k in chunk}),
                Appointment.status.in_(OPEN),
                tuple_(
                    Appointment.practice_id, Appointment.patient_id, Appointment.provider_id, Appointment.visit_date
                ).in_(chunk),
            )  # fmt: skip
            .order_by(Appointment.scheduled_start, Appointment.id)
        )
        for appointment in rows:
            key = (appointment.practice_id, appointment.patient_id, appointment.provider_id, appointment.visit_date)
            found.setdefault(by_key[key], appointment)
    return found


def appointments_of_practices(practice_ids: Iterable[int], *, limit: int = 500) -> list[Appointment]:
    """The practices' appointments, soonest first (for the API and the command line)."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.practice_id.in_(list(practice_ids)))
            .order_by(Appointment.scheduled_start, Appointment.id)
            .limit(limit)
        )
    )
