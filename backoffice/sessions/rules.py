"""The session import format (CSV) as pure parsing: a row of text in, typed facts or named errors out.

Nothing here looks anything up; services resolve practices, providers, patients and payers. Error messages
name the row and column and never repeat patient data (names, dates of birth, member IDs, account numbers).

Every cell goes through ``backoffice.inputs`` first: no control character (NUL included), NFC-normalised text,
ASCII digits for numbers, plausible dates; names, addresses and identifiers that an 837 carries must be what X12
can carry (accented Latin letters are spelled in ASCII there; emoji, other scripts, ``* : ^ ~ = < >`` are refused).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from backoffice import inputs
from backoffice.orgs.rules import Credential, npi_problem
from backoffice.patients.kinds import Relationship, Sex
from backoffice.sessions.kinds import UNTIMED_SERVICES, Modality, PatientLocation, ServiceKind

COLUMNS = (
    "session_ref", "practice", "date_of_service", "start_time", "provider_npi", "provider_credential",
    "patient_ref", "patient_first", "patient_last", "patient_dob", "patient_sex", "payer_id", "member_id",
    "service", "minutes", "em_code", "modality", "patient_location", "interactive_complexity", "screenings",
    "diagnoses", "auth_number",
)  # fmt: skip
# Optional: the patient's address (an 837P needs the subscriber's street address and ZIP).
ADDRESS_COLUMNS = ("patient_address", "patient_city", "patient_state", "patient_zip")
# Optional: the HCPCS Level II code of service hcpcs, and +90863 (pharmacologic management by a psychologist).
CODING_COLUMNS = ("procedure", "pharmacologic_management")
# Optional: the subscriber when the patient is a dependent (a child on a parent's plan), and which coverage this is.
SUBSCRIBER_PERSON = ("subscriber_first", "subscriber_last", "subscriber_dob", "subscriber_sex")
SUBSCRIBER_COLUMNS = ("subscriber_relationship", *SUBSCRIBER_PERSON, "coverage_priority")
OPTIONAL_COLUMNS = (*ADDRESS_COLUMNS, *CODING_COLUMNS, *SUBSCRIBER_COLUMNS)
RELATIONSHIPS = {"self": Relationship.SELF, "spouse": Relationship.SPOUSE, "child": Relationship.CHILD,
                 "other": Relationship.OTHER}  # fmt: skip
PRIORITIES = ("primary", "secondary", "tertiary")
PROCEDURE_RE = re.compile(r"^[A-V][0-9]{4}$")
# Values the scrubber checks itself (NPI check digit, diagnosis format): the dry run lets them through to it.
SCRUBBER_CHECKED = frozenset({"provider_npi", "diagnoses"})
# Values of these columns are PHI: errors say what is wrong with them, never what they contain.
PHI_COLUMNS = frozenset({"patient_ref", "patient_first", "patient_last", "patient_dob", "member_id", *ADDRESS_COLUMNS,
                         "subscriber_first", "subscriber_last", "subscriber_dob"})  # fmt: skip
STATE_RE = re.compile(r"^[A-Z]{2}$")
ZIP_RE = re.compile(r"^[0-9]{5}(?:-?[0-9]{4})?$")
EM_CODES = frozenset({"99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"})
EM_SERVICES = frozenset({ServiceKind.EM_ONLY, ServiceKind.EM_WITH_PSYCHOTHERAPY})
MAX_DIAGNOSES = 12
MAX_MINUTES = 600
DX_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")  # billing-rules 3.5
TIME_SHAPE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
NAME_LIMIT = 100
REF_LIMIT = 64
# The 837P's element limits for what the import carries into it: NM103/NM104 (last/first name), N301, N401.
X12_LIMITS = {"patient_last": 60, "patient_first": 35, "patient_address": 55, "patient_city": 30,
              "subscriber_last": 60, "subscriber_first": 35}  # fmt: skip
# Member IDs (NM109) and prior-authorization numbers (REF*G1) as the 837 writer takes them.
X12_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*$")
# A session older than this is past every payer's timely-filing limit: the date is a typo (2016 for 2026).
SERVICE_LOOKBACK = timedelta(days=3 * 366)


@dataclass(frozen=True)
class RowError:
    """One problem: the file row (the header is row 1), the column, and what is wrong."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class SessionRow:
    """One valid row, typed. ``row`` is its line in the file."""

    row: int
    session_ref: str
    practice: str
    date_of_service: date
    start_time: time | None
    provider_npi: str
    provider_credential: Credential
    patient_ref: str
    patient_first: str
    patient_last: str
    patient_dob: date
    patient_sex: Sex
    payer_id: str
    member_id: str
    service: ServiceKind
    minutes: int
    em_code: str | None
    modality: Modality
    patient_location: PatientLocation
    interactive_complexity: bool
    screenings: int
    diagnoses: tuple[str, ...]
    auth_number: str | None
    patient_address: tuple[str, str, str, str] | None = None  # street, city, state, ZIP (5 or 9 digits)
    procedure: str | None = None
    pharmacologic_management: bool = False
    relationship: Relationship = Relationship.SELF  # the patient's relationship to the subscriber
    subscriber: tuple[str, str, date, Sex] | None = None  # first, last, date of birth, sex: a dependent's subscriber
    coverage_priority: str | None = None  # primary, secondary or tertiary; blank: primary


@dataclass(frozen=True)
class RowProblems:
    """A row the dry run could not code: its line, its session_ref as given, and every error in it."""

    row: int
    session_ref: str
    errors: tuple[RowError, ...]


def _address(values: tuple[str, ...]) -> tuple[str, str, str, str] | None:
    street, city, state, zip_code = values
    return (street, city, state.upper(), zip_code.replace("-", "")) if any(values) else None


def _dotted(code: str) -> str:
    """ICD-10-CM codes are kept as printed, with the dot after the category: F4310 → F43.10."""
    return code if "." in code or len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def parse_csv(lines: Iterable[str], *, today: date, lenient: bool = False) -> tuple[list[SessionRow], list[RowError]]:
    """Parse a whole import file: every valid row, and every error of every row (row 1 is the header)."""
    entries, file_errors = parse_csv_entries(lines, today=today, lenient=lenient)
    rows = [e for e in entries if isinstance(e, SessionRow)] if not file_errors else []
    errors = [error for e in entries if isinstance(e, RowProblems) for error in e.errors] + file_errors
    if not rows and not errors:
        errors.append(RowError(2, "(file)", "no sessions after the header"))
    return rows, errors


def parse_csv_entries(
    lines: Iterable[str], *, today: date, lenient: bool = False
) -> tuple[list[SessionRow | RowProblems], list[RowError]]:
    """Every row of an import file in order, parsed or with its problems, and the file's own errors (header,
    unreadable CSV). The dry run reports each row; the import refuses the file on any error."""
    reader = csv.DictReader(lines)
    try:
        problem = header_problem(reader.fieldnames)
    except csv.Error as error:
        return [], [RowError(1, "(header)", f"not readable as CSV: {error}")]
    if problem:
        return [], [RowError(1, "(header)", problem)]
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    entries: list[SessionRow | RowProblems] = []
    try:
        for number, raw in enumerate(reader, start=2):
            if not any((value or "").strip() for key, value in raw.items() if key is not None):
                continue  # a blank line
            parsed = parse_row(number, raw, today=today, lenient=lenient)
            if isinstance(parsed, SessionRow):
                entries.append(parsed)
            else:
                ref = str(raw.get("session_ref") or "").strip()[:REF_LIMIT]
                entries.append(RowProblems(number, ref, tuple(parsed)))
    except csv.Error as error:  # a stray carriage return, an unterminated quote, a giant field: its text has no data
        return entries, [RowError(max(reader.line_num, 2), "(file)", f"not readable as CSV: {error}")]
    return entries, []


def header_problem(header: list[str] | None) -> str | None:
    """Why a header row is not the import format, or None. Column order is free; names are exact."""
    return inputs.csv_header_problem(header, COLUMNS, OPTIONAL_COLUMNS)


def parse_row(
    row: int, raw: Mapping[str, str | None], *, today: date, lenient: bool = False
) -> SessionRow | list[RowError]:
    """Parse one CSV row (a DictReader row) into a SessionRow, or every error found in it.

    ``lenient`` (the dry run): a bad NPI or a malformed diagnosis is left for the scrubber to report as a finding,
    so the row is still coded; the import is never lenient."""
    errors: list[RowError] = []
    values: dict[str, str] = {}
    for column in (*COLUMNS, *OPTIONAL_COLUMNS):
        try:
            values[column] = inputs.clean_text((raw.get(column) or "").strip())
        except inputs.InputProblem as problem:  # a NUL or a control character: nothing else in the row is read
            errors.append(RowError(row, column, str(problem)))
    if None in raw:  # DictReader puts cells beyond the header under the key None
        errors.append(RowError(row, "(end of row)", "more cells than columns in the header"))
    if errors:
        return errors

    def fail(column: str, message: str) -> None:
        if lenient and column in SCRUBBER_CHECKED:
            return
        errors.append(RowError(row, column, message))

    def required(column: str, limit: int = REF_LIMIT) -> str:
        value = values[column]
        if not value:
            fail(column, "required")
        elif len(value) > limit:
            fail(column, f"at most {limit} characters")
        return value

    def choice(column: str, enum: type, *, blank: str | None = None) -> object:
        value = values[column] or (blank or "")
        try:
            return enum(value)
        except ValueError:
            shown = "" if column in PHI_COLUMNS else f" {value!r}"
            fail(column, f"unknown value{shown}; expected one of {', '.join(m.value for m in enum)}")
            return None

    def integer(column: str, low: int, high: int, *, blank: int | None = None) -> int:
        value = values[column]
        if not value and blank is not None:
            return blank
        try:
            number = inputs.whole_number(value)  # ASCII digits: "²" or "①" pass str.isdigit, then int() fails
        except inputs.InputProblem:
            fail(column, f"expected a whole number from {low} to {high}, got {value[:20]!r}")
            return 0
        if not low <= number <= high:
            fail(column, f"expected a whole number from {low} to {high}, got {number}")
        return number

    def iso_date(column: str) -> date | None:
        value = values[column]
        try:  # ASCII digits only; plausibility (1900 onwards, the future) is each column's own rule below
            return inputs.iso_date(value, today=today, earliest=date.min, future_days=(date.max - today).days)
        except inputs.InputProblem:
            shown = "" if column in PHI_COLUMNS else f", got {value[:20]!r}"
            fail(column, f"expected a date as YYYY-MM-DD{shown}")
            return None

    def x12_name(column: str) -> None:
        if values[column]:
            try:
                inputs.x12_text(values[column], max_length=X12_LIMITS[column])
            except inputs.InputProblem as problem:
                fail(column, str(problem))

    def x12_id(column: str) -> None:
        if values[column] and not X12_ID.match(values[column]):
            fail(column, "letters, digits, spaces and hyphens only (what an 837 carries)")

    session_ref = required("session_ref")
    practice = required("practice")
    dos = iso_date("date_of_service")
    if dos is not None and dos > today:
        fail("date_of_service", f"{dos.isoformat()} is in the future")
    elif dos is not None and dos < today - SERVICE_LOOKBACK:
        fail("date_of_service", f"{dos.isoformat()} is more than 3 years ago (past every timely-filing limit)")
    start = None
    if values["start_time"]:
        match = TIME_SHAPE.match(values["start_time"])
        if match:
            start = time(int(match.group(1)), int(match.group(2)))
        else:
            fail("start_time", f"expected HH:MM (24-hour), got {values['start_time']!r}")
    npi = values["provider_npi"]
    problem = npi_problem(npi)
    if problem:
        fail("provider_npi", problem)
    credential = choice("provider_credential", Credential)
    patient_ref = required("patient_ref", 40)
    first, last = required("patient_first", NAME_LIMIT), required("patient_last", NAME_LIMIT)
    x12_name("patient_first")
    x12_name("patient_last")
    dob = iso_date("patient_dob")
    if dob is not None and (dob > today or dob.year < 1900):
        fail("patient_dob", "must be a past date after 1900")
    if dob is not None and dos is not None and dob > dos:
        fail("patient_dob", "is after the date of service")
    sex = choice("patient_sex", Sex)
    payer_id = required("payer_id", 20)
    member_id = values["member_id"]
    if payer_id != "SELFPAY" and not member_id:
        fail("member_id", "required unless payer_id is SELFPAY")
    elif len(member_id) > 40:
        fail("member_id", "at most 40 characters")
    else:
        x12_id("member_id")
    service = choice("service", ServiceKind)
    if service in UNTIMED_SERVICES:
        minutes = integer("minutes", 0, MAX_MINUTES, blank=0)  # not timed: minutes may be blank
    else:
        minutes = integer("minutes", 1, MAX_MINUTES)
    em_code = values["em_code"] or None
    if service in EM_SERVICES and em_code not in EM_CODES:
        fail("em_code", f"an office E/M code (99202-99205, 99211-99215) is required for service {service.value}")
    elif service is not None and service not in EM_SERVICES and em_code:
        fail("em_code", f"must be empty for service {service.value} (only em and em_psychotherapy carry one)")
    modality = choice("modality", Modality)
    location = choice("patient_location", PatientLocation)
    complexity = values["interactive_complexity"].lower()
    if complexity not in ("yes", "no", ""):
        fail("interactive_complexity", f"expected yes or no, got {values['interactive_complexity']!r}")
    screenings = integer("screenings", 0, 20, blank=0)
    diagnoses = tuple(_dotted(code.strip().upper()) for code in values["diagnoses"].split(";") if code.strip())
    if not diagnoses:
        fail("diagnoses", "at least one ICD-10-CM code, separated by ; in pointer order")
    elif len(diagnoses) > MAX_DIAGNOSES:
        fail("diagnoses", f"at most {MAX_DIAGNOSES} codes on a claim, got {len(diagnoses)}")
    for code in diagnoses:
        if not DX_SHAPE.match(code):
            fail("diagnoses", f"{code!r} is not an ICD-10-CM code (letter, 2 digits, then up to 4 characters)")
    if len(set(diagnoses)) != len(diagnoses):
        fail("diagnoses", "a code is listed twice")
    procedure = values["procedure"].upper() or None
    if procedure and not PROCEDURE_RE.match(procedure):
        fail("procedure", f"{procedure[:10]!r} is not a HCPCS Level II code (a letter and 4 digits, e.g. H0031)")
    elif service == ServiceKind.HCPCS and not procedure:
        fail("procedure", "required for service hcpcs (the HCPCS Level II code, e.g. H2019)")
    elif procedure and service is not None and service != ServiceKind.HCPCS:
        fail("procedure", f"must be empty for service {service.value} (only hcpcs carries one)")
    pharmacologic = values["pharmacologic_management"].lower()
    if pharmacologic not in ("yes", "no", ""):
        fail("pharmacologic_management", f"expected yes or no, got {values['pharmacologic_management']!r}")
    auth_number = values["auth_number"] or None
    if auth_number and len(auth_number) > 50:
        fail("auth_number", "at most 50 characters")
    elif auth_number:
        x12_id("auth_number")
    relationship, subscriber = _subscriber(values, fail, choice, iso_date, x12_name, dos, payer_id)
    priority = values["coverage_priority"].lower() or None
    if priority and priority not in PRIORITIES:
        fail("coverage_priority", f"expected one of {', '.join(PRIORITIES)}, got {values['coverage_priority'][:20]!r}")
    elif priority and payer_id == "SELFPAY":
        fail("coverage_priority", "must be empty for SELFPAY (no insurance)")
    address = tuple(values[column] for column in ADDRESS_COLUMNS)
    if any(address):
        for column, value in zip(ADDRESS_COLUMNS, address, strict=True):
            if not value:
                fail(column, "required when any patient address column is given")
        x12_name("patient_address")
        x12_name("patient_city")
        if address[2] and not STATE_RE.match(address[2].upper()):
            fail("patient_state", "a two-letter state code")
        if address[3] and not ZIP_RE.match(address[3]):
            fail("patient_zip", "5 or 9 digits")
    if errors:
        return errors
    return SessionRow(
        row=row, session_ref=session_ref, practice=practice, date_of_service=dos, start_time=start,
        provider_npi=npi, provider_credential=credential, patient_ref=patient_ref, patient_first=first,
        patient_last=last, patient_dob=dob, patient_sex=sex, payer_id=payer_id, member_id=member_id,
        service=service, minutes=minutes, em_code=em_code, modality=modality, patient_location=location,
        interactive_complexity=complexity == "yes", screenings=screenings, diagnoses=diagnoses,
        auth_number=auth_number,
        patient_address=_address(address), procedure=procedure, pharmacologic_management=pharmacologic == "yes",
        relationship=relationship, subscriber=subscriber, coverage_priority=priority,
    )  # fmt: skip


def _subscriber(values: Mapping[str, str], fail: Any, choice: Any, iso_date: Any, x12_name: Any, dos: date | None,
                payer_id: str) -> tuple[Relationship, tuple[str, str, date, Sex] | None]:  # fmt: skip
    """The patient's relationship to the subscriber and, for a dependent, the subscriber's name, birth date and sex
    (all four required then, none allowed for the patient as subscriber)."""
    text = values["subscriber_relationship"].lower()
    given = [column for column in SUBSCRIBER_PERSON if values[column]]
    if text and text not in RELATIONSHIPS:
        fail("subscriber_relationship", f"expected one of {', '.join(RELATIONSHIPS)}, got {text[:20]!r}")
        return Relationship.SELF, None
    relationship = RELATIONSHIPS.get(text, Relationship.SELF)
    if payer_id == "SELFPAY" and (text or given):
        fail(given[0] if given else "subscriber_relationship", "must be empty for SELFPAY (no insurance)")
        return relationship, None
    if relationship is Relationship.SELF:
        for column in given:
            fail(column, "only for a dependent: leave it empty when subscriber_relationship is self or empty")
        return relationship, None
    for column in SUBSCRIBER_PERSON:
        if not values[column]:
            fail(column, f"required when subscriber_relationship is {text}")
    x12_name("subscriber_first")
    x12_name("subscriber_last")
    born = iso_date("subscriber_dob") if values["subscriber_dob"] else None
    if born is not None and (born.year < 1900 or (dos is not None and born > dos)):
        fail("subscriber_dob", "must be after 1900 and before the date of service")
    sex = choice("subscriber_sex", Sex) if values["subscriber_sex"] else None
    if not all(values[column] for column in SUBSCRIBER_PERSON) or born is None or sex is None:
        return relationship, None
    return relationship, (values["subscriber_first"], values["subscriber_last"], born, sex)
