"""Reads about appointments: the open appointment a session arrives for (same practice, patient, provider, day),
and the appointments screens' list (scoped by the caller to the user's practices)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_

from backoffice.appointments import rules
from backoffice.appointments.models import Appointment
from backoffice.appointments.rules import AppointmentStatus
from backoffice.calendars import is_business_day
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Patient
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


LIST_ROWS = 500


@dataclass(frozen=True)
class AppointmentFilters:
    """The appointments screen's filters (visit dates in the practice's time zone; None or "" for any)."""

    practice_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: str = ""
    problem: str = ""  # a rules.Problem value, "any" (every problem), "none" (clean insured checks) or "" (any)


@dataclass(frozen=True)
class ListedAppointment:
    appointment: Appointment
    patient: Patient
    practice_name: str
    provider_name: str
    payer_name: str
    self_pay: bool
    local_start: datetime  # the visit's start in the practice's time zone
    timezone: str
    check_day: date | None  # the day eligibility is (or was) due to be asked, for an insured open appointment

    @property
    def result(self) -> str:
        return rules.eligibility_result(self.appointment.status.value, self.appointment.eligibility_problem,
                                        self.self_pay)  # fmt: skip


def list_appointments(
    practice_ids: Iterable[int], filters: AppointmentFilters, *, limit: int = LIST_ROWS
) -> tuple[list[ListedAppointment], bool]:
    """The appointments of ``practice_ids`` (the caller's scope) that match ``filters``, soonest visit first, and
    whether more than ``limit`` matched."""
    scope = set(practice_ids)
    if filters.practice_id is not None:
        scope &= {filters.practice_id}
    if not scope:
        return [], False
    stmt = (
        select(
            Appointment,
            Patient,
            Practice.name,
            Practice.timezone,
            Practice.sla_overrides,
            Provider.first_name,
            Provider.last_name,
            Payer.name,
            Payer.kind,
        )  # fmt: skip
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Practice, Practice.id == Appointment.practice_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(Payer, Payer.id == Appointment.payer_id)
        .where(Appointment.practice_id.in_(scope))
    )
    if filters.date_from is not None:
        stmt = stmt.where(Appointment.visit_date >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(Appointment.visit_date <= filters.date_to)
    if filters.status:
        stmt = stmt.where(Appointment.status == filters.status)
    if filters.problem == "any":
        stmt = stmt.where(Appointment.eligibility_problem.is_not(None))
    elif filters.problem == "none":
        stmt = stmt.where(
            Appointment.status == AppointmentStatus.CHECKED,
            Appointment.eligibility_problem.is_(None),
            Payer.kind != "self_pay",
        )  # fmt: skip (self-pay is never asked about)
    elif filters.problem:
        stmt = stmt.where(Appointment.eligibility_problem == filters.problem)
    rows = db.session.execute(stmt.order_by(Appointment.scheduled_start, Appointment.id).limit(limit + 1)).all()
    listed = []
    for appointment, patient, practice_name, tz, overrides, first, last, payer_name, payer_kind in rows[:limit]:
        self_pay = str(payer_kind) == "self_pay"
        check = None
        if not self_pay and appointment.status in (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED):
            check = rules.check_day(appointment.visit_date, rules.days_ahead(overrides), is_business_day)
        listed.append(ListedAppointment(appointment, patient, practice_name, f"{first} {last}", payer_name, self_pay,
                                        appointment.scheduled_start.astimezone(ZoneInfo(tz)), tz, check))  # fmt: skip
    return listed, len(rows) > limit
