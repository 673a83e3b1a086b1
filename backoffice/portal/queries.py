"""Reads for the client portal and the requests: every read is scoped to one practice (a practice user's own) or,
for the staff panel, to an item the caller already loaded through its access check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.claims.models import Claim
from backoffice.contracts.models import Invoice
from backoffice.contracts.rules import InvoiceStatus
from backoffice.documents.models import Document
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Patient
from backoffice.portal.models import PracticeRequest
from backoffice.portal.rules import TYPE_LABELS
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState

CLAIM_ROWS = 200
# What a practice sees of its invoices: the ones a supervisor approved (a draft is still ours to check).
ISSUED = (InvoiceStatus.APPROVED, InvoiceStatus.SENT, InvoiceStatus.PAID)


def practice_of(user: User) -> Practice | None:
    """The one practice a practice user belongs to (None for anyone else, or a user bound to none)."""
    if user.role != Role.PRACTICE or not user.active or len(user.practices) != 1:
        return None
    practice = user.practices[0]
    return practice if practice.organization_id == user.organization_id else None


def requests_of(practice_id: int, *, open_only: bool) -> list[PracticeRequest]:
    """The practice's requests, waiting ones first (oldest answer due first), then answered ones (newest first)."""
    stmt = (
        select(PracticeRequest)
        .options(joinedload(PracticeRequest.item))
        .where(PracticeRequest.practice_id == practice_id)
    )
    if open_only:
        stmt = stmt.where(PracticeRequest.answered_at.is_(None))
    rows = list(db.session.scalars(stmt))
    waiting = sorted((r for r in rows if r.answered_at is None), key=lambda r: (r.respond_by, r.id))
    answered = sorted((r for r in rows if r.answered_at is not None), key=lambda r: r.answered_at, reverse=True)
    return waiting + answered


def requests_from(origin_item_id: int) -> list[PracticeRequest]:
    """The requests sent from one item, newest first."""
    return list(
        db.session.scalars(
            select(PracticeRequest)
            .where(PracticeRequest.origin_item_id == origin_item_id)
            .order_by(PracticeRequest.id.desc())
        )
    )


def request_of_item(item_id: int) -> PracticeRequest | None:
    return db.session.scalar(select(PracticeRequest).where(PracticeRequest.work_item_id == item_id))


@dataclass(frozen=True)
class ClaimRow:
    claim: Claim
    patient_name: str
    payer_name: str


def claims_of(practice_id: int, *, status: str | None = None, limit: int = CLAIM_ROWS) -> list[ClaimRow]:
    """The practice's claims, newest first, with the patient's and payer's names."""
    stmt = (
        select(Claim, Patient, Payer.name)
        .join(Patient, Patient.id == Claim.patient_id)
        .join(Payer, Payer.id == Claim.payer_id)
        .where(Claim.practice_id == practice_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Claim.status == status)
    return [ClaimRow(claim, patient.display_name, payer) for claim, patient, payer in db.session.execute(stmt)]


def claim_status_counts(practice_id: int) -> dict[str, tuple[int, Decimal]]:
    """Per claim status: how many claims and their charges."""
    rows = db.session.execute(
        select(Claim.status, func.count(), func.coalesce(func.sum(Claim.total_charge), 0))
        .where(Claim.practice_id == practice_id)
        .group_by(Claim.status)
    )
    return {str(status): (int(count), Decimal(str(total))) for status, count, total in rows}


def issued_invoices(practice_id: int) -> list[Invoice]:
    """The practice's approved, sent and paid invoices and credit notes, newest period first."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.practice_id == practice_id, Invoice.status.in_([s.value for s in ISSUED]))
            .order_by(Invoice.period_start.desc(), Invoice.id.desc())
        )
    )


def documents_of_request(request: PracticeRequest) -> list[Document]:
    """The files attached to a request (the biller's, and the practice's answer)."""
    return list(
        db.session.scalars(
            select(Document)
            .where(Document.target_type == "item", Document.target_id == request.work_item_id)
            .order_by(Document.uploaded_at, Document.id)
        )
    )


def portal_uploads(practice_id: int, *, limit: int = 50) -> list[Document]:
    """Documents the practice's own users uploaded in the portal, newest first."""
    return list(
        db.session.scalars(
            select(Document)
            .join(User, User.id == Document.uploaded_by_id)
            .where(Document.practice_id == practice_id, User.role == Role.PRACTICE)
            .order_by(Document.uploaded_at.desc(), Document.id.desc())
            .limit(limit)
        )
    )


def document_visible_to_practice(document: Document, practice_id: int) -> bool:
    """A practice user may open a document of their practice that is attached to a request to them or that their
    practice uploaded; the company's other documents stay internal."""
    if document.practice_id != practice_id:
        return False
    if document.target_type == "item":
        item = db.session.get(WorkItem, document.target_id)
        if item is not None and request_of_item(item.id) is not None:
            return True
    uploader = db.session.get(User, document.uploaded_by_id) if document.uploaded_by_id else None
    return uploader is not None and uploader.role == Role.PRACTICE


def submission_holds(claim_ids: Sequence[int]) -> dict[int, str]:
    """Claims held back from submission by a blocking request still waiting on the practice, with why."""
    if not claim_ids:
        return {}
    rows = db.session.execute(
        select(PracticeRequest.claim_id, PracticeRequest.work_item_id, PracticeRequest.request_type)
        .join(WorkItem, WorkItem.id == PracticeRequest.work_item_id)
        .where(
            PracticeRequest.claim_id.in_(list(claim_ids)),
            PracticeRequest.blocks_submission.is_(True),
            WorkItem.state.in_([ItemState.READY.value, ItemState.IN_PROGRESS.value]),
        )
        .order_by(PracticeRequest.id)
    )
    held: dict[int, str] = {}
    for claim_id, item_id, request_type in rows:
        label = TYPE_LABELS.get(request_type, request_type).lower()
        held.setdefault(claim_id, f"held: waiting on the practice (request #{item_id}, {label})")
    return held
