"""Appointments: the import (CSV and API, all or nothing), the eligibility batch N business days before each
visit, cancellations and no-shows (no claim; a late-cancel fee for self-pay patients where the contract says so),
and completion when the visit's session arrives."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.appointments import rules
from backoffice.appointments.models import Appointment
from backoffice.appointments.rules import AppointmentRow, AppointmentStatus, Problem
from backoffice.audit.services import audit_event
from backoffice.calendars import is_business_day
from backoffice.clearinghouse.adapters import clearinghouse_for
from backoffice.contracts.services import contract_in_force
from backoffice.eligibility.services import coverage_question, record_271
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Authorization, Coverage, CoveragePriority, LedgerEntry, Patient
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.sessions.rules import RowError
from backoffice.work.chains import add_item
from backoffice.work.closing import close_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, ExceptionKind, InteractionKind, ItemState
from backoffice.x12.inquiry import EligibilityQuestion

log = logging.getLogger(__name__)
CHECKER = "appointment eligibility"
# Facts that, when a re-sent row changes them, make the appointment a new question for the payer.
CHECKED_FACTS = ("scheduled_start", "provider_id", "payer_id", "coverage_id", "cpt")


class AppointmentsRefused(ValidationFailed):
    """The file or request has problems; nothing was written. ``errors`` name each row and column."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the appointments; nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    cancelled: int = 0
    no_shows: int = 0
    fees: list[int] = field(default_factory=list)  # ledger entries charged (late cancel / no-show)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


@service
def import_appointments(
    *, rows: Sequence[AppointmentRow], organization_id: int, now: datetime, source: str, actor: User | None = None
) -> ImportResult:
    """Write every row or none. A new appointment_ref is a new appointment; a known one with new facts is
    rescheduled (its eligibility is asked again) or cancelled / marked no-show; a completed, cancelled or no-show
    appointment is never changed again."""
    book = _Lookups(rows, organization_id)
    result = ImportResult()
    errors: list[RowError] = []
    first_seen: dict[tuple[str, str], int] = {}
    changes: list[tuple[Appointment, AppointmentRow, bool]] = []
    for row in rows:
        resolved = _resolve(row, book, errors, first_seen, result, now)
        if resolved is not None:
            changes.append(resolved)
    if errors:
        raise AppointmentsRefused(errors)
    db.session.flush()
    for appointment, row, created in changes:
        (result.created if created else result.updated).append(appointment.id)
        if row.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            _close_missed(appointment, row, book.practices[row.practice], actor, now, result)
    db.session.commit()
    return result


def _resolve(
    row: AppointmentRow,
    book: _Lookups,
    errors: list[RowError],
    first_seen: dict[tuple[str, str], int],
    result: ImportResult,
    now: datetime,
) -> tuple[Appointment, AppointmentRow, bool] | None:
    """The appointment a row creates or changes (added to the transaction), or None when unchanged or wrong."""
    problems = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(RowError(row.row, column, message))

    key = (row.practice, row.appointment_ref)
    if key in first_seen:
        fail("appointment_ref", f"{row.appointment_ref!r} appears again (first on row {first_seen[key]})")
    first_seen.setdefault(key, row.row)
    practice = book.practices.get(row.practice)
    if practice is None:
        fail("practice", f"no practice {row.practice!r} in this organization")
        return None
    provider = book.providers.get((practice.id, row.provider_npi))
    if provider is None:
        fail("provider_npi", f"no provider with NPI {row.provider_npi} at {practice.slug}")
    payer = book.payers.get(row.payer_id)
    if payer is None:
        fail("payer_id", f"unknown payer {row.payer_id!r}")
    patient = book.patient_for(practice, row, fail)
    if len(errors) > problems or provider is None or payer is None or patient is None:
        return None
    zone = ZoneInfo(practice.timezone)
    start = _utc(row.scheduled_start, zone)
    coverage = book.coverage_for(patient, payer, row, fail)
    if len(errors) > problems:
        return None
    facts: dict[str, Any] = {"scheduled_start": start, "provider_id": provider.id, "payer_id": payer.id,
                             "coverage_id": getattr(coverage, "id", None), "cpt": row.cpt}  # fmt: skip
    existing = book.appointments.get((practice.id, row.appointment_ref))
    if existing is None:
        appointment = Appointment(
            practice_id=practice.id, external_ref=row.appointment_ref, visit_date=row.scheduled_start.date(),
            status=AppointmentStatus.SCHEDULED, received_at=now, updated_at=now, **facts,
        )  # fmt: skip
        appointment.patient, appointment.coverage = patient, coverage
        db.session.add(appointment)
        return appointment, row, True
    if existing.patient_id != patient.id:
        fail("patient_ref", "differs from the patient of this appointment_ref")
        return None
    changed = [name for name in CHECKED_FACTS if getattr(existing, name) != facts[name]]
    status = AppointmentStatus(existing.status)
    if status in rules.CLOSED_STATUSES:
        resent = row.status == status or (status == AppointmentStatus.COMPLETED
                                          and row.status == AppointmentStatus.SCHEDULED)  # fmt: skip
        if changed or not resent:
            fail("appointment_ref", f"{row.appointment_ref!r} is already {status.value}; it cannot change")
        else:
            result.unchanged += 1
        return None
    ask_again = status == AppointmentStatus.CHECKED and existing.eligibility_problem is not None
    if not changed and row.status == AppointmentStatus.SCHEDULED and not ask_again:
        result.unchanged += 1
        return None
    if changed or (ask_again and row.status == AppointmentStatus.SCHEDULED):
        # Rescheduled, another clinician, coverage or code, or sent again while a problem is open: asked again.
        for name in CHECKED_FACTS:
            setattr(existing, name, facts[name])
        existing.visit_date = row.scheduled_start.date()
        existing.coverage = coverage
        existing.status = AppointmentStatus.SCHEDULED
        existing.eligibility_checked_at = existing.benefits_check_id = None
        existing.eligibility_problem = existing.eligibility_reason = None
    existing.updated_at = now
    return existing, row, False


def _close_missed(
    appointment: Appointment, row: AppointmentRow, practice: Practice, actor: User | None, now: datetime,
    result: ImportResult,
) -> None:  # fmt: skip
    """A cancellation or no-show: no visit, so no session and no claim; its open eligibility item is moot
    (cancelled, logged); a self-pay patient is charged the contract's late-cancel fee when it applies."""
    zone = ZoneInfo(practice.timezone)
    appointment.status = row.status
    appointment.cancelled_at = _utc(row.cancelled_at, zone) if row.cancelled_at else now
    if row.status == AppointmentStatus.CANCELLED:
        result.cancelled += 1
    else:
        result.no_shows += 1
    what = "cancelled" if row.status == AppointmentStatus.CANCELLED else "a no-show"
    item = db.session.get(WorkItem, appointment.work_item_id) if appointment.work_item_id else None
    if item is not None and item.state in OPEN_STATES:
        close_item(item, now=now, actor=actor, cause="appointment-cancelled", state=ItemState.CANCELLED,
                   reason=f"Appointment {appointment.external_ref} {what}: no visit, nothing to bill")  # fmt: skip
    contract = contract_in_force(practice.id, appointment.visit_date)
    payer = db.session.get(Payer, appointment.payer_id)
    start_local = appointment.scheduled_start.astimezone(zone).replace(tzinfo=None)
    cancelled_local = appointment.cancelled_at.astimezone(zone).replace(tzinfo=None)
    fee = rules.late_cancel_fee(
        status=AppointmentStatus(row.status), start=start_local, cancelled_at=cancelled_local,
        fee=contract.late_cancel_fee if contract is not None else Decimal("0"),
        late_hours=contract.late_cancel_hours if contract is not None else rules.DEFAULT_LATE_CANCEL_HOURS,
        self_pay=str(payer.kind) == "self_pay",
    )  # fmt: skip
    if fee is None or appointment.fee_entry_id is not None:
        return
    kind = "no_show_fee" if row.status == AppointmentStatus.NO_SHOW else "late_cancel_fee"
    label = "No-show" if row.status == AppointmentStatus.NO_SHOW else "Late cancellation"
    reason = f"{label} {appointment.visit_date:%m/%d/%Y} (appointment {appointment.external_ref})"[:200]
    entry = LedgerEntry(practice_id=practice.id, patient_id=appointment.patient_id, kind=kind, amount=fee, at=now,
                        reason=reason)  # fmt: skip
    db.session.add(entry)
    db.session.flush()
    appointment.fee_entry_id = entry.id
    result.fees.append(entry.id)
    audit_event(action=kind, user=actor, now=now, organization_id=practice.organization_id, target_type="appointment",
                target_id=appointment.id, practice_id=practice.id, patient_id=appointment.patient_id,
                data={"amount": str(fee)})  # fmt: skip


class _Lookups:
    """What the rows refer to, loaded once per import."""

    def __init__(self, rows: Sequence[AppointmentRow], organization_id: int) -> None:
        slugs = {row.practice for row in rows}
        self.practices = {
            p.slug: p
            for p in db.session.scalars(
                select(Practice).where(Practice.organization_id == organization_id, Practice.slug.in_(slugs))
            )
        }
        ids = [p.id for p in self.practices.values()]
        self.providers = {
            (p.practice_id, p.npi): p for p in db.session.scalars(select(Provider).where(Provider.practice_id.in_(ids)))
        }
        self.payers = {
            p.payer_id: p for p in db.session.scalars(select(Payer).where(Payer.organization_id == organization_id))
        }
        refs = {row.patient_ref for row in rows}
        self.patients = {
            (p.practice_id, p.account_number): p
            for p in db.session.scalars(
                select(Patient).where(Patient.practice_id.in_(ids), Patient.account_number.in_(refs))
            )
        }
        self.appointments = {
            (a.practice_id, a.external_ref): a
            for a in db.session.scalars(
                select(Appointment).where(
                    Appointment.practice_id.in_(ids),
                    Appointment.external_ref.in_({row.appointment_ref for row in rows}),
                )
            )
        }
        self.coverages: dict[int, list[Coverage]] = {}
        patient_ids = [p.id for p in self.patients.values()]
        for coverage in db.session.scalars(select(Coverage).where(Coverage.patient_id.in_(patient_ids))):
            self.coverages.setdefault(coverage.patient_id, []).append(coverage)
        self._new: dict[int, list[Coverage]] = {}
        self._added: set[int] = set()  # id() of the coverages this import adds

    def patient_for(self, practice: Practice, row: AppointmentRow, fail: Any) -> Patient | None:
        """The practice's patient with this patient_ref (created on first sight); demographics must agree."""
        patient = self.patients.get((practice.id, row.patient_ref))
        if patient is None:
            patient = Patient(
                practice_id=practice.id, account_number=row.patient_ref, first_name=row.patient_first,
                last_name=row.patient_last, date_of_birth=row.patient_dob, sex=row.patient_sex,
            )  # fmt: skip
            db.session.add(patient)
            self.patients[(practice.id, row.patient_ref)] = patient
            return patient
        on_file = {"patient_first": patient.first_name, "patient_last": patient.last_name,
                   "patient_dob": patient.date_of_birth, "patient_sex": patient.sex}  # fmt: skip
        mismatched = [column for column, value in on_file.items() if getattr(row, column) != value]
        for column in mismatched:
            fail(column, "differs from the patient on file for this patient_ref")
        return None if mismatched else patient

    def coverage_for(self, patient: Patient, payer: Payer, row: AppointmentRow, fail: Any) -> Coverage | None:
        """The patient's coverage with this payer and member ID; a new primary one from the visit day when the
        patient has none in force then. A different primary in force on the visit day is refused: coverage
        changes are made on the patient's page (or by the session import), never guessed from a schedule."""
        held = (self.coverages.setdefault(patient.id, []) if patient.id is not None
                else self._new.setdefault(id(patient), []))  # fmt: skip
        visit = row.scheduled_start.date()
        same = [c for c in held if c.payer_id == payer.id and c.member_id == row.member_id]
        if same:
            if id(same[0]) in self._added and visit < same[0].effective_from:
                same[0].effective_from = visit  # added by this file: from its earliest visit
            return same[0]
        primaries = [c for c in held if c.priority == CoveragePriority.PRIMARY]
        other = [c for c in primaries if c.is_active_on(visit) or c.effective_from > visit]
        if other:
            fail("payer_id", "the patient has another primary coverage on file for the visit date; "
                             "change coverage on the patient's page")  # fmt: skip
            return None
        coverage = Coverage(patient=patient, payer_id=payer.id, member_id=row.member_id,
                            priority=CoveragePriority.PRIMARY, relationship_to_subscriber="18",
                            effective_from=visit)  # fmt: skip
        db.session.add(coverage)
        held.append(coverage)
        self._added.add(id(coverage))
        return coverage


# ---- the eligibility batch --------------------------------------------------------------------------------------


@dataclass
class CheckSummary:
    due: int = 0
    checked: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    items_opened: int = 0
    items_closed: int = 0
    failed: int = 0  # the clearinghouse did not answer: asked again at the next run
    self_pay: int = 0


def due_appointments(now: datetime, practice_ids: Sequence[int] | None = None) -> list[Appointment]:
    """Scheduled appointments whose check day has come in their practice's time zone (visit not yet past)."""
    query = select(Practice).where(Practice.active.is_(True))
    if practice_ids is not None:
        query = query.where(Practice.id.in_(list(practice_ids)))
    due: list[Appointment] = []
    for practice in db.session.scalars(query.order_by(Practice.id)):
        today = now.astimezone(ZoneInfo(practice.timezone)).date()
        days = rules.days_ahead(practice.sla_overrides)
        horizon = today + timedelta(days=days * 2 + 14)  # N business days are never more calendar days than this
        candidates = db.session.scalars(
            select(Appointment)
            .where(
                Appointment.practice_id == practice.id,
                Appointment.status == AppointmentStatus.SCHEDULED,
                Appointment.visit_date >= today,
                Appointment.visit_date <= horizon,
            )
            .order_by(Appointment.scheduled_start, Appointment.id)
        )
        due += [a for a in candidates if rules.is_due(a.visit_date, today, days, is_business_day)]
    return due


def check_due_eligibility(*, now: datetime, practice_ids: Sequence[int] | None = None) -> CheckSummary:
    """The batch: every appointment due for its check is asked about through its practice's connection (a 270 per
    visit; the 271 is recorded as a benefits check). A problem opens a *Fix coverage before the visit* item due at
    the visit, routed like any item; a clean re-check closes the item a previous check opened."""
    summary = CheckSummary()
    appointments = due_appointments(now, practice_ids)
    summary.due = len(appointments)
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    for appointment_id in [a.id for a in appointments]:
        appointment = db.session.get(Appointment, appointment_id)
        try:
            outcome = check_appointment(appointment=appointment, now=now, settings=settings)
        except Exception as error:  # noqa: BLE001 - one failing connection must not stop the batch
            db.session.rollback()
            summary.failed += 1
            log.warning("appointment %s eligibility not checked: %s", appointment_id, type(error).__name__)
            continue
        summary.checked += 1
        if outcome == "self_pay":
            summary.self_pay += 1
        elif outcome in ("opened", "kept"):
            problem = str(db.session.get(Appointment, appointment_id).eligibility_problem)
            summary.problems[problem] = summary.problems.get(problem, 0) + 1
            summary.items_opened += outcome == "opened"
        elif outcome == "closed":
            summary.items_closed += 1
    return summary


@service
def check_appointment(*, appointment: Appointment, now: datetime, settings: Any) -> str:
    """Check one appointment's eligibility now: "clean", "self_pay", "opened" (a new item), "kept" (the
    item already open stays) or "closed" (a clean re-check closed the earlier item)."""
    practice, payer = appointment.practice, appointment.payer
    if str(payer.kind) == "self_pay":
        _record(appointment, now, None, None)
        appointment.eligibility_reason = "self-pay: no insurer to ask"
        db.session.commit()
        return "self_pay"
    coverage = db.session.get(Coverage, appointment.coverage_id) if appointment.coverage_id else None
    patient, provider = appointment.patient, appointment.provider
    if coverage is not None:  # a dependent's 270 names the subscriber too (2100C) and asks about the patient (2100D)
        question = coverage_question(patient, provider, coverage, day=appointment.visit_date,
                                     trace_number=f"A{appointment.id}-{now:%y%m%d}")  # fmt: skip
    else:
        question = EligibilityQuestion(
            trace_number=f"A{appointment.id}-{now:%y%m%d}", member_id="", first_name=patient.first_name,
            last_name=patient.last_name, date_of_birth=patient.date_of_birth, sex=str(patient.sex),
            payer_id=payer.payer_id, payer_name=payer.name, provider_npi=provider.npi,
            provider_name=provider.last_name, service_date=appointment.visit_date,
        )  # fmt: skip
    adapter = clearinghouse_for(practice, settings)
    answer = adapter.check_eligibility(practice=practice, questions=[question], now=now)
    db.session.commit()  # the control number the 270 used is never handed out again
    if answer is None:
        found: tuple[Problem, str] | None = (
            Problem.NO_ANSWER, "the connection answers eligibility later (a file drop): verify benefits before the "
                               "visit by phone or portal")  # fmt: skip
        check = None
    else:
        try:
            checks = record_271(organization_id=practice.organization_id, text=answer, now=now)
        except ValidationFailed as error:
            checks, found = [], (Problem.NO_ANSWER, f"the payer's 271 could not be recorded ({error})"[:300])
        check = next((c for c in checks if coverage is not None and c.coverage_id == coverage.id), None)
        if check is not None:
            found = rules.eligibility_problem(
                rejections=[m for m in (check.messages or []) if m.startswith("AAA ")], active=check.active,
                carve_out=check.carve_out_payer_id or check.carve_out_payer_name or "",
                visits_remaining=check.visits_remaining, auth_required=check.auth_required, cpt=appointment.cpt,
                prior_auth_cpts=payer.prior_auth_cpts or (), authorized=_authorized(appointment),
            )  # fmt: skip
        elif checks:
            found = (Problem.NO_ANSWER, "the payer's 271 did not answer for this coverage")
    appointment = db.session.get(Appointment, appointment.id)
    _record(appointment, now, check.id if check is not None else None, found)
    outcome = _open_or_close(appointment, found, now)
    db.session.commit()
    return outcome


def _record(appointment: Appointment, now: datetime, check_id: int | None, found: tuple[Problem, str] | None) -> None:
    appointment.status = AppointmentStatus.CHECKED
    appointment.eligibility_checked_at, appointment.updated_at = now, now
    appointment.benefits_check_id = check_id
    appointment.eligibility_problem = found[0].value if found else None
    appointment.eligibility_reason = found[1][:300] if found else None


def _authorized(appointment: Appointment) -> bool:
    """An authorization on file for the patient and payer covers the planned CPT on the visit day, units left."""
    auths = db.session.scalars(
        select(Authorization).where(
            Authorization.patient_id == appointment.patient_id, Authorization.payer_id == appointment.payer_id
        )
    )
    return any(
        a.start_date <= appointment.visit_date <= a.end_date
        and a.remaining > 0
        and (not a.cpt_codes or appointment.cpt in a.cpt_codes)
        for a in auths
    )


def _open_or_close(appointment: Appointment, found: tuple[Problem, str] | None, now: datetime) -> str:
    item = db.session.get(WorkItem, appointment.work_item_id) if appointment.work_item_id else None
    still_open = item is not None and item.state in OPEN_STATES
    if found is None:
        if still_open:
            close_item(item, now=now, actor=None, cause=CHECKER,
                       reason=f"Eligibility re-checked before the visit on {appointment.visit_date.isoformat()}: "
                              "no problem left")  # fmt: skip
            return "closed"
        return "clean"
    if still_open:
        record_interaction(
            practice_id=item.practice_id, actor=None, actor_label=CHECKER, now=now, item=item,
            kind=InteractionKind.AUTOMATION, body=f"Re-checked before the visit: {found[1]}",
            data={"problem": found[0].value, "benefits_check_id": appointment.benefits_check_id},
        )  # fmt: skip
        return "kept"
    item, _ = add_item(
        practice_id=appointment.practice_id, kind=ExceptionKind.APPOINTMENT_ELIGIBILITY, now=now,
        reason=f"appointment {appointment.external_ref} on {appointment.visit_date.isoformat()} ({appointment.cpt}): "
               f"{found[1]}",
        patient_id=appointment.patient_id, provider_id=appointment.provider_id, payer_id=appointment.payer_id,
        dedupe_key=f"appointment:{appointment.id}:eligibility:{now:%Y%m%dT%H%M%S}",
        due_at=appointment.scheduled_start, source=CHECKER,
        evidence={"appointment_id": appointment.id, "problem": found[0].value,
                  "benefits_check_id": appointment.benefits_check_id},
    )  # fmt: skip
    appointment.work_item_id = item.id
    return "opened"


# ---- the visit's session arrives ----------------------------------------------------------------------------------


def complete_for_sessions(found: dict[int, Appointment], sessions: dict[int, Session], now: datetime) -> None:
    """Each appointment whose session arrived becomes completed, logged on the session (the planner's
    transaction: the caller commits)."""
    for session_id, appointment in found.items():
        session = sessions[session_id]
        appointment.status = AppointmentStatus.COMPLETED
        appointment.session_id, appointment.updated_at = session_id, now
        record_interaction(
            practice_id=session.practice_id, actor=None, actor_label="planner", now=now, session_id=session_id,
            kind=InteractionKind.STATUS_CHANGE,
            body=f"Appointment {appointment.external_ref} completed by this session",
            data={"appointment_id": appointment.id},
        )  # fmt: skip


def clean_check(appointment: Appointment) -> bool:
    """The appointment's eligibility ran and found nothing to fix: its visit's session needs no fresh check."""
    return (
        appointment.status == AppointmentStatus.CHECKED
        and appointment.eligibility_problem is None
        and appointment.benefits_check_id is not None
    )


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()
