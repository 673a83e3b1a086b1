"""Importing sessions: all-or-nothing, idempotent for identical rows, and logged per session.

Files of any length: every lookup runs in chunks of ``CHUNK`` values and the new rows are written by batched
INSERTs, so no statement comes near SQLite's or PostgreSQL's limit on bound parameters (65,535 rows used to
crash the import with "number of parameters must be between 0 and 65535"); it is still one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import insert, select

from backoffice.accounts.models import User
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, CoveragePriority, Patient
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.sessions.rules import RowError, SessionRow
from backoffice.work.models import Interaction
from backoffice.work.rules import InteractionKind

T = TypeVar("T")
# Values per IN (...) lookup and rows per INSERT: far under SQLite's 32,766 and psycopg's 65,535 bound parameters.
CHUNK = 5000
# Facts that make a session what it is; a re-imported row must match them all to be "the same session".
SESSION_FACTS = (
    "date_of_service", "start_time", "provider_id", "patient_id", "service_kind", "minutes", "em_code",
    "modality", "patient_location", "interactive_complexity", "screening_count", "diagnoses", "auth_number",
)  # fmt: skip


class ImportRefused(ValidationFailed):
    """The file has problems; nothing was written. ``errors`` name each row and column."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    created: list[int] = field(default_factory=list)  # new session IDs
    unchanged: int = 0
    patients_created: int = 0
    coverages_created: int = 0
    # "row N: primary coverage changes from payer A to payer B from <date>; the one on file ends <date - 1>"
    coverage_changes: list[str] = field(default_factory=list)


@service
def import_sessions(
    *, rows: Sequence[SessionRow], organization_id: int, now: datetime, source: str, actor: User | None = None
) -> ImportResult:
    """Write every row or none. A row identical to a session already imported is skipped; a row whose
    session_ref exists with different facts is refused (a billed session is corrected, never overwritten)."""
    book = _Lookups(rows, organization_id)
    result = ImportResult()
    errors: list[RowError] = []
    first_seen: dict[tuple[str, str], int] = {}
    new_sessions: list[tuple[Session, SessionRow]] = []
    for row in rows:
        session = _session_for_row(row, book, errors, first_seen, result, now)
        if session is not None:
            new_sessions.append((session, row))
    if errors:
        raise ImportRefused(errors)
    db.session.flush()  # patients, coverages and sessions: batched INSERTs (SQLAlchemy's insertmanyvalues)
    label = actor.name if actor is not None else "import"
    logs = ({"practice_id": session.practice_id, "session_id": session.id, "actor_user_id": actor.id if actor else None,
             "actor_label": label, "kind": InteractionKind.DOCUMENT, "at": now, "data": {},
             "body": f"Imported from {source}, row {row.row}"} for session, row in new_sessions)  # fmt: skip
    for chunk in chunked(list(logs)):
        db.session.execute(insert(Interaction), chunk)
    result.created = [session.id for session, _ in new_sessions]
    result.patients_created = book.patients_created
    db.session.commit()
    return result


def _session_for_row(
    row: SessionRow,
    book: _Lookups,
    errors: list[RowError],
    first_seen: dict[tuple[str, str], int],
    result: ImportResult,
    now: datetime,
) -> Session | None:
    """Resolve one row; a new Session (added to the transaction), or None when it is known or wrong."""
    problems = len(errors)

    def fail(column: str, message: str) -> None:
        errors.append(RowError(row.row, column, message))

    key = (row.practice, row.session_ref)
    if key in first_seen:
        fail("session_ref", f"{row.session_ref!r} appears again (first on row {first_seen[key]})")
    first_seen.setdefault(key, row.row)
    practice = book.practices.get(row.practice)
    if practice is None:
        fail("practice", f"no practice {row.practice!r} in this organization")
        return None
    provider = book.providers.get((practice.id, row.provider_npi))
    if provider is None:
        fail("provider_npi", f"no provider with NPI {row.provider_npi} at {practice.slug}")
    elif provider.credential != row.provider_credential:
        on_file = provider.credential.value
        fail("provider_credential", f"{row.provider_credential.value}, but the provider on file is {on_file}")
    payer = book.payers.get(row.payer_id)
    if payer is None:
        fail("payer_id", f"unknown payer {row.payer_id!r}")
    patient = book.patient_for(practice, row, errors)
    if len(errors) > problems or patient is None or provider is None or payer is None:
        return None
    facts = _facts(row, provider.id, patient.id)
    existing = book.sessions.get((practice.id, row.session_ref))
    if existing is not None:
        changed = [name for name in SESSION_FACTS if getattr(existing, name) != facts[name]]
        if changed:
            fail("session_ref", f"{row.session_ref!r} was imported before with different {', '.join(changed)}; "
                 "changes to an imported session are refused")  # fmt: skip
        else:
            result.unchanged += 1
        return None
    created, change = book.coverage_for(patient, payer, row, fail)
    if len(errors) > problems:
        return None
    result.coverages_created += created
    if change:
        result.coverage_changes.append(change)
    session = Session(practice_id=practice.id, external_ref=row.session_ref, received_at=now, **facts)
    session.patient = patient  # a new patient has its id only at the flush
    db.session.add(session)
    return session


def _facts(row: SessionRow, provider_id: int, patient_id: int) -> dict[str, Any]:
    return {
        "date_of_service": row.date_of_service, "start_time": row.start_time, "provider_id": provider_id,
        "patient_id": patient_id, "service_kind": row.service, "minutes": row.minutes, "em_code": row.em_code,
        "modality": row.modality, "patient_location": row.patient_location,
        "interactive_complexity": row.interactive_complexity, "screening_count": row.screenings,
        "diagnoses": list(row.diagnoses), "auth_number": row.auth_number, "procedure_code": row.procedure,
        "pharmacologic_management": row.pharmacologic_management,
    }  # fmt: skip


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _in_chunks(values: Iterable[Any], query: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
    """Run ``query(chunk)`` (a SELECT ... WHERE x IN chunk) for each chunk of the distinct values; every row."""
    for chunk in chunked(sorted(set(values), key=str)):
        yield from db.session.scalars(query(chunk))


class _Lookups:
    """Everything the rows refer to, loaded in a few chunked queries instead of a few per row."""

    def __init__(self, rows: Sequence[SessionRow], organization_id: int) -> None:
        in_org = Practice.organization_id == organization_id
        self.practices = {
            p.slug: p
            for p in _in_chunks((row.practice for row in rows), lambda c: select(Practice).where(in_org,
                                                                                               Practice.slug.in_(c)))
        }  # fmt: skip
        practice_ids = [p.id for p in self.practices.values()]
        self.providers = {
            (p.practice_id, p.npi): p
            for p in _in_chunks(practice_ids, lambda c: select(Provider).where(Provider.practice_id.in_(c)))
        }
        self.payers = {
            p.payer_id: p for p in db.session.scalars(select(Payer).where(Payer.organization_id == organization_id))
        }
        self.payer_codes = {p.id: p.payer_id for p in self.payers.values()}
        in_practices = Patient.practice_id.in_(practice_ids)  # a handful of practices: one parameter each
        self.patients = {
            (p.practice_id, p.account_number): p
            for p in _in_chunks((row.patient_ref for row in rows),
                                lambda c: select(Patient).where(in_practices, Patient.account_number.in_(c)))
        }  # fmt: skip
        session_in = Session.practice_id.in_(practice_ids)
        self.sessions = {
            (s.practice_id, s.external_ref): s
            for s in _in_chunks((row.session_ref for row in rows),
                                lambda c: select(Session).where(session_in, Session.external_ref.in_(c)))
        }  # fmt: skip
        self.coverages: dict[int, list[Coverage]] = {}
        patient_ids = [p.id for p in self.patients.values()]
        for coverage in _in_chunks(patient_ids, lambda c: select(Coverage).where(Coverage.patient_id.in_(c))):
            self.coverages.setdefault(coverage.patient_id, []).append(coverage)
        self.patients_created = 0
        self._new_coverages: dict[int, list[Coverage]] = {}  # by id() of a patient not yet flushed

    def patient_for(self, practice: Practice, row: SessionRow, errors: list[RowError]) -> Patient | None:
        """The practice's patient with this patient_ref (created on first sight); demographics must agree."""
        patient = self.patients.get((practice.id, row.patient_ref))
        if patient is None:
            patient = Patient(
                practice_id=practice.id, account_number=row.patient_ref, first_name=row.patient_first,
                last_name=row.patient_last, date_of_birth=row.patient_dob, sex=row.patient_sex,
            )  # fmt: skip
            if row.patient_address:
                patient.address_line1, patient.city, patient.state, patient.zip_code = row.patient_address
            db.session.add(patient)  # written with the others in one batched flush at the end
            self.patients[(practice.id, row.patient_ref)] = patient
            self.patients_created += 1
            return patient
        on_file = {"patient_first": patient.first_name, "patient_last": patient.last_name,
                   "patient_dob": patient.date_of_birth, "patient_sex": patient.sex}  # fmt: skip
        mismatched = [column for column, value in on_file.items() if getattr(row, column) != value]
        if row.patient_address and patient.address_line1 is None:
            patient.address_line1, patient.city, patient.state, patient.zip_code = row.patient_address
        elif row.patient_address:
            stored = (patient.address_line1, patient.city, patient.state, patient.zip_code)
            mismatched += ["patient_address"] if row.patient_address != stored else []
        for column in mismatched:
            errors.append(RowError(row.row, column, "differs from the patient on file for this patient_ref"))
        return None if mismatched else patient

    def coverage_for(self, patient: Patient, payer: Payer, row: SessionRow, fail: Any) -> tuple[bool, str | None]:
        """Make sure the patient has this payer and member ID on file: (a coverage was added, what changed).

        A new payer or member ID for a priority (primary unless ``coverage_priority`` says otherwise) replaces the
        coverage of that priority in force on the date of service: the old one ends the day before, and the change
        is reported, never a silent extra secondary. A dependent's row carries the subscriber's own name, date of
        birth and sex."""
        held = (self.coverages.setdefault(patient.id, []) if patient.id is not None
                else self._new_coverages.setdefault(id(patient), []))  # fmt: skip
        if any(c.payer_id == payer.id and c.member_id == row.member_id for c in held):
            return False, None
        priority = CoveragePriority(row.coverage_priority or CoveragePriority.PRIMARY)
        dos = row.date_of_service
        replaced = [c for c in held if c.priority == priority and c.is_active_on(dos)]
        if any(c.effective_from >= dos for c in replaced):
            fail("payer_id", f"the patient's {priority} coverage on file starts on or after {dos.isoformat()}; "
                 "change coverage on the patient's page")  # fmt: skip
            return False, None
        later = [c for c in held if c.priority == priority and c.effective_from > dos]
        if later:
            since = min(c.effective_from for c in later).isoformat()
            fail("payer_id", f"the patient has a later {priority} coverage on file (from {since}); "
                 "change coverage on the patient's page")  # fmt: skip
            return False, None
        change = None
        for old in replaced:
            old.effective_to = dos - timedelta(days=1)
            was = self.payer_codes.get(old.payer_id, "another payer")
            same_payer = " (a new member ID)" if old.payer_id == payer.id else ""
            change = (f"row {row.row}: {priority} coverage changes from payer {was} to {payer.payer_id}{same_payer} "
                      f"from {dos.isoformat()}; the one on file ends {old.effective_to.isoformat()}")  # fmt: skip
        first, last, born, sex = row.subscriber or (None, None, None, None)
        coverage = Coverage(
            patient=patient, payer_id=payer.id, member_id=row.member_id, priority=priority,
            relationship_to_subscriber=row.relationship, subscriber_first_name=first, subscriber_last_name=last,
            subscriber_date_of_birth=born, subscriber_sex=sex, effective_from=dos,
        )  # fmt: skip
        db.session.add(coverage)
        held.append(coverage)
        return True, change
