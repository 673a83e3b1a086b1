"""Reads for an item's claim context: who, what, how much and where the claim stands, for the header of every
claim-related item and for the queue rows whose item has no session (a denial made by 835 posting reaches its
patient and date of service through the item's claim link)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from backoffice.audit.services import record_phi_read
from backoffice.claims.models import Claim, ClaimLine
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.itemforms.queries import claim_for
from backoffice.orgs.models import Payer
from backoffice.patients.models import Coverage, Patient
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import ExceptionKind, WorkKind

# Items about a claim: the header shows its context (kinds before a claim exists show it once there is one).
CLAIM_KINDS = frozenset({
    WorkKind.AUDIT, WorkKind.SUBMIT, WorkKind.FOLLOW_UP, WorkKind.APPEAL, ExceptionKind.FIX_REJECTION,
    ExceptionKind.WORK_DENIAL, ExceptionKind.POSTING_EXCEPTION, ExceptionKind.APPROVE_WRITE_OFF,
})  # fmt: skip


@dataclass(frozen=True)
class ClaimContext:
    claim: Claim
    patient: Patient
    payer_name: str
    member_id: str | None
    first_dos: date | None
    last_dos: date | None
    last_submission: datetime | None
    last_submission_ack: str | None

    @property
    def open_amount(self) -> Decimal:
        return self.claim.open_balance


def applies(item: WorkItem) -> bool:
    """A claim-related item: one of CLAIM_KINDS, or any item that points at a claim (underpayment reviews...)."""
    return item.claim_id is not None or item.kind in CLAIM_KINDS


def claim_context(item: WorkItem) -> ClaimContext | None:
    """The item's claim with patient, payer, member ID, dates of service and last submission; None without one."""
    claim = claim_for(item)
    if claim is None:
        return None
    patient = db.session.get(Patient, claim.patient_id)
    payer = db.session.get(Payer, claim.payer_id)
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    first, last = db.session.execute(
        select(func.min(ClaimLine.date_of_service), func.max(ClaimLine.date_of_service)).where(
            ClaimLine.claim_id == claim.id
        )
    ).one()
    if first is None and claim.session_id is not None:
        first = last = db.session.scalar(select(Session.date_of_service).where(Session.id == claim.session_id))
    submission = db.session.execute(
        select(ClaimSubmission.submitted_at, ClaimSubmission.ack_status)
        .where(ClaimSubmission.claim_id == claim.id)
        .order_by(ClaimSubmission.submitted_at.desc(), ClaimSubmission.id.desc())
        .limit(1)
    ).first()
    return ClaimContext(
        claim=claim, patient=patient, payer_name=payer.name if payer else "", member_id=coverage.member_id if coverage
        else None, first_dos=first, last_dos=last, last_submission=submission[0] if submission else claim.submitted_at,
        last_submission_ack=submission[1] if submission else None,
    )  # fmt: skip


def header_context(item: WorkItem) -> dict[str, Any]:
    """The header's context; the patient it shows goes on the audit trail (a denial item has no session of its own)."""
    ctx = claim_context(item)
    if ctx is not None:
        record_phi_read(patient_id=ctx.patient.id, practice_id=item.practice_id, target_type="work_item",
                        target_id=item.id)  # fmt: skip
    return {"ctx": ctx}


def rows_through_claims(items: Sequence[WorkItem]) -> Mapping[int, tuple[int | None, str | None, date | None]]:
    """item id → (patient id, "Last, First", first date of service) for queue rows with a claim but no session."""
    by_claim = {item.claim_id: item.id for item in items if item.claim_id is not None}
    by_patient = {item.patient_id: item.id for item in items if item.claim_id is None and item.patient_id}
    found: dict[int, tuple[int | None, str | None, date | None]] = {}
    if by_claim:
        first_line = select(func.min(ClaimLine.date_of_service)).where(ClaimLine.claim_id == Claim.id).scalar_subquery()
        rows = db.session.execute(
            select(Claim.id, Claim.patient_id, Patient.last_name, Patient.first_name, first_line.label("dos"))
            .join(Patient, Patient.id == Claim.patient_id)
            .where(Claim.id.in_(list(by_claim)))
        ).all()
        per_claim = {r.id: (r.patient_id, f"{r.last_name}, {r.first_name}", r.dos) for r in rows}
        for item in items:
            if item.claim_id in per_claim:
                found[item.id] = per_claim[item.claim_id]
    if by_patient:
        rows = db.session.execute(
            select(Patient.id, Patient.last_name, Patient.first_name).where(Patient.id.in_(list(by_patient)))
        ).all()
        names = {r.id: f"{r.last_name}, {r.first_name}" for r in rows}
        for item in items:
            if item.claim_id is None and item.patient_id in names:
                found[item.id] = (item.patient_id, names[item.patient_id], None)
    return found


def _subject(stmt: Any) -> tuple[Any, Any, Any]:
    """Outer joins from an item to its session and its claim (and the claim's session): the item's patient id and
    date of service as SQL, session first, else the claim."""
    own, claim_session = aliased(Session), aliased(Session)
    stmt = (
        stmt.outerjoin(own, own.id == WorkItem.session_id)
        .outerjoin(Claim, Claim.id == WorkItem.claim_id)
        .outerjoin(claim_session, claim_session.id == Claim.session_id)
    )
    patient_id = func.coalesce(own.patient_id, Claim.patient_id, WorkItem.patient_id)
    dos = func.coalesce(own.date_of_service, claim_session.date_of_service)
    return stmt, patient_id, dos


def sort_by_patient(stmt: Any) -> tuple[Any, Any]:
    stmt, patient_id, _ = _subject(stmt)
    stmt = stmt.outerjoin(Patient, Patient.id == patient_id)
    return stmt, func.lower(Patient.last_name + ", " + Patient.first_name)


def sort_by_date_of_service(stmt: Any) -> tuple[Any, Any]:
    stmt, _, dos = _subject(stmt)
    return stmt, dos
