"""Fill the appeal letter's facts from the database: the denied claim, its latest remittance and denial codes, the
session, the provider and the practice; the appeal deadline from the payer's rules (billing-rules §5.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from backoffice.appeals.rules import AppealFacts, Denial, DeniedLine, level_name
from backoffice.claims.models import Claim
from backoffice.deadlines.appeals import appeal_deadline
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage
from backoffice.remits.carc import CARC, RARC
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.remits.rules import Disposition, Family, denial_family, disposition
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem

FAMILIES = frozenset(f.value for f in Family)
NO_DETAILS = Denial("CO", "", "denial details not on file", Decimal("0"))


@dataclass(frozen=True)
class ClaimAppeal:
    """What an appeal of one claim at one level is about: the letter's facts, the family and the amount in
    dispute (the denied amounts of that family), and the filing deadline (None when the payer's window is unknown)."""

    facts: AppealFacts
    family: str
    amount: Decimal
    deadline: date | None
    level: int


def item_family(item: WorkItem) -> str | None:
    """The denial family an appeal or denial item is about: its column, else its dedupe key's last part."""
    if item.denial_family:
        return item.denial_family
    tail = (item.dedupe_key or "").rsplit(":", 1)[-1]
    return tail if tail in FAMILIES else None


def _denials(payment: ClaimPayment | None) -> list[tuple[Denial, str]]:
    if payment is None:
        return []
    remarks = tuple((code, RARC.get(code, "")) for code in payment.remarks)
    found = []
    for adj in payment.adjustments:
        if disposition(adj.group, adj.reason, adj.amount) != Disposition.DENIAL:
            continue
        line_remarks = tuple((code, RARC.get(code, "")) for code in adj.remarks) or remarks
        family = str(denial_family(adj.group, adj.reason, [c for c, _ in line_remarks]))
        found.append((Denial(adj.group, adj.reason, CARC.get(adj.reason, ""), adj.amount, line_remarks), family))
    return found


def claim_appeal(
    claim: Claim, *, today: date, level: int = 1, family: str | None = None, notice: date | None = None
) -> ClaimAppeal:
    """The facts of appealing ``claim`` at ``level``. The deadline counts from ``notice`` (the decision being
    appealed: for level 1 the remittance's date, for a later level the previous level's decision date)."""
    db.session.refresh(claim)  # posting updates claims in bulk: never draft from a stale copy
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
    denied_on = None
    if payment is not None:
        remittance = db.session.get(Remittance, payment.remittance_id)
        denied_on = (remittance.payment_date if remittance else None) or today
    found = _denials(payment)
    family = family or (found[0][1] if found else "medical_necessity")
    denials = [d for d, fam in found if fam == family] or [d for d, _ in found]
    amount = sum((d.amount for d in denials), Decimal("0"))
    if amount <= 0:
        amount = max(claim.total_charge - claim.paid_amount, Decimal("0"))
    name = level_name(str(payer.kind), level)
    try:
        deadline: date | None = appeal_deadline(
            payer_kind=str(payer.kind), level=name, notice_date=notice or denied_on or today,
            appeal_window_days=payer.appeal_window_days,
        ).due  # fmt: skip
    except ValueError:
        deadline = None
    first = db.session.scalar(
        select(ClaimSubmission).where(ClaimSubmission.claim_id == claim.id).order_by(ClaimSubmission.id)
    )
    patient = session.patient if session is not None else None
    provider = session.provider if session is not None else None
    facts = AppealFacts(
        today=today, family=family, level=name, deadline=deadline, payer_name=payer.name,
        payer_kind=str(payer.kind), payer_claim_number=claim.payer_claim_number or "",
        account_number=claim.account_number, denial_date=denied_on,
        patient_name=f"{patient.first_name} {patient.last_name}" if patient else "",
        patient_dob=patient.date_of_birth if patient else today, member_id=coverage.member_id if coverage else "",
        date_of_service=session.date_of_service if session else min((ln.date_of_service for ln in claim.lines),
                                                                      default=today),
        diagnoses=tuple(session.diagnoses) if session else (),
        lines=tuple(DeniedLine(ln.cpt, tuple(ln.modifiers), ln.units, ln.charge, ln.paid_amount) for ln in claim.lines),
        denials=tuple(denials) or (NO_DETAILS,),
        provider_name=f"{provider.first_name} {provider.last_name}" if provider else "",
        provider_credential=str(provider.credential) if provider else "", provider_npi=provider.npi if provider else "",
        practice_name=practice.name, practice_npi=practice.group_npi, practice_tax_id=practice.tax_id,
        practice_phone=practice.phone or "", authorization_number=(session.auth_number or "") if session else "",
        submitted_on=first.submitted_at.date() if first else None,
        accepted_on=claim.accepted_at.date() if claim.accepted_at else None,
    )  # fmt: skip
    return ClaimAppeal(facts=facts, family=family, amount=amount.quantize(Decimal("0.01")), deadline=deadline,
                       level=level)  # fmt: skip
