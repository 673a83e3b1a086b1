"""Reads for the claims list and the claim page, always inside the user's practice scope (``practice_ids_for``):
search by patient, date of birth, member ID, our or the payer's claim number, date of service, payer, status and
practice; and everything one claim's page shows (versions, lines with their adjustments, submissions and
acknowledgments, payments, related claims, work items, appeals, write-offs, deadlines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.appeals.models import Appeal
from backoffice.claims.corrections import correction_deadline, first_date_of_service
from backoffice.claims.models import Claim, ClaimVersion
from backoffice.claims.rules import ClaimStatus
from backoffice.deadlines.appeals import appeal_deadline, levels_for
from backoffice.deadlines.rules import Deadline, days_left, secondary_filing_deadline, timely_filing_deadline
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, LedgerEntry, Patient
from backoffice.remits.carc import CARC, GROUPS, RARC
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.sessions.models import Session
from backoffice.supervisor.models import WriteOffRequest
from backoffice.work.models import Interaction, WorkItem

PAGE_SIZE = 100


@dataclass(frozen=True)
class ClaimFilters:
    """The claims list's search; empty values do not filter."""

    patient: str = ""
    date_of_birth: date | None = None
    member_id: str = ""
    claim_number: str = ""
    payer_claim_number: str = ""
    dos_from: date | None = None
    dos_to: date | None = None
    payer_id: int | None = None
    status: str = ""
    practice_id: int | None = None

    @property
    def any(self) -> bool:
        return any(getattr(self, name) not in ("", None) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class ClaimRow:
    claim: Claim
    patient: Patient
    payer_name: str
    practice_name: str
    member_id: str
    date_of_service: date | None


def _like(value: str) -> str:
    escaped = value.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(user: User, filters: ClaimFilters) -> Select[Any]:
    scope = practice_ids_for(user)
    query = (
        select(Claim, Patient, Payer.name, Practice.name, Coverage.member_id, Session.date_of_service)
        .join(Patient, Patient.id == Claim.patient_id)
        .join(Payer, Payer.id == Claim.payer_id)
        .join(Practice, Practice.id == Claim.practice_id)
        .outerjoin(Coverage, Coverage.id == Claim.coverage_id)
        .outerjoin(Session, Session.id == Claim.session_id)
        .where(Claim.practice_id.in_(scope))
    )
    if filters.patient.strip():
        words = filters.patient.replace(",", " ").split()
        for word in words[:4]:
            pattern = _like(word)
            query = query.where(
                or_(func.lower(Patient.first_name).like(pattern, escape="\\"),
                    func.lower(Patient.last_name).like(pattern, escape="\\"))
            )  # fmt: skip
    if filters.date_of_birth is not None:
        query = query.where(Patient.date_of_birth == filters.date_of_birth)
    if filters.member_id.strip():
        query = query.where(func.lower(Coverage.member_id) == filters.member_id.strip().lower())
    if filters.claim_number.strip():
        query = query.where(func.lower(Claim.account_number).like(_like(filters.claim_number), escape="\\"))
    if filters.payer_claim_number.strip():
        query = query.where(func.lower(Claim.payer_claim_number) == filters.payer_claim_number.strip().lower())
    if filters.dos_from is not None:
        query = query.where(Session.date_of_service >= filters.dos_from)
    if filters.dos_to is not None:
        query = query.where(Session.date_of_service <= filters.dos_to)
    if filters.payer_id is not None:
        query = query.where(Claim.payer_id == filters.payer_id)
    if filters.status:
        query = query.where(Claim.status == filters.status)
    if filters.practice_id is not None:
        query = query.where(Claim.practice_id == filters.practice_id)
    return query


def search_claims(user: User, filters: ClaimFilters, *, limit: int = PAGE_SIZE) -> tuple[list[ClaimRow], bool]:
    """The claims matching ``filters`` in the user's practices, newest date of service first, and whether more
    than ``limit`` matched."""
    query = _search(user, filters).order_by(Session.date_of_service.desc(), Claim.id.desc()).limit(limit + 1)
    rows = [ClaimRow(c, p, payer, practice, member or "", dos) for c, p, payer, practice, member, dos in
            db.session.execute(query).all()]  # fmt: skip
    return rows[:limit], len(rows) > limit


def filter_options(user: User) -> dict[str, list[tuple[int, str]]]:
    """Payers and practices the filter menus offer."""
    scope = practice_ids_for(user)
    payers = db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == user.organization_id).order_by(Payer.name)
    )
    practices = db.session.execute(
        select(Practice.id, Practice.name).where(Practice.id.in_(scope)).order_by(Practice.name)
    )
    return {"payers": [tuple(r) for r in payers], "practices": [tuple(r) for r in practices]}


def get_claim_for_user_or_none(claim_id: int, user: User) -> Claim | None:
    """The claim when it belongs to a practice ``user`` serves."""
    claim = db.session.get(Claim, claim_id)
    if claim is None or claim.practice_id not in practice_ids_for(user):
        return None
    return claim


# ---- the claim page -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRow:
    name: str
    deadline: Deadline | None
    note: str = ""

    def left(self, today: date) -> int | None:
        return days_left(self.deadline.due, today) if self.deadline else None


def _remark_words(codes: list[str]) -> list[tuple[str, str]]:
    return [(code, RARC.get(code, "")) for code in codes or []]


def _adjustment_view(a: PaymentAdjustment) -> dict[str, Any]:
    return {"row": a, "code": f"{a.group}-{a.reason}", "group": GROUPS.get(a.group, ""),
            "meaning": CARC.get(a.reason, "no description on file"), "remarks": _remark_words(a.remarks)}  # fmt: skip


def deadlines_for(claim: Claim, payer: Payer) -> list[DeadlineRow]:
    """The deadlines that apply to the claim: filing (or secondary filing), corrected claim, each appeal level."""
    rows: list[DeadlineRow] = []
    dos = first_date_of_service(claim)
    kind = str(payer.kind)
    if kind == "self_pay" or dos is None:
        return rows
    if claim.payer_sequence != "P" and claim.parent_claim_id is not None:
        parent = db.session.get(Claim, claim.parent_claim_id)
        if parent is not None and parent.adjudicated_at is not None:
            rows.append(DeadlineRow("Secondary filing", secondary_filing_deadline(parent.adjudicated_at.date())))
    else:
        filing = timely_filing_deadline(dos, payer_kind=kind, filing_limit_days=payer.filing_limit_days)
        rows.append(DeadlineRow("Timely filing", filing))
    corrected = correction_deadline(claim)
    rows.append(DeadlineRow("Corrected claim (replacement)", corrected,
                            "" if corrected else "starts when the payer adjudicates the claim"))  # fmt: skip
    if claim.adjudicated_at is not None and claim.status in (ClaimStatus.DENIED, ClaimStatus.PARTIALLY_PAID,
                                                             ClaimStatus.APPEALED, ClaimStatus.PAID):  # fmt: skip
        for level in levels_for(kind):
            try:
                deadline = appeal_deadline(payer_kind=kind, level=level, notice_date=claim.adjudicated_at.date(),
                                           appeal_window_days=payer.appeal_window_days)  # fmt: skip
            except ValueError as problem:
                rows.append(DeadlineRow(f"Appeal: {str(level).replace('_', ' ')}", None, str(problem)))
                continue
            note = "" if level == levels_for(kind)[0] else "runs from the previous level's decision; shown from the ERA"
            rows.append(DeadlineRow(f"Appeal: {str(level).replace('_', ' ')}", deadline, note))
    return rows


def claim_page(claim: Claim) -> dict[str, Any]:
    """Everything the claim page shows, in a few queries."""
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    patient = db.session.get(Patient, claim.patient_id)
    payer = db.session.get(Payer, claim.payer_id)
    practice = db.session.get(Practice, claim.practice_id)
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    provider = db.session.get(Provider, session.provider_id) if session else None
    versions = list(db.session.scalars(select(ClaimVersion).where(ClaimVersion.claim_id == claim.id)
                                       .order_by(ClaimVersion.version.desc())))  # fmt: skip
    submissions = db.session.execute(
        select(ClaimSubmission, EdiFile.filename)
        .join(EdiFile, EdiFile.id == ClaimSubmission.edi_file_id)
        .where(ClaimSubmission.claim_id == claim.id)
        .order_by(ClaimSubmission.submitted_at, ClaimSubmission.id)
    ).all()
    payments = db.session.execute(
        select(ClaimPayment, Remittance)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .where(ClaimPayment.claim_id == claim.id)
        .order_by(Remittance.posted_at, ClaimPayment.id)
    ).all()
    payment_ids = [p.id for p, _ in payments]
    adjustments = list(
        db.session.scalars(
            select(PaymentAdjustment)
            .where(PaymentAdjustment.claim_payment_id.in_(payment_ids))
            .order_by(PaymentAdjustment.id)
        )
    )
    by_line: dict[int | None, list[dict[str, Any]]] = {}
    for adjustment in adjustments:
        by_line.setdefault(adjustment.claim_line_id, []).append(_adjustment_view(adjustment))
    history = list(db.session.scalars(select(Interaction).where(Interaction.claim_id == claim.id)
                                      .order_by(Interaction.at, Interaction.id)))  # fmt: skip
    related = list(db.session.scalars(select(Claim).where(
        or_(Claim.parent_claim_id == claim.id, Claim.id == claim.parent_claim_id)).order_by(Claim.id)))  # fmt: skip
    item_filter = WorkItem.claim_id == claim.id
    if claim.session_id is not None:
        item_filter = or_(item_filter, WorkItem.session_id == claim.session_id)
    items = list(db.session.scalars(select(WorkItem).where(item_filter).order_by(WorkItem.created_at, WorkItem.id)))
    appeals = list(db.session.scalars(select(Appeal).where(Appeal.claim_id == claim.id).order_by(Appeal.id)))
    write_offs = list(db.session.scalars(select(WriteOffRequest).where(WriteOffRequest.claim_id == claim.id)
                                         .order_by(WriteOffRequest.id)))  # fmt: skip
    ledger = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.claim_id == claim.id)
                                     .order_by(LedgerEntry.at, LedgerEntry.id)))  # fmt: skip
    return {
        "claim": claim, "session": session, "patient": patient, "payer": payer, "practice": practice,
        "coverage": coverage, "provider": provider, "versions": versions, "submissions": submissions,
        "payments": payments, "by_line": by_line, "claim_level": by_line.get(None, []), "history": history,
        "related": related, "items": items, "appeals": appeals, "write_offs": write_offs, "ledger": ledger,
        "deadlines": deadlines_for(claim, payer), "remarks": {p.id: _remark_words(p.remarks) for p, _ in payments},
    }  # fmt: skip


def payers_of(organization_id: int) -> list[tuple[int, str]]:
    """The organization's insurance payers for a select."""
    rows = db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == organization_id, Payer.kind != "self_pay")
        .order_by(Payer.name)
    )  # fmt: skip
    return [tuple(r) for r in rows]


def providers_of(practice_id: int) -> list[tuple[int, str]]:
    """The practice's clinicians for a select."""
    rows = db.session.execute(select(Provider.id, Provider.last_name, Provider.first_name, Provider.npi)
                              .where(Provider.practice_id == practice_id).order_by(Provider.last_name))  # fmt: skip
    return [(pid, f"{last}, {first} ({npi})") for pid, last, first, npi in rows]
