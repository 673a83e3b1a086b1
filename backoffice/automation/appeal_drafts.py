"""Fill the appeal letter's facts from the database: the denied claim, its latest remittance and denial codes, the
session, the provider and the practice; the appeal deadline from the payer's rules (billing-rules §5.3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from backoffice.appeals.rules import AppealFacts, Denial, DeniedLine, draft_appeal_letter
from backoffice.claims.models import Claim
from backoffice.deadlines.appeals import appeal_deadline, levels_for
from backoffice.edi.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage
from backoffice.remits.carc import CARC, RARC
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.remits.rules import Disposition, denial_family, disposition
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem


def draft_for_item(item: WorkItem, claim: Claim, *, today: date) -> tuple[str, date | None]:
    """The appeal letter for ``claim`` and the day it must be filed by (None when the payer's window is unknown)."""
    payment = db.session.scalar(
        select(ClaimPayment)
        .where(ClaimPayment.claim_id == claim.id, ClaimPayment.is_reversal.is_(False))
        .order_by(ClaimPayment.id.desc())
    )
    payer = db.session.get(Payer, claim.payer_id)
    practice = db.session.get(Practice, claim.practice_id)
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    assert payer is not None and practice is not None
    notice = today
    denials: list[Denial] = []
    if payment is not None:
        remittance = db.session.get(Remittance, payment.remittance_id)
        notice = (remittance.payment_date if remittance else None) or today
        remarks = tuple((code, RARC.get(code, "")) for code in payment.remarks)
        for adj in payment.adjustments:
            if disposition(adj.group, adj.reason, adj.amount) != Disposition.DENIAL:
                continue
            line_remarks = tuple((code, RARC.get(code, "")) for code in adj.remarks) or remarks
            denials.append(Denial(adj.group, adj.reason, CARC.get(adj.reason, ""), adj.amount, line_remarks))
    family = (
        str(denial_family(denials[0].group, denials[0].reason, [c for c, _ in denials[0].remarks]))
        if denials
        else "medical_necessity"
    )
    level = levels_for(str(payer.kind))[0] if levels_for(str(payer.kind)) else "internal_appeal"
    try:
        deadline: date | None = appeal_deadline(
            payer_kind=str(payer.kind), level=level, notice_date=notice, appeal_window_days=payer.appeal_window_days
        ).due
    except ValueError:
        deadline = None
    first = db.session.scalar(
        select(ClaimSubmission).where(ClaimSubmission.claim_id == claim.id).order_by(ClaimSubmission.id)
    )
    patient = session.patient if session is not None else None
    provider = session.provider if session is not None else None
    facts = AppealFacts(
        today=today, family=family, level=str(level), deadline=deadline, payer_name=payer.name,
        payer_kind=str(payer.kind), payer_claim_number=claim.payer_claim_number or "",
        account_number=claim.account_number, denial_date=notice if payment is not None else None,
        patient_name=f"{patient.first_name} {patient.last_name}" if patient else "",
        patient_dob=patient.date_of_birth if patient else today, member_id=coverage.member_id if coverage else "",
        date_of_service=session.date_of_service if session else today,
        diagnoses=tuple(session.diagnoses) if session else (),
        lines=tuple(DeniedLine(ln.cpt, tuple(ln.modifiers), ln.units, ln.charge, ln.paid_amount) for ln in claim.lines),
        denials=tuple(denials) or (Denial("CO", "", "denial details not on file", Decimal("0")),),
        provider_name=f"{provider.first_name} {provider.last_name}" if provider else "",
        provider_credential=str(provider.credential) if provider else "", provider_npi=provider.npi if provider else "",
        practice_name=practice.name, practice_npi=practice.group_npi, practice_tax_id=practice.tax_id,
        practice_phone=practice.phone or "", authorization_number=(session.auth_number or "") if session else "",
        submitted_on=first.submitted_at.date() if first else None,
        accepted_on=claim.accepted_at.date() if claim.accepted_at else None,
    )  # fmt: skip
    return draft_appeal_letter(facts), deadline
