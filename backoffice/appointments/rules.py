"""Appointments as pure values: the import format (CSV rows and API records), when a visit's eligibility check is
due (N business days before it), what in a benefits answer is a problem to fix before the visit, and whether a
cancellation or a no-show earns the practice's late-cancel fee.

Nothing here looks anything up. Error messages name the row and column and never repeat patient data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from backoffice import inputs
from backoffice.orgs.rules import npi_problem
from backoffice.patients.kinds import Sex
from backoffice.sessions.rules import PHI_COLUMNS, X12_ID, X12_LIMITS, RowError

COLUMNS = (
    "appointment_ref", "practice", "scheduled_start", "provider_npi", "patient_ref", "patient_first",
    "patient_last", "patient_dob", "patient_sex", "payer_id", "member_id", "cpt",
)  # fmt: skip
# Optional: what happened to it (blank: scheduled) and when the patient cancelled (blank: when we hear of it).
OPTIONAL_COLUMNS = ("status", "cancelled_at")
SELF_PAY_PAYER = "SELFPAY"
REF_LIMIT = 64
MAX_RECORDS_PER_REQUEST = 1000
CPT_RE = re.compile(r"^(?:[0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")  # CPT (category I/II/III) or HCPCS Level II
START_RE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([01][0-9]|2[0-3]):([0-5][0-9])$")
# Appointments are sent ahead: up to a year out; a recent past one is accepted so its outcome (a no-show) can be sent.
FUTURE_LIMIT = timedelta(days=366)
PAST_LIMIT = timedelta(days=90)
DEFAULT_DAYS_AHEAD = 2
DAYS_AHEAD_SETTING = "appointment_check_days"  # in the practice's sla_overrides, like deposit_match_days
DEFAULT_LATE_CANCEL_HOURS = 24


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED = "checked"  # eligibility ran before the visit (its result and problem are on the appointment)
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"  # a session arrived for it


# What a practice may send in the status column; checked and completed are ours to set.
SENT_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
CLOSED_STATUSES = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW, AppointmentStatus.COMPLETED})


class Problem(StrEnum):
    """Why an appointment's coverage needs a person before the visit."""

    INACTIVE = "inactive"
    CARVE_OUT = "carve_out"
    AUTH_REQUIRED = "auth_required"
    VISITS_EXHAUSTED = "visits_exhausted"
    REJECTED = "rejected"  # the payer could not answer: member not found, birth date or name not matching (AAA)
    UNCLEAR = "unclear"  # the 271 does not say whether the coverage is active
    NO_ANSWER = "no_answer"  # the connection answers later (a file drop) or the answer could not be recorded


PROBLEM_LABELS = {
    Problem.INACTIVE: "Coverage inactive",
    Problem.CARVE_OUT: "Behavioural health carved out",
    Problem.AUTH_REQUIRED: "Authorization required",
    Problem.VISITS_EXHAUSTED: "Visits exhausted",
    Problem.REJECTED: "Payer could not find the member",
    Problem.UNCLEAR: "Unclear answer",
    Problem.NO_ANSWER: "No answer yet",
}


def eligibility_result(status: str, problem: str | None, self_pay: bool) -> str:
    """What the eligibility check before the visit found, in words (the appointments screens)."""
    if self_pay:
        return "Self-pay: not asked"
    if problem:
        return PROBLEM_LABELS.get(Problem(problem), problem) if problem in set(Problem) else problem
    if status == AppointmentStatus.SCHEDULED:
        return "Not checked yet"
    if status == AppointmentStatus.CHECKED:
        return "Eligible: nothing to fix"
    return "—"


@dataclass(frozen=True)
class AppointmentRow:
    """One valid appointment row, typed; ``scheduled_start`` is the wall-clock time at the practice."""

    row: int
    appointment_ref: str
    practice: str
    scheduled_start: datetime  # naive: the practice's local time
    provider_npi: str
    patient_ref: str
    patient_first: str
    patient_last: str
    patient_dob: date
    patient_sex: Sex
    payer_id: str
    member_id: str
    cpt: str
    status: AppointmentStatus = AppointmentStatus.SCHEDULED
    cancelled_at: datetime | None = None  # naive, the practice's local time


def _local_time(value: str) -> datetime | None:
    match = START_RE.match(value)
    if not match:
        return None
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, int(match.group(2)), int(match.group(3)))


def parse_row(row: int, raw: Mapping[str, str | None], *, today: date) -> AppointmentRow | list[RowError]:
    """One appointment (a CSV row or an API record): an AppointmentRow, or every error in it."""
    errors: list[RowError] = []
    values: dict[str, str] = {}
    for column in (*COLUMNS, *OPTIONAL_COLUMNS):
        try:
            values[column] = inputs.clean_text((raw.get(column) or "").strip())
        except inputs.InputProblem as problem:
            errors.append(RowError(row, column, str(problem)))
    if None in raw:
        errors.append(RowError(row, "(end of row)", "more cells than columns in the header"))
    if errors:
        return errors

    def fail(column: str, message: str) -> None:
        errors.append(RowError(row, column, message))

    def required(column: str, limit: int = REF_LIMIT) -> str:
        value = values[column]
        if not value:
            fail(column, "required")
        elif len(value) > limit:
            fail(column, f"at most {limit} characters")
        return value

    ref, practice = required("appointment_ref"), required("practice")
    start = _local_time(values["scheduled_start"])
    if start is None:
        fail("scheduled_start", f"expected YYYY-MM-DD HH:MM (the practice's local time), got "
                                f"{values['scheduled_start'][:20]!r}")  # fmt: skip
    elif start.date() > today + FUTURE_LIMIT:
        fail("scheduled_start", f"{start.date().isoformat()} is more than a year ahead")
    elif start.date() < today - PAST_LIMIT:
        fail("scheduled_start", f"{start.date().isoformat()} is more than {PAST_LIMIT.days} days ago")
    npi = values["provider_npi"]
    problem = npi_problem(npi)
    if problem:
        fail("provider_npi", problem)
    patient_ref = required("patient_ref", 40)
    first, last = required("patient_first", 100), required("patient_last", 100)
    for column in ("patient_first", "patient_last"):
        if values[column]:
            try:
                inputs.x12_text(values[column], max_length=X12_LIMITS[column])
            except inputs.InputProblem as bad:
                fail(column, str(bad))
    dob = None
    try:
        dob = inputs.iso_date(values["patient_dob"], today=today)
    except inputs.InputProblem:
        fail("patient_dob", "expected a past date as YYYY-MM-DD")
    sex = None
    try:
        sex = Sex(values["patient_sex"])
    except ValueError:
        fail("patient_sex", f"unknown value; expected one of {', '.join(s.value for s in Sex)}")
    payer_id = required("payer_id", 20)
    member_id = values["member_id"]
    if payer_id != SELF_PAY_PAYER and not member_id:
        fail("member_id", f"required unless payer_id is {SELF_PAY_PAYER}")
    elif len(member_id) > 40:
        fail("member_id", "at most 40 characters")
    elif member_id and not X12_ID.match(member_id):
        fail("member_id", "letters, digits, spaces and hyphens only (what an 837 carries)")
    cpt = values["cpt"].upper()
    if not CPT_RE.match(cpt):
        fail("cpt", f"expected the CPT or HCPCS code planned (e.g. 90837), got {cpt[:10]!r}")
    status = AppointmentStatus.SCHEDULED
    if values["status"]:
        try:
            status = AppointmentStatus(values["status"].lower())
        except ValueError:
            status = None  # type: ignore[assignment]
        if status not in SENT_STATUSES:
            expected = ", ".join(s.value for s in SENT_STATUSES)
            fail("status", f"expected one of {expected}, got {values['status'][:20]!r}")
    cancelled_at = None
    if values["cancelled_at"]:
        cancelled_at = _local_time(values["cancelled_at"])
        if cancelled_at is None:
            fail("cancelled_at", "expected YYYY-MM-DD HH:MM (the practice's local time)")
        elif status != AppointmentStatus.CANCELLED:
            fail("cancelled_at", "only for status cancelled")
    if errors:
        return errors
    return AppointmentRow(
        row=row, appointment_ref=ref, practice=practice, scheduled_start=start, provider_npi=npi,
        patient_ref=patient_ref, patient_first=first, patient_last=last, patient_dob=dob, patient_sex=sex,
        payer_id=payer_id, member_id=member_id, cpt=cpt, status=status, cancelled_at=cancelled_at,
    )  # fmt: skip


def header_problem(header: list[str] | None) -> str | None:
    """Why a header row is not the appointment format, or None. Column order is free; names are exact."""
    return inputs.csv_header_problem(header, COLUMNS, OPTIONAL_COLUMNS)


def parse_csv(lines: Iterable[str], *, today: date) -> tuple[list[AppointmentRow], list[RowError]]:
    """A whole appointments file: its rows, or every error of every row (the header is row 1)."""
    reader = csv.DictReader(lines)
    try:
        problem = header_problem(reader.fieldnames)
    except csv.Error as error:
        return [], [RowError(1, "(header)", f"not readable as CSV: {error}")]
    if problem:
        return [], [RowError(1, "(header)", problem)]
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    rows: list[AppointmentRow] = []
    errors: list[RowError] = []
    try:
        for number, raw in enumerate(reader, start=2):
            if not any((value or "").strip() for key, value in raw.items() if key is not None):
                continue
            parsed = parse_row(number, raw, today=today)
            if isinstance(parsed, AppointmentRow):
                rows.append(parsed)
            else:
                errors.extend(parsed)
    except csv.Error as error:
        return [], [*errors, RowError(max(reader.line_num, 2), "(file)", f"not readable as CSV: {error}")]
    if not rows and not errors:
        errors.append(RowError(2, "(file)", "no appointments after the header"))
    return (rows if not errors else []), errors


def parse_records(records: object, *, today: date) -> tuple[list[AppointmentRow], list[RowError]]:
    """The ``appointments`` array of a JSON body, with the CSV's rules; records count from 1."""
    if not isinstance(records, list) or not records:
        return [], [RowError(0, "appointments", "expected a non-empty array of appointment objects")]
    if len(records) > MAX_RECORDS_PER_REQUEST:
        return [], [RowError(0, "appointments", f"at most {MAX_RECORDS_PER_REQUEST} appointments per request")]
    rows: list[AppointmentRow] = []
    errors: list[RowError] = []
    known = (*COLUMNS, *OPTIONAL_COLUMNS)
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            errors.append(RowError(number, "(appointment)", "expected an object of column: value"))
            continue
        own = [RowError(number, str(key) or "(blank name)", "unknown column") for key in record if key not in known]
        values: dict[str, str | None] = {}
        for column, value in record.items():
            if column not in known:
                continue
            if value is None or isinstance(value, str):
                values[column] = value
            else:
                own.append(RowError(number, str(column), "expected a string"))
        parsed = parse_row(number, values, today=today)
        if own or not isinstance(parsed, AppointmentRow):
            errors.extend(own + (parsed if isinstance(parsed, list) else []))
        else:
            rows.append(parsed)
    return (rows if not errors else []), errors


def shown(column: str, value: str) -> str:
    """A value as an error may show it: PHI columns never."""
    return "" if column in PHI_COLUMNS else f" {value!r}"


# ---- when the check runs ----------------------------------------------------------------------------------------


def days_ahead(overrides: Mapping[str, object] | None) -> int:
    """The practice's N: business days before the visit its eligibility runs (default 2)."""
    days = int((overrides or {}).get(DAYS_AHEAD_SETTING, DEFAULT_DAYS_AHEAD))  # type: ignore[call-overload]
    if days < 0:
        raise ValueError(f"{DAYS_AHEAD_SETTING} must be zero or more business days")
    return days


def check_day(visit: date, days: int, is_business_day: Callable[[date], bool]) -> date:
    """The ``days``-th business day before ``visit`` (weekends and holidays are not counted); 0: the visit day."""
    day, counted = visit, 0
    while counted < days:
        day -= timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def is_due(visit: date, today: date, days: int, is_business_day: Callable[[date], bool]) -> bool:
    """The batch on ``today`` checks a visit whose check day has come and that has not happened yet (an
    appointment sent late is checked at the next run)."""
    return check_day(visit, days, is_business_day) <= today <= visit


# ---- what needs a person before the visit -----------------------------------------------------------------------


def eligibility_problem(
    *,
    rejections: Sequence[str] = (),
    active: bool | None,
    carve_out: str,
    visits_remaining: int | None,
    auth_required: bool | None,
    cpt: str,
    prior_auth_cpts: Iterable[str],
    authorized: bool,
) -> tuple[Problem, str] | None:
    """What in a benefits answer must be fixed before the visit, with the reason a biller reads; None when the
    visit is clear to bill. Inactive first (nothing else matters), then a carve-out (bill that payer), then no
    visits left, then a prior authorization: required by the 271 or the payer's list for the planned CPT, and
    no authorization on file covering it on the visit day. A rejection (AAA: member not found, birth date or name
    not matching) comes before all: the payer said nothing about the coverage."""
    if rejections:
        said = "; ".join(rejections)
        return Problem.REJECTED, f"the payer rejected the inquiry: {said} (check the member ID, name and birth date)"
    if active is False:
        return Problem.INACTIVE, "the payer reports the coverage inactive on the visit date"
    if carve_out:
        return Problem.CARVE_OUT, f"behavioral health is carved out to {carve_out}: verify with that payer"
    if active is None:
        return Problem.UNCLEAR, "the 271 does not say whether the coverage is active"
    if visits_remaining == 0:
        return Problem.VISITS_EXHAUSTED, "the plan's visit limit is used up"
    listed = set(prior_auth_cpts)
    needs_auth = cpt in listed or (bool(auth_required) and not listed)
    if needs_auth and not authorized:
        return Problem.AUTH_REQUIRED, f"prior authorization required for {cpt} and none on file covers the visit"
    return None


# ---- cancellations and no-shows ---------------------------------------------------------------------------------


def late_cancel_fee(
    *,
    status: AppointmentStatus,
    start: datetime,
    cancelled_at: datetime | None,
    fee: Decimal,
    late_hours: int,
    self_pay: bool,
) -> Decimal | None:
    """The fee the patient is charged for a missed visit, or None: only a self-pay patient, only where the
    contract sets a fee, for a no-show, or a cancellation less than ``late_hours`` before the start (both times in
    one zone)."""
    if not self_pay or fee <= 0:
        return None
    if status == AppointmentStatus.NO_SHOW:
        return fee
    if status == AppointmentStatus.CANCELLED and cancelled_at is not None:
        return fee if start - cancelled_at < timedelta(hours=late_hours) else None
    return None
